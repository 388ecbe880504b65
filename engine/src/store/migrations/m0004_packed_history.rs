//! History rows hold bytes: their records packed (see `store::packing`).
//!
//! SQLite keeps any value in any column, so rows of plain JSON and packed
//! rows live side by side in the existing column. PostgreSQL's column
//! becomes `bytea`, its rows converted as they are (plain JSON, read as
//! such).

use sea_orm_migration::prelude::*;

use crate::store::backend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        backend::history_records_to_bytes(manager.get_connection()).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration(
            "packed history rows cannot be turned back into text; restore a backup \
             taken before this version instead"
                .into(),
        ))
    }
}
