//! A person who may hold a certificate and sign.

use sea_orm::entity::prelude::*;

/// A row of `ses_user`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "ses_user")]
pub struct Model {
    /// The login, unique.
    #[sea_orm(primary_key, auto_increment = false)]
    pub login: String,
    /// The full name, as it goes into certificates.
    pub full_name: String,
    /// The e-mail address, where one is known.
    pub email: Option<String>,
    /// The phone number in international form, where one is known.
    pub phone: Option<String>,
    /// The argon2id hash of the password, in PHC string form.
    pub password_hash: String,
    /// When the user was added, in milliseconds since the Unix epoch.
    pub created_at: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
