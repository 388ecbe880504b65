//! An entry of the audit log; it never holds a secret.

use sea_orm::entity::prelude::*;

/// A row of `ses_audit`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "ses_audit")]
pub struct Model {
    /// The id (time-ordered).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// When it happened, in milliseconds since the Unix epoch.
    pub at: i64,
    /// What happened, such as `certificate.issued`.
    pub action: String,
    /// The user concerned.
    pub login: Option<String>,
    /// The object concerned: a serial, a request id, a signature id.
    pub subject: Option<String>,
    /// Details, free of secrets.
    pub detail: Json,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
