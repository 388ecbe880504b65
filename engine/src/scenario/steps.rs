//! Reading one step: its kind from its first key, the keys that kind takes,
//! and the node, variables and values it names, checked against the schema.

use serde_json::Value;

use super::read::{closest, codes, get, Reader};
use super::{Step, StepKind};
use crate::activity;
use crate::definition::{NodeIx, NodeKind};
use crate::schema::yaml::{key_text, Node};

/// Every step kind and the other keys it takes.
const KINDS: &[(&str, &[&str])] = &[
    ("start", &["initiator"]),
    ("complete", &["data", "reject"]),
    ("send", &["key", "payload"]),
    ("advance", &[]),
    ("activity", &["output", "error"]),
    ("retry", &[]),
    ("cancel", &[]),
    ("expect_wait", &["for", "assignee", "key"]),
    ("expect_call", &["input"]),
    ("expect_vars", &[]),
    ("expect_end", &[]),
    ("expect_incident", &["message"]),
];

/// What `expect_wait`'s `for` may say.
const WAITS: [&str; 5] = ["task", "sign", "timer", "event", "call"];

/// Reads one step; `None` after reporting its problems.
pub(super) fn step(reader: &mut Reader<'_>, node: &Node) -> Option<Step> {
    let entries = reader.map(node, "a step")?;
    let names: Vec<String> = entries.iter().map(|(key, _)| key_text(key)).collect();
    let kinds: Vec<&(&str, &[&str])> = KINDS
        .iter()
        .filter(|(kind, _)| names.iter().any(|name| name == kind))
        .collect();
    let (kind, extra) = match kinds.as_slice() {
        [one] => **one,
        [] => {
            let all: Vec<&str> = KINDS.iter().map(|(kind, _)| *kind).collect();
            let first = names.first().map_or("", String::as_str);
            let help = match closest(first, all.iter().copied()) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("a step begins with one of: {}", all.join(", ")),
            };
            let message = format!("`{first}` is not a step");
            reader.error(codes::UNKNOWN_KEY, node.pos, message, &help);
            return None;
        }
        [a, b, ..] => {
            let message = format!(
                "one step does one thing: `{}` and `{}` are two steps",
                a.0, b.0
            );
            reader.error(
                codes::SHAPE,
                node.pos,
                message,
                "write each as its own `- ` item",
            );
            return None;
        }
    };
    let mut allowed = vec![kind];
    allowed.extend_from_slice(extra);
    reader.check_keys(entries, &allowed, &format!("a `{kind}` step"));
    let value = get(entries, kind).expect("the kind was found among the keys");
    let kind = read_kind(reader, kind, value, entries)?;
    Some(Step {
        pos: node.pos,
        kind,
    })
}

fn read_kind(
    reader: &mut Reader<'_>,
    kind: &str,
    value: &Node,
    entries: &[(Node, Node)],
) -> Option<StepKind> {
    Some(match kind {
        "start" => StepKind::Start {
            vars: reader.vars(value, "`start` (the start variables)")?,
            initiator: optional_text(reader, entries, "initiator")?,
        },
        "complete" => complete(reader, value, entries)?,
        "send" => send(reader, value, entries)?,
        "advance" => StepKind::Advance {
            by: reader.duration(value)?,
        },
        "activity" => activity(reader, value, entries)?,
        "retry" => StepKind::Retry {
            vars: reader.vars(value, "`retry` (the variables to set)")?,
        },
        "cancel" => StepKind::Cancel,
        "expect_wait" => expect_wait(reader, value, entries)?,
        "expect_call" => StepKind::ExpectCall {
            node: calling_node(reader, value)?,
            input: get(entries, "input").map(Node::to_json),
        },
        "expect_vars" => StepKind::ExpectVars {
            vars: reader.vars(value, "`expect_vars`")?,
        },
        "expect_end" => expect_end(reader, value)?,
        _ => StepKind::ExpectIncident {
            node: reader.node_ref(value)?,
            message: optional_text(reader, entries, "message")?,
        },
    })
}

fn expect_wait(
    reader: &mut Reader<'_>,
    value: &Node,
    entries: &[(Node, Node)],
) -> Option<StepKind> {
    let node = waiting_node(reader, value)?;
    let wait = optional_text(reader, entries, "for")?;
    if let Some(wait) = wait.as_deref().filter(|wait| !WAITS.contains(wait)) {
        let message = format!("`for: {wait}` is not a kind of wait");
        let help = format!("write one of: {}", WAITS.join(", "));
        reader.error(codes::SHAPE, value.pos, message, &help);
    }
    Some(StepKind::ExpectWait {
        node,
        wait,
        assignee: optional_text(reader, entries, "assignee")?,
        key: optional_text(reader, entries, "key")?,
    })
}

/// The text under `key`, `Some(None)` when absent, `None` after a problem.
fn optional_text(
    reader: &mut Reader<'_>,
    entries: &[(Node, Node)],
    key: &str,
) -> Option<Option<String>> {
    match get(entries, key) {
        Some(node) => reader.text(node, &format!("`{key}`")).map(Some),
        None => Some(None),
    }
}

fn complete(reader: &mut Reader<'_>, value: &Node, entries: &[(Node, Node)]) -> Option<StepKind> {
    let node = reader.node_ref(value)?;
    let kind = &reader.def.nodes[node].kind;
    let is_sign = matches!(kind, NodeKind::Sign { .. });
    if !is_sign && !matches!(kind, NodeKind::Task { .. }) {
        let message = format!(
            "`{}` is a {} node; only a task or a sign node is completed",
            reader.def.nodes[node].id,
            kind.name()
        );
        reader.error(codes::KIND, value.pos, message, "name the task that waits");
        return None;
    }
    let data = match get(entries, "data") {
        Some(data) => reader.vars(data, "`data` (the form data)")?,
        None => Vec::new(),
    };
    let reject = match get(entries, "reject").map(Node::to_json) {
        None => false,
        Some(Value::Bool(reject)) => reject,
        Some(_) => {
            let pos = get(entries, "reject").map_or(value.pos, |node| node.pos);
            reader.error(
                codes::SHAPE,
                pos,
                "`reject` is true or false",
                "write `reject: true`",
            );
            return None;
        }
    };
    if reject && !is_sign {
        let message = format!(
            "`{}` is a task; only a signing can be refused",
            reader.def.nodes[node].id
        );
        reader.error(codes::KIND, value.pos, message, "remove `reject`");
        return None;
    }
    Some(StepKind::Complete { node, data, reject })
}

fn send(reader: &mut Reader<'_>, value: &Node, entries: &[(Node, Node)]) -> Option<StepKind> {
    let kind = reader.text(value, "the event kind")?;
    let Some(key) = get(entries, "key") else {
        let help = "add `key:`, the correlation key the waiting node expects";
        reader.error(codes::MISSING, value.pos, "the event has no `key`", help);
        return None;
    };
    Some(StepKind::Send {
        kind,
        key: reader.text(key, "`key`")?,
        payload: get(entries, "payload").map_or(Value::Object(Default::default()), Node::to_json),
    })
}

fn activity(reader: &mut Reader<'_>, value: &Node, entries: &[(Node, Node)]) -> Option<StepKind> {
    let node = calling_node(reader, value)?;
    let result = match (get(entries, "output"), get(entries, "error")) {
        (Some(_), Some(error)) => {
            let message = "an activity returns an `output` or fails with an `error`, not both";
            reader.error(codes::SHAPE, error.pos, message, "keep one of them");
            return None;
        }
        (output, None) => Ok(output.map_or(Value::Null, Node::to_json)),
        (None, Some(error)) => Err(activity_error(reader, error)?),
    };
    Some(StepKind::Activity { node, result })
}

fn activity_error(reader: &mut Reader<'_>, node: &Node) -> Option<activity::Error> {
    if let Some(entries) = node.scalar().is_none().then(|| reader.map(node, "`error`")) {
        let entries = entries?;
        reader.check_keys(entries, &["code", "message"], "an activity `error`");
        let field = |reader: &mut Reader<'_>, key: &str| match get(entries, key) {
            Some(node) => reader.text(node, &format!("`{key}`")),
            None => Some(String::new()),
        };
        return Some(activity::Error::Failed {
            code: field(reader, "code")?,
            message: field(reader, "message")?,
        });
    }
    Some(activity::Error::Failed {
        code: "FAILED".to_owned(),
        message: reader.text(node, "`error`")?,
    })
}

fn expect_end(reader: &mut Reader<'_>, value: &Node) -> Option<StepKind> {
    if value.scalar().is_some() {
        return Some(match value.to_json() {
            Value::Null => StepKind::ExpectEnd {
                at: None,
                outcome: None,
            },
            Value::String(name) => match reader.def.node(&name) {
                Some(node) if matches!(reader.def.nodes[node].kind, NodeKind::End { .. }) => {
                    StepKind::ExpectEnd {
                        at: Some(node),
                        outcome: None,
                    }
                }
                _ => StepKind::ExpectEnd {
                    at: None,
                    outcome: Some(Some(name)),
                },
            },
            other => StepKind::ExpectEnd {
                at: None,
                outcome: Some(Some(other.to_string())),
            },
        });
    }
    let entries = reader.map(value, "`expect_end`")?;
    reader.check_keys(entries, &["at", "outcome"], "`expect_end`");
    let at = match get(entries, "at") {
        Some(node) => Some(end_node(reader, node)?),
        None => None,
    };
    let outcome = match get(entries, "outcome").map(Node::to_json) {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(outcome)) => Some(Some(outcome)),
        Some(other) => Some(Some(other.to_string())),
    };
    Some(StepKind::ExpectEnd { at, outcome })
}

fn end_node(reader: &mut Reader<'_>, value: &Node) -> Option<NodeIx> {
    let node = reader.node_ref(value)?;
    if matches!(reader.def.nodes[node].kind, NodeKind::End { .. }) {
        return Some(node);
    }
    kind_problem(reader, value, node, "is not an end", "name an `end` node")
}

fn waiting_node(reader: &mut Reader<'_>, value: &Node) -> Option<NodeIx> {
    let node = reader.node_ref(value)?;
    let waits = !matches!(
        reader.def.nodes[node].kind,
        NodeKind::Start { .. }
            | NodeKind::End { .. }
            | NodeKind::Script { .. }
            | NodeKind::Gateway { .. }
            | NodeKind::Parallel { .. }
    );
    if waits {
        return Some(node);
    }
    let help = "name a task, sign, timer, receive or signature node";
    kind_problem(reader, value, node, "never waits", help)
}

fn calling_node(reader: &mut Reader<'_>, value: &Node) -> Option<NodeIx> {
    let node = reader.node_ref(value)?;
    if matches!(
        reader.def.nodes[node].kind,
        NodeKind::SignatureIssuingRequest { .. }
    ) {
        return Some(node);
    }
    let help = "name a `signature_issuing_request` node";
    kind_problem(reader, value, node, "calls no activity", help)
}

fn kind_problem(
    reader: &mut Reader<'_>,
    value: &Node,
    node: NodeIx,
    what: &str,
    help: &str,
) -> Option<NodeIx> {
    let node = &reader.def.nodes[node];
    let message = format!("`{}` is a {} node and {what}", node.id, node.kind.name());
    reader.error(codes::KIND, value.pos, message, help);
    None
}
