//! The pure core fed inputs, its effects and records asserted: no database.

use serde_json::json;

use super::*;
use crate::expr::{Env, Evaluator};
use crate::schema;

const REVIEW: &str = r#"
process: review
version: 1
context:
  who:  { type: user, required: true }
  note: { type: string }
nodes:
  - { id: start, kind: start, next: read }
  - id: read
    kind: task
    assignee: who
    form: [note]
    timeout: 1h
    on_timeout: late
    next: done
  - { id: done, kind: end, outcome: read }
  - { id: late, kind: end, outcome: late }
"#;

const ENV: Env = Env {
    now_ms: 1_000,
    seed: 7,
};

fn review() -> Definition {
    schema::compile("review.yaml", REVIEW).expect("the test schema compiles")
}

fn started(def: &Definition, evaluator: &Evaluator) -> (InstanceState, Applied) {
    let mut state = InstanceState::new(def);
    let who = def.var("who").expect("declared");
    let input = Input::Start {
        vars: vec![(who, json!("ana"))],
        initiator: None,
    };
    let applied = apply(def, evaluator, &mut state, input, &ENV).expect("starts");
    (state, applied)
}

#[test]
fn a_task_opens_with_its_timeout() {
    let (def, evaluator) = (review(), Evaluator::new());
    let (state, applied) = started(&def, &evaluator);
    let read = def.node("read").expect("declared");
    assert_eq!(
        applied.effects,
        vec![
            Effect::Task {
                token: 2,
                node: read,
                assignee: Some("ana".into())
            },
            Effect::Schedule {
                token: 2,
                node: read,
                job: JobKind::Timeout,
                due_ms: 3_601_000
            },
        ]
    );
    let names: Vec<_> = applied.records.iter().map(Record::name).collect();
    assert_eq!(names, ["started", "entered", "entered", "waiting"]);
    assert_eq!(state.status(), Status::Active);
    assert_eq!(
        state.token(2).map(|token| token.wait.clone()),
        Some(Wait::Task)
    );
}

#[test]
fn completing_releases_the_task_and_its_timeout() {
    let (def, evaluator) = (review(), Evaluator::new());
    let (mut state, _) = started(&def, &evaluator);
    let note = def.var("note").expect("declared");
    let input = Input::Complete {
        token: 2,
        data: vec![(note, json!("ok"))],
        rejected: false,
    };
    let applied = apply(&def, &evaluator, &mut state, input, &ENV).expect("completes");
    assert_eq!(
        applied.effects,
        vec![Effect::Release {
            token: 2,
            wait: Wait::Task,
            timeout: true
        }]
    );
    assert_eq!(state.status(), Status::Completed);
    assert_eq!(state.outcome.as_deref(), Some("read"));
    assert_eq!(state.vars[note], json!("ok"));

    // the timeout that was due at the same moment finds the token gone
    let late = apply(
        &def,
        &evaluator,
        &mut state,
        Input::Timeout { token: 2 },
        &ENV,
    );
    assert_eq!(late, Err(Error::Finished("completed")));
}

#[test]
fn a_refused_input_leaves_the_state_as_it_was() {
    let (def, evaluator) = (review(), Evaluator::new());
    let (mut state, _) = started(&def, &evaluator);
    let before = state.clone();
    let who = def.var("who").expect("declared");
    let input = Input::Complete {
        token: 2,
        data: vec![(who, json!("bo"))],
        rejected: false,
    };
    let refused = apply(&def, &evaluator, &mut state, input, &ENV);
    assert_eq!(
        refused,
        Err(Error::Input(
            "variable `who` is not filled by `read`; it fills: note".into()
        ))
    );
    let stale = apply(
        &def,
        &evaluator,
        &mut state,
        Input::Timer { token: 2 },
        &ENV,
    );
    assert_eq!(stale, Err(Error::Stale { token: 2 }));
    assert_eq!(state, before);
}

#[test]
fn the_timeout_takes_on_timeout() {
    let (def, evaluator) = (review(), Evaluator::new());
    let (mut state, _) = started(&def, &evaluator);
    let applied = apply(
        &def,
        &evaluator,
        &mut state,
        Input::Timeout { token: 2 },
        &ENV,
    )
    .expect("times out");
    assert_eq!(state.outcome.as_deref(), Some("late"));
    assert!(matches!(
        applied.records[0],
        Record::TimedOut { token: 2, .. }
    ));
}

#[test]
fn a_join_fires_once_every_source_arrived() {
    let mut join = Join {
        node: 9,
        arrived: Vec::new(),
    };
    assert!(!join.arrive(1, &[1, 2]));
    assert!(
        !join.arrive(1, &[1, 2]),
        "a second token on one flow does not complete it"
    );
    assert!(join.arrive(2, &[1, 2]));
    assert_eq!(
        join.arrived,
        vec![(1, 1)],
        "the extra arrival waits for the next round"
    );
}

#[test]
fn the_state_round_trips_compactly() {
    let (def, evaluator) = (review(), Evaluator::new());
    let (state, _) = started(&def, &evaluator);
    let text = state.encode();
    assert_eq!(
        text,
        r#"{"v":1,"vars":["ana",null],"t":[{"id":2,"at":1,"f":0,"w":"task","to":true}],"n":3}"#
    );
    assert_eq!(InstanceState::decode(&text).expect("decodes"), state);
}
