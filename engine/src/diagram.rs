//! Diagrams of a definition's flow: Graphviz DOT and Mermaid.
//!
//! Shapes follow BPMN's habits: thin circles start, thick circles end,
//! diamonds choose (`×` exclusive, `+` parallel), double circles wait for a
//! timer or an event, rounded boxes are work. Edges carry the gateway
//! conditions and the names of the exceptional paths (`timeout`, `error`,
//! `rejected`), the latter dashed.

use std::fmt::Write;

use petgraph::visit::EdgeRef;

use crate::definition::{Definition, Flow, Node, NodeKind, TimerWait};

/// The flow as a Graphviz DOT digraph (`dot -Tsvg` renders it).
pub fn dot(def: &Definition) -> String {
    let mut out = String::new();
    let name = dot_text(&def.process);
    let _ = writeln!(out, "digraph \"{name}\" {{");
    let _ = writeln!(out, "  rankdir=LR;");
    let _ = writeln!(
        out,
        "  label=\"{} v{}\";",
        dot_text(title(def)),
        def.version
    );
    let _ = writeln!(out, "  labelloc=t;");
    let _ = writeln!(out, "  node [fontname=\"Helvetica\", fontsize=11];");
    let _ = writeln!(out, "  edge [fontname=\"Helvetica\", fontsize=9];");
    for (ix, node) in def.nodes.iter().enumerate() {
        let _ = writeln!(out, "  n{ix} [{}];", dot_node(node));
    }
    for edge in def.graph.edge_references() {
        let (from, to) = (edge.source().index(), edge.target().index());
        let _ = writeln!(
            out,
            "  n{from} -> n{to}{};",
            dot_edge(def, from, edge.weight())
        );
    }
    out.push_str("}\n");
    out
}

/// The flow as a Mermaid flowchart.
pub fn mermaid(def: &Definition) -> String {
    let mut out = String::from("flowchart LR\n");
    for (ix, node) in def.nodes.iter().enumerate() {
        let label = mermaid_text(&node_label(node));
        let name = mermaid_text(name(node));
        let shape = match node.kind {
            NodeKind::Start { .. } => format!("((\"{label}\"))"),
            NodeKind::End { .. } => format!("(((\"{label}\")))"),
            NodeKind::Gateway { .. } => format!("{{\"× {name}\"}}"),
            NodeKind::Parallel { .. } => format!("{{\"+ {name}\"}}"),
            NodeKind::Timer { .. } | NodeKind::Receive { .. } => format!("{{{{\"{label}\"}}}}"),
            _ => format!("(\"{label}\")"),
        };
        let _ = writeln!(out, "  n{ix}{shape}");
    }
    for edge in def.graph.edge_references() {
        let (from, to) = (edge.source().index(), edge.target().index());
        let arrow = if exceptional(edge.weight()) {
            "-.->"
        } else {
            "-->"
        };
        match edge_label(def, from, edge.weight()) {
            Some(label) => {
                let _ = writeln!(out, "  n{from} {arrow}|\"{}\"| n{to}", mermaid_text(&label));
            }
            None => {
                let _ = writeln!(out, "  n{from} {arrow} n{to}");
            }
        }
    }
    out
}

fn title(def: &Definition) -> &str {
    def.title.as_deref().unwrap_or(&def.process)
}

fn name(node: &Node) -> &str {
    node.title.as_deref().unwrap_or(&node.id)
}

/// The text shown in or beside a node.
fn node_label(node: &Node) -> String {
    let name = name(node);
    match &node.kind {
        NodeKind::Start { .. } => name.to_owned(),
        NodeKind::End {
            outcome: Some(outcome),
        } if outcome != name => {
            format!("{name}\n({outcome})")
        }
        NodeKind::End { .. } => name.to_owned(),
        NodeKind::Timer {
            wait: TimerWait::Duration(d),
            ..
        } => {
            format!("{name}\nwait {}", short_duration(*d))
        }
        NodeKind::Timer {
            wait: TimerWait::Until(e),
            ..
        } => {
            format!("{name}\nuntil {}", e.source().trim())
        }
        NodeKind::Receive { event, .. } => format!("{name}\n{event}"),
        kind => format!("{}\n{name}", kind_caption(kind)),
    }
}

fn kind_caption(kind: &NodeKind) -> &'static str {
    match kind {
        NodeKind::Task { .. } => "task",
        NodeKind::Script { .. } => "script",
        NodeKind::Sign { .. } => "sign",
        NodeKind::SignatureIssuingRequest { .. } => "SES issuing request",
        NodeKind::ExpectSignatureIssuing { .. } => "expect SES issuing",
        other => other.name(),
    }
}

fn dot_node(node: &Node) -> String {
    let label = dot_text(&node_label(node));
    match &node.kind {
        NodeKind::Start { .. } => {
            format!("shape=circle, width=0.4, fixedsize=true, label=\"\", xlabel=\"{label}\"")
        }
        NodeKind::End { .. } => format!(
            "shape=circle, penwidth=3, width=0.4, fixedsize=true, label=\"\", xlabel=\"{label}\""
        ),
        NodeKind::Gateway { .. } => format!(
            "shape=diamond, width=0.5, height=0.5, fixedsize=true, label=\"×\", xlabel=\"{}\"",
            dot_text(name(node))
        ),
        NodeKind::Parallel { .. } => format!(
            "shape=diamond, width=0.5, height=0.5, fixedsize=true, label=\"+\", xlabel=\"{}\"",
            dot_text(name(node))
        ),
        NodeKind::Timer { .. } => format!(
            "shape=doublecircle, width=0.35, fixedsize=true, label=\"T\", xlabel=\"{label}\""
        ),
        NodeKind::Receive { .. } => format!(
            "shape=doublecircle, width=0.35, fixedsize=true, label=\"E\", xlabel=\"{label}\""
        ),
        NodeKind::ExpectSignatureIssuing { .. } => {
            format!("shape=box, style=\"rounded,dashed\", label=\"{label}\"")
        }
        NodeKind::Sign { .. } | NodeKind::SignatureIssuingRequest { .. } => {
            format!("shape=box, style=\"rounded,bold\", label=\"{label}\"")
        }
        NodeKind::Task { .. } | NodeKind::Script { .. } => {
            format!("shape=box, style=rounded, label=\"{label}\"")
        }
    }
}

fn dot_edge(def: &Definition, from: usize, flow: &Flow) -> String {
    let mut attributes = Vec::new();
    if let Some(label) = edge_label(def, from, flow) {
        attributes.push(format!("label=\"{}\"", dot_text(&label)));
    }
    if exceptional(flow) {
        attributes.push("style=dashed".to_owned());
    }
    if *flow == Flow::Default {
        attributes.push("arrowtail=odot, dir=both".to_owned());
    }
    if attributes.is_empty() {
        String::new()
    } else {
        format!(" [{}]", attributes.join(", "))
    }
}

/// The text on an edge: a branch's condition, or the exceptional path's name.
fn edge_label(def: &Definition, from: usize, flow: &Flow) -> Option<String> {
    match flow {
        Flow::Next => None,
        Flow::Branch(i) => match &def.nodes[from].kind {
            NodeKind::Gateway { branches, .. } => {
                branches.get(*i).map(|b| b.when.source().trim().to_owned())
            }
            _ => None,
        },
        Flow::Default => Some("default".to_owned()),
        Flow::Timeout => Some(match def.nodes[from].timeout {
            Some(d) => format!("timeout {}", short_duration(d)),
            None => "timeout".to_owned(),
        }),
        Flow::Error => Some("error".to_owned()),
        Flow::Rejected => Some("rejected".to_owned()),
    }
}

fn exceptional(flow: &Flow) -> bool {
    matches!(flow, Flow::Timeout | Flow::Error | Flow::Rejected)
}

/// Escapes text for a double-quoted DOT string; line breaks become `\n`.
fn dot_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for a quoted Mermaid label.
fn mermaid_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '\n' => out.push_str("<br/>"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '|' => out.push_str("#124;"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// `3d`, `1h30m`, `90s`: the way schemas write durations.
fn short_duration(duration: std::time::Duration) -> String {
    let mut rest = duration.as_secs();
    let mut out = String::new();
    for (unit, seconds) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if rest >= seconds {
            let _ = write!(out, "{}{unit}", rest / seconds);
            rest %= seconds;
        }
    }
    if out.is_empty() {
        out = format!("{}ms", duration.as_millis());
    }
    out
}
