//! Running scenarios: each in a fresh instance in memory, step by step, on
//! a virtual clock; events sent before anything waits for them are kept and
//! delivered when a wait begins, as the inbox does.

use std::collections::VecDeque;
use std::time::Instant;

use serde_json::Value;

use super::coverage::Coverage;
use super::report::{Failure, Outcome, ScenarioReport, StepReport, SuiteReport};
use super::{describe, expect, Scenario, StepKind, Suite};
use crate::expr::Evaluator;
use crate::replay::{words, Instance};
use crate::runtime::{self, Effect, Input, Machine, Wait};

/// The most timers, timeouts and retries one `advance` fires.
pub const MAX_FIRINGS: usize = 10_000;

/// Runs every scenario of `suite` and reports each step, with the coverage
/// of the schema's nodes and flows.
pub fn run(suite: &Suite) -> SuiteReport {
    let evaluator = Evaluator::new();
    let mut coverage = Coverage::new(&suite.def, &suite.schema_file.display().to_string());
    let scenarios = suite
        .scenarios
        .iter()
        .map(|scenario| {
            let started = Instant::now();
            let machine = Machine::new(&suite.def, &evaluator);
            let mut runner = Runner::new(Instance::new(machine, scenario.now_ms), scenario);
            let steps = runner.steps(suite, scenario);
            coverage.observe(&suite.def, runner.instance.records());
            ScenarioReport {
                name: scenario.name.clone(),
                pos: scenario.pos,
                steps,
                elapsed: started.elapsed(),
            }
        })
        .collect();
    SuiteReport {
        file: suite.file.clone(),
        schema_file: suite.schema_file.display().to_string(),
        scenarios,
        coverage,
    }
}

/// An event sent before anything waited for it.
struct Kept {
    id: String,
    kind: String,
    key: String,
    payload: Value,
}

struct Runner<'d> {
    instance: Instance<'d>,
    kept: Vec<Kept>,
    seed: u64,
    n_applied: u64,
    n_sent: u64,
    /// The last action: its step number and where its records begin.
    last_action: Option<(usize, usize)>,
}

impl<'d> Runner<'d> {
    fn new(instance: Instance<'d>, scenario: &Scenario) -> Self {
        Self {
            instance,
            kept: Vec::new(),
            seed: scenario.seed,
            n_applied: 0,
            n_sent: 0,
            last_action: None,
        }
    }

    /// Runs the steps until one fails; the rest are skipped.
    fn steps(&mut self, suite: &Suite, scenario: &Scenario) -> Vec<StepReport> {
        let mut failed = false;
        let mut reports = Vec::with_capacity(scenario.steps.len());
        for (ix, step) in scenario.steps.iter().enumerate() {
            let outcome = if failed {
                Outcome::Skipped
            } else {
                match self.step(ix + 1, &step.kind) {
                    Ok(()) => Outcome::Passed,
                    Err(failure) => {
                        failed = true;
                        Outcome::Failed(failure)
                    }
                }
            };
            reports.push(StepReport {
                n: ix + 1,
                pos: step.pos,
                text: describe::step(&suite.def, &step.kind),
                outcome,
            });
        }
        reports
    }

    fn step(&mut self, n: usize, kind: &StepKind) -> Result<(), Failure> {
        let mark = self.instance.records().len();
        let result = if describe::is_expectation(kind) {
            expect::check(&self.instance, kind)
        } else {
            self.act(kind)
        };
        let failure = result.err().map(|(expected, happened)| Failure {
            expected,
            happened,
            after: self.after(),
        });
        if !describe::is_expectation(kind) {
            self.last_action = Some((n, mark));
        }
        failure.map_or(Ok(()), Err)
    }

    /// What the last action led to, in words.
    fn after(&self) -> Option<String> {
        let (n, mark) = self.last_action?;
        let records = self.instance.records().get(mark..)?;
        if records.is_empty() {
            return Some(format!("step {n} changed nothing"));
        }
        let mut said: Vec<String> = records.iter().take(12).map(words::record).collect();
        if records.len() > 12 {
            said.push(format!("and {} more", records.len() - 12));
        }
        Some(format!("step {n} led to: {}", said.join("; ")))
    }

    fn act(&mut self, kind: &StepKind) -> Result<(), (String, String)> {
        let input = match kind {
            StepKind::Start { vars, initiator } => Input::Start {
                vars: vars.clone(),
                initiator: initiator.clone(),
            },
            StepKind::Complete { node, data, reject } => {
                let token = self.waiting(*node, |wait| matches!(wait, Wait::Task | Wait::Sign));
                let Some(token) = token else {
                    let expected =
                        format!("a task waiting at {}", describe::node(self.def(), *node));
                    return Err((expected, describe::standing(&self.instance, Some(*node))));
                };
                Input::Complete {
                    token,
                    data: data.clone(),
                    rejected: *reject,
                }
            }
            StepKind::Send { kind, key, payload } => return self.send(kind, key, payload),
            StepKind::Advance { by } => return self.advance(by.as_millis()),
            StepKind::Activity { node, result } => {
                let calls = self.instance.pending_calls();
                let Some(call) = calls.iter().find(|call| call.node == *node) else {
                    let expected = format!(
                        "an activity call from {} waiting for its outcome",
                        describe::node(self.def(), *node)
                    );
                    return Err((expected, describe::standing(&self.instance, Some(*node))));
                };
                Input::Activity {
                    token: call.token,
                    result: result.clone(),
                }
            }
            StepKind::Retry { vars } => Input::Resolve { vars: vars.clone() },
            StepKind::Cancel => Input::Cancel,
            _ => return Ok(()),
        };
        self.apply(input).map_err(|error| {
            let expected = "the engine to take this step".to_owned();
            (expected, format!("the engine refused it: {error}"))
        })
    }

    fn def(&self) -> &'d crate::definition::Definition {
        self.instance.def()
    }

    /// The oldest token at `node` whose wait `accepts` takes.
    fn waiting(&self, node: usize, accepts: impl Fn(&Wait) -> bool) -> Option<u64> {
        self.instance
            .tokens_at(node)
            .find(|token| accepts(&token.wait))
            .map(|token| token.id)
    }

    fn send(&mut self, kind: &str, key: &str, payload: &Value) -> Result<(), (String, String)> {
        self.n_sent += 1;
        let kept = Kept {
            id: format!("scenario-event-{}", self.n_sent),
            kind: kind.to_owned(),
            key: key.to_owned(),
            payload: payload.clone(),
        };
        let waits =
            |wait: &Wait| matches!(wait, Wait::Event { kind: k, key: c } if k == kind && c == key);
        let token = self
            .instance
            .state()
            .tokens
            .iter()
            .find(|token| waits(&token.wait));
        let Some(token) = token.map(|token| token.id) else {
            self.kept.push(kept);
            return Ok(());
        };
        self.apply(deliver(token, kept)).map_err(|error| {
            let expected = "the waiting node to take the event".to_owned();
            (expected, format!("the engine refused it: {error}"))
        })
    }

    /// Moves the clock by `ms`, firing what falls due in order.
    fn advance(&mut self, ms: u128) -> Result<(), (String, String)> {
        let ms = i64::try_from(ms).unwrap_or(i64::MAX);
        let target = self.instance.now_ms().saturating_add(ms);
        for _ in 0..MAX_FIRINGS {
            let Some(job) = self.instance.next_due(target) else {
                self.instance.set_now(target);
                return Ok(());
            };
            self.instance
                .set_now(job.due_ms.max(self.instance.now_ms()));
            if self.apply(job.input()).is_err() {
                self.instance.drop_job(&job);
            }
        }
        let expected = "the clock to reach its target".to_owned();
        let happened = format!(
            "more than {MAX_FIRINGS} timers, timeouts and retries fell due on the way: \
             the process may loop without waiting"
        );
        Err((expected, happened))
    }

    /// Applies `input`, then delivers kept events to waits it began.
    fn apply(&mut self, input: Input) -> Result<(), runtime::Error> {
        let mut queue = VecDeque::from([input]);
        let mut first = true;
        while let Some(input) = queue.pop_front() {
            self.n_applied += 1;
            let seed = self
                .seed
                .wrapping_mul(0x9E37_79B9)
                .wrapping_add(self.n_applied);
            let applied = match self.instance.apply(input, seed) {
                Ok(applied) => applied,
                Err(error) if first => return Err(error),
                Err(_) => continue,
            };
            first = false;
            for effect in &applied.effects {
                let Effect::Subscribe {
                    token, kind, key, ..
                } = effect
                else {
                    continue;
                };
                let found = self
                    .kept
                    .iter()
                    .position(|kept| kept.kind == *kind && kept.key == *key);
                if let Some(at) = found {
                    queue.push_back(deliver(*token, self.kept.remove(at)));
                }
            }
        }
        Ok(())
    }
}

fn deliver(token: u64, kept: Kept) -> Input {
    Input::Event {
        token,
        id: kept.id,
        kind: kept.kind,
        key: kept.key,
        payload: kept.payload,
    }
}
