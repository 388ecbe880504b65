//! The executable form of a schema: nodes by index, the flow graph, typed variables.
//!
//! A [`Definition`] is what [`crate::schema::compile`] produces from a YAML
//! schema once it has been parsed and validated. The runtime works on
//! definitions only: node ids and variable names are resolved to indexes
//! ([`NodeIx`], [`VarIx`]), expressions are compiled, durations parsed.
//!
//! Invariant: node `i` of [`Definition::nodes`] is node index `i` of
//! [`Definition::graph`], and the weight of that graph node is `i`.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use petgraph::graph::{DiGraph, NodeIndex};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::expr;

/// The longest duration a schema may give (100 years of 365 days): every
/// moment computed from one stays far inside the range of milliseconds.
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Index into [`Definition::nodes`].
pub type NodeIx = usize;

/// Index into [`Definition::variables`].
pub type VarIx = usize;

/// A compiled, validated process schema, ready to run.
#[derive(Clone, Debug)]
pub struct Definition {
    /// The process id (`process:` in the schema).
    pub process: String,
    /// The schema version (`version:`).
    pub version: u32,
    /// A human title.
    pub title: Option<String>,
    /// The YAML text as deployed.
    pub source: String,
    /// SHA-256 of `source`, lower-case hex.
    pub digest: String,
    /// The context variables, in declaration order.
    pub variables: Vec<Variable>,
    /// The nodes, in declaration order.
    pub nodes: Vec<Node>,
    /// The one start node.
    pub start: NodeIx,
    /// The flow graph; node weights index [`Definition::nodes`].
    pub graph: DiGraph<NodeIx, Flow>,
    pub(crate) var_ix: HashMap<String, VarIx>,
    pub(crate) node_ix: HashMap<String, NodeIx>,
}

impl Definition {
    /// The index of the variable called `name`.
    pub fn var(&self, name: &str) -> Option<VarIx> {
        self.var_ix.get(name).copied()
    }

    /// The index of the node whose id is `id`.
    pub fn node(&self, id: &str) -> Option<NodeIx> {
        self.node_ix.get(id).copied()
    }

    /// Whether `node` is a parallel join: a `parallel` node with more than one
    /// distinct incoming source. A join waits for one token from each source.
    pub fn is_join(&self, node: NodeIx) -> bool {
        let Some(node) = self.nodes.get(node) else {
            return false;
        };
        matches!(node.kind, NodeKind::Parallel { .. }) && node.incoming.len() > 1
    }

    /// The flows leaving `node`, each with its target.
    pub fn outgoing(&self, node: NodeIx) -> Vec<(NodeIx, Flow)> {
        self.graph
            .edges(NodeIndex::new(node))
            .map(|edge| {
                use petgraph::visit::EdgeRef;
                (edge.target().index(), edge.weight().clone())
            })
            .collect()
    }
}

/// The kind of one edge of the flow graph.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    /// The normal `next` of a node (for `parallel`, each entry of the list).
    Next,
    /// Branch `i` of a gateway (taken when its `when` is true).
    Branch(usize),
    /// The `default` of a gateway.
    Default,
    /// The `on_timeout` path.
    Timeout,
    /// The `on_error` path.
    Error,
    /// The `on_rejected` path.
    Rejected,
}

impl Flow {
    /// The schema field this flow comes from: `next`, `when`, `default`,
    /// `on_timeout`, `on_error` or `on_rejected`.
    pub fn label(&self) -> &'static str {
        match self {
            Flow::Next => "next",
            Flow::Branch(_) => "when",
            Flow::Default => "default",
            Flow::Timeout => "on_timeout",
            Flow::Error => "on_error",
            Flow::Rejected => "on_rejected",
        }
    }
}

/// One context variable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Variable {
    /// Its name, an identifier usable in expressions.
    pub name: String,
    /// Its type.
    pub ty: VarType,
    /// Whether an instance cannot start without it.
    pub required: bool,
    /// The value it has when an instance starts without it.
    pub default: Option<Value>,
}

/// The type of a context variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VarType {
    /// Text.
    String,
    /// A whole number (64-bit).
    Integer,
    /// Any number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// A moment, RFC 3339.
    Datetime,
    /// An e-mail address.
    Email,
    /// A phone number, digits with an optional leading `+`.
    Phone,
    /// A user, by login.
    User,
    /// A file: `{path, name, sha256, size}` or a path.
    File,
    /// An item of an application: `{app, id}` or `APP/ID`.
    AppItem,
    /// A certificate: an object with at least a `serial`.
    Certificate,
    /// A list of values.
    List,
    /// A map of names to values.
    Object,
}

impl VarType {
    /// Every type, in the order of the reference.
    pub const ALL: [VarType; 14] = [
        VarType::String,
        VarType::Integer,
        VarType::Number,
        VarType::Boolean,
        VarType::Date,
        VarType::Datetime,
        VarType::Email,
        VarType::Phone,
        VarType::User,
        VarType::File,
        VarType::AppItem,
        VarType::Certificate,
        VarType::List,
        VarType::Object,
    ];

    /// The name used in schemas: `string`, `integer`, ..., `app_item`.
    pub fn name(&self) -> &'static str {
        match self {
            VarType::String => "string",
            VarType::Integer => "integer",
            VarType::Number => "number",
            VarType::Boolean => "boolean",
            VarType::Date => "date",
            VarType::Datetime => "datetime",
            VarType::Email => "email",
            VarType::Phone => "phone",
            VarType::User => "user",
            VarType::File => "file",
            VarType::AppItem => "app_item",
            VarType::Certificate => "certificate",
            VarType::List => "list",
            VarType::Object => "object",
        }
    }

    /// The type called `name` in a schema.
    pub fn from_name(name: &str) -> Option<VarType> {
        VarType::ALL.into_iter().find(|ty| ty.name() == name)
    }

    /// Checks that `v` is a value of this type. `null` is accepted by every
    /// type: it means "no value".
    pub fn check(&self, v: &Value) -> Result<(), String> {
        if v.is_null() {
            return Ok(());
        }
        let fits = match self {
            VarType::String => v.is_string(),
            VarType::Integer => v.is_i64() || v.is_u64(),
            VarType::Number => v.is_number(),
            VarType::Boolean => v.is_boolean(),
            VarType::List => v.is_array(),
            VarType::Object => v.is_object(),
            VarType::Date => {
                return check_text(v, self, check_date, "write YYYY-MM-DD, such as 2025-03-31")
            }
            VarType::Datetime => {
                let hint = "write RFC 3339, such as 2025-03-31T09:00:00Z";
                return check_text(v, self, check_datetime, hint);
            }
            VarType::Email => {
                return check_text(v, self, check_email, "write it like ann@example.com")
            }
            VarType::Phone => {
                let hint = "write it in international form, such as +44 20 7946 0958";
                return check_text(v, self, check_phone, hint);
            }
            VarType::User => {
                return check_text(v, self, check_login, "write a login without spaces")
            }
            VarType::File => return check_file(v),
            VarType::AppItem => return check_app_item(v),
            VarType::Certificate => return check_certificate(v),
        };
        if fits {
            Ok(())
        } else {
            Err(format!("{} is not {}", describe(v), self.article()))
        }
    }

    /// Parses the text given on a command line (`--var NAME=TEXT`) into a
    /// value of this type. Lists, objects, files, app items and certificates
    /// also accept JSON.
    pub fn parse_cli(&self, text: &str) -> Result<Value, String> {
        let trimmed = text.trim();
        let value = match self {
            VarType::String => Value::String(text.to_owned()),
            VarType::Integer => trimmed
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| format!("`{text}` is not an integer (write digits, like 42)"))?,
            VarType::Number => parse_number(trimmed)?,
            VarType::Boolean => match trimmed {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => return Err(format!("`{text}` is not a boolean (write true or false)")),
            },
            VarType::List | VarType::Object => serde_json::from_str(trimmed)
                .map_err(|e| format!("`{text}` is not JSON {}: {e}", self.article()))?,
            VarType::AppItem if !trimmed.starts_with('{') => match trimmed.split_once('/') {
                Some((app, id)) => serde_json::json!({ "app": app, "id": id }),
                None => Value::String(trimmed.to_owned()),
            },
            VarType::Certificate if !trimmed.starts_with('{') => {
                serde_json::json!({ "serial": trimmed })
            }
            VarType::File | VarType::AppItem | VarType::Certificate if trimmed.starts_with('{') => {
                serde_json::from_str(trimmed)
                    .map_err(|e| format!("`{text}` is not a JSON object: {e}"))?
            }
            _ => Value::String(trimmed.to_owned()),
        };
        self.check(&value)?;
        Ok(value)
    }

    fn article(&self) -> String {
        match self {
            VarType::Integer | VarType::Email | VarType::AppItem | VarType::Object => {
                format!("an {}", self.name())
            }
            _ => format!("a {}", self.name()),
        }
    }
}

impl fmt::Display for VarType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One node of a definition.
#[derive(Clone, Debug)]
pub struct Node {
    /// The id from the schema, unique in the definition.
    pub id: String,
    /// A human title.
    pub title: Option<String>,
    /// What the node does, with its kind-specific fields.
    pub kind: NodeKind,
    /// How long a task or wait may take before `on_timeout` is taken.
    pub timeout: Option<Duration>,
    /// Where a token goes when `timeout` runs out.
    pub on_timeout: Option<NodeIx>,
    /// Where a token goes when the node fails (else the failure is an incident).
    pub on_error: Option<NodeIx>,
    /// How often and how far apart a failed activity is tried again.
    pub retry: Option<Retry>,
    /// The distinct source nodes of flows into this node.
    pub incoming: Vec<NodeIx>,
}

/// A retry policy for a node that can fail passingly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retry {
    /// How many more times to try after the first failure.
    pub times: u32,
    /// The wait between two tries.
    pub delay: Duration,
}

/// Who works on a task or signs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Assignee {
    /// The user who started the instance.
    Initiator,
    /// The user held in a variable of type `user`.
    Variable(VarIx),
    /// A fixed login.
    Login(String),
}

/// One branch of an exclusive gateway.
#[derive(Clone, Debug)]
pub struct Branch {
    /// The condition; the first branch whose condition is true is taken.
    pub when: expr::Expr,
    /// Where the token goes.
    pub next: NodeIx,
}

/// What a timer waits for.
#[derive(Clone, Debug)]
pub enum TimerWait {
    /// A fixed time from when the token arrives.
    Duration(Duration),
    /// A moment given by an expression (a datetime or a date).
    Until(expr::Expr),
}

/// What a node does, with its kind-specific fields.
#[derive(Clone, Debug)]
pub enum NodeKind {
    /// Where an instance begins.
    Start {
        /// The first node.
        next: NodeIx,
    },
    /// Where a token ends; the instance ends when its last token does.
    End {
        /// The outcome the instance reports, such as `rejected`.
        outcome: Option<String>,
    },
    /// A person fills a form.
    Task {
        /// Who.
        assignee: Assignee,
        /// The variables the form fills.
        form: Vec<VarIx>,
        /// Where the token goes once the form is submitted.
        next: NodeIx,
    },
    /// Computes variables.
    Script {
        /// The script.
        script: expr::Script,
        /// Where the token goes.
        next: NodeIx,
    },
    /// An exclusive choice.
    Gateway {
        /// The conditional branches, tried in order.
        branches: Vec<Branch>,
        /// Where the token goes when no branch is true.
        default: Option<NodeIx>,
    },
    /// A fork into several paths, or a join when [`Definition::is_join`].
    Parallel {
        /// The paths that continue.
        next: Vec<NodeIx>,
    },
    /// Waits for a time.
    Timer {
        /// How long or until when.
        wait: TimerWait,
        /// Where the token goes afterwards.
        next: NodeIx,
    },
    /// Waits for an event.
    Receive {
        /// The event kind.
        event: String,
        /// The correlation key the event must carry.
        key: expr::Expr,
        /// The variable that receives the payload.
        output: Option<VarIx>,
        /// Where the token goes afterwards.
        next: NodeIx,
    },
    /// A person signs a file or app item with their SES.
    Sign {
        /// Who signs.
        signer: Assignee,
        /// The variable holding the file or app item.
        document: VarIx,
        /// The variable that receives the signature record.
        output: Option<VarIx>,
        /// Where the token goes when the signer refuses.
        on_rejected: Option<NodeIx>,
        /// Where the token goes once signed.
        next: NodeIx,
    },
    /// Asks a signature service to issue a certificate.
    SignatureIssuingRequest {
        /// The service, such as `ses`.
        service: String,
        /// The request fields and the variables they are taken from.
        fields: Vec<(String, VarIx)>,
        /// The variable that receives the request id.
        output: VarIx,
        /// Where the token goes.
        next: NodeIx,
    },
    /// Waits until a certificate request is issued or rejected.
    ExpectSignatureIssuing {
        /// The variable holding the request id.
        request: VarIx,
        /// The variable that receives the certificate.
        output: Option<VarIx>,
        /// The `string` variable that receives the reason of a rejection.
        reason: Option<VarIx>,
        /// Where the token goes when the request is rejected.
        on_rejected: Option<NodeIx>,
        /// Where the token goes once issued.
        next: NodeIx,
    },
}

impl NodeKind {
    /// Every kind name, in the order of the reference.
    pub const NAMES: [&'static str; 11] = [
        "start",
        "end",
        "task",
        "script",
        "gateway",
        "parallel",
        "timer",
        "receive",
        "sign",
        "signature_issuing_request",
        "expect_signature_issuing",
    ];

    /// The kind's name in schemas: `task`, `signature_issuing_request`, ...
    pub fn name(&self) -> &'static str {
        match self {
            NodeKind::Start { .. } => "start",
            NodeKind::End { .. } => "end",
            NodeKind::Task { .. } => "task",
            NodeKind::Script { .. } => "script",
            NodeKind::Gateway { .. } => "gateway",
            NodeKind::Parallel { .. } => "parallel",
            NodeKind::Timer { .. } => "timer",
            NodeKind::Receive { .. } => "receive",
            NodeKind::Sign { .. } => "sign",
            NodeKind::SignatureIssuingRequest { .. } => "signature_issuing_request",
            NodeKind::ExpectSignatureIssuing { .. } => "expect_signature_issuing",
        }
    }
}

fn describe(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 40 {
        let short: String = text.chars().take(37).collect();
        format!("{short}...")
    } else {
        text
    }
}

/// Checks a value of a text type; `hint` says how to write one.
fn check_text(v: &Value, ty: &VarType, check: fn(&str) -> bool, hint: &str) -> Result<(), String> {
    match v.as_str() {
        Some(text) if check(text) => Ok(()),
        _ => Err(format!("{} is not {} ({hint})", describe(v), ty.article())),
    }
}

fn check_date(text: &str) -> bool {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
}

fn check_datetime(text: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(text).is_ok()
}

fn check_email(text: &str) -> bool {
    let Some((local, domain)) = text.rsplit_once('@') else {
        return false;
    };
    let clean = |s: &str| !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || c == '@');
    clean(local) && clean(domain) && domain.contains('.') && !domain.starts_with('.')
}

fn check_phone(text: &str) -> bool {
    let body = text.strip_prefix('+').unwrap_or(text);
    let n_digits = body.chars().filter(char::is_ascii_digit).count();
    let allowed = |c: char| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '.');
    body.chars().all(allowed) && (6..=15).contains(&n_digits)
}

fn check_login(text: &str) -> bool {
    !text.is_empty() && text.len() <= 256 && !text.chars().any(char::is_whitespace)
}

fn check_file(v: &Value) -> Result<(), String> {
    match v {
        Value::String(path) if !path.is_empty() => Ok(()),
        Value::Object(map) => match map.get("path") {
            Some(Value::String(path)) if !path.is_empty() => Ok(()),
            _ => Err(format!("{} is not a file: it needs a `path`", describe(v))),
        },
        _ => Err(format!(
            "{} is not a file (a path or an object with `path`)",
            describe(v)
        )),
    }
}

fn check_app_item(v: &Value) -> Result<(), String> {
    let ok = match v {
        Value::String(text) => {
            matches!(text.split_once('/'), Some((a, i)) if !a.is_empty() && !i.is_empty())
        }
        Value::Object(map) => {
            map.get("app").is_some_and(Value::is_string) && map.contains_key("id")
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{} is not an app item (`APP/ID` or {{app, id}})",
            describe(v)
        ))
    }
}

fn check_certificate(v: &Value) -> Result<(), String> {
    match v.get("serial") {
        Some(Value::String(_) | Value::Number(_)) if v.is_object() => Ok(()),
        _ => Err(format!(
            "{} is not a certificate: it needs a `serial`",
            describe(v)
        )),
    }
}

fn parse_number(text: &str) -> Result<Value, String> {
    if let Ok(int) = text.parse::<i64>() {
        return Ok(Value::from(int));
    }
    let float = text
        .parse::<f64>()
        .map_err(|_| format!("`{text}` is not a number (write digits, like 3.5)"))?;
    serde_json::Number::from_f64(float)
        .map(Value::Number)
        .ok_or_else(|| format!("`{text}` is not a finite number"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn definitions_can_be_shared_between_workers() {
        fn shareable<T: Send + Sync + 'static>() {}
        shareable::<Definition>();
        shareable::<crate::expr::Evaluator>();
    }

    #[test]
    fn every_type_name_round_trips() {
        for ty in VarType::ALL {
            assert_eq!(VarType::from_name(ty.name()), Some(ty));
        }
        assert_eq!(VarType::from_name("int"), None);
    }

    #[test]
    fn check_accepts_good_and_names_bad_values() {
        assert!(VarType::Integer.check(&json!(3)).is_ok());
        assert_eq!(
            VarType::Integer.check(&json!(3.5)),
            Err("3.5 is not an integer".into())
        );
        assert!(VarType::Date.check(&json!("2024-02-29")).is_ok());
        assert!(VarType::Date.check(&json!("2023-02-29")).is_err());
        assert!(VarType::Datetime
            .check(&json!("2024-01-02T03:04:05Z"))
            .is_ok());
        assert!(VarType::Email.check(&json!("ana@example.com")).is_ok());
        assert!(VarType::Email.check(&json!("ana@localhost")).is_err());
        assert!(VarType::Phone.check(&json!("+34 600 123 456")).is_ok());
        assert!(VarType::Phone.check(&json!("call me")).is_err());
        assert_eq!(
            VarType::Phone.check(&json!("123")),
            Err(r#""123" is not a phone (write it in international form, such as +44 20 7946 0958)"#
                .into())
        );
        assert!(VarType::File.check(&json!({"path": "a.pdf"})).is_ok());
        assert!(VarType::AppItem.check(&json!("crm/42")).is_ok());
        assert!(VarType::Certificate.check(&json!({"serial": "0a"})).is_ok());
        assert!(VarType::Certificate.check(&json!("0a")).is_err());
        assert!(VarType::Boolean.check(&Value::Null).is_ok());
    }

    #[test]
    fn parse_cli_builds_typed_values() {
        assert_eq!(VarType::Integer.parse_cli("42"), Ok(json!(42)));
        assert_eq!(VarType::Number.parse_cli("2.5"), Ok(json!(2.5)));
        assert_eq!(VarType::Boolean.parse_cli("true"), Ok(json!(true)));
        assert_eq!(
            VarType::AppItem.parse_cli("crm/7"),
            Ok(json!({"app": "crm", "id": "7"}))
        );
        assert_eq!(VarType::List.parse_cli("[1, 2]"), Ok(json!([1, 2])));
        assert_eq!(
            VarType::Certificate.parse_cli("1f"),
            Ok(json!({"serial": "1f"}))
        );
        let error = VarType::Integer.parse_cli("ten").expect_err("not a number");
        assert!(error.contains("`ten` is not an integer"), "{error}");
        assert!(VarType::Email.parse_cli("nobody").is_err());
    }
}
