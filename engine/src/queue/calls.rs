//! Activity calls: claim with a lease, call outside the transaction, apply
//! the outcome in a new one.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use serde::Deserialize;
use serde_json::Value;

use super::{Stop, ACTIVITY};
use crate::activity::{self, Call, IdempotencyKey};
use crate::driver::{millis, Batch, Engine, Error};
use crate::runtime::Input;
use crate::store::{self, entities::job, Lease};

/// What an activity job carries.
#[derive(Debug, Deserialize)]
struct Payload {
    kind: String,
    process: String,
    input: Value,
}

/// What came of one call.
enum Outcome {
    /// Done or failed for good: the node moves on or fails.
    Done(Result<Value, activity::Error>),
    /// Passing fault: call again later.
    Unavailable(String),
}

impl Engine {
    /// Claims due activity jobs, calls them, and applies their outcomes.
    /// Returns how many calls it made.
    pub async fn run_due_calls(&self) -> Result<usize, Error> {
        self.run_calls(&Stop::never()).await
    }

    /// [`Engine::run_due_calls`], making no new call once `stop` is raised:
    /// the outcomes of the calls made are recorded, the other claimed jobs
    /// released for other workers.
    pub(super) async fn run_calls(&self, stop: &Stop) -> Result<usize, Error> {
        let lease = Lease {
            owner: self.config().worker_id.clone(),
            until_ms: self.now_ms() + millis(self.config().lease),
        };
        let jobs = self
            .retrying(|| async {
                let txn = store::backend::begin_write(self.db()).await?;
                let limit = self.config().batch as u64;
                let jobs = store::claim_jobs(&txn, &[ACTIVITY], self.now_ms(), limit, Some(&lease))
                    .await?;
                txn.commit().await?;
                Ok(jobs)
            })
            .await?;
        if jobs.is_empty() {
            return Ok(0);
        }
        let mut outcomes = Vec::with_capacity(jobs.len());
        for job in &jobs {
            if stop.is_set() {
                break;
            }
            outcomes.push(self.call(job).await);
        }
        let (called, unstarted) = jobs.split_at(outcomes.len());
        if !unstarted.is_empty() {
            let ids: Vec<i64> = unstarted.iter().map(|job| job.id).collect();
            let released = store::release_jobs(self.db(), &lease.owner, Some(&ids)).await?;
            tracing::info!(worker_id = %lease.owner, released, "stopping: calls not started released");
        }
        self.record_calls(called, &outcomes, &lease).await?;
        Ok(called.len())
    }

    async fn call(&self, job: &job::Model) -> Outcome {
        let payload: Payload = match job.payload.as_deref().map(serde_json::from_str) {
            Some(Ok(payload)) => payload,
            _ => {
                let message = format!("activity job {} carries no readable call", job.id);
                return Outcome::Done(Err(failed("BAD_JOB", message)));
            }
        };
        let Some(activity) = self.registry().get(&payload.kind) else {
            let message = format!(
                "no activity serves node kind `{}` in this worker; \
                 run a worker that registers it, then retry the instance",
                payload.kind
            );
            return Outcome::Done(Err(failed("NO_ACTIVITY", message)));
        };
        let call = Call {
            key: IdempotencyKey {
                instance_id: job.instance_id.clone(),
                node_id: job.node_id.clone(),
                token_id: u64::try_from(job.token_id).unwrap_or_default(),
            },
            process: payload.process,
            input: payload.input,
            now_ms: self.now_ms(),
        };
        tracing::debug!(job_id = job.id, instance_id = %job.instance_id, node_id = %job.node_id,
            token_id = job.token_id, attempt = job.attempts, "calling activity");
        match activity.execute(call).await {
            Ok(outcome) => Outcome::Done(Ok(outcome.output)),
            Err(activity::Error::Unavailable(message)) => Outcome::Unavailable(message),
            Err(error) => Outcome::Done(Err(error)),
        }
    }

    /// Applies call outcomes in one transaction, for the jobs this worker
    /// still holds.
    async fn record_calls(
        &self,
        jobs: &[job::Model],
        outcomes: &[Outcome],
        lease: &Lease,
    ) -> Result<(), Error> {
        let changed = self
            .retrying(|| async {
                let txn = store::backend::begin_write(self.db()).await?;
                let mut batch = Batch::new(self);
                batch
                    .preload(&txn, jobs.iter().map(|job| job.instance_id.as_str()))
                    .await?;
                for (job, outcome) in jobs.iter().zip(outcomes) {
                    self.record_call(&txn, &mut batch, job, outcome, lease)
                        .await?;
                }
                let changed = batch.flush(&txn).await?;
                txn.commit().await?;
                Ok(changed)
            })
            .await?;
        changed.iter().for_each(|change| change.log());
        Ok(())
    }

    /// Records one call's outcome if this worker still holds its job: a
    /// passing fault puts the job back for later, anything else deletes the
    /// job and applies the outcome to the instance.
    async fn record_call(
        &self,
        txn: &DatabaseTransaction,
        batch: &mut Batch<'_>,
        job: &job::Model,
        outcome: &Outcome,
        lease: &Lease,
    ) -> Result<(), Error> {
        let mine = || {
            job::Column::Id
                .eq(job.id)
                .and(job::Column::LeaseOwner.eq(lease.owner.as_str()))
        };
        let result = match outcome {
            Outcome::Unavailable(message) => {
                tracing::warn!(job_id = job.id, instance_id = %job.instance_id,
                    attempt = job.attempts, "activity unavailable, will call again: {message}");
                let due = batch.now_ms() + millis(self.config().unavailable_delay);
                job::Entity::update_many()
                    .col_expr(job::Column::DueAt, Expr::value(due))
                    .col_expr(job::Column::LeaseOwner, Expr::value(None::<String>))
                    .col_expr(job::Column::LeaseUntil, Expr::value(None::<i64>))
                    .filter(mine())
                    .exec(txn)
                    .await?;
                return Ok(());
            }
            Outcome::Done(result) => result.clone(),
        };
        let deleted = job::Entity::delete_many().filter(mine()).exec(txn).await?;
        if deleted.rows_affected == 0 {
            tracing::warn!(job_id = job.id, instance_id = %job.instance_id,
                "job gone before its outcome was recorded: its token moved on \
                 or another worker took it");
            return Ok(());
        }
        let token = u64::try_from(job.token_id).unwrap_or_default();
        let input = Input::Activity { token, result };
        let refused = batch.apply(txn, &job.instance_id, input).await?;
        super::log_refused(job, refused);
        Ok(())
    }
}

fn failed(code: &str, message: String) -> activity::Error {
    activity::Error::Failed {
        code: code.to_owned(),
        message,
    }
}
