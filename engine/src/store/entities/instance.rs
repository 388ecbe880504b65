//! A process instance: its compact state (tokens and variables) and a
//! revision checked on every update so that one writer wins.

use sea_orm::entity::prelude::*;

/// A row of the `instance` table.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "instance")]
pub struct Model {
    /// The instance id (a UUID v7, so ids sort by creation).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The process it runs.
    pub process: String,
    /// The version of the process it runs; kept for its whole life.
    pub version: i32,
    /// `active`, `incident`, `completed` or `cancelled`.
    pub status: String,
    /// Incremented by every committed change; updates check it.
    pub rev: i64,
    /// The runtime state (tokens, variables, joins) as compact JSON.
    pub state: String,
    /// The outcome of the end reached, once completed.
    pub outcome: Option<String>,
    /// What the open incident says, while there is one.
    pub incident: Option<String>,
    /// Who started it, if known.
    pub initiator: Option<String>,
    /// When it was started, in milliseconds since the Unix epoch.
    pub created_at: i64,
    /// When it last changed, in milliseconds since the Unix epoch.
    pub updated_at: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
