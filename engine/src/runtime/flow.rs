//! Control-flow node kinds: start, end, script, exclusive gateway, parallel
//! fork and join.

use super::step::Run;
use super::Join;
use crate::definition::{Branch, NodeIx, NodeKind};
use crate::expr::Script;
use crate::history::Record;

impl Run<'_, '_> {
    /// Runs the node under ready token `id`.
    pub(super) fn execute(&mut self, id: u64) {
        let at = self
            .state
            .token(id)
            .map(|token| token.node)
            .expect("a ready token exists");
        let node = self.node(at);
        tracing::debug!(node_id = %node.id, token_id = id, kind = node.kind.name(), "enter");
        match &node.kind {
            NodeKind::Start { next } => self.advance(id, *next),
            NodeKind::End { outcome } => self.end(id, outcome.clone()),
            NodeKind::Script { script, next } => self.script(id, script, *next),
            NodeKind::Gateway { branches, default } => self.gateway(id, branches, *default),
            NodeKind::Parallel { next } if self.machine.def.is_join(at) => self.join(id, next),
            NodeKind::Parallel { next } => self.fork(id, next),
            _ => self.begin_wait(id),
        }
    }

    fn end(&mut self, id: u64, outcome: Option<String>) {
        let token = self.remove(id);
        if outcome.is_some() {
            self.state.outcome.clone_from(&outcome);
        }
        self.record(Record::Ended {
            node: self.node_id(token.node),
            token: id,
            outcome,
        });
    }

    fn script(&mut self, id: u64, script: &Script, next: NodeIx) {
        let env = self.env_for(id);
        let def = self.machine.def;
        let result = self
            .machine
            .evaluator
            .run_script(script, def, &self.state.vars, &env);
        let assigned = match result {
            Ok(assigned) => assigned,
            Err(error) => return self.fail(id, format!("script failed: {error}")),
        };
        let at = self
            .state
            .token(id)
            .map(|token| token.node)
            .expect("a ready token exists");
        let record = Record::Script {
            node: self.node_id(at),
            token: id,
            now_ms: env.now_ms,
            seed: env.seed,
            assigned: self.named(&assigned),
        };
        for (ix, value) in assigned {
            self.state.vars[ix] = value;
        }
        self.record(record);
        self.advance(id, next);
    }

    fn gateway(&mut self, id: u64, branches: &[Branch], default: Option<NodeIx>) {
        let env = self.env_for(id);
        let def = self.machine.def;
        let mut taken = None;
        for (ix, branch) in branches.iter().enumerate() {
            let holds = self
                .machine
                .evaluator
                .eval_bool(&branch.when, def, &self.state.vars, &env);
            match holds {
                Ok(true) => {
                    taken = Some((Some(ix), branch.next));
                    break;
                }
                Ok(false) => {}
                Err(error) => {
                    let message = format!("condition of branch {} failed: {error}", ix + 1);
                    return self.fail(id, message);
                }
            }
        }
        let Some((branch, next)) = taken.or(default.map(|next| (None, next))) else {
            let message = "no branch condition is true and the gateway has no default".to_owned();
            return self.fail(id, message);
        };
        let at = self
            .state
            .token(id)
            .map(|token| token.node)
            .expect("a ready token exists");
        self.record(Record::Branch {
            node: self.node_id(at),
            token: id,
            taken: self.node_id(next),
            branch,
        });
        self.advance(id, next);
    }

    fn fork(&mut self, id: u64, next: &[NodeIx]) {
        let token = self.remove(id);
        for target in next {
            self.spawn(*target, Some(token.node), 0);
        }
    }

    /// A token arrives at a join: it is counted for its incoming source; when
    /// every source has a token counted, one of each is used and the join
    /// fires. Extra tokens from one source wait for the next round.
    fn join(&mut self, id: u64, next: &[NodeIx]) {
        let token = self.remove(id);
        let Some(from) = token.from else {
            self.state.tokens.push(token);
            let message = "a token reached a join without an incoming flow".to_owned();
            return self.incident(id, message);
        };
        let incoming = &self.node(token.node).incoming;
        let join = match self
            .state
            .joins
            .iter()
            .position(|join| join.node == token.node)
        {
            Some(at) => &mut self.state.joins[at],
            None => {
                self.state.joins.push(Join {
                    node: token.node,
                    arrived: Vec::new(),
                });
                self.state.joins.last_mut().expect("just pushed")
            }
        };
        let fired = join.arrive(from, incoming);
        self.state.joins.retain(|join| !join.arrived.is_empty());
        self.record(Record::Joined {
            node: self.node_id(token.node),
            token: id,
            from: self.node_id(from),
            fired,
        });
        if fired {
            for target in next {
                self.spawn(*target, Some(token.node), 0);
            }
        }
    }
}
