//! A named group of settings, stored as versioned JSON.

use sea_orm::entity::prelude::*;

/// A row of `ses_setting`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "ses_setting")]
pub struct Model {
    /// The group's name, such as `security` or `module`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// The settings as JSON carrying a `version` field.
    pub value: Json,
    /// When they were last changed, in milliseconds since the Unix epoch.
    pub updated_at: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
