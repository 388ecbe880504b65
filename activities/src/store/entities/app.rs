//! An app: a named collection of items, with the fields its signatures cover.

use sea_orm::entity::prelude::*;

/// A row of `ses_app`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "ses_app")]
pub struct Model {
    /// The app's name.
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// The names of the signed fields, or null for all but system fields.
    pub signed_fields: Option<Json>,
    /// When the app's settings last changed, in milliseconds since the epoch.
    pub updated_at: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
