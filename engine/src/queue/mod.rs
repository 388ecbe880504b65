//! Jobs, timers, leases, claiming and the worker loop.
//!
//! Jobs live in the `job` table. Timer, timeout and retry jobs are claimed,
//! applied and deleted in one transaction: a crash rolls the claim back with
//! the change. Activity jobs are claimed with a lease (owner and deadline)
//! in a short transaction, called outside any transaction with the
//! idempotency key (instance, node, token), and their outcome is applied in
//! a new transaction that deletes the job, if this worker still holds it. A
//! crash between call and record leaves the job to be claimed again when the
//! lease runs out; the call repeats with the same key.

mod calls;
mod roster;
mod worker;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::driver::{Batch, Engine, Error};
use crate::events;
use crate::runtime::{self, Input};
use crate::store::{self, entities::job, entities::wait};

pub use roster::{check_worker_name, default_worker_name, Held, WorkerView};
pub use worker::{run, Options, Stop, StopHandle, Tick};

/// The job kind of an activity call.
pub const ACTIVITY: &str = "activity";

/// The job kinds applied inside one transaction.
pub const INTERNAL: [&str; 3] = ["timer", "timeout", "retry"];

impl Engine {
    /// Applies due timer, timeout and retry jobs, a batch in one transaction.
    /// Returns how many jobs it took.
    pub async fn run_due_jobs(&self) -> Result<usize, Error> {
        let changed = self
            .retrying(|| async {
                let txn = store::backend::begin_write(self.db()).await?;
                let mut batch = Batch::new(self);
                let limit = self.config().batch as u64;
                let jobs = store::claim_jobs(&txn, &INTERNAL, batch.now_ms(), limit, None).await?;
                let n_jobs = jobs.len();
                batch
                    .preload(&txn, jobs.iter().map(|job| job.instance_id.as_str()))
                    .await?;
                for job in &jobs {
                    let token = u64::try_from(job.token_id).unwrap_or_default();
                    let input = match job.kind.as_str() {
                        "timer" => Input::Timer { token },
                        "timeout" => Input::Timeout { token },
                        _ => Input::RetryDue { token },
                    };
                    let result = batch.apply(&txn, &job.instance_id, input).await?;
                    log_refused(job, result);
                }
                for chunk in jobs.chunks(400) {
                    job::Entity::delete_many()
                        .filter(job::Column::Id.is_in(chunk.iter().map(|job| job.id)))
                        .exec(&txn)
                        .await?;
                }
                let changed = batch.flush(&txn).await?;
                txn.commit().await?;
                Ok((n_jobs, changed))
            })
            .await?;
        changed.1.iter().for_each(|change| change.log());
        Ok(changed.0)
    }

    /// Delivers kept events to waits registered beside them (an event and a
    /// wait committed concurrently, neither seeing the other). Returns how
    /// many it delivered.
    pub async fn sweep_events(&self) -> Result<usize, Error> {
        let found = events::matches(self.db(), self.now_ms(), self.config().batch as u64).await?;
        let mut n_delivered = 0;
        for found in found {
            let delivered = self
                .retrying(|| async {
                    let txn = store::backend::begin_write(self.db()).await?;
                    let mut batch = Batch::new(self);
                    let input = Input::Event {
                        token: u64::try_from(found.token_id).unwrap_or_default(),
                        id: found.event.id.clone(),
                        kind: found.event.kind.clone(),
                        key: found.event.correlation_key.clone(),
                        payload: found.event.payload.clone(),
                    };
                    let applied = batch.apply(&txn, &found.instance_id, input).await?;
                    if applied.is_err() {
                        // The token no longer waits: the wait row is left over.
                        wait::Entity::delete_by_id((found.instance_id.clone(), found.token_id))
                            .exec(&txn)
                            .await?;
                        txn.commit().await?;
                        return Ok(Vec::new());
                    }
                    let now_ms = batch.now_ms();
                    if !events::consume(&txn, &found.event.id, &found.instance_id, now_ms).await? {
                        return Ok(Vec::new());
                    }
                    let changed = batch.flush(&txn).await?;
                    txn.commit().await?;
                    Ok(changed)
                })
                .await?;
            if !delivered.is_empty() {
                n_delivered += 1;
                tracing::info!(event_id = %found.event.id, instance_id = %found.instance_id,
                    "kept event delivered by the sweep");
            }
            delivered.iter().for_each(|change| change.log());
        }
        Ok(n_delivered)
    }

    /// The number of jobs due now or later, by whether they are due now.
    pub async fn pending_jobs(&self) -> Result<(u64, u64), Error> {
        use sea_orm::PaginatorTrait;
        let now_ms = self.now_ms();
        let due = job::Entity::find()
            .filter(job::Column::DueAt.lte(now_ms))
            .count(self.db())
            .await?;
        let later = job::Entity::find()
            .filter(job::Column::DueAt.gt(now_ms))
            .count(self.db())
            .await?;
        Ok((due, later))
    }
}

/// Logs why the runtime refused a job's input: a stale token is normal (the
/// other input won), anything else is worth a warning.
fn log_refused(job: &job::Model, result: Result<(), runtime::Error>) {
    match result {
        Ok(()) => {}
        Err(runtime::Error::Stale { .. } | runtime::Error::Finished(_)) => {
            tracing::debug!(job_id = job.id, instance_id = %job.instance_id,
                token_id = job.token_id, kind = %job.kind, "job found its token gone");
        }
        Err(error) => {
            tracing::warn!(job_id = job.id, instance_id = %job.instance_id,
                token_id = job.token_id, kind = %job.kind, "job refused: {error}");
        }
    }
}
