//! Completing many tasks at once (`Engine::complete_all`): each batch is
//! prepared while the one before it is written; every completion gets its
//! own result in order, batches that share an instance, kept events and
//! refused completions behave as one completion at a time would.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::json;
use sesflow_engine::driver::Error;
use sesflow_engine::driver::{Completion, Delivery};
use sesflow_engine::events::Event;
use sesflow_engine::runtime::Status;

use common::{vars, Recorder, TestDb};

fn completion(task: &str, name: &str, value: bool) -> Completion {
    Completion {
        task: task.to_owned(),
        vars: vars(&[(name, json!(value))]),
        rejected: false,
    }
}

fn is_not_found(result: &Result<Status, Error>) -> bool {
    matches!(
        result,
        Err(Error::NotFound {
            what: "open task",
            ..
        })
    )
}

async fn every_task_in_order(db: &TestDb) {
    let recorder = Arc::new(Recorder::default());
    let (engine, _clock) = common::engine(db, &recorder, &["approve"]).await;
    let request = common::request("approve");
    engine
        .start_batch(&vec![request; 1_000])
        .await
        .expect("starts");
    let tasks = engine.tasks(Some("boss")).await.expect("lists");
    assert_eq!(tasks.len(), 1_000, "{}", db.label);

    // Every other one approves; an unknown task, the same task twice in one
    // batch and again in a later batch are refused where they stand.
    let mut completions: Vec<Completion> = tasks
        .iter()
        .enumerate()
        .map(|(ix, task)| completion(&task.id, "approved", ix % 2 == 0))
        .collect();
    completions.insert(1, completions[0].clone());
    completions.insert(10, completion("no-such-instance.3", "approved", true));
    completions.insert(700, completions[0].clone());
    let results = engine
        .complete_all(&completions, 64)
        .await
        .expect("completes");

    assert_eq!(results.len(), 1_003, "{}", db.label);
    let refused: Vec<usize> = (0..results.len())
        .filter(|ix| results[*ix].is_err())
        .collect();
    assert_eq!(refused, [1, 10, 700], "{}", db.label);
    assert!(refused.iter().all(|ix| is_not_found(&results[*ix])));
    assert!(results
        .iter()
        .filter_map(|result| result.as_ref().ok())
        .all(|status| *status == Status::Completed));

    let done = engine
        .instances(Some(Status::Completed), Some("approve"), 2_000)
        .await
        .expect("lists");
    assert_eq!(done.len(), 1_000, "{}", db.label);
    let approved: HashMap<&str, bool> = tasks
        .iter()
        .enumerate()
        .map(|(ix, task)| (task.instance_id.as_str(), ix % 2 == 0))
        .collect();
    for summary in &done {
        let expected = if approved[summary.id.as_str()] {
            "approved"
        } else {
            "rejected"
        };
        assert_eq!(summary.outcome.as_deref(), Some(expected), "{}", db.label);
    }
    let first = engine.show(&tasks[0].instance_id).await.expect("shows");
    assert_eq!(first.rev, 2, "{}: one change for the completion", db.label);
    assert!(first.tasks.is_empty());
    assert!(engine.tasks(None).await.expect("lists").is_empty());
}

#[tokio::test]
async fn every_completion_gets_its_result_in_order() {
    on_every_db!(every_task_in_order);
}

async fn batches_sharing_instances(db: &TestDb) {
    let recorder = Arc::new(Recorder::default());
    let (engine, _clock) = common::engine(db, &recorder, &["two-reviews"]).await;
    let request = common::request("two-reviews");
    for per_batch in [1, 3] {
        let started = engine
            .start_batch(&vec![request.clone(); 40])
            .await
            .expect("starts");
        let mut by_instance: HashMap<String, Vec<String>> = HashMap::new();
        for task in engine.tasks(None).await.expect("lists") {
            by_instance
                .entry(task.instance_id.clone())
                .or_default()
                .push(task.id);
        }
        // Both tasks of an instance side by side, so that neighbouring
        // batches change the same instance.
        let mut completions = Vec::new();
        for started in &started {
            let tasks = &by_instance[&started.id];
            assert_eq!(tasks.len(), 2, "{}", db.label);
            completions.push(completion(&tasks[0], "legal_ok", true));
            completions.push(completion(&tasks[1], "money_ok", true));
        }
        let results = engine
            .complete_all(&completions, per_batch)
            .await
            .expect("completes");
        assert_eq!(results.len(), 80);
        // A completion reports where its instance stands once its batch is
        // written: the first review leaves it active unless the second one
        // is in the same batch.
        for (ix, result) in results.iter().enumerate() {
            let second_in_batch = ix % 2 == 1 || ix / per_batch == (ix + 1) / per_batch;
            let expected = if second_in_batch {
                Status::Completed
            } else {
                Status::Active
            };
            assert_eq!(
                result.as_ref().ok(),
                Some(&expected),
                "{}: per batch {per_batch}, completion {ix}",
                db.label
            );
        }
        for started in &started {
            let view = engine.show(&started.id).await.expect("shows");
            assert_eq!(view.summary.outcome.as_deref(), Some("reviewed"));
            assert_eq!(view.variables["legal_ok"], json!(true));
            assert_eq!(view.variables["money_ok"], json!(true));
        }
    }
}

#[tokio::test]
async fn batches_that_change_one_instance_apply_one_after_the_other() {
    on_every_db!(batches_sharing_instances);
}

fn paid(order: &str) -> Event {
    Event {
        id: format!("paid-{order}"),
        kind: "order.paid".into(),
        key: order.to_owned(),
        payload: json!({"order": order}),
    }
}

async fn kept_events(db: &TestDb) {
    let recorder = Arc::new(Recorder::default());
    let (engine, _clock) = common::engine(db, &recorder, &["approve-then-paid"]).await;
    let orders: Vec<String> = (0..10).map(|n| format!("o-{n}")).collect();
    let mut instance_of = HashMap::new();
    for order in &orders {
        let started = engine
            .start(
                "approve-then-paid",
                None,
                vars(&[("order", json!(order))]),
                None,
            )
            .await
            .expect("starts");
        instance_of.insert(order.clone(), started.id);
    }
    // Half the payments arrive before anyone approves.
    for order in &orders[..5] {
        let kept = engine.send_event(&paid(order), None).await.expect("sends");
        assert_eq!(kept, Delivery::Kept, "{}", db.label);
    }
    let completions: Vec<Completion> = engine
        .tasks(Some("boss"))
        .await
        .expect("lists")
        .iter()
        .map(|task| completion(&task.id, "approved", true))
        .collect();
    let results = engine
        .complete_all(&completions, 4)
        .await
        .expect("completes");
    assert!(results.iter().all(Result::is_ok), "{}", db.label);

    for (n, order) in orders.iter().enumerate() {
        let view = engine.show(&instance_of[order]).await.expect("shows");
        if n < 5 {
            assert_eq!(view.summary.outcome.as_deref(), Some("paid"), "{order}");
            assert_eq!(view.variables["payment"], json!({"order": order}));
            assert!(view.waits.is_empty(), "{order}");
        } else {
            assert_eq!(view.summary.status, "active", "{order}");
            assert_eq!(view.waits.len(), 1, "{order}: waits for its payment");
        }
    }
    for order in &orders[5..] {
        let delivered = engine.send_event(&paid(order), None).await.expect("sends");
        assert_eq!(
            delivered,
            Delivery::Delivered {
                instance_id: instance_of[order].clone()
            },
            "{}",
            db.label
        );
    }
}

#[tokio::test]
async fn a_kept_event_is_taken_when_the_wait_begins_after_a_completion() {
    on_every_db!(kept_events);
}
