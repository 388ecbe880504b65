//! A person's open tasks are listed oldest first: the index on the
//! assignee also orders by opening time, so the listing reads the index
//! in order instead of sorting every open task of that person.

use sea_orm_migration::prelude::*;

use crate::store::entities::task;

#[derive(DeriveMigrationName)]
pub struct Migration;

const OLD: &str = "ix_task_assignee";
const NEW: &str = "ix_task_assignee_created";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(NEW)
                    .table(task::Entity)
                    .col(task::Column::Assignee)
                    .col(task::Column::CreatedAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(Index::drop().name(OLD).table(task::Entity).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(OLD)
                    .table(task::Entity)
                    .col(task::Column::Assignee)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(Index::drop().name(NEW).table(task::Entity).to_owned())
            .await
    }
}
