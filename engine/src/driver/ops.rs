//! What operators and callers do to instances: start, complete tasks, send
//! events, retry incidents, cancel. Each applies at once, in one
//! transaction, as far as the instance can run.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::{ConnectionTrait, EntityTrait, TransactionTrait};

use serde_json::Value;

use super::batch::{task_id, Batch, Changed, OpenTask};
use super::{Engine, Error};
use crate::definition::{Definition, VarIx};
use crate::events::{self, Event};
use crate::runtime::{self, Input, Status};
use crate::store::entities::task;

/// A new instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Started {
    /// Its id.
    pub id: String,
    /// Where it stands after running up to its first wait.
    pub status: Status,
}

/// What happened to an event sent to the inbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// An event with that id was received before; nothing happened.
    Duplicate,
    /// A waiting instance took it.
    Delivered {
        /// The instance.
        instance_id: String,
    },
    /// No instance waits for it yet; it is kept until one does or it expires.
    Kept,
}

/// One instance to start.
#[derive(Clone, Debug, PartialEq)]
pub struct StartRequest {
    /// The process id.
    pub process: String,
    /// Its version, or `None` for the latest deployed.
    pub version: Option<u32>,
    /// Variables by name.
    pub vars: Vec<(String, Value)>,
    /// Who starts it.
    pub initiator: Option<String>,
}

/// One task to complete.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    /// The task id.
    pub task: String,
    /// The form data by variable name.
    pub vars: Vec<(String, Value)>,
    /// Whether the person refuses (signing only).
    pub rejected: bool,
}

/// Splits `NAME=VALUE` and parses the value as `def` types variable NAME.
/// Errors name the variable, the value and the expected type.
pub fn parse_var(def: &Definition, text: &str) -> Result<(String, Value), Error> {
    let Some((name, raw)) = text.split_once('=') else {
        return Err(Error::Input(format!("`{text}` is not NAME=VALUE")));
    };
    let ix = var_ix(def, name)?;
    let ty = def.variables[ix].ty;
    let value = ty.parse_cli(raw).map_err(|why| {
        Error::Input(format!(
            "variable `{name}`: value `{raw}` is not valid for type {}: {why}",
            ty.name()
        ))
    })?;
    Ok((name.to_owned(), value))
}

fn var_ix(def: &Definition, name: &str) -> Result<VarIx, Error> {
    def.var(name).ok_or_else(|| {
        let known: Vec<&str> = def.variables.iter().map(|var| var.name.as_str()).collect();
        Error::Input(format!(
            "process `{}` has no variable `{name}`; its variables are: {}",
            def.process,
            known.join(", ")
        ))
    })
}

/// Resolves names and checks each value against its variable's type.
fn typed(def: &Definition, vars: &[(String, Value)]) -> Result<Vec<(VarIx, Value)>, Error> {
    vars.iter()
        .map(|(name, value)| {
            let ix = var_ix(def, name)?;
            let ty = def.variables[ix].ty;
            ty.check(value).map_err(|why| {
                Error::Input(format!(
                    "variable `{name}`: value {value} does not fit type {}: {why}",
                    ty.name()
                ))
            })?;
            Ok((ix, value.clone()))
        })
        .collect()
}

impl Engine {
    /// Starts an instance and runs it up to its first wait, in one
    /// transaction.
    pub async fn start(
        &self,
        process: &str,
        version: Option<u32>,
        vars: Vec<(String, Value)>,
        initiator: Option<String>,
    ) -> Result<Started, Error> {
        let request = StartRequest {
            process: process.to_owned(),
            version,
            vars,
            initiator,
        };
        let mut started = self.start_batch(std::slice::from_ref(&request)).await?;
        started
            .pop()
            .ok_or_else(|| Error::Input("nothing was started".into()))
    }

    /// Starts many instances in one transaction (group commit).
    pub async fn start_batch(&self, requests: &[StartRequest]) -> Result<Vec<Started>, Error> {
        let mut prepared = Vec::with_capacity(requests.len());
        let mut resolved: Vec<(&str, Option<u32>, Arc<Definition>)> = Vec::new();
        for request in requests {
            let (process, version) = (request.process.as_str(), request.version);
            let known = resolved
                .iter()
                .find(|(p, v, _)| *p == process && *v == version);
            let def = match known {
                Some((_, _, def)) => def.clone(),
                None => {
                    let def = self.definition(process, version).await?;
                    resolved.push((process, version, def.clone()));
                    def
                }
            };
            let vars = typed(&def, &request.vars)?;
            prepared.push((def, vars, request.initiator.clone()));
        }
        let (changed, ids) = self
            .retrying(|| async {
                let txn = self.db.begin().await?;
                let mut batch = Batch::new(self);
                let mut ids = Vec::with_capacity(prepared.len());
                for (def, vars, initiator) in &prepared {
                    let input = Input::Start {
                        vars: vars.clone(),
                        initiator: initiator.clone(),
                    };
                    ids.push(batch.create(&txn, def.clone(), input).await?);
                }
                let changed = batch.flush(&txn).await?;
                txn.commit().await?;
                Ok((changed, ids))
            })
            .await?;
        changed.iter().for_each(Changed::log);
        Ok(ids
            .into_iter()
            .zip(changed)
            .map(|(id, changed)| Started {
                id,
                status: changed.status,
            })
            .collect())
    }

    /// Completes task `task` with form data (by variable name); `rejected`
    /// refuses a signing. A task whose kind has a registered activity (a
    /// `sign` task where a signing module is plugged in) completes only with
    /// what that activity confirms. The instance runs on at once.
    pub async fn complete(
        &self,
        task: &str,
        vars: Vec<(String, Value)>,
        rejected: bool,
    ) -> Result<Status, Error> {
        let mut results = self
            .complete_batch(&[Completion {
                task: task.to_owned(),
                vars,
                rejected,
            }])
            .await?;
        results
            .pop()
            .unwrap_or_else(|| Err(Error::Input("nothing was completed".into())))
    }

    /// Completes many tasks in one transaction; each gets its own result.
    pub async fn complete_batch(
        &self,
        tasks: &[Completion],
    ) -> Result<Vec<Result<Status, Error>>, Error> {
        let (changed, results) = self
            .retrying(|| async {
                let txn = self.db.begin().await?;
                let mut batch = Batch::new(self);
                let keys: Vec<_> = tasks.iter().map(|c| parse_task_id(&c.task)).collect();
                batch
                    .preload(&txn, keys.iter().flatten().map(|(id, _)| *id))
                    .await?;
                let mut results = Vec::with_capacity(tasks.len());
                for (completion, key) in tasks.iter().zip(&keys) {
                    let open = key.and_then(|(id, token)| batch.open_task(id, token));
                    let result = self.complete_in(&txn, &mut batch, completion, open).await?;
                    results.push(result);
                }
                let changed = batch.flush(&txn).await?;
                txn.commit().await?;
                Ok((changed, results))
            })
            .await?;
        Ok(statuses(&changed, results))
    }

    /// Whether completing `open` goes through the activity registered for
    /// its kind (a `sign` task with a signing module): only then is the
    /// task's row read and the completion confirmed. A refusal is not.
    pub(super) fn confirms(&self, open: &OpenTask, rejected: bool) -> bool {
        !rejected && self.registry().get(open.kind).is_some()
    }

    /// Applies one completion inside `batch`; the outer error is the store's,
    /// the inner one this task's.
    pub(super) async fn complete_in<C: ConnectionTrait>(
        &self,
        conn: &C,
        batch: &mut Batch<'_>,
        completion: &Completion,
        open: Option<OpenTask>,
    ) -> Result<Result<String, Error>, Error> {
        let Completion {
            task,
            vars,
            rejected,
        } = completion;
        let not_found = || Error::NotFound {
            what: "open task",
            id: task.to_owned(),
            hint: ": list open tasks with `sesflow tasks`".into(),
        };
        let Some(open) = open else {
            return Ok(Err(not_found()));
        };
        let def = open.def.clone();
        let data = match typed(&def, vars) {
            Ok(data) => data,
            Err(error) => return Ok(Err(error)),
        };
        let data = if !self.confirms(&open, *rejected) {
            data
        } else {
            // Only a task an activity confirms needs the rest of its row.
            let Some(row) = task::Entity::find_by_id(task.to_owned()).one(conn).await? else {
                return Ok(Err(not_found()));
            };
            match self.confirm(batch, &row, &def, data).await {
                Ok(data) => data,
                Err(error) => return Ok(Err(error)),
            }
        };
        let input = Input::Complete {
            token: open.token,
            data,
            rejected: *rejected,
        };
        Ok(match batch.apply(conn, &open.instance_id, input).await? {
            Ok(()) => Ok(open.instance_id),
            Err(runtime::Error::Stale { .. }) => Err(not_found()),
            Err(error) => Err(Error::Runtime(error)),
        })
    }

    /// Puts an event into the inbox and delivers it at once to a waiting
    /// instance; when none waits yet it is kept for `ttl` (or the configured
    /// time to live). An id seen before does nothing.
    pub async fn send_event(
        &self,
        event: &Event,
        ttl: Option<Duration>,
    ) -> Result<Delivery, Error> {
        let ttl = ttl.or(self.config.event_ttl).map(super::millis);
        let (changed, delivery) = self
            .retrying(|| async {
                let txn = self.db.begin().await?;
                let mut batch = Batch::new(self);
                if !events::publish(&txn, event, batch.now_ms(), ttl).await? {
                    return Ok((Vec::new(), Delivery::Duplicate));
                }
                let delivery = self.deliver(&txn, &mut batch, event).await?;
                let changed = batch.flush(&txn).await?;
                txn.commit().await?;
                Ok((changed, delivery))
            })
            .await?;
        changed.iter().for_each(Changed::log);
        tracing::info!(event_id = %event.id, kind = %event.kind, key = %event.key,
            delivery = ?delivery, "event received");
        Ok(delivery)
    }

    /// Hands a just-published event to the oldest wait that accepts it.
    async fn deliver<C: ConnectionTrait>(
        &self,
        conn: &C,
        batch: &mut Batch<'_>,
        event: &Event,
    ) -> Result<Delivery, Error> {
        for wait in events::waits_for(conn, &event.kind, &event.key).await? {
            let input = Input::Event {
                token: u64::try_from(wait.token_id).unwrap_or_default(),
                id: event.id.clone(),
                kind: event.kind.clone(),
                key: event.key.clone(),
                payload: event.payload.clone(),
            };
            if batch.apply(conn, &wait.instance_id, input).await?.is_ok()
                && events::consume(conn, &event.id, &wait.instance_id, batch.now_ms()).await?
            {
                return Ok(Delivery::Delivered {
                    instance_id: wait.instance_id,
                });
            }
        }
        Ok(Delivery::Kept)
    }

    /// Sets variables (by name) and retries every incident of `instance`.
    pub async fn retry(&self, instance: &str, vars: Vec<(String, Value)>) -> Result<Status, Error> {
        let def = self.instance_definition(instance).await?;
        let vars = typed(&def, &vars)?;
        self.change(instance, Input::Resolve { vars }).await
    }

    /// Cancels `instance`: its tokens, tasks, waits and jobs are dropped.
    pub async fn cancel(&self, instance: &str) -> Result<Status, Error> {
        self.change(instance, Input::Cancel).await
    }

    /// Applies one input to one instance in its own transaction.
    pub(crate) async fn change(&self, instance: &str, input: Input) -> Result<Status, Error> {
        let changed = self
            .retrying(|| async {
                let txn = self.db.begin().await?;
                let mut batch = Batch::new(self);
                batch.apply(&txn, instance, input.clone()).await??;
                let changed = batch.flush(&txn).await?;
                txn.commit().await?;
                Ok(changed)
            })
            .await?;
        changed.iter().for_each(Changed::log);
        Ok(changed
            .first()
            .map_or(Status::Active, |changed| changed.status))
    }

    /// The definition instance `instance` runs on.
    pub async fn instance_definition(&self, instance: &str) -> Result<Arc<Definition>, Error> {
        use crate::store::entities::instance;
        let row = instance::Entity::find_by_id(instance.to_owned())
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::no_instance(instance))?;
        let version = u32::try_from(row.version).unwrap_or_default();
        self.definition(&row.process, Some(version)).await
    }
}

/// Logs the changes of a batch of completions and gives each completion
/// its result: the status its instance reached, or why it was refused.
pub(super) fn statuses(
    changed: &[Changed],
    results: Vec<Result<String, Error>>,
) -> Vec<Result<Status, Error>> {
    changed.iter().for_each(Changed::log);
    let status: HashMap<&str, Status> = changed.iter().map(|c| (c.id.as_str(), c.status)).collect();
    results
        .into_iter()
        .map(|result| result.map(|id| status.get(id.as_str()).copied().unwrap_or(Status::Active)))
        .collect()
}

/// The instance and token a task id names (`INSTANCE.TOKEN`), or `None`
/// when it names none.
pub(super) fn parse_task_id(task: &str) -> Option<(&str, u64)> {
    let (instance, token) = task.rsplit_once('.')?;
    Some((instance, token.parse().ok()?))
}

/// The task id for token `token` of `instance` (`INSTANCE.TOKEN`).
pub fn task_of(instance: &str, token: u64) -> String {
    task_id(instance, token)
}
