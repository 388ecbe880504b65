//! A token waiting for an event of a kind with a correlation key.

use sea_orm::entity::prelude::*;

/// A row of the `wait` table.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "wait")]
pub struct Model {
    /// The waiting instance.
    #[sea_orm(primary_key, auto_increment = false)]
    pub instance_id: String,
    /// The waiting token.
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_id: i64,
    /// The node it waits on.
    pub node_id: String,
    /// The event kind it waits for.
    pub kind: String,
    /// The correlation key it waits for.
    pub correlation_key: String,
    /// When the wait began, in milliseconds since the Unix epoch.
    pub created_at: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
