//! A request for a certificate, idempotent by its request key.

use sea_orm::entity::prelude::*;

/// A row of `ses_cert_request`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "ses_cert_request")]
pub struct Model {
    /// The request id, the correlation key of its `signature.issuance` event.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The caller's key; a second submission with it returns the same id.
    #[sea_orm(unique)]
    pub request_key: String,
    /// The user the certificate is for.
    pub login: String,
    /// The full name asked for.
    pub full_name: Option<String>,
    /// The e-mail address asked for.
    pub email: Option<String>,
    /// The phone number asked for.
    pub phone: Option<String>,
    /// Whether a valid certificate of the user may be replaced.
    pub replace: bool,
    /// Who asked: `process`, `operator` or `automatic`.
    pub origin: String,
    /// `pending`, `issued` or `rejected`.
    pub status: String,
    /// Why it was rejected.
    pub reason: Option<String>,
    /// The serial of the certificate issued.
    pub serial: Option<String>,
    /// When it was submitted, in milliseconds since the Unix epoch.
    pub created_at: i64,
    /// When it was decided.
    pub decided_at: Option<i64>,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
