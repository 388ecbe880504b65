//! A worker process killed with SIGKILL at many points while 1,000
//! instances run a script, a one-second timer and an activity call: after
//! restarts every instance completes, and no history record or effect is
//! doubled or missing.

mod common;

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sesflow_engine::activity::Registry;
use sesflow_engine::driver::StartRequest;
use sesflow_engine::history::Record;
use sesflow_engine::runtime::Status;
use sesflow_engine::{Config, Engine};

const N: usize = 1_000;

fn worker(db: &str, effects: &std::path::Path, until_idle: bool) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sesflow"));
    command
        .args([
            "run", "--poll", "20ms", "--lease", "1s", "--sweep", "1s", "--batch", "64",
        ])
        .env("SESFLOW_DB", db)
        .env("SESFLOW_LOOPBACK_ACTIVITY", effects)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if until_idle {
        command.arg("--until-idle");
    }
    command.spawn().expect("the worker starts")
}

/// A small deterministic generator of kill delays.
struct Delays(u64);

impl Delays {
    fn next_ms(&mut self, low: u64, high: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        low + self.0 % (high - low)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_workers_lose_and_double_nothing() {
    let db = common::sqlite();
    let dir = tempfile::tempdir().expect("temporary directory");
    let effects = dir.path().join("effects.log");
    let engine = Engine::open(&db.url, Registry::new(), Config::default())
        .await
        .expect("opens");
    engine
        .deploy("crash.yaml", &common::source("crash"))
        .await
        .expect("deploys");
    let request = StartRequest {
        process: "crash".into(),
        version: None,
        vars: Vec::new(),
        initiator: None,
    };
    for _ in 0..N / 200 {
        engine
            .start_batch(&vec![request.clone(); 200])
            .await
            .expect("starts");
    }

    // kill the worker again and again, at different moments
    let mut delays = Delays(0x5EED_CAFE_F00D);
    let mut kills = Vec::new();
    let began = Instant::now();
    for _ in 0..25 {
        let delay = delays.next_ms(30, 900);
        let mut child = worker(&db.url, &effects, false);
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().expect("SIGKILL sent");
        child.wait().expect("the worker is reaped");
        kills.push(delay);
    }
    eprintln!("killed {} workers after {kills:?} ms", kills.len());

    // then let workers finish, waiting out the leases of the killed ones
    let deadline = Instant::now() + Duration::from_secs(120);
    while completed(&engine).await < N {
        assert!(Instant::now() < deadline, "instances did not complete");
        let status = worker(&db.url, &effects, true)
            .wait()
            .expect("the worker runs");
        assert!(status.success());
        std::thread::sleep(Duration::from_millis(300));
    }
    eprintln!("all {N} completed after {:?}", began.elapsed());
    verify(&engine, &effects).await;
}

async fn completed(engine: &Engine) -> usize {
    let rows = engine
        .instances(Some(Status::Completed), Some("crash"), N as u64)
        .await
        .expect("lists");
    rows.len()
}

async fn verify(engine: &Engine, effects: &std::path::Path) {
    let text = std::fs::read_to_string(effects).expect("effects were written");
    let lines: Vec<&str> = text.lines().collect();
    let distinct: HashSet<&str> = lines.iter().copied().collect();
    assert_eq!(lines.len(), N, "one effect per instance");
    assert_eq!(distinct.len(), N, "no effect doubled");
    let calls = std::fs::read_to_string(effects.with_extension("log.calls")).expect("calls logged");
    let n_calls = calls.lines().count();
    assert!(n_calls >= N, "every effect came from a call");
    eprintln!(
        "{n_calls} activity calls for {N} effects: {} repeated after a kill",
        n_calls - N
    );

    verify_histories(engine, &distinct).await;
}

/// Every instance completed once, with one history row per change and one
/// record of each input; its activity outcome is one of the effects.
async fn verify_histories(engine: &Engine, effects: &HashSet<&str>) {
    let rows = engine
        .instances(None, Some("crash"), 2 * N as u64)
        .await
        .expect("lists");
    assert_eq!(rows.len(), N);
    let mut totals: HashMap<&'static str, usize> = HashMap::new();
    for row in &rows {
        assert_eq!(row.status, "completed");
        let view = engine.show(&row.id).await.expect("shows");
        assert_eq!(view.variables["y"], serde_json::json!(42));
        assert!(view.jobs.is_empty());
        let history = engine.history(&row.id).await.expect("history");
        let revs: Vec<i64> = history.iter().map(|line| line.rev).collect();
        let mut distinct_revs = revs.clone();
        distinct_revs.dedup();
        assert_eq!(
            distinct_revs,
            (1..=view.rev).collect::<Vec<_>>(),
            "one history row per change"
        );
        let mut key = None;
        for line in &history {
            *totals.entry(line.record.name()).or_default() += 1;
            if let Record::ActivityDone {
                output: Some(output),
                ..
            } = &line.record
            {
                key = output
                    .as_str()
                    .map(|text| text.trim_start_matches("req-").to_owned());
            }
        }
        let key = key.expect("the activity outcome was recorded");
        assert!(key.starts_with(&format!("{}/request/", row.id)));
        assert!(
            effects.contains(key.as_str()),
            "the recorded outcome is the effect's"
        );
        assert_eq!(
            view.variables["request_id"],
            serde_json::json!(format!("req-{key}"))
        );
    }
    for (name, expected) in [
        ("started", N),
        ("script", 2 * N),
        ("timer_fired", N),
        ("activity_done", N),
        ("completed", N),
        ("ended", N),
    ] {
        assert_eq!(
            totals.get(name).copied().unwrap_or(0),
            expected,
            "{name} records"
        );
    }
    eprintln!("history records: {totals:?}");
}
