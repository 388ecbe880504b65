//! One instance run in memory on a virtual clock: the pure core of the
//! runtime without a store. Replay and scenario tests both drive it.
//!
//! It keeps what the driver would have written beside the state: the jobs
//! (timers, timeouts, retries) with their due times, the open tasks, the
//! activity calls waiting for an outcome and every call made, and the
//! history records of every change, in order.

use serde_json::{Map, Value};

use crate::definition::{Definition, NodeIx};
use crate::expr::Env;
use crate::history::Record;
use crate::runtime::{self, Applied, Effect, Input, InstanceState, JobKind, Machine, Token, Wait};

/// A scheduled job: a timer, a timeout or the delay before a retry.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// The token it serves.
    pub token: u64,
    /// Its node.
    pub node: NodeIx,
    /// What it does when due.
    pub kind: JobKind,
    /// When it is due, in ms since the Unix epoch.
    pub due_ms: i64,
}

impl Job {
    /// The input that applies the job.
    pub fn input(&self) -> Input {
        let token = self.token;
        match self.kind {
            JobKind::Timer => Input::Timer { token },
            JobKind::Timeout => Input::Timeout { token },
            JobKind::Retry => Input::RetryDue { token },
        }
    }
}

/// An activity call made by a token.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// The calling token.
    pub token: u64,
    /// Its node.
    pub node: NodeIx,
    /// The call's input.
    pub input: Value,
}

/// An open task (or signing).
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    /// The waiting token.
    pub token: u64,
    /// Its node.
    pub node: NodeIx,
    /// Who is to do it.
    pub assignee: Option<String>,
}

/// An instance in memory: state, clock, jobs, tasks, calls and records.
#[derive(Clone, Debug)]
pub struct Instance<'d> {
    machine: Machine<'d>,
    state: InstanceState,
    now_ms: i64,
    jobs: Vec<Job>,
    tasks: Vec<Task>,
    pending: Vec<Call>,
    made: Vec<Call>,
    records: Vec<Record>,
}

impl<'d> Instance<'d> {
    /// A fresh, not yet started instance of the machine's definition, its
    /// clock at `now_ms`.
    pub fn new(machine: Machine<'d>, now_ms: i64) -> Self {
        Self {
            state: InstanceState::new(machine.def),
            machine,
            now_ms,
            jobs: Vec::new(),
            tasks: Vec::new(),
            pending: Vec::new(),
            made: Vec::new(),
            records: Vec::new(),
        }
    }

    /// Applies `input` at the current clock with `seed`, keeping track of
    /// the effects. On error nothing changes.
    pub fn apply(&mut self, input: Input, seed: u64) -> Result<Applied, runtime::Error> {
        let env = Env {
            now_ms: self.now_ms,
            seed,
        };
        let applied = self.machine.apply(&mut self.state, input, &env)?;
        for effect in &applied.effects {
            self.track(effect);
        }
        self.records.extend(applied.records.iter().cloned());
        Ok(applied)
    }

    fn track(&mut self, effect: &Effect) {
        match effect {
            Effect::Task {
                token,
                node,
                assignee,
            } => self.tasks.push(Task {
                token: *token,
                node: *node,
                assignee: assignee.clone(),
            }),
            Effect::Subscribe { .. } => {}
            Effect::Schedule {
                token,
                node,
                job,
                due_ms,
            } => self.jobs.push(Job {
                token: *token,
                node: *node,
                kind: *job,
                due_ms: *due_ms,
            }),
            Effect::Call {
                token, node, input, ..
            } => {
                let call = Call {
                    token: *token,
                    node: *node,
                    input: input.clone(),
                };
                self.made.push(call.clone());
                self.pending.push(call);
            }
            Effect::Release { token, .. } => {
                self.jobs.retain(|job| job.token != *token);
                self.tasks.retain(|task| task.token != *token);
                self.pending.retain(|call| call.token != *token);
            }
        }
    }

    /// The definition it runs.
    pub fn def(&self) -> &'d Definition {
        self.machine.def
    }

    /// The state.
    pub fn state(&self) -> &InstanceState {
        &self.state
    }

    /// The virtual clock, ms since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// Sets the virtual clock.
    pub fn set_now(&mut self, now_ms: i64) {
        self.now_ms = now_ms;
    }

    /// The scheduled jobs.
    pub fn jobs(&self) -> &[Job] {
        &self.jobs
    }

    /// The job of `kind` for `token`, if one is scheduled.
    pub fn job(&self, token: u64, kind: JobKind) -> Option<&Job> {
        self.jobs
            .iter()
            .find(|job| job.token == token && job.kind == kind)
    }

    /// The earliest job due at or before `until_ms`.
    pub fn next_due(&self, until_ms: i64) -> Option<Job> {
        self.jobs
            .iter()
            .filter(|job| job.due_ms <= until_ms)
            .min_by_key(|job| (job.due_ms, job.token))
            .cloned()
    }

    /// Drops a job that found its token gone.
    pub fn drop_job(&mut self, job: &Job) {
        self.jobs.retain(|other| other != job);
    }

    /// The open tasks.
    pub fn tasks(&self) -> &[Task] {
        &self.tasks
    }

    /// The calls still waiting for their outcome.
    pub fn pending_calls(&self) -> &[Call] {
        &self.pending
    }

    /// Every call made, oldest first.
    pub fn calls_made(&self) -> &[Call] {
        &self.made
    }

    /// Every history record so far.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// The tokens on node `node`, oldest first.
    pub fn tokens_at(&self, node: NodeIx) -> impl Iterator<Item = &Token> {
        self.state
            .tokens
            .iter()
            .filter(move |token| token.node == node)
    }

    /// The node id of index `node`.
    pub fn node_id(&self, node: NodeIx) -> &'d str {
        self.machine
            .def
            .nodes
            .get(node)
            .map_or("?", |node| node.id.as_str())
    }

    /// The variables by name (unset ones as null).
    pub fn vars(&self) -> Map<String, Value> {
        self.machine
            .def
            .variables
            .iter()
            .zip(&self.state.vars)
            .map(|(var, value)| (var.name.clone(), value.clone()))
            .collect()
    }

    /// Where the tokens stand, in words: `` `review` (task), `pause` (timer) ``.
    pub fn whereabouts(&self) -> String {
        let places: Vec<String> = self
            .state
            .tokens
            .iter()
            .map(|token| {
                let what = match &token.wait {
                    Wait::Event { kind, key } => format!("event `{kind}` with key `{key}`"),
                    Wait::Incident { message } => format!("incident: {message}"),
                    Wait::Call => "activity call".to_owned(),
                    other => other.name().to_owned(),
                };
                format!("`{}` ({what})", self.node_id(token.node))
            })
            .collect();
        places.join(", ")
    }
}
