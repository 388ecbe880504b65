//! `sesflow bench`: the runtime measured on a fresh SQLite file, durable
//! commits (WAL, synchronous=FULL). One JSON line per run.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use serde_json::{json, Value};
use sesflow_engine::driver::{Completion, StartRequest};
use sesflow_engine::runtime::Status;
use sesflow_engine::{Config, Engine};

const LINE: &str = include_str!("../../../tests/processes/line.yaml");
const APPROVE: &str = include_str!("../../../tests/processes/approve.yaml");

/// Which workload to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// Start, ten scripts, end: completed instances per second.
    Line,
    /// Instances waiting on a task, then every task completed: resumes per second.
    Resume,
    /// Many instances waiting on tasks: the worker's resident memory.
    Waiting,
    /// Worker processes draining a backlog of timers, joins and activity
    /// calls on one database: completed instances per second.
    Scale,
}

/// Options of `sesflow bench`.
#[derive(Clone, Debug, Args)]
pub struct BenchArgs {
    /// The workload.
    #[arg(value_enum)]
    workload: Workload,
    /// How many instances.
    #[arg(long, default_value_t = 10_000)]
    n: usize,
    /// How many instances one transaction starts or resumes.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// The folder for the fresh database (default: the system's temp folder).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// `scale`: how many worker processes.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// `scale`: how many tasks each worker runs.
    #[arg(long, default_value_t = 1)]
    concurrency: u16,
    /// `scale`: measure on a fresh schema of this PostgreSQL database
    /// instead of a fresh SQLite file.
    #[arg(long, value_name = "URL")]
    pg: Option<String>,
}

pub(super) async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.workload == Workload::Scale {
        return scale(&args).await;
    }
    let dir = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let file = dir.join(format!(
        "sesflow-bench-{}.db",
        uuid::Uuid::new_v4().simple()
    ));
    let url = format!("sqlite://{}", file.display());
    let rss_idle = rss_kb()?;
    let engine = Engine::open(&url, super::registry(), Config::default()).await?;
    let result = match args.workload {
        Workload::Line => line(&engine, &args).await,
        Workload::Resume => resume(&engine, &args).await,
        Workload::Waiting => waiting(&engine, &args, rss_idle).await,
        Workload::Scale => unreachable!("dispatched before the SQLite file is made"),
    };
    drop(engine);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
    let mut line = result?;
    line["peak_rss_mb"] = json!(peak_rss_kb()? / 1024);
    line["peer"] = json!("sesflow");
    line["version"] = json!(env!("CARGO_PKG_VERSION"));
    line["n"] = json!(args.n);
    line["batch"] = json!(args.batch);
    println!("{line}");
    Ok(())
}

/// Worker processes on one database, see [`crate::cli::scale::bench`].
async fn scale(args: &BenchArgs) -> anyhow::Result<()> {
    use crate::cli::scale::bench::{self, Place, Plan};
    let plan = Plan {
        n: args.n,
        batch: args.batch,
        workers: args.workers.max(1),
        concurrency: args.concurrency.max(1),
        place: match &args.pg {
            Some(url) => Place::Postgres(url.clone()),
            None => Place::Sqlite(args.dir.clone().unwrap_or_else(std::env::temp_dir)),
        },
    };
    let mut line = bench::run(&plan).await?;
    line["peer"] = json!("sesflow");
    line["version"] = json!(env!("CARGO_PKG_VERSION"));
    line["n"] = json!(args.n);
    println!("{line}");
    Ok(())
}

async fn line(engine: &Engine, args: &BenchArgs) -> anyhow::Result<Value> {
    engine.deploy("line.yaml", LINE).await?;
    let began = Instant::now();
    start_all(engine, "line", args).await?;
    let wall_s = began.elapsed().as_secs_f64();
    let done = engine
        .instances(Some(Status::Completed), Some("line"), args.n as u64)
        .await?;
    let mut verified = done.len() == args.n;
    for summary in done.iter().take(100) {
        verified &= engine.show(&summary.id).await?.variables["counter"] == json!(10);
    }
    if !verified {
        bail!("line: not every instance completed with counter 10");
    }
    Ok(
        json!({"workload": "line", "wall_s": wall_s, "rate": args.n as f64 / wall_s,
              "rate_unit": "completed instances/s", "verified": verified}),
    )
}

async fn resume(engine: &Engine, args: &BenchArgs) -> anyhow::Result<Value> {
    engine.deploy("approve.yaml", APPROVE).await?;
    let began = Instant::now();
    start_all(engine, "approve", args).await?;
    let start_s = began.elapsed().as_secs_f64();
    let tasks = engine.tasks(Some("boss")).await?;
    if tasks.len() != args.n {
        bail!("resume: {} tasks open, {} expected", tasks.len(), args.n);
    }
    let began = Instant::now();
    for (chunk_ix, chunk) in tasks.chunks(args.batch.max(1)).enumerate() {
        let completions: Vec<_> = chunk
            .iter()
            .enumerate()
            .map(|(ix, task)| {
                let approved = (chunk_ix * args.batch + ix) % 2 == 0;
                Completion {
                    task: task.id.clone(),
                    vars: vec![("approved".to_owned(), json!(approved))],
                    rejected: false,
                }
            })
            .collect();
        for result in engine.complete_batch(&completions).await? {
            result?;
        }
    }
    let wall_s = began.elapsed().as_secs_f64();
    let approved = count_outcome(engine, "approved", args.n).await?;
    let rejected = count_outcome(engine, "rejected", args.n).await?;
    let verified = approved == args.n.div_ceil(2) && rejected == args.n / 2;
    if !verified {
        bail!(
            "resume: {approved} approved and {rejected} rejected of {}",
            args.n
        );
    }
    Ok(
        json!({"workload": "resume", "wall_s": wall_s, "rate": args.n as f64 / wall_s,
              "rate_unit": "resumes/s", "start_rate": args.n as f64 / start_s,
              "verified": verified}),
    )
}

async fn waiting(engine: &Engine, args: &BenchArgs, rss_idle: u64) -> anyhow::Result<Value> {
    engine.deploy("approve.yaml", APPROVE).await?;
    let rss_before = rss_kb()?;
    let tenth = (args.n / 10).max(1);
    let mut samples = Vec::new();
    let began = Instant::now();
    let mut started = 0;
    while started < args.n {
        let n = tenth.min(args.n - started);
        start_all(engine, "approve", &BenchArgs { n, ..args.clone() }).await?;
        started += n;
        samples.push(json!({"waiting": started, "rss_mb": mb(rss_kb()?)}));
    }
    let start_s = began.elapsed().as_secs_f64();
    // A worker pass over a store holding every waiting instance.
    let tick = engine.run_until_idle().await?;
    let rss_after_worker = rss_kb()?;
    let waiting = engine
        .count_instances(Some(Status::Active), Some("approve"))
        .await?;
    let verified = waiting == args.n as u64 && tick.is_idle();
    if !verified {
        bail!("waiting: {waiting} instances wait, {} expected", args.n);
    }
    Ok(
        json!({"workload": "waiting", "wall_s": start_s, "rate": args.n as f64 / start_s,
              "rate_unit": "started instances/s", "rss_idle_mb": mb(rss_idle),
              "rss_before_mb": mb(rss_before), "rss_samples": samples,
              "rss_after_worker_mb": mb(rss_after_worker), "verified": verified}),
    )
}

async fn start_all(engine: &Engine, process: &str, args: &BenchArgs) -> anyhow::Result<()> {
    let request = StartRequest {
        process: process.to_owned(),
        version: None,
        vars: Vec::new(),
        initiator: None,
    };
    let mut left = args.n;
    while left > 0 {
        let n = left.min(args.batch.max(1));
        engine.start_batch(&vec![request.clone(); n]).await?;
        left -= n;
    }
    Ok(())
}

async fn count_outcome(engine: &Engine, outcome: &str, n: usize) -> anyhow::Result<usize> {
    let done = engine
        .instances(Some(Status::Completed), Some("approve"), n as u64)
        .await?;
    Ok(done
        .iter()
        .filter(|row| row.outcome.as_deref() == Some(outcome))
        .count())
}

fn mb(kb: u64) -> f64 {
    (kb as f64 / 1024.0 * 10.0).round() / 10.0
}

/// Resident memory now, in KiB, from /proc/self/status.
fn rss_kb() -> anyhow::Result<u64> {
    status_kb("VmRSS:")
}

/// Peak resident memory, in KiB.
fn peak_rss_kb() -> anyhow::Result<u64> {
    status_kb("VmHWM:")
}

fn status_kb(field: &str) -> anyhow::Result<u64> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
        .with_context(|| format!("no {field} in /proc/self/status"))
}
