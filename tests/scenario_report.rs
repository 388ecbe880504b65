//! What `sesflow test` tells a process designer: each step, and for a
//! failure the step, what was expected and what happened, in words; the
//! problems of a scenario file with their places; JUnit XML; coverage.

use std::path::Path;
use std::process::{Command, Output};

const LEAVE: &str = "\
process: leave
version: 1
context:
  days:     { type: integer, required: true }
  approved: { type: boolean }
nodes:
  - { id: start, kind: start, next: check }
  - id: check
    kind: gateway
    branches:
      - when: days > 10
        next: approve
    default: granted
  - id: approve
    kind: task
    assignee: { login: boss }
    form: [approved]
    timeout: 1d
    on_timeout: granted
    next: decided
  - id: decided
    kind: gateway
    branches:
      - when: approved
        next: granted
    default: refused
  - { id: granted, kind: end, outcome: granted }
  - { id: refused, kind: end, outcome: refused }
";

const SCENARIOS: &str = "\
scenarios:
  - name: a short leave waits for the boss
    steps:
      - start: { days: 3 }
      - expect_wait: approve
      - complete: approve
        data: { approved: true }
  - name: the boss refuses a long leave
    steps:
      - start: { days: 20 }
      - expect_wait: approve
        assignee: boss
      - complete: approve
        data: { approved: false }
      - expect_end: refused
";

fn sesflow(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sesflow"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("sesflow runs")
}

fn folder(scenarios: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dir.path().join("leave.yaml"), LEAVE).expect("written");
    std::fs::write(dir.path().join("leave.test.yaml"), scenarios).expect("written");
    dir
}

#[test]
fn a_failing_scenario_says_the_step_what_was_expected_and_what_happened() {
    let dir = folder(SCENARIOS);
    let output = sesflow(dir.path(), &["test", "leave.test.yaml", "--coverage"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "\
leave.test.yaml (schema leave.yaml)
  scenario `a short leave waits for the boss`: FAILED at step 2
    ok       1  start with days = 3
    FAILED   2  expect a wait at `approve`
                at leave.test.yaml:5:9
                expected: a token waiting at `approve`
                happened: the instance completed with outcome `granted`
                step 1 led to: started with days = 3; entered `start`; entered `check` from \
`start`; gateway `check` took the default to `granted`; entered `granted` from `check`; ended at \
`granted` with outcome `granted`; the instance completed with outcome `granted`
    skipped  3  complete `approve` with approved = true
  scenario `the boss refuses a long leave`: passed, 4 steps
    ok       1  start with days = 20
    ok       2  expect a wait at `approve`
    ok       3  complete `approve` with approved = false
    ok       4  expect the end at `refused`
coverage of leave.yaml: 6 of 6 nodes, 5 of 7 flows
  flow `approve` -> `granted` (on_timeout) never taken
  flow `decided` -> `granted` (branch 1) never taken
2 scenarios in 1 file: 1 passed, 1 failed
"
    );
}

#[test]
fn a_wrong_expectation_names_both_values() {
    let scenarios = "\
scenarios:
  - name: a long leave approved
    steps:
      - start: { days: 12 }
      - advance: 23h
      - expect_wait: approve
        assignee: hr
";
    let dir = folder(scenarios);
    let output = sesflow(dir.path(), &["test", "leave.test.yaml"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "\
leave.test.yaml (schema leave.yaml)
  scenario `a long leave approved`: FAILED at step 3
    ok       1  start with days = 12
    ok       2  advance the clock by 23h
    FAILED   3  expect a wait at `approve`
                at leave.test.yaml:6:9
                expected: a token waiting at `approve` assigned to hr
                happened: the token at `approve` waits for a task assigned to boss
                step 2 changed nothing
1 scenario in 1 file: 0 passed, 1 failed
"
    );
}

#[test]
fn the_clock_fires_a_timeout_when_it_falls_due() {
    let scenarios = "\
scenarios:
  - name: the boss is away
    steps:
      - start: { days: 12 }
      - advance: 23h 59m
      - expect_wait: approve
      - advance: 1m
      - expect_end: { at: granted, outcome: granted }
";
    let dir = folder(scenarios);
    let output = sesflow(dir.path(), &["test", "leave.test.yaml"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.ends_with("1 scenario in 1 file: 1 passed, 0 failed\n"),
        "{stdout}"
    );
}

#[test]
fn problems_in_a_scenario_file_are_all_reported_with_their_places() {
    let scenarios = "\
scenarios:
  - name: typos
    steps:
      - start: { dayz: 3 }
      - expect_wait: aprove
      - complete: check
      - advance: soon
      - expect_vars: { approved: maybe }
      - wait_for: approve
";
    let dir = folder(scenarios);
    let output = sesflow(dir.path(), &["test", "leave.test.yaml"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "\
leave.test.yaml:4:18: error[T006]: the schema `leave` has no variable `dayz`
  help: did you mean `days`?
leave.test.yaml:5:22: error[T005]: the schema `leave` has no node `aprove`
  help: did you mean `approve`?
leave.test.yaml:6:19: error[T009]: `check` is a gateway node; only a task or a sign node is \
completed
  help: name the task that waits
leave.test.yaml:7:18: error[T008]: `soon` is not a duration: expected number at 0
  help: write e.g. 90s, 2h, 3d or 1h 30m
leave.test.yaml:8:24: error[T007]: variable `approved` is of type boolean: \"maybe\" is not a \
boolean
  help: give a value of the declared type
leave.test.yaml:9:9: error[T003]: `wait_for` is not a step
  help: a step begins with one of: start, complete, send, advance, activity, retry, cancel, \
expect_wait, expect_call, expect_vars, expect_end, expect_incident
error: leave.test.yaml has 6 problem(s)
0 scenarios in 0 files: 0 passed, 0 failed; 1 file could not be used
"
    );
}

#[test]
fn a_schema_given_as_a_scenario_file_is_refused_with_the_remedy() {
    let dir = folder(SCENARIOS);
    let output = sesflow(dir.path(), &["test", "leave.yaml"]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.starts_with(
            "leave.yaml:1:1: error[T002]: `leave.yaml` is a schema, not a scenario file\n  \
             help: write its scenarios in NAME.test.yaml beside it and run that file\n"
        ),
        "{stdout}"
    );
}

#[test]
fn junit_xml_carries_each_scenario_and_the_failure_in_words() {
    let dir = folder(SCENARIOS);
    let output = sesflow(
        dir.path(),
        &["test", "leave.test.yaml", "--junit", "report.xml"],
    );
    assert_eq!(output.status.code(), Some(1));
    let xml = std::fs::read_to_string(dir.path().join("report.xml")).expect("written");
    assert!(xml.contains(
        "<testsuite name=\"leave.test.yaml\" tests=\"2\" failures=\"1\" errors=\"0\" skipped=\"0\""
    ));
    assert!(xml.contains(
        "<failure message=\"step 2: expected a token waiting at `approve`\" type=\"scenario\">\
         step 2 (expect a wait at `approve`) failed at leave.test.yaml:5:9\n\
         expected: a token waiting at `approve`\n\
         happened: the instance completed with outcome `granted`\n"
    ));
    assert!(xml.contains(
        "<testcase classname=\"leave.test.yaml\" name=\"the boss refuses a long leave\""
    ));
    assert!(
        xml.contains("<system-out>ok 1 start with days = 3\nFAILED 2 expect a wait at `approve`\n")
    );
    assert_eq!(
        xml.matches("<testcase ").count(),
        xml.matches("</testcase>").count()
    );
    assert!(xml.trim_end().ends_with("</testsuites>"));
}
