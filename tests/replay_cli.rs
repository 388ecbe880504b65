//! `sesflow history INSTANCE --export FILE` and `sesflow replay` through the
//! binary: an instance run by the operator commands on a SQLite file,
//! exported, and replayed against its schema and a changed one.

mod replay_support;

use std::path::Path;
use std::process::{Command, Output};

fn sesflow(dir: &Path, args: &[&str]) -> Output {
    let db = format!("sqlite://{}", dir.join("sesflow.db").display());
    Command::new(env!("CARGO_BIN_EXE_sesflow"))
        .current_dir(dir)
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("sesflow runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn ok(output: Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout(&output)
}

/// Deploys expense.yaml, starts a large claim and refuses it; returns the
/// instance id.
fn refused_claim(dir: &Path) -> String {
    let schema = replay_support::path("tests/replay/expense.yaml");
    std::fs::copy(&schema, dir.join("expense.yaml")).expect("copied");
    ok(sesflow(dir, &["deploy", "expense.yaml"]));
    let started = sesflow(
        dir,
        &[
            "start",
            "expense",
            "--var",
            "amount=5000",
            "--var",
            "employee=ana",
        ],
    );
    let id = ok(started).trim().to_owned();
    let tasks: serde_json::Value =
        serde_json::from_str(&ok(sesflow(dir, &["tasks", "--format", "json"]))).expect("JSON");
    let task = tasks[0]["id"].as_str().expect("a task id").to_owned();
    ok(sesflow(
        dir,
        &["complete", &task, "--var", "approved=false"],
    ));
    id
}

#[test]
fn an_exported_history_replays_on_its_recorded_path_with_a_one_line_summary() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let id = refused_claim(dir.path());
    let export = sesflow(dir.path(), &["history", &id, "--export", "claim.jsonl"]);
    assert!(stdout(&export).is_empty());
    ok(export);
    let text = std::fs::read_to_string(dir.path().join("claim.jsonl")).expect("exported");
    let n_decisions = text.lines().count() - 1 - 2;

    let replayed = ok(sesflow(dir.path(), &["replay", "claim.jsonl"]));
    assert_eq!(
        replayed,
        format!(
            "claim.jsonl: instance {id} took the recorded path against expense version 1 \
             (the recorded schema): 2 steps, {n_decisions} decisions\n"
        )
    );
    let against_file = ok(sesflow(
        dir.path(),
        &["replay", "claim.jsonl", "--schema", "expense.yaml"],
    ));
    assert!(
        against_file.contains("took the recorded path against expense version 1 (expense.yaml)")
    );
}

#[test]
fn a_changed_default_is_reported_at_its_step_node_and_branch() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let id = refused_claim(dir.path());
    ok(sesflow(
        dir.path(),
        &["history", &id, "--export", "claim.jsonl"],
    ));
    let source = std::fs::read_to_string(dir.path().join("expense.yaml")).expect("readable");
    let changed = source.replace("    default: refused\n", "    default: escalated\n");
    assert_ne!(changed, source);
    std::fs::write(dir.path().join("changed.yaml"), changed).expect("written");
    let text = std::fs::read_to_string(dir.path().join("claim.jsonl")).expect("exported");
    let line = 1 + text
        .lines()
        .position(|line| line.contains(r#""type":"branch","node":"decision""#))
        .expect("the decision's branch is recorded");

    let output = sesflow(
        dir.path(),
        &["replay", "claim.jsonl", "--schema", "changed.yaml"],
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout(&output),
        format!(
            "claim.jsonl:{line}: instance {id} diverged against expense version 1 (changed.yaml) \
             at step 2 of 2\n  \
             step 2: `review` was completed with approved = false\n  \
             at node `decision`\n  \
             recorded: gateway `decision` took the default to `refused`\n  \
             replay:   gateway `decision` took the default to `escalated`\n  \
             variables that differ: none\n\
             1 history replayed: 0 took the recorded path, 1 diverged\n"
        )
    );
}

#[test]
fn a_file_that_is_not_an_export_is_refused_with_its_line_and_remedy() {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dir.path().join("notes.txt"), "\nhello\n").expect("written");
    let output = sesflow(dir.path(), &["replay", "notes.txt"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout(&output),
        "notes.txt:2: not a JSON line: expected value at line 1 column 1; export histories with \
         `sesflow history INSTANCE --export FILE`\n\
         1 history replayed: 0 took the recorded path, 0 diverged, 1 could not be replayed\n"
    );
}

#[test]
fn exporting_an_unknown_instance_fails_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let output = sesflow(dir.path(), &["history", "nope", "--export", "out.jsonl"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no instance `nope`"), "{stderr}");
    assert!(!dir.path().join("out.jsonl").exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("listable")
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn a_schema_of_a_process_without_history_fails_the_replay() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let id = refused_claim(dir.path());
    ok(sesflow(
        dir.path(),
        &["history", &id, "--export", "claim.jsonl"],
    ));
    let other = replay_support::path("processes/contract.yaml");
    let other = other.to_str().expect("utf-8 path");
    let output = sesflow(dir.path(), &["replay", "claim.jsonl", "--schema", other]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no history of process `contract`"),
        "{stderr}"
    );
}

#[test]
fn a_tampered_export_header_is_refused() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let id = refused_claim(dir.path());
    ok(sesflow(
        dir.path(),
        &["history", &id, "--export", "claim.jsonl"],
    ));
    let path = dir.path().join("claim.jsonl");
    let text = std::fs::read_to_string(&path).expect("exported");
    let tampered = text.replacen("amount", "amounT", 1);
    assert_ne!(tampered, text, "the schema text names `amount`");
    std::fs::write(&path, tampered).expect("written");
    let output = sesflow(dir.path(), &["replay", "claim.jsonl"]);
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    assert!(out.contains("the export was changed"), "{out}");
}
