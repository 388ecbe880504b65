//! Running many workers on one database: `sesflow workers` lists the live
//! workers and what they hold; the loopback effect ledger lets tests and
//! measurements count effects across worker processes.

pub mod bench;
pub mod loopback;

use std::process::ExitCode;

use clap::Args;
use sesflow_engine::activity::Registry;
use sesflow_engine::queue::WorkerView;
use sesflow_engine::{Config, Engine};

use super::runtime::Format;

/// Options of `sesflow workers`.
#[derive(Debug, Args)]
pub struct WorkersArgs {
    /// Also list silent workers: their heartbeat is older than their lease,
    /// so they are taken for dead and their jobs are taken over.
    #[arg(long)]
    all: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// Lists the workers of the database at `db`.
pub async fn run(db: &str, args: WorkersArgs) -> anyhow::Result<ExitCode> {
    let engine = Engine::open(db, Registry::new(), Config::default()).await?;
    let workers = engine.workers(args.all).await?;
    if args.format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&workers)?);
        return Ok(ExitCode::SUCCESS);
    }
    if workers.is_empty() {
        eprintln!("no live workers; `--all` lists silent ones too");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<32} {:<12} {:<16} {:>8} {:>5} {:>10} {:>8} {:>7} {:>5}",
        "WORKER", "STATE", "HOST", "PID", "TASKS", "HEARTBEAT", "JOBS", "CALLS", "HOLDS"
    );
    let now_ms = engine.now_ms();
    for worker in &workers {
        print_worker(worker, now_ms);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_worker(worker: &WorkerView, now_ms: i64) {
    let dash = || "-".to_owned();
    let heartbeat = worker.heartbeat_at.map_or_else(dash, |at| {
        format!("{:.1}s ago", (now_ms - at) as f64 / 1000.0)
    });
    println!(
        "{:<32} {:<12} {:<16} {:>8} {:>5} {:>10} {:>8} {:>7} {:>5}",
        worker.id,
        worker.state,
        worker.host.clone().unwrap_or_else(dash),
        worker.pid.map_or_else(dash, |pid| pid.to_string()),
        worker
            .concurrency
            .map_or_else(dash, |concurrency| concurrency.to_string()),
        heartbeat,
        worker.jobs,
        worker.calls,
        worker.holds.len()
    );
    for held in &worker.holds {
        println!(
            "    job {} {} instance {} node {} attempt {} lease ends in {:.1}s",
            held.job_id,
            held.kind,
            held.instance_id,
            held.node_id,
            held.attempts,
            (held.lease_until - now_ms) as f64 / 1000.0
        );
    }
}
