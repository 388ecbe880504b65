//! An issued certificate and its private key, encrypted at rest.

use sea_orm::entity::prelude::*;

/// A row of `ses_certificate`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "ses_certificate")]
pub struct Model {
    /// The serial number, lower-case hex.
    #[sea_orm(primary_key, auto_increment = false)]
    pub serial: String,
    /// The holder's login.
    pub login: String,
    /// The subject, as `CN=..., UID=...`.
    pub subject: String,
    /// The holder's e-mail address in the certificate.
    pub email: Option<String>,
    /// The holder's phone number when the certificate was issued.
    pub phone: Option<String>,
    /// The certificate, DER.
    pub certificate: Vec<u8>,
    /// The private key, encrypted at rest.
    pub key: Vec<u8>,
    /// The id of the master key that encrypted `key`.
    pub key_id: String,
    /// Start of validity, in milliseconds since the Unix epoch.
    pub not_before: i64,
    /// End of validity.
    pub not_after: i64,
    /// The request it answered.
    pub request_id: String,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
    /// Why it was revoked (an RFC 5280 reason name).
    pub revocation_reason: Option<String>,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
