//! Where SQLite and PostgreSQL differ, in one place.
//!
//! - Claiming: PostgreSQL locks claimed job rows with `FOR UPDATE SKIP
//!   LOCKED`, so that concurrent workers take different jobs; SQLite has one
//!   writer at a time and needs no lock clause.
//! - Instances: PostgreSQL locks an instance row when a change loads it
//!   (`FOR UPDATE`), so that two workers changing one instance wait for each
//!   other instead of one failing on the revision check and redoing its
//!   whole batch. SQLite's single writer gives the same order.
//! - Writing transactions: on SQLite a worker's transaction takes the write
//!   lock when it begins (as `BEGIN IMMEDIATE` would), so that concurrent
//!   workers queue under the busy timeout instead of failing on a stale
//!   read snapshot.
//! - Migrating: processes that open one PostgreSQL database at once
//!   migrate it one after the other, under an advisory lock.
//! - Bulk updates of instances: PostgreSQL joins the rows to one
//!   `UPDATE ... FROM (VALUES ...)`; SQLite runs one prepared `UPDATE` per
//!   row, all sent as one script and kept prepared between batches, which
//!   costs it less than materializing and joining the values.
//! - Loading many instances: sqlx hands SQLite's rows from its worker
//!   thread one by one, each a wake-up of the engine's thread; SQLite
//!   returns the rows of a batch as one JSON array in one row instead.
//!   PostgreSQL selects them and locks them (`FOR UPDATE`). Listing open
//!   tasks works the same way.
//! - Column types: history rows hold bytes (packed records); SQLite keeps
//!   them in the existing column, PostgreSQL's becomes `bytea`.
//! - Waking: PostgreSQL tells idle workers about new jobs with
//!   `NOTIFY sesflow_job`, sent at commit, and a worker listens with
//!   `LISTEN`; SQLite workers poll.

use sea_orm::sea_query::{LockBehavior, LockType};
use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, EntityTrait,
    QuerySelect, Select, Statement, TransactionTrait,
};

/// The notification channel on which new jobs are announced.
pub const JOB_CHANNEL: &str = "sesflow_job";

/// `select` with its rows locked for the transaction, skipping rows that
/// other transactions hold (PostgreSQL); unchanged on SQLite.
pub fn skip_locked<E: EntityTrait>(select: Select<E>, backend: DbBackend) -> Select<E> {
    match backend {
        DbBackend::Postgres => {
            select.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        }
        DbBackend::Sqlite | DbBackend::MySql => select,
    }
}

/// `select` with its rows locked until the transaction ends, waiting for
/// other holders (PostgreSQL); unchanged on SQLite.
pub fn lock_rows<E: EntityTrait>(select: Select<E>, backend: DbBackend) -> Select<E> {
    match backend {
        DbBackend::Postgres => select.lock(LockType::Update),
        DbBackend::Sqlite | DbBackend::MySql => select,
    }
}

/// Begins a transaction that is going to write.
///
/// On SQLite the write lock is taken at once by a statement that writes
/// nothing, so the transaction waits its turn (up to the busy timeout)
/// before it reads anything; a deferred transaction that read first would
/// fail when another process committed in between.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let txn = db.begin().await?;
    if txn.get_database_backend() == DbBackend::Sqlite {
        txn.execute_unprepared("DELETE FROM job WHERE 0").await?;
    }
    Ok(txn)
}

/// What a change reads of an instance row: the columns it needs, not the
/// ones it only writes.
#[derive(Debug, sea_orm::DerivePartialModel, sea_orm::FromQueryResult, serde::Deserialize)]
#[sea_orm(entity = "crate::store::entities::instance::Entity")]
pub struct StoredInstance {
    /// The id.
    pub id: String,
    /// The process.
    pub process: String,
    /// Its version.
    pub version: i32,
    /// The revision read.
    pub rev: i64,
    /// The compact state.
    pub state: String,
    /// When it started.
    pub created_at: i64,
}

/// The instances `ids` that exist (locked until the transaction ends, on
/// PostgreSQL).
pub async fn load_instances<C: ConnectionTrait>(
    conn: &C,
    ids: &[String],
) -> Result<Vec<StoredInstance>, DbErr> {
    use crate::store::entities::instance;
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
    if conn.get_database_backend() != DbBackend::Sqlite {
        let select = instance::Entity::find()
            .filter(instance::Column::Id.is_in(ids.iter().cloned()))
            .order_by_asc(instance::Column::Id);
        return lock_rows(select, conn.get_database_backend())
            .into_partial_model::<StoredInstance>()
            .all(conn)
            .await;
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks = vec!["?"; ids.len()].join(", ");
    let sql = format!(
        "SELECT json_group_array(json_object('id', id, 'process', process, \
         'version', version, 'rev', rev, 'state', state, 'created_at', created_at)) AS rows \
         FROM instance WHERE id IN ({marks})"
    );
    let values = ids.iter().map(|id| id.as_str().into());
    let row = conn
        .query_one(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            sql,
            values,
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("no answer to an aggregate".into()))?;
    let text: String = row.try_get("", "rows")?;
    serde_json::from_str(&text).map_err(|error| DbErr::Json(error.to_string()))
}

/// How many tasks one row of a listing carries (SQLite).
const TASK_PAGE: usize = 10_000;

/// The open tasks, optionally only those of instance `instance_id` and of
/// `assignee`, oldest first (ties by task id), as they stood at one moment.
pub async fn load_tasks<C: ConnectionTrait + TransactionTrait>(
    conn: &C,
    instance_id: Option<&str>,
    assignee: Option<&str>,
) -> Result<Vec<crate::store::entities::task::Model>, DbErr> {
    use crate::store::entities::task;
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
    if conn.get_database_backend() != DbBackend::Sqlite {
        let mut select = task::Entity::find();
        if let Some(instance_id) = instance_id {
            select = select.filter(task::Column::InstanceId.eq(instance_id));
        }
        if let Some(assignee) = assignee {
            select = select.filter(task::Column::Assignee.eq(assignee));
        }
        return select
            .order_by_asc(task::Column::CreatedAt)
            .order_by_asc(task::Column::Id)
            .all(conn)
            .await;
    }
    let mut filters = vec!["(created_at, rowid) > (?, ?)"];
    let mut fixed: Vec<sea_orm::Value> = Vec::new();
    if let Some(instance_id) = instance_id {
        filters.push("instance_id = ?");
        fixed.push(instance_id.into());
    }
    if let Some(assignee) = assignee {
        filters.push("assignee = ?");
        fixed.push(assignee.into());
    }
    // Pages of TASK_PAGE tasks, each one row holding a JSON array, so that
    // no one value comes near SQLite's limit on the length of a string. A
    // page starts after the last (created_at, rowid) of the one before,
    // which the indexes on created_at give in order without sorting.
    let sql = format!(
        "SELECT json_group_array(json_array(json_array(id, instance_id, token_id, node_id, \
           kind, assignee, title, form, created_at), rowid)) AS rows FROM (\
           SELECT rowid, * FROM task WHERE {} ORDER BY created_at, rowid LIMIT {TASK_PAGE})",
        filters.join(" AND ")
    );
    // Every page reads the same snapshot: one read transaction holds it, so
    // that tasks completed and opened while the listing runs do not show up
    // beside the ones they replaced.
    let snapshot = conn.begin().await?;
    let mut tasks: Vec<task::Model> = Vec::new();
    let mut after = (i64::MIN, i64::MIN);
    loop {
        let mut values: Vec<sea_orm::Value> = vec![after.0.into(), after.1.into()];
        values.extend(fixed.iter().cloned());
        let statement = Statement::from_sql_and_values(DbBackend::Sqlite, sql.clone(), values);
        let row = snapshot
            .query_one(statement)
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("no answer to an aggregate".into()))?;
        let text: String = row.try_get("", "rows")?;
        // Each task is its columns in the order of the model, and its rowid.
        let page: Vec<(task::Model, i64)> =
            serde_json::from_str(&text).map_err(|error| DbErr::Json(error.to_string()))?;
        let Some(last) = page
            .iter()
            .map(|(task, rowid)| (task.created_at, *rowid))
            .max()
        else {
            break;
        };
        after = last;
        let full = page.len() == TASK_PAGE;
        tasks.extend(page.into_iter().map(|(task, _)| task));
        if !full {
            break;
        }
    }
    snapshot.commit().await?;
    tasks.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(tasks)
}

/// The SQL that updates `n` instance rows, each only if its revision is
/// still the one read. It takes seven values per row, in this order: the
/// status, the state, the outcome, the incident, the update time, the id
/// and the revision read.
pub fn update_instances_sql(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => {
            let tuples: Vec<String> = (0..n)
                .map(|row| {
                    let p = |k: usize| row * 7 + k;
                    format!(
                        "(CAST(${} AS TEXT), CAST(${} AS TEXT), CAST(${} AS TEXT), \
                         CAST(${} AS TEXT), CAST(${} AS BIGINT), CAST(${} AS TEXT), \
                         CAST(${} AS BIGINT))",
                        p(1),
                        p(2),
                        p(3),
                        p(4),
                        p(5),
                        p(6),
                        p(7)
                    )
                })
                .collect();
            format!(
                "UPDATE instance SET status = v.column1, state = v.column2, \
                 outcome = v.column3, incident = v.column4, updated_at = v.column5, \
                 rev = v.column7 + 1 FROM (VALUES {}) AS v \
                 WHERE instance.id = v.column6 AND instance.rev = v.column7",
                tuples.join(", ")
            )
        }
        DbBackend::Sqlite | DbBackend::MySql => {
            const ONE: &str = "UPDATE instance SET status = ?, state = ?, outcome = ?, \
                               incident = ?, updated_at = ?, rev = rev + 1 \
                               WHERE id = ? AND rev = ?;";
            ONE.repeat(n)
        }
    }
}

/// Lets the history table hold packed records: PostgreSQL's text column
/// becomes `bytea`, its rows kept as they are (plain JSON, which
/// `store::packing` reads); SQLite stores bytes in any column.
pub async fn history_records_to_bytes<C: ConnectionTrait>(conn: &C) -> Result<(), DbErr> {
    if conn.get_database_backend() == DbBackend::Postgres {
        conn.execute_unprepared(
            "ALTER TABLE history ALTER COLUMN records TYPE bytea \
             USING convert_to(records, 'UTF8')",
        )
        .await?;
    }
    Ok(())
}

/// The advisory lock key held while migrating (PostgreSQL).
const MIGRATION_LOCK: i64 = 0x5e5f_1042;

/// Begins the transaction that migrations run in, so that they apply
/// whole or not at all. PostgreSQL also holds off other processes
/// migrating the same database at once, with an advisory lock that the
/// commit releases; on SQLite the second writer fails on a busy database
/// and migrates again (see [`super::open_sized`]).
pub async fn begin_migration(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let txn = db.begin().await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
            .await?;
    }
    Ok(txn)
}

/// Tells idle workers that jobs were added (PostgreSQL: a notification on
/// [`JOB_CHANNEL`], delivered when the transaction commits, and dropped if
/// it rolls back). Does nothing on SQLite, whose workers poll.
pub async fn announce_jobs<C: ConnectionTrait>(conn: &C) -> Result<(), DbErr> {
    if conn.get_database_backend() == DbBackend::Postgres {
        conn.execute_unprepared(&format!("NOTIFY {JOB_CHANNEL}"))
            .await?;
    }
    Ok(())
}

/// What [`Listener::next`] heard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heard {
    /// Jobs were announced.
    Jobs,
    /// The connection was lost and made again: announcements may have been
    /// missed in between.
    Reconnected,
}

/// Listens for job announcements on PostgreSQL, on a connection of its own
/// taken from the pool.
pub struct Listener {
    inner: PgListener,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener").finish_non_exhaustive()
    }
}

impl Listener {
    /// Starts listening on `db`; `None` on SQLite, which has no
    /// notifications.
    pub async fn open(db: &DatabaseConnection) -> Result<Option<Self>, DbErr> {
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(None);
        }
        let pool = db.get_postgres_connection_pool();
        let mut inner = PgListener::connect_with(pool).await.map_err(conn_err)?;
        inner.listen(JOB_CHANNEL).await.map_err(conn_err)?;
        Ok(Some(Self { inner }))
    }

    /// Waits for the next announcement. A lost connection is made again
    /// (and listening resumed) before this returns [`Heard::Reconnected`];
    /// an error means it could not be made again yet.
    pub async fn next(&mut self) -> Result<Heard, DbErr> {
        match self.inner.try_recv().await.map_err(conn_err)? {
            Some(_) => {
                // announcements that came together wake the worker once
                while self.inner.next_buffered().is_some() {}
                Ok(Heard::Jobs)
            }
            None => Ok(Heard::Reconnected),
        }
    }
}

fn conn_err(error: sea_orm::sqlx::Error) -> DbErr {
    DbErr::Conn(sea_orm::RuntimeErr::SqlxError(error))
}
