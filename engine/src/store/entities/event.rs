//! An event in the inbox: delivered once, kept until its wait begins.

use sea_orm::entity::prelude::*;

/// A row of the `event` table.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "event")]
pub struct Model {
    /// The sender's id of the event; a second delivery with the same id is
    /// ignored.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The kind, such as `signature.issuance`.
    pub kind: String,
    /// The correlation key that picks the waiting instance.
    pub correlation_key: String,
    /// The payload as JSON.
    pub payload: Json,
    /// When the inbox received it, in milliseconds since the Unix epoch.
    pub received_at: i64,
    /// When an unconsumed event is dropped, in milliseconds since the epoch.
    pub expires_at: Option<i64>,
    /// The instance that consumed it, once one did.
    pub consumed_by: Option<String>,
    /// When it was consumed.
    pub consumed_at: Option<i64>,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
