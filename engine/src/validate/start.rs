//! Exactly one start node, and no flow back into it.

use crate::definition::NodeIx;
use crate::schema::{codes, Sink};

use super::{flow_pos, sources, Plan};

/// Returns the start node when there is exactly one.
pub(super) fn check(plan: &Plan<'_>, sink: &mut Sink) -> Option<NodeIx> {
    let nodes = &plan.schema.nodes;
    let starts: Vec<NodeIx> = (0..nodes.len())
        .filter(|ix| nodes[*ix].kind_name() == "start")
        .collect();
    let Some(&start) = starts.first() else {
        let pos = nodes.first().map_or(plan.schema.pos, |decl| decl.pos);
        let help = "add a node `- id: start` with `kind: start` and `next:` naming the first step";
        sink.error(codes::NO_START, pos, "the schema has no start node", help);
        return None;
    };
    for &extra in &starts[1..] {
        let first = nodes[start].name();
        let message = format!("node `{}` is a second start node", nodes[extra].name());
        let help =
            format!("a schema has one start (`{first}`); make this node another kind or remove it");
        sink.error(codes::SEVERAL_STARTS, nodes[extra].at(), message, help);
    }
    let start_id = nodes[start].name().to_owned();
    for source in sources(plan.graph, start) {
        let decl = &nodes[source];
        let message = format!(
            "node `{}` leads back into the start node `{start_id}`",
            decl.name()
        );
        let help = "point it at the first step after start instead";
        sink.error(
            codes::FLOW_INTO_START,
            flow_pos(decl, &start_id),
            message,
            help,
        );
    }
    (starts.len() == 1).then_some(start)
}
