//! From the placed YAML tree to the schema model, checking keys and shapes.

use crate::definition::NodeKind;

use super::codes;
use super::fields::{self, unique_entries};
use super::model::{
    all_node_fields, closest, fields_of, NodeDecl, Schema, Spanned, VarDecl, COMMON_FIELDS,
    TOP_KEYS, VARIABLE_KEYS,
};
use super::yaml::{Node, Pos, Yaml};
use super::Sink;

/// Reads a whole schema, reporting what does not fit the language.
pub(super) fn read(root: &Node, sink: &mut Sink) -> Schema {
    let mut schema = Schema {
        pos: root.pos,
        ..Schema::default()
    };
    let Yaml::Map(entries) = &root.value else {
        let message = format!("a schema must be a mapping, found {}", root.shape());
        let help = "start the file with `process:`, `version:`, `context:` and `nodes:`";
        sink.error(codes::WRONG_SHAPE, root.pos, message, help);
        return schema;
    };
    let mut seen = Vec::new();
    for (key, key_node, value) in unique_entries(entries, "the schema", sink) {
        seen.push(key.clone());
        match key.as_str() {
            "process" => schema.process = fields::text(value, "`process`", sink),
            "version" => schema.version = version(value, sink),
            "title" => schema.title = fields::text(value, "`title`", sink),
            "description" => {
                fields::text(value, "`description`", sink);
            }
            "context" => schema.context = context(value, sink),
            "nodes" => {
                schema.has_nodes = matches!(value.value, Yaml::Seq(_));
                schema.nodes = nodes(value, sink);
            }
            _ => unknown_key(&key, key_node.pos, TOP_KEYS, "at the top of a schema", sink),
        }
    }
    required_top(&schema, &seen, sink);
    schema
}

fn required_top(schema: &Schema, seen: &[String], sink: &mut Sink) {
    let required = [
        ("process", "add `process: my-process` (the process id)"),
        ("version", "add `version: 1`"),
        (
            "nodes",
            "add `nodes:` with a start node, the work, and an end node",
        ),
    ];
    for (key, help) in required {
        if !seen.iter().any(|k| k == key) {
            let message = format!("the schema has no `{key}`");
            sink.error(codes::MISSING_FIELD, schema.pos, message, help);
        }
    }
}

fn version(value: &Node, sink: &mut Sink) -> Option<Spanned<u32>> {
    let number = fields::integer(value, "`version`", 1, sink)?;
    match u32::try_from(number.value) {
        Ok(version) => Some(Spanned {
            value: version,
            pos: number.pos,
        }),
        Err(_) => {
            let message = format!("`version` {} is too large", number.value);
            sink.error(
                codes::BAD_VALUE,
                value.pos,
                message,
                "use a version below 4294967296",
            );
            None
        }
    }
}

fn context(value: &Node, sink: &mut Sink) -> Vec<VarDecl> {
    if matches!(
        value.scalar().map(super::yaml::resolve),
        Some(serde_json::Value::Null)
    ) {
        return Vec::new();
    }
    let Some(entries) = fields::mapping(value, "`context`", sink) else {
        return Vec::new();
    };
    unique_entries(entries, "`context`", sink)
        .into_iter()
        .map(|(name, key, decl)| {
            variable(
                Spanned {
                    value: name,
                    pos: key.pos,
                },
                decl,
                sink,
            )
        })
        .collect()
}

fn variable(name: Spanned<String>, decl: &Node, sink: &mut Sink) -> VarDecl {
    let mut variable = VarDecl {
        name,
        ty: None,
        required: false,
        default: None,
    };
    let what = format!("variable `{}`", variable.name.value);
    let entries = match &decl.value {
        Yaml::Scalar(_) => {
            variable.ty = fields::text(decl, &format!("the type of {what}"), sink);
            return variable;
        }
        Yaml::Map(entries) => entries,
        Yaml::Seq(_) => {
            let message = format!("{what} must be a mapping like {{ type: string }}, found a list");
            sink.error(
                codes::WRONG_SHAPE,
                decl.pos,
                message,
                "write `{ type: string }`",
            );
            return variable;
        }
    };
    variable_entries(&mut variable, entries, &what, sink);
    if variable.ty.is_none() && !has_key(entries, "type") {
        let message = format!("{what} has no `type`");
        let help = "add `type:`, such as `type: string`";
        sink.error(codes::MISSING_FIELD, decl.pos, message, help);
    }
    variable
}

fn variable_entries(variable: &mut VarDecl, entries: &[(Node, Node)], what: &str, sink: &mut Sink) {
    for (key, key_node, value) in unique_entries(entries, what, sink) {
        match key.as_str() {
            "type" => variable.ty = fields::text(value, &format!("the type of {what}"), sink),
            "required" => {
                variable.required = fields::boolean(value, "`required`", sink) == Some(true)
            }
            "default" => variable.default = Some(value.clone()),
            "title" | "description" => {
                fields::text(value, &format!("`{key}`"), sink);
            }
            _ => unknown_key(
                &key,
                key_node.pos,
                VARIABLE_KEYS,
                &format!("in {what}"),
                sink,
            ),
        }
    }
}

fn has_key(entries: &[(Node, Node)], key: &str) -> bool {
    entries
        .iter()
        .any(|(k, _)| k.scalar().is_some_and(|s| s.text == key))
}

fn nodes(value: &Node, sink: &mut Sink) -> Vec<NodeDecl> {
    let Yaml::Seq(items) = &value.value else {
        let message = format!("`nodes` must be a list of nodes, found {}", value.shape());
        let help = "write each node as a list item: `- id: start`, then `kind: start` below it";
        sink.error(codes::WRONG_SHAPE, value.pos, message, help);
        return Vec::new();
    };
    items.iter().filter_map(|item| node(item, sink)).collect()
}

fn node(item: &Node, sink: &mut Sink) -> Option<NodeDecl> {
    let Yaml::Map(entries) = &item.value else {
        let message = format!(
            "a node must be a mapping with `id` and `kind`, found {}",
            item.shape()
        );
        sink.error(
            codes::WRONG_SHAPE,
            item.pos,
            message,
            "write `- id: my-node` and `kind: task`",
        );
        return None;
    };
    let entries = unique_entries(entries, "this node", sink);
    let mut decl = header(item, &entries, sink);
    let what = format!("node `{}`", decl.name());
    for (key, key_node, value) in entries {
        if COMMON_FIELDS.contains(&key.as_str()) {
            match key.as_str() {
                "title" => decl.title = fields::text(value, "`title`", sink),
                "description" => _ = fields::text(value, "`description`", sink),
                _ => {}
            }
            continue;
        }
        if let Some(field) = node_field(&decl, &key, key_node.pos, &what, sink) {
            decl.fields.push((field, value.clone()));
        }
    }
    Some(decl)
}

/// A node with its `id` and `kind` read, reporting them when missing.
fn header(item: &Node, entries: &[(String, &Node, &Node)], sink: &mut Sink) -> NodeDecl {
    let mut decl = NodeDecl {
        pos: item.pos,
        id: None,
        kind: None,
        title: None,
        fields: Vec::new(),
    };
    let mut kind_written = false;
    for (key, _, value) in entries {
        match key.as_str() {
            "id" => decl.id = fields::text(value, "`id`", sink),
            "kind" => {
                kind_written = true;
                decl.kind = kind(value, sink);
            }
            _ => {}
        }
    }
    if decl.id.is_none() && !entries.iter().any(|(k, _, _)| k == "id") {
        let message = format!("a `{}` node has no `id`", decl.kind_name());
        sink.error(
            codes::MISSING_FIELD,
            item.pos,
            message,
            "add `id:` with a name unique in the schema",
        );
    }
    if !kind_written {
        let message = format!("{} has no `kind`", decl.label());
        let help = format!("add `kind:`, one of: {}", NodeKind::NAMES.join(", "));
        sink.error(codes::MISSING_FIELD, decl.at(), message, help);
    }
    decl
}

fn kind(value: &Node, sink: &mut Sink) -> Option<Spanned<&'static str>> {
    let text = fields::text(value, "`kind`", sink)?;
    if let Some(known) = NodeKind::NAMES.iter().find(|k| **k == text.value) {
        return Some(Spanned {
            value: known,
            pos: text.pos,
        });
    }
    let message = format!("`{}` is not a node kind", text.value);
    let help = match closest(&text.value, &NodeKind::NAMES) {
        Some(near) => format!("did you mean `{near}`?"),
        None => format!("use one of: {}", NodeKind::NAMES.join(", ")),
    };
    sink.error(codes::UNKNOWN_KIND, text.pos, message, help);
    None
}

/// Checks one non-common key of a node against its kind's table.
fn node_field(
    decl: &NodeDecl,
    key: &str,
    pos: Pos,
    what: &str,
    sink: &mut Sink,
) -> Option<&'static str> {
    let all = all_node_fields();
    let Some(kind) = &decl.kind else {
        // An unknown kind was reported already; only keys of no kind are news.
        if let Some(field) = all.iter().find(|f| **f == key) {
            return Some(field);
        }
        unknown_key(key, pos, &all, &format!("in {what}"), sink);
        return None;
    };
    let allowed = fields_of(kind.value);
    if let Some(field) = allowed.iter().find(|f| **f == key) {
        return Some(field);
    }
    if all.contains(&key) {
        let message = format!("{what}: a `{}` node takes no `{key}`", kind.value);
        let help = format!(
            "remove `{key}`; `{}` nodes take: {}",
            kind.value,
            allowed.join(", ")
        );
        sink.error(codes::FIELD_NOT_ALLOWED, pos, message, help);
        return None;
    }
    let mut candidates = COMMON_FIELDS.to_vec();
    candidates.extend_from_slice(allowed);
    unknown_key(key, pos, &candidates, &format!("in {what}"), sink);
    None
}

/// Reports an unknown key, suggesting the closest allowed one.
pub(super) fn unknown_key(key: &str, pos: Pos, allowed: &[&str], place: &str, sink: &mut Sink) {
    let message = format!("unknown key `{key}` {place}");
    let help = match closest(key, allowed) {
        Some(near) => format!("did you mean `{near}`?"),
        None => format!("the keys allowed here are: {}", allowed.join(", ")),
    };
    sink.error(codes::UNKNOWN_KEY, pos, message, help);
}
