//! A worker killed with SIGKILL between submitting a certificate request
//! and recording the submission: after a restart the call repeats with the
//! same idempotency key, and exactly one request and one certificate exist.
//!
//! The kill point is made exact by the activity's test hook
//! (`SESFLOW_TEST_HOLD_AFTER_SUBMIT`): the worker writes the request id to a
//! file right after the submission commits and then holds, so the test
//! kills it at that moment and no other.

mod signing_support;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use sesflow_activities::nodes::signature_issuing_request::HOLD_AFTER_SUBMIT_ENV;
use sesflow_activities::store::entities::{cert_request, certificate};
use sesflow_engine::history::Record;
use sesflow_engine::{Config, Engine};
use signing_support::{process_file, Cli};

/// Waits until `path` holds text, at most a minute.
fn wait_for(path: &Path) -> String {
    let began = Instant::now();
    while began.elapsed() < Duration::from_secs(60) {
        match std::fs::read_to_string(path) {
            Ok(text) if !text.is_empty() => return text,
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    panic!(
        "the worker never reached the test hook ({})",
        path.display()
    );
}

/// The rows of the requests and certificates of `login`.
async fn rows(url: &str, login: &str) -> (Vec<cert_request::Model>, Vec<certificate::Model>) {
    let db = sesflow_engine::store::open(url).await.expect("store opens");
    let requests = cert_request::Entity::find()
        .filter(cert_request::Column::Login.eq(login))
        .all(&db)
        .await
        .expect("requests");
    let certificates = certificate::Entity::find()
        .filter(certificate::Column::Login.eq(login))
        .all(&db)
        .await
        .expect("certificates");
    (requests, certificates)
}

#[tokio::test]
async fn a_worker_killed_after_submitting_issues_exactly_one_certificate() {
    let cli = Cli::new();
    cli.ok(&["ses", "enable"]);
    cli.add_user("ann", "ann@example.com");
    cli.ok(&[
        "deploy",
        &process_file("ses-issuance").display().to_string(),
    ]);
    let start = [
        "start",
        "ses-issuance",
        "--var",
        "employee=ann",
        "--initiator",
        "hr",
    ];
    let instance = cli.ok(&start).trim().to_owned();
    cli.ok(&[
        "complete",
        &cli.task_of("hr"),
        "--var",
        "full_name=Ann Example",
    ]);

    // the worker submits, then holds at the hook until killed
    let marker = cli.dir.path().join("submitted");
    let mut worker = cli
        .command(&["run", "--poll", "20ms", "--lease", "1s", "--sweep", "100ms"])
        .env(HOLD_AFTER_SUBMIT_ENV, &marker)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the worker starts");
    let submitted = wait_for(&marker);
    worker.kill().expect("SIGKILL sent");
    let status = worker.wait().expect("the worker ends");
    assert_eq!(status.signal(), Some(9), "killed by SIGKILL");

    let (requests, certificates) = rows(&cli.db(), "ann").await;
    assert_eq!(requests.len(), 1);
    assert_eq!(
        (requests[0].id.as_str(), requests[0].status.as_str()),
        (submitted.as_str(), "pending")
    );
    assert!(certificates.is_empty(), "killed before the service decided");
    let shown = cli.show(&instance);
    assert_eq!(shown["tokens"][0]["node"], "request", "{shown}");
    assert_eq!(
        shown["tokens"][0]["wait"], "call",
        "the submission was never recorded"
    );

    // after the lease runs out, a new worker calls again with the same key
    std::thread::sleep(Duration::from_millis(1_100));
    let (_, idle) = cli.expect(0, &["run", "--until-idle"], "");
    assert!(
        idle.contains("1 calls, 1 chore items, 1 deliveries"),
        "{idle}"
    );

    let (requests, certificates) = rows(&cli.db(), "ann").await;
    assert_eq!(
        requests.len(),
        1,
        "the repeated call made no second request"
    );
    assert_eq!(requests[0].status, "issued");
    assert_eq!(certificates.len(), 1, "exactly one certificate");
    let shown = cli.show(&instance);
    assert_eq!(shown["status"], "completed", "{shown}");
    assert_eq!(shown["variables"]["request_id"], submitted.as_str());
    assert_eq!(
        shown["variables"]["certificate"]["serial"],
        certificates[0].serial.as_str()
    );
    let engine = Engine::open(&cli.db(), Default::default(), Config::default())
        .await
        .expect("opens");
    let history = engine.history(&instance).await.expect("history");
    let n_outcomes = history
        .iter()
        .filter(|line| matches!(line.record, Record::ActivityDone { .. }))
        .count();
    assert_eq!(n_outcomes, 1, "one recorded outcome for the two calls");
}
