//! Read-only views for operators: instances, one instance in full, its
//! history, open tasks.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use serde_json::{Map, Value};

use super::{Engine, Error};
use crate::definition::Definition;
use crate::history::{self, Line};
use crate::runtime::{InstanceState, Status, Wait};
use crate::store;
use crate::store::entities::{history as history_row, instance, job, wait};

/// One line of `sesflow instances`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InstanceSummary {
    /// The instance id.
    pub id: String,
    /// The process.
    pub process: String,
    /// Its version.
    pub version: i32,
    /// `active`, `incident`, `completed` or `cancelled`.
    pub status: String,
    /// The outcome, once completed.
    pub outcome: Option<String>,
    /// The open incident's message.
    pub incident: Option<String>,
    /// Who started it.
    pub initiator: Option<String>,
    /// When it started (ms since the Unix epoch).
    pub created_at: i64,
    /// When it last changed.
    pub updated_at: i64,
}

/// A token as shown.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TokenView {
    /// The token id.
    pub id: u64,
    /// The node it is on.
    pub node: String,
    /// What it waits for: `task`, `timer`, `event`, `incident`, ...
    pub wait: String,
    /// The event kind and key, or the incident message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// An open task as shown.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaskView {
    /// The task id (`INSTANCE.TOKEN`).
    pub id: String,
    /// The instance.
    pub instance_id: String,
    /// The node.
    pub node: String,
    /// `task` or `sign`.
    pub kind: String,
    /// Who it is assigned to.
    pub assignee: Option<String>,
    /// The node's title.
    pub title: Option<String>,
    /// The variables the form fills.
    pub form: Vec<String>,
    /// When it was opened.
    pub created_at: i64,
}

/// Everything `sesflow show` prints about one instance.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InstanceView {
    /// The summary line.
    #[serde(flatten)]
    pub summary: InstanceSummary,
    /// The revision (number of committed changes).
    pub rev: i64,
    /// Variables by name (unset ones left out).
    pub variables: Map<String, Value>,
    /// Where the tokens are.
    pub tokens: Vec<TokenView>,
    /// Joins some incoming flows reached: per join, arrivals per source.
    pub joins: Map<String, Value>,
    /// Open tasks.
    pub tasks: Vec<TaskView>,
    /// Event waits: kind and key per token.
    pub waits: Vec<Value>,
    /// Scheduled jobs: kind, node, token and due time.
    pub jobs: Vec<Value>,
}

impl Engine {
    /// Instances, newest first, filtered by status and process.
    pub async fn instances(
        &self,
        status: Option<Status>,
        process: Option<&str>,
        limit: u64,
    ) -> Result<Vec<InstanceSummary>, Error> {
        let mut select = instance::Entity::find();
        if let Some(status) = status {
            select = select.filter(instance::Column::Status.eq(status.name()));
        }
        if let Some(process) = process {
            select = select.filter(instance::Column::Process.eq(process));
        }
        let rows = select
            .order_by_desc(instance::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(summary).collect())
    }

    /// How many instances there are, filtered by status and process.
    pub async fn count_instances(
        &self,
        status: Option<Status>,
        process: Option<&str>,
    ) -> Result<u64, Error> {
        use sea_orm::PaginatorTrait;
        let mut select = instance::Entity::find();
        if let Some(status) = status {
            select = select.filter(instance::Column::Status.eq(status.name()));
        }
        if let Some(process) = process {
            select = select.filter(instance::Column::Process.eq(process));
        }
        Ok(select.count(&self.db).await?)
    }

    /// One instance in full.
    pub async fn show(&self, id: &str) -> Result<InstanceView, Error> {
        let row = instance::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::no_instance(id))?;
        let def = self.instance_definition(id).await?;
        let state = InstanceState::decode(&row.state).map_err(|error| Error::Corrupt {
            what: "instance",
            id: id.to_owned(),
            message: error.to_string(),
        })?;
        let variables = def
            .variables
            .iter()
            .zip(&state.vars)
            .filter(|(_, value)| !value.is_null())
            .map(|(var, value)| (var.name.clone(), value.clone()))
            .collect();
        Ok(InstanceView {
            rev: row.rev,
            summary: summary(row),
            variables,
            tokens: token_views(&def, &state),
            joins: join_views(&def, &state),
            tasks: self.task_rows(Some(id), None).await?,
            waits: self.wait_rows(id).await?,
            jobs: self.job_rows(id).await?,
        })
    }

    async fn wait_rows(&self, id: &str) -> Result<Vec<Value>, Error> {
        let rows = wait::Entity::find()
            .filter(wait::Column::InstanceId.eq(id))
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|wait| {
                serde_json::json!({"token": wait.token_id, "node": wait.node_id,
                    "kind": wait.kind, "key": wait.correlation_key})
            })
            .collect())
    }

    async fn job_rows(&self, id: &str) -> Result<Vec<Value>, Error> {
        let rows = job::Entity::find()
            .filter(job::Column::InstanceId.eq(id))
            .order_by_asc(job::Column::DueAt)
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|job| {
                serde_json::json!({"kind": job.kind, "node": job.node_id,
                    "token": job.token_id, "due_at": job.due_at, "attempts": job.attempts})
            })
            .collect())
    }

    /// The history of instance `id`, record by record, oldest first.
    pub async fn history(&self, id: &str) -> Result<Vec<Line>, Error> {
        let rows = history_row::Entity::find()
            .filter(history_row::Column::InstanceId.eq(id))
            .order_by_asc(history_row::Column::Rev)
            .all(&self.db)
            .await?;
        if rows.is_empty()
            && instance::Entity::find_by_id(id.to_owned())
                .one(&self.db)
                .await?
                .is_none()
        {
            return Err(Error::no_instance(id));
        }
        let mut lines = Vec::new();
        for row in rows {
            let records = store::packing::unpack(&row.records).map_err(|error| Error::Corrupt {
                what: "history",
                id: format!("{id}@{}", row.rev),
                message: error.to_string(),
            })?;
            for (seq, record) in records.into_iter().enumerate() {
                lines.push(Line {
                    v: history::FORMAT,
                    instance: id.to_owned(),
                    rev: row.rev,
                    seq: u32::try_from(seq).unwrap_or(u32::MAX),
                    at: row.at,
                    record,
                });
            }
        }
        Ok(lines)
    }

    /// Open tasks, oldest first, optionally only those of `assignee`.
    pub async fn tasks(&self, assignee: Option<&str>) -> Result<Vec<TaskView>, Error> {
        self.task_rows(None, assignee).await
    }

    async fn task_rows(
        &self,
        instance_id: Option<&str>,
        assignee: Option<&str>,
    ) -> Result<Vec<TaskView>, Error> {
        let rows = store::backend::load_tasks(&self.db, instance_id, assignee).await?;
        Ok(rows
            .into_iter()
            .map(|row| TaskView {
                form: serde_json::from_str(&row.form).unwrap_or_default(),
                id: row.id,
                instance_id: row.instance_id,
                node: row.node_id,
                kind: row.kind,
                assignee: row.assignee,
                title: row.title,
                created_at: row.created_at,
            })
            .collect())
    }
}

fn summary(row: instance::Model) -> InstanceSummary {
    InstanceSummary {
        id: row.id,
        process: row.process,
        version: row.version,
        status: row.status,
        outcome: row.outcome,
        incident: row.incident,
        initiator: row.initiator,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

fn node_id(def: &Definition, ix: usize) -> String {
    def.nodes
        .get(ix)
        .map_or("?", |node| node.id.as_str())
        .to_owned()
}

fn token_views(def: &Definition, state: &InstanceState) -> Vec<TokenView> {
    state
        .tokens
        .iter()
        .map(|token| TokenView {
            id: token.id,
            node: node_id(def, token.node),
            wait: token.wait.name().to_owned(),
            detail: match &token.wait {
                Wait::Event { kind, key } => Some(format!("{kind} key={key}")),
                Wait::Incident { message } => Some(message.clone()),
                _ => None,
            },
        })
        .collect()
}

fn join_views(def: &Definition, state: &InstanceState) -> Map<String, Value> {
    state
        .joins
        .iter()
        .map(|join| {
            let arrived: Map<String, Value> = join
                .arrived
                .iter()
                .map(|(from, count)| (node_id(def, *from), Value::from(*count)))
                .collect();
            (node_id(def, join.node), Value::Object(arrived))
        })
        .collect()
}
