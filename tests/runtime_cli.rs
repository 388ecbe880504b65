//! The operator CLI, driven as a user drives it.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn processes(name: &str) -> String {
    format!("{}/tests/processes/{name}.yaml", env!("CARGO_MANIFEST_DIR"))
}

fn sesflow(db: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sesflow"))
        .args(args)
        .env("SESFLOW_DB", db)
        .env_remove("RUST_LOG")
        .output()
        .expect("the binary runs")
}

fn ok(db: &str, args: &[&str]) -> String {
    let output = sesflow(db, args);
    assert!(
        output.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

fn refused(db: &str, args: &[&str]) -> String {
    let output = sesflow(db, args);
    assert_eq!(output.status.code(), Some(1), "{args:?} should be refused");
    String::from_utf8(output.stderr).expect("utf-8 output")
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("not JSON ({error}): {text}"))
}

fn db_in(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("cli.db").display())
}

#[test]
fn deploy_start_complete_and_inspect() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = db_in(dir.path());
    ok(&db, &["deploy", &processes("approve")]);
    ok(&db, &["deploy", &processes("approve")]);
    let changed = dir.path().join("approve.yaml");
    let source = std::fs::read_to_string(processes("approve")).expect("reads");
    std::fs::write(&changed, source.replace("amount = 100", "amount = 7")).expect("writes");
    let message = refused(&db, &["deploy", changed.to_str().expect("utf-8 path")]);
    assert!(
        message.contains("version 1 is deployed already") && message.contains("raise `version:`"),
        "{message}"
    );

    let stdout = ok(&db, &["start", "approve"]);
    let id = stdout.trim();
    assert_eq!(stdout, format!("{id}\n"), "the id alone on stdout");
    assert_eq!(id.len(), 36);

    let tasks = json(&ok(
        &db,
        &["tasks", "--assignee", "boss", "--format", "json"],
    ));
    let task = tasks[0]["id"].as_str().expect("task id").to_owned();
    assert_eq!(tasks[0]["form"], serde_json::json!(["approved"]));
    let message = refused(&db, &["complete", &task, "--var", "approved=maybe"]);
    assert!(
        message.contains("`approved`")
            && message.contains("`maybe`")
            && message.contains("boolean"),
        "{message}"
    );
    ok(&db, &["complete", &task, "--var", "approved=true"]);
    let message = refused(&db, &["complete", &task, "--var", "approved=true"]);
    assert!(message.contains("no open task"), "{message}");

    let view = json(&ok(&db, &["show", id, "--format", "json"]));
    assert_eq!(
        (view["status"].as_str(), view["outcome"].as_str()),
        (Some("completed"), Some("approved"))
    );
    assert_eq!(view["variables"]["amount"], serde_json::json!(100));
    let history = ok(&db, &["history", id, "--format", "json"]);
    let lines: Vec<Value> = history.lines().map(json).collect();
    assert_eq!(lines[0]["type"], "started");
    assert!(lines
        .iter()
        .all(|line| line["v"] == 1 && line["instance"] == id));
    assert_eq!(
        lines.last().map(|line| line["type"].clone()),
        Some(Value::from("completed"))
    );
    let listed = json(&ok(
        &db,
        &["instances", "--status", "completed", "--format", "json"],
    ));
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    let message = refused(&db, &["instances", "--status", "done"]);
    assert!(message.contains("`done` is not a status"), "{message}");
}

/// A fresh database with `receive` and `divide` deployed.
fn deployed() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = db_in(dir.path());
    ok(&db, &["deploy", &processes("receive")]);
    ok(&db, &["deploy", &processes("divide")]);
    (dir, db)
}

#[test]
fn values_are_checked_against_variable_types() {
    let (_dir, db) = deployed();

    let message = refused(&db, &["start", "divide", "--var", "divisor=zero"]);
    assert!(
        message.contains("`divisor`") && message.contains("`zero`") && message.contains("integer"),
        "{message}"
    );
    let message = refused(&db, &["start", "divide", "--var", "divisr=1"]);
    assert!(
        message.contains("no variable `divisr`") && message.contains("divisor"),
        "{message}"
    );
    let message = refused(&db, &["start", "receive"]);
    assert!(message.contains("`order` is required"), "{message}");
    let message = refused(&db, &["start", "missing"]);
    assert!(message.contains("sesflow deploy"), "{message}");
}

#[test]
fn an_early_event_sent_twice_is_delivered_once() {
    let (_dir, db) = deployed();
    ok(
        &db,
        &[
            "events",
            "send",
            "order.paid",
            "--key",
            "o-9",
            "--id",
            "ev-1",
            "--data",
            r#"{"amount": 9}"#,
        ],
    );
    let id = ok(&db, &["start", "receive", "--var", "order=o-9"])
        .trim()
        .to_owned();
    let view = json(&ok(&db, &["show", &id, "--format", "json"]));
    assert_eq!(view["outcome"], "paid");
    assert_eq!(
        view["variables"]["payment"],
        serde_json::json!({"amount": 9})
    );
    let output = sesflow(
        &db,
        &[
            "events",
            "send",
            "order.paid",
            "--key",
            "o-9",
            "--id",
            "ev-1",
        ],
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("received before; ignored"));
    let message = refused(
        &db,
        &[
            "events",
            "send",
            "order.paid",
            "--key",
            "k",
            "--data",
            "{nope",
        ],
    );
    assert!(message.contains("is not JSON"), "{message}");
}

#[test]
fn an_incident_is_listed_fixed_and_retried() {
    let (_dir, db) = deployed();
    let id = ok(&db, &["start", "divide"]).trim().to_owned();
    let incidents = json(&ok(&db, &["incidents", "--format", "json"]));
    assert_eq!(incidents[0]["id"], Value::from(id.as_str()));
    assert!(incidents[0]["incident"]
        .as_str()
        .unwrap_or_default()
        .contains("script failed"));
    ok(&db, &["retry", &id, "--var", "divisor=5"]);
    let view = json(&ok(&db, &["show", &id, "--format", "json"]));
    assert_eq!(
        (view["status"].clone(), view["variables"]["result"].clone()),
        (Value::from("completed"), Value::from(20))
    );
    ok(&db, &["run", "--until-idle"]);
}

#[test]
fn the_worker_fires_a_timer_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = db_in(dir.path());
    let schema = dir.path().join("short.yaml");
    let source = std::fs::read_to_string(processes("timer")).expect("reads");
    std::fs::write(&schema, source.replace("wait: 10s", "wait: 300ms")).expect("writes");
    ok(&db, &["deploy", schema.to_str().expect("utf-8 path")]);
    let vars = dir.path().join("vars.json");
    std::fs::write(&vars, "{}").expect("writes");
    let id = ok(
        &db,
        &[
            "start",
            "timer",
            "--vars",
            vars.to_str().expect("utf-8 path"),
        ],
    )
    .trim()
    .to_owned();

    let worker = Command::new(env!("CARGO_BIN_EXE_sesflow"))
        .args(["run", "--poll", "50ms"])
        .env("SESFLOW_DB", &db)
        .env_remove("RUST_LOG")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the worker starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let view = json(&ok(&db, &["show", &id, "--format", "json"]));
        if view["status"] == "completed" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the timer did not fire"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let pid = worker.id().to_string();
    let sent = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let output = worker.wait_with_output().expect("the worker exits");
    assert!(output.status.success(), "SIGTERM is a clean stop");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("stopped: 1 jobs"), "{stderr}");
}

#[test]
fn a_variables_file_is_checked_like_the_command_line() {
    let (dir, db) = deployed();
    let vars = dir.path().join("vars.json");
    std::fs::write(&vars, r#"{"order": 42}"#).expect("writes");
    let message = refused(
        &db,
        &[
            "start",
            "receive",
            "--vars",
            vars.to_str().expect("utf-8 path"),
        ],
    );
    assert!(
        message.contains("`order`") && message.contains("42") && message.contains("string"),
        "{message}"
    );
    std::fs::write(&vars, "[1]").expect("writes");
    let message = refused(
        &db,
        &[
            "start",
            "receive",
            "--vars",
            vars.to_str().expect("utf-8 path"),
        ],
    );
    assert!(message.contains("expected a JSON object"), "{message}");
}
