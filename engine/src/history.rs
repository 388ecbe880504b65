//! Append-only history: what happened to an instance, when, with which inputs.
//!
//! Every committed change of an instance adds one row holding the records it
//! produced, in order. Records of inputs (start variables, task data, events,
//! timer firings, activity outcomes, operator actions) carry the clock and
//! the random seed the change ran with; records of decisions (node entered,
//! branch taken, script results, joins, waits, failures) say what the
//! runtime did with them. Together they are enough to replay an instance
//! without the database. The exported shape is documented in
//! `docs/history.md`; its version is [`FORMAT`].

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The version of the exported record shape.
pub const FORMAT: u32 = 1;

/// Variables by name, as recorded.
pub type Vars = Map<String, Value>;

/// One history record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// Input: the instance started with these variables.
    Started {
        /// The process id.
        process: String,
        /// The process version.
        version: u32,
        /// The start variables as given (defaults not included).
        vars: Vars,
        /// Who started it, if known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        initiator: Option<String>,
        /// The engine clock, ms since the Unix epoch.
        now_ms: i64,
        /// The random seed of this change.
        seed: u64,
    },
    /// Input: a person completed a task or a signing.
    TaskCompleted {
        /// The node.
        node: String,
        /// The token that waited.
        token: u64,
        /// The form data.
        data: Vars,
        /// Whether the person refused (signing only).
        #[serde(default, skip_serializing_if = "is_false")]
        rejected: bool,
        /// The engine clock.
        now_ms: i64,
        /// The random seed of this change.
        seed: u64,
    },
    /// Input: an event was delivered to a waiting token.
    EventReceived {
        /// The node.
        node: String,
        /// The token that waited.
        token: u64,
        /// The event id.
        event_id: String,
        /// The event kind.
        kind: String,
        /// The correlation key.
        key: String,
        /// The payload.
        payload: Value,
        /// The engine clock.
        now_ms: i64,
        /// The random seed of this change.
        seed: u64,
    },
    /// Input: a timer fired.
    TimerFired {
        /// The node.
        node: String,
        /// The token that waited.
        token: u64,
        /// The engine clock.
        now_ms: i64,
        /// The random seed of this change.
        seed: u64,
    },
    /// Input: a node's timeout ran out.
    TimedOut {
        /// The node.
        node: String,
        /// The token that waited.
        token: u64,
        /// The engine clock.
        now_ms: i64,
        /// The random seed of this change.
        seed: u64,
    },
    /// Input: the delay before another try of a failed node ran out.
    RetryDue {
        /// The node.
        node: String,
        /// The token that waited.
        token: u64,
        /// The engine clock.
        now_ms: i64,
        /// The random seed of this change.
        seed: u64,
    },
    /// Input: an activity call finished.
    ActivityDone {
        /// The node.
        node: String,
        /// The token that called.
        token: u64,
        /// The output, when it succeeded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<Value>,
        /// The error, when it failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// The engine clock.
        now_ms: i64,
        /// The random seed of this change.
        seed: u64,
    },
    /// Input: an operator changed variables and retried the incidents.
    Resolved {
        /// The variables set.
        vars: Vars,
        /// The engine clock.
        now_ms: i64,
        /// The random seed of this change.
        seed: u64,
    },
    /// Input: an operator cancelled the instance.
    Cancelled {
        /// The engine clock.
        now_ms: i64,
        /// The random seed of this change.
        seed: u64,
    },
    /// Decision: a token entered a node.
    Entered {
        /// The node.
        node: String,
        /// The new token.
        token: u64,
        /// The node it came from.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
    },
    /// Decision: a gateway took a branch.
    Branch {
        /// The gateway.
        node: String,
        /// The token.
        token: u64,
        /// The node the branch leads to.
        taken: String,
        /// The index of the branch whose condition held; absent for `default`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        branch: Option<usize>,
    },
    /// Decision: a script ran and assigned variables.
    Script {
        /// The node.
        node: String,
        /// The token.
        token: u64,
        /// The clock the script saw.
        now_ms: i64,
        /// The random seed the script saw.
        seed: u64,
        /// The variables it assigned.
        assigned: Vars,
    },
    /// Decision: a token arrived at a join.
    Joined {
        /// The join.
        node: String,
        /// The arriving token.
        token: u64,
        /// The incoming source it came from.
        from: String,
        /// Whether every incoming source had arrived, so the join fired.
        fired: bool,
    },
    /// Decision: a token began to wait.
    Waiting {
        /// The node.
        node: String,
        /// The token.
        token: u64,
        /// `task`, `sign`, `timer`, `event` or `call`.
        wait: String,
        /// The timer's due time, for timers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due_ms: Option<i64>,
        /// The correlation key, for events.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        /// The assignee, for tasks.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assignee: Option<String>,
    },
    /// Decision: a node failed.
    Failed {
        /// The node.
        node: String,
        /// The token.
        token: u64,
        /// What went wrong.
        message: String,
        /// How many tries failed so far.
        attempt: u32,
        /// `retry`, `on_error` or `incident`.
        then: String,
    },
    /// Decision: a token stopped on an incident that an operator resolves.
    Incident {
        /// The node.
        node: String,
        /// The token.
        token: u64,
        /// What went wrong.
        message: String,
    },
    /// Decision: a token reached an end.
    Ended {
        /// The end node.
        node: String,
        /// The token.
        token: u64,
        /// The end's outcome.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        outcome: Option<String>,
    },
    /// Decision: the last token ended; the instance is complete.
    Completed {
        /// The outcome of the instance.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        outcome: Option<String>,
    },
}

impl Record {
    /// The record's `type` as exported.
    pub fn name(&self) -> &'static str {
        match self {
            Record::Started { .. } => "started",
            Record::TaskCompleted { .. } => "task_completed",
            Record::EventReceived { .. } => "event_received",
            Record::TimerFired { .. } => "timer_fired",
            Record::TimedOut { .. } => "timed_out",
            Record::RetryDue { .. } => "retry_due",
            Record::ActivityDone { .. } => "activity_done",
            Record::Resolved { .. } => "resolved",
            Record::Cancelled { .. } => "cancelled",
            Record::Entered { .. } => "entered",
            Record::Branch { .. } => "branch",
            Record::Script { .. } => "script",
            Record::Joined { .. } => "joined",
            Record::Waiting { .. } => "waiting",
            Record::Failed { .. } => "failed",
            Record::Incident { .. } => "incident",
            Record::Ended { .. } => "ended",
            Record::Completed { .. } => "completed",
        }
    }

    /// Whether the record is an input (fed by replay) rather than a decision
    /// (compared by replay).
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            Record::Started { .. }
                | Record::TaskCompleted { .. }
                | Record::EventReceived { .. }
                | Record::TimerFired { .. }
                | Record::TimedOut { .. }
                | Record::RetryDue { .. }
                | Record::ActivityDone { .. }
                | Record::Resolved { .. }
                | Record::Cancelled { .. }
        )
    }
}

/// One line of an exported history: a record with its place.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// The export format version, [`FORMAT`].
    pub v: u32,
    /// The instance.
    pub instance: String,
    /// The instance revision of the change that wrote the record.
    pub rev: i64,
    /// The record's position inside that change, from 0.
    pub seq: u32,
    /// When the change committed, in ms since the Unix epoch.
    pub at: i64,
    /// The record.
    #[serde(flatten)]
    pub record: Record,
}

/// Encodes the records of one change as stored in the `history` table.
pub fn encode(records: &[Record]) -> String {
    serde_json::to_string(records).expect("history records are plain JSON values")
}

/// Decodes the JSON array of the records of one change (the stored form
/// unpacked, see `store::packing`).
pub fn decode(json: &[u8]) -> Result<Vec<Record>, serde_json::Error> {
    serde_json::from_slice(json)
}

fn is_false(value: &bool) -> bool {
    !value
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn records_round_trip_with_their_type_tag() {
        let records = vec![
            Record::Entered {
                node: "a".into(),
                token: 3,
                from: None,
            },
            Record::Branch {
                node: "g".into(),
                token: 4,
                taken: "b".into(),
                branch: None,
            },
        ];
        let text = encode(&records);
        assert_eq!(
            text,
            concat!(
                r#"[{"type":"entered","node":"a","token":3},"#,
                r#"{"type":"branch","node":"g","token":4,"taken":"b"}]"#
            )
        );
        assert_eq!(decode(text.as_bytes()).expect("decodes"), records);
    }

    #[test]
    fn an_exported_line_flattens_the_record() {
        let line = Line {
            v: FORMAT,
            instance: "i".into(),
            rev: 2,
            seq: 0,
            at: 5,
            record: Record::Completed {
                outcome: Some("ok".into()),
            },
        };
        let value = serde_json::to_value(&line).expect("serializes");
        assert_eq!(
            value,
            json!({"v": 1, "instance": "i", "rev": 2, "seq": 0, "at": 5,
                   "type": "completed", "outcome": "ok"})
        );
    }
}
