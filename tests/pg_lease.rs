//! Leases and the roster of workers, on SQLite and on PostgreSQL when
//! SESFLOW_TEST_PG_URL is set: a dead worker's calls are taken over when its
//! lease runs out; a stopping worker finishes the call in hand and releases
//! the rest; a worker's name is refused while a live worker holds it; many
//! tasks in one worker call each activity once.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::{Recorder, TestDb};
use sea_orm::TransactionTrait;
use serde_json::json;
use sesflow_engine::activity::{self, Activity, Call, Outcome, Registry};
use sesflow_engine::driver::{Clock, StartRequest};
use sesflow_engine::queue::{self, Options};
use sesflow_engine::runtime::Status;
use sesflow_engine::store::{self, entities::job, Lease};
use sesflow_engine::{Config, Engine};
use tokio::sync::{oneshot, Notify};

async fn start_calls(engine: &Engine, n: usize) -> Vec<String> {
    let request = StartRequest {
        process: "call".into(),
        version: None,
        vars: Vec::new(),
        initiator: None,
    };
    let started = engine.start_batch(&vec![request; n]).await.expect("starts");
    started.into_iter().map(|started| started.id).collect()
}

async fn jobs(engine: &Engine) -> Vec<job::Model> {
    use sea_orm::EntityTrait;
    job::Entity::find()
        .all(engine.db())
        .await
        .expect("jobs read")
}

async fn completed(engine: &Engine, ids: &[String]) -> usize {
    let mut n = 0;
    for id in ids {
        n += usize::from(engine.show(id).await.expect("shows").summary.status == "completed");
    }
    n
}

async fn taken_over(db: &TestDb) {
    let recorder = Recorder::failing(0);
    let config = Config {
        worker_id: "survivor".into(),
        ..Config::default()
    };
    let (engine, clock) = common::engine_with(db, &recorder, &["call"], config).await;
    let ids = start_calls(&engine, 3).await;

    // a worker claims the calls, then dies before calling
    let lease = Lease {
        owner: "fallen".into(),
        until_ms: clock.now_ms() + 30_000,
    };
    let txn = engine.db().begin().await.expect("begins");
    let claimed = store::claim_jobs(&txn, &["activity"], clock.now_ms(), 10, Some(&lease))
        .await
        .expect("claims");
    txn.commit().await.expect("commits");
    assert_eq!(claimed.len(), 3, "{}", db.label);

    let workers = engine.workers(false).await.expect("lists");
    assert_eq!(workers.len(), 1, "{}: the holder is listed", db.label);
    assert_eq!(workers[0].id, "fallen");
    assert_eq!(workers[0].state, "unregistered");
    assert_eq!(workers[0].holds.len(), 3);

    let tick = engine.run_until_idle().await.expect("runs");
    assert_eq!(tick.calls, 0, "{}: held calls wait for the lease", db.label);
    clock.advance(30_001);
    let tick = engine.run_until_idle().await.expect("runs");
    assert_eq!(tick.calls, 3, "{}: taken over after the lease", db.label);
    assert_eq!(completed(&engine, &ids).await, 3);
    assert_eq!(recorder.calls().len(), 3, "each call made once");
    assert!(jobs(&engine).await.is_empty());
    assert!(engine.workers(true).await.expect("lists").is_empty());
}

#[tokio::test]
async fn a_dead_workers_calls_are_taken_over_when_its_lease_runs_out() {
    on_every_db!(taken_over);
}

/// An activity whose first call waits for the test's word.
#[derive(Default)]
struct Gate {
    calls: AtomicUsize,
    entered: Notify,
    open: Notify,
}

#[async_trait]
impl Activity for Gate {
    async fn execute(&self, call: Call) -> Result<Outcome, activity::Error> {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            self.entered.notify_one();
            self.open.notified().await;
        }
        Ok(Outcome {
            output: json!(format!("req-{}", call.key)),
        })
    }
}

fn gated(
    db: &TestDb,
    gate: &Arc<Gate>,
    worker_id: &str,
) -> impl std::future::Future<Output = Engine> {
    let mut registry = Registry::new();
    registry.register("signature_issuing_request", gate.clone());
    let config = Config {
        worker_id: worker_id.to_owned(),
        lease: Duration::from_secs(30),
        ..Config::default()
    };
    let url = db.url.clone();
    async move { Engine::open(&url, registry, config).await.expect("opens") }
}

async fn stopped_in_hand(db: &TestDb) {
    let gate = Arc::new(Gate::default());
    let engine = Arc::new(gated(db, &gate, "stopper").await);
    engine
        .deploy("call.yaml", &common::source("call"))
        .await
        .expect("deploys");
    let ids = start_calls(&engine, 5).await;

    let (stop, stopped) = oneshot::channel::<()>();
    let worker = tokio::spawn(queue::run(engine.clone(), Options::default(), async {
        let _ = stopped.await;
    }));
    gate.entered.notified().await;

    // the worker holds the five calls of its batch, one of them in hand
    let workers = engine.workers(false).await.expect("lists");
    assert_eq!(workers.len(), 1, "{}", db.label);
    assert_eq!(workers[0].id, "stopper");
    assert_eq!(workers[0].state, "running");
    assert_eq!(workers[0].pid, Some(i64::from(std::process::id())));
    assert_eq!(workers[0].holds.len(), 5);
    assert!(workers[0].holds.iter().all(|held| held.kind == "activity"));

    stop.send(()).expect("the worker listens");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        engine.workers(false).await.expect("lists")[0].state,
        "stopping",
        "{}",
        db.label
    );
    gate.open.notify_one();
    let done = worker.await.expect("joins").expect("runs");
    assert_eq!(
        done.calls, 1,
        "{}: only the call in hand was made",
        db.label
    );
    assert_eq!(completed(&engine, &ids).await, 1);
    let left = jobs(&engine).await;
    assert_eq!(left.len(), 4);
    assert!(left
        .iter()
        .all(|job| job.lease_owner.is_none() && job.attempts == 0));
    assert!(
        engine.workers(true).await.expect("lists").is_empty(),
        "left the roster"
    );

    let tick = engine.run_until_idle().await.expect("runs");
    assert_eq!(
        tick.calls, 4,
        "{}: released calls are taken at once",
        db.label
    );
    assert_eq!(completed(&engine, &ids).await, 5);
    assert_eq!(gate.calls.load(Ordering::SeqCst), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_worker_finishes_the_call_in_hand_and_releases_the_rest() {
    on_every_db!(stopped_in_hand);
}

async fn name_taken(db: &TestDb) {
    let gate = Arc::new(Gate::default());
    let first = Arc::new(gated(db, &gate, "twin").await);
    let second = Arc::new(gated(db, &gate, "twin").await);
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(queue::run(first, Options::default(), async {
        let _ = stopped.await;
    }));
    // wait until the first is in the roster
    for _ in 0..100 {
        if !second.workers(false).await.expect("lists").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refused = queue::run(second.clone(), Options::default(), async {})
        .await
        .expect_err("a live name is refused");
    assert!(refused.is_input(), "{}: {refused}", db.label);
    let message = refused.to_string();
    assert!(message.contains("`twin` is running already"), "{message}");
    assert!(message.contains("--name"), "the remedy is named: {message}");
    stop.send(()).expect("the worker listens");
    running.await.expect("joins").expect("runs");
    // once it left, the name is free again
    queue::run(second, Options::default(), async {})
        .await
        .expect("the name is free");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_name_held_by_a_live_worker_is_refused() {
    on_every_db!(name_taken);
}

/// An activity that counts calls per key.
#[derive(Default)]
struct Tally(Mutex<std::collections::HashMap<String, usize>>);

#[async_trait]
impl Activity for Tally {
    async fn execute(&self, call: Call) -> Result<Outcome, activity::Error> {
        let key = call.key.to_string();
        *self.0.lock().expect("lock").entry(key.clone()).or_default() += 1;
        tokio::task::yield_now().await;
        Ok(Outcome {
            output: json!(format!("req-{key}")),
        })
    }
}

async fn many_tasks(db: &TestDb) {
    const N: usize = 300;
    let tally = Arc::new(Tally::default());
    let mut registry = Registry::new();
    registry.register("signature_issuing_request", tally.clone());
    let config = Config {
        batch: 16,
        ..Config::default()
    };
    let engine = Arc::new(
        Engine::open(&db.url, registry, config)
            .await
            .expect("opens"),
    );
    engine
        .deploy("call.yaml", &common::source("call"))
        .await
        .expect("deploys");
    let ids = start_calls(&engine, N).await;
    let options = Options {
        concurrency: 4,
        poll: Duration::from_millis(20),
        ..Options::default()
    };
    let watcher = engine.clone();
    let all_done = async move {
        while !watcher
            .instances(Some(Status::Active), Some("call"), 1)
            .await
            .expect("lists")
            .is_empty()
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let done = tokio::time::timeout(
        Duration::from_secs(120),
        queue::run(engine.clone(), options, all_done),
    )
    .await
    .expect("finishes in time")
    .expect("runs");
    assert_eq!(done.calls, N, "{}", db.label);
    assert_eq!(completed(&engine, &ids).await, N);
    let tally = tally.0.lock().expect("lock");
    assert_eq!(tally.len(), N);
    assert!(
        tally.values().all(|n| *n == 1),
        "{}: no call made twice",
        db.label
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_tasks_in_one_worker_call_each_activity_once() {
    on_every_db!(many_tasks);
}
