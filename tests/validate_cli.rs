//! `sesflow validate` driven as a user would: output format and exit codes.

use std::path::Path;
use std::process::{Command, Output};

fn sesflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sesflow"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the sesflow binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn shipped_processes_are_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("processes");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .expect("processes/ exists")
        .map(|e| e.expect("entry").path().display().to_string())
        .filter(|p| p.ends_with(".yaml") && !p.ends_with(".test.yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    let mut args = vec!["validate"];
    args.extend(files.iter().map(String::as_str));
    let output = sesflow(&args);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
    assert_eq!(text(&output.stdout), "");
    for file in &files {
        assert!(text(&output.stderr).contains(&format!("{file}: valid")));
    }
}

/// `sesflow validate processes/*.yaml` also meets the scenario files beside
/// the schemas: they are checked as scenario files, not refused as schemas.
#[test]
fn scenario_files_among_the_schemas_are_checked_as_scenarios() {
    let output = sesflow(&[
        "validate",
        "processes/contract.yaml",
        "processes/contract.test.yaml",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("processes/contract.yaml: valid\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "processes/contract.test.yaml: valid scenario file (run it with `sesflow test`)"
        ),
        "{stderr}"
    );

    let dir = tempfile::tempdir().expect("temporary directory");
    let schema = dir.path().join("flow.yaml");
    std::fs::copy("processes/contract.yaml", &schema).expect("copy schema");
    let broken = dir.path().join("flow.test.yaml");
    std::fs::write(&broken, "scenarios:\n  - name: nothing\n    stepz: []\n").expect("write");
    let output = sesflow(&["validate", &broken.display().to_string()]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output.stdout);
    assert!(
        stdout.starts_with(&format!("{}:", broken.display())),
        "{stdout}"
    );
    assert!(stdout.contains("error[T"), "{stdout}");
}

#[test]
fn problems_print_place_code_message_and_help() {
    let file = "tests/schemas/invalid/e023-dangling-next.yaml";
    let output = sesflow(&["validate", file]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "tests/schemas/invalid/e023-dangling-next.yaml:16:11: error[E023]: node `review`: \
             `next` names `dnoe`, which is not a node",
            "  help: did you mean `done`?",
        ]
    );
    assert!(text(&output.stderr).contains("1 problem in 1 file"));
}

#[test]
fn an_unreadable_file_exits_2_and_names_it() {
    let output = sesflow(&[
        "validate",
        "processes/ses-issuance.yaml",
        "no/such/schema.yaml",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("cannot read no/such/schema.yaml"),
        "{stderr}"
    );
}

#[test]
fn json_output_serves_tools() {
    let output = sesflow(&[
        "validate",
        "--format",
        "json",
        "processes/contract.yaml",
        "tests/schemas/invalid/multi-several-faults.yaml",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let document: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("stdout is JSON");
    let files = document["files"].as_array().expect("a files array");
    assert_eq!(files[0]["valid"], true);
    assert_eq!(files[0]["diagnostics"], serde_json::json!([]));
    assert_eq!(files[1]["valid"], false);
    let first = &files[1]["diagnostics"][0];
    assert_eq!(first["code"], "E010");
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(5), Some(21))
    );
    assert_eq!(first["help"], "did you mean `boolean`?");
    assert_eq!(files[1]["diagnostics"].as_array().map(Vec::len), Some(4));
}
