//! Steps and instances in words, for step reports and failures.

use serde_json::Value;

use super::StepKind;
use crate::definition::{Definition, NodeIx, VarIx};
use crate::replay::Instance;
use crate::runtime::{Status, Wait};

/// Whether a step checks rather than acts.
pub(super) fn is_expectation(kind: &StepKind) -> bool {
    matches!(
        kind,
        StepKind::ExpectWait { .. }
            | StepKind::ExpectCall { .. }
            | StepKind::ExpectVars { .. }
            | StepKind::ExpectEnd { .. }
            | StepKind::ExpectIncident { .. }
    )
}

/// A step in words: `complete \`review\` with note = "ok"`.
pub(super) fn step(def: &Definition, kind: &StepKind) -> String {
    let id = |node: &NodeIx| format!("`{}`", def.nodes[*node].id);
    match kind {
        StepKind::Start { vars, initiator } => {
            let by = initiator
                .as_deref()
                .map(|login| format!(" by {login}"))
                .unwrap_or_default();
            format!("start{by} with {}", vars_list(def, vars))
        }
        StepKind::Complete { node, data, reject } => {
            let verb = if *reject { "refuse" } else { "complete" };
            format!("{verb} {} with {}", id(node), vars_list(def, data))
        }
        StepKind::Send { kind, key, .. } => format!("send event `{kind}` with key `{key}`"),
        StepKind::Advance { by } => {
            format!("advance the clock by {}", humantime::format_duration(*by))
        }
        StepKind::Activity { node, result } => match result {
            Ok(output) => format!("the activity of {} returns {output}", id(node)),
            Err(error) => format!("the activity of {} fails with {error}", id(node)),
        },
        StepKind::Retry { vars } => format!("retry the incidents with {}", vars_list(def, vars)),
        StepKind::Cancel => "cancel the instance".to_owned(),
        StepKind::ExpectWait { node, .. } => format!("expect a wait at {}", id(node)),
        StepKind::ExpectCall { node, .. } => format!("expect a call from {}", id(node)),
        StepKind::ExpectVars { vars } => format!("expect {}", vars_list(def, vars)),
        StepKind::ExpectEnd { .. } => format!("expect {}", end(def, kind)),
        StepKind::ExpectIncident { node, .. } => format!("expect an incident at {}", id(node)),
    }
}

/// `the end`, `the end at \`done\` with outcome \`ok\``, ...
pub(super) fn end(def: &Definition, kind: &StepKind) -> String {
    let StepKind::ExpectEnd { at, outcome } = kind else {
        return String::new();
    };
    let at = at
        .map(|node| format!(" at `{}`", def.nodes[node].id))
        .unwrap_or_default();
    let outcome = match outcome {
        None => String::new(),
        Some(None) => " with no outcome".to_owned(),
        Some(Some(outcome)) => format!(" with outcome `{outcome}`"),
    };
    format!("the end{at}{outcome}")
}

/// `` `wait` (Expect SES Issuing) ``, or `` `wait` `` when it has no title.
pub(super) fn node(def: &Definition, node: NodeIx) -> String {
    let node = &def.nodes[node];
    match &node.title {
        Some(title) => format!("`{}` ({title})", node.id),
        None => format!("`{}`", node.id),
    }
}

/// `name = value, ...` by variable index.
pub(super) fn vars_list(def: &Definition, vars: &[(VarIx, Value)]) -> String {
    if vars.is_empty() {
        return "no variables".to_owned();
    }
    vars.iter()
        .map(|(ix, value)| match value {
            Value::Null => format!("{} unset", def.variables[*ix].name),
            value => format!("{} = {value}", def.variables[*ix].name),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where the instance stands, as seen from `node`: what waits there if
/// anything does, else where its tokens are.
pub(super) fn standing(instance: &Instance<'_>, node: Option<NodeIx>) -> String {
    let state = instance.state();
    match state.status() {
        Status::Cancelled => return "the instance was cancelled".to_owned(),
        Status::Completed if state.next_token == 1 => {
            return "the instance has not started".to_owned()
        }
        Status::Completed => {
            return match &state.outcome {
                Some(outcome) => format!("the instance completed with outcome `{outcome}`"),
                None => "the instance completed".to_owned(),
            }
        }
        Status::Active | Status::Incident => {}
    }
    let stands = format!("the instance stands at {}", instance.whereabouts());
    let Some(node) = node else {
        return stands;
    };
    let here: Vec<String> = instance
        .tokens_at(node)
        .map(|token| wait(&token.wait))
        .collect();
    let id = instance.node_id(node);
    if here.is_empty() {
        format!("nothing waits at `{id}`; {stands}")
    } else {
        format!("the token at `{id}` {}", here.join(" and another "))
    }
}

/// What a token waits for, as a verb phrase.
pub(super) fn wait(wait: &Wait) -> String {
    match wait {
        Wait::Ready => "is about to run".to_owned(),
        Wait::Task => "waits for a task".to_owned(),
        Wait::Sign => "waits for a signature".to_owned(),
        Wait::Timer => "waits for a timer".to_owned(),
        Wait::Event { kind, key } => format!("waits for event `{kind}` with key `{key}`"),
        Wait::Call => "waits for the activity call".to_owned(),
        Wait::Retry => "waits to be tried again".to_owned(),
        Wait::Incident { message } => format!("stopped on an incident: {message}"),
    }
}
