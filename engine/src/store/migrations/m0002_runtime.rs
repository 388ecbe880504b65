//! The runtime's tables: definitions, instances, history, jobs, tasks, waits.

use sea_orm_migration::prelude::*;

use crate::store::entities::{definition, history, instance, job, task, wait};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            definition_table(),
            instance_table(),
            history_table(),
            job_table(),
            task_table(),
            wait_table(),
        ] {
            manager.create_table(table).await?;
        }
        for index in indexes() {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            wait::Entity.into_table_ref(),
            task::Entity.into_table_ref(),
            job::Entity.into_table_ref(),
            history::Entity.into_table_ref(),
            instance::Entity.into_table_ref(),
            definition::Entity.into_table_ref(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

fn text(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).text().not_null().to_owned()
}

fn string(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).string().not_null().to_owned()
}

fn big(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).big_integer().not_null().to_owned()
}

fn definition_table() -> TableCreateStatement {
    use definition::Column as C;
    Table::create()
        .table(definition::Entity)
        .if_not_exists()
        .col(string(C::Process))
        .col(ColumnDef::new(C::Version).integer().not_null())
        .col(string(C::Digest))
        .col(ColumnDef::new(C::Title).string())
        .col(text(C::Source))
        .col(big(C::DeployedAt))
        .primary_key(Index::create().col(C::Process).col(C::Version))
        .to_owned()
}

fn instance_table() -> TableCreateStatement {
    use instance::Column as C;
    Table::create()
        .table(instance::Entity)
        .if_not_exists()
        .col(string(C::Id).primary_key())
        .col(string(C::Process))
        .col(ColumnDef::new(C::Version).integer().not_null())
        .col(string(C::Status))
        .col(big(C::Rev))
        .col(text(C::State))
        .col(ColumnDef::new(C::Outcome).string())
        .col(ColumnDef::new(C::Incident).text())
        .col(ColumnDef::new(C::Initiator).string())
        .col(big(C::CreatedAt))
        .col(big(C::UpdatedAt))
        .to_owned()
}

fn history_table() -> TableCreateStatement {
    use history::Column as C;
    Table::create()
        .table(history::Entity)
        .if_not_exists()
        .col(string(C::InstanceId))
        .col(big(C::Rev))
        .col(big(C::At))
        .col(text(C::Records))
        .primary_key(Index::create().col(C::InstanceId).col(C::Rev))
        .to_owned()
}

fn job_table() -> TableCreateStatement {
    use job::Column as C;
    Table::create()
        .table(job::Entity)
        .if_not_exists()
        .col(
            ColumnDef::new(C::Id)
                .big_integer()
                .not_null()
                .auto_increment()
                .primary_key(),
        )
        .col(string(C::InstanceId))
        .col(big(C::TokenId))
        .col(string(C::NodeId))
        .col(string(C::Kind))
        .col(big(C::DueAt))
        .col(ColumnDef::new(C::LeaseOwner).string())
        .col(ColumnDef::new(C::LeaseUntil).big_integer())
        .col(ColumnDef::new(C::Attempts).integer().not_null().default(0))
        .col(ColumnDef::new(C::Payload).text())
        .to_owned()
}

fn task_table() -> TableCreateStatement {
    use task::Column as C;
    Table::create()
        .table(task::Entity)
        .if_not_exists()
        .col(string(C::Id).primary_key())
        .col(string(C::InstanceId))
        .col(big(C::TokenId))
        .col(string(C::NodeId))
        .col(string(C::Kind))
        .col(ColumnDef::new(C::Assignee).string())
        .col(ColumnDef::new(C::Title).string())
        .col(text(C::Form))
        .col(big(C::CreatedAt))
        .to_owned()
}

fn wait_table() -> TableCreateStatement {
    use wait::Column as C;
    Table::create()
        .table(wait::Entity)
        .if_not_exists()
        .col(string(C::InstanceId))
        .col(big(C::TokenId))
        .col(string(C::NodeId))
        .col(string(C::Kind))
        .col(string(C::CorrelationKey))
        .col(big(C::CreatedAt))
        .primary_key(Index::create().col(C::InstanceId).col(C::TokenId))
        .to_owned()
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        Index::create()
            .name("ix_instance_status")
            .table(instance::Entity)
            .col(instance::Column::Status)
            .if_not_exists()
            .to_owned(),
        Index::create()
            .name("ix_job_due")
            .table(job::Entity)
            .col(job::Column::DueAt)
            .if_not_exists()
            .to_owned(),
        Index::create()
            .name("ix_job_token")
            .table(job::Entity)
            .col(job::Column::InstanceId)
            .col(job::Column::TokenId)
            .if_not_exists()
            .to_owned(),
        Index::create()
            .name("ix_task_instance")
            .table(task::Entity)
            .col(task::Column::InstanceId)
            .if_not_exists()
            .to_owned(),
        Index::create()
            .name("ix_task_assignee")
            .table(task::Entity)
            .col(task::Column::Assignee)
            .if_not_exists()
            .to_owned(),
        Index::create()
            .name("ix_wait_kind_key")
            .table(wait::Entity)
            .col(wait::Column::Kind)
            .col(wait::Column::CorrelationKey)
            .if_not_exists()
            .to_owned(),
    ]
}
