//! The roster of workers: who runs where, since when, their heartbeats, and
//! the jobs they hold.
//!
//! A worker adds its row when it starts, refreshes it (and renews its
//! leases) on every heartbeat, and removes it when it stops. A worker that
//! died leaves its row behind; once its heartbeat is older than its lease
//! it is shown as `silent`, and its leases have run out for others to take
//! over.

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

use crate::driver::{millis, Engine, Error};
use crate::store::{self, entities::job, entities::worker};

use super::Tick;

/// How long the row of a silent worker is kept before a starting worker
/// removes it, in ms.
const FORGET_MS: i64 = 24 * 3600 * 1000;

/// A worker as `sesflow workers` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WorkerView {
    /// The worker's name, the owner in its leases.
    pub id: String,
    /// `running`; `stopping` while it finishes the work in hand; `silent`
    /// when its heartbeat is older than its lease (it is taken for dead);
    /// `unregistered` for a holder of leases that is not in the roster
    /// (an engine embedded in another program).
    pub state: String,
    /// The host it runs on.
    pub host: Option<String>,
    /// Its process id on that host.
    pub pid: Option<i64>,
    /// How many tasks it runs at once.
    pub concurrency: Option<i32>,
    /// When it started, ms since the Unix epoch.
    pub started_at: Option<i64>,
    /// When it last said it is alive.
    pub heartbeat_at: Option<i64>,
    /// Timer, timeout and retry jobs it applied so far.
    pub jobs: i64,
    /// Activity calls it made so far.
    pub calls: i64,
    /// Kept events it delivered so far.
    pub deliveries: i64,
    /// The jobs it holds a running lease on.
    pub holds: Vec<Held>,
}

/// A job held under a lease.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Held {
    /// The job id.
    pub job_id: i64,
    /// Its kind (`activity`, ...).
    pub kind: String,
    /// The instance it belongs to.
    pub instance_id: String,
    /// The node of its token.
    pub node_id: String,
    /// How many times it was claimed.
    pub attempts: i32,
    /// When the lease runs out, ms since the Unix epoch.
    pub lease_until: i64,
}

/// A name for a worker on this machine: `HOST-PID-XXXX`, with four random
/// hex digits so that containers sharing host name and pid differ.
pub fn default_worker_name() -> String {
    format!(
        "{}-{}-{:04x}",
        host(),
        std::process::id(),
        rand::random::<u16>()
    )
}

/// Checks a worker name given by an operator: 1 to 100 characters, none of
/// them blank or a control character.
pub fn check_worker_name(name: &str) -> Result<String, Error> {
    let fits = |c: char| !c.is_whitespace() && !c.is_control();
    if name.is_empty() || name.chars().count() > 100 || !name.chars().all(fits) {
        return Err(Error::Input(format!(
            "worker name `{name}` is not valid: use 1 to 100 characters without spaces, \
             such as `billing-1`"
        )));
    }
    Ok(name.to_owned())
}

impl Engine {
    /// The workers in the roster that are alive (or stopping), and any other
    /// holder of running leases; with `all`, silent workers too. Sorted by
    /// id.
    pub async fn workers(&self, all: bool) -> Result<Vec<WorkerView>, Error> {
        let now_ms = self.now_ms();
        let rows = worker::Entity::find()
            .order_by_asc(worker::Column::Id)
            .all(self.db())
            .await?;
        let mut views: Vec<WorkerView> = rows
            .into_iter()
            .map(|row| view(row, now_ms))
            .filter(|view| all || view.state != "silent")
            .collect();
        for job in store::held_jobs(self.db(), now_ms).await? {
            let owner = job.lease_owner.clone().unwrap_or_default();
            let holder = match views.iter_mut().position(|view| view.id == owner) {
                Some(ix) => &mut views[ix],
                None => {
                    views.push(unregistered(owner));
                    views.last_mut().expect("a view was just pushed")
                }
            };
            holder.holds.push(held(job));
        }
        views.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(views)
    }
}

/// Adds this engine's worker to the roster. A live worker of the same name
/// is refused; a silent one is replaced and its leases released, as they
/// would be taken over anyway.
pub(super) async fn register(engine: &Engine, concurrency: usize) -> Result<(), Error> {
    let config = engine.config();
    let now_ms = engine.now_ms();
    let id = config.worker_id.as_str();
    if let Some(row) = worker::Entity::find_by_id(id).one(engine.db()).await? {
        if now_ms - row.heartbeat_at <= row.lease_ms {
            return Err(Error::Input(format!(
                "a worker named `{id}` is running already on {} (pid {}, last heartbeat \
                 {} ms ago); give this one another name with `--name`",
                row.host,
                row.pid,
                now_ms - row.heartbeat_at
            )));
        }
    }
    store::release_jobs(engine.db(), id, None).await?;
    worker::Entity::delete_many()
        .filter(worker::Column::HeartbeatAt.lt(now_ms - FORGET_MS))
        .exec(engine.db())
        .await?;
    let row = worker::ActiveModel {
        id: Set(id.to_owned()),
        host: Set(host()),
        pid: Set(i64::from(std::process::id())),
        concurrency: Set(i32::try_from(concurrency).unwrap_or(i32::MAX)),
        state: Set("running".to_owned()),
        lease_ms: Set(millis(config.lease)),
        started_at: Set(now_ms),
        heartbeat_at: Set(now_ms),
        jobs: Set(0),
        calls: Set(0),
        deliveries: Set(0),
    };
    let columns = [
        worker::Column::Host,
        worker::Column::Pid,
        worker::Column::Concurrency,
        worker::Column::State,
        worker::Column::LeaseMs,
        worker::Column::StartedAt,
        worker::Column::HeartbeatAt,
        worker::Column::Jobs,
        worker::Column::Calls,
        worker::Column::Deliveries,
    ];
    worker::Entity::insert(row)
        .on_conflict(
            OnConflict::column(worker::Column::Id)
                .update_columns(columns)
                .to_owned(),
        )
        .exec_without_returning(engine.db())
        .await?;
    Ok(())
}

/// Says the worker is alive, with what it did so far, and renews its
/// leases. Returns how many jobs it holds.
pub(super) async fn beat(engine: &Engine, done: Tick) -> Result<u64, Error> {
    let config = engine.config();
    let now_ms = engine.now_ms();
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    worker::Entity::update_many()
        .col_expr(worker::Column::HeartbeatAt, Expr::value(now_ms))
        .col_expr(worker::Column::Jobs, Expr::value(count(done.jobs)))
        .col_expr(worker::Column::Calls, Expr::value(count(done.calls)))
        .col_expr(
            worker::Column::Deliveries,
            Expr::value(count(done.deliveries)),
        )
        .filter(worker::Column::Id.eq(config.worker_id.as_str()))
        .exec(engine.db())
        .await?;
    let until_ms = now_ms + millis(config.lease);
    Ok(store::renew_leases(engine.db(), &config.worker_id, until_ms).await?)
}

/// Marks the worker as stopping.
pub(super) async fn stopping(engine: &Engine) -> Result<(), Error> {
    worker::Entity::update_many()
        .col_expr(worker::Column::State, Expr::value("stopping"))
        .filter(worker::Column::Id.eq(engine.config().worker_id.as_str()))
        .exec(engine.db())
        .await?;
    Ok(())
}

/// Releases what the worker still holds and removes it from the roster.
/// Returns how many jobs it released.
pub(super) async fn deregister(engine: &Engine) -> Result<u64, Error> {
    let id = engine.config().worker_id.as_str();
    let released = store::release_jobs(engine.db(), id, None).await?;
    worker::Entity::delete_by_id(id).exec(engine.db()).await?;
    Ok(released)
}

fn view(row: worker::Model, now_ms: i64) -> WorkerView {
    let state = if now_ms - row.heartbeat_at > row.lease_ms {
        "silent".to_owned()
    } else {
        row.state
    };
    WorkerView {
        id: row.id,
        state,
        host: Some(row.host),
        pid: Some(row.pid),
        concurrency: Some(row.concurrency),
        started_at: Some(row.started_at),
        heartbeat_at: Some(row.heartbeat_at),
        jobs: row.jobs,
        calls: row.calls,
        deliveries: row.deliveries,
        holds: Vec::new(),
    }
}

fn unregistered(id: String) -> WorkerView {
    WorkerView {
        id,
        state: "unregistered".to_owned(),
        host: None,
        pid: None,
        concurrency: None,
        started_at: None,
        heartbeat_at: None,
        jobs: 0,
        calls: 0,
        deliveries: 0,
        holds: Vec::new(),
    }
}

fn held(job: job::Model) -> Held {
    Held {
        job_id: job.id,
        kind: job.kind,
        instance_id: job.instance_id,
        node_id: job.node_id,
        attempts: job.attempts,
        lease_until: job.lease_until.unwrap_or_default(),
    }
}

/// This machine's host name, as the kernel knows it.
fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_names_are_checked() {
        assert_eq!(check_worker_name("billing-1").expect("fits"), "billing-1");
        for bad in ["", "two words", "tab\there", &"x".repeat(101)] {
            let error = check_worker_name(bad).expect_err("refused");
            assert!(error.is_input(), "{bad:?}");
            assert!(error.to_string().contains("without spaces"), "{error}");
        }
    }

    #[test]
    fn default_names_name_the_host_and_process() {
        let name = default_worker_name();
        let pid = format!("-{}-", std::process::id());
        assert!(name.starts_with(&host()), "{name}");
        assert!(name.contains(&pid), "{name}");
        assert!(check_worker_name(&name).is_ok(), "{name}");
    }
}
