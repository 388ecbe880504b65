//! Two-factor signing: attempts, expiry, single use, binding to the exact
//! document, concurrency, channels, and real deliveries by SMTP and HTTP.

mod ses_support;

use std::sync::Arc;

use chrono::Duration;
use sea_orm::{EntityTrait, PaginatorTrait};
use ses_support::{add_user, backends, code_for, enable, extract_code, issue, t0, PASSWORD};
use sesflow_activities::apps;
use sesflow_activities::notify::{EmailVia, SmsVia};
use sesflow_activities::security::{self, Channel};
use sesflow_activities::ses::{settings, Document, Ses, Step};
use sesflow_activities::store::entities::signature;
use sesflow_activities::Error;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

async fn ready(ses: &Ses) {
    enable(ses, Some(&[Channel::Email])).await;
    add_user(ses, "ann", Some("ann@example.com"), None).await;
    issue(ses, "ann").await;
}

async fn begin(ses: &Ses, doc: &Document, at: chrono::DateTime<chrono::Utc>) -> String {
    let step = ses
        .sign("ann", PASSWORD, doc, None, at)
        .await
        .expect("code sent");
    assert!(matches!(step, Step::CodeSent(_)), "{step:?}");
    code_for(ses, "ann@example.com").await
}

fn wrong(code: &str) -> String {
    format!(
        "{:06}",
        (code.parse::<u32>().expect("digits") + 1) % 1_000_000
    )
}

async fn n_signatures(ses: &Ses) -> u64 {
    signature::Entity::find()
        .count(ses.db())
        .await
        .expect("count")
}

#[tokio::test]
async fn five_wrong_codes_void_the_signing_whatever_is_resent_or_reentered() {
    for env in backends().await {
        let ses = &env.ses;
        ready(ses).await;
        let doc = Document::bytes("contract.txt", b"terms");
        let first = begin(ses, &doc, t0()).await;
        for left in [4, 3] {
            let result = ses
                .sign("ann", PASSWORD, &doc, Some(&wrong(&first)), t0())
                .await;
            assert!(matches!(result, Err(Error::WrongCode { remaining }) if remaining == left));
        }
        // The password again and a fresh code: the count goes on.
        let later = t0() + Duration::seconds(40);
        let fresh = begin(ses, &doc, later).await;
        let result = ses
            .sign("ann", PASSWORD, &doc, Some(&wrong(&fresh)), later)
            .await;
        assert!(
            matches!(result, Err(Error::WrongCode { remaining: 2 })),
            "{result:?}"
        );
        let result = ses.sign("ann", PASSWORD, &doc, Some(&first), later).await;
        assert!(
            matches!(result, Err(Error::WrongCode { remaining: 1 })),
            "old code: {result:?}"
        );
        let result = ses
            .sign("ann", PASSWORD, &doc, Some(&wrong(&fresh)), later)
            .await;
        let until = later + Duration::minutes(15);
        match &result {
            Err(
                error @ Error::Void {
                    attempts: 5,
                    until: at,
                },
            ) if *at == until => {
                let text = error.to_string();
                assert!(
                    text.contains("new signing at 2025-03-01 09:15:40 UTC"),
                    "{text}"
                );
            }
            other => panic!("not void until {until}: {other:?}"),
        }
        // Void: the right code no longer signs, and a new signing waits.
        let result = ses.sign("ann", PASSWORD, &doc, Some(&fresh), later).await;
        assert!(matches!(result, Err(Error::Void { .. })), "{result:?}");
        let result = ses.sign("ann", PASSWORD, &doc, None, later).await;
        assert!(matches!(result, Err(Error::Locked { .. })), "{result:?}");
        assert_eq!(n_signatures(ses).await, 0, "{}", env.name);
        let audit = sesflow_activities::audit::list(ses.db(), Some("ann"), 100)
            .await
            .expect("audit");
        let failed = audit.iter().filter(|e| e.action == "code.failed").count();
        assert_eq!(failed, 5, "{}", env.name);
        let text: String = audit
            .iter()
            .map(|e| format!("{} {}\n", e.action, e.detail))
            .collect();
        assert!(
            !text.contains(&fresh) && !text.contains(&first),
            "audit holds a code"
        );
        env.cleanup().await;
    }
}

#[tokio::test]
async fn malformed_codes_are_refused_without_counting_an_attempt() {
    for env in backends().await {
        let ses = &env.ses;
        ready(ses).await;
        let doc = Document::bytes("memo.txt", b"memo");
        let code = begin(ses, &doc, t0()).await;
        for bad in ["abc", "1234567", "12345", ""] {
            let result = ses.sign("ann", PASSWORD, &doc, Some(bad), t0()).await;
            match result {
                Err(Error::Invalid { field: "code", .. }) => {}
                other => panic!("`{bad}` taken: {other:?}"),
            }
        }
        let result = ses
            .sign("ann", PASSWORD, &doc, Some(&wrong(&code)), t0())
            .await;
        assert!(
            matches!(result, Err(Error::WrongCode { remaining: 4 })),
            "{}: {result:?}",
            env.name
        );
        let result = ses.sign("ann", PASSWORD, &doc, Some(&code), t0()).await;
        assert!(matches!(result, Ok(Step::Signed(_))), "{result:?}");
        env.cleanup().await;
    }
}

#[tokio::test]
async fn used_and_expired_codes_are_refused_and_resends_are_limited() {
    for env in backends().await {
        let ses = &env.ses;
        ready(ses).await;
        let doc = Document::bytes("a.txt", b"A");
        let code = begin(ses, &doc, t0()).await;
        let step = ses
            .sign("ann", PASSWORD, &doc, Some(&code), t0())
            .await
            .expect("signed");
        assert!(matches!(step, Step::Signed(_)));
        let again = ses.sign("ann", PASSWORD, &doc, Some(&code), t0()).await;
        assert!(matches!(again, Err(Error::CodeUsed)), "{again:?}");

        let doc = Document::bytes("b.txt", b"B");
        let code = begin(ses, &doc, t0()).await;
        let late = t0() + Duration::minutes(5);
        let result = ses.sign("ann", PASSWORD, &doc, Some(&code), late).await;
        assert!(matches!(result, Err(Error::CodeExpired)), "{result:?}");

        let soon = ses
            .sign("ann", PASSWORD, &doc, None, t0() + Duration::seconds(5))
            .await;
        assert!(matches!(soon, Err(Error::ResendLimit { .. })), "{soon:?}");
        for n in 1..=2 {
            let at = late + Duration::seconds(31 * n);
            ses.sign("ann", PASSWORD, &doc, None, at)
                .await
                .expect("resend");
        }
        let fourth = ses
            .sign("ann", PASSWORD, &doc, None, late + Duration::minutes(3))
            .await;
        assert!(
            matches!(fourth, Err(Error::ResendLimit { .. })),
            "{fourth:?}"
        );
        assert_eq!(n_signatures(ses).await, 1);
        env.cleanup().await;
    }
}

#[tokio::test]
async fn a_code_signs_only_its_own_document_and_version() {
    for env in backends().await {
        let ses = &env.ses;
        ready(ses).await;
        let a = Document::bytes("a.txt", b"A");
        let b = Document::bytes("b.txt", b"B");
        let code = begin(ses, &a, t0()).await;
        let other = ses.sign("ann", PASSWORD, &b, Some(&code), t0()).await;
        assert!(
            matches!(other, Err(Error::OtherDocument { .. })),
            "{other:?}"
        );

        let item = serde_json::json!({ "amount": 100, "payee": "ACME" });
        apps::put(ses.db(), "invoices", "7", item, t0())
            .await
            .expect("put");
        let v1 = Document::app_item(ses.db(), "invoices", "7")
            .await
            .expect("v1");
        let code = begin(ses, &v1, t0() + Duration::seconds(1)).await;
        let changed = serde_json::json!({ "amount": 900, "payee": "ACME" });
        apps::put(ses.db(), "invoices", "7", changed, t0())
            .await
            .expect("put v2");
        let v2 = Document::app_item(ses.db(), "invoices", "7")
            .await
            .expect("v2");
        let result = ses.sign("ann", PASSWORD, &v2, Some(&code), t0()).await;
        let Err(Error::OtherDocument { expected, given }) = result else {
            panic!("a newer version was signed: {result:?}");
        };
        assert!(expected.contains("version 1") && given.contains("version 2"));
        assert_eq!(n_signatures(ses).await, 0);
        env.cleanup().await;
    }
}

#[tokio::test]
async fn thirty_two_concurrent_right_codes_make_one_signature() {
    for env in backends().await {
        let ses = Arc::new(env.ses.clone());
        ready(&ses).await;
        let doc = Arc::new(Document::bytes("race.txt", b"race"));
        let code = Arc::new(begin(&ses, &doc, t0()).await);
        let mut tasks = Vec::new();
        for _ in 0..32 {
            let (ses, doc, code) = (ses.clone(), doc.clone(), code.clone());
            tasks.push(tokio::spawn(async move {
                ses.sign("ann", PASSWORD, &doc, Some(&code), t0()).await
            }));
        }
        let mut signed = 0;
        for task in tasks {
            match task.await.expect("task") {
                Ok(Step::Signed(_)) => signed += 1,
                Err(Error::CodeUsed) => {}
                other => panic!("{}: unexpected {other:?}", env.name),
            }
        }
        assert_eq!(signed, 1, "{}", env.name);
        assert_eq!(n_signatures(&ses).await, 1, "{}", env.name);
        env.cleanup().await;
    }
}

#[tokio::test]
async fn a_signer_out_of_reach_is_refused_not_let_through_on_the_password() {
    for env in backends().await {
        let ses = &env.ses;
        ready(ses).await;
        security::enable_two_factor(ses.db(), &[Channel::Sms], t0())
            .await
            .expect("sms only");
        let doc = Document::bytes("a.txt", b"A");
        for code in [None, Some("123456")] {
            let result = ses.sign("ann", PASSWORD, &doc, code, t0()).await;
            match (code, &result) {
                (None, Err(Error::NoChannel { channels, .. })) => {
                    assert!(channels.contains("phone"))
                }
                (Some(_), Err(Error::NoPendingCode { .. })) => {}
                _ => panic!("{}: {result:?}", env.name),
            }
        }
        let wrong = ses.sign("ann", "not the password", &doc, None, t0()).await;
        assert!(matches!(wrong, Err(Error::WrongPassword { .. })));
        assert_eq!(n_signatures(ses).await, 0);
        env.cleanup().await;
    }
}

/// A minimal SMTP server: accepts one message and returns its DATA.
async fn smtp_server() -> (u16, tokio::task::JoinHandle<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let handle = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        write
            .write_all(b"220 localhost test SMTP\r\n")
            .await
            .expect("greet");
        let mut data = String::new();
        while let Some(line) = lines.next_line().await.expect("read") {
            let verb = line.to_ascii_uppercase();
            let reply: &[u8] = if verb.starts_with("EHLO") || verb.starts_with("HELO") {
                b"250 localhost\r\n"
            } else if verb.starts_with("DATA") {
                write.write_all(b"354 go on\r\n").await.expect("354");
                while let Some(body) = lines.next_line().await.expect("body") {
                    if body == "." {
                        break;
                    }
                    data.push_str(&body);
                    data.push('\n');
                }
                b"250 queued\r\n"
            } else if verb.starts_with("QUIT") {
                write.write_all(b"221 bye\r\n").await.expect("221");
                break;
            } else {
                b"250 ok\r\n"
            };
            write.write_all(reply).await.expect("reply");
        }
        data
    });
    (port, handle)
}

#[tokio::test]
async fn codes_arrive_through_a_real_smtp_exchange() {
    let env = ses_support::sqlite().await;
    let ses = &env.ses;
    ready(ses).await;
    let (port, server) = smtp_server().await;
    let mut config = settings::load(ses.db()).await.expect("settings");
    config.delivery.email = EmailVia::Smtp {
        url: format!("smtp://127.0.0.1:{port}"),
        from: "sesflow@example.com".into(),
    };
    settings::save(ses.db(), &config, t0()).await.expect("save");
    let doc = Document::bytes("mail.txt", b"by mail");
    let step = ses
        .sign("ann", PASSWORD, &doc, None, t0())
        .await
        .expect("sent");
    assert!(matches!(step, Step::CodeSent(_)));
    let data = server.await.expect("server");
    assert!(data.contains("To: ann@example.com"), "{data}");
    let code = extract_code(&data.replace("=\n", ""));
    let step = ses
        .sign("ann", PASSWORD, &doc, Some(&code), t0())
        .await
        .expect("signed");
    assert!(matches!(step, Step::Signed(_)));
}

#[tokio::test]
async fn codes_arrive_through_an_http_sms_gateway() {
    let env = ses_support::sqlite().await;
    let ses = &env.ses;
    enable(ses, Some(&[Channel::Sms])).await;
    add_user(ses, "bob", None, Some("+44 20 7946 0958")).await;
    issue(ses, "bob").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            let n = stream.read(&mut buffer).await.expect("read");
            request.extend_from_slice(&buffer[..n]);
            let text = String::from_utf8_lossy(&request);
            if let Some(head_end) = text.find("\r\n\r\n") {
                let length = text[..head_end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                    })
                    .unwrap_or(0);
                if request.len() >= head_end + 4 + length || n == 0 {
                    break;
                }
            }
        }
        let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
        stream.write_all(reply).await.expect("reply");
        String::from_utf8_lossy(&request).into_owned()
    });
    let mut config = settings::load(ses.db()).await.expect("settings");
    config.delivery.sms = SmsVia::Http {
        url: format!("http://127.0.0.1:{port}/send?to={{to}}"),
        body: None,
    };
    settings::save(ses.db(), &config, t0()).await.expect("save");
    let doc = Document::bytes("sms.txt", b"by sms");
    ses.sign("bob", PASSWORD, &doc, None, t0())
        .await
        .expect("sent");
    let request = server.await.expect("server");
    assert!(
        request.starts_with("POST /send?to=%2B442079460958 "),
        "{request}"
    );
    let body = &request[request.find("\r\n\r\n").expect("body") + 4..];
    let json: serde_json::Value = serde_json::from_str(body).expect("JSON body");
    assert_eq!(json["to"], "+442079460958");
    let code = extract_code(json["text"].as_str().expect("text"));
    let step = ses
        .sign("bob", PASSWORD, &doc, Some(&code), t0())
        .await
        .expect("signed");
    assert!(matches!(step, Step::Signed(_)));
}
