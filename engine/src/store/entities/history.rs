//! Append-only history: the records of one committed change of an instance.

use sea_orm::entity::prelude::*;

/// A row of the `history` table: every record one transaction added.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "history")]
pub struct Model {
    /// The instance.
    #[sea_orm(primary_key, auto_increment = false)]
    pub instance_id: String,
    /// The instance revision this change created; unique per instance.
    #[sea_orm(primary_key, auto_increment = false)]
    pub rev: i64,
    /// When it was committed, in milliseconds since the Unix epoch.
    pub at: i64,
    /// The records, packed (see `store::packing`): a format byte and a
    /// zstd frame, or a plain JSON array in rows of older versions.
    pub records: Vec<u8>,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
