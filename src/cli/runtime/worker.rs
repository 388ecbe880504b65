//! `sesflow run`: the worker, and the activities it serves.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use clap::Args;
use serde_json::json;
use sesflow_engine::activity::{self, Activity, Call, Outcome, Registry};
use sesflow_engine::queue;
use sesflow_engine::store;
use sesflow_engine::{Config, Engine};

/// The environment variable naming the loopback activity's file.
pub const LOOPBACK_ENV: &str = "SESFLOW_LOOPBACK_ACTIVITY";

/// Options of `sesflow run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Do all work that is due now, then exit.
    #[arg(long)]
    until_idle: bool,
    /// The longest pause when nothing is due (default 200ms on SQLite, 2s on
    /// PostgreSQL, where notifications wake idle workers when jobs arrive).
    #[arg(long)]
    poll: Option<humantime::Duration>,
    /// How long a claimed activity call is held before others may take it.
    #[arg(long, default_value = "30s")]
    lease: humantime::Duration,
    /// How often kept events are matched against waits.
    #[arg(long, default_value = "5s")]
    sweep: humantime::Duration,
    /// How many jobs to claim and commit at once.
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// How many tasks claim and run work at once in this process.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// This worker's name in the roster and in the leases it holds
    /// (default: HOST-PID-XXXX); two live workers may not share one.
    #[arg(long)]
    name: Option<String>,
}

/// The activities this binary serves, by node kind.
///
/// With `SESFLOW_LOOPBACK_ACTIVITY=FILE` set, `signature_issuing_request` is
/// served by a loopback activity for tests and demos: it appends each new
/// idempotency key to FILE and answers `req-KEY`; a key it has seen answers
/// the same without writing again. Every call, repeats included, is also
/// appended to FILE.calls, so that tests can see calls repeated after a crash.
pub fn registry() -> Registry {
    let mut registry = Registry::new();
    add_loopback(&mut registry);
    registry
}

/// Serves `signature_issuing_request` by the loopback activity when
/// `SESFLOW_LOOPBACK_ACTIVITY` is set (see [`registry`]).
pub fn add_loopback(registry: &mut Registry) {
    if let Some(path) = std::env::var_os(LOOPBACK_ENV) {
        let target = path.to_string_lossy();
        if crate::cli::scale::loopback::is_database(&target) {
            let ledger = crate::cli::scale::loopback::Ledger::new(&target);
            registry.register("signature_issuing_request", Arc::new(ledger));
            return;
        }
        match Loopback::open(PathBuf::from(path)) {
            Ok(loopback) => registry.register("signature_issuing_request", Arc::new(loopback)),
            Err(error) => tracing::error!("loopback activity not served: {error:#}"),
        }
    }
}

pub(super) async fn run(db: &str, args: RunArgs) -> anyhow::Result<()> {
    let concurrency = usize::from(args.concurrency);
    let config = Config {
        lease: args.lease.into(),
        batch: args.batch.max(1),
        worker_id: match args.name {
            Some(name) => queue::check_worker_name(&name)?,
            None => queue::default_worker_name(),
        },
        ..Config::default()
    };
    // each task holds a connection, the heartbeat and the listener one each
    let pool = u32::try_from(concurrency + 3).unwrap_or(u32::MAX);
    let conn = store::open_sized(db, pool).await?;
    let mut registry = crate::cli::signing::registry(&conn).await?;
    add_loopback(&mut registry);
    let engine = Engine::new(conn, registry, config);
    if args.until_idle {
        let done = engine.run_until_idle().await?;
        eprintln!(
            "idle: {} jobs, {} calls, {} chore items, {} deliveries",
            done.jobs, done.calls, done.chores, done.deliveries
        );
        return Ok(());
    }
    let default_poll = if store::is_sqlite(db) { 200 } else { 2000 };
    let options = queue::Options {
        concurrency,
        poll: args
            .poll
            .map_or(Duration::from_millis(default_poll), Into::into),
        sweep: args.sweep.into(),
    };
    let done = queue::run(Arc::new(engine), options, shutdown()).await?;
    eprintln!(
        "stopped: {} jobs, {} calls, {} chore items, {} deliveries",
        done.jobs, done.calls, done.chores, done.deliveries
    );
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub(super) async fn shutdown() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(error) => {
            tracing::warn!("cannot listen for SIGTERM: {error}");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// The loopback activity: one line per distinct key in a file.
struct Loopback {
    path: PathBuf,
    seen: Mutex<HashSet<String>>,
}

impl Loopback {
    fn open(path: PathBuf) -> anyhow::Result<Self> {
        let seen = match std::fs::read_to_string(&path) {
            Ok(text) => text.lines().map(str::to_owned).collect(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => HashSet::new(),
            Err(error) => return Err(error.into()),
        };
        Ok(Self {
            path,
            seen: Mutex::new(seen),
        })
    }

    fn record(&self, key: &str) -> std::io::Result<()> {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut calls_path = self.path.clone().into_os_string();
        calls_path.push(".calls");
        let mut calls = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(calls_path)?;
        calls.write_all(format!("{key}\n").as_bytes())?;
        if seen.contains(key) {
            return Ok(());
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        file.write_all(format!("{key}\n").as_bytes())?;
        file.sync_all()?;
        seen.insert(key.to_owned());
        Ok(())
    }
}

#[async_trait]
impl Activity for Loopback {
    async fn execute(&self, call: Call) -> Result<Outcome, activity::Error> {
        let key = call.key.to_string();
        self.record(&key).map_err(|error| {
            activity::Error::Unavailable(format!("{}: {error}", self.path.display()))
        })?;
        Ok(Outcome {
            output: json!(format!("req-{key}")),
        })
    }
}
