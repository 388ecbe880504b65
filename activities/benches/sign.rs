//! Sign and verify through the SES module against raw ed25519-dalek.
//!
//! The module's signing builds a record, canonicalizes it (RFC 8785), opens
//! the sealed key and signs; its verification parses the record, checks
//! the certificate chain, the record's signature, validity and content.
//! The raw figures sign and verify a 32-byte digest with a key in memory.

use criterion::{criterion_main, Criterion};
use ed25519_dalek::{Signer, SigningKey, Verifier};
use sesflow_activities::certs::keys::MasterKey;
use sesflow_activities::ses::verify::{self, Inputs};
use sesflow_activities::ses::{Document, Ses, Step};
use sesflow_activities::users::NewUser;
use sha2::Digest;
use zeroize::Zeroizing;

const PASSWORD: &str = "bench-password";

struct Fixture {
    ses: Ses,
    document: Document,
    ca_der: Vec<u8>,
    signature: Vec<u8>,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let db = sesflow_engine::store::open(&url).await.expect("open");
    sesflow_activities::store::migrate(&db)
        .await
        .expect("migrate");
    let ses = Ses::new(db, MasterKey::generate());
    let now = chrono::Utc::now();
    sesflow_activities::ses::settings::enable(ses.db(), false, false, now)
        .await
        .expect("enable");
    let user = NewUser {
        login: "ann".into(),
        full_name: "Ann Lee".into(),
        email: Some("ann@example.com".into()),
        phone: None,
        password: Zeroizing::new(PASSWORD.into()),
    };
    ses.add_user(user, now).await.expect("user");
    ses.certs().issue_automatic("ann", now).await.expect("cert");
    let document = Document::bytes("bench.txt", b"a document to sign");
    let Step::Signed(record) = ses
        .sign("ann", PASSWORD, &document, None, now)
        .await
        .expect("sign")
    else {
        panic!("two-factor is off in the bench");
    };
    let ca_der = ses.certs().ca(now).await.expect("ca").der;
    Fixture {
        ses,
        document,
        ca_der,
        signature: record.to_file().into_bytes(),
        _dir: dir,
    }
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let fx = runtime.block_on(fixture());
    let now = chrono::Utc::now();
    let cert = runtime
        .block_on(fx.ses.certs().valid_for("ann", now))
        .expect("query")
        .expect("a certificate");

    // The module's signing core: the certificate's opened key and PEM (kept
    // after the first use), build, canonicalize and sign the record (no
    // password hash, no database write).
    c.bench_function("ses sign record", |b| {
        b.iter(|| {
            let opened = fx.ses.certs().open(&cert).expect("key");
            let unsigned = sesflow_activities::ses::record::Unsigned {
                id: "bench".into(),
                signer: sesflow_activities::ses::record::Signer {
                    login: "ann".into(),
                    full_name: "Ann Lee".into(),
                },
                serial: cert.serial.clone(),
                certificate: opened.pem().to_owned(),
                certificate_sha256: opened.fingerprint_sha256().to_owned(),
                target: fx.document.target.clone(),
                digest: fx.document.digest.clone(),
                signed_at: now,
                method: "password".into(),
            };
            sesflow_activities::ses::Record::sign(unsigned, opened.key())
        })
    });
    c.bench_function("ses verify record", |b| {
        let inputs = Inputs {
            ca_der: &fx.ca_der,
            revocations: None,
            document: &fx.document,
            changed_since: None,
            now,
        };
        b.iter(|| {
            let report = verify::verify(&fx.signature, &inputs);
            assert!(report.valid);
        })
    });

    let record: serde_json::Value = serde_json::from_slice(&fx.signature).expect("JSON");
    c.bench_function("canonical json (signature record, RFC 8785)", |b| {
        b.iter(|| sesflow_activities::canonical::to_vec(&record).expect("canonical"))
    });

    // The whole signing as a user meets it: argon2id password check,
    // certificate lookup, record, and the database commit.
    let mut group = c.benchmark_group("ses end to end");
    group.sample_size(10);
    group.bench_function("ses sign with password and store", |b| {
        b.iter(|| {
            let step = runtime.block_on(fx.ses.sign("ann", PASSWORD, &fx.document, None, now));
            assert!(matches!(step, Ok(Step::Signed(_))));
        })
    });
    group.finish();

    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let digest = sha2::Sha256::digest(b"a document to sign");
    c.bench_function("raw ed25519 sign", |b| b.iter(|| key.sign(&digest)));
    let signature = key.sign(&digest);
    let public = key.verifying_key();
    c.bench_function("raw ed25519 verify", |b| {
        b.iter(|| public.verify(&digest, &signature).expect("valid"))
    });
}

/// The benchmark group; criterion's macro defines its entry point.
mod group {
    #![allow(
        missing_docs,
        reason = "criterion's macro generates the group function"
    )]
    use criterion::{criterion_group, Criterion};

    criterion_group! {
        name = benches;
        config = Criterion::default()
            .sample_size(30)
            .measurement_time(std::time::Duration::from_secs(3))
            .warm_up_time(std::time::Duration::from_secs(1));
        targets = super::bench
    }
}
criterion_main!(group::benches);
