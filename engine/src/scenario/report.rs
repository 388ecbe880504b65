//! What a scenario run reports: each step passed, failed or skipped, and
//! for a failure what was expected and what happened, in words.

use std::fmt;
use std::time::Duration;

use super::coverage::Coverage;
use crate::schema::yaml::Pos;

/// The report of one scenario file.
#[derive(Clone, Debug)]
pub struct SuiteReport {
    /// The scenario file.
    pub file: String,
    /// The schema file it tests.
    pub schema_file: String,
    /// One report per scenario.
    pub scenarios: Vec<ScenarioReport>,
    /// The schema's nodes and flows the scenarios reached.
    pub coverage: Coverage,
}

/// The report of one scenario.
#[derive(Clone, Debug)]
pub struct ScenarioReport {
    /// Its name.
    pub name: String,
    /// Where it is written.
    pub pos: Pos,
    /// One report per step.
    pub steps: Vec<StepReport>,
    /// How long it ran.
    pub elapsed: Duration,
}

/// The report of one step.
#[derive(Clone, Debug)]
pub struct StepReport {
    /// Its number, from 1.
    pub n: usize,
    /// Where it is written.
    pub pos: Pos,
    /// The step in words.
    pub text: String,
    /// How it went.
    pub outcome: Outcome,
}

/// How a step went.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// It did what it says.
    Passed,
    /// It did not.
    Failed(Failure),
    /// An earlier step failed.
    Skipped,
}

/// Why a step failed.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    /// What the step expected.
    pub expected: String,
    /// What happened instead.
    pub happened: String,
    /// What the last action before it led to.
    pub after: Option<String>,
}

impl ScenarioReport {
    /// The failed step and its failure, if one failed.
    pub fn failure(&self) -> Option<(&StepReport, &Failure)> {
        self.steps.iter().find_map(|step| match &step.outcome {
            Outcome::Failed(failure) => Some((step, failure)),
            _ => None,
        })
    }

    /// Whether every step passed.
    pub fn passed(&self) -> bool {
        self.failure().is_none()
    }
}

impl SuiteReport {
    /// How many scenarios passed.
    pub fn n_passed(&self) -> usize {
        self.scenarios.iter().filter(|s| s.passed()).count()
    }

    /// How many scenarios failed.
    pub fn n_failed(&self) -> usize {
        self.scenarios.len() - self.n_passed()
    }

    /// The failure of one scenario in words, naming the file and line.
    pub fn failure_text(&self, scenario: &ScenarioReport) -> Option<String> {
        let (step, failure) = scenario.failure()?;
        let mut text = format!(
            "step {} ({}) failed at {}:{}:{}\nexpected: {}\nhappened: {}",
            step.n,
            step.text,
            self.file,
            step.pos.line,
            step.pos.column,
            failure.expected,
            failure.happened
        );
        if let Some(after) = &failure.after {
            text.push('\n');
            text.push_str(after);
        }
        Some(text)
    }
}

impl fmt::Display for SuiteReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} (schema {})", self.file, self.schema_file)?;
        for scenario in &self.scenarios {
            match scenario.failure() {
                None => writeln!(
                    f,
                    "  scenario `{}`: passed, {} steps",
                    scenario.name,
                    scenario.steps.len()
                )?,
                Some((step, _)) => writeln!(
                    f,
                    "  scenario `{}`: FAILED at step {}",
                    scenario.name, step.n
                )?,
            }
            for step in &scenario.steps {
                write_step(f, &self.file, step)?;
            }
        }
        Ok(())
    }
}

fn write_step(f: &mut fmt::Formatter<'_>, file: &str, step: &StepReport) -> fmt::Result {
    let mark = match step.outcome {
        Outcome::Passed => "ok",
        Outcome::Failed(_) => "FAILED",
        Outcome::Skipped => "skipped",
    };
    writeln!(f, "    {mark:<7} {:>2}  {}", step.n, step.text)?;
    if let Outcome::Failed(failure) = &step.outcome {
        let pad = " ".repeat(16);
        writeln!(f, "{pad}at {file}:{}:{}", step.pos.line, step.pos.column)?;
        writeln!(f, "{pad}expected: {}", failure.expected)?;
        writeln!(f, "{pad}happened: {}", failure.happened)?;
        if let Some(after) = &failure.after {
            writeln!(f, "{pad}{after}")?;
        }
    }
    Ok(())
}
