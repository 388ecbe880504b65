//! Every node reachable from start; from every node, some end reachable.

use petgraph::graph::NodeIndex;
use petgraph::Direction;

use crate::definition::NodeIx;
use crate::schema::{codes, Sink};

use super::Plan;

/// Reports unreachable nodes, closed cycles, and nodes that cannot end.
pub(super) fn check(plan: &Plan<'_>, start: NodeIx, sink: &mut Sink) {
    let reachable = walk(plan, &[start], Direction::Outgoing, None);
    // A flow that does not resolve may be the one meant to reach a node.
    let open = (0..reachable.len()).any(|ix| reachable[ix] && plan.compiled[ix].open);
    let mut ids = std::collections::HashSet::new();
    for (ix, decl) in plan.schema.nodes.iter().enumerate() {
        let first_of_id = ids.insert(decl.name());
        if !open && first_of_id && !reachable[ix] && decl.id.is_some() {
            let message = format!("node `{}` cannot be reached from start", decl.name());
            let help = format!(
                "point a `next`, branch, `default` or `on_*` of another node at `{}`, or remove it",
                decl.name()
            );
            sink.error(codes::UNREACHABLE, decl.at(), message, help);
        }
    }

    // Ends, and nodes that failed to compile (reported already), can finish.
    let finishing: Vec<NodeIx> = (0..plan.schema.nodes.len())
        .filter(|ix| {
            plan.schema.nodes[*ix].kind_name() == "end" || plan.compiled[*ix].kind.is_none()
        })
        .collect();
    let can_end = walk(plan, &finishing, Direction::Incoming, None);
    let stuck: Vec<bool> = (0..can_end.len())
        .map(|ix| reachable[ix] && !can_end[ix])
        .collect();
    if !stuck.contains(&true) {
        return;
    }
    let in_cycle = closed_cycles(plan, &stuck, sink);
    for (ix, decl) in plan.schema.nodes.iter().enumerate() {
        if stuck[ix] && !in_cycle[ix] {
            let message = format!("no end can be reached from node `{}`", decl.name());
            let help = "every path from here runs into a cycle with no way out; give that cycle \
                        an exit towards an end";
            sink.error(codes::NO_WAY_TO_END, decl.at(), message, help);
        }
    }
}

/// Reports each cycle among the stuck nodes that no flow leaves; returns
/// which nodes are in one.
fn closed_cycles(plan: &Plan<'_>, stuck: &[bool], sink: &mut Sink) -> Vec<bool> {
    let mut in_cycle = vec![false; stuck.len()];
    for component in petgraph::algo::tarjan_scc(plan.graph) {
        let members: Vec<NodeIx> = component.iter().map(|n| n.index()).collect();
        if !stuck[members[0]] {
            continue;
        }
        let is_cycle = members.len() > 1 || plan.graph.contains_edge(component[0], component[0]);
        let closed = members.iter().all(|m| {
            plan.graph
                .neighbors(NodeIndex::new(*m))
                .all(|t| members.contains(&t.index()))
        });
        if !(is_cycle && closed) {
            continue;
        }
        let mut members = members;
        members.sort_unstable();
        let names: Vec<String> = members
            .iter()
            .map(|m| format!("`{}`", plan.schema.nodes[*m].name()))
            .collect();
        let first = &plan.schema.nodes[members[0]];
        let message = format!("nodes {} form a cycle with no way out", names.join(", "));
        let help = "give one of them a path towards an end: a gateway branch, a `default`, \
                    or an `on_timeout`";
        sink.error(codes::CLOSED_CYCLE, first.at(), message, help);
        for m in members {
            in_cycle[m] = true;
        }
    }
    in_cycle
}

/// The nodes reachable from `seeds` following flows in `direction`,
/// never entering `avoid`.
pub(super) fn walk(
    plan: &Plan<'_>,
    seeds: &[NodeIx],
    direction: Direction,
    avoid: Option<NodeIx>,
) -> Vec<bool> {
    let mut seen = vec![false; plan.graph.node_count()];
    let mut stack: Vec<NodeIx> = seeds.to_vec();
    for seed in seeds {
        seen[*seed] = true;
    }
    while let Some(ix) = stack.pop() {
        for next in plan.graph.neighbors_directed(NodeIndex::new(ix), direction) {
            let next = next.index();
            if !seen[next] && Some(next) != avoid {
                seen[next] = true;
                stack.push(next);
            }
        }
    }
    seen
}
