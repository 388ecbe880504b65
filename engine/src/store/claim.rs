//! Claiming due jobs: the one query where SQLite and PostgreSQL differ.

use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::entities::job;

/// A hold on claimed jobs: who holds them and until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The worker's name.
    pub owner: String,
    /// When the hold runs out, in ms since the Unix epoch.
    pub until_ms: i64,
}

/// Claims up to `limit` jobs of `kinds` due at `now_ms` that nobody holds
/// (or whose holder's lease ran out), oldest first.
///
/// With a `lease`, the jobs are marked held and their attempt count goes up,
/// so that the caller can commit the claim and work outside the transaction.
/// Without one, the caller works inside `conn`'s transaction and deletes the
/// jobs before it commits. On PostgreSQL the rows are locked with
/// `FOR UPDATE SKIP LOCKED` so that concurrent workers claim different jobs;
/// SQLite serializes writers and needs no lock clause.
pub async fn claim_jobs<C: ConnectionTrait>(
    conn: &C,
    kinds: &[&str],
    now_ms: i64,
    limit: u64,
    lease: Option<&Lease>,
) -> Result<Vec<job::Model>, DbErr> {
    use job::Column as C;
    let mut select = job::Entity::find()
        .filter(C::Kind.is_in(kinds.iter().copied()))
        .filter(C::DueAt.lte(now_ms))
        .filter(
            Condition::any()
                .add(C::LeaseUntil.is_null())
                .add(C::LeaseUntil.lt(now_ms)),
        )
        .order_by_asc(C::DueAt)
        .order_by_asc(C::Id)
        .limit(limit);
    if conn.get_database_backend() == DbBackend::Postgres {
        select = select.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let mut jobs = select.all(conn).await?;
    let Some(lease) = lease else {
        return Ok(jobs);
    };
    if jobs.is_empty() {
        return Ok(jobs);
    }
    job::Entity::update_many()
        .col_expr(C::LeaseOwner, Expr::value(lease.owner.as_str()))
        .col_expr(C::LeaseUntil, Expr::value(lease.until_ms))
        .col_expr(C::Attempts, Expr::col(C::Attempts).add(1))
        .filter(C::Id.is_in(jobs.iter().map(|job| job.id)))
        .exec(conn)
        .await?;
    for job in &mut jobs {
        job.lease_owner = Some(lease.owner.clone());
        job.lease_until = Some(lease.until_ms);
        job.attempts += 1;
    }
    Ok(jobs)
}
