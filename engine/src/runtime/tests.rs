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

#[test]
fn a_timeout_beyond_the_end_of_time_saturates_instead_of_overflowing() {
    let mut def = review();
    let read = def.node("read").expect("declared");
    def.nodes[read].timeout = Some(std::time::Duration::from_secs(u64::MAX));
    let evaluator = Evaluator::new();
    let (_, applied) = started(&def, &evaluator);
    let due: Vec<_> = applied
        .effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Schedule { due_ms, .. } => Some(*due_ms),
            _ => None,
        })
        .collect();
    assert_eq!(due, [i64::MAX]);
}

const EXPECT: &str = r#"
process: expect
version: 1
context:
  request:     { type: string, required: true }
  certificate: { type: certificate }
nodes:
  - { id: start, kind: start, next: answer }
  - { id: answer, kind: expect_signature_issuing, request: request, output: certificate,
      next: done }
  - { id: done, kind: end }
"#;

#[test]
fn a_malformed_issuance_answer_is_an_incident_not_a_certificate() {
    let def = schema::compile("expect.yaml", EXPECT).expect("the test schema compiles");
    let evaluator = Evaluator::new();
    for payload in [
        json!([1, 2]),
        json!({"status": "weird"}),
        json!({"status": "issued"}),
    ] {
        let mut state = InstanceState::new(&def);
        let request = def.var("request").expect("declared");
        let start = Input::Start {
            vars: vec![(request, json!("r1"))],
            initiator: None,
        };
        apply(&def, &evaluator, &mut state, start, &ENV).expect("starts");
        let answer = Input::Event {
            token: 2,
            id: "e1".into(),
            kind: ISSUANCE_EVENT.into(),
            key: "r1".into(),
            payload: payload.clone(),
        };
        apply(&def, &evaluator, &mut state, answer, &ENV).expect("the answer applies");
        assert_eq!(state.status(), Status::Incident, "{payload}");
        let certificate = def.var("certificate").expect("declared");
        assert_eq!(
            state.vars[certificate],
            serde_json::Value::Null,
            "{payload}"
        );
    }
}
