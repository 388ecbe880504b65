//! The roster of workers, and indexes for leases.

use sea_orm_migration::prelude::*;

use crate::store::entities::{job, worker};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(worker_table()).await?;
        for (name, column) in [
            ("ix_job_lease_owner", job::Column::LeaseOwner),
            ("ix_job_lease_until", job::Column::LeaseUntil),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(job::Entity)
                        .col(column)
                        .if_not_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in ["ix_job_lease_owner", "ix_job_lease_until"] {
            manager
                .drop_index(Index::drop().name(name).table(job::Entity).to_owned())
                .await?;
        }
        manager
            .drop_table(Table::drop().table(worker::Entity).to_owned())
            .await
    }
}

fn worker_table() -> TableCreateStatement {
    use worker::Column as C;
    let big = |column: C| ColumnDef::new(column).big_integer().not_null().to_owned();
    Table::create()
        .table(worker::Entity)
        .if_not_exists()
        .col(ColumnDef::new(C::Id).string().not_null().primary_key())
        .col(ColumnDef::new(C::Host).string().not_null())
        .col(big(C::Pid))
        .col(ColumnDef::new(C::Concurrency).integer().not_null())
        .col(ColumnDef::new(C::State).string().not_null())
        .col(big(C::LeaseMs))
        .col(big(C::StartedAt))
        .col(big(C::HeartbeatAt))
        .col(big(C::Jobs))
        .col(big(C::Calls))
        .col(big(C::Deliveries))
        .to_owned()
}
