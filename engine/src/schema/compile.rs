//! From the schema model to a [`Definition`]: variables typed, ids resolved,
//! expressions compiled, the flow graph built and validated.

use std::collections::HashMap;

use petgraph::graph::{DiGraph, NodeIndex};
use sha2::{Digest, Sha256};

use crate::definition::{Definition, Flow, Node, NodeIx, NodeKind, VarType, Variable};
use crate::expr::Evaluator;
use crate::validate;

use super::codes;
use super::model::{closest, NodeDecl, Schema};
use super::yaml::Pos;
use super::Sink;

mod kinds;
mod refs;

/// Everything compilation knows about one node, even when parts failed.
pub(crate) struct Compiled {
    /// The node's kind and fields, when every field compiled.
    pub kind: Option<NodeKind>,
    /// The flows leaving the node whose targets exist.
    pub flows: Vec<(Flow, NodeIx)>,
    /// `timeout`, `on_timeout`, `on_error` and `retry`.
    pub common: kinds::Common,
    /// Whether some flow of the node is missing or names no node, so that
    /// the graph lacks edges the designer meant.
    pub open: bool,
}

/// The shared state of one compilation.
pub(crate) struct Context<'a> {
    pub variables: Vec<Variable>,
    /// Variables whose declared type is unknown: not type-checked again.
    pub untyped: Vec<bool>,
    pub ids: HashMap<String, NodeIx>,
    pub evaluator: Evaluator,
    /// Set when a flow of the node being compiled does not resolve.
    pub open: bool,
    pub sink: &'a mut Sink,
}

/// Compiles `schema`; returns a definition only if nothing was wrong.
pub(super) fn compile(schema: &Schema, source: &str, sink: &mut Sink) -> Option<Definition> {
    let (variables, untyped) = variables(schema, sink);
    let ids = node_ids(schema, sink);
    let mut context = Context {
        variables,
        untyped,
        ids,
        evaluator: Evaluator::new(),
        open: false,
        sink,
    };
    let compiled: Vec<Compiled> = schema
        .nodes
        .iter()
        .map(|decl| kinds::node(decl, &mut context))
        .collect();

    let graph = flow_graph(&compiled);
    let plan = validate::Plan {
        schema,
        graph: &graph,
        compiled: &compiled,
        variables: &context.variables,
    };
    // Without a list of nodes there is no graph to speak of.
    let start = schema
        .has_nodes
        .then(|| validate::check(&plan, context.sink))
        .flatten();

    if !context.sink.is_empty() {
        return None;
    }
    let start = start?;
    let nodes = nodes(schema, compiled, &graph)?;
    let var_ix = context
        .variables
        .iter()
        .enumerate()
        .map(|(ix, v)| (v.name.clone(), ix))
        .collect();
    Some(Definition {
        process: schema.process.as_ref()?.value.clone(),
        version: schema.version.as_ref()?.value,
        title: schema.title.as_ref().map(|t| t.value.clone()),
        source: source.to_owned(),
        digest: hex_digest(source),
        variables: context.variables,
        nodes,
        start,
        graph,
        var_ix,
        node_ix: context.ids,
    })
}

/// The flows of every node as a graph whose node `i` is schema node `i`.
fn flow_graph(compiled: &[Compiled]) -> DiGraph<NodeIx, Flow> {
    let n_flows = compiled.iter().map(|c| c.flows.len()).sum();
    let mut graph = DiGraph::with_capacity(compiled.len(), n_flows);
    for ix in 0..compiled.len() {
        graph.add_node(ix);
    }
    for (source, node) in compiled.iter().enumerate() {
        for (flow, target) in &node.flows {
            let (from, to) = (NodeIndex::new(source), NodeIndex::new(*target));
            graph.add_edge(from, to, flow.clone());
        }
    }
    graph
}

/// The SHA-256 of `text`, lower-case hex.
pub(crate) fn hex_digest(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn nodes(
    schema: &Schema,
    compiled: Vec<Compiled>,
    graph: &DiGraph<NodeIx, Flow>,
) -> Option<Vec<Node>> {
    let mut nodes = Vec::with_capacity(compiled.len());
    for (ix, (decl, node)) in schema.nodes.iter().zip(compiled).enumerate() {
        let mut incoming: Vec<NodeIx> = graph
            .neighbors_directed(NodeIndex::new(ix), petgraph::Direction::Incoming)
            .map(|n| n.index())
            .collect();
        incoming.sort_unstable();
        incoming.dedup();
        nodes.push(Node {
            id: decl.id.as_ref()?.value.clone(),
            title: decl.title.as_ref().map(|t| t.value.clone()),
            kind: node.kind?,
            timeout: node.common.timeout,
            on_timeout: node.common.on_timeout,
            on_error: node.common.on_error,
            retry: node.common.retry,
            incoming,
        });
    }
    Some(nodes)
}

fn variables(schema: &Schema, sink: &mut Sink) -> (Vec<Variable>, Vec<bool>) {
    let mut variables = Vec::with_capacity(schema.context.len());
    let mut untyped = Vec::with_capacity(schema.context.len());
    for decl in &schema.context {
        let name = &decl.name;
        if !is_identifier(&name.value) {
            let message = format!(
                "variable name `{}` cannot be used in expressions",
                name.value
            );
            let help =
                "use letters, digits and `_`, starting with a letter or `_`, and no keyword \
                        (like `full_name`)";
            sink.error(codes::BAD_VARIABLE_NAME, name.pos, message, help);
        }
        let ty = decl.ty.as_ref().and_then(|ty| {
            let found = VarType::from_name(&ty.value);
            if found.is_none() {
                let names: Vec<&str> = VarType::ALL.iter().map(VarType::name).collect();
                let message = format!("variable `{}` has unknown type `{}`", name.value, ty.value);
                let help = match closest(&ty.value, &names) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => format!("use one of: {}", names.join(", ")),
                };
                sink.error(codes::UNKNOWN_TYPE, ty.pos, message, help);
            }
            found
        });
        let default = decl.default.as_ref().map(|node| {
            let value = node.to_json();
            if let (Some(ty), Err(detail)) = (ty, ty.map_or(Ok(()), |ty| ty.check(&value))) {
                let message = format!(
                    "the default of `{}` does not fit its type: {detail}",
                    name.value
                );
                let help = format!("write a default that is {ty}, or remove it");
                sink.error(codes::BAD_DEFAULT, node.pos, message, help);
            }
            value
        });
        untyped.push(ty.is_none());
        variables.push(Variable {
            name: name.value.clone(),
            ty: ty.unwrap_or(VarType::Object),
            required: decl.required,
            default: default.filter(|d| !d.is_null()),
        });
    }
    (variables, untyped)
}

/// Words rhai reserves, which cannot name variables.
const KEYWORDS: &[&str] = &[
    "true",
    "false",
    "let",
    "const",
    "if",
    "else",
    "switch",
    "do",
    "while",
    "loop",
    "until",
    "for",
    "in",
    "continue",
    "break",
    "return",
    "throw",
    "try",
    "catch",
    "fn",
    "private",
    "import",
    "export",
    "as",
    "global",
    "this",
    "is_shared",
    "is_def_var",
    "is_def_fn",
    "print",
    "debug",
    "type_of",
    "eval",
    "Fn",
    "call",
    "curry",
    "var",
    "static",
    "shared",
    "sync",
    "async",
    "await",
    "yield",
    "public",
    "protected",
    "super",
    "new",
    "use",
    "module",
    "package",
    "spawn",
    "thread",
    "go",
    "with",
    "exit",
    "match",
    "case",
    "default",
    "void",
    "null",
    "nil",
];

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS.contains(&name)
        && name != "_"
}

fn node_ids(schema: &Schema, sink: &mut Sink) -> HashMap<String, NodeIx> {
    let mut ids: HashMap<String, NodeIx> = HashMap::with_capacity(schema.nodes.len());
    for (ix, decl) in schema.nodes.iter().enumerate() {
        let Some(id) = &decl.id else { continue };
        if !is_id(&id.value) {
            let message = format!("node id `{}` is not a simple name", id.value);
            let help = "use letters, digits, `-`, `_` and `.`, like `enter-data`";
            sink.error(codes::BAD_ID, id.pos, message, help);
        }
        if let Some(first) = ids.get(&id.value) {
            let first_pos = schema.nodes[*first].at();
            duplicate_id(&id.value, id.pos, first_pos, sink);
            continue;
        }
        ids.insert(id.value.clone(), ix);
    }
    ids
}

fn duplicate_id(id: &str, pos: Pos, first: Pos, sink: &mut Sink) {
    let message = format!("node id `{id}` is used twice");
    let help = format!(
        "give this node another id; the first `{id}` is on line {}",
        first.line
    );
    sink.error(codes::DUPLICATE_ID, pos, message, help);
}

fn is_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl NodeDecl {
    /// `node `ID``, for messages.
    pub(crate) fn label(&self) -> String {
        format!("node `{}`", self.name())
    }
}
