//! The schema as written: top-level fields, variables, and nodes whose
//! fields are kept as placed YAML until compilation types them.
//!
//! Which fields each node kind takes is one table, [`fields_of`]; the
//! reader checks keys against it and the reference documents it.

use super::yaml::{Node, Pos};

/// A value and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Its place.
    pub pos: Pos,
}

/// One schema file, read but not yet compiled.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    /// Where the document begins.
    pub pos: Pos,
    /// `process:`
    pub process: Option<Spanned<String>>,
    /// `version:`
    pub version: Option<Spanned<u32>>,
    /// `title:`
    pub title: Option<Spanned<String>>,
    /// `context:`, in order.
    pub context: Vec<VarDecl>,
    /// `nodes:`, in order.
    pub nodes: Vec<NodeDecl>,
    /// Whether `nodes:` is there and is a list, so that graph checks make sense.
    pub has_nodes: bool,
}

/// One declared variable.
#[derive(Clone, Debug)]
pub struct VarDecl {
    /// Its name (the key under `context:`).
    pub name: Spanned<String>,
    /// `type:`
    pub ty: Option<Spanned<String>>,
    /// `required:`
    pub required: bool,
    /// `default:`, as written.
    pub default: Option<Node>,
}

/// One node, its fields still YAML.
#[derive(Clone, Debug)]
pub struct NodeDecl {
    /// Where the node's mapping begins.
    pub pos: Pos,
    /// `id:`
    pub id: Option<Spanned<String>>,
    /// `kind:`, when it names a known kind.
    pub kind: Option<Spanned<&'static str>>,
    /// `title:`
    pub title: Option<Spanned<String>>,
    /// Every other field the kind takes, by name.
    pub fields: Vec<(&'static str, Node)>,
}

impl NodeDecl {
    /// The field called `name`, if written.
    pub fn field(&self, name: &str) -> Option<&Node> {
        self.fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, node)| node)
    }

    /// The place to point at for this node: its id, else its mapping.
    pub fn at(&self) -> Pos {
        self.id.as_ref().map_or(self.pos, |id| id.pos)
    }

    /// The node's id, or `?` when it has none.
    pub fn name(&self) -> &str {
        self.id.as_ref().map_or("?", |id| id.value.as_str())
    }

    /// The node's kind name, or `?`.
    pub fn kind_name(&self) -> &'static str {
        self.kind.as_ref().map_or("?", |kind| kind.value)
    }
}

/// The top-level keys of a schema.
pub const TOP_KEYS: &[&str] = &[
    "process",
    "version",
    "title",
    "description",
    "context",
    "nodes",
];

/// The keys of a variable declaration.
pub const VARIABLE_KEYS: &[&str] = &["type", "required", "default", "title", "description"];

/// The keys every node takes.
pub const COMMON_FIELDS: &[&str] = &["id", "kind", "title", "description"];

/// The keys of one gateway branch.
pub const BRANCH_KEYS: &[&str] = &["when", "next"];

/// The keys of a retry policy.
pub const RETRY_KEYS: &[&str] = &["times", "delay"];

/// The fields a node kind takes beyond [`COMMON_FIELDS`].
pub fn fields_of(kind: &str) -> &'static [&'static str] {
    match kind {
        "start" => &["next"],
        "end" => &["outcome"],
        "task" => &["assignee", "form", "next", "timeout", "on_timeout"],
        "script" => &["script", "next", "on_error"],
        "gateway" => &["branches", "default"],
        "parallel" => &["next"],
        "timer" => &["wait", "until", "next"],
        "receive" => &["event", "key", "output", "next", "timeout", "on_timeout"],
        "sign" => &[
            "signer",
            "document",
            "output",
            "next",
            "on_rejected",
            "timeout",
            "on_timeout",
            "on_error",
        ],
        "signature_issuing_request" => {
            &["service", "fields", "output", "next", "on_error", "retry"]
        }
        "expect_signature_issuing" => &[
            "request",
            "output",
            "reason",
            "next",
            "on_rejected",
            "timeout",
            "on_timeout",
            "on_error",
        ],
        _ => &[],
    }
}

/// Every field name any node kind takes.
pub fn all_node_fields() -> Vec<&'static str> {
    let mut all: Vec<&'static str> = COMMON_FIELDS.to_vec();
    for kind in crate::definition::NodeKind::NAMES {
        for field in fields_of(kind) {
            if !all.contains(field) {
                all.push(field);
            }
        }
    }
    all
}

/// The field of `allowed` closest to `key`, when it is close enough to be a
/// likely typo.
pub fn closest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|candidate| (strsim::jaro_winkler(key, candidate), *candidate))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_suggests_typos_only() {
        assert_eq!(closest("nxt", &["next", "title"]), Some("next"));
        assert_eq!(closest("asignee", fields_of("task")), Some("assignee"));
        assert_eq!(closest("colour", &["next", "title"]), None);
    }

    #[test]
    fn every_kind_has_a_field_table() {
        for kind in crate::definition::NodeKind::NAMES {
            assert!(
                kind == "end"
                    || kind == "gateway"
                    || fields_of(kind).iter().any(|f| f.contains("next")),
                "{kind}"
            );
        }
    }
}
