//! Replay of histories recorded from real runs: instances of six schemas
//! driven on every path through the driver on a SQLite file, exported, and
//! replayed in memory against the unchanged schemas.

mod replay_support;

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

use sesflow_engine::definition::Definition;
use sesflow_engine::expr::Evaluator;
use sesflow_engine::history::Record;
use sesflow_engine::replay::{self, file};
use sesflow_engine::schema;

use replay_support::paths::{Path, ALL};
use replay_support::{Bench, SCHEMAS};

/// Runs `n` instances, cycling through every path, and returns each path
/// with its export.
async fn record(bench: &Bench, n: usize) -> Vec<(Path, String)> {
    let mut exports = Vec::with_capacity(n);
    for ix in 0..n {
        let path = ALL[ix % ALL.len()];
        let id = path.run(bench, ix).await;
        let (status, outcome) = path.end();
        let expected = (status.to_owned(), outcome.map(str::to_owned));
        assert_eq!(bench.status(&id).await, expected, "{path:?} recording {ix}");
        exports.push((path, bench.export(&id).await));
    }
    exports
}

fn compiled() -> HashMap<String, Definition> {
    SCHEMAS
        .iter()
        .map(|name| {
            let def = schema::compile(name, &replay_support::source(name)).expect("compiles");
            (def.process.clone(), def)
        })
        .collect()
}

#[tokio::test]
async fn two_hundred_recorded_histories_replay_on_the_recorded_path() {
    let bench = replay_support::bench(&SCHEMAS).await;
    let exports = record(&bench, 200).await;

    let evaluator = Evaluator::new();
    let schemas = compiled();
    let mut inputs = BTreeSet::new();
    let mut n_decisions = 0;
    for (path, text) in &exports {
        let histories = file::read("export.jsonl", text).expect("reads");
        let history = &histories[0];
        inputs.extend(
            history
                .records
                .iter()
                .filter(|(_, r)| r.is_input())
                .map(|(_, r)| r.name()),
        );
        let recorded = replay::replay(history, None, &evaluator).expect("replays");
        assert!(recorded.is_same(), "{path:?}: {recorded}");
        let def = &schemas[&history.header.process];
        let given = replay::replay(history, Some((def, "file")), &evaluator).expect("replays");
        assert!(given.is_same(), "{path:?}: {given}");
        assert_eq!(given.n_steps, recorded.n_steps);
        n_decisions += given.n_decisions;
    }
    let processes: BTreeSet<&str> = schemas.keys().map(String::as_str).collect();
    assert_eq!(processes.len(), 6);
    let every_input = [
        "activity_done",
        "cancelled",
        "event_received",
        "resolved",
        "retry_due",
        "started",
        "task_completed",
        "timed_out",
        "timer_fired",
    ];
    assert_eq!(inputs, every_input.into_iter().collect());
    assert!(n_decisions > 200 * 8, "{n_decisions} decisions compared");

    let output = replay_with_the_binary(&exports);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "200 histories replayed: 200 took the recorded path, 0 diverged\n"
    );
    assert_eq!(output.status.code(), Some(0));
}

/// Writes each export to a file and replays them all with `sesflow replay`
/// against the schema files.
fn replay_with_the_binary(exports: &[(Path, String)]) -> std::process::Output {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut files = Vec::new();
    for (ix, (_, text)) in exports.iter().enumerate() {
        let file = dir.path().join(format!("history-{ix:03}.jsonl"));
        std::fs::write(&file, text).expect("written");
        files.push(file);
    }
    let mut command = Command::new(env!("CARGO_BIN_EXE_sesflow"));
    command.arg("replay").args(&files);
    for name in SCHEMAS {
        command.arg("--schema").arg(replay_support::path(name));
    }
    command.output().expect("sesflow runs")
}

#[tokio::test]
async fn an_export_holds_a_header_with_the_schema_and_every_record_in_order() {
    let bench = replay_support::bench(&["tests/replay/expense.yaml"]).await;
    let id = Path::ExpenseRefused.run(&bench, 7).await;
    let text = bench.export(&id).await;
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON line"))
        .collect();
    assert_eq!(lines[0]["type"], "instance");
    assert_eq!(lines[0]["v"], 1);
    assert_eq!(lines[0]["instance"], id.as_str());
    assert_eq!(lines[0]["process"], "expense");
    assert_eq!(lines[0]["status"], "completed");
    assert_eq!(
        lines[0]["schema"],
        replay_support::source("tests/replay/expense.yaml")
    );
    let kinds: Vec<&str> = lines[1..]
        .iter()
        .map(|line| line["type"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(kinds.first(), Some(&"started"));
    assert_eq!(kinds.last(), Some(&"completed"));
    assert_eq!(
        kinds
            .iter()
            .filter(|kind| **kind == "task_completed")
            .count(),
        1
    );
    let history = bench.history(&id).await;
    let revs: Vec<(i64, u32)> = lines[1..]
        .iter()
        .map(|line| {
            (
                line["rev"].as_i64().unwrap_or(0),
                line["seq"].as_u64().unwrap_or(0) as u32,
            )
        })
        .collect();
    let mut sorted = revs.clone();
    sorted.sort_unstable();
    assert_eq!(revs, sorted, "records are in the order they were written");
    assert!(matches!(history.records[0].1, Record::Started { .. }));
}
