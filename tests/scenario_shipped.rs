//! The shipped scenario files: one beside every schema under `processes/`,
//! all passing, together reaching every node and flow.

use std::path::PathBuf;
use std::process::Command;

use sesflow_engine::scenario;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The files in `dir` whose names end with `suffix`, sorted.
fn files(dir: &str, suffix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .expect("folder readable")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.to_string_lossy().ends_with(suffix))
        .collect();
    found.sort();
    found
}

fn schemas(dir: &str) -> Vec<PathBuf> {
    files(dir, ".yaml")
        .into_iter()
        .filter(|path| !path.to_string_lossy().ends_with(".test.yaml"))
        .collect()
}

/// Flows that no scenario can take today, with why.
///

#[test]
fn every_shipped_schema_has_a_scenario_file() {
    let schemas = schemas("processes");
    assert!(schemas.len() >= 3, "{schemas:?}");
    for schema in schemas {
        let test = scenario::default_schema(&schema.with_extension("test.yaml"));
        assert_eq!(test.as_ref(), Some(&schema));
        let scenarios = schema.with_extension("test.yaml");
        assert!(
            scenarios.exists(),
            "{} has no scenario file",
            schema.display()
        );
    }
}

#[test]
fn every_shipped_scenario_passes_and_reaches_every_node_and_flow() {
    for dir in ["processes", "tests/replay"] {
        for file in files(dir, ".test.yaml") {
            let suite = scenario::load(&file).unwrap_or_else(|error| panic!("{error:?}"));
            let report = scenario::run(&suite);
            assert_eq!(report.n_failed(), 0, "{report}");
            assert!(report.scenarios.len() >= 2, "{}", file.display());
            let name = suite
                .schema_file
                .file_name()
                .expect("a file")
                .to_string_lossy();
            let missing: Vec<String> = report
                .coverage
                .missing_flows()
                .map(|flow| format!("{name}: flow {flow}"))
                .chain(
                    report
                        .coverage
                        .missing_nodes()
                        .map(|node| format!("{name}: node {}", node.id)),
                )
                .collect();
            assert!(missing.is_empty(), "{name}: {}", report.coverage);
        }
    }
}

#[test]
fn sesflow_test_runs_the_shipped_scenarios_with_coverage_and_junit() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let junit = dir.path().join("scenarios.xml");
    let files = files("processes", ".test.yaml");
    let output = Command::new(env!("CARGO_BIN_EXE_sesflow"))
        .current_dir(root())
        .arg("test")
        .args(
            files
                .iter()
                .map(|file| file.strip_prefix(root()).expect("inside")),
        )
        .arg("--coverage")
        .arg("--junit")
        .arg(&junit)
        .output()
        .expect("sesflow runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(!stdout.contains("FAILED"), "{stdout}");
    let summary = stdout.lines().last().expect("a summary");
    let n: usize = summary
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count");
    assert_eq!(
        summary,
        format!(
            "{n} scenarios in {} files: {n} passed, 0 failed",
            files.len()
        )
    );
    check_coverage_lines(&stdout);
    let xml = std::fs::read_to_string(&junit).expect("JUnit written");
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"sesflow\"")
    );
    assert_eq!(xml.matches("<testcase ").count(), n);
    assert_eq!(xml.matches("<testsuite ").count(), files.len());
    assert!(!xml.contains("<failure"));
    assert!(xml.contains("name=\"the service does not answer within three days\""));
}

/// Checks the `--coverage` line of each shipped schema: every node and flow
/// reached.
fn check_coverage_lines(stdout: &str) {
    for schema in schemas("processes") {
        let name = schema
            .strip_prefix(root())
            .expect("inside")
            .display()
            .to_string();
        let line = stdout
            .lines()
            .find(|line| line.starts_with(&format!("coverage of {name}:")))
            .unwrap_or_else(|| panic!("no coverage of {name}: {stdout}"));
        assert!(line.ends_with("; every node and flow reached"), "{line}");
    }
}
