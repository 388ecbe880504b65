//! `sesflow bench`: each workload prints one JSON line in the peers' shape,
//! with every instance checked, on a fresh SQLite file in a folder the test
//! owns (small N: figures come from release runs, not from tests).

use std::process::Command;

use serde_json::Value;

fn bench(args: &[&str]) -> Value {
    let dir = tempfile::tempdir().expect("temporary directory");
    let output = Command::new(env!("CARGO_BIN_EXE_sesflow"))
        .arg("bench")
        .args(args)
        .arg("--dir")
        .arg(dir.path())
        .env_remove("SESFLOW_DB")
        .output()
        .expect("sesflow runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "bench {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one JSON line: {stdout}");
    let leftovers = std::fs::read_dir(dir.path()).expect("reads").count();
    assert_eq!(leftovers, 0, "the fresh database is removed after the run");
    serde_json::from_str(lines[0]).expect("a JSON line")
}

fn assert_peer_shape(line: &Value, workload: &str, n: u64, unit: &str) {
    assert_eq!(line["peer"], "sesflow");
    assert_eq!(line["workload"], workload);
    assert_eq!(line["n"], n);
    assert_eq!(line["verified"], true);
    assert_eq!(line["rate_unit"], unit);
    assert!(line["version"].as_str().is_some_and(|v| !v.is_empty()));
    let (wall_s, rate) = (
        line["wall_s"].as_f64().expect("wall_s"),
        line["rate"].as_f64().expect("rate"),
    );
    assert!(wall_s > 0.0 && rate > 0.0, "{line}");
    assert!((rate * wall_s - n as f64).abs() < 1e-6 * n as f64 + 1e-6 || workload == "SIGN");
    assert!(line["peak_rss_mb"].as_f64().expect("peak_rss_mb") > 1.0);
}

#[test]
fn straight_and_parallel_workloads_complete_every_instance() {
    let w1 = bench(&["W1", "--n", "40", "--batch", "16"]);
    assert_peer_shape(&w1, "W1", 40, "completed instances/s");
    let w3 = bench(&["w3", "--n", "30"]);
    assert_peer_shape(&w3, "W3", 30, "completed instances/s");
}

#[test]
fn wait_and_resume_reports_memory_and_store_bytes() {
    let w2 = bench(&["W2", "--n", "30", "--batch", "7"]);
    assert_peer_shape(&w2, "W2", 30, "resumes/s");
    assert!(w2["start_rate"].as_f64().expect("start_rate") > 0.0);
    assert_eq!(w2["rss_samples"].as_array().expect("samples").len(), 10);
    let bytes = w2["store_bytes_per_waiting_instance"]
        .as_f64()
        .expect("bytes");
    assert!(
        bytes > 50.0 && bytes < 20_000.0,
        "{bytes} bytes per waiting instance"
    );
}

#[test]
fn stored_state_is_resumed_by_a_second_process() {
    let w4 = bench(&["W4", "--n", "400", "--batch", "100"]);
    assert_peer_shape(&w4, "W4", 400, "resumes/s from a fresh process");
    assert!(w4["open_s"].as_f64().expect("open_s") > 0.0);
    assert!(
        w4["resume_process_peak_rss_mb"]
            .as_f64()
            .expect("child rss")
            > 1.0
    );
    let total = w4["store_bytes_per_waiting_instance"]
        .as_f64()
        .expect("bytes");
    assert!(total > 50.0, "{w4}");
    // Every table a waiting instance grows, in the same unit; together
    // they are the whole growth, give or take pages freed and reused.
    let by_table = w4["store_bytes_per_waiting_instance_by_table"]
        .as_object()
        .expect("bytes by table");
    for name in ["instance", "history", "task"] {
        let bytes = by_table.get(name).and_then(|b| b.as_f64()).unwrap_or(0.0);
        assert!(bytes > 0.0, "{name} grew by {bytes}: {w4}");
    }
    let sum: f64 = by_table.values().filter_map(|b| b.as_f64()).sum();
    assert!(
        (sum - total).abs() < total / 4.0,
        "{sum} by table, {total} in all: {w4}"
    );
}

#[test]
fn keep_leaves_the_database_to_inspect() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let output = Command::new(env!("CARGO_BIN_EXE_sesflow"))
        .args(["bench", "W1", "--n", "12", "--keep", "--dir"])
        .arg(dir.path())
        .env_remove("SESFLOW_DB")
        .output()
        .expect("sesflow runs");
    assert!(output.status.success(), "{output:?}");
    let line: Value = serde_json::from_slice(&output.stdout).expect("a JSON line");
    let db = line["db"].as_str().expect("the kept file");
    assert!(db.starts_with(&dir.path().display().to_string()), "{db}");
    let reopened = Command::new(env!("CARGO_BIN_EXE_sesflow"))
        .args([
            "--db",
            &format!("sqlite://{db}"),
            "instances",
            "--process",
            "line",
        ])
        .output()
        .expect("sesflow runs");
    let listing = String::from_utf8_lossy(&reopened.stdout);
    assert!(reopened.status.success(), "{reopened:?}");
    assert_eq!(listing.matches("completed").count(), 12, "{listing}");
}

#[test]
fn sign_compares_the_module_with_raw_ed25519() {
    let sign = bench(&["SIGN", "--n", "20"]);
    assert_peer_shape(&sign, "SIGN", 20, "sign+verify pairs/s");
    for field in [
        "sign_rate",
        "verify_rate",
        "raw_sign_rate",
        "raw_verify_rate",
    ] {
        assert!(sign[field].as_f64().expect(field) > 0.0, "{field}: {sign}");
    }
    assert_eq!(sign["with_password_n"], 20);
}

/// Runs `sesflow bench ARGS` expecting a refusal; returns its message.
fn refused(args: &[&str], db: Option<&str>) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sesflow"));
    command.arg("bench").args(args).env_remove("SESFLOW_DB");
    if let Some(db) = db {
        command.env("SESFLOW_DB", db);
    }
    let output = command.output().expect("sesflow runs");
    assert!(!output.status.success(), "bench {args:?} ran: {output:?}");
    assert!(output.stdout.is_empty(), "no line is printed: {output:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_database_in_use_is_never_benched() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = format!("sqlite://{}", dir.path().join("work.db").display());
    let deployed = Command::new(env!("CARGO_BIN_EXE_sesflow"))
        .args(["--db", &db, "deploy"])
        .arg(format!(
            "{}/tests/processes/line.yaml",
            env!("CARGO_MANIFEST_DIR")
        ))
        .output()
        .expect("sesflow runs");
    assert!(deployed.status.success(), "{deployed:?}");
    let listing = || {
        let output = Command::new(env!("CARGO_BIN_EXE_sesflow"))
            .args(["--db", &db, "instances"])
            .output()
            .expect("sesflow runs");
        assert!(output.status.success(), "{output:?}");
        output.stdout
    };
    let before = listing();
    for workload in ["W1", "W2", "W4", "SIGN"] {
        let message = refused(&[workload, "--n", "5"], Some(&db));
        assert!(message.contains("fresh, empty database"), "{message}");
        assert!(
            message.contains(&db) && message.contains("SESFLOW_DB"),
            "{message}"
        );
    }
    assert_eq!(
        listing(),
        before,
        "no instance was started in the store in use"
    );
    let message = refused(&["W1", "--n", "5", "--keep"], Some(&db));
    assert!(message.contains("--dir and --keep"), "{message}");
}

#[test]
fn bad_sizes_and_folders_are_refused_by_name() {
    let message = refused(&["W1", "--n", "0"], None);
    assert!(message.contains("'0' for '--n <N>'"), "{message}");
    let message = refused(&["W2", "--batch", "0"], None);
    assert!(message.contains("'0' for '--batch <BATCH>'"), "{message}");
    let message = refused(&["W2", "--batch", "100001"], None);
    assert!(message.contains("1..=100000"), "{message}");
    let dir = tempfile::tempdir().expect("temporary directory");
    let missing = dir.path().join("missing");
    let message = refused(&["W1", "--dir", &missing.display().to_string()], None);
    assert!(message.contains("no such folder"), "{message}");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").expect("writes");
    let message = refused(&["W1", "--dir", &file.display().to_string()], None);
    assert!(message.contains("not a folder"), "{message}");
}

#[test]
fn folders_with_url_characters_in_their_names_work() {
    let dir = tempfile::tempdir().expect("temporary directory");
    for name in ["a b", "q?x", "p%41", "h#1"] {
        let folder = dir.path().join(name);
        std::fs::create_dir(&folder).expect("creates");
        let output = Command::new(env!("CARGO_BIN_EXE_sesflow"))
            .args(["bench", "W1", "--n", "3", "--dir"])
            .arg(&folder)
            .env_remove("SESFLOW_DB")
            .output()
            .expect("sesflow runs");
        assert!(output.status.success(), "{name}: {output:?}");
        let left = std::fs::read_dir(&folder).expect("reads").count();
        assert_eq!(left, 0, "{name}: the fresh file is removed");
    }
}
