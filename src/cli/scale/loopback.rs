//! The loopback activity with its effects in a database table, for tests
//! and measurements that run several worker processes.
//!
//! With `SESFLOW_LOOPBACK_ACTIVITY` set to a database URL, each call adds
//! its idempotency key to the table `loopback_effect` once (a repeated key
//! counts another call on the same row) and answers `req-KEY`: a stand-in
//! for a remote service that deduplicates by key, shared by every worker.

use std::time::Duration;

use async_trait::async_trait;
use sea_orm::sea_query::{Alias, ColumnDef, Expr, OnConflict, Query, Table};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use serde_json::json;
use sesflow_engine::activity::{self, Activity, Call, Outcome};
use tokio::sync::OnceCell;

/// The table that holds the effects.
pub const TABLE: &str = "loopback_effect";

/// Whether `target` (the value of the loopback variable) names a database.
pub fn is_database(target: &str) -> bool {
    target.starts_with("sqlite:") || target.starts_with("postgres")
}

/// The loopback activity over the database at its URL.
pub struct Ledger {
    url: String,
    db: OnceCell<DatabaseConnection>,
}

impl Ledger {
    /// A ledger at `url`, connected on the first call.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            db: OnceCell::new(),
        }
    }

    async fn open(&self) -> Result<DatabaseConnection, DbErr> {
        let db = sesflow_engine::store::connect(&self.url)
            .await
            .map_err(|error| DbErr::Custom(error.to_string()))?;
        let create = Table::create()
            .table(Alias::new(TABLE))
            .if_not_exists()
            .col(
                ColumnDef::new(Alias::new("key"))
                    .string()
                    .not_null()
                    .primary_key(),
            )
            .col(ColumnDef::new(Alias::new("calls")).big_integer().not_null())
            .col(
                ColumnDef::new(Alias::new("first_at"))
                    .big_integer()
                    .not_null(),
            )
            .to_owned();
        let statement = db.get_database_backend().build(&create);
        // workers starting together may race to create it: the loser retries
        let mut n_tries = 0;
        while let Err(error) = db.execute(statement.clone()).await {
            n_tries += 1;
            if n_tries == 3 {
                return Err(error);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(db)
    }
}

/// How many effects the ledger in `db` holds, and how many calls made them.
pub async fn count(db: &DatabaseConnection) -> Result<(i64, i64), DbErr> {
    let select = Query::select()
        .expr_as(Expr::col(Alias::new("key")).count(), Alias::new("effects"))
        .expr_as(
            Expr::col(Alias::new("calls"))
                .sum()
                .cast_as(Alias::new("BIGINT")),
            Alias::new("calls"),
        )
        .from(Alias::new(TABLE))
        .to_owned();
    let row = db
        .query_one(db.get_database_backend().build(&select))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(TABLE.to_owned()))?;
    let calls: Option<i64> = row.try_get("", "calls")?;
    Ok((row.try_get("", "effects")?, calls.unwrap_or(0)))
}

#[async_trait]
impl Activity for Ledger {
    async fn execute(&self, call: Call) -> Result<Outcome, activity::Error> {
        let key = call.key.to_string();
        let unavailable =
            |error: DbErr| activity::Error::Unavailable(format!("loopback ledger: {error}"));
        let db = self
            .db
            .get_or_try_init(|| self.open())
            .await
            .map_err(unavailable)?;
        let calls = Alias::new("calls");
        let insert = Query::insert()
            .into_table(Alias::new(TABLE))
            .columns([Alias::new("key"), calls.clone(), Alias::new("first_at")])
            .values([key.clone().into(), 1i64.into(), call.now_ms.into()])
            .map_err(|error| unavailable(DbErr::Custom(error.to_string())))?
            .on_conflict(
                OnConflict::column(Alias::new("key"))
                    .value(calls.clone(), Expr::col((Alias::new(TABLE), calls)).add(1))
                    .to_owned(),
            )
            .to_owned();
        db.execute(db.get_database_backend().build(&insert))
            .await
            .map_err(unavailable)?;
        Ok(Outcome {
            output: json!(format!("req-{key}")),
        })
    }
}
