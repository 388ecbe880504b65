//! One step of a replay: apply the recorded input to the schema under test
//! (and to the recorded schema as the reference), check its timing, and
//! compare the decisions.

use serde_json::Value;

use super::instance::{Instance, Job};
use super::{node_of, words, Divergence, VarDiff};
use crate::activity;
use crate::definition::{Definition, VarIx};
use crate::history::{Record, Vars};
use crate::runtime::{Input, JobKind, Machine, Wait};

/// A recorded input and the decisions made with it, with their lines.
pub(super) struct Step<'h> {
    pub(super) line: usize,
    pub(super) input: &'h Record,
    pub(super) decisions: Vec<(usize, &'h Record)>,
}

/// Splits records into steps: each input record begins one.
pub(super) fn steps(records: &[(usize, Record)]) -> Vec<Step<'_>> {
    let mut steps: Vec<Step<'_>> = Vec::new();
    for (line, record) in records {
        match steps.last_mut() {
            Some(step) if !record.is_input() => step.decisions.push((*line, record)),
            _ => steps.push(Step {
                line: *line,
                input: record,
                decisions: Vec::new(),
            }),
        }
    }
    steps
}

/// The instance under test and, when the schema changed, the reference.
pub(super) struct Run<'d> {
    candidate: Instance<'d>,
    reference: Option<Instance<'d>>,
}

impl<'d> Run<'d> {
    pub(super) fn new(candidate: Machine<'d>, reference: Option<Machine<'d>>) -> Self {
        Self {
            candidate: Instance::new(candidate, 0),
            reference: reference.map(|machine| Instance::new(machine, 0)),
        }
    }

    /// Replays step number `n`; `Err` is where it left the recorded path.
    pub(super) fn step(&mut self, n: usize, step: &Step<'_>) -> Result<(), Box<Divergence>> {
        let (now_ms, seed) = clock_of(step.input);
        self.candidate.set_now(now_ms);
        let refused = |node: Option<&str>, replayed: String| Divergence {
            step: n,
            line: step.line,
            input: words::record(step.input),
            node: node.map(str::to_owned),
            recorded: words::record(step.input),
            replayed,
            vars: None,
        };
        if let Some((node, why)) = self.timing(step.input, now_ms) {
            return Err(Box::new(self.with_vars(refused(Some(&node), why))));
        }
        let renamed = self.reference.as_ref().map(|reference| reference.def());
        let applied = to_input(&self.candidate, step.input, renamed).and_then(|input| {
            self.candidate
                .apply(input, seed)
                .map_err(|error| format!("the schema refuses the input: {error}"))
        });
        let applied =
            applied.map_err(|why| Box::new(self.with_vars(refused(node_of(step.input), why))))?;
        self.advance_reference(step, now_ms, seed);
        let recorded: Vec<(usize, &Record)> = std::iter::once((step.line, step.input))
            .chain(step.decisions.iter().copied())
            .collect();
        match first_difference(&recorded, &applied.records) {
            None => Ok(()),
            Some(found) => Err(Box::new(self.with_vars(Divergence {
                step: n,
                input: words::record(step.input),
                ..found
            }))),
        }
    }

    /// Applies the step to the reference; a reference that cannot follow is
    /// dropped (its variables are then unknown).
    fn advance_reference(&mut self, step: &Step<'_>, now_ms: i64, seed: u64) {
        let Some(reference) = &mut self.reference else {
            return;
        };
        reference.set_now(now_ms);
        let applied = to_input(reference, step.input, None)
            .ok()
            .and_then(|input| reference.apply(input, seed).ok());
        if applied.is_none() {
            tracing::warn!(
                line = step.line,
                "the recorded schema does not follow its own history"
            );
            self.reference = None;
        }
    }

    /// Checks that the jobs of the schema under test allow the input at
    /// `now_ms`: a timer, timeout or retry that fires must be due, and no
    /// other job may have become due earlier than it was recorded to be.
    fn timing(&self, input: &Record, now_ms: i64) -> Option<(String, String)> {
        if let Some(found) = self.fired_early(input, now_ms) {
            return Some(found);
        }
        let reference = self.reference.as_ref()?;
        let fired = fired_job(input);
        for job in self.candidate.jobs() {
            if job.due_ms >= now_ms || fired == Some((job.token, job.kind)) {
                continue;
            }
            let was = match reference.job(job.token, job.kind) {
                Some(recorded) if recorded.due_ms < now_ms => continue,
                Some(recorded) => format!("it was due at {}", words::moment(recorded.due_ms)),
                None if reference.state().token(job.token).is_some() => "it had none".to_owned(),
                None => continue,
            };
            let node = self.candidate.node_id(job.node).to_owned();
            let why = format!(
                "{} in this schema, before this input at {} (in the recorded schema {was})",
                job_due(job, &node),
                words::moment(now_ms)
            );
            return Some((node, why));
        }
        None
    }

    /// A recorded timer, timeout or retry that the schema under test would
    /// not have fired yet (or at all).
    fn fired_early(&self, input: &Record, now_ms: i64) -> Option<(String, String)> {
        let (token, kind) = fired_job(input)?;
        let node = node_of(input).unwrap_or("?").to_owned();
        let Some(job) = self.candidate.job(token, kind) else {
            let why = match kind {
                JobKind::Timeout => format!("`{node}` has no timeout in this schema"),
                JobKind::Retry => format!("`{node}` is not tried again in this schema"),
                JobKind::Timer => format!("no timer waits at `{node}` in this schema"),
            };
            return Some((node, why));
        };
        (job.due_ms > now_ms).then(|| {
            let why = format!(
                "{} in this schema, later than recorded",
                job_due(job, &node)
            );
            (node, why)
        })
    }

    fn with_vars(&self, divergence: Divergence) -> Divergence {
        let Some(reference) = &self.reference else {
            return divergence;
        };
        Divergence {
            vars: Some(var_diffs(&reference.vars(), &self.candidate.vars())),
            ..divergence
        }
    }
}

/// `the timer at `x` is due at T`, `the timeout of `x` runs out at T`, ...
fn job_due(job: &Job, node: &str) -> String {
    let at = words::moment(job.due_ms);
    match job.kind {
        JobKind::Timer => format!("the timer at `{node}` is due at {at}"),
        JobKind::Timeout => format!("the timeout of `{node}` runs out at {at}"),
        JobKind::Retry => format!("the retry of `{node}` is due at {at}"),
    }
}

/// The job a timer, timeout or retry input applies.
fn fired_job(input: &Record) -> Option<(u64, JobKind)> {
    match input {
        Record::TimerFired { token, .. } => Some((*token, JobKind::Timer)),
        Record::TimedOut { token, .. } => Some((*token, JobKind::Timeout)),
        Record::RetryDue { token, .. } => Some((*token, JobKind::Retry)),
        _ => None,
    }
}

/// The clock and seed an input record was applied with.
fn clock_of(input: &Record) -> (i64, u64) {
    match input {
        Record::Started { now_ms, seed, .. }
        | Record::TaskCompleted { now_ms, seed, .. }
        | Record::EventReceived { now_ms, seed, .. }
        | Record::TimerFired { now_ms, seed, .. }
        | Record::TimedOut { now_ms, seed, .. }
        | Record::RetryDue { now_ms, seed, .. }
        | Record::ActivityDone { now_ms, seed, .. }
        | Record::Resolved { now_ms, seed, .. }
        | Record::Cancelled { now_ms, seed } => (*now_ms, *seed),
        _ => (0, 0),
    }
}

/// The runtime input a recorded input record stands for, in `instance`'s
/// schema; `Err` says why it cannot be applied there. Variables missing from
/// the schema are matched with those new since the `recorded` schema.
fn to_input(
    instance: &Instance<'_>,
    record: &Record,
    recorded: Option<&Definition>,
) -> Result<Input, String> {
    let def = instance.def();
    let by_index = |vars: &Vars, role: &str| by_index(def, recorded, vars, role);
    Ok(match record {
        Record::Started {
            vars, initiator, ..
        } => Input::Start {
            vars: by_index(vars, "given at start")?,
            initiator: initiator.clone(),
        },
        Record::TaskCompleted {
            node,
            token,
            data,
            rejected,
            ..
        } => {
            waiting(instance, node, *token, |wait| {
                matches!(wait, Wait::Task | Wait::Sign)
            })?;
            Input::Complete {
                token: *token,
                data: by_index(data, &format!("filled at `{node}`"))?,
                rejected: *rejected,
            }
        }
        Record::EventReceived { .. } => event(instance, record)?,
        Record::TimerFired { .. } | Record::TimedOut { .. } | Record::RetryDue { .. } => {
            job(instance, record)?
        }
        Record::ActivityDone { .. } => activity(instance, record)?,
        Record::Resolved { vars, .. } => Input::Resolve {
            vars: by_index(vars, "set by the operator")?,
        },
        Record::Cancelled { .. } => Input::Cancel,
        decision => return Err(format!("`{}` is not an input", decision.name())),
    })
}

/// The input of a recorded activity outcome.
fn activity(instance: &Instance<'_>, record: &Record) -> Result<Input, String> {
    let Record::ActivityDone {
        node,
        token,
        output,
        error,
        ..
    } = record
    else {
        return Err(format!("`{}` is not an activity outcome", record.name()));
    };
    waiting(instance, node, *token, |wait| *wait == Wait::Call)?;
    let result = match (output, error) {
        (_, Some(error)) => Err(activity_error(error)),
        (output, None) => Ok(output.clone().unwrap_or(Value::Null)),
    };
    Ok(Input::Activity {
        token: *token,
        result,
    })
}

/// The input of a recorded timer firing, timeout or retry.
fn job(instance: &Instance<'_>, record: &Record) -> Result<Input, String> {
    let (node, token, input) = match record {
        Record::TimerFired { node, token, .. } => (node, *token, Input::Timer { token: *token }),
        Record::TimedOut { node, token, .. } => (node, *token, Input::Timeout { token: *token }),
        Record::RetryDue { node, token, .. } => (node, *token, Input::RetryDue { token: *token }),
        other => return Err(format!("`{}` is not a job", other.name())),
    };
    let accepts = |wait: &Wait| match input {
        Input::Timer { .. } => *wait == Wait::Timer,
        Input::RetryDue { .. } => *wait == Wait::Retry,
        _ => *wait != Wait::Ready,
    };
    waiting(instance, node, token, accepts)?;
    Ok(input)
}

fn event(instance: &Instance<'_>, record: &Record) -> Result<Input, String> {
    let Record::EventReceived {
        node,
        token,
        event_id,
        kind,
        key,
        payload,
        ..
    } = record
    else {
        return Err("not an event".into());
    };
    let wait = waiting(instance, node, *token, |wait| {
        matches!(wait, Wait::Event { .. })
    })?;
    if let Wait::Event {
        kind: waits_kind,
        key: waits_key,
    } = wait
    {
        if waits_kind != kind {
            return Err(format!(
                "`{node}` waits for event `{waits_kind}` in this schema, \
                 not for the recorded `{kind}`"
            ));
        }
        if waits_key != key {
            return Err(format!(
                "`{node}` waits for key `{waits_key}` in this schema, \
                 not for the recorded key `{key}`"
            ));
        }
    }
    Ok(Input::Event {
        token: *token,
        id: event_id.clone(),
        kind: kind.clone(),
        key: key.clone(),
        payload: payload.clone(),
    })
}

/// The wait of `token` on node `node`, when it waits as `accepts` says.
fn waiting<'i>(
    instance: &'i Instance<'_>,
    node: &str,
    token: u64,
    accepts: impl Fn(&Wait) -> bool,
) -> Result<&'i Wait, String> {
    let Some(ix) = instance.def().node(node) else {
        return Err(format!(
            "node `{node}` is not in this schema (removed or renamed)"
        ));
    };
    let found = instance
        .state()
        .token(token)
        .filter(|found| found.node == ix && accepts(&found.wait));
    match found {
        Some(found) => Ok(&found.wait),
        None if instance.state().tokens.is_empty() => Err(format!(
            "nothing waits at `{node}`: the instance has no tokens left"
        )),
        None => Err(format!(
            "nothing waits at `{node}` for this input; the instance stands at {}",
            instance.whereabouts()
        )),
    }
}

/// Variables by name to variables by index of `def`.
fn by_index(
    def: &Definition,
    recorded: Option<&Definition>,
    vars: &Vars,
    role: &str,
) -> Result<Vec<(VarIx, Value)>, String> {
    vars.iter()
        .map(|(name, value)| match def.var(name) {
            Some(ix) => Ok((ix, value.clone())),
            None => Err(format!(
                "variable `{name}` {role} is not declared in this schema{}",
                renamed(def, recorded, name)
            )),
        })
        .collect()
}

/// ` (renamed to `x`?)` for the variable closest to `name` among those the
/// recorded schema did not declare, if one is close.
fn renamed(def: &Definition, recorded: Option<&Definition>, name: &str) -> String {
    let is_new = |var: &&crate::definition::Variable| {
        recorded.is_none_or(|recorded| recorded.var(&var.name).is_none())
    };
    def.variables
        .iter()
        .filter(is_new)
        .map(|var| (strsim::jaro_winkler(&var.name, name), &var.name))
        .filter(|(score, _)| *score > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, found)| format!(" (renamed to `{found}`?)"))
        .unwrap_or_default()
}

/// An activity error as recorded (`CODE: message`) made whole again.
fn activity_error(text: &str) -> activity::Error {
    let (code, message) = text.split_once(": ").unwrap_or(("FAILED", text));
    activity::Error::Failed {
        code: code.to_owned(),
        message: message.to_owned(),
    }
}

/// The first recorded record the replay does not repeat.
fn first_difference(recorded: &[(usize, &Record)], replayed: &[Record]) -> Option<Divergence> {
    let n = recorded.len().max(replayed.len());
    let last_line = recorded.last().map_or(0, |(line, _)| *line);
    (0..n).find_map(|ix| {
        let left = recorded.get(ix);
        let right = replayed.get(ix);
        if let (Some((_, left)), Some(right)) = (left, right) {
            if same(left, right) {
                return None;
            }
        }
        let node = parting(left.map(|(_, record)| *record), right);
        Some(Divergence {
            step: 0,
            line: left.map_or(last_line, |(line, _)| *line),
            input: String::new(),
            node: node.map(str::to_owned),
            recorded: left.map_or_else(
                || "nothing more happened in this step".to_owned(),
                |(_, record)| words::record(record),
            ),
            replayed: right.map_or_else(
                || "nothing more happens in this step".to_owned(),
                words::record,
            ),
            vars: None,
        })
    })
}

/// The node where the paths part: the node a token came from when one side
/// enters a node the other does not, else the node the records are about.
fn parting<'r>(recorded: Option<&'r Record>, replayed: Option<&'r Record>) -> Option<&'r str> {
    let from = |record: Option<&'r Record>| match record {
        Some(Record::Entered {
            from: Some(from), ..
        }) => Some(from.as_str()),
        _ => None,
    };
    from(recorded)
        .or_else(|| from(replayed))
        .or_else(|| recorded.and_then(node_of))
        .or_else(|| replayed.and_then(node_of))
}

/// Whether a replayed record repeats a recorded one. The schema version,
/// the index of a gateway branch (only its target matters) and the due time
/// of a timer (checked when it fires) may differ.
fn same(recorded: &Record, replayed: &Record) -> bool {
    normalized(recorded) == normalized(replayed)
}

fn normalized(record: &Record) -> Record {
    let mut record = record.clone();
    match &mut record {
        Record::Started { version, .. } => *version = 0,
        Record::Branch { branch, .. } => *branch = None,
        Record::Waiting { due_ms, .. } => *due_ms = None,
        _ => {}
    }
    record
}

/// The variables that differ, by name; a variable declared on one side only
/// counts when the other side has a value for it.
fn var_diffs(recorded: &Vars, replayed: &Vars) -> Vec<VarDiff> {
    let names = recorded
        .keys()
        .chain(replayed.keys().filter(|name| !recorded.contains_key(*name)));
    names
        .filter_map(|name| {
            let left = recorded.get(name);
            let right = replayed.get(name);
            let differs = match (left, right) {
                (Some(a), Some(b)) => a != b,
                (Some(value), None) | (None, Some(value)) => !value.is_null(),
                (None, None) => false,
            };
            differs.then(|| VarDiff {
                name: name.clone(),
                recorded: left.cloned(),
                replayed: right.cloned(),
            })
        })
        .collect()
}
