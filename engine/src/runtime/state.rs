//! The state of one instance: its variables, its tokens and its joins.
//!
//! The state is stored as one compact JSON value in the instance row; its
//! shape carries a version (`v`). Variables are kept by index, so a state
//! belongs to the definition version the instance started with.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::definition::{Definition, NodeIx};

/// The version of the stored state shape.
pub const FORMAT: u32 = 1;

/// An instance's variables, tokens and partial joins.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstanceState {
    /// The stored shape's version, [`FORMAT`].
    pub v: u32,
    /// Variable values by index (`null` when unset).
    pub vars: Vec<Value>,
    /// The live tokens.
    #[serde(rename = "t")]
    pub tokens: Vec<Token>,
    /// Joins that some but not all incoming sources reached.
    #[serde(rename = "j", default, skip_serializing_if = "Vec::is_empty")]
    pub joins: Vec<Join>,
    /// The id the next token gets.
    #[serde(rename = "n")]
    pub next_token: u64,
    /// Who started the instance.
    #[serde(rename = "i", default, skip_serializing_if = "Option::is_none")]
    pub initiator: Option<String>,
    /// The outcome of the last end reached that had one.
    #[serde(rename = "o", default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// Whether an operator cancelled the instance.
    #[serde(rename = "c", default, skip_serializing_if = "std::ops::Not::not")]
    pub cancelled: bool,
}

/// Where an instance stands, derived from its state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Tokens are running or waiting.
    Active,
    /// At least one token stopped on an incident.
    Incident,
    /// Every token ended.
    Completed,
    /// An operator cancelled it.
    Cancelled,
}

impl Status {
    /// The name stored and shown: `active`, `incident`, ...
    pub fn name(&self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Incident => "incident",
            Status::Completed => "completed",
            Status::Cancelled => "cancelled",
        }
    }

    /// The status called `name`.
    pub fn from_name(name: &str) -> Option<Status> {
        [
            Status::Active,
            Status::Incident,
            Status::Completed,
            Status::Cancelled,
        ]
        .into_iter()
        .find(|status| status.name() == name)
    }
}

/// A token: one activation of one node. A token that moves on becomes a new
/// token with a new id, so that (instance, node, token) names one activation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Token {
    /// The id, unique in the instance.
    pub id: u64,
    /// The node it is on.
    #[serde(rename = "at")]
    pub node: NodeIx,
    /// The node it came from (the incoming source a join counts).
    #[serde(rename = "f", default, skip_serializing_if = "Option::is_none")]
    pub from: Option<NodeIx>,
    /// What it waits for.
    #[serde(rename = "w")]
    pub wait: Wait,
    /// Whether a timeout job runs for it.
    #[serde(rename = "to", default, skip_serializing_if = "std::ops::Not::not")]
    pub timeout: bool,
    /// How many tries of its node failed so far.
    #[serde(rename = "a", default, skip_serializing_if = "is_zero")]
    pub attempt: u32,
}

/// What a token waits for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Wait {
    /// Nothing: it is about to run its node.
    Ready,
    /// A person to complete a task.
    Task,
    /// A person to sign.
    Sign,
    /// A timer.
    Timer,
    /// An event of a kind with a key.
    Event {
        /// The kind.
        kind: String,
        /// The correlation key.
        key: String,
    },
    /// An activity call to finish.
    Call,
    /// The delay before another try of its failed node.
    Retry,
    /// An operator: the node failed and nothing handles it.
    Incident {
        /// What went wrong.
        message: String,
    },
}

impl Wait {
    /// The short name shown by `sesflow show`.
    pub fn name(&self) -> &'static str {
        match self {
            Wait::Ready => "ready",
            Wait::Task => "task",
            Wait::Sign => "sign",
            Wait::Timer => "timer",
            Wait::Event { .. } => "event",
            Wait::Call => "call",
            Wait::Retry => "retry",
            Wait::Incident { .. } => "incident",
        }
    }
}

/// A join that some incoming sources reached: arrivals counted per source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Join {
    /// The join node.
    pub node: NodeIx,
    /// Tokens arrived and not yet used, per incoming source node.
    pub arrived: Vec<(NodeIx, u32)>,
}

impl Join {
    /// Counts a token from `from`; when every source in `incoming` has a
    /// token counted, uses one of each and returns `true` (the join fires).
    pub fn arrive(&mut self, from: NodeIx, incoming: &[NodeIx]) -> bool {
        match self.arrived.iter_mut().find(|(source, _)| *source == from) {
            Some((_, count)) => *count += 1,
            None => self.arrived.push((from, 1)),
        }
        let count_of = |source: &NodeIx| {
            self.arrived
                .iter()
                .find(|(arrived, _)| arrived == source)
                .map_or(0, |(_, count)| *count)
        };
        if !incoming.iter().all(|source| count_of(source) > 0) {
            return false;
        }
        for (_, count) in &mut self.arrived {
            *count -= 1;
        }
        self.arrived.retain(|(_, count)| *count > 0);
        true
    }
}

impl InstanceState {
    /// A fresh state for `def`: every variable unset, no tokens.
    pub fn new(def: &Definition) -> Self {
        Self {
            v: FORMAT,
            vars: vec![Value::Null; def.variables.len()],
            tokens: Vec::new(),
            joins: Vec::new(),
            next_token: 1,
            initiator: None,
            outcome: None,
            cancelled: false,
        }
    }

    /// Where the instance stands.
    pub fn status(&self) -> Status {
        if self.cancelled {
            Status::Cancelled
        } else if self.tokens.is_empty() {
            Status::Completed
        } else if self
            .tokens
            .iter()
            .any(|token| matches!(token.wait, Wait::Incident { .. }))
        {
            Status::Incident
        } else {
            Status::Active
        }
    }

    /// The first incident message, if any token stopped on one.
    pub fn incident(&self) -> Option<&str> {
        self.tokens.iter().find_map(|token| match &token.wait {
            Wait::Incident { message } => Some(message.as_str()),
            _ => None,
        })
    }

    /// The token with id `id`.
    pub fn token(&self, id: u64) -> Option<&Token> {
        self.tokens.iter().find(|token| token.id == id)
    }

    /// Encodes the state as stored.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("instance state is plain JSON values")
    }

    /// Decodes a stored state.
    pub fn decode(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}
