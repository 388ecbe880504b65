//! A signature made through the SES module.

use sea_orm::entity::prelude::*;

/// A row of `ses_signature`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "ses_signature")]
pub struct Model {
    /// The id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The signer.
    pub login: String,
    /// The serial of the signer's certificate.
    pub serial: String,
    /// What was signed, such as `file:report.pdf` or `app:crm/42`.
    pub target: String,
    /// The signed digest, lower-case hex.
    pub digest: String,
    /// How the signer confirmed: `password` or `password+code:email`.
    pub method: String,
    /// When it was made, in milliseconds since the Unix epoch.
    pub signed_at: i64,
    /// The detached signature file's content.
    pub record: Json,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
