//! History rows hold bytes: their records packed (see `store::packing`).
//!
//! SQLite keeps any value in any column, so rows of plain JSON and packed
//! rows live side by side in the existing column. PostgreSQL's column
//! becomes `bytea`, its rows converted as they are (plain JSON, read as
//! such).

use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "ALTER TABLE history ALTER COLUMN records TYPE bytea \
                     USING convert_to(records, 'UTF8')",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration(
            "packed history rows cannot be turned back into text; restore a backup \
             taken before this version instead"
                .into(),
        ))
    }
}
