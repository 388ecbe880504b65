//! A worker process that runs jobs: where it runs, and its heartbeat.

use sea_orm::entity::prelude::*;

/// A row of the `worker` table.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "worker")]
pub struct Model {
    /// The worker's name, the owner in the leases it holds.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The host it runs on.
    pub host: String,
    /// Its process id on that host.
    pub pid: i64,
    /// How many tasks it runs at once.
    pub concurrency: i32,
    /// `running`, or `stopping` while it finishes the jobs in hand.
    pub state: String,
    /// How long its leases run between renewals, in milliseconds; a worker
    /// silent for longer is taken for dead.
    pub lease_ms: i64,
    /// When it started, in milliseconds since the Unix epoch.
    pub started_at: i64,
    /// When it last said it is alive.
    pub heartbeat_at: i64,
    /// Timer, timeout and retry jobs it applied so far.
    pub jobs: i64,
    /// Activity calls it made so far.
    pub calls: i64,
    /// Kept events it delivered so far.
    pub deliveries: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
