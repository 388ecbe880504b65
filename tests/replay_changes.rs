//! Kinds of schema change, each replayed against histories recorded from
//! real runs: a change that alters a recorded path is reported at the step
//! and node where the path parts; a change that cannot alter it passes.

mod replay_support;

use serde_json::json;
use sesflow_engine::definition::Definition;
use sesflow_engine::expr::Evaluator;
use sesflow_engine::replay::{self, Divergence, History, Report, VarDiff};
use sesflow_engine::schema;

use replay_support::paths::Path;

const EXPENSE: &str = "tests/replay/expense.yaml";
const AGREEMENT: &str = "tests/replay/agreement.yaml";
const ROUNDS: &str = "tests/replay/rounds.yaml";

/// The history of one run of `path` on a fresh engine (so the clock starts
/// at 2030-01-07T09:00:00Z).
async fn recorded(schema: &str, path: Path, n: usize) -> History {
    let bench = replay_support::bench(&[schema]).await;
    let id = path.run(&bench, n).await;
    bench.history(&id).await
}

/// The schema `name` with each `(from, to)` replaced once.
fn changed(name: &str, edits: &[(&str, &str)]) -> Definition {
    let mut source = replay_support::source(name);
    for (from, to) in edits {
        assert_eq!(
            source.matches(from).count(),
            1,
            "`{from}` occurs once in {name}"
        );
        source = source.replacen(from, to, 1);
    }
    schema::compile("changed.yaml", &source).unwrap_or_else(|problems| {
        let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
        panic!("the changed schema compiles:\n{}", problems.join("\n"))
    })
}

fn replay(history: &History, def: &Definition) -> Report {
    replay::replay(history, Some((def, "changed.yaml")), &Evaluator::new()).expect("replays")
}

fn diverged(report: &Report) -> &Divergence {
    report
        .divergence
        .as_ref()
        .unwrap_or_else(|| panic!("expected a divergence: {report}"))
}

fn passes(report: &Report) {
    assert!(report.is_same(), "expected the recorded path: {report}");
}

#[tokio::test]
async fn a_changed_condition_diverges_at_the_gateway_it_decides() {
    let history = recorded(EXPENSE, Path::ExpenseApproved, 0).await;
    let def = changed(EXPENSE, &[("when: amount > 1000", "when: amount > 100000")]);
    let report = replay(&history, &def);
    let divergence = diverged(&report);
    assert_eq!(divergence.step, 1);
    assert_eq!(divergence.node.as_deref(), Some("size"));
    assert_eq!(
        divergence.recorded,
        "gateway `size` took branch 1 to `review`"
    );
    assert_eq!(
        divergence.replayed,
        "gateway `size` took the default to `auto`"
    );
    let vars = divergence.vars.as_ref().expect("variables compared");
    let approved = vars
        .iter()
        .find(|var| var.name == "approved")
        .expect("approved differs");
    assert_eq!(
        approved,
        &VarDiff {
            name: "approved".into(),
            recorded: Some(json!(null)),
            replayed: Some(json!(true)),
        }
    );
}

#[tokio::test]
async fn a_changed_condition_passes_a_history_whose_branch_it_keeps() {
    let history = recorded(EXPENSE, Path::ExpenseSmall, 0).await;
    let def = changed(EXPENSE, &[("when: amount > 1000", "when: amount > 100000")]);
    passes(&replay(&history, &def));
}

#[tokio::test]
async fn an_inserted_node_diverges_where_the_token_enters_it() {
    let history = recorded(EXPENSE, Path::ExpenseNegative, 0).await;
    let audit =
        "    next: audit\n  - { id: audit, kind: script, script: \"note = \\\"seen\\\";\", \
                 next: size }\n";
    let def = changed(EXPENSE, &[("    next: size\n", audit)]);
    let divergence = diverged(&replay(&history, &def)).clone();
    assert_eq!(divergence.step, 1);
    assert_eq!(divergence.node.as_deref(), Some("register"));
    assert_eq!(divergence.recorded, "entered `size` from `register`");
    assert_eq!(divergence.replayed, "entered `audit` from `register`");
}

#[tokio::test]
async fn a_removed_branch_diverges_for_the_history_that_took_it() {
    let history = recorded(EXPENSE, Path::ExpenseNegative, 0).await;
    let def = changed(
        EXPENSE,
        &[("      - when: amount < 0\n        next: refused\n", "")],
    );
    let divergence = diverged(&replay(&history, &def)).clone();
    assert_eq!(
        (divergence.step, divergence.node.as_deref()),
        (1, Some("size"))
    );
    assert_eq!(
        divergence.recorded,
        "gateway `size` took branch 2 to `refused`"
    );
    assert_eq!(
        divergence.replayed,
        "gateway `size` took the default to `auto`"
    );
    let other = recorded(EXPENSE, Path::ExpenseApproved, 0).await;
    passes(&replay(&other, &def));
}

#[tokio::test]
async fn an_added_branch_that_never_holds_passes_although_branch_numbers_move() {
    let history = recorded(EXPENSE, Path::ExpenseApproved, 0).await;
    let first = "    branches:\n      - when: amount > 1000000\n        next: refused\n      \
                 - when: amount > 1000\n";
    let def = changed(
        EXPENSE,
        &[("    branches:\n      - when: amount > 1000\n", first)],
    );
    passes(&replay(&history, &def));
}

#[tokio::test]
async fn a_changed_script_diverges_at_the_script_with_the_variables_that_differ() {
    let history = recorded(ROUNDS, Path::RoundsDone, 1).await;
    let def = changed(
        ROUNDS,
        &[("left = left + round;", "left = left + 10 * round;")],
    );
    let divergence = diverged(&replay(&history, &def)).clone();
    assert_eq!(
        (divergence.step, divergence.node.as_deref()),
        (1, Some("add-left"))
    );
    assert_eq!(divergence.recorded, "script `add-left` set left = 1");
    assert_eq!(divergence.replayed, "script `add-left` set left = 10");
    let vars = divergence.vars.expect("variables compared");
    let named = |name: &str, recorded, replayed| VarDiff {
        name: name.into(),
        recorded: Some(json!(recorded)),
        replayed: Some(json!(replayed)),
    };
    assert_eq!(vars, vec![named("left", 3, 30), named("share", 9, 36)]);
}

#[tokio::test]
async fn a_rewritten_script_with_the_same_results_passes() {
    let history = recorded(ROUNDS, Path::RoundsDone, 1).await;
    let def = changed(ROUNDS, &[("left = left + round;", "left += round;")]);
    passes(&replay(&history, &def));
}

#[tokio::test]
async fn a_lengthened_timeout_diverges_where_the_recorded_timeout_ran_out() {
    let history = recorded(EXPENSE, Path::ExpenseEscalated, 0).await;
    let def = changed(EXPENSE, &[("timeout: 2d", "timeout: 3d")]);
    let divergence = diverged(&replay(&history, &def)).clone();
    assert_eq!(
        (divergence.step, divergence.node.as_deref()),
        (2, Some("review"))
    );
    assert_eq!(
        divergence.recorded,
        "the timeout of `review` ran out at 2030-01-09T09:00:00Z"
    );
    assert_eq!(
        divergence.replayed,
        "the timeout of `review` runs out at 2030-01-10T09:00:00Z in this schema, \
         later than recorded"
    );
}

#[tokio::test]
async fn a_lengthened_timeout_passes_a_history_completed_in_time() {
    let history = recorded(EXPENSE, Path::ExpenseRefused, 0).await;
    passes(&replay(
        &history,
        &changed(EXPENSE, &[("timeout: 2d", "timeout: 3d")]),
    ));
}

#[tokio::test]
async fn a_shortened_timeout_diverges_at_a_completion_it_would_have_preempted() {
    let history = recorded(EXPENSE, Path::ExpenseRefused, 0).await;
    let def = changed(EXPENSE, &[("timeout: 2d", "timeout: 12h")]);
    let divergence = diverged(&replay(&history, &def)).clone();
    assert_eq!(
        (divergence.step, divergence.node.as_deref()),
        (2, Some("review"))
    );
    assert_eq!(
        divergence.replayed,
        "the timeout of `review` runs out at 2030-01-07T21:00:00Z in this schema, before this \
         input at 2030-01-08T09:00:00Z (the recorded schema had due at 2030-01-09T09:00:00Z)"
    );
}

#[tokio::test]
async fn a_renamed_variable_diverges_at_the_step_that_fills_it() {
    let history = recorded(EXPENSE, Path::ExpenseApproved, 0).await;
    let def = changed(
        EXPENSE,
        &[
            (
                "  note:      { type: string }",
                "  notes:     { type: string }",
            ),
            ("[approved, note]", "[approved, notes]"),
        ],
    );
    let divergence = diverged(&replay(&history, &def)).clone();
    assert_eq!(
        (divergence.step, divergence.node.as_deref()),
        (2, Some("review"))
    );
    assert_eq!(
        divergence.recorded,
        "`review` was completed with approved = true, note = \"ok 0\""
    );
    assert_eq!(
        divergence.replayed,
        "variable `note` filled at `review` is not declared in this schema (renamed to `notes`?)"
    );
}

#[tokio::test]
async fn a_renamed_start_variable_diverges_at_the_start() {
    let history = recorded(AGREEMENT, Path::AgreementSigned, 0).await;
    let def = changed(
        AGREEMENT,
        &[
            (
                "  signer:      { type: user, required: true }",
                "  signatory:   { type: user, required: true }",
            ),
            ("fields: { user: signer }", "fields: { user: signatory }"),
            ("    signer: signer\n", "    signer: signatory\n"),
        ],
    );
    let divergence = diverged(&replay(&history, &def)).clone();
    assert_eq!((divergence.step, divergence.node), (1, None));
    assert_eq!(
        divergence.replayed,
        "variable `signer` given at start is not declared in this schema (renamed to `signatory`?)"
    );
}

#[tokio::test]
async fn a_removed_node_diverges_where_the_history_passed_through_it() {
    let removed = [
        ("    default: auto\n", "    default: book\n"),
        (
            "  - { id: auto, kind: script, script: \"approved = true;\", next: book }\n",
            "",
        ),
    ];
    let history = recorded(EXPENSE, Path::ExpenseSmall, 0).await;
    let divergence = diverged(&replay(&history, &changed(EXPENSE, &removed))).clone();
    assert_eq!(
        (divergence.step, divergence.node.as_deref()),
        (1, Some("size"))
    );
    assert_eq!(
        divergence.recorded,
        "gateway `size` took the default to `auto`"
    );
    assert_eq!(
        divergence.replayed,
        "gateway `size` took the default to `book`"
    );
    let other = recorded(EXPENSE, Path::ExpenseApproved, 0).await;
    passes(&replay(&other, &changed(EXPENSE, &removed)));
}

#[tokio::test]
async fn a_changed_default_branch_diverges_for_the_history_that_took_it() {
    let history = recorded(EXPENSE, Path::ExpenseRefused, 0).await;
    let def = changed(
        EXPENSE,
        &[("    default: refused\n", "    default: escalated\n")],
    );
    let divergence = diverged(&replay(&history, &def)).clone();
    assert_eq!(
        (divergence.step, divergence.node.as_deref()),
        (2, Some("decision"))
    );
    assert_eq!(
        divergence.recorded,
        "gateway `decision` took the default to `refused`"
    );
    assert_eq!(
        divergence.replayed,
        "gateway `decision` took the default to `escalated`"
    );
}

#[tokio::test]
async fn a_changed_event_kind_diverges_at_the_event() {
    let history = recorded(EXPENSE, Path::ExpenseSmall, 0).await;
    let def = changed(
        EXPENSE,
        &[("event: payment.sent", "event: payment.received")],
    );
    let divergence = diverged(&replay(&history, &def)).clone();
    assert_eq!(
        (divergence.step, divergence.node.as_deref()),
        (2, Some("pay"))
    );
    assert_eq!(
        divergence.replayed,
        "`pay` waits for event `payment.received` in this schema, not for the recorded \
         `payment.sent`"
    );
}

#[tokio::test]
async fn an_added_parallel_branch_diverges_at_the_fork() {
    let history = recorded(EXPENSE, Path::ExpenseSmall, 0).await;
    let notify = "next: [pay, archive, notify] }\n  - { id: notify, kind: script, \
                  script: \"note = \\\"paid soon\\\";\", next: join }\n";
    let def = changed(EXPENSE, &[("next: [pay, archive] }\n", notify)]);
    let divergence = diverged(&replay(&history, &def)).clone();
    assert_eq!(
        (divergence.step, divergence.node.as_deref()),
        (1, Some("fork"))
    );
    assert_eq!(divergence.replayed, "entered `notify` from `fork`");
}

#[tokio::test]
async fn a_renamed_node_diverges_where_it_is_first_reached() {
    let history = recorded(EXPENSE, Path::ExpenseApproved, 0).await;
    let def = changed(
        EXPENSE,
        &[
            ("        next: review\n", "        next: approval\n"),
            ("  - id: review\n", "  - id: approval\n"),
        ],
    );
    let divergence = diverged(&replay(&history, &def)).clone();
    assert_eq!(
        (divergence.step, divergence.node.as_deref()),
        (1, Some("size"))
    );
    assert_eq!(
        divergence.replayed,
        "gateway `size` took branch 1 to `approval`"
    );
}

#[tokio::test]
async fn a_changed_outcome_diverges_at_the_end() {
    let history = recorded(EXPENSE, Path::ExpenseNegative, 0).await;
    let def = changed(EXPENSE, &[("outcome: refused", "outcome: declined")]);
    let divergence = diverged(&replay(&history, &def)).clone();
    assert_eq!(
        (divergence.step, divergence.node.as_deref()),
        (1, Some("refused"))
    );
    assert_eq!(
        divergence.recorded,
        "ended at `refused` with outcome `refused`"
    );
    assert_eq!(
        divergence.replayed,
        "ended at `refused` with outcome `declined`"
    );
}

#[tokio::test]
async fn a_lengthened_timer_diverges_where_it_fired() {
    let history = recorded(EXPENSE, Path::ExpenseSmall, 0).await;
    let def = changed(EXPENSE, &[("wait: 1h", "wait: 2h")]);
    let divergence = diverged(&replay(&history, &def)).clone();
    assert_eq!(
        (divergence.step, divergence.node.as_deref()),
        (3, Some("archive"))
    );
    assert_eq!(
        divergence.replayed,
        "the timer at `archive` is due at 2030-01-07T11:00:00Z in this schema, later than recorded"
    );
    passes(&replay(
        &history,
        &changed(EXPENSE, &[("wait: 1h", "wait: 30m")]),
    ));
}

#[tokio::test]
async fn fewer_retries_diverge_at_the_failure_that_was_tried_again() {
    let history = recorded(AGREEMENT, Path::AgreementFailed, 0).await;
    let def = changed(
        AGREEMENT,
        &[(
            "retry: { times: 2, delay: 10m }",
            "retry: { times: 1, delay: 10m }",
        )],
    );
    let divergence = diverged(&replay(&history, &def)).clone();
    assert_eq!(
        (divergence.step, divergence.node.as_deref()),
        (4, Some("request"))
    );
    assert_eq!(
        divergence.recorded,
        "`request` failed (try 2): activity failed: SES_DOWN: the certificate service is down; \
         it will be tried again"
    );
    assert_eq!(
        divergence.replayed,
        "`request` failed (try 2): activity failed: SES_DOWN: the certificate service is down; \
         it takes on_error"
    );
}

#[tokio::test]
async fn a_new_required_variable_diverges_at_the_start() {
    let history = recorded(EXPENSE, Path::ExpenseSmall, 0).await;
    let def = changed(
        EXPENSE,
        &[(
            "  paid:      { type: object }",
            "  paid:      { type: object }\n  cost_centre: { type: string, required: true }",
        )],
    );
    let divergence = diverged(&replay(&history, &def)).clone();
    assert_eq!((divergence.step, divergence.node), (1, None));
    assert_eq!(
        divergence.replayed,
        "the schema refuses the input: variable `cost_centre` is required: give it with \
         --var cost_centre=VALUE"
    );
}

#[tokio::test]
async fn titles_new_optional_variables_and_a_new_version_pass() {
    let history = recorded(EXPENSE, Path::ExpenseApproved, 0).await;
    let def = changed(
        EXPENSE,
        &[
            ("version: 1", "version: 2\ntitle: Expense claims"),
            (
                "  paid:      { type: object }",
                "  paid:      { type: object }\n  comment:   { type: string }",
            ),
            (
                "  - id: review\n",
                "  - id: review\n    title: Review by the manager\n",
            ),
        ],
    );
    let report = replay(&history, &def);
    passes(&report);
    assert_eq!(report.against, "expense version 2 (changed.yaml)");
}
