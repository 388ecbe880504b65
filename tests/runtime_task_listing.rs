//! Listing open tasks: every task once, oldest first, filtered by assignee
//! and by instance, also past the size of one page of the SQLite listing
//! (10,000 tasks), on SQLite and on PostgreSQL.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use sesflow_engine::driver::Completion;

use common::{Recorder, TestDb};

const N: usize = 10_050;

async fn every_task_once_oldest_first(db: &TestDb) {
    let recorder = Arc::new(Recorder::default());
    let (engine, clock) = common::engine(db, &recorder, &["approve"]).await;
    let request = common::request("approve");
    // Three moments, so that the order by opening time has ties and steps.
    let mut started = Vec::new();
    for n in [4_000, 4_000, N - 8_000] {
        started.extend(
            engine
                .start_batch(&vec![request.clone(); n])
                .await
                .expect("starts"),
        );
        clock.advance(1_000);
    }
    let listed = engine.tasks(Some("boss")).await.expect("lists");
    assert_eq!(listed.len(), N, "{}", db.label);
    let ids: HashSet<&str> = listed.iter().map(|task| task.id.as_str()).collect();
    assert_eq!(ids.len(), N, "{}: no task twice", db.label);
    let instances: HashSet<&str> = listed.iter().map(|t| t.instance_id.as_str()).collect();
    let wanted: HashSet<&str> = started.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(instances, wanted, "{}: one task per instance", db.label);
    assert!(
        listed
            .windows(2)
            .all(|w| w[0].created_at <= w[1].created_at),
        "{}: oldest first",
        db.label
    );
    let first = &listed[0];
    assert_eq!(first.node, "decide");
    assert_eq!(first.kind, "task");
    assert_eq!(first.assignee.as_deref(), Some("boss"));
    assert_eq!(first.form, ["approved"]);
    assert_eq!(engine.tasks(None).await.expect("lists").len(), N);
    assert!(engine
        .tasks(Some("nobody"))
        .await
        .expect("lists")
        .is_empty());
    let one = engine.show(&started[7].id).await.expect("shows");
    assert_eq!(one.tasks.len(), 1, "{}", db.label);
    assert_eq!(one.tasks[0].instance_id, started[7].id);
}

#[tokio::test]
async fn open_tasks_are_listed_once_oldest_first_past_one_page() {
    on_every_db!(every_task_once_oldest_first);
}

async fn exactly_one_page(db: &TestDb) {
    let recorder = Arc::new(Recorder::default());
    let (engine, _clock) = common::engine(db, &recorder, &["approve"]).await;
    let request = common::request("approve");
    engine
        .start_batch(&vec![request; 10_000])
        .await
        .expect("starts");
    let listed = engine.tasks(Some("boss")).await.expect("lists");
    let ids: HashSet<&str> = listed.iter().map(|task| task.id.as_str()).collect();
    assert_eq!((listed.len(), ids.len()), (10_000, 10_000), "{}", db.label);
}

#[tokio::test]
async fn a_listing_of_exactly_one_page_ends_after_it() {
    on_every_db!(exactly_one_page);
}

/// Listings taken while the first tasks of 12,000 instances (two pages of
/// the SQLite listing) are completed and their second tasks open: each
/// listing shows one moment, never an instance with both tasks open.
async fn one_moment_while_tasks_complete(db: &TestDb) {
    let recorder = Arc::new(Recorder::default());
    let (engine, clock) = common::engine(db, &recorder, &["two-steps"]).await;
    let n = 12_000;
    engine
        .start_batch(&vec![common::request("two-steps"); n])
        .await
        .expect("starts");
    clock.advance(5);
    let completions: Vec<Completion> = engine
        .tasks(None)
        .await
        .expect("lists")
        .iter()
        .map(|task| Completion {
            task: task.id.clone(),
            vars: common::vars(&[("x", serde_json::json!(true))]),
            rejected: false,
        })
        .collect();
    let done = std::cell::Cell::new(false);
    let completing = async {
        let results = engine.complete_all(&completions, 500).await;
        done.set(true);
        results
    };
    let listing = async {
        let mut n_during = 0;
        while !done.get() && n_during < 20 {
            let listed = engine.tasks(None).await.expect("lists");
            let mut per_instance: HashMap<&str, usize> = HashMap::new();
            for task in &listed {
                *per_instance.entry(task.instance_id.as_str()).or_default() += 1;
            }
            let doubled = per_instance.values().filter(|n| **n > 1).count();
            assert_eq!(doubled, 0, "{}: instances with both tasks open", db.label);
            assert_eq!(listed.len(), n, "{}: one open task per instance", db.label);
            n_during += 1;
        }
        n_during
    };
    let (results, n_during) = tokio::join!(completing, listing);
    let results = results.expect("completes");
    assert!(results.iter().all(Result::is_ok), "{}", db.label);
    assert!(n_during >= 1, "{}: listed while completing", db.label);
    let after = engine.tasks(None).await.expect("lists");
    assert_eq!(after.len(), n);
    assert!(after.iter().all(|task| task.node == "b"), "{}", db.label);
}

#[tokio::test]
async fn a_listing_shows_one_moment_while_tasks_complete() {
    on_every_db!(one_moment_while_tasks_complete);
}
