//! The SES module's migrations, recorded in `seaql_migrations_ses` so that
//! they coexist with the engine's in one database.

mod m0001_ses;

use sea_orm_migration::prelude::*;

/// Applies the SES module's migrations in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migration_table_name() -> DynIden {
        Alias::new("seaql_migrations_ses").into_iden()
    }

    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m0001_ses::Migration)]
    }
}
