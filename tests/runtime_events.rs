//! The inbox: early events, duplicates, an event racing a timeout, the sweep.

mod common;

use std::sync::Arc;

use common::{engine, vars, Recorder, TestDb};
use serde_json::json;
use sesflow_engine::driver::{Delivery, ManualClock};
use sesflow_engine::events::{self, Event};
use sesflow_engine::history::Record;
use sesflow_engine::{Config, Engine};

fn paid(id: &str, order: &str) -> Event {
    Event {
        id: id.into(),
        kind: "order.paid".into(),
        key: order.into(),
        payload: json!({"amount": 5}),
    }
}

async fn early_and_duplicate(db: &TestDb) {
    let recorder = Recorder::failing(0);
    let (engine, clock) = engine(db, &recorder, &["receive"]).await;
    early(&engine, &clock, db.label).await;
    duplicate(&engine).await;
    expired(&engine, &clock).await;
}

/// The event comes first and is kept until the wait begins.
async fn early(engine: &Engine, clock: &ManualClock, label: &str) {
    let kept = engine
        .send_event(&paid("e-1", "o-1"), None)
        .await
        .expect("sends");
    assert_eq!(kept, Delivery::Kept, "{label}");
    clock.advance(1_000);
    let started = engine
        .start("receive", None, vars(&[("order", json!("o-1"))]), None)
        .await
        .expect("starts");
    let view = engine.show(&started.id).await.expect("shows");
    assert_eq!(
        view.summary.outcome.as_deref(),
        Some("paid"),
        "delivered as the wait began"
    );
    assert_eq!(view.variables["payment"], json!({"amount": 5}));
    assert!(
        view.waits.is_empty() && view.jobs.is_empty(),
        "no wait or timeout left behind"
    );
}

/// The same event twice: applied once.
async fn duplicate(engine: &Engine) {
    let second = engine
        .start("receive", None, vars(&[("order", json!("o-2"))]), None)
        .await
        .expect("starts");
    let third = engine
        .start("receive", None, vars(&[("order", json!("o-2"))]), None)
        .await
        .expect("starts");
    let first_send = engine
        .send_event(&paid("e-2", "o-2"), None)
        .await
        .expect("sends");
    assert_eq!(
        first_send,
        Delivery::Delivered {
            instance_id: second.id.clone()
        }
    );
    let again = engine
        .send_event(&paid("e-2", "o-2"), None)
        .await
        .expect("sends");
    assert_eq!(again, Delivery::Duplicate);
    assert_eq!(
        engine.show(&third.id).await.expect("shows").summary.status,
        "active"
    );
    let history = engine.history(&second.id).await.expect("history");
    let received = history
        .iter()
        .filter(|l| matches!(l.record, Record::EventReceived { .. }))
        .count();
    assert_eq!(received, 1);
}

/// An early event past its time to live is not delivered.
async fn expired(engine: &Engine, clock: &ManualClock) {
    let short = std::time::Duration::from_secs(10);
    engine
        .send_event(&paid("e-3", "o-3"), Some(short))
        .await
        .expect("sends");
    clock.advance(11_000);
    let started = engine
        .start("receive", None, vars(&[("order", json!("o-3"))]), None)
        .await
        .expect("starts");
    assert_eq!(
        engine
            .show(&started.id)
            .await
            .expect("shows")
            .summary
            .status,
        "active"
    );
}

#[tokio::test]
async fn early_events_wait_and_duplicates_apply_once() {
    on_every_db!(early_and_duplicate);
}

async fn race(db: &TestDb) {
    let recorder = Recorder::failing(0);
    let (engine, clock) = engine(db, &recorder, &["receive"]).await;
    let other = Engine::open(
        &db.url,
        sesflow_engine::activity::Registry::new(),
        Config::default(),
    )
    .await
    .expect("second engine")
    .with_clock(clock.clone() as Arc<ManualClock>);
    let mut ids = Vec::new();
    for n in 0..12 {
        let order = format!("r-{n}");
        ids.push(
            engine
                .start("receive", None, vars(&[("order", json!(order))]), None)
                .await
                .expect("starts")
                .id,
        );
    }
    // the timeout and the events fall due at the same moment
    clock.advance(3_600_000);
    let senders = async {
        let mut delivered = 0;
        for n in 0..12 {
            let delivery = other
                .send_event(&paid(&format!("race-{n}"), &format!("r-{n}")), None)
                .await;
            delivered += usize::from(matches!(
                delivery.expect("sends"),
                Delivery::Delivered { .. }
            ));
        }
        delivered
    };
    let (delivered, worker) = tokio::join!(senders, engine.run_until_idle());
    worker.expect("worker runs");
    let mut paid_n = 0;
    for id in &ids {
        let view = engine.show(id).await.expect("shows");
        assert_eq!(view.summary.status, "completed", "{}", db.label);
        let history = engine.history(id).await.expect("history");
        let events = history
            .iter()
            .filter(|l| matches!(l.record, Record::EventReceived { .. }))
            .count();
        let timeouts = history
            .iter()
            .filter(|l| matches!(l.record, Record::TimedOut { .. }))
            .count();
        assert_eq!(
            events + timeouts,
            1,
            "exactly one of event and timeout wins"
        );
        let expected = if events == 1 { "paid" } else { "late" };
        assert_eq!(view.summary.outcome.as_deref(), Some(expected));
        paid_n += events;
    }
    assert_eq!(
        paid_n, delivered,
        "every delivered event is the one that won"
    );
}

#[tokio::test]
async fn an_event_and_a_timeout_due_together_one_wins() {
    on_every_db!(race);
}

#[tokio::test]
async fn the_sweep_delivers_an_event_kept_beside_its_wait() {
    let db = common::sqlite();
    let recorder = Recorder::failing(0);
    let (engine, _clock) = engine(&db, &recorder, &["receive"]).await;
    let started = engine
        .start("receive", None, vars(&[("order", json!("s-1"))]), None)
        .await
        .expect("starts");
    // an event committed without delivery, as when it and the wait were
    // written by two transactions that did not see each other
    let event = paid("s-e", "s-1");
    assert!(events::publish(engine.db(), &event, engine.now_ms(), None)
        .await
        .expect("publishes"));
    let tick = engine.run_until_idle().await.expect("runs");
    assert_eq!(tick.deliveries, 1);
    let view = engine.show(&started.id).await.expect("shows");
    assert_eq!(view.summary.outcome.as_deref(), Some("paid"));
}
