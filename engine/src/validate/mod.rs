//! Static checks on the flow graph of a compiled schema.
//!
//! Each family of checks is a file: [`start`] (exactly one start, nothing
//! flows back into it), [`reach`] (every node reachable, every node able to
//! reach an end, no cycle without a way out), [`joins`] (every join can
//! complete) and [`gateways`] (no gateway can dead-end). They run on the
//! graph built from whatever compiled, so one run reports every problem.

mod gateways;
mod joins;
mod reach;
mod start;

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;

use crate::definition::{Flow, NodeIx, Variable};
use crate::schema::model::Schema;
use crate::schema::Sink;

pub(crate) use crate::schema::compile::Compiled;
use crate::schema::model::NodeDecl;
use crate::schema::yaml::{Node, Pos, Yaml};

/// What the checks look at.
pub(crate) struct Plan<'a> {
    /// The schema as written, for places and ids.
    pub schema: &'a Schema,
    /// The flows whose targets exist; graph node `i` is schema node `i`.
    pub graph: &'a DiGraph<NodeIx, Flow>,
    /// What compiled of each node.
    pub compiled: &'a [Compiled],
    /// The declared variables.
    pub variables: &'a [Variable],
}

/// Runs every check; returns the start node when there is exactly one.
pub(crate) fn check(plan: &Plan<'_>, sink: &mut Sink) -> Option<NodeIx> {
    let start = start::check(plan, sink);
    if let Some(start) = start {
        reach::check(plan, start, sink);
    }
    joins::check(plan, sink);
    gateways::check(plan, sink);
    start
}

/// Where `decl` names `target` (in `next`, a branch, `default` or an `on_*`
/// field); the node's own place when it is not found.
pub(crate) fn flow_pos(decl: &NodeDecl, target: &str) -> Pos {
    fn find(node: &Node, target: &str) -> Option<Pos> {
        match &node.value {
            Yaml::Scalar(s) => (s.text == target).then_some(node.pos),
            Yaml::Seq(items) => items.iter().find_map(|item| find(item, target)),
            Yaml::Map(entries) => entries.iter().find_map(|(_, value)| find(value, target)),
        }
    }
    const FLOW_FIELDS: &[&str] = &[
        "next",
        "branches",
        "default",
        "on_timeout",
        "on_error",
        "on_rejected",
    ];
    decl.fields
        .iter()
        .filter(|(name, _)| FLOW_FIELDS.contains(name))
        .find_map(|(_, node)| find(node, target))
        .unwrap_or_else(|| decl.at())
}

/// The distinct nodes with a flow into `node`, in index order.
pub(crate) fn sources(graph: &DiGraph<NodeIx, Flow>, node: NodeIx) -> Vec<NodeIx> {
    let mut sources: Vec<NodeIx> = graph
        .neighbors_directed(NodeIndex::new(node), Direction::Incoming)
        .map(|n| n.index())
        .collect();
    sources.sort_unstable();
    sources.dedup();
    sources
}

/// The distinct targets of flows out of `node`, in index order.
pub(crate) fn targets(graph: &DiGraph<NodeIx, Flow>, node: NodeIx) -> Vec<NodeIx> {
    let mut targets: Vec<NodeIx> = graph
        .neighbors_directed(NodeIndex::new(node), Direction::Outgoing)
        .map(|n| n.index())
        .collect();
    targets.sort_unstable();
    targets.dedup();
    targets
}
