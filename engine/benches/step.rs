//! The runtime's hot paths without the store: applying inputs to an
//! instance (the pure core), evaluating expressions and scripts, and
//! encoding and decoding the stored state.

#![allow(missing_docs, reason = "criterion's macros generate the entry points")]

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;

use sesflow_engine::definition::Definition;
use sesflow_engine::expr::{Env, Evaluator};
use sesflow_engine::runtime::{self, Input, InstanceState};
use sesflow_engine::schema::compile;

const LINE: &str = include_str!("../../tests/processes/line.yaml");
const APPROVE: &str = include_str!("../../tests/processes/approve.yaml");
const PARALLEL: &str = include_str!("../../tests/processes/parallel4.yaml");

const ENV: Env = Env {
    now_ms: 1_700_000_000_000,
    seed: 7,
};

fn def(source: &str) -> Definition {
    compile("bench.yaml", source).expect("the bench processes compile")
}

/// A fresh instance of `def` run from start to its first wait or its end.
fn started(def: &Definition, evaluator: &Evaluator) -> InstanceState {
    let mut state = InstanceState::new(def);
    let start = Input::Start {
        vars: Vec::new(),
        initiator: None,
    };
    runtime::apply(def, evaluator, &mut state, start, &ENV).expect("starts");
    state
}

fn steps(c: &mut Criterion) {
    let evaluator = Evaluator::new();
    let line = def(LINE);
    c.bench_function("step W1 start to end (10 scripts)", |b| {
        b.iter(|| started(&line, &evaluator))
    });
    let parallel = def(PARALLEL);
    c.bench_function("step W3 fork of 4, 8 scripts, join", |b| {
        b.iter(|| started(&parallel, &evaluator))
    });
    let approve = def(APPROVE);
    let waiting = started(&approve, &evaluator);
    let token = waiting.tokens[0].id;
    let approved = approve.var("approved").expect("declared");
    c.bench_function("step W2 resume (complete, gateway, end)", |b| {
        b.iter(|| {
            let mut state = waiting.clone();
            let input = Input::Complete {
                token,
                data: vec![(approved, json!(true))],
                rejected: false,
            };
            runtime::apply(&approve, &evaluator, &mut state, input, &ENV).expect("resumes");
            state
        })
    });
}

fn expressions(c: &mut Criterion) {
    let evaluator = Evaluator::new();
    let approve = def(APPROVE);
    let condition = evaluator
        .compile_expr("approved && amount > 10", &approve.variables)
        .expect("compiles");
    let script = evaluator
        .compile_script(
            "amount = amount + 1; requester = \"bench\";",
            &approve.variables,
        )
        .expect("compiles");
    let vars = vec![json!(100), json!("ann"), json!(true)];
    c.bench_function("expr condition", |b| {
        b.iter(|| {
            evaluator
                .eval_bool(&condition, &approve, &vars, &ENV)
                .expect("evaluates")
        })
    });
    c.bench_function("expr script (two assignments)", |b| {
        b.iter(|| {
            evaluator
                .run_script(&script, &approve, &vars, &ENV)
                .expect("runs")
        })
    });
}

fn state(c: &mut Criterion) {
    let evaluator = Evaluator::new();
    let approve = def(APPROVE);
    let waiting = started(&approve, &evaluator);
    let text = waiting.encode();
    c.bench_function("state encode (waiting W2 instance)", |b| {
        b.iter(|| waiting.encode())
    });
    c.bench_function("state decode (waiting W2 instance)", |b| {
        b.iter(|| InstanceState::decode(&text).expect("decodes"))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .measurement_time(std::time::Duration::from_secs(2))
        .warm_up_time(std::time::Duration::from_millis(500));
    targets = steps, expressions, state
}
criterion_main!(benches);
