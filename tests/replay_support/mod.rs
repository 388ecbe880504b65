//! Recording histories from real runs: an engine on a fresh SQLite file with
//! a manual clock, the schemas deployed, a certificate service played by a
//! test activity, and the paths of every schema driven through the driver.

#![allow(dead_code)]

pub mod paths;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};
use sesflow_engine::activity::{self, Activity, Call, Outcome, Registry};
use sesflow_engine::driver::ManualClock;
use sesflow_engine::events::Event;
use sesflow_engine::replay::{file, History};
use sesflow_engine::{Config, Engine};

/// The clock at the start of every recording: 2030-01-07T09:00:00Z.
pub const T0: i64 = 1_894_006_800_000;

/// The schemas recorded from, relative to the package root.
pub const SCHEMAS: [&str; 6] = [
    "processes/ses-issuance.yaml",
    "processes/contract.yaml",
    "processes/document-approval.yaml",
    "tests/replay/expense.yaml",
    "tests/replay/agreement.yaml",
    "tests/replay/rounds.yaml",
];

/// The absolute path of a file of the package.
pub fn path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The text of a file of the package.
pub fn source(relative: &str) -> String {
    let path = path(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// An engine recording real runs.
pub struct Bench {
    /// The engine.
    pub engine: Engine,
    /// Its clock.
    pub clock: Arc<ManualClock>,
    /// The directory of its SQLite file.
    pub dir: tempfile::TempDir,
}

/// A bench with `schemas` (package-relative paths) deployed.
pub async fn bench(schemas: &[&str]) -> Bench {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("sesflow.db").display());
    let mut registry = Registry::new();
    registry.register("signature_issuing_request", Arc::new(Service::default()));
    let clock = Arc::new(ManualClock::new(T0));
    let engine = Engine::open(&url, registry, Config::default())
        .await
        .expect("engine opens")
        .with_clock(clock.clone());
    for schema in schemas {
        engine
            .deploy(schema, &source(schema))
            .await
            .unwrap_or_else(|error| panic!("{schema} deploys: {error}"));
    }
    Bench { engine, clock, dir }
}

impl Bench {
    /// Starts an instance (without running the worker).
    pub async fn start(&self, process: &str, vars: Value) -> String {
        let vars = object(vars);
        let started = self
            .engine
            .start(process, None, vars, Some("hr".into()))
            .await;
        started
            .unwrap_or_else(|error| panic!("{process} starts: {error}"))
            .id
    }

    /// Completes the task waiting at `node` of instance `id`.
    pub async fn complete(&self, id: &str, node: &str, data: Value) {
        let task = self.task(id, node).await;
        let done = self.engine.complete(&task, object(data), false).await;
        done.unwrap_or_else(|error| panic!("{task} completes: {error}"));
    }

    /// Refuses the signing waiting at `node` of instance `id`.
    pub async fn refuse(&self, id: &str, node: &str) {
        let task = self.task(id, node).await;
        let done = self.engine.complete(&task, Vec::new(), true).await;
        done.unwrap_or_else(|error| panic!("{task} is refused: {error}"));
    }

    async fn task(&self, id: &str, node: &str) -> String {
        let view = self.engine.show(id).await.expect("instance shows");
        let task = view.tasks.iter().find(|task| task.node == node);
        task.unwrap_or_else(|| panic!("no task at {node} of {id}: {:?}", view.tokens))
            .id
            .clone()
    }

    /// Sends an event.
    pub async fn send(&self, kind: &str, key: &str, payload: Value) {
        let event = Event {
            id: uuid::Uuid::new_v4().to_string(),
            kind: kind.into(),
            key: key.into(),
            payload,
        };
        self.engine
            .send_event(&event, None)
            .await
            .expect("event sent");
    }

    /// Does the work that is due now: activity calls, timers, timeouts.
    pub async fn idle(&self) {
        self.engine.run_until_idle().await.expect("worker runs");
    }

    /// Moves the clock by `duration` (such as `2d`), then does what is due.
    pub async fn advance(&self, duration: &str) {
        let by = humantime::parse_duration(duration).expect("a duration");
        self.clock.advance(millis(by));
        self.idle().await;
    }

    /// Sets variables and retries the instance's incidents.
    pub async fn retry(&self, id: &str, vars: Value) {
        self.engine.retry(id, object(vars)).await.expect("retried");
    }

    /// A variable's value (null when unset).
    pub async fn var(&self, id: &str, name: &str) -> Value {
        let view = self.engine.show(id).await.expect("instance shows");
        view.variables.get(name).cloned().unwrap_or(Value::Null)
    }

    /// The instance's status and outcome.
    pub async fn status(&self, id: &str) -> (String, Option<String>) {
        let view = self.engine.show(id).await.expect("instance shows");
        (view.summary.status, view.summary.outcome)
    }

    /// The export of instance `id`.
    pub async fn export(&self, id: &str) -> String {
        file::export(&self.engine, id).await.expect("exports")
    }

    /// The export of instance `id`, read back.
    pub async fn history(&self, id: &str) -> History {
        let text = self.export(id).await;
        let mut histories = file::read(&format!("{id}.jsonl"), &text).expect("export reads");
        assert_eq!(histories.len(), 1);
        histories.remove(0)
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).expect("a test duration")
}

fn object(value: Value) -> Vec<(String, Value)> {
    match value {
        Value::Object(map) => map.into_iter().collect(),
        other => panic!("variables are an object, not {other}"),
    }
}

/// The certificate service as the tests play it: it answers
/// `req-INSTANCE-TOKEN`; for the user `down` it always fails, for the user
/// `flaky` it fails the first call of each instance.
#[derive(Default)]
pub struct Service {
    failed_once: Mutex<HashSet<String>>,
}

#[async_trait]
impl Activity for Service {
    async fn execute(&self, call: Call) -> Result<Outcome, activity::Error> {
        let user = call.input["fields"]["user"].as_str().unwrap_or_default();
        let first = self
            .failed_once
            .lock()
            .expect("lock")
            .insert(call.key.instance_id.clone());
        if user == "down" || (user == "flaky" && first) {
            return Err(activity::Error::Failed {
                code: "SES_DOWN".into(),
                message: "the certificate service is down".into(),
            });
        }
        let output = json!(format!(
            "req-{}-{}",
            call.key.instance_id, call.key.token_id
        ));
        Ok(Outcome { output })
    }
}
