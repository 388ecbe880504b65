//! `sesflow bench`: the runtime measured on a fresh SQLite file with durable
//! commits (WAL, synchronous=FULL), one JSON line per run in the shape the
//! peer benchmarks print (peer, version, workload, n, wall_s, rate,
//! rate_unit, peak_rss_mb, verified, and the workload's own figures).
//!
//! Every instance is checked after the measured phase; a failed check is an
//! error (exit code 2) and no line is printed.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{json, Value};
use sesflow_engine::driver::{Completion, StartRequest};
use sesflow_engine::runtime::Status;
use sesflow_engine::{Config, Engine};

use super::bench_sign;

const LINE: &str = include_str!("../../../tests/processes/line.yaml");
const APPROVE: &str = include_str!("../../../tests/processes/approve.yaml");
const PARALLEL: &str = include_str!("../../../tests/processes/parallel4.yaml");

/// Which workload to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// Start, ten scripts each adding 1 to a counter, end: completed instances/s.
    #[value(name = "W1")]
    W1,
    /// N instances wait on a task (start rate, resident memory while they
    /// wait), then every task is completed, half approving: resumes/s.
    #[value(name = "W2")]
    W2,
    /// A fork into four branches of two scripts, a join, end: instances/s.
    #[value(name = "W3")]
    W3,
    /// Bytes stored per waiting instance, and resumes/s from a freshly
    /// started process.
    #[value(name = "W4")]
    W4,
    /// Sign and verify through the SES module against raw ed25519-dalek.
    #[value(name = "SIGN")]
    Sign,
    /// Worker processes draining a backlog of timers, joins and activity
    /// calls on one database: completed instances per second.
    #[value(name = "scale")]
    Scale,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::W1 => "W1",
            Workload::W2 => "W2",
            Workload::W3 => "W3",
            Workload::W4 => "W4",
            Workload::Sign => "SIGN",
            Workload::Scale => "scale",
        }
    }
}

/// Options of `sesflow bench`.
#[derive(Clone, Debug, Args)]
pub struct BenchArgs {
    /// The workload.
    #[arg(value_enum, ignore_case = true)]
    workload: Workload,
    /// How many instances (SIGN: how many signatures), 1 to 100,000,000.
    #[arg(long, default_value_t = 10_000,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000_000))]
    n: usize,
    /// How many instances one transaction starts or resumes, 1 to 100,000.
    #[arg(long, default_value_t = 2_000,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000))]
    batch: usize,
    /// The folder for the fresh database (default: the system's temp folder).
    /// A `--db` other than the default runs on that database instead.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep the fresh database file after the run (its path is printed in
    /// the line as `db`), to inspect what the workload stored.
    #[arg(long)]
    keep: bool,
    /// W4 only: resume every task of this database and report (the second,
    /// freshly started process of W4).
    #[arg(long, hide = true)]
    resume_from: Option<String>,
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

pub(super) async fn run(args: BenchArgs, db: &str) -> anyhow::Result<()> {
    if args.workload == Workload::Scale {
        return scale(&args).await;
    }
    if let Some(url) = &args.resume_from {
        let line = resume_fresh(url, &args).await?;
        println!("{line}");
        return Ok(());
    }
    let rss_start = rss_kb()?;
    let fresh = if db == sesflow_engine::store::DEFAULT_URL {
        Some(fresh_file(&args)?)
    } else {
        if args.dir.is_some() || args.keep {
            bail!(
                "--dir and --keep apply to the fresh SQLite file the bench makes, not to \
                 the database `{db}` (given with --db or SESFLOW_DB): drop one or the other"
            );
        }
        ensure_empty(db).await?;
        None
    };
    let url = match &fresh {
        Some(file) => sqlite_url(file),
        None => db.to_owned(),
    };
    // An interrupted run (Ctrl-C, SIGTERM) stops its second process and
    // removes its files like a finished one.
    let result = tokio::select! {
        result = workload(&url, &args, rss_start) => result,
        () = super::worker::shutdown() => Err(anyhow::anyhow!("interrupted; the fresh database was removed")),
    };
    let kept = fresh
        .as_ref()
        .filter(|_| args.keep)
        .map(|file| file.display().to_string());
    if let Some(file) = fresh.filter(|_| !args.keep) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
    }
    let mut line = json!({
        "peer": "sesflow",
        "version": env!("CARGO_PKG_VERSION"),
        "workload": args.workload.name(),
        "n": args.n,
        "batch": args.batch,
        "store": if url.starts_with("sqlite:") { "sqlite (WAL, synchronous=FULL)" }
                 else { "postgresql" },
    });
    if let Some(file) = kept {
        line["db"] = json!(file);
    }
    merge(&mut line, result?);
    line["peak_rss_mb"] = json!(mb(peak_rss_kb()?));
    println!("{line}");
    Ok(())
}

async fn workload(url: &str, args: &BenchArgs, rss_start: u64) -> anyhow::Result<Value> {
    if args.workload == Workload::Sign {
        return bench_sign::run(url, args.n).await;
    }
    let engine = Engine::open(url, super::registry(), Config::default()).await?;
    match args.workload {
        Workload::W1 => straight(&engine, args, LINE, "line").await,
        Workload::W3 => straight(&engine, args, PARALLEL, "parallel4").await,
        Workload::W2 => wait_resume(&engine, args, rss_start).await,
        Workload::W4 => stored(engine, url, args).await,
        Workload::Sign => bail!("SIGN does not run instances"),
        Workload::Scale => bail!("scale runs worker processes, not one engine"),
    }
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

/// A new file name in `--dir` (default: the system's temp folder), which
/// must be a folder this process can write to.
fn fresh_file(args: &BenchArgs) -> anyhow::Result<PathBuf> {
    let dir = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let meta = std::fs::metadata(&dir).with_context(|| {
        format!(
            "--dir {}: no such folder; create it or name another",
            dir.display()
        )
    })?;
    if !meta.is_dir() {
        bail!("--dir {}: not a folder; name a folder", dir.display());
    }
    if meta.permissions().readonly() {
        bail!(
            "--dir {}: the folder is read-only; name a writable one",
            dir.display()
        );
    }
    Ok(dir.join(format!(
        "sesflow-bench-{}.db",
        uuid::Uuid::new_v4().simple()
    )))
}

/// The SQLite URL of `file`, with the characters a URL gives a meaning
/// (space, `%`, `?`, `#`) escaped.
fn sqlite_url(file: &std::path::Path) -> String {
    let mut url = String::from("sqlite://");
    for ch in file.display().to_string().chars() {
        match ch {
            ' ' => url.push_str("%20"),
            '%' => url.push_str("%25"),
            '?' => url.push_str("%3F"),
            '#' => url.push_str("%23"),
            _ => url.push(ch),
        }
    }
    url
}

/// Refuses a database that holds any table: the bench deploys, starts,
/// completes and (SIGN) adds users and keys, which must never touch a
/// store in use.
async fn ensure_empty(url: &str) -> anyhow::Result<()> {
    let db = sesflow_engine::store::connect(url).await?;
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Sqlite => {
            "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'"
        }
        _ => {
            "SELECT count(*) AS n FROM information_schema.tables \
             WHERE table_schema = current_schema()"
        }
    };
    let row = db
        .query_one(Statement::from_string(backend, sql))
        .await?
        .context("no answer to the table count")?;
    let n: i64 = row.try_get("", "n")?;
    db.close().await?;
    if n > 0 {
        bail!(
            "the bench runs on a fresh, empty database, and `{url}` (given with --db or \
             SESFLOW_DB) holds {n} tables: unset SESFLOW_DB and drop --db to bench on a \
             fresh SQLite file, or give an empty PostgreSQL schema"
        );
    }
    Ok(())
}

/// W1 and W3: instances that run from start to end without waiting.
async fn straight(
    engine: &Engine,
    args: &BenchArgs,
    source: &str,
    process: &str,
) -> anyhow::Result<Value> {
    engine.deploy(&format!("{process}.yaml"), source).await?;
    warm_up(engine, process, args).await?;
    let began = Instant::now();
    start_all(engine, process, args.n, args.batch).await?;
    let wall_s = began.elapsed().as_secs_f64();
    let expected: &[(&str, i64)] = match process {
        "line" => &[("counter", 10)],
        _ => &[("b1", 2), ("b2", 2), ("b3", 2), ("b4", 2)],
    };
    verify_completed(engine, process, args.n, expected).await?;
    Ok(json!({"wall_s": wall_s, "rate": args.n as f64 / wall_s,
              "rate_unit": "completed instances/s", "verified": true}))
}

/// A warm-up of N/10 instances (at most 200) that is not counted, as the
/// peers do; they are removed from the checks by their process.
async fn warm_up(engine: &Engine, process: &str, args: &BenchArgs) -> anyhow::Result<()> {
    let n = (args.n / 10).min(200);
    if n > 0 {
        let warm = format!("{process}-warm");
        let source = match process {
            "line" => LINE,
            "parallel4" => PARALLEL,
            _ => APPROVE,
        };
        let renamed = source.replacen(
            &format!("process: {process}"),
            &format!("process: {warm}"),
            1,
        );
        engine.deploy(&format!("{warm}.yaml"), &renamed).await?;
        start_all(engine, &warm, n, args.batch).await?;
    }
    Ok(())
}

/// Checks that exactly `n` instances of `process` completed, each with the
/// `expected` integer variables and no token left.
async fn verify_completed(
    engine: &Engine,
    process: &str,
    n: usize,
    expected: &[(&str, i64)],
) -> anyhow::Result<()> {
    let total = engine.count_instances(None, Some(process)).await?;
    let done = engine
        .instances(Some(Status::Completed), Some(process), n as u64 + 1)
        .await?;
    if total != n as u64 || done.len() != n {
        bail!(
            "{process}: {} of {n} instances completed ({total} stored)",
            done.len()
        );
    }
    for summary in &done {
        let view = engine.show(&summary.id).await?;
        for (name, value) in expected {
            if view.variables.get(*name) != Some(&json!(value)) || !view.tokens.is_empty() {
                bail!(
                    "{process}: instance {} ended with {name} = {:?}, not {value}",
                    summary.id,
                    view.variables.get(*name)
                );
            }
        }
    }
    Ok(())
}

/// W2: N instances wait at once, then every task is completed.
async fn wait_resume(engine: &Engine, args: &BenchArgs, rss_start: u64) -> anyhow::Result<Value> {
    engine.deploy("approve.yaml", APPROVE).await?;
    let bytes_before = store_bytes(engine.db()).await?;
    let rss_idle = rss_kb()?;
    let tenth = (args.n / 10).max(1);
    let mut samples = Vec::new();
    let began = Instant::now();
    let mut started = 0;
    while started < args.n {
        let n = tenth.min(args.n - started);
        start_all(engine, "approve", n, args.batch).await?;
        started += n;
        samples.push(json!({"waiting": started, "rss_mb": mb(rss_kb()?)}));
    }
    let start_s = began.elapsed().as_secs_f64();
    let rss_waiting = rss_kb()?;
    // A worker pass over a store that holds every waiting instance.
    let tick = engine.run_until_idle().await?;
    let rss_after_worker = rss_kb()?;
    let bytes_after = store_bytes(engine.db()).await?;
    if !tick.is_idle() {
        bail!("W2: the worker found work while every instance waits on a task");
    }
    let (wall_s, approvals) = resume_all(engine, args.batch).await?;
    verify_outcomes(engine, args.n, &approvals).await?;
    let per = |delta: Option<i64>| delta.map(|bytes| bytes as f64 / args.n as f64);
    Ok(json!({
        "wall_s": wall_s, "rate": args.n as f64 / wall_s, "rate_unit": "resumes/s",
        "verified": true, "start_s": start_s, "start_rate": args.n as f64 / start_s,
        "resume_s": wall_s, "rss_process_start_mb": mb(rss_start), "rss_idle_mb": mb(rss_idle),
        "rss_all_waiting_mb": mb(rss_waiting), "rss_after_worker_pass_mb": mb(rss_after_worker),
        "rss_per_waiting_instance_kb": (rss_waiting as f64 - rss_idle as f64) / args.n as f64,
        "rss_samples": samples,
        "store_bytes_per_waiting_instance": per(bytes_after.zip(bytes_before).map(|(a, b)| a - b)),
    }))
}

/// W4: N instances wait; the store's growth per instance; then a freshly
/// started process (this binary again) resumes them all.
async fn stored(engine: Engine, url: &str, args: &BenchArgs) -> anyhow::Result<Value> {
    engine.deploy("approve.yaml", APPROVE).await?;
    let bytes_before = store_bytes(engine.db()).await?;
    let tables_before = table_bytes(engine.db()).await;
    let began = Instant::now();
    start_all(&engine, "approve", args.n, args.batch).await?;
    let start_s = began.elapsed().as_secs_f64();
    let bytes_after = store_bytes(engine.db()).await?;
    let tables_after = table_bytes(engine.db()).await;
    engine.db().clone().close().await?;
    drop(engine);

    let exe = std::env::current_exe().context("finding this program to start it again")?;
    let output = tokio::process::Command::new(exe)
        .kill_on_drop(true)
        .args([
            "bench",
            "W4",
            "--n",
            &args.n.to_string(),
            "--batch",
            &args.batch.to_string(),
        ])
        .args(["--resume-from", url])
        .output()
        .await
        .context("starting the resuming process")?;
    if !output.status.success() {
        bail!(
            "W4: the resuming process failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut line: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .context("reading the resuming process's line")?;
    let delta = bytes_after.zip(bytes_before).map(|(a, b)| a - b);
    line["start_s"] = json!(start_s);
    line["start_rate"] = json!(args.n as f64 / start_s);
    line["store_bytes_per_waiting_instance"] = json!(delta.map(|d| d as f64 / args.n as f64));
    if let (Some(before), Some(after)) = (tables_before, tables_after) {
        let per: serde_json::Map<String, Value> = after
            .iter()
            .map(|(name, bytes)| {
                let grown = bytes - before.get(name).copied().unwrap_or(0);
                (name.clone(), json!(grown as f64 / args.n as f64))
            })
            .filter(|(_, per)| per.as_f64().is_some_and(|per| per > 0.0))
            .collect();
        line["store_bytes_per_waiting_instance_by_table"] = Value::Object(per);
    }
    line["rate_unit"] = json!("resumes/s from a fresh process");
    Ok(line)
}

/// The second process of W4: opens the store cold, resumes every task.
async fn resume_fresh(url: &str, args: &BenchArgs) -> anyhow::Result<Value> {
    let began = Instant::now();
    let engine = Engine::open(url, super::registry(), Config::default()).await?;
    let open_s = began.elapsed().as_secs_f64();
    let (wall_s, approvals) = resume_all(&engine, args.batch).await?;
    verify_outcomes(&engine, args.n, &approvals).await?;
    Ok(
        json!({"wall_s": wall_s, "rate": args.n as f64 / wall_s, "verified": true,
              "open_s": open_s, "resume_process_peak_rss_mb": mb(peak_rss_kb()?)}),
    )
}

/// Completes every open task of `boss`, every other one approving, a batch
/// per transaction. Returns the time taken and whether each instance was
/// approved.
async fn resume_all(engine: &Engine, batch: usize) -> anyhow::Result<(f64, HashMap<String, bool>)> {
    let began = Instant::now();
    let tasks = engine.tasks(Some("boss")).await?;
    let mut approvals = HashMap::with_capacity(tasks.len());
    for (ix, task) in tasks.iter().enumerate() {
        approvals.insert(task.instance_id.clone(), ix % 2 == 0);
    }
    // Completions are built a run of batches at a time, to bound memory.
    for run in tasks.chunks(batch.max(1) * 32) {
        let completions: Vec<_> = run
            .iter()
            .map(|task| Completion {
                task: task.id.clone(),
                vars: vec![("approved".to_owned(), json!(approvals[&task.instance_id]))],
                rejected: false,
            })
            .collect();
        for result in engine.complete_all(&completions, batch).await? {
            result?;
        }
    }
    Ok((began.elapsed().as_secs_f64(), approvals))
}

/// Checks that every instance completed through the end its answer leads
/// to, and that exactly half (rounded up) were approved.
async fn verify_outcomes(
    engine: &Engine,
    n: usize,
    approvals: &HashMap<String, bool>,
) -> anyhow::Result<()> {
    let done = engine
        .instances(Some(Status::Completed), Some("approve"), n as u64 + 1)
        .await?;
    if done.len() != n || approvals.len() != n {
        bail!(
            "W2: {} of {n} instances completed ({} tasks)",
            done.len(),
            approvals.len()
        );
    }
    let mut n_approved = 0;
    for summary in &done {
        let approved = approvals.get(&summary.id).copied();
        let expected = if approved == Some(true) {
            "approved"
        } else {
            "rejected"
        };
        if approved.is_none() || summary.outcome.as_deref() != Some(expected) {
            bail!(
                "W2: instance {} ended {:?}, expected {expected}",
                summary.id,
                summary.outcome
            );
        }
        n_approved += usize::from(approved == Some(true));
    }
    if n_approved != n.div_ceil(2) {
        bail!(
            "W2: {n_approved} approved of {n}, expected {}",
            n.div_ceil(2)
        );
    }
    Ok(())
}

/// Starts `n` instances of `process`, `batch` per transaction.
async fn start_all(engine: &Engine, process: &str, n: usize, batch: usize) -> anyhow::Result<()> {
    let request = StartRequest {
        process: process.to_owned(),
        version: None,
        vars: Vec::new(),
        initiator: None,
    };
    let mut left = n;
    while left > 0 {
        let n = left.min(batch.max(1));
        engine.start_batch(&vec![request.clone(); n]).await?;
        left -= n;
    }
    Ok(())
}

/// The bytes an SQLite store takes (pages in use, WAL included), or `None`
/// on another store.
async fn store_bytes(db: &DatabaseConnection) -> anyhow::Result<Option<i64>> {
    if db.get_database_backend() != sea_orm::DbBackend::Sqlite {
        return Ok(None);
    }
    let sql = "SELECT (SELECT page_count FROM pragma_page_count()) * \
               (SELECT page_size FROM pragma_page_size()) AS bytes";
    let row = db
        .query_one(Statement::from_string(sea_orm::DbBackend::Sqlite, sql))
        .await?
        .context("no answer to the page count")?;
    Ok(Some(row.try_get("", "bytes")?))
}

/// The bytes of each table and index of an SQLite store, from its `dbstat`
/// table; `None` on another store or where SQLite was built without it.
async fn table_bytes(db: &DatabaseConnection) -> Option<HashMap<String, i64>> {
    if db.get_database_backend() != sea_orm::DbBackend::Sqlite {
        return None;
    }
    let sql = "SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name";
    let rows = db
        .query_all(Statement::from_string(sea_orm::DbBackend::Sqlite, sql))
        .await
        .ok()?;
    rows.iter()
        .map(|row| {
            Some((
                row.try_get("", "name").ok()?,
                row.try_get("", "bytes").ok()?,
            ))
        })
        .collect()
}

/// Adds the fields of `extra` to the object `line`.
fn merge(line: &mut Value, extra: Value) {
    if let (Some(line), Value::Object(extra)) = (line.as_object_mut(), extra) {
        line.extend(extra);
    }
}

pub(super) fn mb(kb: u64) -> f64 {
    (kb as f64 / 1024.0 * 10.0).round() / 10.0
}

/// Resident memory now, in KiB, from /proc/self/status.
pub(super) fn rss_kb() -> anyhow::Result<u64> {
    status_kb("VmRSS:")
}

/// Peak resident memory, in KiB.
pub(super) fn peak_rss_kb() -> anyhow::Result<u64> {
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
