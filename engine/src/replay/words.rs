//! History records in words a process designer reads without the source:
//! `gateway \`route\` took branch 1 to \`yes\``, `waits at \`review\` for a
//! task (assigned to ana)`.

use serde_json::{Map, Value};

use crate::history::Record;

/// One record as a short sentence (no trailing period).
pub fn record(record: &Record) -> String {
    match record {
        Record::Started {
            vars, initiator, ..
        } => {
            let by = initiator
                .as_deref()
                .map(|login| format!(" by {login}"))
                .unwrap_or_default();
            format!("started{by} with {}", vars_list(vars))
        }
        Record::TaskCompleted {
            node,
            data,
            rejected,
            ..
        } if *rejected => format!("`{node}` was refused with {}", vars_list(data)),
        Record::TaskCompleted { node, data, .. } => {
            format!("`{node}` was completed with {}", vars_list(data))
        }
        Record::EventReceived {
            node,
            kind,
            key,
            payload,
            ..
        } => format!("`{node}` received event `{kind}` with key `{key}` and payload {payload}"),
        Record::TimerFired { node, now_ms, .. } => {
            format!("the timer at `{node}` fired at {}", moment(*now_ms))
        }
        Record::TimedOut { node, now_ms, .. } => {
            format!("the timeout of `{node}` ran out at {}", moment(*now_ms))
        }
        Record::RetryDue { node, .. } => format!("`{node}` was tried again"),
        Record::ActivityDone {
            node,
            output,
            error,
            ..
        } => activity(node, output.as_ref(), error.as_deref()),
        Record::Resolved { vars, .. } => {
            format!("an operator retried the incidents with {}", vars_list(vars))
        }
        Record::Cancelled { .. } => "an operator cancelled the instance".to_owned(),
        other => decision(other),
    }
}

/// A decision record as a short sentence; inputs go through [`record`].
fn decision(record: &Record) -> String {
    match record {
        Record::Entered {
            node,
            from: Some(from),
            ..
        } => format!("entered `{node}` from `{from}`"),
        Record::Entered { node, .. } => format!("entered `{node}`"),
        Record::Branch {
            node,
            taken,
            branch: Some(ix),
            ..
        } => format!("gateway `{node}` took branch {} to `{taken}`", ix + 1),
        Record::Branch { node, taken, .. } => {
            format!("gateway `{node}` took the default to `{taken}`")
        }
        Record::Script { node, assigned, .. } => {
            format!("script `{node}` set {}", vars_list(assigned))
        }
        Record::Joined {
            node, from, fired, ..
        } => {
            let then = if *fired {
                "and fired"
            } else {
                "and waits for the other flows"
            };
            format!("join `{node}` got the token from `{from}` {then}")
        }
        Record::Waiting { .. } => waiting(record),
        Record::Failed { .. } => failed(record),
        Record::Incident { node, message, .. } => {
            format!("stopped on an incident at `{node}`: {message}")
        }
        Record::Ended {
            node,
            outcome: Some(outcome),
            ..
        } => format!("ended at `{node}` with outcome `{outcome}`"),
        Record::Ended { node, .. } => format!("ended at `{node}`"),
        Record::Completed {
            outcome: Some(outcome),
        } => format!("the instance completed with outcome `{outcome}`"),
        Record::Completed { .. } => "the instance completed".to_owned(),
        input => self::record(input),
    }
}

fn waiting(record: &Record) -> String {
    let Record::Waiting {
        node,
        wait,
        due_ms,
        key,
        assignee,
        ..
    } = record
    else {
        return String::new();
    };
    let what = match wait.as_str() {
        "task" => "a task".to_owned(),
        "sign" => "a signature".to_owned(),
        "timer" => match due_ms {
            Some(due) => format!("a timer due at {}", moment(*due)),
            None => "a timer".to_owned(),
        },
        "event" => match key {
            Some(key) => format!("an event with key `{key}`"),
            None => "an event".to_owned(),
        },
        "call" => "the activity call".to_owned(),
        other => other.to_owned(),
    };
    match assignee {
        Some(login) => format!("waits at `{node}` for {what} (assigned to {login})"),
        None => format!("waits at `{node}` for {what}"),
    }
}

fn failed(record: &Record) -> String {
    let Record::Failed {
        node,
        message,
        attempt,
        then,
        ..
    } = record
    else {
        return String::new();
    };
    let then = match then.as_str() {
        "retry" => "it will be tried again",
        "on_error" => "it takes on_error",
        _ => "it stops on an incident",
    };
    format!("`{node}` failed (try {attempt}): {message}; {then}")
}

fn activity(node: &str, output: Option<&Value>, error: Option<&str>) -> String {
    match (output, error) {
        (_, Some(error)) => format!("the activity of `{node}` failed: {error}"),
        (Some(output), None) => format!("the activity of `{node}` returned {output}"),
        (None, None) => format!("the activity of `{node}` finished"),
    }
}

/// `a = 1, b = "x"`, or `no variables`.
pub fn vars_list(vars: &Map<String, Value>) -> String {
    if vars.is_empty() {
        return "no variables".to_owned();
    }
    vars.iter()
        .map(|(name, value)| format!("{name} = {value}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A value as shown next to a variable: JSON, or `unset` for null.
pub fn value(value: Option<&Value>) -> String {
    match value {
        None => "not declared".to_owned(),
        Some(Value::Null) => "unset".to_owned(),
        Some(value) => value.to_string(),
    }
}

/// `1 step`, `3 steps`, `2 decisions`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Milliseconds since the Unix epoch as RFC 3339 in UTC, to the second (or
/// the millisecond when it has some).
pub fn moment(ms: i64) -> String {
    let Some(at) = chrono::DateTime::from_timestamp_millis(ms) else {
        return format!("{ms} ms");
    };
    let precision = if ms % 1000 == 0 {
        chrono::SecondsFormat::Secs
    } else {
        chrono::SecondsFormat::Millis
    };
    at.to_rfc3339_opts(precision, true)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn decisions_read_as_sentences() {
        let branch = Record::Branch {
            node: "route".into(),
            token: 4,
            taken: "yes".into(),
            branch: Some(0),
        };
        assert_eq!(record(&branch), "gateway `route` took branch 1 to `yes`");
        let waiting = Record::Waiting {
            node: "review".into(),
            token: 3,
            wait: "task".into(),
            due_ms: None,
            key: None,
            assignee: Some("ana".into()),
        };
        assert_eq!(
            record(&waiting),
            "waits at `review` for a task (assigned to ana)"
        );
        let mut vars = Map::new();
        vars.insert("total".into(), json!(12));
        let script = Record::Script {
            node: "sum".into(),
            token: 2,
            now_ms: 0,
            seed: 0,
            assigned: vars,
        };
        assert_eq!(record(&script), "script `sum` set total = 12");
    }

    #[test]
    fn moments_are_utc_seconds_unless_finer() {
        assert_eq!(moment(1_893_456_000_000), "2030-01-01T00:00:00Z");
        assert_eq!(moment(1_893_456_000_250), "2030-01-01T00:00:00.250Z");
    }
}
