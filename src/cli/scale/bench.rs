//! `sesflow bench scale`: worker processes draining a backlog on one
//! database, a fresh SQLite file or a fresh schema of a PostgreSQL database.
//!
//! The backlog: N instances of the scale schema (a parallel fork into a
//! one-second timer and an event wait, a join, an activity call, a script),
//! their events already in the inbox so that each waits on its timer alone,
//! every timer due. Then `--workers` processes (`sesflow run`, each with
//! `--concurrency` tasks) start, and the clock runs until every instance has
//! completed: per instance a timer job, a join, an activity call recorded in
//! the loopback ledger, and its outcome.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde_json::{json, Value};
use sesflow_engine::activity::Registry;
use sesflow_engine::driver::StartRequest;
use sesflow_engine::events::{self, Event};
use sesflow_engine::runtime::Status;
use sesflow_engine::{store, Config, Engine};

use super::loopback;

const SCALE: &str = include_str!("../../../tests/processes/scale.yaml");

/// What to measure.
#[derive(Clone, Debug)]
pub struct Plan {
    /// How many instances.
    pub n: usize,
    /// How many instances one transaction starts.
    pub batch: usize,
    /// How many worker processes.
    pub workers: usize,
    /// How many tasks each runs.
    pub concurrency: u16,
    /// Where: a fresh SQLite file in this folder, or a fresh schema of this
    /// PostgreSQL database.
    pub place: Place,
}

/// Where the measurement runs.
#[derive(Clone, Debug)]
pub enum Place {
    /// A fresh SQLite file in this folder.
    Sqlite(std::path::PathBuf),
    /// A fresh schema of the PostgreSQL database at this URL.
    Postgres(String),
}

/// Runs the measurement and returns its JSON line.
pub async fn run(plan: &Plan) -> anyhow::Result<Value> {
    let (url, label) = prepare(&plan.place).await?;
    let measured = measure(plan, &url).await;
    clean_up(&plan.place, &url).await?;
    let mut line = measured?;
    line["backend"] = json!(label);
    Ok(line)
}

async fn measure(plan: &Plan, url: &str) -> anyhow::Result<Value> {
    let engine = Engine::open(url, Registry::new(), Config::default()).await?;
    engine.deploy("scale.yaml", SCALE).await?;
    backlog(&engine, plan).await?;

    let began = Instant::now();
    let mut workers = Vec::with_capacity(plan.workers);
    for ix in 0..plan.workers {
        workers.push(spawn_worker(url, ix, plan.concurrency)?);
    }
    let waited = drain(&engine, plan.n).await;
    let wall_s = began.elapsed().as_secs_f64();
    for worker in &mut workers {
        // the backlog is done: nothing in hand to finish
        let _ = worker.kill();
        let _ = worker.wait();
    }
    waited?;

    let (effects, calls) = loopback::count(engine.db()).await?;
    if effects != plan.n as i64 {
        bail!("scale: {effects} effects for {} instances", plan.n);
    }
    Ok(json!({
        "workload": "scale", "workers": plan.workers, "concurrency": plan.concurrency,
        "wall_s": wall_s, "rate": plan.n as f64 / wall_s,
        "rate_unit": "completed instances/s", "calls": calls, "verified": true,
    }))
}

/// A fresh database: its URL, and `sqlite` or `postgres`.
async fn prepare(place: &Place) -> anyhow::Result<(String, &'static str)> {
    let name = format!("sesflow_bench_{}", uuid::Uuid::new_v4().simple());
    match place {
        Place::Sqlite(dir) => {
            let file = dir.join(format!("{name}.db"));
            Ok((format!("sqlite://{}", file.display()), "sqlite"))
        }
        Place::Postgres(base) => {
            let db = store::connect(base).await?;
            db.execute_unprepared(&format!("CREATE SCHEMA {name}"))
                .await?;
            let sep = if base.contains('?') { '&' } else { '?' };
            Ok((
                format!("{base}{sep}options=-csearch_path%3D{name}"),
                "postgres",
            ))
        }
    }
}

async fn clean_up(place: &Place, url: &str) -> anyhow::Result<()> {
    match place {
        Place::Sqlite(_) => {
            let file = url.trim_start_matches("sqlite://");
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{file}{suffix}"));
            }
        }
        Place::Postgres(base) => {
            let schema = url.rsplit("%3D").next().unwrap_or_default();
            let db = store::connect(base).await?;
            db.execute_unprepared(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .await?;
        }
    }
    Ok(())
}

/// Puts every order's event in the inbox, starts the instances (each takes
/// its event as its wait begins), then waits until their timers are due.
async fn backlog(engine: &Engine, plan: &Plan) -> anyhow::Result<()> {
    let txn = engine.db().begin().await?;
    for order in 0..plan.n {
        let event = Event {
            id: format!("pay-{order}"),
            kind: "order.paid".into(),
            key: format!("o-{order}"),
            payload: json!({ "order": order }),
        };
        events::publish(&txn, &event, engine.now_ms(), None).await?;
    }
    txn.commit().await?;
    let orders: Vec<usize> = (0..plan.n).collect();
    for chunk in orders.chunks(plan.batch.max(1)) {
        let requests: Vec<StartRequest> = chunk
            .iter()
            .map(|order| StartRequest {
                process: "scale".into(),
                version: None,
                vars: vec![("order".into(), json!(format!("o-{order}")))],
                initiator: None,
            })
            .collect();
        engine.start_batch(&requests).await?;
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    Ok(())
}

fn spawn_worker(url: &str, ix: usize, concurrency: u16) -> anyhow::Result<Child> {
    let exe = std::env::current_exe().context("cannot find this program's path")?;
    Command::new(exe)
        .args(["run", "--concurrency", &concurrency.to_string()])
        .args(["--name", &format!("bench-{ix}")])
        .env("SESFLOW_DB", url)
        .env(crate::cli::runtime::LOOPBACK_ENV, url)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start a worker process")
}

/// Waits until `n` instances completed, for at most ten minutes.
async fn drain(engine: &Engine, n: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let active = engine.instances(Some(Status::Active), None, 1).await?;
        if active.is_empty() {
            let done = engine
                .instances(Some(Status::Completed), None, n as u64)
                .await?;
            if done.len() == n {
                return Ok(());
            }
            bail!(
                "scale: {} of {n} instances completed, none active",
                done.len()
            );
        }
        if Instant::now() > deadline {
            bail!("scale: the workers did not finish within ten minutes");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
