//! State that outlives the process: timers due while no worker ran, partial
//! joins, open tasks, after the database is closed and opened again.

mod common;

use common::{engine, vars, Recorder};
use serde_json::json;
use sesflow_engine::history::Record;

#[tokio::test]
async fn a_timer_due_while_no_worker_ran_fires_after_restart() {
    let db = common::sqlite();
    let recorder = Recorder::failing(0);
    let id = {
        let (engine, _clock) = engine(&db, &recorder, &["timer"]).await;
        let started = engine
            .start("timer", None, Vec::new(), None)
            .await
            .expect("starts");
        assert_eq!(engine.show(&started.id).await.expect("shows").jobs.len(), 1);
        started.id
    };
    // a new process, a minute later: nothing ran in between
    let (engine, clock) = engine(&db, &recorder, &[]).await;
    clock.advance(60_000);
    let tick = engine.run_until_idle().await.expect("runs");
    assert_eq!(tick.jobs, 1);
    let view = engine.show(&id).await.expect("shows");
    assert_eq!(view.summary.status, "completed");
    let history = engine.history(&id).await.expect("history");
    let fired = history.iter().find_map(|line| match &line.record {
        Record::TimerFired { now_ms, .. } => Some(*now_ms),
        _ => None,
    });
    assert_eq!(fired, Some(common::T0 + 60_000));
}

#[tokio::test]
async fn a_partial_join_survives_a_restart() {
    let db = common::sqlite();
    let recorder = Recorder::failing(0);
    let id = {
        let (engine, _clock) = engine(&db, &recorder, &["split-join"]).await;
        let started = engine
            .start("split-join", None, vars(&[("flag", json!(false))]), None)
            .await
            .expect("starts");
        assert_eq!(
            engine.show(&started.id).await.expect("shows").joins["join"],
            json!({"merged": 1})
        );
        started.id
    };
    let (engine, _clock) = engine(&db, &recorder, &[]).await;
    let view = engine.show(&id).await.expect("shows");
    assert_eq!(
        view.joins["join"],
        json!({"merged": 1}),
        "the arrival was stored"
    );
    assert_eq!(view.tasks.len(), 1);
    let status = engine
        .complete(&view.tasks[0].id, Vec::new(), false)
        .await
        .expect("completes");
    assert_eq!(status, sesflow_engine::runtime::Status::Completed);
    let history = engine.history(&id).await.expect("history");
    let fired = history
        .iter()
        .filter(|l| matches!(l.record, Record::Joined { fired: true, .. }))
        .count();
    assert_eq!(fired, 1);
}
