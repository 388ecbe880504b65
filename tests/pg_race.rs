//! Two workers racing for the same instance's event never both apply it, on
//! SQLite and on PostgreSQL when SESFLOW_TEST_PG_URL is set.
//!
//! Each round starts instances waiting for an event, then lets two engines,
//! each with its own connections like two worker processes, go for the same
//! events at the same moment: both sweeping the same kept events, a sweep
//! against a sender of a second event for the same wait, and two senders of
//! the same event id. Whatever the interleaving, every instance applies
//! exactly one event, and every event is consumed by at most one instance.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use common::{vars, Recorder, TestDb};
use sea_orm::EntityTrait;
use serde_json::json;
use sesflow_engine::activity::Registry;
use sesflow_engine::driver::{Delivery, StartRequest};
use sesflow_engine::events::{self, Event};
use sesflow_engine::history::Record;
use sesflow_engine::store::entities::{event, wait};
use sesflow_engine::{Config, Engine};
use tokio::sync::Barrier;

const ROUNDS: usize = 12;
const PER_ROUND: usize = 25;

fn paid(id: &str, order: &str) -> Event {
    Event {
        id: id.into(),
        kind: "order.paid".into(),
        key: order.into(),
        payload: json!({ "by": id }),
    }
}

/// Two engines on `db`, the first with `receive` deployed.
async fn two_workers(db: &TestDb) -> (Arc<Engine>, Arc<Engine>) {
    let recorder = Recorder::failing(0);
    let (first, clock) = common::engine(db, &recorder, &["receive"]).await;
    let second = Engine::open(&db.url, Registry::new(), Config::default())
        .await
        .expect("the second engine opens")
        .with_clock(clock);
    (Arc::new(first), Arc::new(second))
}

/// Starts the round's instances, each waiting for `order.paid` with its
/// own key; returns (instance id, key) pairs.
async fn waiting(engine: &Engine, round: &str) -> Vec<(String, String)> {
    let keys: Vec<String> = (0..PER_ROUND).map(|n| format!("{round}-{n}")).collect();
    let requests: Vec<StartRequest> = keys
        .iter()
        .map(|key| StartRequest {
            process: "receive".into(),
            version: None,
            vars: vars(&[("order", json!(key))]),
            initiator: None,
        })
        .collect();
    let started = engine.start_batch(&requests).await.expect("starts");
    started.into_iter().map(|s| s.id).zip(keys).collect()
}

/// Keeps `event` in the inbox without delivering it, as when the event and
/// its wait were committed side by side.
async fn keep(engine: &Engine, event: &Event) {
    let published = events::publish(engine.db(), event, engine.now_ms(), None).await;
    assert!(published.expect("publishes"), "a new event id");
}

/// Runs `a` and `b` so that they begin at the same moment.
async fn together<A, B>(a: A, b: B) -> (A::Output, B::Output)
where
    A: std::future::Future + Send + 'static,
    B: std::future::Future + Send + 'static,
    A::Output: Send + 'static,
    B::Output: Send + 'static,
{
    let barrier = Arc::new(Barrier::new(2));
    let (first, second) = (barrier.clone(), barrier);
    let a = tokio::spawn(async move {
        first.wait().await;
        a.await
    });
    let b = tokio::spawn(async move {
        second.wait().await;
        b.await
    });
    (a.await.expect("joins"), b.await.expect("joins"))
}

/// Every instance of the round applied exactly one event and completed;
/// every event was consumed by at most one instance, and the consumed ones
/// by the instance waiting on their key. Returns how many events stayed kept.
async fn check_round(engine: &Engine, instances: &[(String, String)], label: &str) -> usize {
    let rows = event::Entity::find().all(engine.db()).await.expect("reads");
    let by_key: HashMap<&str, &str> = instances
        .iter()
        .map(|(id, key)| (key.as_str(), id.as_str()))
        .collect();
    let mut consumed: HashMap<&str, usize> = HashMap::new();
    let mut kept = 0;
    for row in rows.iter() {
        let Some(&instance) = by_key.get(row.correlation_key.as_str()) else {
            continue;
        };
        match row.consumed_by.as_deref() {
            Some(by) => {
                assert_eq!(by, instance, "{label}: event {} went astray", row.id);
                *consumed.entry(instance).or_default() += 1;
            }
            None => kept += 1,
        }
    }
    for (id, key) in instances {
        assert_eq!(consumed.get(id.as_str()), Some(&1), "{label}: {key}");
        let history = engine.history(id).await.expect("history");
        let applied: Vec<_> = history
            .iter()
            .filter_map(|line| match &line.record {
                Record::EventReceived { event_id, .. } => Some(event_id.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(applied.len(), 1, "{label}: {key} applied {applied:?}");
        let view = engine.show(id).await.expect("shows");
        assert_eq!(view.summary.status, "completed", "{label}: {key}");
        assert_eq!(view.summary.outcome.as_deref(), Some("paid"));
        assert_eq!(view.variables["payment"], json!({ "by": applied[0] }));
    }
    let waits = wait::Entity::find().all(engine.db()).await.expect("reads");
    assert!(waits.is_empty(), "{label}: no wait is left over");
    kept
}

/// Both workers sweep the same kept events; some keys have two events.
async fn sweeps(db: &TestDb) {
    let (a, b) = two_workers(db).await;
    let mut split = (0, 0);
    for round in 0..ROUNDS {
        let instances = waiting(&a, &format!("s{round}")).await;
        for (n, (_, key)) in instances.iter().enumerate() {
            keep(&a, &paid(&format!("{key}-a"), key)).await;
            if n % 2 == 0 {
                keep(&a, &paid(&format!("{key}-b"), key)).await;
            }
        }
        let (sa, sb) = (a.clone(), b.clone());
        let (by_a, by_b) = together(
            async move { sa.sweep_events().await.expect("sweeps") },
            async move { sb.sweep_events().await.expect("sweeps") },
        )
        .await;
        assert_eq!(
            by_a + by_b,
            PER_ROUND,
            "{}: one delivery per wait",
            db.label
        );
        split = (split.0 + by_a, split.1 + by_b);
        let kept = check_round(&a, &instances, db.label).await;
        assert_eq!(
            kept,
            PER_ROUND.div_ceil(2),
            "{}: second events stay",
            db.label
        );
    }
    eprintln!("{}: sweeps delivered {} and {}", db.label, split.0, split.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sweeps_never_apply_one_event_twice() {
    on_every_db!(sweeps);
}

/// One worker sweeps a kept event while a sender delivers a second event
/// for the same wait.
async fn sweep_and_send(db: &TestDb) {
    let (a, b) = two_workers(db).await;
    let mut sent_won = 0;
    for round in 0..ROUNDS {
        let instances = waiting(&a, &format!("x{round}")).await;
        for (_, key) in &instances {
            keep(&a, &paid(&format!("{key}-kept"), key)).await;
        }
        let keys: Vec<String> = instances.iter().map(|(_, key)| key.clone()).collect();
        let sweeper = a.clone();
        let sender = b.clone();
        let (swept, sent) = together(
            async move { sweeper.sweep_events().await.expect("sweeps") },
            async move {
                let mut delivered = 0;
                for key in keys {
                    let event = paid(&format!("{key}-sent"), &key);
                    let delivery = sender.send_event(&event, None).await.expect("sends");
                    delivered += usize::from(matches!(delivery, Delivery::Delivered { .. }));
                }
                delivered
            },
        )
        .await;
        assert_eq!(swept + sent, PER_ROUND, "{}: one event per wait", db.label);
        sent_won += sent;
        assert_eq!(check_round(&a, &instances, db.label).await, PER_ROUND);
    }
    eprintln!(
        "{}: senders won {sent_won} of {} races",
        db.label,
        ROUNDS * PER_ROUND
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_and_a_sender_never_both_apply_an_event() {
    on_every_db!(sweep_and_send);
}

/// Two senders deliver the same event id, and two other ids, to each wait.
async fn two_senders(db: &TestDb) {
    let (a, b) = two_workers(db).await;
    for round in 0..ROUNDS {
        let instances = waiting(&a, &format!("d{round}")).await;
        let keys: Vec<String> = instances.iter().map(|(_, key)| key.clone()).collect();
        let send_all = |engine: Arc<Engine>, keys: Vec<String>, own: &'static str| async move {
            let mut deliveries = Vec::new();
            for key in keys {
                for id in [format!("{key}-same"), format!("{key}-{own}")] {
                    let event = paid(&id, &key);
                    deliveries.push(engine.send_event(&event, None).await.expect("sends"));
                }
            }
            deliveries
        };
        let (from_a, from_b) = together(
            send_all(a.clone(), keys.clone(), "a"),
            send_all(b.clone(), keys, "b"),
        )
        .await;
        let count = |wanted: fn(&Delivery) -> bool| {
            from_a.iter().chain(&from_b).filter(|d| wanted(d)).count()
        };
        assert_eq!(
            count(|d| matches!(d, Delivery::Delivered { .. })),
            PER_ROUND
        );
        assert_eq!(
            count(|d| *d == Delivery::Duplicate),
            PER_ROUND,
            "{}",
            db.label
        );
        assert_eq!(count(|d| *d == Delivery::Kept), 2 * PER_ROUND);
        assert_eq!(check_round(&a, &instances, db.label).await, 2 * PER_ROUND);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_senders_of_one_event_deliver_it_once() {
    on_every_db!(two_senders);
}
