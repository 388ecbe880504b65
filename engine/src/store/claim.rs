//! Claiming due jobs, and the leases that hold claimed jobs.
//!
//! A lease names its owner (a worker) and a deadline. Its owner renews it
//! while working, releases it when stopping, and others take the job over
//! once the deadline has passed.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait,
};

use super::backend;
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
/// jobs before it commits. Concurrent workers claim different jobs (see
/// [`backend::skip_locked`]).
pub async fn claim_jobs<C: ConnectionTrait>(
    conn: &C,
    kinds: &[&str],
    now_ms: i64,
    limit: u64,
    lease: Option<&Lease>,
) -> Result<Vec<job::Model>, DbErr> {
    use job::Column as C;
    let select = job::Entity::find()
        .filter(C::Kind.is_in(kinds.iter().copied()))
        .filter(C::DueAt.lte(now_ms))
        .filter(unheld(now_ms))
        .order_by_asc(C::DueAt)
        .order_by_asc(C::Id)
        .limit(limit);
    let mut jobs = backend::skip_locked(select, conn.get_database_backend())
        .all(conn)
        .await?;
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

/// Gives back jobs `owner` holds: those of `ids`, or all of them. Their
/// claim does not count as an attempt. Returns how many were released.
pub async fn release_jobs<C: ConnectionTrait>(
    conn: &C,
    owner: &str,
    ids: Option<&[i64]>,
) -> Result<u64, DbErr> {
    use job::Column as C;
    let mut update = job::Entity::update_many()
        .col_expr(C::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(C::LeaseUntil, Expr::value(Option::<i64>::None))
        .col_expr(C::Attempts, Expr::col(C::Attempts).sub(1))
        .filter(C::LeaseOwner.eq(owner));
    if let Some(ids) = ids {
        if ids.is_empty() {
            return Ok(0);
        }
        update = update.filter(C::Id.is_in(ids.iter().copied()));
    }
    let released = update.exec(conn).await?.rows_affected;
    if released > 0 {
        backend::announce_jobs(conn).await?;
    }
    Ok(released)
}

/// Moves the deadline of the leases `owner` holds to `until_ms`. Jobs that
/// another transaction has locked are left alone (see
/// [`backend::skip_locked`]): their holder is recording or releasing them.
/// Returns how many leases it renewed.
pub async fn renew_leases<C: ConnectionTrait>(
    conn: &C,
    owner: &str,
    until_ms: i64,
) -> Result<u64, DbErr> {
    use job::Column as C;
    let held = job::Entity::find()
        .select_only()
        .column(C::Id)
        .filter(C::LeaseOwner.eq(owner));
    let held = backend::skip_locked(held, conn.get_database_backend()).into_query();
    let renewed = job::Entity::update_many()
        .col_expr(C::LeaseUntil, Expr::value(until_ms))
        .filter(C::Id.in_subquery(held))
        .exec(conn)
        .await?;
    Ok(renewed.rows_affected)
}

/// When the next job falls due or a lease runs out, whichever is first; `None`
/// when there are no jobs.
pub async fn next_due<C: ConnectionTrait>(conn: &C) -> Result<Option<i64>, DbErr> {
    use job::Column as C;
    let due = smallest(conn, C::DueAt, C::LeaseOwner.is_null()).await?;
    let lease_end = smallest(conn, C::LeaseUntil, C::LeaseUntil.is_not_null()).await?;
    Ok(match (due, lease_end) {
        (Some(due), Some(end)) => Some(due.min(end)),
        (due, end) => due.or(end),
    })
}

/// The smallest value of `column` among the jobs that match `filter`.
async fn smallest<C: ConnectionTrait>(
    conn: &C,
    column: job::Column,
    filter: sea_orm::sea_query::SimpleExpr,
) -> Result<Option<i64>, DbErr> {
    let found: Option<Option<i64>> = job::Entity::find()
        .select_only()
        .column_as(column.min(), "smallest")
        .filter(filter)
        .into_tuple()
        .one(conn)
        .await?;
    Ok(found.flatten())
}

/// Jobs whose lease runs at `now_ms`, by owner and id.
pub async fn held_jobs<C: ConnectionTrait>(
    conn: &C,
    now_ms: i64,
) -> Result<Vec<job::Model>, DbErr> {
    use job::Column as C;
    job::Entity::find()
        .filter(C::LeaseOwner.is_not_null())
        .filter(C::LeaseUntil.gte(now_ms))
        .order_by_asc(C::LeaseOwner)
        .order_by_asc(C::Id)
        .all(conn)
        .await
}

/// Jobs nobody holds at `now_ms`: never claimed, released, or whose lease
/// ran out.
fn unheld(now_ms: i64) -> Condition {
    use job::Column as C;
    Condition::any()
        .add(C::LeaseUntil.is_null())
        .add(C::LeaseUntil.lt(now_ms))
}
