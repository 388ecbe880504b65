//! Signing tasks through the library on SQLite (and PostgreSQL when
//! SESFLOW_TEST_PG_URL is set): an app item signed with the two-factor
//! code, a completion without a signature refused, an item changed since
//! it was attached refused, and a refusal with a comment.

mod common;
mod signing_support;

use serde_json::json;
use sesflow_activities::nodes::sign::{self, Signed, Signing as TaskSigning};
use sesflow_activities::notify::outbox;
use sesflow_activities::{apps, certs};
use sesflow_engine::activity;
use sesflow_engine::driver::Error as EngineError;
use sesflow_engine::runtime::Status;
use signing_support::{Signing, PASSWORD};

/// An engine with `sign-item` deployed, two-factor by e-mail, `ann` with a
/// certificate and the item `hr/c-1` at version 1.
async fn setup(url: &str) -> Signing {
    let signing = Signing::open(url, common::T0).await;
    signing.deploy("sign-item").await;
    signing.enable(true).await;
    signing.add_user("ann", Some("ann@example.com")).await;
    let decision = signing
        .ses
        .certs()
        .issue_automatic("ann", signing.now())
        .await
        .expect("issued");
    assert!(matches!(decision, certs::Decision::Issued { .. }));
    let fields = json!({"salary": 5200, "role": "engineer"});
    apps::put(signing.ses.db(), "hr", "c-1", fields, signing.now())
        .await
        .expect("item stored");
    signing
}

/// Starts `sign-item` on `item` for `ann`; returns the instance and task.
async fn start(signing: &Signing, item: serde_json::Value) -> (String, String) {
    let vars = common::vars(&[("item", item), ("signer", json!("ann"))]);
    let started = signing
        .engine
        .start("sign-item", None, vars, None)
        .await
        .expect("starts");
    let task = signing.task(&started.id).await;
    assert_eq!(task.kind, "sign");
    (started.id, task.id)
}

fn as_ann<'a>(task: &'a str, code: Option<&'a str>) -> TaskSigning<'a> {
    TaskSigning {
        task,
        login: Some("ann"),
        password: PASSWORD,
        code,
    }
}

async fn app_item_signed_with_the_code(db: &common::TestDb) {
    let signing = setup(&db.url).await;
    let (instance, task) = start(&signing, json!("hr/c-1")).await;

    let refused = signing.engine.complete(&task, Vec::new(), false).await;
    match &refused {
        Err(EngineError::Refused {
            error: activity::Error::Failed { code, message },
            ..
        }) => {
            assert_eq!(code, "SES_NOT_SIGNED", "{}", db.label);
            assert!(message.contains("app item hr/c-1 version 1"), "{message}");
        }
        other => panic!("a completion without signature is refused: {other:?}"),
    }
    assert!(refused.as_ref().err().is_some_and(EngineError::is_input));

    let (_, sent) = sign::sign(
        &signing.engine,
        &signing.ses,
        as_ann(&task, None),
        signing.now(),
    )
    .await
    .expect("the code is sent");
    assert!(matches!(sent, Signed::CodeSent(_)), "{sent:?}");
    let messages = outbox::list(signing.ses.db(), Some("ann@example.com"), 1)
        .await
        .expect("outbox");
    let body = &messages.last().expect("a message").body;
    let at = body.find("code is ").expect("a code") + "code is ".len();
    let code = &body[at..at + 6];
    let (assignment, done) = sign::sign(
        &signing.engine,
        &signing.ses,
        as_ann(&task, Some(code)),
        signing.now(),
    )
    .await
    .expect("signed");
    let Signed::Done { record, status } = done else {
        panic!("signed with the code: {done:?}");
    };
    assert_eq!(status, Status::Completed);
    assert_eq!(assignment.task.instance_id, instance);
    let vars = signing.variables(&instance).await;
    assert_eq!(vars["signature"]["id"], json!(record.id));
    assert_eq!(vars["signature"]["target"]["kind"], "app_item");
    assert_eq!(vars["signature"]["target"]["version"], 1);
    let shown = signing.engine.show(&instance).await.expect("shows");
    assert_eq!(shown.summary.outcome.as_deref(), Some("signed"));
}

#[tokio::test]
async fn an_app_item_is_signed_with_the_code_and_completes_the_task() {
    on_every_db!(app_item_signed_with_the_code);
}

async fn changed_item_and_refusal(db: &common::TestDb) {
    let signing = setup(&db.url).await;
    let pinned = json!({"app": "hr", "id": "c-1", "version": 1});
    let (instance, task) = start(&signing, pinned).await;
    let fields = json!({"salary": 9900, "role": "engineer"});
    apps::put(signing.ses.db(), "hr", "c-1", fields, signing.now())
        .await
        .expect("version 2");
    let error = sign::sign(
        &signing.engine,
        &signing.ses,
        as_ann(&task, None),
        signing.now(),
    )
    .await
    .expect_err("a changed item is not signed");
    assert!(error.is_input(), "{}", db.label);
    assert!(
        error.to_string().contains("is at version 2, not version 1"),
        "{error}"
    );

    let empty = sign::refuse(
        &signing.engine,
        &signing.ses,
        as_ann(&task, None),
        " ",
        signing.now(),
    )
    .await
    .expect_err("a refusal needs a comment");
    assert!(empty.to_string().contains("comment"), "{empty}");
    let comment = "the salary changed after approval";
    let (_, status) = sign::refuse(
        &signing.engine,
        &signing.ses,
        as_ann(&task, None),
        comment,
        signing.now(),
    )
    .await
    .expect("refused");
    assert_eq!(status, Status::Completed);
    let shown = signing.engine.show(&instance).await.expect("shows");
    assert_eq!(shown.summary.outcome.as_deref(), Some("refused"));
    assert_eq!(shown.variables["signature"]["comment"], comment);
    assert_eq!(shown.variables["signature"]["signer"], "ann");
}

#[tokio::test]
async fn a_changed_item_is_refused_and_the_signer_may_refuse() {
    on_every_db!(changed_item_and_refusal);
}
