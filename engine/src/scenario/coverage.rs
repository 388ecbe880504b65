//! Coverage: which nodes the scenarios entered and which flows (each `next`,
//! branch, `default`, `on_timeout`, `on_error`, `on_rejected`) they took.
//!
//! Flows are read back from the history records: an `entered` record names
//! the node a token came from, and the record before it says which kind of
//! flow it followed (a gateway's branch, a timeout, a failure taking
//! `on_error`, a refusal or rejection taking `on_rejected`).

use std::collections::HashMap;
use std::fmt;

use serde_json::Value;

use crate::definition::{Definition, Flow, NodeKind};
use crate::history::Record;

/// The nodes and flows of one schema, each with whether it was reached.
#[derive(Clone, Debug, PartialEq)]
pub struct Coverage {
    /// The schema file.
    pub schema: String,
    /// The schema's digest (coverage of different contents never merges).
    pub digest: String,
    /// Every node: its id, kind and whether a token entered it.
    pub nodes: Vec<NodeCover>,
    /// Every flow and whether a token took it.
    pub flows: Vec<FlowCover>,
}

/// One node and whether it was reached.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeCover {
    /// The node id.
    pub id: String,
    /// Its kind.
    pub kind: &'static str,
    /// Whether a token entered it.
    pub reached: bool,
}

/// One flow and whether it was taken.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowCover {
    /// The node it leaves.
    pub from: String,
    /// The node it enters.
    pub to: String,
    /// What kind of flow.
    pub flow: Flow,
    /// Whether a token took it.
    pub taken: bool,
}

impl Coverage {
    /// Nothing reached yet in `def`, read from `schema`.
    pub fn new(def: &Definition, schema: &str) -> Self {
        let nodes = def
            .nodes
            .iter()
            .map(|node| NodeCover {
                id: node.id.clone(),
                kind: node.kind.name(),
                reached: false,
            })
            .collect();
        let flows = (0..def.nodes.len())
            .flat_map(|from| {
                let mut out = def.outgoing(from);
                out.sort_by_key(|(to, flow)| (flow_order(flow), *to));
                out.into_iter().map(move |(to, flow)| FlowCover {
                    from: def.nodes[from].id.clone(),
                    to: def.nodes[to].id.clone(),
                    flow,
                    taken: false,
                })
            })
            .collect();
        Self {
            schema: schema.to_owned(),
            digest: def.digest.clone(),
            nodes,
            flows,
        }
    }

    /// Marks what the records of one instance of `def` reached.
    pub fn observe(&mut self, def: &Definition, records: &[Record]) {
        let mut hints: HashMap<&str, Flow> = HashMap::new();
        let mut reentering = false;
        for record in records {
            match record {
                Record::Entered { node, from, .. } => {
                    if reentering {
                        continue;
                    }
                    self.reach(node);
                    if let Some(from) = from {
                        let flow = hints.remove(from.as_str()).unwrap_or(Flow::Next);
                        self.take(from, node, &flow);
                    }
                    continue;
                }
                Record::RetryDue { .. } | Record::Resolved { .. } => reentering = true,
                _ => reentering = false,
            }
            if let Some((node, flow)) = hint(def, record) {
                hints.insert(node, flow);
            }
        }
    }

    /// Adds what `other` reached (coverage of the same schema).
    pub fn merge(&mut self, other: &Coverage) {
        if other.digest != self.digest {
            return;
        }
        for (mine, theirs) in self.nodes.iter_mut().zip(&other.nodes) {
            mine.reached |= theirs.reached;
        }
        for (mine, theirs) in self.flows.iter_mut().zip(&other.flows) {
            mine.taken |= theirs.taken;
        }
    }

    /// Nodes never reached.
    pub fn missing_nodes(&self) -> impl Iterator<Item = &NodeCover> {
        self.nodes.iter().filter(|node| !node.reached)
    }

    /// Flows never taken.
    pub fn missing_flows(&self) -> impl Iterator<Item = &FlowCover> {
        self.flows.iter().filter(|flow| !flow.taken)
    }

    /// Whether every node and flow was reached.
    pub fn is_full(&self) -> bool {
        self.missing_nodes().next().is_none() && self.missing_flows().next().is_none()
    }

    fn reach(&mut self, id: &str) {
        if let Some(node) = self.nodes.iter_mut().find(|node| node.id == id) {
            node.reached = true;
        }
    }

    /// Marks the flow `from` -> `to` of kind `flow`, or, when the records
    /// left the kind unclear, the first flow between the two nodes.
    fn take(&mut self, from: &str, to: &str, flow: &Flow) {
        let between = |cover: &&mut FlowCover| cover.from == from && cover.to == to;
        let mut candidates: Vec<&mut FlowCover> = self.flows.iter_mut().filter(between).collect();
        let exact = candidates.iter().position(|cover| cover.flow == *flow);
        if let Some(cover) = candidates.get_mut(exact.unwrap_or(0)) {
            cover.taken = true;
        }
    }
}

/// The kind of flow the next token leaving a node follows, when a record
/// says it is not `next`.
fn hint<'r>(def: &Definition, record: &'r Record) -> Option<(&'r str, Flow)> {
    match record {
        Record::Branch { node, branch, .. } => {
            Some((node, branch.map_or(Flow::Default, Flow::Branch)))
        }
        Record::TimedOut { node, .. } => Some((node, Flow::Timeout)),
        Record::Failed { node, then, .. } if then == "on_error" => Some((node, Flow::Error)),
        Record::TaskCompleted { node, rejected, .. } if *rejected => Some((node, Flow::Rejected)),
        Record::EventReceived { node, payload, .. } => {
            let expects = def.node(node).is_some_and(|ix| {
                matches!(def.nodes[ix].kind, NodeKind::ExpectSignatureIssuing { .. })
            });
            let rejected = payload.get("status").and_then(Value::as_str) == Some("rejected");
            (expects && rejected).then_some((node, Flow::Rejected))
        }
        _ => None,
    }
}

fn flow_order(flow: &Flow) -> (u8, usize) {
    match flow {
        Flow::Next => (0, 0),
        Flow::Branch(ix) => (1, *ix),
        Flow::Default => (2, 0),
        Flow::Rejected => (3, 0),
        Flow::Timeout => (4, 0),
        Flow::Error => (5, 0),
    }
}

impl fmt::Display for FlowCover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = match self.flow {
            Flow::Branch(ix) => format!("branch {}", ix + 1),
            ref other => other.label().to_owned(),
        };
        write!(f, "`{}` -> `{}` ({how})", self.from, self.to)
    }
}

impl fmt::Display for Coverage {
    /// `coverage of FILE: 5 of 6 nodes, 6 of 7 flows`, then one line per
    /// node or flow never reached.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n_nodes = self.nodes.iter().filter(|node| node.reached).count();
        let n_flows = self.flows.iter().filter(|flow| flow.taken).count();
        write!(
            f,
            "coverage of {}: {n_nodes} of {} nodes, {n_flows} of {} flows",
            self.schema,
            self.nodes.len(),
            self.flows.len()
        )?;
        if self.is_full() {
            return write!(f, "; every node and flow reached");
        }
        for node in self.missing_nodes() {
            write!(f, "\n  node `{}` ({}) never reached", node.id, node.kind)?;
        }
        for flow in self.missing_flows() {
            write!(f, "\n  flow {flow} never taken")?;
        }
        Ok(())
    }
}
