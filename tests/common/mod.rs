//! Shared test setup: databases (a fresh SQLite file, and a PostgreSQL schema
//! of its own when SESFLOW_TEST_PG_URL is set), engines with a manual clock,
//! and an activity that records its calls.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};
use sesflow_engine::activity::{self, Activity, Call, IdempotencyKey, Outcome, Registry};
use sesflow_engine::driver::ManualClock;
use sesflow_engine::{Config, Engine};

/// A clock reading in the tests: 2030-01-01T00:00:00Z.
pub const T0: i64 = 1_893_456_000_000;

/// Runs the async scenario `$scenario(&TestDb)` on every database.
#[macro_export]
macro_rules! on_every_db {
    ($scenario:path) => {
        for db in common::databases().await {
            $scenario(&db).await;
            db.finish().await;
        }
    };
}

/// A database for one test.
pub struct TestDb {
    /// Its URL.
    pub url: String,
    /// `sqlite` or `postgres`.
    pub label: &'static str,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl TestDb {
    /// Drops the PostgreSQL schema; the SQLite directory goes with `self`.
    pub async fn finish(self) {
        if let Some((base, schema)) = &self.pg {
            let conn = sesflow_engine::store::connect(base)
                .await
                .expect("postgres reachable");
            conn.execute_unprepared(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .await
                .expect("schema dropped");
        }
    }
}

/// A fresh SQLite file, and a fresh PostgreSQL schema when the URL is set.
pub async fn databases() -> Vec<TestDb> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("sesflow.db").display());
    let mut all = vec![TestDb {
        url,
        label: "sqlite",
        _dir: Some(dir),
        pg: None,
    }];
    match std::env::var("SESFLOW_TEST_PG_URL") {
        Ok(base) if !base.is_empty() => all.push(postgres(&base).await),
        _ => say_postgres_skipped(),
    }
    all
}

/// Says once per test binary, past the test harness's capture, that the
/// PostgreSQL runs were skipped.
fn say_postgres_skipped() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SESFLOW_TEST_PG_URL is not set: the PostgreSQL runs of these tests were skipped"
        );
    });
}

/// A fresh SQLite file only (for tests that reopen files or drive the binary).
pub fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("sesflow.db").display());
    TestDb {
        url,
        label: "sqlite",
        _dir: Some(dir),
        pg: None,
    }
}

async fn postgres(base: &str) -> TestDb {
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let conn = sesflow_engine::store::connect(base)
        .await
        .expect("postgres reachable");
    conn.execute_unprepared(&format!("CREATE SCHEMA {schema}"))
        .await
        .expect("schema created");
    let sep = if base.contains('?') { '&' } else { '?' };
    TestDb {
        url: format!("{base}{sep}options=-csearch_path%3D{schema}"),
        label: "postgres",
        _dir: None,
        pg: Some((base.to_owned(), schema)),
    }
}

/// The text of `tests/processes/NAME.yaml`.
pub fn source(name: &str) -> String {
    let path = format!("{}/tests/processes/{name}.yaml", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// An engine on `db` with a manual clock at [`T0`] and `recorder` serving
/// `signature_issuing_request`; the schemas `names` deployed.
pub async fn engine(
    db: &TestDb,
    recorder: &Arc<Recorder>,
    names: &[&str],
) -> (Engine, Arc<ManualClock>) {
    engine_with(db, recorder, names, Config::default()).await
}

/// [`engine`] with a configuration.
pub async fn engine_with(
    db: &TestDb,
    recorder: &Arc<Recorder>,
    names: &[&str],
    config: Config,
) -> (Engine, Arc<ManualClock>) {
    let mut registry = Registry::new();
    registry.register("signature_issuing_request", recorder.clone());
    let clock = Arc::new(ManualClock::new(T0));
    let engine = Engine::open(&db.url, registry, config)
        .await
        .expect("engine opens")
        .with_clock(clock.clone());
    for name in names {
        engine
            .deploy(&format!("{name}.yaml"), &source(name))
            .await
            .unwrap_or_else(|error| panic!("{name}.yaml deploys: {error} {error:?}"));
    }
    (engine, clock)
}

/// Variables from `(name, value)` pairs.
pub fn vars(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.clone()))
        .collect()
}

/// An activity that records each call and answers `req-TOKEN`; the same key
/// gets the same answer, and the first `failures` calls fail.
#[derive(Default)]
pub struct Recorder {
    calls: Mutex<Vec<Call>>,
    answers: Mutex<HashMap<IdempotencyKey, Value>>,
    failures: Mutex<u32>,
    unavailable: Mutex<u32>,
}

impl Recorder {
    /// A recorder whose first `failures` calls fail.
    pub fn failing(failures: u32) -> Arc<Self> {
        let recorder = Self::default();
        *recorder.failures.lock().expect("lock") = failures;
        Arc::new(recorder)
    }

    /// A recorder whose first `n` calls report a passing fault.
    pub fn unavailable(n: u32) -> Arc<Self> {
        let recorder = Self::default();
        *recorder.unavailable.lock().expect("lock") = n;
        Arc::new(recorder)
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("lock").clone()
    }
}

#[async_trait]
impl Activity for Recorder {
    async fn execute(&self, call: Call) -> Result<Outcome, activity::Error> {
        self.calls.lock().expect("lock").push(call.clone());
        {
            let mut unavailable = self.unavailable.lock().expect("lock");
            if *unavailable > 0 {
                *unavailable -= 1;
                return Err(activity::Error::Unavailable(
                    "the test service is busy".into(),
                ));
            }
        }
        {
            let mut failures = self.failures.lock().expect("lock");
            if *failures > 0 {
                *failures -= 1;
                return Err(activity::Error::Failed {
                    code: "TEST_DOWN".into(),
                    message: "the test service said no".into(),
                });
            }
        }
        let mut answers = self.answers.lock().expect("lock");
        let output = answers
            .entry(call.key.clone())
            .or_insert_with(|| json!(format!("req-{}", call.key.token_id)))
            .clone();
        Ok(Outcome { output })
    }
}

/// A request to start `process` at its latest version, with no variables.
pub fn request(process: &str) -> sesflow_engine::driver::StartRequest {
    sesflow_engine::driver::StartRequest {
        process: process.to_owned(),
        version: None,
        vars: Vec::new(),
        initiator: None,
    }
}
