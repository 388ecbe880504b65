//! A message kept in the store instead of being sent.

use sea_orm::entity::prelude::*;

/// A row of `ses_outbox`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "ses_outbox")]
pub struct Model {
    /// The id (time-ordered).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `email` or `sms`.
    pub channel: String,
    /// The address or phone number.
    pub recipient: String,
    /// The subject of an e-mail.
    pub subject: Option<String>,
    /// The text.
    pub body: String,
    /// When it was recorded, in milliseconds since the Unix epoch.
    pub created_at: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
