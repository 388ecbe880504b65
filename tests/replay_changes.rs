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

/// Where a recording of `path` diverges from `schema` changed by `edits`,
/// checked to be at `step` and `node`.
async fn diverges(
    schema: &str,
    path: Path,
    edits: &[(&str, &str)],
    (step, node): (usize, Option<&str>),
) -> Divergence {
    let history = recorded(schema, path, 0).await;
    let divergence = diverged(&replay(&history, &changed(schema, edits))).clone();
    assert_eq!(
        (divergence.step, divergence.node.as_deref()),
        (step, node),
        "{divergence}"
    );
    divergence
}

/// Checks that a recording of `path` takes its path against `schema`
/// changed by `edits`.
async fn keeps(schema: &str, path: Path, edits: &[(&str, &str)]) {
    let history = recorded(schema, path, 0).await;
    passes(&replay(&history, &changed(schema, edits)));
}

#[tokio::test]
async fn a_changed_condition_diverges_at_the_gateway_it_decides() {
    let edits = [("when: amount > 1000", "when: amount > 100000")];
    let divergence = diverges(EXPENSE, Path::ExpenseApproved, &edits, (1, Some("size"))).await;
    assert_eq!(
        divergence.recorded,
        "gateway `size` took branch 1 to `review`"
    );
    assert_eq!(
        divergence.replayed,
        "gateway `size` took the default to `auto`"
    );
    let vars = divergence.vars.expect("variables compared");
    let approved = vars.iter().find(|var| var.name == "approved");
    let expected = VarDiff {
        name: "approved".into(),
        recorded: Some(json!(null)),
        replayed: Some(json!(true)),
    };
    assert_eq!(approved, Some(&expected));
}

#[tokio::test]
async fn a_changed_condition_passes_a_history_whose_branch_it_keeps() {
    let edits = [("when: amount > 1000", "when: amount > 100000")];
    keeps(EXPENSE, Path::ExpenseSmall, &edits).await;
}

#[tokio::test]
async fn an_inserted_node_diverges_where_the_token_enters_it() {
    let audit =
        "    next: audit\n  - { id: audit, kind: script, script: \"note = \\\"seen\\\";\", \
                 next: size }\n";
    let edits = [("    next: size\n", audit)];
    let divergence = diverges(
        EXPENSE,
        Path::ExpenseNegative,
        &edits,
        (1, Some("register")),
    )
    .await;
    assert_eq!(divergence.recorded, "entered `size` from `register`");
    assert_eq!(divergence.replayed, "entered `audit` from `register`");
}

#[tokio::test]
async fn a_removed_branch_diverges_for_the_history_that_took_it() {
    let edits = [("      - when: amount < 0\n        next: refused\n", "")];
    let divergence = diverges(EXPENSE, Path::ExpenseNegative, &edits, (1, Some("size"))).await;
    assert_eq!(
        divergence.recorded,
        "gateway `size` took branch 2 to `refused`"
    );
    assert_eq!(
        divergence.replayed,
        "gateway `size` took the default to `auto`"
    );
    keeps(EXPENSE, Path::ExpenseApproved, &edits).await;
}

#[tokio::test]
async fn an_added_branch_that_never_holds_passes_although_branch_numbers_move() {
    let first = "    branches:\n      - when: amount > 1000000\n        next: refused\n      \
                 - when: amount > 1000\n";
    let edits = [("    branches:\n      - when: amount > 1000\n", first)];
    keeps(EXPENSE, Path::ExpenseApproved, &edits).await;
}

#[tokio::test]
async fn a_changed_script_diverges_at_the_script_with_the_variables_that_differ() {
    let history = recorded(ROUNDS, Path::RoundsDone, 1).await;
    let def = changed(
        ROUNDS,
        &[("left = left + round;", "left = left + 10 * round;")],
    );
    let divergence = diverged(&replay(&history, &def)).clone();
    let at = (divergence.step, divergence.node.as_deref());
    assert_eq!(at, (1, Some("add-left")));
    assert_eq!(divergence.recorded, "script `add-left` set left = 1");
    assert_eq!(divergence.replayed, "script `add-left` set left = 10");
    let named = |name: &str, recorded, replayed| VarDiff {
        name: name.into(),
        recorded: Some(json!(recorded)),
        replayed: Some(json!(replayed)),
    };
    let expected = vec![named("left", 3, 30), named("share", 9, 36)];
    assert_eq!(divergence.vars, Some(expected));
}

#[tokio::test]
async fn a_rewritten_script_with_the_same_results_passes() {
    let history = recorded(ROUNDS, Path::RoundsDone, 1).await;
    let def = changed(ROUNDS, &[("left = left + round;", "left += round;")]);
    passes(&replay(&history, &def));
}

#[tokio::test]
async fn a_lengthened_timeout_diverges_where_the_recorded_timeout_ran_out() {
    let edits = [("timeout: 2d", "timeout: 3d")];
    let divergence = diverges(EXPENSE, Path::ExpenseEscalated, &edits, (2, Some("review"))).await;
    let recorded = "the timeout of `review` ran out at 2030-01-09T09:00:00Z";
    assert_eq!(divergence.recorded, recorded);
    assert_eq!(
        divergence.replayed,
        "the timeout of `review` runs out at 2030-01-10T09:00:00Z in this schema, \
         later than recorded"
    );
}

#[tokio::test]
async fn a_lengthened_timeout_passes_a_history_completed_in_time() {
    keeps(
        EXPENSE,
        Path::ExpenseRefused,
        &[("timeout: 2d", "timeout: 3d")],
    )
    .await;
}

#[tokio::test]
async fn a_shortened_timeout_diverges_at_a_completion_it_would_have_preempted() {
    let edits = [("timeout: 2d", "timeout: 12h")];
    let divergence = diverges(EXPENSE, Path::ExpenseRefused, &edits, (2, Some("review"))).await;
    assert_eq!(
        divergence.replayed,
        "the timeout of `review` runs out at 2030-01-07T21:00:00Z in this schema, before this \
         input at 2030-01-08T09:00:00Z (in the recorded schema it was due at 2030-01-09T09:00:00Z)"
    );
}

#[tokio::test]
async fn a_renamed_variable_diverges_at_the_step_that_fills_it() {
    let edits = [
        (
            "  note:      { type: string }",
            "  notes:     { type: string }",
        ),
        ("[approved, note]", "[approved, notes]"),
    ];
    let divergence = diverges(EXPENSE, Path::ExpenseApproved, &edits, (2, Some("review"))).await;
    let recorded = "`review` was completed with approved = true, note = \"ok 0\"";
    assert_eq!(divergence.recorded, recorded);
    assert_eq!(
        divergence.replayed,
        "variable `note` filled at `review` is not declared in this schema (renamed to `notes`?)"
    );
}

#[tokio::test]
async fn a_renamed_start_variable_diverges_at_the_start() {
    let edits = [
        (
            "  signer:      { type: user,",
            "  signatory:   { type: user,",
        ),
        ("fields: { user: signer }", "fields: { user: signatory }"),
        ("    signer: signer\n", "    signer: signatory\n"),
    ];
    let divergence = diverges(AGREEMENT, Path::AgreementSigned, &edits, (1, None)).await;
    assert_eq!(
        divergence.replayed,
        "variable `signer` given at start is not declared in this schema (renamed to `signatory`?)"
    );
}

#[tokio::test]
async fn a_removed_node_diverges_where_the_history_passed_through_it() {
    let edits = [
        ("    default: auto\n", "    default: book\n"),
        (
            "  - { id: auto, kind: script, script: \"approved = true;\", next: book }\n",
            "",
        ),
    ];
    let divergence = diverges(EXPENSE, Path::ExpenseSmall, &edits, (1, Some("size"))).await;
    assert_eq!(
        divergence.recorded,
        "gateway `size` took the default to `auto`"
    );
    assert_eq!(
        divergence.replayed,
        "gateway `size` took the default to `book`"
    );
    keeps(EXPENSE, Path::ExpenseApproved, &edits).await;
}

#[tokio::test]
async fn a_changed_default_branch_diverges_for_the_history_that_took_it() {
    let edits = [("    default: refused\n", "    default: escalated\n")];
    let divergence = diverges(EXPENSE, Path::ExpenseRefused, &edits, (2, Some("decision"))).await;
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
    let edits = [("event: payment.sent", "event: payment.received")];
    let divergence = diverges(EXPENSE, Path::ExpenseSmall, &edits, (2, Some("pay"))).await;
    assert_eq!(
        divergence.replayed,
        "`pay` waits for event `payment.received` in this schema, not for the recorded \
         `payment.sent`"
    );
}

#[tokio::test]
async fn an_added_parallel_branch_diverges_at_the_fork() {
    let notify = "next: [pay, archive, notify] }\n  - { id: notify, kind: script, \
                  script: \"note = \\\"paid soon\\\";\", next: join }\n";
    let edits = [("next: [pay, archive] }\n", notify)];
    let divergence = diverges(EXPENSE, Path::ExpenseSmall, &edits, (1, Some("fork"))).await;
    assert_eq!(divergence.replayed, "entered `notify` from `fork`");
}

#[tokio::test]
async fn a_renamed_node_diverges_where_it_is_first_reached() {
    let edits = [
        ("        next: review\n", "        next: approval\n"),
        ("  - id: review\n", "  - id: approval\n"),
    ];
    let divergence = diverges(EXPENSE, Path::ExpenseApproved, &edits, (1, Some("size"))).await;
    assert_eq!(
        divergence.replayed,
        "gateway `size` took branch 1 to `approval`"
    );
}

#[tokio::test]
async fn a_changed_outcome_diverges_at_the_end() {
    let edits = [("outcome: refused", "outcome: declined")];
    let divergence = diverges(EXPENSE, Path::ExpenseNegative, &edits, (1, Some("refused"))).await;
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
    let edits = [("wait: 1h", "wait: 2h")];
    let divergence = diverges(EXPENSE, Path::ExpenseSmall, &edits, (3, Some("archive"))).await;
    assert_eq!(
        divergence.replayed,
        "the timer at `archive` is due at 2030-01-07T11:00:00Z in this schema, later than recorded"
    );
    keeps(EXPENSE, Path::ExpenseSmall, &[("wait: 1h", "wait: 30m")]).await;
}

#[tokio::test]
async fn fewer_retries_diverge_at_the_failure_that_was_tried_again() {
    let edits = [("retry: { times: 2,", "retry: { times: 1,")];
    let divergence = diverges(
        AGREEMENT,
        Path::AgreementFailed,
        &edits,
        (4, Some("request")),
    )
    .await;
    let failed = "`request` failed (try 2): activity failed: SES_DOWN: the certificate service \
                  is down;";
    assert_eq!(
        divergence.recorded,
        format!("{failed} it will be tried again")
    );
    assert_eq!(divergence.replayed, format!("{failed} it takes on_error"));
}

#[tokio::test]
async fn a_new_required_variable_diverges_at_the_start() {
    let edits = [(
        "  paid:      { type: object }",
        "  paid:      { type: object }\n  centre:    { type: string, required: true }",
    )];
    let divergence = diverges(EXPENSE, Path::ExpenseSmall, &edits, (1, None)).await;
    assert_eq!(
        divergence.replayed,
        "the schema refuses the input: variable `centre` is required: give it with \
         --var centre=VALUE"
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
                "  paid:      { type: object }\n  x: { type: string }",
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
