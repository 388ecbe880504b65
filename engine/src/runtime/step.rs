//! One change of an instance: the ready queue, the step budget, moving and
//! removing tokens, and what a failure does (retry, `on_error`, incident).

use std::collections::VecDeque;

use serde_json::Value;

use super::{node_of, Applied, Effect, JobKind, Machine, Token, Wait};
use crate::definition::{Node, NodeIx, VarIx};
use crate::expr::Env;
use crate::history::{Record, Vars};
use crate::runtime::InstanceState;

/// The working set of one [`Machine::apply`].
pub(super) struct Run<'m, 's> {
    pub(super) machine: Machine<'m>,
    pub(super) state: &'s mut InstanceState,
    pub(super) env: &'s Env,
    ready: VecDeque<u64>,
    out: Applied,
    steps: u32,
}

impl<'m, 's> Run<'m, 's> {
    pub(super) fn new(machine: &Machine<'m>, state: &'s mut InstanceState, env: &'s Env) -> Self {
        Self {
            machine: *machine,
            state,
            env,
            ready: VecDeque::new(),
            out: Applied::default(),
            steps: 0,
        }
    }

    /// Runs ready tokens until none is left or the step budget is spent.
    pub(super) fn run_ready(&mut self) {
        while let Some(id) = self.ready.pop_front() {
            let Some(token) = self.state.token(id) else {
                continue;
            };
            if token.wait != Wait::Ready {
                continue;
            }
            if self.steps >= self.machine.step_budget {
                let message = format!(
                    "step budget of {} nodes spent in one change without a wait: \
                     the process may loop forever; fix the variables or the schema and retry",
                    self.machine.step_budget
                );
                self.incident(id, message);
                continue;
            }
            self.steps += 1;
            self.execute(id);
        }
    }

    /// Ends the change: notes completion and hands out effects and records.
    pub(super) fn finish(mut self) -> Applied {
        if self.state.tokens.is_empty() && !self.state.cancelled {
            let outcome = self.state.outcome.clone();
            self.record(Record::Completed { outcome });
        }
        self.out
    }

    pub(super) fn record(&mut self, record: Record) {
        self.out.records.push(record);
    }

    pub(super) fn effect(&mut self, effect: Effect) {
        self.out.effects.push(effect);
    }

    pub(super) fn now_ms(&self) -> i64 {
        self.env.now_ms
    }

    pub(super) fn seed(&self) -> u64 {
        self.env.seed
    }

    /// The clock and a seed of its own for what token `id` evaluates.
    pub(super) fn env_for(&self, id: u64) -> Env {
        Env {
            now_ms: self.env.now_ms,
            seed: mix(self.env.seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        }
    }

    pub(super) fn node(&self, ix: NodeIx) -> &'m Node {
        node_of(self.machine.def, ix)
    }

    pub(super) fn node_id(&self, ix: NodeIx) -> String {
        self.node(ix).id.clone()
    }

    pub(super) fn token_mut(&mut self, id: u64) -> &mut Token {
        self.state
            .tokens
            .iter_mut()
            .find(|token| token.id == id)
            .expect("callers look the token up before changing it")
    }

    /// The token `id` when it waits as `matches` says, else `Stale`.
    pub(super) fn waiting(
        &self,
        id: u64,
        matches: impl Fn(&Wait) -> bool,
    ) -> Result<Token, super::Error> {
        match self.state.token(id) {
            Some(token) if matches(&token.wait) => Ok(token.clone()),
            _ => Err(super::Error::Stale { token: id }),
        }
    }

    /// Puts a new token on `node`, arriving from `from`, ready to run.
    pub(super) fn spawn(&mut self, node: NodeIx, from: Option<NodeIx>, attempt: u32) -> u64 {
        let id = self.state.next_token;
        self.state.next_token += 1;
        self.state.tokens.push(Token {
            id,
            node,
            from,
            wait: Wait::Ready,
            timeout: false,
            attempt,
        });
        self.ready.push_back(id);
        let record = Record::Entered {
            node: self.node_id(node),
            token: id,
            from: from.map(|from| self.node_id(from)),
        };
        self.record(record);
        id
    }

    /// Takes token `id` off the instance, releasing what it waited on.
    pub(super) fn remove(&mut self, id: u64) -> Token {
        let at = self
            .state
            .tokens
            .iter()
            .position(|token| token.id == id)
            .expect("callers look the token up before removing it");
        let token = self.state.tokens.remove(at);
        if token.wait != Wait::Ready || token.timeout {
            self.effect(Effect::Release {
                token: token.id,
                wait: token.wait.clone(),
                timeout: token.timeout,
            });
        }
        token
    }

    /// Moves token `id` on to `next`.
    pub(super) fn advance(&mut self, id: u64, next: NodeIx) {
        let token = self.remove(id);
        self.spawn(next, Some(token.node), 0);
    }

    /// Runs token `id`'s node again as a new token, keeping its source.
    pub(super) fn reenter(&mut self, id: u64, attempt: u32) {
        let token = self.remove(id);
        self.spawn(token.node, token.from, attempt);
    }

    /// Sets variable `ix`, checking the value against its type.
    pub(super) fn set_var(&mut self, ix: VarIx, value: Value) -> Result<(), String> {
        let variable = &self.machine.def.variables[ix];
        variable
            .ty
            .check(&value)
            .map_err(|why| format!("variable `{}`: {why}", variable.name))?;
        self.state.vars[ix] = value;
        Ok(())
    }

    /// Variables by name, for records.
    pub(super) fn named(&self, vars: &[(VarIx, Value)]) -> Vars {
        vars.iter()
            .map(|(ix, value)| (self.machine.def.variables[*ix].name.clone(), value.clone()))
            .collect()
    }

    /// Token `id`'s node failed: retry it, take `on_error`, or stop on an
    /// incident.
    pub(super) fn fail(&mut self, id: u64, message: String) {
        let token = self
            .state
            .token(id)
            .cloned()
            .expect("a failing token exists");
        let node = self.node(token.node);
        let attempt = token.attempt + 1;
        let then = match (&node.retry, node.on_error) {
            (Some(retry), _) if token.attempt < retry.times => "retry",
            (_, Some(_)) => "on_error",
            _ => "incident",
        };
        self.record(Record::Failed {
            node: node.id.clone(),
            token: id,
            message: message.clone(),
            attempt,
            then: then.to_owned(),
        });
        tracing::debug!(node_id = %node.id, token_id = id, attempt, then, "node failed: {message}");
        match (then, &node.retry, node.on_error) {
            ("retry", Some(retry), _) => {
                let due_ms = later(self.now_ms(), retry.delay);
                let waiting = self.token_mut(id);
                waiting.wait = Wait::Retry;
                waiting.attempt = attempt;
                self.effect(Effect::Schedule {
                    token: id,
                    node: token.node,
                    job: JobKind::Retry,
                    due_ms,
                });
            }
            ("on_error", _, Some(on_error)) => self.advance(id, on_error),
            _ => self.incident(id, message),
        }
    }

    /// Stops token `id` on an incident that an operator resolves.
    pub(super) fn incident(&mut self, id: u64, message: String) {
        let token = self.token_mut(id);
        token.wait = Wait::Incident {
            message: message.clone(),
        };
        let node = token.node;
        self.record(Record::Incident {
            node: self.node_id(node),
            token: id,
            message,
        });
    }
}

/// Milliseconds of a duration, saturating.
pub(super) fn duration_ms(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// The moment `duration` after `now_ms`, saturating at the end of time
/// rather than overflowing (schemas bound durations, stored data may not).
pub(super) fn later(now_ms: i64, duration: std::time::Duration) -> i64 {
    now_ms.saturating_add(duration_ms(duration))
}

/// A 64-bit mixer (splitmix64's finalizer): nearby inputs, distant outputs.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}
