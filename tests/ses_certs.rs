//! The certificate service: issuance that openssl accepts, CRLs, keys at
//! rest, idempotent requests, checks, approval and the inbox events.

mod ses_support;

use std::process::Command;

use sea_orm::{ConnectionTrait, EntityTrait, Statement};
use ses_support::{add_user, backends, enable, issue, t0};
use sesflow_activities::certs::keys::MasterKey;
use sesflow_activities::certs::{self, Decision, Origin, Reason, Request, Service};
use sesflow_activities::security::Channel;
use sesflow_activities::ses::settings::{self, Approval};
use sesflow_activities::ses::Ses;
use sesflow_engine::store::entities::event;

fn request(key: &str, login: &str) -> Request {
    Request {
        key: key.into(),
        login: login.into(),
        full_name: None,
        email: None,
        phone: None,
        replace: false,
        origin: Origin::Process,
    }
}

fn openssl() -> bool {
    let found = Command::new("openssl").arg("version").output().is_ok();
    if !found {
        eprintln!("openssl is not installed: its checks are skipped");
    }
    found
}

fn run_openssl(args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "openssl {args:?} failed: {text}");
    text
}

async fn event_payload(ses: &Ses, request_id: &str) -> serde_json::Value {
    let id = format!("signature.issuance/{request_id}");
    let row = event::Entity::find_by_id(id)
        .one(ses.db())
        .await
        .expect("query");
    let row = row.expect("the event is in the inbox");
    assert_eq!(row.kind, "signature.issuance");
    assert_eq!(row.correlation_key, request_id);
    row.payload
}

#[tokio::test]
async fn issued_certificates_pass_openssl_and_name_the_user() {
    let env = ses_support::sqlite().await;
    let ses = &env.ses;
    enable(ses, None).await;
    add_user(ses, "ann", Some("ann@example.com"), None).await;
    let serial = issue(ses, "ann").await;
    if !openssl() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let ca = dir.path().join("ca.pem");
    let leaf = dir.path().join("ann.pem");
    std::fs::write(&ca, ses.certs().ca(t0()).await.expect("ca").pem()).expect("write");
    let cert = ses.certs().get(&serial).await.expect("cert");
    std::fs::write(&leaf, certs::ca::pem_of("CERTIFICATE", &cert.certificate)).expect("write");
    let (ca, leaf) = (ca.to_str().expect("utf-8"), leaf.to_str().expect("utf-8"));
    // The certificate is dated in the test's past; check it at that time.
    let at = (t0().timestamp() + 60).to_string();
    let verified = run_openssl(&["verify", "-attime", &at, "-CAfile", ca, leaf]);
    assert!(verified.contains(": OK"), "{verified}");
    let text = run_openssl(&["x509", "-in", leaf, "-noout", "-text"]);
    assert!(text.contains("CN = ANN Tester"), "{text}");
    assert!(text.contains("ann@example.com"), "{text}");
    assert!(text.contains("ED25519"), "{text}");
    let other = ses_support::sqlite().await;
    let foreign = dir.path().join("other-ca.pem");
    std::fs::write(
        &foreign,
        other.ses.certs().ca(t0()).await.expect("ca").pem(),
    )
    .expect("w");
    let refused = Command::new("openssl")
        .args([
            "verify",
            "-attime",
            &at,
            "-CAfile",
            foreign.to_str().expect("utf-8"),
            leaf,
        ])
        .output()
        .expect("openssl runs");
    assert!(
        !refused.status.success(),
        "another CA accepted the certificate"
    );
}

#[tokio::test]
async fn revocation_shows_in_a_crl_that_openssl_reads() {
    let env = ses_support::sqlite().await;
    let ses = &env.ses;
    enable(ses, None).await;
    add_user(ses, "ann", Some("ann@example.com"), None).await;
    let serial = issue(ses, "ann").await;
    let revoked = ses
        .certs()
        .revoke(&serial, Reason::KeyCompromise, t0())
        .await;
    assert_eq!(
        revoked.expect("revoked").revocation_reason.as_deref(),
        Some("key-compromise")
    );
    let again = ses.certs().revoke(&serial, Reason::Superseded, t0()).await;
    assert!(matches!(again, Err(certs::Error::AlreadyRevoked { .. })));
    assert!(ses
        .certs()
        .valid_for("ann", t0())
        .await
        .expect("query")
        .is_none());
    let crl = ses.certs().crl(t0()).await.expect("crl");
    if !openssl() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let (crl_path, ca_path) = (dir.path().join("ses.crl"), dir.path().join("ca.pem"));
    std::fs::write(&crl_path, &crl).expect("write");
    std::fs::write(&ca_path, ses.certs().ca(t0()).await.expect("ca").pem()).expect("write");
    let text = run_openssl(&[
        "crl",
        "-in",
        crl_path.to_str().expect("utf-8"),
        "-CAfile",
        ca_path.to_str().expect("utf-8"),
        "-noout",
        "-text",
    ]);
    assert!(text.contains("verify OK"), "{text}");
    assert!(text.to_ascii_lowercase().contains(&serial), "{text}");
    assert!(text.contains("Key Compromise"), "{text}");
}

#[tokio::test]
async fn private_keys_in_the_store_are_unreadable_without_the_master_key() {
    let env = ses_support::sqlite().await;
    let ses = &env.ses;
    enable(ses, None).await;
    add_user(ses, "ann", Some("ann@example.com"), None).await;
    let serial = issue(ses, "ann").await;
    let cert = ses.certs().get(&serial).await.expect("cert");
    let seed = ses.certs().signing_key(&cert).expect("opens").to_bytes();
    let backend = ses.db().get_database_backend();
    let rows = ses
        .db()
        .query_all(Statement::from_string(
            backend,
            "SELECT key FROM ses_certificate UNION ALL SELECT key FROM ses_ca",
        ))
        .await
        .expect("raw rows");
    assert_eq!(rows.len(), 2);
    for row in rows {
        let raw: Vec<u8> = row.try_get("", "key").expect("bytes");
        assert!(
            !raw.windows(seed.len()).any(|w| w == seed),
            "a seed in clear"
        );
        assert!(
            !raw.windows(5).any(|w| w == [0x30, 0x2e, 0x02, 0x01, 0x00]),
            "PKCS#8 in clear"
        );
    }
    let stranger = Service::new(ses.db().clone(), MasterKey::generate());
    let refused = stranger.signing_key(&cert);
    assert!(matches!(refused, Err(certs::Error::Keys(_))), "{refused:?}");
    let mut forged = cert.clone();
    forged.key_id = stranger.keys().id().to_owned();
    assert!(stranger.signing_key(&forged).is_err());
}

#[tokio::test]
async fn requests_are_idempotent_and_end_with_an_event() {
    for env in backends().await {
        let ses = &env.ses;
        enable(ses, None).await;
        add_user(ses, "ann", Some("ann@example.com"), None).await;
        let service = ses.certs();
        let key = "instance-1/request/1";
        let id = service
            .submit(&request(key, "ann"), t0())
            .await
            .expect("submit");
        let again = service
            .submit(&request(key, "ann"), t0())
            .await
            .expect("submit");
        assert_eq!(id, again, "{}", env.name);
        let decisions = service.process_pending(t0()).await.expect("process");
        assert_eq!(decisions.len(), 1);
        let payload = event_payload(ses, &id).await;
        assert_eq!(payload["status"], "issued");
        let serial = payload["certificate"]["serial"].as_str().expect("serial");
        assert_eq!(service.get(serial).await.expect("stored").login, "ann");
        assert!(payload["certificate"]["not_after"].is_string());
        // Processing again issues nothing more.
        assert!(service
            .process_pending(t0())
            .await
            .expect("again")
            .is_empty());
        assert_eq!(service.list(Some("ann")).await.expect("list").len(), 1);
        let n = service
            .submit(&request(key, "ann"), t0())
            .await
            .expect("third");
        assert_eq!(n, id);
        env.cleanup().await;
    }
}

#[tokio::test]
async fn checks_reject_with_reasons_and_replacement_supersedes() {
    for env in backends().await {
        let ses = &env.ses;
        enable(ses, Some(&[Channel::Email])).await;
        add_user(ses, "ann", Some("ann@example.com"), None).await;
        add_user(ses, "bob", None, None).await;
        let service = ses.certs();
        let cases = [
            (request("k-ghost", "ghost"), "no user `ghost`"),
            (request("k-bob", "bob"), "needs an e-mail address"),
            (
                Request {
                    email: Some("other@example.com".into()),
                    ..request("k-mail", "ann")
                },
                "differs from the user's",
            ),
            (
                Request {
                    full_name: Some("Someone Else".into()),
                    ..request("k-name", "ann")
                },
                "full name",
            ),
        ];
        for (req, expected) in &cases {
            let id = service.submit(req, t0()).await.expect("submit");
            service.process_pending(t0()).await.expect("process");
            let payload = event_payload(ses, &id).await;
            assert_eq!(payload["status"], "rejected", "{}: {expected}", env.name);
            let reason = payload["reason"].as_str().expect("reason");
            assert!(reason.contains(expected), "{}: {reason}", env.name);
        }
        // Bob brings an e-mail address in the request: issued, and stored.
        let with_mail = Request {
            email: Some("bob@example.com".into()),
            ..request("k-bob2", "bob")
        };
        service.submit(&with_mail, t0()).await.expect("submit");
        let decisions = service.process_pending(t0()).await.expect("process");
        assert!(
            matches!(decisions[..], [Decision::Issued { .. }]),
            "{decisions:?}"
        );
        let bob = sesflow_activities::users::require(ses.db(), "bob")
            .await
            .expect("bob");
        assert_eq!(bob.email.as_deref(), Some("bob@example.com"));

        let first = issue(ses, "ann").await;
        let id = service
            .submit(&request("k-dup", "ann"), t0())
            .await
            .expect("submit");
        service.process_pending(t0()).await.expect("process");
        let reason = event_payload(ses, &id).await["reason"]
            .as_str()
            .map(str::to_owned);
        assert!(reason
            .expect("reason")
            .contains("holds a valid SES certificate"));
        let replace = Request {
            replace: true,
            ..request("k-replace", "ann")
        };
        let id = service.submit(&replace, t0()).await.expect("submit");
        service.process_pending(t0()).await.expect("process");
        assert_eq!(event_payload(ses, &id).await["status"], "issued");
        let old = service.get(&first).await.expect("old");
        assert_eq!(old.revocation_reason.as_deref(), Some("superseded"));
        env.cleanup().await;
    }
}

#[tokio::test]
async fn manual_approval_leaves_requests_for_an_operator() {
    for env in backends().await {
        let ses = &env.ses;
        enable(ses, None).await;
        let mut config = settings::load(ses.db()).await.expect("settings");
        config.approval = Approval::Manual;
        settings::save(ses.db(), &config, t0()).await.expect("save");
        add_user(ses, "ann", Some("ann@example.com"), None).await;
        add_user(ses, "bob", Some("bob@example.com"), None).await;
        let service = ses.certs();
        let a = service
            .submit(&request("m-a", "ann"), t0())
            .await
            .expect("submit");
        let b = service
            .submit(&request("m-b", "bob"), t0())
            .await
            .expect("submit");
        let decisions = service.process_pending(t0()).await.expect("process");
        assert!(decisions
            .iter()
            .all(|d| matches!(d, Decision::Pending { .. })));
        assert_eq!(service.pending().await.expect("pending").len(), 2);
        let event = event::Entity::find_by_id(format!("signature.issuance/{a}"));
        assert!(event.one(ses.db()).await.expect("query").is_none());
        assert!(matches!(
            service.approve(&a, t0()).await,
            Ok(Decision::Issued { .. })
        ));
        let rejected = service
            .reject(&b, "not an employee", t0())
            .await
            .expect("reject");
        assert!(
            matches!(rejected, Decision::Rejected { ref reason, .. } if reason.contains("not an employee"))
        );
        assert_eq!(event_payload(ses, &b).await["status"], "rejected");
        assert!(matches!(
            service.approve(&b, t0()).await,
            Err(certs::Error::Decided { .. })
        ));
        env.cleanup().await;
    }
}

#[tokio::test]
async fn automatic_certificates_reach_existing_and_new_users() {
    for env in backends().await {
        let ses = &env.ses;
        add_user(ses, "ann", Some("ann@example.com"), None).await;
        add_user(ses, "bob", Some("bob@example.com"), None).await;
        let calls = std::sync::Mutex::new(Vec::new());
        let progress = |done, total| calls.lock().expect("lock").push((done, total));
        let (_, decisions) = ses
            .enable(false, true, t0(), &progress)
            .await
            .expect("enable");
        assert_eq!(decisions.len(), 2);
        assert_eq!(*calls.lock().expect("lock"), vec![(1, 2), (2, 2)]);
        add_user(ses, "cid", Some("cid@example.com"), None).await;
        for login in ["ann", "bob", "cid"] {
            let cert = ses.certs().valid_for(login, t0()).await.expect("query");
            assert!(cert.is_some(), "{}: {login} has no certificate", env.name);
        }
        let again = ses
            .certs()
            .issue_missing(t0(), &|_, _| {})
            .await
            .expect("again");
        assert!(again.is_empty());
        env.cleanup().await;
    }
}

#[tokio::test]
async fn two_factor_is_refused_until_the_company_has_it() {
    let env = ses_support::sqlite().await;
    let result = settings::enable(env.ses.db(), true, false, t0()).await;
    assert!(matches!(
        result,
        Err(sesflow_activities::Error::TwoFactorNotConfigured)
    ));
    let message = result.expect_err("refused").to_string();
    assert!(
        message.contains("sesflow security two-factor --enable"),
        "{message}"
    );
    assert!(!settings::load(env.ses.db()).await.expect("load").enabled);
}
