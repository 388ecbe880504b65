//! Each node kind, driven through the library on a real database.

mod common;

use common::{engine, vars, Recorder, TestDb, T0};
use serde_json::json;
use sesflow_engine::driver::ManualClock;
use sesflow_engine::events::Event;
use sesflow_engine::history::Record;
use sesflow_engine::runtime::Status;
use sesflow_engine::Engine;

fn event(id: &str, kind: &str, key: &str, payload: serde_json::Value) -> Event {
    Event {
        id: id.into(),
        kind: kind.into(),
        key: key.into(),
        payload,
    }
}

async fn every_control_kind(db: &TestDb) {
    let recorder = Recorder::failing(0);
    let (engine, clock) = engine(db, &recorder, &["kinds"]).await;
    let started = engine
        .start(
            "kinds",
            None,
            vars(&[("who", json!("ana"))]),
            Some("op".into()),
        )
        .await
        .expect("starts");
    assert_eq!(started.status, Status::Active, "{}", db.label);
    task_gateway_and_fork(&engine, &started.id).await;
    receive_timer_and_join(&engine, &clock, &started.id).await;
}

/// Task (assigned through `who`, fills `amount`), gateway, merge, fork.
async fn task_gateway_and_fork(engine: &Engine, id: &str) {
    let tasks = engine.tasks(Some("ana")).await.expect("tasks");
    assert_eq!(tasks.len(), 1);
    assert_eq!(
        (tasks[0].node.as_str(), tasks[0].form.clone()),
        ("fill", vec!["amount".to_owned()])
    );
    engine
        .complete(&tasks[0].id, vars(&[("amount", json!(250))]), false)
        .await
        .expect("completes");

    // gateway took `big`, the merge script ran once, the fork waits twice
    let view = engine.show(id).await.expect("shows");
    assert_eq!(view.variables["size"], json!("big"));
    assert_eq!(view.variables["amount"], json!(251));
    let mut waits: Vec<_> = view
        .tokens
        .iter()
        .map(|t| (t.node.clone(), t.wait.clone()))
        .collect();
    waits.sort();
    assert_eq!(
        waits,
        vec![
            ("listen".into(), "event".into()),
            ("pause".into(), "timer".into())
        ]
    );
}

/// Receive (the event for the order key), timer, join, end.
async fn receive_timer_and_join(engine: &Engine, clock: &ManualClock, id: &str) {
    let delivery = engine
        .send_event(
            &event("e1", "order.paid", "A-1", json!({"paid": 251})),
            None,
        )
        .await
        .expect("sends");
    assert_eq!(
        delivery,
        sesflow_engine::driver::Delivery::Delivered {
            instance_id: id.to_owned()
        }
    );
    // timer: not due before a minute, due after
    assert_eq!(engine.run_until_idle().await.expect("runs").jobs, 0);
    clock.advance(60_000);
    assert_eq!(engine.run_until_idle().await.expect("runs").jobs, 1);

    let view = engine.show(id).await.expect("shows");
    assert_eq!(view.summary.status, "completed");
    assert_eq!(view.summary.outcome.as_deref(), Some("ok"));
    assert_eq!(view.variables["payment"], json!({"paid": 251}));
    assert!(view.tokens.is_empty() && view.joins.is_empty());

    let history = engine.history(id).await.expect("history");
    let branch = history.iter().find_map(|line| match &line.record {
        Record::Branch {
            node,
            taken,
            branch,
            ..
        } => Some((node.clone(), taken.clone(), *branch)),
        _ => None,
    });
    assert_eq!(branch, Some(("check".into(), "big".into(), Some(0))));
    let fired = history
        .iter()
        .filter(|line| matches!(line.record, Record::Joined { fired: true, .. }))
        .count();
    assert_eq!(fired, 1);
    let timer_at = history.iter().find_map(|line| match &line.record {
        Record::TimerFired { now_ms, .. } => Some(*now_ms),
        _ => None,
    });
    assert_eq!(timer_at, Some(T0 + 60_000));
    assert!(matches!(
        history.last().map(|l| &l.record),
        Some(Record::Completed { .. })
    ));
}

#[tokio::test]
async fn task_gateway_script_parallel_timer_receive_and_end() {
    on_every_db!(every_control_kind);
}

/// An engine with `signing` deployed and one instance run up to its wait.
async fn start_signing(
    db: &TestDb,
    recorder: &std::sync::Arc<Recorder>,
) -> (sesflow_engine::Engine, String) {
    let (engine, _clock) = engine(db, recorder, &["signing"]).await;
    let started = engine
        .start("signing", None, vars(&[("employee", json!("ana"))]), None)
        .await
        .expect("starts");
    engine.run_until_idle().await.expect("runs");
    (engine, started.id)
}

async fn signature_kinds(db: &TestDb, reject: bool) {
    let recorder = Recorder::failing(0);
    let (engine, _clock) = engine(db, &recorder, &["signing"]).await;
    let started = engine
        .start("signing", None, vars(&[("employee", json!("ana"))]), None)
        .await
        .expect("starts");
    // the request is a job: called by the worker after commit
    assert!(recorder.calls().is_empty());
    let tick = engine.run_until_idle().await.expect("runs");
    assert_eq!(tick.calls, 1);
    let calls = recorder.calls();
    assert_eq!(calls[0].key.instance_id, started.id);
    assert_eq!(calls[0].key.node_id, "request");
    assert_eq!(calls[0].process, "signing");
    assert_eq!(
        calls[0].input,
        json!({"service": "ses", "fields": {"user": "ana", "full_name": "Ana Pérez"}})
    );
    let request_id = format!("req-{}", calls[0].key.token_id);
    let view = engine.show(&started.id).await.expect("shows");
    assert_eq!(view.variables["request_id"], json!(request_id));
    assert_eq!(view.waits[0]["kind"], json!("signature.issuance"));
    assert_eq!(view.waits[0]["key"], json!(request_id));

    let payload = if reject {
        json!({"status": "rejected", "reason": "no phone"})
    } else {
        json!({"status": "issued", "certificate": {"serial": "0a1b"}})
    };
    engine
        .send_event(
            &event(
                &format!("iss-{reject}"),
                "signature.issuance",
                &request_id,
                payload,
            ),
            None,
        )
        .await
        .expect("sends");
    let view = engine.show(&started.id).await.expect("shows");
    if reject {
        assert_eq!(view.summary.outcome.as_deref(), Some("rejected"));
        return;
    }
    assert_eq!(view.variables["certificate"], json!({"serial": "0a1b"}));
    let tasks = engine.tasks(Some("ana")).await.expect("tasks");
    assert_eq!(
        (tasks[0].kind.as_str(), tasks[0].form.clone()),
        ("sign", vec!["signature".to_owned()])
    );
    let status = engine
        .complete(
            &tasks[0].id,
            vars(&[("signature", json!({"digest": "ff"}))]),
            false,
        )
        .await
        .expect("signs");
    assert_eq!(status, Status::Completed);
    let view = engine.show(&started.id).await.expect("shows");
    assert_eq!(view.summary.outcome.as_deref(), Some("signed"));
}

#[tokio::test]
async fn request_expect_issuance_and_sign() {
    for db in common::databases().await {
        signature_kinds(&db, false).await;
        signature_kinds(&db, true).await;
        db.finish().await;
    }
}

#[tokio::test]
async fn a_refused_signing_takes_on_rejected() {
    let db = common::sqlite();
    let recorder = Recorder::failing(0);
    let (engine, started) = start_signing(&db, &recorder).await;
    let key = format!("req-{}", recorder.calls()[0].key.token_id);
    let issued = json!({"status": "issued", "certificate": {"serial": "1"}});
    engine
        .send_event(&event("i", "signature.issuance", &key, issued), None)
        .await
        .expect("sends");
    let task = engine.tasks(None).await.expect("tasks").remove(0);
    engine
        .complete(&task.id, Vec::new(), true)
        .await
        .expect("refuses");
    let view = engine.show(&started).await.expect("shows");
    assert_eq!(view.summary.outcome.as_deref(), Some("refused"));
}

#[tokio::test]
async fn a_failed_activity_becomes_an_incident_and_retry_calls_again() {
    let db = common::sqlite();
    let recorder = Recorder::failing(1);
    let (engine, started) = start_signing(&db, &recorder).await;
    let view = engine.show(&started).await.expect("shows");
    assert_eq!(view.summary.status, "incident");
    assert!(view
        .summary
        .incident
        .as_deref()
        .unwrap_or_default()
        .contains("the test service said no"));
    engine.retry(&started, Vec::new()).await.expect("retries");
    engine.run_until_idle().await.expect("runs");
    let calls = recorder.calls();
    assert_eq!(calls.len(), 2);
    assert_ne!(
        calls[0].key, calls[1].key,
        "a retry after an incident is a new call"
    );
    let view = engine.show(&started).await.expect("shows");
    assert_eq!(view.summary.status, "active");
    assert_eq!(view.tokens[0].node, "wait");
}
