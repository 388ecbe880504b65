//! Expectations: each compares the instance with what the step expects and,
//! when they differ, says both in words.

use serde_json::Value;

use super::{describe, StepKind};
use crate::definition::NodeIx;
use crate::history::Record;
use crate::replay::Instance;
use crate::runtime::{Status, Wait};

/// What was expected and what happened, when they differ.
pub(super) type Mismatch = (String, String);

/// Checks one expectation step against the instance.
pub(super) fn check(instance: &Instance<'_>, kind: &StepKind) -> Result<(), Mismatch> {
    match kind {
        StepKind::ExpectWait {
            node,
            wait,
            assignee,
            key,
        } => {
            let filter = Filter {
                wait: wait.as_deref(),
                assignee: assignee.as_deref(),
                key: key.as_deref(),
            };
            expect_wait(instance, *node, &filter)
        }
        StepKind::ExpectCall { node, input } => expect_call(instance, *node, input.as_ref()),
        StepKind::ExpectVars { vars } => expect_vars(instance, vars),
        StepKind::ExpectEnd { at, outcome } => expect_end(instance, kind, *at, outcome.as_ref()),
        StepKind::ExpectIncident { node, message } => {
            expect_incident(instance, *node, message.as_deref())
        }
        _ => Ok(()),
    }
}

/// What else an `expect_wait` asks of the waiting token.
struct Filter<'a> {
    wait: Option<&'a str>,
    assignee: Option<&'a str>,
    key: Option<&'a str>,
}

fn expect_wait(instance: &Instance<'_>, node: NodeIx, filter: &Filter<'_>) -> Result<(), Mismatch> {
    let assignee_of = |token: u64| {
        instance
            .tasks()
            .iter()
            .find(|task| task.token == token)
            .and_then(|task| task.assignee.clone())
    };
    let mut waiting = instance
        .tokens_at(node)
        .filter(|token| !matches!(token.wait, Wait::Ready | Wait::Incident { .. }))
        .peekable();
    let first = waiting.peek().map(|token| (token.id, token.wait.clone()));
    let found = waiting.any(|token| {
        let event_key = match &token.wait {
            Wait::Event { key, .. } => Some(key.as_str()),
            _ => None,
        };
        filter.wait.is_none_or(|wait| token.wait.name() == wait)
            && filter
                .assignee
                .is_none_or(|login| assignee_of(token.id).as_deref() == Some(login))
            && filter.key.is_none_or(|key| event_key == Some(key))
    });
    if found {
        return Ok(());
    }
    let happened = match first {
        Some((token, wait)) => {
            let to = assignee_of(token)
                .map(|login| format!(" assigned to {login}"))
                .unwrap_or_default();
            let id = instance.node_id(node);
            format!("the token at `{id}` {}{to}", describe::wait(&wait))
        }
        None => describe::standing(instance, Some(node)),
    };
    Err((waiting_for(instance, node, filter), happened))
}

/// `a token waiting at `x` for task assigned to ana with key `k``.
fn waiting_for(instance: &Instance<'_>, node: NodeIx, filter: &Filter<'_>) -> String {
    let mut expected = format!(
        "a token waiting at {}",
        describe::node(instance.def(), node)
    );
    if let Some(wait) = filter.wait {
        expected.push_str(&format!(" for {wait}"));
    }
    if let Some(login) = filter.assignee {
        expected.push_str(&format!(" assigned to {login}"));
    }
    if let Some(key) = filter.key {
        expected.push_str(&format!(" with key `{key}`"));
    }
    expected
}

fn expect_vars(instance: &Instance<'_>, vars: &[(usize, Value)]) -> Result<(), Mismatch> {
    let def = instance.def();
    let state = instance.state();
    let wrong: Vec<_> = vars
        .iter()
        .filter(|(ix, value)| state.vars[*ix] != *value)
        .cloned()
        .collect();
    if wrong.is_empty() {
        return Ok(());
    }
    let actual: Vec<_> = wrong
        .iter()
        .map(|(ix, _)| (*ix, state.vars[*ix].clone()))
        .collect();
    Err((
        describe::vars_list(def, &wrong),
        describe::vars_list(def, &actual),
    ))
}

fn expect_incident(
    instance: &Instance<'_>,
    node: NodeIx,
    message: Option<&str>,
) -> Result<(), Mismatch> {
    let stopped = instance.tokens_at(node).any(|token| match &token.wait {
        Wait::Incident { message: text } => message.is_none_or(|words| text.contains(words)),
        _ => false,
    });
    if stopped {
        return Ok(());
    }
    let mut expected = format!("an incident at {}", describe::node(instance.def(), node));
    if let Some(words) = message {
        expected.push_str(&format!(" whose message contains \"{words}\""));
    }
    Err((expected, describe::standing(instance, Some(node))))
}

fn expect_call(
    instance: &Instance<'_>,
    node: NodeIx,
    input: Option<&Value>,
) -> Result<(), Mismatch> {
    let last = instance
        .calls_made()
        .iter()
        .rev()
        .find(|call| call.node == node);
    let matches = last.is_some_and(|call| input.is_none_or(|input| contains(&call.input, input)));
    if matches {
        return Ok(());
    }
    let mut expected = format!("a call from {}", describe::node(instance.def(), node));
    if let Some(input) = input {
        expected.push_str(&format!(" with input containing {input}"));
    }
    let id = instance.node_id(node);
    let happened = match last {
        Some(call) => format!("the call from `{id}` had input {}", call.input),
        None => format!(
            "no call was made from `{id}`; {}",
            describe::standing(instance, Some(node))
        ),
    };
    Err((expected, happened))
}

fn expect_end(
    instance: &Instance<'_>,
    kind: &StepKind,
    at: Option<NodeIx>,
    outcome: Option<&Option<String>>,
) -> Result<(), Mismatch> {
    let state = instance.state();
    let expected = describe::end(instance.def(), kind);
    if state.status() != Status::Completed || state.next_token == 1 {
        return Err((expected, describe::standing(instance, None)));
    }
    let last_end = instance
        .records()
        .iter()
        .rev()
        .find_map(|record| match record {
            Record::Ended { node, .. } => Some(node.as_str()),
            _ => None,
        });
    let at_ok = at.is_none_or(|node| last_end == Some(instance.node_id(node)));
    let outcome_ok = outcome.is_none_or(|outcome| *outcome == state.outcome);
    if at_ok && outcome_ok {
        return Ok(());
    }
    let outcome = match &state.outcome {
        Some(outcome) => format!("with outcome `{outcome}`"),
        None => "with no outcome".to_owned(),
    };
    let happened = format!(
        "the instance completed at `{}` {outcome}",
        last_end.unwrap_or("?")
    );
    Err((expected, happened))
}

/// Whether `actual` holds everything `expected` names: objects key by key
/// (extra keys allowed), lists item by item, other values equal.
pub(super) fn contains(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Object(actual), Value::Object(expected)) => expected
            .iter()
            .all(|(key, value)| actual.get(key).is_some_and(|found| contains(found, value))),
        (Value::Array(actual), Value::Array(expected)) => {
            actual.len() == expected.len()
                && actual.iter().zip(expected).all(|(a, e)| contains(a, e))
        }
        _ => actual == expected,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::contains;

    #[test]
    fn contains_allows_extra_keys_but_not_other_values() {
        let actual = json!({"service": "ses", "fields": {"user": "ana", "email": "a@b.c"}});
        assert!(contains(&actual, &json!({"fields": {"user": "ana"}})));
        assert!(!contains(&actual, &json!({"fields": {"user": "bob"}})));
        assert!(!contains(&actual, &json!({"missing": 1})));
        assert!(contains(
            &json!([1, {"a": 2, "b": 3}]),
            &json!([1, {"a": 2}])
        ));
    }
}
