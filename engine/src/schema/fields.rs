//! Typed reading of placed YAML values, reporting wrong shapes.

use super::codes;
use super::model::Spanned;
use super::yaml::{key_text, resolve, Node, Yaml};
use super::Sink;

/// The text of a scalar field; lists, mappings and nothing are reported.
pub(super) fn text(node: &Node, what: &str, sink: &mut Sink) -> Option<Spanned<String>> {
    match node.scalar() {
        Some(scalar) if !(scalar.plain && resolve(scalar).is_null()) => Some(Spanned {
            value: scalar.text.clone(),
            pos: node.pos,
        }),
        _ => {
            let message = format!("{what} must be text, found {}", node.shape());
            sink.error(
                codes::WRONG_SHAPE,
                node.pos,
                message,
                format!("write {what} as one value"),
            );
            None
        }
    }
}

/// A boolean field.
pub(super) fn boolean(node: &Node, what: &str, sink: &mut Sink) -> Option<bool> {
    match node.scalar().map(resolve) {
        Some(serde_json::Value::Bool(b)) => Some(b),
        _ => {
            let message = format!("{what} must be true or false, found {}", node.shape());
            sink.error(codes::WRONG_SHAPE, node.pos, message, "write true or false");
            None
        }
    }
}

/// A whole number field of at least `min`.
pub(super) fn integer(node: &Node, what: &str, min: i64, sink: &mut Sink) -> Option<Spanned<i64>> {
    let value = node.scalar().map(resolve);
    match value.as_ref().and_then(serde_json::Value::as_i64) {
        Some(n) if n >= min => Some(Spanned {
            value: n,
            pos: node.pos,
        }),
        Some(n) => {
            let message = format!("{what} is {n}, but must be at least {min}");
            sink.error(
                codes::BAD_VALUE,
                node.pos,
                message,
                format!("write a number from {min}"),
            );
            None
        }
        None => {
            let message = format!("{what} must be a whole number, found {}", node.shape());
            sink.error(
                codes::WRONG_SHAPE,
                node.pos,
                message,
                format!("write a number like {min}"),
            );
            None
        }
    }
}

/// The items of a list field; a single scalar counts as a list of one.
pub(super) fn list<'n>(node: &'n Node, what: &str, sink: &mut Sink) -> Option<Vec<&'n Node>> {
    match &node.value {
        Yaml::Seq(items) => Some(items.iter().collect()),
        Yaml::Scalar(_) => Some(vec![node]),
        Yaml::Map(_) => {
            let message = format!("{what} must be a list, found a mapping");
            sink.error(
                codes::WRONG_SHAPE,
                node.pos,
                message,
                "write a list like [a, b]",
            );
            None
        }
    }
}

/// The entries of a mapping field.
pub(super) fn mapping<'n>(
    node: &'n Node,
    what: &str,
    sink: &mut Sink,
) -> Option<&'n [(Node, Node)]> {
    match &node.value {
        Yaml::Map(entries) => Some(entries),
        _ => {
            let message = format!("{what} must be a mapping, found {}", node.shape());
            sink.error(
                codes::WRONG_SHAPE,
                node.pos,
                message,
                "write `name: value` pairs",
            );
            None
        }
    }
}

/// Reports repeated keys of a mapping; returns the entries with their keys'
/// text, first occurrence only.
pub(super) fn unique_entries<'n>(
    entries: &'n [(Node, Node)],
    what: &str,
    sink: &mut Sink,
) -> Vec<(String, &'n Node, &'n Node)> {
    let mut seen: Vec<(String, &'n Node, &'n Node)> = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        let name = key_text(key);
        if let Some((_, first, _)) = seen.iter().find(|(n, _, _)| *n == name) {
            let message = format!("`{name}` appears twice in {what}");
            let help = format!("keep one `{name}`; the first is on line {}", first.pos.line);
            sink.error(codes::DUPLICATE_KEY, key.pos, message, help);
            continue;
        }
        seen.push((name, key, value));
    }
    seen
}
