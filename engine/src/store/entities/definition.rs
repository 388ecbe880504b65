//! A deployed schema: its source, kept so that instances run on the version
//! they started with.

use sea_orm::entity::prelude::*;

/// A row of the `definition` table.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "definition")]
pub struct Model {
    /// The process id the schema declares.
    #[sea_orm(primary_key, auto_increment = false)]
    pub process: String,
    /// The version the schema declares.
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i32,
    /// SHA-256 hex of `source`; a redeploy with another digest is refused.
    pub digest: String,
    /// The title, if the schema has one.
    pub title: Option<String>,
    /// The YAML text as deployed.
    pub source: String,
    /// When it was deployed, in milliseconds since the Unix epoch.
    pub deployed_at: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
