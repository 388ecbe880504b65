//! What each input does: start, and the handlers that resume a waiting token
//! (`on_complete`, `on_event`, `on_timer`, ...) or act on the whole instance
//! (`on_resolve`, `on_cancel`).

use serde_json::Value;

use super::step::Run;
use super::{read_issuance, Error, Input, Issuance, Status, Wait};
use crate::activity;
use crate::definition::{NodeKind, VarIx};
use crate::history::Record;

impl Run<'_, '_> {
    /// Applies the input's own change, leaving spawned tokens ready to run.
    pub(super) fn on_input(&mut self, input: Input) -> Result<(), Error> {
        let finished = match self.state.status() {
            Status::Completed if self.state.next_token > 1 => Some("completed"),
            Status::Cancelled => Some("cancelled"),
            _ => None,
        };
        if let (Some(status), false) = (finished, matches!(input, Input::Start { .. })) {
            return Err(Error::Finished(status));
        }
        match input {
            Input::Start { vars, initiator } => self.on_start(vars, initiator),
            Input::Complete {
                token,
                data,
                rejected,
            } => self.on_complete(token, data, rejected),
            Input::Event {
                token,
                id,
                kind,
                key,
                payload,
            } => self.on_event(token, id, kind, key, payload),
            Input::Timer { token } => self.on_timer(token),
            Input::Timeout { token } => self.on_timeout(token),
            Input::RetryDue { token } => self.on_retry_due(token),
            Input::Activity { token, result } => self.on_activity(token, result),
            Input::Resolve { vars } => self.on_resolve(vars),
            Input::Cancel => self.on_cancel(),
        }
    }

    fn on_start(
        &mut self,
        vars: Vec<(VarIx, Value)>,
        initiator: Option<String>,
    ) -> Result<(), Error> {
        if self.state.next_token != 1 {
            return Err(Error::Input("the instance was started already".into()));
        }
        let def = self.machine.def;
        for (ix, variable) in def.variables.iter().enumerate() {
            if let Some(default) = &variable.default {
                self.state.vars[ix] = default.clone();
            }
        }
        self.assign(&vars)?;
        if let Some(missing) = def
            .variables
            .iter()
            .enumerate()
            .find(|(ix, variable)| variable.required && self.state.vars[*ix].is_null())
        {
            return Err(Error::Input(format!(
                "variable `{}` is required: give it with --var {}=VALUE",
                missing.1.name, missing.1.name
            )));
        }
        self.state.initiator.clone_from(&initiator);
        self.record(Record::Started {
            process: def.process.clone(),
            version: def.version,
            vars: self.named(&vars),
            initiator,
            now_ms: self.now_ms(),
            seed: self.seed(),
        });
        self.spawn(def.start, None, 0);
        Ok(())
    }

    fn on_complete(
        &mut self,
        id: u64,
        data: Vec<(VarIx, Value)>,
        rejected: bool,
    ) -> Result<(), Error> {
        let token = self.waiting(id, |wait| matches!(wait, Wait::Task | Wait::Sign))?;
        let node = self.node(token.node);
        let (allowed, next, on_rejected): (Vec<VarIx>, _, _) = match &node.kind {
            NodeKind::Task { form, next, .. } => (form.clone(), *next, None),
            NodeKind::Sign {
                output,
                next,
                on_rejected,
                ..
            } => (output.iter().copied().collect(), *next, Some(*on_rejected)),
            _ => return Err(Error::Stale { token: id }),
        };
        if rejected && on_rejected.is_none() {
            let message = format!("task `{}` is not a signing and cannot be rejected", node.id);
            return Err(Error::Input(message));
        }
        self.check_form(&node.id, &allowed, &data)?;
        self.record(Record::TaskCompleted {
            node: node.id.clone(),
            token: id,
            data: self.named(&data),
            rejected,
            now_ms: self.now_ms(),
            seed: self.seed(),
        });
        self.assign(&data)?;
        match on_rejected {
            Some(Some(path)) if rejected => self.advance(id, path),
            Some(None) if rejected => {
                self.fail(
                    id,
                    "the signer refused and the node has no on_rejected".into(),
                );
            }
            _ => self.advance(id, next),
        }
        Ok(())
    }

    /// Refuses data for variables that the node's form does not fill.
    fn check_form(
        &self,
        node: &str,
        allowed: &[VarIx],
        data: &[(VarIx, Value)],
    ) -> Result<(), Error> {
        let Some((ix, _)) = data.iter().find(|(ix, _)| !allowed.contains(ix)) else {
            return Ok(());
        };
        let variables = &self.machine.def.variables;
        let names: Vec<&str> = allowed
            .iter()
            .map(|ix| variables[*ix].name.as_str())
            .collect();
        let fills = if names.is_empty() {
            "nothing".to_owned()
        } else {
            names.join(", ")
        };
        Err(Error::Input(format!(
            "variable `{}` is not filled by `{node}`; it fills: {fills}",
            variables[*ix].name
        )))
    }

    fn on_event(
        &mut self,
        id: u64,
        event_id: String,
        kind: String,
        key: String,
        payload: Value,
    ) -> Result<(), Error> {
        let token = self.waiting(
            id,
            |wait| matches!(wait, Wait::Event { kind: k, key: c } if *k == kind && *c == key),
        )?;
        let node = self.node(token.node);
        self.record(Record::EventReceived {
            node: node.id.clone(),
            token: id,
            event_id,
            kind,
            key,
            payload: payload.clone(),
            now_ms: self.now_ms(),
            seed: self.seed(),
        });
        match &node.kind {
            NodeKind::Receive { output, next, .. } => self.take_output(id, *output, payload, *next),
            NodeKind::ExpectSignatureIssuing {
                output,
                reason: reason_var,
                on_rejected,
                next,
                ..
            } => match read_issuance(&payload) {
                Ok(Issuance::Issued(certificate)) => {
                    self.take_output(id, *output, certificate, *next);
                }
                Ok(Issuance::Rejected(reason)) => {
                    let reason = reason.unwrap_or_else(|| "no reason given".to_owned());
                    if let Some(ix) = reason_var {
                        self.state.vars[*ix] = Value::String(reason.clone());
                    }
                    match on_rejected {
                        Some(path) => self.advance(id, *path),
                        None => self.fail(id, format!("the request was rejected: {reason}")),
                    }
                }
                Err(why) => self.fail(id, format!("the issuance answer is malformed: {why}")),
            },
            _ => return Err(Error::Stale { token: id }),
        }
        Ok(())
    }

    fn on_timer(&mut self, id: u64) -> Result<(), Error> {
        let token = self.waiting(id, |wait| *wait == Wait::Timer)?;
        self.record(Record::TimerFired {
            node: self.node_id(token.node),
            token: id,
            now_ms: self.now_ms(),
            seed: self.seed(),
        });
        match self.node(token.node).kind {
            NodeKind::Timer { next, .. } => self.advance(id, next),
            _ => return Err(Error::Stale { token: id }),
        }
        Ok(())
    }

    fn on_timeout(&mut self, id: u64) -> Result<(), Error> {
        let token = self.waiting(id, |wait| *wait != Wait::Ready)?;
        if !token.timeout {
            return Err(Error::Stale { token: id });
        }
        let node = self.node(token.node);
        self.record(Record::TimedOut {
            node: node.id.clone(),
            token: id,
            now_ms: self.now_ms(),
            seed: self.seed(),
        });
        match node.on_timeout {
            Some(path) => self.advance(id, path),
            None => {
                let mut token = self.remove(id);
                token.wait = Wait::Ready;
                token.timeout = false;
                self.state.tokens.push(token);
                self.incident(
                    id,
                    "the timeout ran out and the node has no on_timeout".into(),
                );
            }
        }
        Ok(())
    }

    fn on_retry_due(&mut self, id: u64) -> Result<(), Error> {
        let token = self.waiting(id, |wait| *wait == Wait::Retry)?;
        self.record(Record::RetryDue {
            node: self.node_id(token.node),
            token: id,
            now_ms: self.now_ms(),
            seed: self.seed(),
        });
        self.reenter(id, token.attempt);
        Ok(())
    }

    fn on_activity(
        &mut self,
        id: u64,
        result: Result<Value, activity::Error>,
    ) -> Result<(), Error> {
        let token = self.waiting(id, |wait| *wait == Wait::Call)?;
        let (output, error) = match &result {
            Ok(value) => (Some(value.clone()), None),
            Err(error) => (None, Some(error.to_string())),
        };
        self.record(Record::ActivityDone {
            node: self.node_id(token.node),
            token: id,
            output,
            error,
            now_ms: self.now_ms(),
            seed: self.seed(),
        });
        let (output, next) = match self.node(token.node).kind {
            NodeKind::SignatureIssuingRequest { output, next, .. } => (output, next),
            _ => return Err(Error::Stale { token: id }),
        };
        match result {
            Ok(value) => self.take_output(id, Some(output), value, next),
            Err(error) => self.fail(id, format!("activity failed: {error}")),
        }
        Ok(())
    }

    fn on_resolve(&mut self, vars: Vec<(VarIx, Value)>) -> Result<(), Error> {
        let stuck: Vec<u64> = self
            .state
            .tokens
            .iter()
            .filter(|token| matches!(token.wait, Wait::Incident { .. }))
            .map(|token| token.id)
            .collect();
        if stuck.is_empty() {
            return Err(Error::Input("the instance has no incident to retry".into()));
        }
        self.assign(&vars)?;
        self.record(Record::Resolved {
            vars: self.named(&vars),
            now_ms: self.now_ms(),
            seed: self.seed(),
        });
        for id in stuck {
            self.reenter(id, 0);
        }
        Ok(())
    }

    fn on_cancel(&mut self) -> Result<(), Error> {
        self.record(Record::Cancelled {
            now_ms: self.now_ms(),
            seed: self.seed(),
        });
        let ids: Vec<u64> = self.state.tokens.iter().map(|token| token.id).collect();
        for id in ids {
            self.remove(id);
        }
        self.state.joins.clear();
        self.state.cancelled = true;
        Ok(())
    }

    /// Stores `value` in `output` (when the node has one) and moves on; a
    /// value of the wrong type fails the node.
    fn take_output(&mut self, id: u64, output: Option<VarIx>, value: Value, next: usize) {
        if let Some(ix) = output {
            if let Err(message) = self.set_var(ix, value) {
                return self.fail(id, message);
            }
        }
        self.advance(id, next);
    }

    /// Sets variables given from outside, refusing a value of the wrong type.
    fn assign(&mut self, vars: &[(VarIx, Value)]) -> Result<(), Error> {
        for (ix, value) in vars {
            self.set_var(*ix, value.clone()).map_err(Error::Input)?;
        }
        Ok(())
    }
}
