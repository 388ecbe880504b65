//! Work due at a time: timers, timeouts, retries and activity calls.

use sea_orm::entity::prelude::*;

/// A row of the `job` table.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "job")]
pub struct Model {
    /// The job id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The instance it belongs to.
    pub instance_id: String,
    /// The token it serves; a job whose token is gone does nothing.
    pub token_id: i64,
    /// The node of that token, for logs.
    pub node_id: String,
    /// `timer`, `timeout`, `retry` or `activity`.
    pub kind: String,
    /// When it is due, in milliseconds since the Unix epoch.
    pub due_at: i64,
    /// The worker holding it, while one does.
    pub lease_owner: Option<String>,
    /// When that worker's hold runs out.
    pub lease_until: Option<i64>,
    /// How many times it was tried.
    pub attempts: i32,
    /// What the job needs (an activity call's input), as JSON.
    pub payload: Option<String>,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
