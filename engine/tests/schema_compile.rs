//! Compiling the shipped schemas into definitions.

use sesflow_engine::definition::{Assignee, Flow, NodeKind, VarType};
use sesflow_engine::schema::compile;

fn load(name: &str) -> (String, String) {
    let path = format!("{}/../processes/{name}", env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(&path).expect("shipped schema is readable");
    (path, source)
}

#[test]
fn ses_issuance_compiles_to_the_expected_definition() {
    let (path, source) = load("ses-issuance.yaml");
    let def = compile(&path, &source).unwrap_or_else(|d| panic!("{d:#?}"));
    assert_eq!(def.process, "ses-issuance");
    assert_eq!(def.version, 1);
    assert_eq!(def.digest.len(), 64);
    assert_eq!(def.variables.len(), 8);
    let employee = def.var("employee").expect("declared");
    assert_eq!(def.variables[employee].ty, VarType::User);
    assert!(def.variables[employee].required);
    assert_eq!(def.nodes[def.start].id, "start");

    let wait = def.node("wait").expect("node wait");
    assert_eq!(
        def.nodes[wait].timeout,
        Some(std::time::Duration::from_secs(3 * 86_400))
    );
    assert_eq!(def.nodes[wait].on_timeout, def.node("rejected"));
    match &def.nodes[wait].kind {
        NodeKind::ExpectSignatureIssuing {
            request,
            on_rejected,
            next,
            ..
        } => {
            assert_eq!(Some(*request), def.var("request_id"));
            assert_eq!(*on_rejected, def.node("rejected"));
            assert_eq!(Some(*next), def.node("done"));
        }
        other => panic!("wait is {}", other.name()),
    }
    let task = def.node("enter-data").expect("task");
    assert!(
        matches!(&def.nodes[task].kind, NodeKind::Task { assignee: Assignee::Initiator, form, .. } if form.len() == 3)
    );
    let rejected = def.node("rejected").expect("end");
    assert_eq!(def.nodes[rejected].incoming, vec![wait]);
    let flows: Vec<Flow> = def.outgoing(wait).into_iter().map(|(_, f)| f).collect();
    assert_eq!(flows.len(), 3, "{flows:?}");
    assert!(!def.is_join(rejected));
}
