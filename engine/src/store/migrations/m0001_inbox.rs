//! The event inbox.

use sea_orm_migration::prelude::*;

use crate::store::entities::event;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(event::Entity)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(event::Column::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(event::Column::Kind).string().not_null())
                    .col(
                        ColumnDef::new(event::Column::CorrelationKey)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(event::Column::Payload)
                            .json_binary()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(event::Column::ReceivedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(event::Column::ExpiresAt).big_integer())
                    .col(ColumnDef::new(event::Column::ConsumedBy).string())
                    .col(ColumnDef::new(event::Column::ConsumedAt).big_integer())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_event_kind_key")
                    .table(event::Entity)
                    .col(event::Column::Kind)
                    .col(event::Column::CorrelationKey)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(event::Entity).to_owned())
            .await
    }
}
