//! What validation accepts and refuses in the flow graph: joins, gateways,
//! loops. Each case is a small schema; the assertion is the exact list of
//! codes, or none.

use sesflow_engine::schema::compile;

/// A schema with the given variables and nodes (YAML list items).
fn schema(context: &str, nodes: &str) -> String {
    format!("process: case\nversion: 1\ncontext:\n{context}nodes:\n{nodes}")
}

fn codes(source: &str) -> Vec<&'static str> {
    match compile("case.yaml", source) {
        Ok(_) => Vec::new(),
        Err(diagnostics) => diagnostics.iter().map(|d| d.code).collect(),
    }
}

const FLAGS: &str = "  a: { type: boolean }\n  b: { type: boolean }\n  n: { type: integer }\n";

/// A fork into `left` and `right`, both flowing into `join`; `left_part`
/// holds the nodes of the left path, which begins at `left`.
fn fork_join(left_part: &str) -> String {
    let nodes = format!(
        "
  - {{ id: start, kind: start, next: fork }}
  - {{ id: fork, kind: parallel, next: [left, right] }}
{left_part}
  - {{ id: right, kind: task, next: join }}
  - {{ id: join, kind: parallel, next: done }}
  - {{ id: done, kind: end }}
"
    );
    schema(FLAGS, &nodes)
}

#[test]
fn a_fork_and_its_join_are_sound() {
    let source = fork_join("  - { id: left, kind: task, next: join }");
    assert_eq!(codes(&source), Vec::<&str>::new());
    let def = compile("case.yaml", &source).expect("valid");
    assert!(def.is_join(def.node("join").expect("join")));
    assert!(!def.is_join(def.node("fork").expect("fork")));
}

const LEFT_CHOICE: &str = "  - id: left
    kind: gateway
    branches: [{ when: a, next: l1 }]
    default: l2";

#[test]
fn a_choice_inside_one_branch_may_merge_before_the_join() {
    let left = format!(
        "{LEFT_CHOICE}
  - {{ id: l1, kind: task, next: merge }}
  - {{ id: l2, kind: task, next: merge }}
  - {{ id: merge, kind: script, script: 'n += 1;', next: join }}"
    );
    assert_eq!(codes(&fork_join(&left)), Vec::<&str>::new());
}

#[test]
fn alternatives_of_one_choice_cannot_both_reach_a_join() {
    let left = format!(
        "{LEFT_CHOICE}
  - {{ id: l1, kind: task, next: join }}
  - {{ id: l2, kind: task, next: join }}"
    );
    assert_eq!(codes(&fork_join(&left)), ["E043"]);
}

#[test]
fn a_timeout_path_into_the_join_comes_from_the_same_node() {
    let left = "  - { id: left, kind: task, timeout: 1h, on_timeout: join, next: join }";
    assert_eq!(codes(&fork_join(left)), Vec::<&str>::new());
}

#[test]
fn gateways_over_booleans_are_proved_by_truth_table() {
    let covering = "
  - { id: start, kind: start, next: g }
  - id: g
    kind: gateway
    branches:
      - { when: a && b, next: done }
      - { when: '!a', next: done }
      - { when: a && !b, next: done }
  - { id: done, kind: end }
";
    assert_eq!(codes(&schema(FLAGS, covering)), Vec::<&str>::new());
    let leaking = covering.replace("      - { when: a && !b, next: done }\n", "");
    assert_eq!(codes(&schema(FLAGS, &leaking)), ["E044"]);
}

#[test]
fn gateways_over_other_types_need_plain_complements_or_a_default() {
    let gateway = |first: &str, second: &str| {
        schema(
            FLAGS,
            &format!(
                "
  - {{ id: start, kind: start, next: g }}
  - id: g
    kind: gateway
    branches:
      - {{ when: '{first}', next: done }}
      - {{ when: '{second}', next: done }}
  - {{ id: done, kind: end }}
"
            ),
        )
    };
    assert_eq!(codes(&gateway("n < 10", "n >= 10")), Vec::<&str>::new());
    assert_eq!(codes(&gateway("(n == 3)", "n != 3")), Vec::<&str>::new());
    assert_eq!(codes(&gateway("n < 10", "n > 10")), ["E044"]);
    assert_eq!(codes(&gateway("true", "n > 10")), Vec::<&str>::new());
}

#[test]
fn a_loop_with_a_way_out_is_fine() {
    let nodes = "
  - { id: start, kind: start, next: work }
  - { id: work, kind: task, form: [a], next: again }
  - id: again
    kind: gateway
    branches: [{ when: a, next: work }]
    default: done
  - { id: done, kind: end }
";
    assert_eq!(codes(&schema(FLAGS, nodes)), Vec::<&str>::new());
}

#[test]
fn every_problem_is_reported_in_one_run() {
    let nodes = "
  - { id: start, kind: start, next: work }
  - { id: work, kind: task, form: [a, c], next: g }
  - id: g
    kind: gateway
    branches: [{ when: n > 1, next: done }]
  - { id: done, kind: end, colour: red }
  - { id: lost, kind: end }
";
    assert_eq!(
        codes(&schema(FLAGS, nodes)),
        ["E050", "E044", "E003", "E040"]
    );
}
