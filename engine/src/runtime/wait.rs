//! Node kinds that wait: task, sign, timer, receive, and the signature
//! kinds (`signature_issuing_request` calls an activity,
//! `expect_signature_issuing` waits for the issuance event).

use serde_json::{json, Value};

use super::step::{later, Run};
use super::{Effect, JobKind, Wait, ISSUANCE_EVENT};
use crate::definition::{Assignee, NodeIx, NodeKind, TimerWait, VarIx};
use crate::expr::Expr;
use crate::history::Record;

/// What a waiting node registers.
struct Begin {
    wait: Wait,
    effect: Effect,
    record_due: Option<i64>,
    record_key: Option<String>,
    record_assignee: Option<String>,
}

impl Begin {
    fn plain(wait: Wait, effect: Effect) -> Self {
        Self {
            wait,
            effect,
            record_due: None,
            record_key: None,
            record_assignee: None,
        }
    }
}

impl Run<'_, '_> {
    /// Token `id` reached a waiting node: register what it waits for, and its
    /// timeout if the node has one.
    pub(super) fn begin_wait(&mut self, id: u64) {
        let at = self
            .state
            .token(id)
            .map(|token| token.node)
            .expect("a ready token exists");
        let begin = match self.prepare(id, at) {
            Ok(begin) => begin,
            Err(message) => return self.fail(id, message),
        };
        self.record(Record::Waiting {
            node: self.node_id(at),
            token: id,
            wait: begin.wait.name().to_owned(),
            due_ms: begin.record_due,
            key: begin.record_key,
            assignee: begin.record_assignee,
        });
        self.token_mut(id).wait = begin.wait;
        self.effect(begin.effect);
        if let Some(timeout) = self.node(at).timeout {
            self.token_mut(id).timeout = true;
            self.effect(Effect::Schedule {
                token: id,
                node: at,
                job: JobKind::Timeout,
                due_ms: later(self.now_ms(), timeout),
            });
        }
    }

    fn prepare(&self, id: u64, at: NodeIx) -> Result<Begin, String> {
        let node = self.node(at);
        match &node.kind {
            NodeKind::Task { assignee, .. } => self.task(id, at, assignee, Wait::Task),
            NodeKind::Sign { signer, .. } => self.task(id, at, signer, Wait::Sign),
            NodeKind::Timer { wait, .. } => {
                let due_ms = self.due(id, wait)?;
                let effect = Effect::Schedule {
                    token: id,
                    node: at,
                    job: JobKind::Timer,
                    due_ms,
                };
                Ok(Begin {
                    record_due: Some(due_ms),
                    ..Begin::plain(Wait::Timer, effect)
                })
            }
            NodeKind::Receive { event, key, .. } => {
                let key = self.key(id, key)?;
                Ok(self.subscribe(id, at, event, key))
            }
            NodeKind::ExpectSignatureIssuing { request, .. } => {
                let key = self.request_key(*request)?;
                Ok(self.subscribe(id, at, ISSUANCE_EVENT, key))
            }
            NodeKind::SignatureIssuingRequest {
                service, fields, ..
            } => {
                let fields: serde_json::Map<String, Value> = fields
                    .iter()
                    .map(|(name, ix)| (name.clone(), self.state.vars[*ix].clone()))
                    .collect();
                let effect = Effect::Call {
                    token: id,
                    node: at,
                    kind: node.kind.name().to_owned(),
                    input: json!({ "service": service, "fields": fields }),
                };
                Ok(Begin::plain(Wait::Call, effect))
            }
            other => Err(format!("node kind `{}` does not wait", other.name())),
        }
    }

    fn task(&self, id: u64, at: NodeIx, assignee: &Assignee, wait: Wait) -> Result<Begin, String> {
        let assignee = self.assignee(assignee)?;
        let effect = Effect::Task {
            token: id,
            node: at,
            assignee: assignee.clone(),
        };
        Ok(Begin {
            record_assignee: assignee,
            ..Begin::plain(wait, effect)
        })
    }

    fn subscribe(&self, id: u64, at: NodeIx, kind: &str, key: String) -> Begin {
        Begin {
            wait: Wait::Event {
                kind: kind.to_owned(),
                key: key.clone(),
            },
            effect: Effect::Subscribe {
                token: id,
                node: at,
                kind: kind.to_owned(),
                key: key.clone(),
            },
            record_due: None,
            record_key: Some(key),
            record_assignee: None,
        }
    }

    fn assignee(&self, assignee: &Assignee) -> Result<Option<String>, String> {
        match assignee {
            Assignee::Initiator => Ok(self.state.initiator.clone()),
            Assignee::Login(login) => Ok(Some(login.clone())),
            Assignee::Variable(ix) => match &self.state.vars[*ix] {
                Value::String(login) => Ok(Some(login.clone())),
                Value::Null => Err(format!(
                    "the assignee variable `{}` has no value",
                    self.machine.def.variables[*ix].name
                )),
                other => Err(format!(
                    "the assignee variable `{}` holds {other}, not a login",
                    self.machine.def.variables[*ix].name
                )),
            },
        }
    }

    fn due(&self, id: u64, wait: &TimerWait) -> Result<i64, String> {
        match wait {
            TimerWait::Duration(duration) => Ok(later(self.now_ms(), *duration)),
            TimerWait::Until(expr) => {
                let value = self.eval(id, expr)?;
                parse_moment(&value)
                    .ok_or_else(|| format!("`until` gave {value}, not a datetime or a date"))
            }
        }
    }

    fn key(&self, id: u64, expr: &Expr) -> Result<String, String> {
        match self.eval(id, expr)? {
            Value::String(key) => Ok(key),
            Value::Number(number) => Ok(number.to_string()),
            Value::Bool(flag) => Ok(flag.to_string()),
            other => Err(format!(
                "the correlation key is {other}, not a text or a number"
            )),
        }
    }

    fn request_key(&self, request: VarIx) -> Result<String, String> {
        match &self.state.vars[request] {
            Value::String(key) => Ok(key.clone()),
            Value::Number(number) => Ok(number.to_string()),
            other => Err(format!(
                "the request variable `{}` holds {other}, not a request id",
                self.machine.def.variables[request].name
            )),
        }
    }

    fn eval(&self, id: u64, expr: &Expr) -> Result<Value, String> {
        let env = self.env_for(id);
        self.machine
            .evaluator
            .eval_value(expr, self.machine.def, &self.state.vars, &env)
            .map_err(|error| format!("expression failed: {error}"))
    }
}

/// Milliseconds since the epoch of an RFC 3339 datetime or a date (midnight
/// UTC).
fn parse_moment(value: &Value) -> Option<i64> {
    let text = value.as_str()?;
    if let Ok(moment) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(moment.timestamp_millis());
    }
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}
