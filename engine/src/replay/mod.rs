//! Replay: feed an instance's recorded inputs through a schema again, in
//! memory, on a virtual clock, and compare every decision.
//!
//! A history (read from an export, see [`mod@file`]) is a list of steps: one
//! input record (start, task completed, event, timer, timeout, retry,
//! activity outcome, operator action) followed by the decisions the runtime
//! made with it. [`replay`] applies each input with the clock and seed it was
//! recorded with, through the same pure core the driver uses
//! ([`crate::runtime::Machine`]), and compares the decisions it makes with
//! the recorded ones. The first difference is a [`Divergence`]: the step, the
//! node, what was recorded and what the schema does now, and the variables
//! that differ. An input that can no longer be applied (its node is gone, the
//! token waits elsewhere, a variable was renamed, a timer is not due yet) is
//! a divergence at its step.
//!
//! When the schema under test is not the one the instance ran on, the
//! recorded schema (carried by the export) is replayed beside it as the
//! reference: it gives the recorded variables and the recorded due times of
//! timers and timeouts.

mod check;
pub mod file;
pub mod instance;
pub mod words;

use std::fmt;

use serde_json::Value;

use crate::definition::Definition;
use crate::expr::Evaluator;
use crate::history::Record;
use crate::runtime::Machine;
use crate::schema::{self, Diagnostic};

pub use file::{Header, History};
pub use instance::Instance;

/// The outcome of replaying one history.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The export file.
    pub file: String,
    /// The line of the history's header.
    pub line: usize,
    /// The instance.
    pub instance: String,
    /// What it was replayed against, such as `approve version 2 (approve.yaml)`.
    pub against: String,
    /// The number of steps (inputs) in the history.
    pub n_steps: usize,
    /// The number of decisions compared.
    pub n_decisions: usize,
    /// The first divergence, if the path differs.
    pub divergence: Option<Divergence>,
}

/// Where a replay left the recorded path.
#[derive(Clone, Debug, PartialEq)]
pub struct Divergence {
    /// The step, from 1: the n-th input of the history.
    pub step: usize,
    /// The line of the export where the differing record (or the input) is.
    pub line: usize,
    /// The step's input, in words.
    pub input: String,
    /// The node where the paths part.
    pub node: Option<String>,
    /// What the history recorded there, in words.
    pub recorded: String,
    /// What the schema does instead, in words.
    pub replayed: String,
    /// The variables whose values differ after the step, when the recorded
    /// ones are known (the schema under test is not the recorded one).
    pub vars: Option<Vec<VarDiff>>,
}

/// A variable whose value differs between the recorded and the replayed run.
#[derive(Clone, Debug, PartialEq)]
pub struct VarDiff {
    /// The variable.
    pub name: String,
    /// The recorded value; `None` when the recorded schema does not declare it.
    pub recorded: Option<Value>,
    /// The replayed value; `None` when the schema under test does not declare it.
    pub replayed: Option<Value>,
}

/// A history cannot be replayed at all.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The schema is of another process.
    #[error(
        "{file}:{line}: the history is of process `{history}`, the schema of `{schema}`; \
         give the schema of `{history}` with --schema"
    )]
    Process {
        /// The export file.
        file: String,
        /// The header's line.
        line: usize,
        /// The history's process.
        history: String,
        /// The schema's process.
        schema: String,
    },
    /// The schema carried by the export does not compile (any more).
    #[error("{file}:{line}: the recorded schema does not compile: {}", first(.problems))]
    Recorded {
        /// The export file.
        file: String,
        /// The header's line.
        line: usize,
        /// The problems.
        problems: Vec<Diagnostic>,
    },
}

fn first(problems: &[Diagnostic]) -> String {
    problems
        .first()
        .map_or_else(|| "no detail".to_owned(), ToString::to_string)
}

/// Compiles the schema the history ran on, as carried by its export.
pub fn recorded_definition(history: &History) -> Result<Definition, Error> {
    let name = format!(
        "{} version {} (recorded)",
        history.header.process, history.header.version
    );
    schema::compile(&name, &history.header.schema).map_err(|problems| Error::Recorded {
        file: history.file.clone(),
        line: history.line,
        problems,
    })
}

/// Replays `history` against `candidate` (or, when `None`, against the
/// schema it ran on).
pub fn replay(
    history: &History,
    candidate: Option<(&Definition, &str)>,
    evaluator: &Evaluator,
) -> Result<Report, Error> {
    let recorded = recorded_definition(history)?;
    let (def, label) = match candidate {
        Some((def, label)) => (def, label.to_owned()),
        None => (&recorded, "the recorded schema".to_owned()),
    };
    if def.process != history.header.process {
        return Err(Error::Process {
            file: history.file.clone(),
            line: history.line,
            history: history.header.process.clone(),
            schema: def.process.clone(),
        });
    }
    let reference = (def.digest != recorded.digest).then_some(&recorded);
    let steps = check::steps(&history.records);
    let mut run = check::Run::new(
        Machine::new(def, evaluator),
        reference.map(|def| Machine::new(def, evaluator)),
    );
    let mut n_decisions = 0;
    let mut divergence = None;
    for (ix, step) in steps.iter().enumerate() {
        if let Err(found) = run.step(ix + 1, step) {
            divergence = Some(*found);
            break;
        }
        n_decisions += step.decisions.len();
    }
    Ok(Report {
        file: history.file.clone(),
        line: history.line,
        instance: history.header.instance.clone(),
        against: format!("{} version {} ({label})", def.process, def.version),
        n_steps: steps.len(),
        n_decisions,
        divergence,
    })
}

/// The node a record is about, if any.
pub fn node_of(record: &Record) -> Option<&str> {
    match record {
        Record::TaskCompleted { node, .. }
        | Record::EventReceived { node, .. }
        | Record::TimerFired { node, .. }
        | Record::TimedOut { node, .. }
        | Record::RetryDue { node, .. }
        | Record::ActivityDone { node, .. }
        | Record::Entered { node, .. }
        | Record::Branch { node, .. }
        | Record::Script { node, .. }
        | Record::Joined { node, .. }
        | Record::Waiting { node, .. }
        | Record::Failed { node, .. }
        | Record::Incident { node, .. }
        | Record::Ended { node, .. } => Some(node),
        Record::Started { .. }
        | Record::Resolved { .. }
        | Record::Cancelled { .. }
        | Record::Completed { .. } => None,
    }
}

impl Report {
    /// Whether the replay took the recorded path.
    pub fn is_same(&self) -> bool {
        self.divergence.is_none()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(divergence) = &self.divergence else {
            return write!(
                f,
                "{}: instance {} took the recorded path against {}: {}, {}",
                self.file,
                self.instance,
                self.against,
                words::count(self.n_steps, "step"),
                words::count(self.n_decisions, "decision")
            );
        };
        writeln!(
            f,
            "{}:{}: instance {} diverged against {} at step {} of {}",
            self.file, divergence.line, self.instance, self.against, divergence.step, self.n_steps
        )?;
        write!(f, "{divergence}")
    }
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "  step {}: {}", self.step, self.input)?;
        if let Some(node) = &self.node {
            writeln!(f, "  at node `{node}`")?;
        }
        writeln!(f, "  recorded: {}", self.recorded)?;
        writeln!(f, "  replay:   {}", self.replayed)?;
        match &self.vars {
            None => write!(
                f,
                "  variables: not compared (replayed against the recorded schema)"
            ),
            Some(vars) if vars.is_empty() => write!(f, "  variables that differ: none"),
            Some(vars) => {
                write!(f, "  variables that differ:")?;
                for var in vars {
                    write!(
                        f,
                        "\n    {}: recorded {}, replay {}",
                        var.name,
                        words::value(var.recorded.as_ref()),
                        words::value(var.replayed.as_ref())
                    )?;
                }
                Ok(())
            }
        }
    }
}
