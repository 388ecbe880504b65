//! How long parsing, compiling and validating a large schema takes.
//!
//! The generated schema repeats a realistic segment (a task, a gateway with
//! two conditional branches, a parallel fork of two tasks and its join, a
//! script) until it has the asked number of nodes.

#![allow(missing_docs, reason = "criterion's macros generate the entry points")]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use sesflow_engine::schema::compile;

/// Nodes in one segment of the generated schema.
const SEGMENT: usize = 8;

/// A valid schema of about `n_nodes` nodes.
fn generated_schema(n_nodes: usize) -> String {
    let mut out = String::from(
        "process: generated\nversion: 1\ncontext:\n  amount: { type: integer }\n  \
         approved: { type: boolean }\n  reviewer: { type: user }\n  note: { type: string }\n\
         nodes:\n  - id: start\n    kind: start\n    next: t0\n",
    );
    let n_segments = n_nodes.saturating_sub(2) / SEGMENT;
    for i in 0..n_segments {
        let next = if i + 1 == n_segments {
            "done".to_owned()
        } else {
            format!("t{}", i + 1)
        };
        out.push_str(&format!(
            "  - id: t{i}\n    kind: task\n    assignee: reviewer\n    form: [amount, approved]\n    \
             timeout: 2d\n    on_timeout: s{i}\n    next: g{i}\n\
             \x20 - id: g{i}\n    kind: gateway\n    branches:\n      - when: amount > {i}\n        \
             next: f{i}\n      - when: approved\n        next: s{i}\n    default: s{i}\n\
             \x20 - id: f{i}\n    kind: parallel\n    next: [a{i}, b{i}]\n\
             \x20 - id: a{i}\n    kind: task\n    form: [note]\n    next: j{i}\n\
             \x20 - id: b{i}\n    kind: task\n    form: [approved]\n    next: j{i}\n\
             \x20 - id: j{i}\n    kind: parallel\n    next: s{i}\n\
             \x20 - id: s{i}\n    kind: script\n    script: amount = amount + 1;\n    next: x{i}\n\
             \x20 - id: x{i}\n    kind: timer\n    wait: 1h\n    next: {next}\n"
        ));
    }
    out.push_str("  - id: done\n    kind: end\n");
    out
}

fn validate(c: &mut Criterion) {
    let mut group = c.benchmark_group("validate");
    group.sample_size(20);
    for n_nodes in [500, 5_000] {
        let source = generated_schema(n_nodes);
        let definition = compile("generated.yaml", &source).expect("the generated schema is valid");
        group.throughput(Throughput::Elements(definition.nodes.len() as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(definition.nodes.len()),
            &source,
            |b, s| {
                b.iter(|| compile("generated.yaml", s).expect("valid"));
            },
        );
    }
    group.finish();
}

criterion_group!(benches, validate);
criterion_main!(benches);
