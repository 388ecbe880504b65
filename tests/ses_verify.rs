//! Verification says which check failed: changed file, changed app item,
//! revoked certificate, another CA, truncated file; expiry after signing
//! keeps a signature valid; offline with the CA certificate and a CRL.

mod ses_support;

use chrono::Duration;
use ses_support::{add_user, backends, enable, issue, t0, PASSWORD};
use sesflow_activities::apps;
use sesflow_activities::certs::Reason;
use sesflow_activities::ses::verify::{self, Failure, Inputs, Report};
use sesflow_activities::ses::{Document, Record, Ses, Step};

async fn signed(ses: &Ses, doc: &Document) -> Vec<u8> {
    match ses
        .sign("ann", PASSWORD, doc, None, t0())
        .await
        .expect("signed")
    {
        Step::Signed(record) => record.to_file().into_bytes(),
        other => panic!("not signed: {other:?}"),
    }
}

async fn ready(ses: &Ses) -> String {
    enable(ses, None).await;
    add_user(ses, "ann", Some("ann@example.com"), None).await;
    issue(ses, "ann").await
}

fn failed(report: &Report) -> (&Failure, Vec<&str>) {
    let failure = report.failure.as_ref().expect("a failure");
    let names = report
        .checks
        .iter()
        .filter(|c| c.passed == Some(false))
        .map(|c| c.name)
        .collect();
    (failure, names)
}

#[tokio::test]
async fn a_valid_file_signature_passes_every_check() {
    for env in backends().await {
        let ses = &env.ses;
        ready(ses).await;
        let doc = Document::bytes("report.pdf", b"%PDF-1.4 quarterly report");
        let sig = signed(ses, &doc).await;
        let report = ses.verify_document(&doc, &sig, t0()).await.expect("verify");
        assert!(report.valid, "{}: {report:?}", env.name);
        assert!(report.checks.iter().all(|c| c.passed == Some(true)));
        assert!(report
            .notice
            .contains("not fit for legally significant documents"));
        let record = report.record.expect("record");
        assert_eq!(record.method, "password");
        assert_eq!(record.signer.login, "ann");
        env.cleanup().await;
    }
}

#[tokio::test]
async fn a_changed_file_fails_the_content_check() {
    let env = ses_support::sqlite().await;
    let ses = &env.ses;
    ready(ses).await;
    let sig = signed(ses, &Document::bytes("a.txt", b"pay 100")).await;
    let changed = Document::bytes("a.txt", b"pay 900");
    let report = ses
        .verify_document(&changed, &sig, t0())
        .await
        .expect("verify");
    let (failure, names) = failed(&report);
    assert!(
        matches!(failure, Failure::ContentChanged { .. }),
        "{failure:?}"
    );
    assert_eq!(names, ["content"]);
    assert!(failure.to_string().contains("content changed"));
}

#[tokio::test]
async fn a_changed_app_item_fails_from_the_version_that_changed_a_signed_field() {
    for env in backends().await {
        let ses = &env.ses;
        ready(ses).await;
        let db = ses.db();
        let fields = serde_json::json!({ "amount": 100, "payee": "ACME", "_seen": 1 });
        apps::put(db, "invoices", "7", fields, t0())
            .await
            .expect("v1");
        let doc = Document::app_item(db, "invoices", "7").await.expect("doc");
        let sig = signed(ses, &doc).await;
        // A system field changes: the signature holds.
        let v2 = serde_json::json!({ "amount": 100, "payee": "ACME", "_seen": 2 });
        apps::put(db, "invoices", "7", v2, t0()).await.expect("v2");
        let report = ses
            .verify_app_item("invoices", "7", &sig, t0())
            .await
            .expect("verify");
        assert!(report.valid, "{}: {report:?}", env.name);
        // A signed field changes in version 3.
        let v3 = serde_json::json!({ "amount": 900, "payee": "ACME", "_seen": 2 });
        apps::put(db, "invoices", "7", v3, t0()).await.expect("v3");
        let report = ses
            .verify_app_item("invoices", "7", &sig, t0())
            .await
            .expect("verify");
        let (failure, _) = failed(&report);
        assert!(
            matches!(
                failure,
                Failure::ContentChanged {
                    since_version: Some(3),
                    ..
                }
            ),
            "{failure:?}"
        );
        let states = ses.item_signatures("invoices", "7").await.expect("states");
        assert_eq!(states.len(), 1);
        assert_eq!((states[0].version, states[0].invalid_since), (1, Some(3)));
        env.cleanup().await;
    }
}

#[tokio::test]
async fn a_revoked_certificate_fails_the_revocation_check() {
    for env in backends().await {
        let ses = &env.ses;
        let serial = ready(ses).await;
        let doc = Document::bytes("a.txt", b"A");
        let sig = signed(ses, &doc).await;
        let later = t0() + Duration::hours(1);
        ses.certs()
            .revoke(&serial, Reason::KeyCompromise, later)
            .await
            .expect("revoke");
        let report = ses
            .verify_document(&doc, &sig, later)
            .await
            .expect("verify");
        let (failure, names) = failed(&report);
        let Failure::Revoked {
            reason,
            before_signing,
            ..
        } = failure
        else {
            panic!("{failure:?}");
        };
        assert_eq!(
            (reason.as_str(), *before_signing),
            ("key-compromise", false)
        );
        assert_eq!(names, ["revocation"]);
        let refused = ses.sign("ann", PASSWORD, &doc, None, later).await;
        assert!(matches!(
            refused,
            Err(sesflow_activities::Error::NoCertificate { .. })
        ));
        env.cleanup().await;
    }
}

#[tokio::test]
async fn a_certificate_from_another_ca_fails_the_chain_check() {
    let env = ses_support::sqlite().await;
    ready(&env.ses).await;
    let doc = Document::bytes("a.txt", b"A");
    let sig = signed(&env.ses, &doc).await;
    let other = ses_support::sqlite().await;
    let report = other
        .ses
        .verify_document(&doc, &sig, t0())
        .await
        .expect("verify");
    let (failure, names) = failed(&report);
    assert!(matches!(failure, Failure::OtherCa { .. }), "{failure:?}");
    assert_eq!(names, ["certificate chain"]);
}

#[tokio::test]
async fn truncated_and_altered_signature_files_are_named_as_such() {
    let env = ses_support::sqlite().await;
    let ses = &env.ses;
    ready(ses).await;
    let doc = Document::bytes("a.txt", b"A");
    let sig = signed(ses, &doc).await;
    for cut in [0, 1, sig.len() / 2, sig.len() - 3] {
        let report = ses
            .verify_document(&doc, &sig[..cut], t0())
            .await
            .expect("verify");
        let (failure, names) = failed(&report);
        assert!(
            matches!(failure, Failure::Garbled { .. }),
            "cut {cut}: {failure:?}"
        );
        assert_eq!(names, ["format"]);
        assert!(failure.to_string().contains("truncated or garbled"));
    }
    // A member the format does not define, at any level, is refused: it
    // would ride along unsigned with a valid signature.
    let value: serde_json::Value = serde_json::from_slice(&sig).expect("JSON");
    for path in [&[][..], &["signer"][..], &["target"][..], &["digest"][..]] {
        let mut extra = value.clone();
        let mut at = &mut extra;
        for key in path {
            at = &mut at[*key];
        }
        at["note"] = serde_json::json!("not signed");
        let bytes = serde_json::to_vec(&extra).expect("JSON");
        let report = ses
            .verify_document(&doc, &bytes, t0())
            .await
            .expect("verify");
        let (failure, _) = failed(&report);
        assert!(
            matches!(failure, Failure::Garbled { .. }),
            "extra member under {path:?}: {failure:?}"
        );
    }
    let mut record: Record = serde_json::from_slice(&sig).expect("record");
    record.signer.full_name = "Mallory".into();
    let report = ses
        .verify_document(&doc, record.to_file().as_bytes(), t0())
        .await
        .expect("verify");
    assert!(matches!(failed(&report).0, Failure::Tampered));
}

#[tokio::test]
async fn expiry_after_signing_keeps_the_signature_and_offline_checks_use_the_crl() {
    let env = ses_support::sqlite().await;
    let ses = &env.ses;
    let serial = ready(ses).await;
    let doc = Document::bytes("a.txt", b"A");
    let sig = signed(ses, &doc).await;
    let ca = ses.certs().ca(t0()).await.expect("ca");
    let years_later = t0() + Duration::days(800);
    let inputs = Inputs {
        ca_der: &ca.der,
        revocations: None,
        document: &doc,
        changed_since: None,
        now: years_later,
    };
    let report = verify::verify(&sig, &inputs);
    assert!(report.valid, "{report:?}");
    assert!(
        report.notes.iter().any(|n| n.contains("expired")),
        "{:?}",
        report.notes
    );
    assert!(report
        .notes
        .iter()
        .any(|n| n.contains("revocation was not checked")));

    ses.certs()
        .revoke(&serial, Reason::Superseded, t0())
        .await
        .expect("revoke");
    let crl = ses.certs().crl(t0()).await.expect("crl");
    let revocations = verify::revocations_from_crl(crl.as_bytes(), &ca.der).expect("crl");
    let inputs = Inputs {
        revocations: Some(&revocations),
        ..inputs
    };
    let report = verify::verify(&sig, &inputs);
    assert!(
        matches!(failed(&report).0, Failure::Revoked { .. }),
        "{report:?}"
    );
    let other = ses_support::sqlite().await;
    let other_ca = other.ses.certs().ca(t0()).await.expect("ca");
    let refused = verify::revocations_from_crl(crl.as_bytes(), &other_ca.der);
    assert!(refused.is_err(), "a CRL of another CA was trusted");
}

#[tokio::test]
async fn signed_fields_no_item_has_are_refused() {
    for env in backends().await {
        let db = env.ses.db();
        let fields = serde_json::json!({ "amount": 100, "payee": "ACME" });
        apps::put(db, "invoices", "7", fields, t0())
            .await
            .expect("v1");
        let names = Some(vec!["amount".to_owned(), "nosuch".to_owned()]);
        let error = apps::set_signed_fields(db, "invoices", names, t0())
            .await
            .expect_err("an unknown field is refused");
        let text = error.to_string();
        assert!(
            text.contains("`nosuch`") && text.contains("amount, payee"),
            "{text}"
        );
        let known = Some(vec!["amount".to_owned()]);
        apps::set_signed_fields(db, "invoices", known, t0())
            .await
            .expect("a known field is taken");
        env.cleanup().await;
    }
}

#[tokio::test]
async fn an_app_item_without_any_signed_field_is_not_signed() {
    for env in backends().await {
        let ses = &env.ses;
        ready(ses).await;
        let db = ses.db();
        let names = Some(vec!["total".to_owned()]);
        apps::set_signed_fields(db, "orders", names, t0())
            .await
            .expect("an app without items takes any name");
        let fields = serde_json::json!({ "amount": 100 });
        apps::put(db, "orders", "1", fields, t0())
            .await
            .expect("v1");
        let doc = Document::app_item(db, "orders", "1").await.expect("doc");
        let error = ses
            .sign("ann", PASSWORD, &doc, None, t0())
            .await
            .expect_err("nothing to cover");
        let text = error.to_string();
        assert!(
            text.contains("orders/1") && text.contains("(total)"),
            "{text}"
        );
        assert!(ses.signatures(None, None).await.expect("list").is_empty());
        env.cleanup().await;
    }
}

/// `record` with `change` applied, as a signature file.
fn altered(record: &Record, change: impl FnOnce(&mut Record)) -> Vec<u8> {
    let mut record = record.clone();
    change(&mut record);
    record.to_file().into_bytes()
}

#[tokio::test]
async fn the_record_binds_its_certificate_by_fingerprint() {
    let env = ses_support::sqlite().await;
    let ses = &env.ses;
    ready(ses).await;
    add_user(ses, "bob", Some("bob@example.com"), None).await;
    let bob = ses
        .certs()
        .get(&issue(ses, "bob").await)
        .await
        .expect("bob");
    let doc = Document::bytes("a.txt", b"A");
    let record = verify::parse(&signed(ses, &doc).await).expect("a record");
    assert_eq!(record.format, "sesflow-ses-signature/2");
    let ann = ses.certs().get(&record.serial).await.expect("ann");
    let fingerprint = sesflow_activities::certs::fingerprint(&ann.certificate);
    assert_eq!(
        record.certificate_sha256.as_deref(),
        Some(fingerprint.as_str())
    );

    let bob_pem = sesflow_activities::certs::ca::pem_of("CERTIFICATE", &bob.certificate);
    let cases = [
        altered(&record, |r| r.certificate_sha256 = Some("0".repeat(64))),
        altered(&record, |r| r.certificate.clone_from(&bob_pem)),
        altered(&record, |r| {
            r.certificate.clone_from(&bob_pem);
            r.serial.clone_from(&bob.serial);
            r.certificate_sha256 = Some(sesflow_activities::certs::fingerprint(&bob.certificate));
        }),
    ];
    for (i, sig) in cases.iter().enumerate() {
        let report = ses.verify_document(&doc, sig, t0()).await.expect("verify");
        let (failure, names) = failed(&report);
        assert_eq!(*failure, Failure::Tampered, "case {i}");
        assert_eq!(names, ["record signature"], "case {i}");
    }
    let report = ses
        .verify_document(
            &doc,
            &altered(&record, |r| r.certificate_sha256 = None),
            t0(),
        )
        .await
        .expect("verify");
    let (failure, names) = failed(&report);
    assert!(matches!(failure, Failure::Garbled { .. }), "{failure:?}");
    assert_eq!(names, ["format"]);
}

#[tokio::test]
async fn a_format_1_record_signed_over_its_certificate_still_verifies() {
    use base64::Engine;
    use ed25519_dalek::Signer;

    let env = ses_support::sqlite().await;
    let ses = &env.ses;
    ready(ses).await;
    let doc = Document::bytes("a.txt", b"A");
    let mut record = verify::parse(&signed(ses, &doc).await).expect("a record");
    let cert = ses.certs().get(&record.serial).await.expect("cert");
    let key = ses.certs().signing_key(&cert).expect("opens");
    record.format = "sesflow-ses-signature/1".into();
    record.certificate_sha256 = None;
    let signature = key.sign(&record.signed_bytes()).to_bytes();
    record.signature = base64::engine::general_purpose::STANDARD.encode(signature);
    let file = record.to_file();
    assert!(!file.contains("certificate_sha256"));

    let report = ses
        .verify_document(&doc, file.as_bytes(), t0())
        .await
        .expect("verify");
    assert!(report.valid, "{report:?}");
    let tampered = altered(&record, |r| r.certificate.push('\n'));
    let report = ses
        .verify_document(&doc, &tampered, t0())
        .await
        .expect("verify");
    assert_eq!(report.failure, Some(Failure::Tampered));
    let mixed = altered(&record, |r| r.certificate_sha256 = Some("0".repeat(64)));
    let report = ses
        .verify_document(&doc, &mixed, t0())
        .await
        .expect("verify");
    assert!(matches!(report.failure, Some(Failure::Garbled { .. })));
}
