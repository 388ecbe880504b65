//! Scale-out on PostgreSQL (runs when SESFLOW_TEST_PG_URL is set): four
//! worker processes share one database while 10,000 instances run a
//! parallel fork into a timer and a wait for an event the test sends, a
//! join, an activity call and a script. Mid-run one worker is killed with
//! SIGKILL and one stopped with SIGTERM. At the end, counted with SQL: every
//! instance completed once, with one history row per change and each input
//! recorded once; every event consumed once, by its instance; one effect per
//! instance; no job, wait or lease left over.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement};
use serde_json::json;
use sesflow_engine::activity::Registry;
use sesflow_engine::driver::StartRequest;
use sesflow_engine::events::Event;
use sesflow_engine::history::Record;
use sesflow_engine::store::packing;
use sesflow_engine::{Config, Engine};

const N: usize = 10_000;
const WORKERS: usize = 4;
/// Events of the first orders are sent before their instances start.
const EARLY: usize = 500;
const CHUNK: usize = 500;

/// One `sesflow run` process and where its log goes.
struct Worker {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Worker {
    fn spawn(db: &str, dir: &Path, n: usize) -> Self {
        let name = format!("scale-w{n}");
        let log = dir.join(format!("{name}.log"));
        let stderr = std::fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_sesflow"))
            .args([
                "run",
                "--concurrency",
                "2",
                "--lease",
                "3s",
                "--poll",
                "500ms",
            ])
            .args(["--sweep", "1s", "--batch", "128", "--name", &name])
            .env("SESFLOW_DB", db)
            .env("SESFLOW_LOOPBACK_ACTIVITY", db)
            .env("RUST_LOG", "sesflow_engine::queue=info,warn")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("the worker starts");
        Self { name, child, log }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "{signal} sent to {}", self.name);
    }

    /// Waits up to `limit` for the process to exit.
    fn exit_within(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("waits") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not stop: {}",
                self.name,
                self.tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

fn paid(order: usize) -> Event {
    Event {
        id: format!("pay-{order}"),
        kind: "order.paid".into(),
        key: format!("o-{order}"),
        payload: json!({ "order": order }),
    }
}

async fn rows(engine: &Engine, sql: &str) -> Vec<QueryResult> {
    let statement = Statement::from_string(DbBackend::Postgres, sql);
    engine.db().query_all(statement).await.expect(sql)
}

async fn count(engine: &Engine, sql: &str) -> i64 {
    let rows = rows(engine, sql).await;
    rows[0].try_get_by_index::<i64>(0).expect(sql)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_worker_processes_complete_every_instance_once() {
    let Some(db) = common::databases()
        .await
        .into_iter()
        .find(|db| db.label == "postgres")
    else {
        return;
    };
    let began = Instant::now();
    let engine = Arc::new(
        Engine::open(&db.url, Registry::new(), Config::default())
            .await
            .expect("opens"),
    );
    engine
        .deploy("scale.yaml", &common::source("scale"))
        .await
        .expect("deploys");
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut workers: Vec<Worker> = (1..=WORKERS)
        .map(|n| Worker::spawn(&db.url, dir.path(), n))
        .collect();

    let started = Arc::new(AtomicUsize::new(0));
    let feeding = tokio::spawn(feed(engine.clone(), started.clone()));
    listed_running(&db.url).await;
    let (killed_held, stopped_at) = disturb(&engine, &mut workers).await;
    let fed = feeding.await.expect("joins");
    eprintln!("started and paid {N} instances in {fed:?}");

    let deadline = Instant::now() + Duration::from_secs(600);
    while count(
        &engine,
        "SELECT count(*) FROM instance WHERE status = 'completed'",
    )
    .await
        < N as i64
    {
        assert!(
            Instant::now() < deadline,
            "not all completed: {}",
            workers[2].tail()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!(
        "all {N} completed after {:?}; the killed worker held {killed_held} jobs; \
         the stopped one took {stopped_at:?} to stop",
        began.elapsed()
    );
    for worker in &mut workers[2..] {
        worker.signal("-TERM");
        assert!(worker.exit_within(Duration::from_secs(30)).success());
    }

    verify(&engine, &workers).await;
    let listed = Command::new(env!("CARGO_BIN_EXE_sesflow"))
        .args(["workers", "--all", "--format", "json", "--db", &db.url])
        .output()
        .expect("workers runs");
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    let silent = listed.as_array().expect("an array");
    assert_eq!(silent.len(), 1, "only the killed worker is left: {listed}");
    assert_eq!(silent[0]["id"], "scale-w1");
    assert_eq!(silent[0]["state"], "silent");
    assert_eq!(silent[0]["holds"], json!([]));
    eprintln!("whole test took {:?}", began.elapsed());
    db.finish().await;
}

/// `sesflow workers` lists the four workers as running, each with its two
/// tasks, once they have joined the roster.
async fn listed_running(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let listed = Command::new(env!("CARGO_BIN_EXE_sesflow"))
            .args(["workers", "--db", url])
            .output()
            .expect("workers runs");
        assert!(listed.status.success());
        let text = String::from_utf8_lossy(&listed.stdout);
        let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("scale-w")).collect();
        if rows.len() == WORKERS {
            assert!(text.starts_with("WORKER"), "{text}");
            for row in rows {
                let fields: Vec<&str> = row.split_whitespace().collect();
                assert_eq!(&fields[1..2], ["running"], "{row}");
                assert_eq!(fields[4], "2", "two tasks: {row}");
            }
            return;
        }
        assert!(Instant::now() < deadline, "workers not listed: {text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sends the early events, starts every instance, and sends the other
/// events as their instances start, four senders at a time.
async fn feed(engine: Arc<Engine>, started: Arc<AtomicUsize>) -> Duration {
    let began = Instant::now();
    for order in 0..EARLY {
        engine.send_event(&paid(order), None).await.expect("sends");
    }
    let mut senders = tokio::task::JoinSet::new();
    for lane in 0..4 {
        let (engine, started) = (engine.clone(), started.clone());
        senders.spawn(async move {
            let mut order = EARLY + lane;
            while order < N {
                if order >= started.load(Ordering::Acquire) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                engine.send_event(&paid(order), None).await.expect("sends");
                order += 4;
            }
        });
    }
    let starting = Instant::now();
    for first in (0..N).step_by(CHUNK) {
        let requests: Vec<StartRequest> = (first..first + CHUNK)
            .map(|order| StartRequest {
                process: "scale".into(),
                version: None,
                vars: vec![("order".into(), json!(format!("o-{order}")))],
                initiator: None,
            })
            .collect();
        engine.start_batch(&requests).await.expect("starts");
        started.store(first + CHUNK, Ordering::Release);
    }
    eprintln!("started {N} instances in {:?}", starting.elapsed());
    while let Some(sent) = senders.join_next().await {
        sent.expect("the sender ends");
    }
    began.elapsed()
}

/// Kills worker 1 with SIGKILL when a quarter of the instances completed,
/// and stops worker 2 with SIGTERM at half. Returns how many jobs worker 1
/// held when it died, and how long worker 2 took to stop.
async fn disturb(engine: &Engine, workers: &mut [Worker]) -> (i64, Duration) {
    let completed = || {
        count(
            engine,
            "SELECT count(*) FROM instance WHERE status = 'completed'",
        )
    };
    while completed().await < (N / 4) as i64 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // at a moment when it holds leased calls, if one comes within seconds
    let holding = "SELECT count(*) FROM job WHERE lease_owner = 'scale-w1'";
    let deadline = Instant::now() + Duration::from_secs(10);
    while count(engine, holding).await == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    workers[0].signal("-KILL");
    workers[0].exit_within(Duration::from_secs(10));
    let held = count(engine, holding).await;

    while completed().await < (N / 2) as i64 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stopping = Instant::now();
    workers[1].signal("-TERM");
    let status = workers[1].exit_within(Duration::from_secs(30));
    let took = stopping.elapsed();
    assert!(
        status.success(),
        "SIGTERM ends the worker cleanly: {}",
        workers[1].tail()
    );
    let log = std::fs::read_to_string(&workers[1].log).expect("log");
    assert!(log.contains("worker stopping"), "{log}");
    assert!(log.contains("worker down"), "{log}");
    let left = count(
        engine,
        "SELECT count(*) FROM job WHERE lease_owner = 'scale-w2'",
    )
    .await;
    assert_eq!(left, 0, "the stopped worker released what it held");
    (held, took)
}

/// The SQL counts: instances, history, events, effects, leftovers.
async fn verify(engine: &Engine, workers: &[Worker]) {
    let by_status = rows(
        engine,
        "SELECT status, count(*) AS n FROM instance GROUP BY status",
    )
    .await;
    assert_eq!(by_status.len(), 1, "only completed instances");
    assert_eq!(
        by_status[0]
            .try_get::<String>("", "status")
            .expect("status"),
        "completed"
    );
    assert_eq!(by_status[0].try_get::<i64>("", "n").expect("n"), N as i64);
    for table in ["job", "wait", "task"] {
        assert_eq!(
            count(engine, &format!("SELECT count(*) FROM {table}")).await,
            0,
            "{table}"
        );
    }
    let gaps = "SELECT count(*) FROM instance i WHERE i.rev <> \
        (SELECT count(*) FROM history h WHERE h.instance_id = i.id) OR i.rev <> \
        (SELECT max(h.rev) FROM history h WHERE h.instance_id = i.id)";
    assert_eq!(
        count(engine, gaps).await,
        0,
        "one history row per change, revs 1..=rev"
    );

    let consumed = verify_history(engine).await;
    let events = rows(engine, "SELECT id, consumed_by FROM event").await;
    assert_eq!(events.len(), N, "one event per order");
    for row in &events {
        let id: String = row.try_get("", "id").expect("id");
        let by: Option<String> = row.try_get("", "consumed_by").expect("consumed_by");
        assert_eq!(
            by.as_ref(),
            consumed.get(&id),
            "event {id} consumed by its applier"
        );
    }

    let effects = rows(engine, "SELECT key, calls FROM loopback_effect").await;
    assert_eq!(effects.len(), N, "one effect per instance");
    let mut calls = 0;
    let mut owners = HashSet::new();
    for row in &effects {
        let key: String = row.try_get("", "key").expect("key");
        calls += row.try_get::<i64>("", "calls").expect("calls");
        let (instance, _) = key.split_once("/request/").expect("INSTANCE/request/TOKEN");
        assert!(
            owners.insert(instance.to_owned()),
            "two effects for {instance}"
        );
    }
    eprintln!(
        "{calls} activity calls for {N} effects: {} repeated",
        calls - N as i64
    );
    for worker in workers {
        let log = std::fs::read_to_string(&worker.log).unwrap_or_default();
        let failures = log
            .lines()
            .filter(|line| line.contains("worker failing"))
            .count();
        assert_eq!(failures, 0, "{}: {}", worker.name, worker.tail());
    }
}

/// Each instance's history holds each input once and its activity outcome
/// names its own effect. Returns the applier of each event id.
async fn verify_history(engine: &Engine) -> HashMap<String, String> {
    let mut per_instance: HashMap<String, HashMap<&'static str, usize>> = HashMap::new();
    let mut consumed = HashMap::new();
    for row in rows(engine, "SELECT instance_id, records FROM history").await {
        let id: String = row.try_get("", "instance_id").expect("instance_id");
        let packed: Vec<u8> = row.try_get("", "records").expect("records");
        let counts = per_instance.entry(id.clone()).or_default();
        for record in packing::unpack(&packed).expect("history decodes") {
            *counts.entry(record.name()).or_default() += 1;
            match &record {
                Record::EventReceived { event_id, .. } => {
                    assert!(consumed.insert(event_id.clone(), id.clone()).is_none());
                }
                Record::ActivityDone { output, .. } => {
                    let expected = format!("req-{id}/request/");
                    let output = output.as_ref().and_then(|o| o.as_str()).unwrap_or_default();
                    assert!(output.starts_with(&expected), "{id}: {output}");
                }
                _ => {}
            }
        }
    }
    assert_eq!(per_instance.len(), N);
    let mut totals: HashMap<&str, usize> = HashMap::new();
    for (id, counts) in &per_instance {
        for input in [
            "started",
            "timer_fired",
            "event_received",
            "activity_done",
            "completed",
        ] {
            assert_eq!(counts.get(input), Some(&1), "{id}: {input} {counts:?}");
        }
        for (name, n) in counts {
            *totals.entry(name).or_default() += n;
        }
    }
    eprintln!("history records: {totals:?}");
    consumed
}
