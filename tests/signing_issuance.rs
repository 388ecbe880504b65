//! The issuance process against the real certificate service, run by the
//! engine's worker as a chore, on SQLite (and PostgreSQL when
//! SESFLOW_TEST_PG_URL is set): a rejection taking `on_rejected`, manual
//! approval left unanswered taking `on_timeout` (and answered in time), an
//! issuance decided before the instance waits for it, a service that is
//! not configured, and a running worker delivering the service's answer
//! without waiting for its periodic sweep.

mod common;
mod signing_support;

use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use sesflow_activities::certs::Decision;
use sesflow_activities::ses::settings::{self, Approval};
use sesflow_engine::history::Record;
use sesflow_engine::queue;
use sesflow_engine::runtime::Status;
use sesflow_engine::store::entities::event;
use signing_support::Signing;

const DAY_MS: i64 = 24 * 3600 * 1000;

/// An engine serving the module on `url`, with `ses-issuance` deployed.
async fn issuance(url: &str) -> Signing {
    let signing = Signing::open(url, common::T0).await;
    signing.deploy("ses-issuance").await;
    signing
}

/// Starts `ses-issuance` for `login` and completes the data task with
/// `data`; returns the instance id.
async fn start(signing: &Signing, login: &str, data: &[(&str, Value)]) -> String {
    let vars = common::vars(&[("employee", json!(login))]);
    let started = signing
        .engine
        .start("ses-issuance", None, vars, Some("hr".into()))
        .await
        .expect("starts");
    let task = signing.task(&started.id).await;
    assert_eq!(task.node, "enter-data");
    signing
        .engine
        .complete(&task.id, common::vars(data), false)
        .await
        .expect("data entered");
    started.id
}

/// Whether the history of `instance` holds a record `matches` accepts.
async fn recorded(signing: &Signing, instance: &str, matches: impl Fn(&Record) -> bool) -> bool {
    let lines = signing.engine.history(instance).await.expect("history");
    lines.iter().any(|line| matches(&line.record))
}

async fn rejection_takes_on_rejected(db: &common::TestDb) {
    let signing = issuance(&db.url).await;
    signing.enable(true).await;
    signing.add_user("bob", None).await;
    let id = start(&signing, "bob", &[("full_name", json!("Bob Example"))]).await;

    let done = signing.engine.run_until_idle().await.expect("worker runs");
    assert_eq!(
        (done.calls, done.chores, done.deliveries),
        (1, 1, 1),
        "{}",
        db.label
    );
    let view = signing.engine.show(&id).await.expect("shows");
    assert_eq!(view.summary.status, "completed");
    assert_eq!(view.summary.outcome.as_deref(), Some("rejected"));
    let reason = view.variables["rejection"]
        .as_str()
        .expect("the reason is kept");
    assert!(
        reason.contains("two-factor authentication needs an e-mail address")
            && reason.contains("`bob` has none"),
        "{reason}"
    );
    assert!(!view.variables.contains_key("certificate"));
    assert!(
        recorded(&signing, &id, |record| matches!(record,
            Record::Entered { node, from: Some(from), .. } if node == "rejected" && from == "wait"))
        .await,
        "the token went from the wait along on_rejected"
    );
    assert!(signing
        .ses
        .certs()
        .list(Some("bob"))
        .await
        .expect("list")
        .is_empty());
}

#[tokio::test]
async fn a_rejected_request_takes_on_rejected_with_its_reason() {
    on_every_db!(rejection_takes_on_rejected);
}

async fn manual_approval(db: &common::TestDb) {
    let signing = issuance(&db.url).await;
    signing.enable(false).await;
    let mut module = settings::load(signing.ses.db()).await.expect("settings");
    module.approval = Approval::Manual;
    settings::save(signing.ses.db(), &module, signing.now())
        .await
        .expect("saved");
    signing.add_user("ann", Some("ann@example.com")).await;
    signing.add_user("cid", Some("cid@example.com")).await;
    let unanswered = start(&signing, "ann", &[]).await;
    let answered = start(&signing, "cid", &[]).await;

    let done = signing.engine.run_until_idle().await.expect("worker runs");
    assert_eq!(
        (done.calls, done.chores),
        (2, 0),
        "nothing decided without an operator"
    );
    let pending = signing.ses.certs().pending().await.expect("pending");
    assert_eq!(pending.len(), 2, "{}", db.label);
    let cid_request = pending
        .iter()
        .find(|r| r.login == "cid")
        .expect("cid's request");
    let decision = signing
        .ses
        .certs()
        .approve(&cid_request.id, signing.now())
        .await
        .expect("approved");
    let Decision::Issued { certificate, .. } = decision else {
        panic!("approval issues: {decision:?}");
    };
    signing.engine.run_until_idle().await.expect("worker runs");
    let vars = signing.variables(&answered).await;
    assert_eq!(vars["certificate"]["serial"], json!(certificate.serial));

    signing.clock.advance(3 * DAY_MS - 1_000);
    signing.engine.run_until_idle().await.expect("worker runs");
    let view = signing.engine.show(&unanswered).await.expect("shows");
    assert_eq!(view.summary.status, "active", "the timeout is not due yet");
    signing.clock.advance(2_000);
    let done = signing.engine.run_until_idle().await.expect("worker runs");
    assert_eq!(done.jobs, 1, "the timeout fired");
    let view = signing.engine.show(&unanswered).await.expect("shows");
    assert_eq!(view.summary.outcome.as_deref(), Some("rejected"));
    assert!(
        !view.variables.contains_key("rejection"),
        "a timeout is no rejection"
    );
    assert!(
        recorded(&signing, &unanswered, |record| {
            matches!(record, Record::TimedOut { node, .. } if node == "wait")
        })
        .await
    );
    assert_eq!(
        signing.ses.certs().pending().await.expect("pending").len(),
        1
    );
}

#[tokio::test]
async fn manual_approval_unanswered_takes_on_timeout() {
    on_every_db!(manual_approval);
}

async fn issued_before_the_wait(db: &common::TestDb) {
    let signing = Signing::open(&db.url, common::T0).await;
    signing.deploy("issue-early").await;
    signing.enable(false).await;
    signing.add_user("ann", Some("ann@example.com")).await;
    let vars = common::vars(&[("employee", json!("ann"))]);
    let started = signing
        .engine
        .start("issue-early", None, vars, None)
        .await
        .expect("starts");

    let done = signing.engine.run_until_idle().await.expect("worker runs");
    assert_eq!(
        (done.calls, done.chores, done.deliveries),
        (1, 1, 0),
        "{}",
        db.label
    );
    let task = signing.task(&started.id).await;
    assert_eq!(
        task.node, "confirm",
        "the instance has not reached the wait"
    );
    let request_id = signing.variables(&started.id).await["request_id"].clone();
    let kept = event::Entity::find()
        .filter(event::Column::CorrelationKey.eq(request_id.as_str().expect("an id")))
        .all(signing.ses.db())
        .await
        .expect("inbox");
    assert_eq!(kept.len(), 1, "the issuance waits in the inbox");
    assert_eq!(kept[0].consumed_by, None);

    let status = signing
        .engine
        .complete(&task.id, common::vars(&[("confirmed", json!(true))]), false)
        .await
        .expect("confirmed");
    assert_eq!(
        status,
        Status::Completed,
        "the kept event is taken as the wait begins"
    );
    let vars = signing.variables(&started.id).await;
    let certs = signing.ses.certs().list(Some("ann")).await.expect("list");
    assert_eq!(certs.len(), 1);
    assert_eq!(vars["certificate"]["serial"], json!(certs[0].serial));
}

#[tokio::test]
async fn an_issuance_before_the_wait_begins_is_not_lost() {
    on_every_db!(issued_before_the_wait);
}

async fn unknown_service(db: &common::TestDb) {
    let signing = Signing::open(&db.url, common::T0).await;
    signing.deploy("other-service").await;
    let mut ids = Vec::new();
    for handled in [true, false] {
        let vars = common::vars(&[("employee", json!("ann")), ("handled", json!(handled))]);
        let started = signing
            .engine
            .start("other-service", None, vars, None)
            .await
            .expect("starts");
        ids.push(started.id);
    }
    signing.engine.run_until_idle().await.expect("worker runs");
    let expected = "service `acme-ca` is not configured; the configured services are: ses";
    let handled = signing.engine.show(&ids[0]).await.expect("shows");
    assert_eq!(
        handled.summary.outcome.as_deref(),
        Some("failed"),
        "{}",
        db.label
    );
    let on_error = |record: &Record| {
        matches!(record, Record::Failed { message, then, .. }
            if message.contains(expected) && then == "on_error")
    };
    assert!(recorded(&signing, &ids[0], on_error).await);
    let bare = signing.engine.show(&ids[1]).await.expect("shows");
    assert_eq!(bare.summary.status, "incident");
    let incident = bare.summary.incident.as_deref().unwrap_or_default();
    assert!(incident.contains(expected), "{incident}");
}

#[tokio::test]
async fn a_service_that_is_not_configured_fails_the_node() {
    on_every_db!(unknown_service);
}

async fn running_worker(db: &common::TestDb) {
    let signing = issuance(&db.url).await;
    signing.enable(false).await;
    signing.add_user("ann", Some("ann@example.com")).await;
    let id = start(&signing, "ann", &[]).await;

    // a sweep only every hour: the issuance must reach the wait without one
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let poll = Duration::from_millis(10);
    let options = queue::Options {
        concurrency: 1,
        poll,
        sweep: Duration::from_secs(3600),
    };
    let worker = queue::run(signing.engine.clone(), options, async {
        let _ = stopped.await;
    });
    let watch = async {
        let began = Instant::now();
        let mut status = String::new();
        while began.elapsed() < Duration::from_secs(20) && status != "completed" {
            tokio::time::sleep(Duration::from_millis(20)).await;
            status = signing
                .engine
                .show(&id)
                .await
                .expect("shows")
                .summary
                .status;
        }
        let _ = stop.send(());
        status
    };
    let (done, status) = tokio::join!(worker, watch);
    assert_eq!(status, "completed", "{}", db.label);
    let done = done.expect("the worker ran");
    assert_eq!((done.calls, done.chores, done.deliveries), (1, 1, 1));
}

#[tokio::test]
async fn a_running_worker_delivers_what_the_service_decided_at_once() {
    on_every_db!(running_worker);
}
