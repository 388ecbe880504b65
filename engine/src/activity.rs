//! The seam between the engine and the node kinds that do work outside it.
//!
//! The engine knows processes, not signatures: kinds such as
//! `signature_issuing_request` are served by an [`Activity`] registered by
//! kind in a [`Registry`]. The engine calls an activity with an idempotency
//! key made of instance, node and token, so that a retry after a crash
//! repeats no effect.
//!
//! A [`Chore`] is work a worker does on every pass beside its jobs, such as
//! a service deciding the requests that activities handed it; its answers
//! reach instances as events in the inbox.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Identifies one call of an activity across retries and crashes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IdempotencyKey {
    /// The instance that calls.
    pub instance_id: String,
    /// The node that calls.
    pub node_id: String,
    /// The token on that node.
    pub token_id: u64,
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.instance_id, self.node_id, self.token_id)
    }
}

/// One call of an activity.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Call {
    /// The key that makes repeated calls one effect.
    pub key: IdempotencyKey,
    /// The process id of the calling instance.
    pub process: String,
    /// The node's configuration and the values of the variables it maps, as
    /// the node kind defines them.
    pub input: serde_json::Value,
    /// The engine's clock at the call, in milliseconds since the Unix epoch.
    pub now_ms: i64,
}

/// What an activity reports when it is done.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The value stored in the node's `output` variable, if it has one.
    pub output: serde_json::Value,
}

/// Why an activity did not complete.
#[derive(Clone, Debug, PartialEq, thiserror::Error, Serialize, Deserialize)]
pub enum Error {
    /// The work cannot be done with this input; the node fails and takes its
    /// `on_error` path, or becomes an incident.
    #[error("{code}: {message}")]
    Failed {
        /// A stable code, such as `SES_NO_SERVICE`.
        code: String,
        /// What went wrong, naming the value.
        message: String,
    },
    /// A passing fault (a network or database hiccup); the engine retries.
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
}

/// A node kind that does work outside the engine.
#[async_trait]
pub trait Activity: Send + Sync {
    /// Does the work of one call. Calling twice with the same key must have
    /// the effect of one call and return the same outcome.
    async fn execute(&self, call: Call) -> Result<Outcome, Error>;
}

/// Work a worker does on every pass, beside its jobs and calls.
#[async_trait]
pub trait Chore: Send + Sync {
    /// A short name for logs, such as `certificate service`.
    fn name(&self) -> &str;

    /// Does the work that is due at `now_ms` (the engine's clock) and
    /// returns how many items it finished; 0 means there was nothing to do,
    /// so that a worker run until idle stops.
    async fn run(&self, now_ms: i64) -> Result<usize, Error>;
}

/// A chore and whether its last run failed (so that a failure is logged
/// once, not on every pass).
struct ChoreSlot {
    chore: Arc<dyn Chore>,
    failing: AtomicBool,
}

/// Activities by node kind, and the chores workers run.
#[derive(Clone, Default)]
pub struct Registry {
    by_kind: HashMap<String, Arc<dyn Activity>>,
    chores: Vec<Arc<ChoreSlot>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `activity` for node kind `kind`, replacing any earlier one.
    pub fn register(&mut self, kind: impl Into<String>, activity: Arc<dyn Activity>) {
        self.by_kind.insert(kind.into(), activity);
    }

    /// The activity serving `kind`, if one is registered.
    pub fn get(&self, kind: &str) -> Option<&Arc<dyn Activity>> {
        self.by_kind.get(kind)
    }

    /// Adds a chore that every pass of a worker runs.
    pub fn add_chore(&mut self, chore: Arc<dyn Chore>) {
        self.chores.push(Arc::new(ChoreSlot {
            chore,
            failing: AtomicBool::new(false),
        }));
    }

    /// Runs every chore once at `now_ms` and returns how many items they
    /// finished. A failing chore is logged (once until it recovers) and
    /// counts as idle, so that it cannot stop the work on instances.
    pub async fn run_chores(&self, now_ms: i64) -> usize {
        let mut n_done = 0;
        for slot in &self.chores {
            let name = slot.chore.name();
            match slot.chore.run(now_ms).await {
                Ok(done) => {
                    if slot.failing.swap(false, Ordering::Relaxed) {
                        tracing::info!(chore = name, "chore recovered");
                    }
                    n_done += done;
                }
                Err(error) => {
                    if !slot.failing.swap(true, Ordering::Relaxed) {
                        tracing::error!(chore = name, "chore failed: {error}");
                    }
                }
            }
        }
        n_done
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut kinds: Vec<_> = self.by_kind.keys().collect();
        kinds.sort();
        let chores: Vec<&str> = self.chores.iter().map(|slot| slot.chore.name()).collect();
        f.debug_struct("Registry")
            .field("kinds", &kinds)
            .field("chores", &chores)
            .finish()
    }
}
