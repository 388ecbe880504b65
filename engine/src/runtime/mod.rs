//! The interpreter: a pure core that moves tokens through a definition.
//!
//! [`Machine::apply`] takes an instance's state and one [`Input`] (start,
//! a task completed, an event, a timer, an activity outcome, an operator
//! action) and runs every token it can until each one waits, ends or fails.
//! It returns the [`Effect`]s the change causes (tasks to open, jobs to
//! schedule, waits to register, activities to call, things to release) and
//! the history records that explain it. It does no I/O: the driver commits
//! the new state, the records and the effects in one transaction.
//!
//! Node kinds live one family per file: `flow.rs` (start, end, script,
//! gateway, parallel), `wait.rs` (task, sign, timer, receive, the signature
//! kinds) and `resume.rs` (what each input does to a waiting token).

mod flow;
mod resume;
mod state;
mod step;
#[cfg(test)]
mod tests;
mod wait;

use serde_json::Value;

use crate::activity;
use crate::definition::{Definition, NodeIx, VarIx};
use crate::expr::{Env, Evaluator};
use crate::history::Record;

pub use state::{InstanceState, Join, Status, Token, Wait, FORMAT};

/// How many nodes one change may run before the runtime stops a token on an
/// incident, unless the machine is configured otherwise.
pub const DEFAULT_STEP_BUDGET: u32 = 1_000;

/// The event kind that `expect_signature_issuing` waits for.
pub const ISSUANCE_EVENT: &str = "signature.issuance";

/// One thing that happens to an instance.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// Start: set the variables and put a token on the start node.
    Start {
        /// Variables given at start; defaults fill the rest.
        vars: Vec<(VarIx, Value)>,
        /// Who starts it.
        initiator: Option<String>,
    },
    /// A person completed the task (or signing) a token waits on.
    Complete {
        /// The waiting token.
        token: u64,
        /// The form data.
        data: Vec<(VarIx, Value)>,
        /// Whether the person refused (signing only).
        rejected: bool,
    },
    /// An event for a token waiting on `receive` or `expect_signature_issuing`.
    Event {
        /// The waiting token.
        token: u64,
        /// The event's id.
        id: String,
        /// Its kind.
        kind: String,
        /// Its correlation key.
        key: String,
        /// Its payload.
        payload: Value,
    },
    /// A timer is due.
    Timer {
        /// The waiting token.
        token: u64,
    },
    /// A node's timeout ran out.
    Timeout {
        /// The waiting token.
        token: u64,
    },
    /// The delay before another try of a failed node ran out.
    RetryDue {
        /// The waiting token.
        token: u64,
    },
    /// An activity call finished.
    Activity {
        /// The calling token.
        token: u64,
        /// Its output, or why it failed.
        result: Result<Value, activity::Error>,
    },
    /// An operator set variables and retries every incident.
    Resolve {
        /// The variables to set first.
        vars: Vec<(VarIx, Value)>,
    },
    /// An operator cancels the instance.
    Cancel,
}

/// Which kind of job to schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    /// A timer node fires.
    Timer,
    /// A node's timeout runs out.
    Timeout,
    /// A failed node is tried again.
    Retry,
}

impl JobKind {
    /// The name stored in the job table.
    pub fn name(&self) -> &'static str {
        match self {
            JobKind::Timer => "timer",
            JobKind::Timeout => "timeout",
            JobKind::Retry => "retry",
        }
    }
}

/// Something the driver must do for a change to take effect.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Open a task (or a signing) for a token.
    Task {
        /// The waiting token.
        token: u64,
        /// Its node.
        node: NodeIx,
        /// Who is to do it.
        assignee: Option<String>,
    },
    /// Register a wait for an event; deliver a kept event at once if one
    /// matches.
    Subscribe {
        /// The waiting token.
        token: u64,
        /// Its node.
        node: NodeIx,
        /// The event kind.
        kind: String,
        /// The correlation key.
        key: String,
    },
    /// Schedule a job.
    Schedule {
        /// The token it serves.
        token: u64,
        /// Its node.
        node: NodeIx,
        /// What kind of job.
        job: JobKind,
        /// When, in ms since the Unix epoch.
        due_ms: i64,
    },
    /// Call the activity registered for the node's kind, after commit, with
    /// the idempotency key (instance, node, token).
    Call {
        /// The calling token.
        token: u64,
        /// Its node.
        node: NodeIx,
        /// The activity kind (the node kind's name).
        kind: String,
        /// The call's input.
        input: Value,
    },
    /// A waiting token is gone: drop what was registered for it.
    Release {
        /// The token.
        token: u64,
        /// What it waited on.
        wait: Wait,
        /// Whether a timeout job ran for it.
        timeout: bool,
    },
}

/// What one [`Machine::apply`] produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Applied {
    /// The effects, in order.
    pub effects: Vec<Effect>,
    /// The history records, in order.
    pub records: Vec<Record>,
}

/// Why an input could not be applied. The state is then unchanged.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Error {
    /// The token is gone or no longer waits for this input (another input
    /// won); the input does nothing.
    #[error("token {token} does not wait for this input any more")]
    Stale {
        /// The token named by the input.
        token: u64,
    },
    /// The input carries a wrong value.
    #[error("{0}")]
    Input(String),
    /// The instance ended or was cancelled.
    #[error("the instance is {0} and takes no more input")]
    Finished(&'static str),
}

/// A definition ready to run, with the evaluator and the limits it runs with.
#[derive(Clone, Copy, Debug)]
pub struct Machine<'a> {
    /// The definition.
    pub def: &'a Definition,
    /// The evaluator of expressions and scripts.
    pub evaluator: &'a Evaluator,
    /// How many nodes one change may run.
    pub step_budget: u32,
}

impl<'a> Machine<'a> {
    /// A machine with the default step budget.
    pub fn new(def: &'a Definition, evaluator: &'a Evaluator) -> Self {
        Self {
            def,
            evaluator,
            step_budget: DEFAULT_STEP_BUDGET,
        }
    }

    /// Applies `input` to `state` at the clock and seed of `env`, running
    /// every token that can run. On error `state` is left as it was.
    pub fn apply(
        &self,
        state: &mut InstanceState,
        input: Input,
        env: &Env,
    ) -> Result<Applied, Error> {
        let mut work = state.clone();
        let mut run = step::Run::new(self, &mut work, env);
        run.on_input(input)?;
        run.run_ready();
        let applied = run.finish();
        *state = work;
        Ok(applied)
    }
}

/// Applies `input` with the default step budget; see [`Machine::apply`].
pub fn apply(
    def: &Definition,
    evaluator: &Evaluator,
    state: &mut InstanceState,
    input: Input,
    env: &Env,
) -> Result<Applied, Error> {
    Machine::new(def, evaluator).apply(state, input, env)
}

/// The node index of the node a token is on, checked against `def`.
fn node_of(def: &Definition, node: NodeIx) -> &crate::definition::Node {
    def.nodes
        .get(node)
        .expect("tokens only stand on nodes of the instance's own definition")
}
