//! The engine's schema migrations, shared by SQLite and PostgreSQL.

mod m0001_inbox;
mod m0002_runtime;
mod m0003_worker;
mod m0004_packed_history;
mod m0005_task_order;

use sea_orm_migration::prelude::*;

/// Applies the engine's migrations in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_inbox::Migration),
            Box::new(m0002_runtime::Migration),
            Box::new(m0003_worker::Migration),
            Box::new(m0004_packed_history::Migration),
            Box::new(m0005_task_order::Migration),
        ]
    }
}
