//! `sesflow bench SIGN`: signing and verifying through the SES module
//! against raw ed25519-dalek, in the same run; the whole signing as a user
//! meets it (argon2id password check and durable commit) reported apart.
//!
//! The module and raw ed25519-dalek take turns, in rounds, so that both
//! meet the same load on a busy machine and their ratio holds.

use std::time::Instant;

use anyhow::{bail, Context};
use ed25519_dalek::{Signer, SigningKey, Verifier};
use serde_json::{json, Value};
use sesflow_activities::certs::keys::MasterKey;
use sesflow_activities::ses::record::{self, Unsigned};
use sesflow_activities::ses::verify::{self, Inputs};
use sesflow_activities::ses::{Document, Record, Ses, Step};
use sesflow_activities::users::NewUser;
use sha2::Digest;
use zeroize::Zeroizing;

const PASSWORD: &str = "bench-password";
/// How many whole signings (password check included) are timed: each costs
/// an argon2id hash by design.
const N_WITH_PASSWORD: usize = 20;
/// Rounds each figure is timed in, the module and raw taking turns.
const ROUNDS: usize = 50;

/// Runs the SIGN workload `n` times per figure on the store at `url`.
pub(super) async fn run(url: &str, n: usize) -> anyhow::Result<Value> {
    let n = n.max(1);
    let db = sesflow_engine::store::open(url).await?;
    sesflow_activities::store::migrate(&db).await?;
    let ses = Ses::new(db, MasterKey::generate());
    let now = chrono::Utc::now();
    sesflow_activities::ses::settings::enable(ses.db(), false, false, now).await?;
    let user = NewUser {
        login: "ann".into(),
        full_name: "Ann Lee".into(),
        email: Some("ann@example.com".into()),
        phone: None,
        password: Zeroizing::new(PASSWORD.into()),
    };
    ses.add_user(user, now).await?;
    ses.certs().issue_automatic("ann", now).await?;
    let cert = ses
        .certs()
        .valid_for("ann", now)
        .await?
        .context("no certificate")?;
    let document = Document::bytes("bench.txt", b"a document to sign");
    let ca_der = ses.certs().ca(now).await?.der;

    // The module's signing: the certificate's opened key and PEM, the record,
    // RFC 8785, sign.
    let unsigned = Unsigned {
        id: "bench".into(),
        signer: record::Signer {
            login: "ann".into(),
            full_name: "Ann Lee".into(),
        },
        serial: cert.serial.clone(),
        certificate: String::new(),
        certificate_sha256: String::new(),
        target: document.target.clone(),
        digest: document.digest.clone(),
        signed_at: now,
        method: "password".into(),
    };
    // Raw ed25519-dalek: a 32-byte digest, the key in memory.
    let raw_key = SigningKey::from_bytes(&sha2::Sha256::digest(b"a raw bench key").into());
    let digest = sha2::Sha256::digest(b"a document to sign");
    let module_sign = || {
        let opened = ses
            .certs()
            .open(&cert)
            .expect("the bench certificate opens");
        Record::sign(
            Unsigned {
                certificate: opened.pem().to_owned(),
                certificate_sha256: opened.fingerprint_sha256().to_owned(),
                ..unsigned.clone()
            },
            opened.key(),
        )
    };
    let ((sign_s, record), (raw_sign_s, raw_signature)) =
        taking_turns(n, module_sign, || raw_key.sign(&digest));
    let file = record.to_file().into_bytes();
    let inputs = Inputs {
        ca_der: &ca_der,
        revocations: None,
        document: &document,
        changed_since: None,
        now,
    };
    let public = raw_key.verifying_key();
    let ((verify_s, report), (raw_verify_s, raw_valid)) = taking_turns(
        n,
        || verify::verify(&file, &inputs),
        || public.verify(&digest, &raw_signature).is_ok(),
    );
    if !report.valid {
        bail!(
            "SIGN: the module's own signature does not verify: {:?}",
            report.failure
        );
    }
    if !raw_valid {
        bail!("SIGN: raw signature does not verify");
    }
    let (password_s, n_password) = with_password(&ses, &document, n).await?;

    let rate = |s: f64, n: usize| n as f64 / s;
    Ok(json!({
        "wall_s": sign_s + verify_s, "rate": rate(sign_s + verify_s, n),
        "rate_unit": "sign+verify pairs/s", "verified": true,
        "sign_rate": rate(sign_s, n), "verify_rate": rate(verify_s, n),
        "raw_sign_rate": rate(raw_sign_s, n), "raw_verify_rate": rate(raw_verify_s, n),
        "sign_vs_raw": raw_sign_s / sign_s, "verify_vs_raw": raw_verify_s / verify_s,
        "with_password_rate": rate(password_s, n_password), "with_password_n": n_password,
    }))
}

/// The whole signing: argon2id password check, certificate, record, commit.
async fn with_password(ses: &Ses, document: &Document, n: usize) -> anyhow::Result<(f64, usize)> {
    let n = n.min(N_WITH_PASSWORD);
    let began = Instant::now();
    for _ in 0..n {
        let step = ses
            .sign("ann", PASSWORD, document, None, chrono::Utc::now())
            .await?;
        if !matches!(step, Step::Signed(_)) {
            bail!("SIGN: signing with the password did not sign");
        }
    }
    Ok((began.elapsed().as_secs_f64(), n))
}

/// Runs `module` and `raw` `n` times each, taking turns in [`ROUNDS`]
/// rounds; for each, the seconds taken and the last result.
fn taking_turns<A, B>(
    n: usize,
    mut module: impl FnMut() -> A,
    mut raw: impl FnMut() -> B,
) -> ((f64, A), (f64, B)) {
    let per_round = n / ROUNDS;
    let rounds = if per_round == 0 { 1 } else { ROUNDS };
    let first = n - per_round * (rounds - 1);
    let (mut module_s, mut module_last) = timed(first, &mut module);
    let (mut raw_s, mut raw_last) = timed(first, &mut raw);
    for _ in 1..rounds {
        let (s, last) = timed(per_round, &mut module);
        (module_s, module_last) = (module_s + s, last);
        let (s, last) = timed(per_round, &mut raw);
        (raw_s, raw_last) = (raw_s + s, last);
    }
    ((module_s, module_last), (raw_s, raw_last))
}

/// Runs `work` `n` times (at least once); the seconds taken and the last
/// result.
fn timed<T>(n: usize, mut work: impl FnMut() -> T) -> (f64, T) {
    let began = Instant::now();
    let mut last = work();
    for _ in 1..n {
        last = std::hint::black_box(work());
    }
    (began.elapsed().as_secs_f64(), last)
}
