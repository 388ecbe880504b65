//! Failing activity calls: `retry` tries before `on_error`, and passing
//! faults called again with the same idempotency key.

mod common;

use common::{engine, Recorder};
use sesflow_engine::history::Record;

async fn run_retry(failures: u32) -> (Vec<sesflow_engine::activity::Call>, String, Vec<String>) {
    let db = common::sqlite();
    let recorder = Recorder::failing(failures);
    let (engine, clock) = engine(&db, &recorder, &["retry"]).await;
    let started = engine
        .start("retry", None, Vec::new(), None)
        .await
        .expect("starts");
    for _ in 0..3 {
        engine.run_until_idle().await.expect("runs");
        clock.advance(10_000);
    }
    let view = engine.show(&started.id).await.expect("shows");
    let history = engine.history(&started.id).await.expect("history");
    let thens = history
        .iter()
        .filter_map(|line| match &line.record {
            Record::Failed { then, .. } => Some(then.clone()),
            _ => None,
        })
        .collect();
    (
        recorder.calls(),
        view.summary.outcome.unwrap_or_default(),
        thens,
    )
}

#[tokio::test]
async fn a_failed_call_is_tried_again_after_the_delay() {
    let (calls, outcome, thens) = run_retry(2).await;
    assert_eq!(calls.len(), 3);
    assert_eq!(outcome, "done");
    assert_eq!(thens, ["retry", "retry"]);
    let mut keys: Vec<_> = calls.iter().map(|call| call.key.to_string()).collect();
    keys.dedup();
    assert_eq!(keys.len(), 3, "each try after a failure is a new call");
}

#[tokio::test]
async fn the_last_failure_takes_on_error() {
    let (calls, outcome, thens) = run_retry(3).await;
    assert_eq!(calls.len(), 3, "the first call and two retries");
    assert_eq!(outcome, "failed");
    assert_eq!(thens, ["retry", "retry", "on_error"]);
}

#[tokio::test]
async fn an_unavailable_activity_is_called_again_with_the_same_key() {
    let db = common::sqlite();
    let recorder = Recorder::unavailable(1);
    let (engine, clock) = engine(&db, &recorder, &["retry"]).await;
    let started = engine
        .start("retry", None, Vec::new(), None)
        .await
        .expect("starts");
    assert_eq!(engine.run_until_idle().await.expect("runs").calls, 1);
    let view = engine.show(&started.id).await.expect("shows");
    assert_eq!(view.jobs[0]["kind"], "activity");
    assert_eq!(
        view.jobs[0]["due_at"],
        common::T0 + 5_000,
        "called again after the pause"
    );
    clock.advance(5_000);
    engine.run_until_idle().await.expect("runs");
    let calls = recorder.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].key, calls[1].key);
    let view = engine.show(&started.id).await.expect("shows");
    assert_eq!(view.summary.outcome.as_deref(), Some("done"));
    let history = engine.history(&started.id).await.expect("history");
    let failed = history
        .iter()
        .filter(|l| matches!(l.record, Record::Failed { .. }))
        .count();
    assert_eq!(failed, 0, "a passing fault is not a failure of the node");
}
