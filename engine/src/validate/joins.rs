//! Joins that can complete: a join waits for one token from each incoming
//! source, so every pair of sources must be able to run in the same
//! instance, which only a `parallel` fork makes possible.

use petgraph::Direction;

use crate::definition::NodeIx;
use crate::schema::{codes, Sink};

use super::{reach::walk, sources, targets, Plan};

/// Reports each join whose incoming branches cannot all arrive.
pub(super) fn check(plan: &Plan<'_>, sink: &mut Sink) {
    let nodes = &plan.schema.nodes;
    let forks: Vec<(NodeIx, Vec<NodeIx>)> = (0..nodes.len())
        .filter(|ix| nodes[*ix].kind_name() == "parallel")
        .map(|ix| (ix, targets(plan.graph, ix)))
        .filter(|(_, targets)| targets.len() > 1)
        .collect();
    for (join, decl) in nodes.iter().enumerate() {
        if decl.kind_name() != "parallel" {
            continue;
        }
        let sources = sources(plan.graph, join);
        if sources.len() < 2 {
            continue;
        }
        let ancestors: Vec<Vec<bool>> = sources
            .iter()
            .map(|s| walk(plan, &[*s], Direction::Incoming, Some(join)))
            .collect();
        let arrives = |fork: NodeIx, target: NodeIx, i: usize| {
            (target != join && ancestors[i][target]) || (target == join && fork == sources[i])
        };
        let concurrent = |i: usize, k: usize| {
            forks.iter().any(|(fork, targets)| {
                targets.iter().any(|t1| {
                    arrives(*fork, *t1, i)
                        && targets.iter().any(|t2| t2 != t1 && arrives(*fork, *t2, k))
                })
            })
        };
        let pair = (0..sources.len())
            .flat_map(|i| (i + 1..sources.len()).map(move |k| (i, k)))
            .find(|&(i, k)| !concurrent(i, k));
        if let Some((i, k)) = pair {
            report(
                plan,
                join,
                (sources[i], sources[k]),
                (&ancestors[i], &ancestors[k]),
                sink,
            );
        }
    }
}

fn report(
    plan: &Plan<'_>,
    join: NodeIx,
    (a, b): (NodeIx, NodeIx),
    (from_a, from_b): (&[bool], &[bool]),
    sink: &mut Sink,
) {
    let nodes = &plan.schema.nodes;
    let choice = (0..nodes.len()).find(|d| {
        from_a[*d] && from_b[*d] && {
            let targets = targets(plan.graph, *d);
            targets
                .iter()
                .any(|u| from_a[*u] && targets.iter().any(|v| v != u && from_b[*v] && !from_a[*v]))
        }
    });
    let after = choice.map_or(String::new(), |d| {
        format!(" (they are alternatives after `{}`)", nodes[d].name())
    });
    let message = format!(
        "join `{}` waits for `{}` and `{}`, which never both arrive in one run{after}",
        nodes[join].name(),
        nodes[a].name(),
        nodes[b].name()
    );
    let help = "a join needs one token from each incoming node: start those paths with a \
                `parallel` fork, or let the alternatives meet at a node that is not a `parallel`";
    sink.error(codes::JOIN_NEVER_COMPLETES, nodes[join].at(), message, help);
}
