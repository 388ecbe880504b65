//! An open task: a person fills a form or signs a document.

use sea_orm::entity::prelude::*;

/// A row of the `task` table.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Deserialize)]
#[sea_orm(table_name = "task")]
pub struct Model {
    /// The task id: `INSTANCE.TOKEN`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The instance it belongs to.
    pub instance_id: String,
    /// The token waiting on it.
    pub token_id: i64,
    /// The node that created it.
    pub node_id: String,
    /// `task` or `sign`.
    pub kind: String,
    /// The login it is assigned to, if any.
    pub assignee: Option<String>,
    /// The title of the node, if it has one.
    pub title: Option<String>,
    /// The variables the form fills, as a JSON list of names.
    pub form: String,
    /// When it was created, in milliseconds since the Unix epoch.
    pub created_at: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
