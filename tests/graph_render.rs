//! `sesflow graph`: DOT that Graphviz renders, Mermaid with conditions.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn sesflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sesflow"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the sesflow binary runs")
}

const PROCESSES: [&str; 3] = [
    "processes/ses-issuance.yaml",
    "processes/document-approval.yaml",
    "processes/contract.yaml",
];

fn dot_available() -> bool {
    Command::new("dot")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn every_shipped_process_renders_to_svg_with_dot() {
    if !dot_available() {
        eprintln!("SKIPPED: Graphviz `dot` is not installed; install graphviz to run this test");
        return;
    }
    for file in PROCESSES {
        let output = sesflow(&["graph", file, "--format", "dot"]);
        assert_eq!(output.status.code(), Some(0), "{file}");
        let mut dot = Command::new("dot")
            .arg("-Tsvg")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("dot starts");
        dot.stdin
            .take()
            .expect("dot's stdin")
            .write_all(&output.stdout)
            .expect("dot reads the diagram");
        let rendered = dot.wait_with_output().expect("dot finishes");
        let stderr = String::from_utf8_lossy(&rendered.stderr);
        assert!(rendered.status.success(), "{file}: dot failed: {stderr}");
        assert!(stderr.trim().is_empty(), "{file}: dot warned: {stderr}");
        let svg = String::from_utf8_lossy(&rendered.stdout);
        assert!(svg.contains("<svg"), "{file}");
    }
}

#[test]
fn dot_shapes_follow_bpmn_and_edges_carry_conditions() {
    let output = sesflow(&["graph", "processes/contract.yaml"]);
    let dot = String::from_utf8_lossy(&output.stdout);
    assert!(dot.starts_with("digraph \"contract\" {"), "{dot}");
    assert!(
        dot.contains("n0 [shape=circle, width=0.4"),
        "start is a circle"
    );
    assert!(
        dot.contains("label=\"×\", xlabel=\"Large amount?\""),
        "exclusive gateway"
    );
    assert!(
        dot.contains("label=\"+\", xlabel=\"Cooling-off period\""),
        "parallel gateway"
    );
    assert!(
        dot.contains("[label=\"amount >= 10000\"]"),
        "branch condition on its edge"
    );
    assert!(
        dot.contains("[label=\"timeout 2d\", style=dashed]"),
        "timeout path"
    );
    assert!(dot.contains("shape=box, style=rounded, label=\"task\\nManager approval\""));
}

#[test]
fn mermaid_draws_the_same_flow() {
    let output = sesflow(&[
        "graph",
        "processes/document-approval.yaml",
        "--format",
        "mermaid",
    ]);
    assert_eq!(output.status.code(), Some(0));
    let mermaid = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = mermaid.lines().collect();
    assert_eq!(lines[0], "flowchart LR");
    assert_eq!(lines[1], "  n0((\"start\"))");
    assert!(
        lines.contains(&"  n2{\"+ Send to both reviewers\"}"),
        "{mermaid}"
    );
    assert!(lines.contains(&"  n7 -->|\"!approved\"| n8"), "{mermaid}");
    assert!(lines.contains(&"  n3 -.->|\"timeout 5d\"| n5"), "{mermaid}");
}

#[test]
fn an_invalid_schema_is_not_drawn() {
    let output = sesflow(&["graph", "tests/schemas/invalid/e040-unreachable.yaml"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("error[E040]"));
}
