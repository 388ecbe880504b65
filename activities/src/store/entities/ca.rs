//! The certificate authority of a certificate service.

use sea_orm::entity::prelude::*;

/// A row of `ses_ca`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "ses_ca")]
pub struct Model {
    /// The service the CA belongs to, such as `ses`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub service: String,
    /// The self-signed CA certificate, DER.
    pub certificate: Vec<u8>,
    /// The CA's private key, encrypted at rest.
    pub key: Vec<u8>,
    /// The id of the master key that encrypted `key`.
    pub key_id: String,
    /// The number of the last CRL issued.
    pub crl_number: i64,
    /// When the CA was created, in milliseconds since the Unix epoch.
    pub created_at: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
