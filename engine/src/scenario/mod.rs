//! Scenario tests: YAML files next to the schemas (`NAME.test.yaml`) that
//! start an instance, act on it and check what it does, step by step, in
//! memory on a virtual clock.
//!
//! A scenario file names its schema (by default `NAME.yaml` beside it) and
//! holds scenarios; each is a list of steps. Actions: `start`, `complete`,
//! `send`, `advance`, `activity`, `retry`, `cancel`. Expectations:
//! `expect_wait`, `expect_call`, `expect_vars`, `expect_end`,
//! `expect_incident`. [`load`] reads a file and resolves every node and
//! variable against the schema, reporting every problem with its place;
//! [`run`] runs the scenarios through the same pure core the driver uses
//! ([`crate::replay::Instance`]) and reports each step. Coverage says which
//! nodes and flows the scenarios reached. The format is documented in
//! `docs/testing.md`.

pub mod coverage;
mod describe;
mod expect;
pub mod junit;
mod read;
pub mod report;
mod run;
mod steps;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::activity;
use crate::definition::{Definition, NodeIx, VarIx};
use crate::schema::{yaml::Pos, Diagnostic};

pub use coverage::Coverage;
pub use report::{Failure, Outcome, ScenarioReport, StepReport, SuiteReport};
pub use run::run;

/// A scenario file, loaded and resolved against its schema.
#[derive(Clone, Debug)]
pub struct Suite {
    /// The scenario file, as named.
    pub file: String,
    /// The schema file.
    pub schema_file: PathBuf,
    /// The compiled schema.
    pub def: Definition,
    /// The scenarios, in file order.
    pub scenarios: Vec<Scenario>,
}

/// One scenario: a name and its steps.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Its name.
    pub name: String,
    /// Where it is written.
    pub pos: Pos,
    /// The virtual clock at its start, ms since the Unix epoch.
    pub now_ms: i64,
    /// The seed of the random values scripts draw.
    pub seed: u64,
    /// Its steps.
    pub steps: Vec<Step>,
}

/// One step of a scenario.
#[derive(Clone, Debug)]
pub struct Step {
    /// Where it is written.
    pub pos: Pos,
    /// What it does or checks.
    pub kind: StepKind,
}

/// What a step does or checks.
#[derive(Clone, Debug, PartialEq)]
pub enum StepKind {
    /// Start the instance.
    Start {
        /// The start variables.
        vars: Vec<(VarIx, Value)>,
        /// Who starts it.
        initiator: Option<String>,
    },
    /// Complete the task (or signing) waiting at a node.
    Complete {
        /// The node.
        node: NodeIx,
        /// The form data.
        data: Vec<(VarIx, Value)>,
        /// Refuse the signing.
        reject: bool,
    },
    /// Send an event; kept until a wait takes it when none waits yet.
    Send {
        /// Its kind.
        kind: String,
        /// Its correlation key.
        key: String,
        /// Its payload.
        payload: Value,
    },
    /// Move the virtual clock, firing timers, timeouts and retries as they
    /// fall due.
    Advance {
        /// How far.
        by: Duration,
    },
    /// Finish the activity call of a node (`signature_issuing_request`).
    Activity {
        /// The node.
        node: NodeIx,
        /// Its output or its failure.
        result: Result<Value, activity::Error>,
    },
    /// An operator sets variables and retries the incidents.
    Retry {
        /// The variables to set.
        vars: Vec<(VarIx, Value)>,
    },
    /// An operator cancels the instance.
    Cancel,
    /// A token waits at a node.
    ExpectWait {
        /// The node.
        node: NodeIx,
        /// What it waits for: task, sign, timer, event, call.
        wait: Option<String>,
        /// The task's assignee.
        assignee: Option<String>,
        /// The event's correlation key.
        key: Option<String>,
    },
    /// An activity call was made from a node.
    ExpectCall {
        /// The node.
        node: NodeIx,
        /// What its input contains.
        input: Option<Value>,
    },
    /// Variables hold these values (null: unset).
    ExpectVars {
        /// The variables.
        vars: Vec<(VarIx, Value)>,
    },
    /// The instance completed.
    ExpectEnd {
        /// At this end node (the last one reached).
        at: Option<NodeIx>,
        /// With this outcome (`Some(None)`: with none).
        outcome: Option<Option<String>>,
    },
    /// A token stopped on an incident at a node.
    ExpectIncident {
        /// The node.
        node: NodeIx,
        /// Words the incident's message contains.
        message: Option<String>,
    },
}

/// A scenario file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file cannot be read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The scenario file or its schema has problems; each is listed.
    #[error("{} has {} problem(s)", .file, .problems.len())]
    Invalid {
        /// The file with the problems.
        file: String,
        /// Every problem found.
        problems: Vec<Diagnostic>,
    },
}

/// The clock a scenario starts at unless it says otherwise:
/// 2030-01-07T09:00:00Z, a Monday morning.
pub const DEFAULT_NOW_MS: i64 = 1_894_006_800_000;

/// Reads the scenario file at `path` and its schema, resolving every step.
pub fn load(path: &Path) -> Result<Suite, Error> {
    let file = path.display().to_string();
    let source = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: file.clone(),
        source,
    })?;
    read::suite(path, &file, &source)
}

/// The schema file a scenario file tests when it names none:
/// `NAME.test.yaml` tests `NAME.yaml`.
pub fn default_schema(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let stem = name
        .strip_suffix(".test.yaml")
        .or_else(|| name.strip_suffix(".test.yml"))?;
    Some(path.with_file_name(format!("{stem}.yaml")))
}
