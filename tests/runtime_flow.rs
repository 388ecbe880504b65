//! Gateways, joins, timeouts, incidents, the step budget and cancellation.

mod common;

use common::{engine, engine_with, vars, Recorder, TestDb};
use serde_json::json;
use sesflow_engine::driver::Error;
use sesflow_engine::driver::ManualClock;
use sesflow_engine::history::Record;
use sesflow_engine::runtime::Status;
use sesflow_engine::{Config, Engine};

fn count(lines: &[sesflow_engine::history::Line], pick: impl Fn(&Record) -> bool) -> usize {
    lines.iter().filter(|line| pick(&line.record)).count()
}

async fn outcome(engine: &Engine, id: &str) -> (String, Option<String>) {
    let view = engine.show(id).await.expect("shows");
    (view.summary.status, view.summary.outcome)
}

async fn loop_and_gateways(db: &TestDb) {
    let recorder = Recorder::failing(0);
    let (engine, _clock) = engine(db, &recorder, &["loop-join", "default"]).await;

    // a parallel join inside a loop: three rounds, each join fires once
    let started = engine
        .start("loop-join", None, Vec::new(), None)
        .await
        .expect("starts");
    assert_eq!(started.status, Status::Completed, "{}", db.label);
    let view = engine.show(&started.id).await.expect("shows");
    assert_eq!(
        (
            view.variables["round"].clone(),
            view.variables["a"].clone(),
            view.variables["b"].clone()
        ),
        (json!(3), json!(3), json!(3))
    );
    let history = engine.history(&started.id).await.expect("history");
    assert_eq!(
        count(&history, |r| matches!(
            r,
            Record::Joined { fired: true, .. }
        )),
        3
    );
    assert_eq!(
        count(&history, |r| matches!(
            r,
            Record::Joined { fired: false, .. }
        )),
        3
    );
    assert!(view.joins.is_empty());

    // no branch true: the default
    for (score, expected) in [(95, "high"), (70, "middle"), (10, "low")] {
        let started = engine
            .start("default", None, vars(&[("score", json!(score))]), None)
            .await
            .expect("starts");
        let (status, got) = outcome(&engine, &started.id).await;
        assert_eq!(
            (status.as_str(), got.as_deref()),
            ("completed", Some(expected))
        );
    }
    let low = engine
        .instances(Some(Status::Completed), Some("default"), 10)
        .await
        .expect("lists");
    let low = low
        .iter()
        .find(|row| row.outcome.as_deref() == Some("low"))
        .expect("low exists");
    let history = engine.history(&low.id).await.expect("history");
    let branch = history.iter().find_map(|line| match &line.record {
        Record::Branch { taken, branch, .. } => Some((taken.clone(), *branch)),
        _ => None,
    });
    assert_eq!(
        branch,
        Some(("low".to_owned(), None)),
        "the default has no branch index"
    );
}

#[tokio::test]
async fn a_join_in_a_loop_and_a_gateway_default() {
    on_every_db!(loop_and_gateways);
}

async fn joins(db: &TestDb) {
    let recorder = Recorder::failing(0);
    let (engine, _clock) = engine(db, &recorder, &["join-twice", "split-join"]).await;

    // two tokens over one incoming flow do not complete the join
    let started = engine
        .start("join-twice", None, Vec::new(), None)
        .await
        .expect("starts");
    let view = engine.show(&started.id).await.expect("shows");
    assert_eq!(view.summary.status, "active", "{}", db.label);
    assert_eq!(view.joins["join"], json!({"merge": 2}));
    assert_eq!(view.variables["n"], json!(211));
    let task = engine.tasks(None).await.expect("tasks").remove(0);
    assert_eq!(task.node, "slow");
    engine
        .complete(&task.id, Vec::new(), false)
        .await
        .expect("completes");
    let view = engine.show(&started.id).await.expect("shows");
    assert_eq!(view.summary.status, "completed");
    assert_eq!(
        view.joins["join"],
        json!({"merge": 1}),
        "the extra arrival waits for a next round"
    );
    let history = engine.history(&started.id).await.expect("history");
    assert_eq!(
        count(&history, |r| matches!(
            r,
            Record::Joined { fired: true, .. }
        )),
        1
    );
    assert_eq!(count(&history, |r| matches!(r, Record::Ended { .. })), 1);

    // a join behind an exclusive split and merge
    for (flag, path) in [(true, "one+"), (false, "two+")] {
        let started = engine
            .start("split-join", None, vars(&[("flag", json!(flag))]), None)
            .await
            .expect("starts");
        let view = engine.show(&started.id).await.expect("shows");
        assert_eq!(view.joins["join"], json!({"merged": 1}));
        assert_eq!(view.variables["path"], json!(path));
        let task = view.tasks[0].id.clone();
        assert_eq!(
            engine
                .complete(&task, Vec::new(), false)
                .await
                .expect("completes"),
            Status::Completed
        );
    }
}

#[tokio::test]
async fn joins_count_arrivals_per_incoming_flow() {
    on_every_db!(joins);
}

async fn timeout_incident_budget(db: &TestDb) {
    let recorder = Recorder::failing(0);
    let config = Config {
        step_budget: 200,
        ..Config::default()
    };
    let (engine, clock) = engine_with(db, &recorder, &["timeout", "divide", "spin"], config).await;
    task_timeout(&engine, &clock).await;
    script_incident(&engine).await;
    step_budget(&engine).await;
}

/// A task timeout takes on_timeout; the task is gone.
async fn task_timeout(engine: &Engine, clock: &ManualClock) {
    let late = engine
        .start("timeout", None, Vec::new(), None)
        .await
        .expect("starts");
    let early = engine
        .start("timeout", None, Vec::new(), None)
        .await
        .expect("starts");
    let early_task = engine.show(&early.id).await.expect("shows").tasks[0]
        .id
        .clone();
    engine
        .complete(&early_task, vars(&[("note", json!("fine"))]), false)
        .await
        .expect("completes");
    clock.advance(3_600_000 - 1);
    assert_eq!(engine.run_until_idle().await.expect("runs").jobs, 0);
    clock.advance(1);
    assert_eq!(
        engine.run_until_idle().await.expect("runs").jobs,
        1,
        "only the open task times out"
    );
    assert_eq!(
        outcome(engine, &late.id).await.1.as_deref(),
        Some("escalated")
    );
    assert_eq!(
        outcome(engine, &early.id).await.1.as_deref(),
        Some("reviewed")
    );
    assert!(engine.tasks(None).await.expect("tasks").is_empty());
}

/// A script error is an incident; fixed variables and a retry finish it.
async fn script_incident(engine: &Engine) {
    let failed = engine
        .start("divide", None, Vec::new(), None)
        .await
        .expect("starts");
    assert_eq!(failed.status, Status::Incident);
    let incidents = engine
        .instances(Some(Status::Incident), None, 10)
        .await
        .expect("lists");
    assert_eq!(incidents.len(), 1);
    let message = incidents[0].incident.clone().unwrap_or_default();
    assert!(message.contains("script failed"), "{message}");
    let wrong = engine
        .retry(&failed.id, vars(&[("divisor", json!("five"))]))
        .await;
    assert!(
        matches!(wrong, Err(Error::Input(ref m)) if m.contains("divisor")),
        "{wrong:?}"
    );
    let status = engine
        .retry(&failed.id, vars(&[("divisor", json!(4))]))
        .await
        .expect("retries");
    assert_eq!(status, Status::Completed);
    assert_eq!(
        engine.show(&failed.id).await.expect("shows").variables["result"],
        json!(25)
    );
    let again = engine.retry(&failed.id, Vec::new()).await;
    assert!(
        matches!(again, Err(Error::Runtime(_))),
        "a completed instance takes no retry"
    );
}

/// A loop that never waits spends the step budget and stops on an incident.
async fn step_budget(engine: &Engine) {
    let spin = engine
        .start("spin", None, Vec::new(), None)
        .await
        .expect("starts");
    assert_eq!(spin.status, Status::Incident);
    let view = engine.show(&spin.id).await.expect("shows");
    assert!(view
        .summary
        .incident
        .unwrap_or_default()
        .contains("step budget of 200"));
    let status = engine
        .retry(&spin.id, vars(&[("limit", json!(150))]))
        .await
        .expect("retries");
    assert_eq!(status, Status::Completed);
}

#[tokio::test]
async fn timeouts_incidents_and_the_step_budget() {
    on_every_db!(timeout_incident_budget);
}

#[tokio::test]
async fn cancel_drops_tasks_waits_and_jobs() {
    let db = common::sqlite();
    let recorder = Recorder::failing(0);
    let (engine, clock) = engine(&db, &recorder, &["kinds"]).await;
    let started = engine
        .start("kinds", None, vars(&[("who", json!("bo"))]), None)
        .await
        .expect("starts");
    let task = engine.tasks(None).await.expect("tasks").remove(0);
    engine
        .complete(&task.id, vars(&[("amount", json!(1))]), false)
        .await
        .expect("completes");
    let view = engine.show(&started.id).await.expect("shows");
    assert_eq!((view.waits.len(), view.jobs.len()), (1, 1));
    assert_eq!(
        engine.cancel(&started.id).await.expect("cancels"),
        Status::Cancelled
    );
    let view = engine.show(&started.id).await.expect("shows");
    assert_eq!(view.summary.status, "cancelled");
    assert!(view.tokens.is_empty() && view.waits.is_empty() && view.jobs.is_empty());
    clock.advance(120_000);
    assert!(engine.run_until_idle().await.expect("runs").is_idle());
    assert!(
        engine.cancel(&started.id).await.is_err(),
        "a cancelled instance stays cancelled"
    );
}

#[tokio::test]
async fn redeploying_a_version_with_other_content_is_refused() {
    let db = common::sqlite();
    let recorder = Recorder::failing(0);
    let (engine, _clock) = engine(&db, &recorder, &["default"]).await;
    let source = common::source("default");
    let (_, again) = engine
        .deploy("default.yaml", &source)
        .await
        .expect("same content");
    assert_eq!(again, sesflow_engine::driver::Deployed::Unchanged);
    let changed = source.replace("score > 90", "score > 80");
    let refused = engine.deploy("default.yaml", &changed).await;
    assert!(
        matches!(refused, Err(Error::VersionTaken { ref process, version: 1, .. })
            if process == "default")
    );
    let started = engine
        .start("default", None, vars(&[("score", json!(85))]), None)
        .await
        .expect("starts");
    assert_eq!(
        outcome(&engine, &started.id).await.1.as_deref(),
        Some("middle"),
        "still version 1"
    );

    // version 2 deploys; old instances keep version 1, new ones take 2
    let v2 = changed.replace("version: 1", "version: 2");
    engine
        .deploy("default.yaml", &v2)
        .await
        .expect("version 2 deploys");
    let newer = engine
        .start("default", None, vars(&[("score", json!(85))]), None)
        .await
        .expect("starts");
    assert_eq!(outcome(&engine, &newer.id).await.1.as_deref(), Some("high"));
    assert_eq!(
        engine
            .show(&started.id)
            .await
            .expect("shows")
            .summary
            .version,
        1
    );
    assert_eq!(
        engine.show(&newer.id).await.expect("shows").summary.version,
        2
    );
}
