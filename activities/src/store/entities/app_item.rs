//! One version of an app item; each change adds a version.

use sea_orm::entity::prelude::*;

/// A row of `ses_app_item`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "ses_app_item")]
pub struct Model {
    /// The app.
    #[sea_orm(primary_key, auto_increment = false)]
    pub app: String,
    /// The item's id within the app.
    #[sea_orm(primary_key, auto_increment = false)]
    pub item_id: String,
    /// The version, from 1.
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i32,
    /// The item's fields, a JSON object.
    pub fields: Json,
    /// When this version was made, in milliseconds since the Unix epoch.
    pub created_at: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
