//! A one-time code, stored as a keyed hash.

use sea_orm::entity::prelude::*;

/// A row of `ses_code`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "ses_code")]
pub struct Model {
    /// The id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The signing it confirms.
    pub sign_request_id: String,
    /// The signer.
    pub login: String,
    /// HMAC-SHA-256 of the code, keyed from the master key, hex.
    pub code_hash: String,
    /// The channels it was sent through, comma-separated.
    pub channels: String,
    /// When it was sent, in milliseconds since the Unix epoch.
    pub sent_at: i64,
    /// When it stops being accepted.
    pub expires_at: i64,
    /// When it was used; a used code is never accepted again.
    pub used_at: Option<i64>,
    /// Whether a newer code replaced it.
    pub superseded: bool,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
