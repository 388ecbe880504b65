//! The store: connections, migrations and the tables of the engine.
//!
//! Only this module knows SQL. SQLite is the embedded default (a file next
//! to the user's work); PostgreSQL serves several workers sharing one
//! database. Both run the same migrations and the same code paths; where the
//! two differ, the difference lives here.

pub mod backend;
mod bulk;
mod claim;
pub mod entities;
mod migrations;
pub mod packing;

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait;

pub use bulk::{update_instances, InstanceUpdate};
pub use claim::{claim_jobs, held_jobs, next_due, release_jobs, renew_leases, Lease};
pub use migrations::Migrator;

/// The URL used when neither `--db` nor `SESFLOW_DB` says otherwise.
pub const DEFAULT_URL: &str = "sqlite://sesflow.db";

/// Errors of the store, sorted at its edge.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL names no database this build can open.
    #[error("cannot open database `{url}`: {source}")]
    Connect {
        /// The URL as given.
        url: String,
        /// What the driver said.
        #[source]
        source: DbErr,
    },
    /// Applying the schema migrations failed.
    #[error("cannot migrate database `{url}`: {source}")]
    Migrate {
        /// The URL as given.
        url: String,
        /// What the driver said.
        #[source]
        source: DbErr,
    },
    /// A row with the same key exists already.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Any other database error.
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// How many connections a PostgreSQL pool holds unless told otherwise.
pub const DEFAULT_PG_POOL: u32 = 16;

/// Opens the database at `url`, creating an SQLite file when it is missing,
/// and brings its schema up to date.
pub async fn open(url: &str) -> Result<DatabaseConnection, Error> {
    open_sized(url, DEFAULT_PG_POOL).await
}

/// [`open`] with a pool of up to `pg_pool` connections on PostgreSQL (a
/// worker running many tasks needs more). Processes that open one database
/// at once migrate it one after the other.
pub async fn open_sized(url: &str, pg_pool: u32) -> Result<DatabaseConnection, Error> {
    let db = connect_sized(url, pg_pool).await?;
    let mut n_tries = 0;
    loop {
        let migrated = async {
            let txn = backend::begin_migration(&db).await?;
            Migrator::up(&txn, None).await?;
            txn.commit().await
        };
        match migrated.await {
            Ok(()) => return Ok(db),
            Err(source) if n_tries < 20 && is_passing(&source) => {
                n_tries += 1;
                tokio::time::sleep(Duration::from_millis(50 * n_tries)).await;
            }
            Err(source) => {
                return Err(Error::Migrate {
                    url: url.to_owned(),
                    source,
                })
            }
        }
    }
}

/// Opens the database at `url` without migrating it.
///
/// SQLite files are created when missing and run in WAL mode with
/// `synchronous=FULL`, so that a commit survives a crash or power loss.
pub async fn connect(url: &str) -> Result<DatabaseConnection, Error> {
    connect_sized(url, DEFAULT_PG_POOL).await
}

async fn connect_sized(url: &str, pg_pool: u32) -> Result<DatabaseConnection, Error> {
    let full_url = sqlite_create_mode(url);
    let mut options = ConnectOptions::new(full_url);
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30));
    if is_sqlite(url) {
        // One writer at a time is SQLite's rule; a small pool keeps readers
        // from queueing behind it while the busy timeout absorbs contention.
        options
            .max_connections(4)
            .min_connections(1)
            .map_sqlx_sqlite_opts(sqlite_options);
    } else {
        options.max_connections(pg_pool.max(2));
    }
    let db = Database::connect(options)
        .await
        .map_err(|source| Error::Connect {
            url: url.to_owned(),
            source,
        })?;
    Ok(db)
}

/// What every SQLite connection of the pool is opened with: WAL, a commit
/// synced before it returns, a busy timeout under which writers queue, and
/// a checkpoint every 10,000 pages rather than every 1,000. Rows and
/// statement results come back from sqlx's worker thread through a buffer
/// large enough for a whole chunk of a batch, so that the worker goes on
/// while the engine's thread is busy with other work.
fn sqlite_options(options: SqliteConnectOptions) -> SqliteConnectOptions {
    options
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true)
        .pragma("wal_autocheckpoint", "10000")
        .row_buffer_size(1024)
}

/// Whether `error` is passing: a busy or locked database, a serialization
/// failure or deadlock; the transaction can run again.
pub fn is_retryable(error: &Error) -> bool {
    match error {
        Error::Db(error) => is_passing(error),
        _ => false,
    }
}

fn is_passing(error: &DbErr) -> bool {
    let text = error.to_string();
    [
        "database is locked",
        "database table is locked",
        "(code: 5)",
        "(code: 517)",
        "(code: 6)",
        "40001",
        "40P01",
        "could not serialize",
        "deadlock detected",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

/// Whether `url` names an SQLite database.
pub fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

fn sqlite_create_mode(url: &str) -> String {
    if is_sqlite(url) && !url.contains("mode=") && !url.contains(":memory:") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}mode=rwc")
    } else {
        url.to_owned()
    }
}
