//! A signing in progress that waits for its one-time code.

use sea_orm::entity::prelude::*;

/// A row of `ses_sign_request`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "ses_sign_request")]
pub struct Model {
    /// The id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The signer.
    pub login: String,
    /// What is signed, as the document's JSON description.
    pub document: Json,
    /// The digest the codes are bound to, lower-case hex.
    pub digest: String,
    /// `pending`, `signed` or `void`.
    pub status: String,
    /// Wrong codes entered so far.
    pub attempts: i32,
    /// Codes sent so far.
    pub n_codes: i32,
    /// When it was started, in milliseconds since the Unix epoch.
    pub created_at: i64,
    /// When its status last changed.
    pub updated_at: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
