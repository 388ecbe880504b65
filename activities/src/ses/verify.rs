//! Verification of a signature record: its form, the certificate chain to
//! the CA, the record's own signature, the certificate's validity and
//! revocation at signing time, and the content. The report says which
//! check failed.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, OnceLock};

use base64::Engine;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, VerifyingKey};
use serde::Serialize;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::record::{Record, FORMAT, FORMAT_1};
use super::{Document, NOTICE};

/// A revocation known to the verifier.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Revocation {
    /// When.
    pub at: DateTime<Utc>,
    /// Why.
    pub reason: String,
}

/// Revocations by certificate serial (lower-case hex).
pub type Revocations = HashMap<String, Revocation>;

/// The check that failed.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum Failure {
    /// The signature file is not a complete record.
    Garbled {
        /// What is wrong with it.
        detail: String,
    },
    /// The certificate was not issued by the CA given.
    OtherCa {
        /// The certificate's issuer.
        issuer: String,
    },
    /// The record's signature does not match its fields.
    Tampered,
    /// The certificate was not valid when the record says it signed.
    Expired {
        /// Start of validity.
        not_before: DateTime<Utc>,
        /// End of validity.
        not_after: DateTime<Utc>,
        /// The signing time.
        signed_at: DateTime<Utc>,
    },
    /// The certificate is revoked.
    Revoked {
        /// When.
        at: DateTime<Utc>,
        /// Why.
        reason: String,
        /// Whether the revocation came before the signing.
        before_signing: bool,
    },
    /// The signature is for something else.
    OtherDocument {
        /// What the record names.
        signed: String,
        /// What was given.
        given: String,
    },
    /// The content changed since it was signed.
    ContentChanged {
        /// The digest signed.
        signed: String,
        /// The digest now.
        now: String,
        /// For app items, the first version that changed a signed field.
        since_version: Option<i32>,
    },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Garbled { detail } => write!(
                f,
                "the signature file is truncated or garbled ({detail}); ask the signer for the \
                 original file"
            ),
            Failure::OtherCa { issuer } => write!(
                f,
                "the certificate was issued by another CA ({issuer}), not by the CA given"
            ),
            Failure::Tampered => f.write_str(
                "the record's signature does not match its fields: the signature file was altered",
            ),
            Failure::Expired {
                not_before,
                not_after,
                signed_at,
            } => write!(
                f,
                "the certificate was not valid at signing time {signed_at} (valid from \
                 {not_before} to {not_after}); it had expired or was not yet valid"
            ),
            Failure::Revoked {
                at,
                reason,
                before_signing,
            } => write!(
                f,
                "the certificate was revoked at {at} ({reason}), {} the signature was made",
                if *before_signing { "before" } else { "after" }
            ),
            Failure::OtherDocument { signed, given } => {
                write!(f, "the signature is for {signed}, not for {given}")
            }
            Failure::ContentChanged {
                signed,
                now,
                since_version,
            } => match since_version {
                Some(version) => write!(
                    f,
                    "the content changed since signing: a signed field changed in version \
                     {version} (digest {now}, signed {signed})"
                ),
                None => write!(
                    f,
                    "the content changed since signing (digest {now}, signed {signed})"
                ),
            },
        }
    }
}

/// One check and its result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    /// The check's name.
    pub name: &'static str,
    /// Whether it passed; `None` when it was not run.
    pub passed: Option<bool>,
}

/// The result of a verification.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// Whether every check passed.
    pub valid: bool,
    /// The first check that failed.
    pub failure: Option<Failure>,
    /// Every check in order.
    pub checks: Vec<Check>,
    /// The record, when the file held one.
    pub record: Option<Record>,
    /// Remarks that do not make the signature invalid.
    pub notes: Vec<String>,
    /// [`NOTICE`].
    pub notice: String,
}

/// The checks, in the order they run.
pub const CHECKS: [&str; 6] = [
    "format",
    "certificate chain",
    "record signature",
    "validity at signing",
    "revocation",
    "content",
];

/// What [`verify`] compares the record with.
#[derive(Clone, Debug)]
pub struct Inputs<'a> {
    /// The CA certificate, DER.
    pub ca_der: &'a [u8],
    /// Known revocations; `None` when revocation cannot be checked.
    pub revocations: Option<&'a Revocations>,
    /// The document as it is now.
    pub document: &'a Document,
    /// For app items, the first version after the signed one that changed a
    /// signed field.
    pub changed_since: Option<i32>,
    /// The time of the verification.
    pub now: DateTime<Utc>,
}

/// Parses a signature file.
pub fn parse(bytes: &[u8]) -> Result<Record, Failure> {
    let record: Record = serde_json::from_slice(bytes).map_err(|e| Failure::Garbled {
        detail: e.to_string(),
    })?;
    let garbled = |detail: String| Err(Failure::Garbled { detail });
    match (record.format.as_str(), &record.certificate_sha256) {
        (FORMAT, Some(_)) | (FORMAT_1, None) => Ok(record),
        (FORMAT, None) => garbled(format!("a {FORMAT} record needs certificate_sha256")),
        (FORMAT_1, Some(_)) => garbled(format!("a {FORMAT_1} record has no certificate_sha256")),
        (other, _) => garbled(format!("format `{other}` is not {FORMAT} or {FORMAT_1}")),
    }
}

/// Verifies the signature file `bytes` against `inputs`.
pub fn verify(bytes: &[u8], inputs: &Inputs<'_>) -> Report {
    let mut report = Report {
        valid: false,
        failure: None,
        checks: CHECKS
            .iter()
            .map(|name| Check { name, passed: None })
            .collect(),
        record: None,
        notes: Vec::new(),
        notice: NOTICE.to_owned(),
    };
    let result = run(bytes, inputs, &mut report);
    if let Err(failure) = result {
        report.failure = Some(failure);
    } else {
        report.valid = true;
    }
    report
}

fn run(bytes: &[u8], inputs: &Inputs<'_>, report: &mut Report) -> Result<(), Failure> {
    let parsed = parse(bytes).and_then(|record| {
        let signed_at = record.signed_at().ok_or_else(|| Failure::Garbled {
            detail: format!("signing time `{}` is not RFC 3339", record.signed_at),
        })?;
        let der = certificate_der(&record.certificate)?;
        Ok((record, signed_at, der))
    });
    let (record, signed_at, cert_der) = outcome(report, "format", parsed)?;
    report.record = Some(record.clone());
    let leaf = outcome(report, "certificate chain", chain(&cert_der, inputs.ca_der))?;
    outcome(report, "record signature", record_signature(&record, &leaf))?;
    outcome(
        report,
        "validity at signing",
        within_validity(&leaf, signed_at),
    )?;
    if inputs.now > leaf.not_after {
        report.notes.push(format!(
            "the certificate expired at {} after the signature was made; the signature stays valid",
            leaf.not_after
        ));
    }
    match inputs.revocations {
        Some(revocations) => {
            let revoked = not_revoked(&leaf.serial, signed_at, revocations);
            outcome(report, "revocation", revoked)?;
        }
        None => report
            .notes
            .push("revocation was not checked: give the store or a CRL".into()),
    }
    outcome(report, "content", same_content(&record, inputs))
}

/// Records the result of the check `name` and passes it on.
fn outcome<T>(report: &mut Report, name: &str, result: Result<T, Failure>) -> Result<T, Failure> {
    if let Some(check) = report.checks.iter_mut().find(|c| c.name == name) {
        check.passed = Some(result.is_ok());
    }
    result
}

/// What the checks need of the signer's certificate.
#[derive(Clone)]
struct Leaf {
    serial: String,
    fingerprint: String,
    key: VerifyingKey,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
}

fn certificate_der(pem: &str) -> Result<Vec<u8>, Failure> {
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .map_err(|e| Failure::Garbled {
            detail: format!("the certificate is not valid PEM: {e}"),
        })
}

/// Chains checked before, by the exact bytes of (CA, certificate): a pair
/// seen again needs no parsing and no CA signature check. Only successes
/// are kept; any other byte string is checked in full.
type Chains = Mutex<HashMap<(Vec<u8>, Vec<u8>), Leaf>>;

/// How many checked chains are kept before the memo starts over.
const CHAIN_MEMO_SIZE: usize = 4096;

fn chain(cert_der: &[u8], ca_der: &[u8]) -> Result<Leaf, Failure> {
    static CHECKED: OnceLock<Chains> = OnceLock::new();
    let checked = CHECKED.get_or_init(Default::default);
    let key = (ca_der.to_vec(), cert_der.to_vec());
    let memo = |chains: &Chains| {
        let chains = chains
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        chains.get(&key).cloned()
    };
    if let Some(leaf) = memo(checked) {
        return Ok(leaf);
    }
    let leaf = check_chain(cert_der, ca_der)?;
    let mut chains = checked
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if chains.len() >= CHAIN_MEMO_SIZE {
        chains.clear();
    }
    chains.insert(key, leaf.clone());
    Ok(leaf)
}

fn check_chain(cert_der: &[u8], ca_der: &[u8]) -> Result<Leaf, Failure> {
    let garbled = |what: &str| Failure::Garbled {
        detail: format!("{what} cannot be parsed"),
    };
    let (_, cert) = X509Certificate::from_der(cert_der).map_err(|_| garbled("the certificate"))?;
    let (_, ca) = X509Certificate::from_der(ca_der).map_err(|_| garbled("the CA certificate"))?;
    let other = || Failure::OtherCa {
        issuer: cert.issuer().to_string(),
    };
    if cert.issuer().as_raw() != ca.subject().as_raw() {
        return Err(other());
    }
    let ca_key = ed25519_key(ca.public_key().subject_public_key.data.as_ref()).ok_or_else(other)?;
    let signature =
        Signature::from_slice(cert.signature_value.data.as_ref()).map_err(|_| other())?;
    ca_key
        .verify_strict(cert.tbs_certificate.as_ref(), &signature)
        .map_err(|_| other())?;
    let key = ed25519_key(cert.public_key().subject_public_key.data.as_ref())
        .ok_or_else(|| garbled("the certificate's key"))?;
    let time = |t: x509_parser::time::ASN1Time| {
        DateTime::from_timestamp(t.timestamp(), 0).unwrap_or_default()
    };
    Ok(Leaf {
        serial: hex::encode(cert.raw_serial()),
        fingerprint: crate::certs::fingerprint(cert_der),
        key,
        not_before: time(cert.validity().not_before),
        not_after: time(cert.validity().not_after),
    })
}

fn ed25519_key(bytes: &[u8]) -> Option<VerifyingKey> {
    let raw: [u8; 32] = bytes.try_into().ok()?;
    VerifyingKey::from_bytes(&raw).ok()
}

fn record_signature(record: &Record, leaf: &Leaf) -> Result<(), Failure> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&record.signature)
        .map_err(|_| Failure::Tampered)?;
    let signature = Signature::from_slice(&bytes).map_err(|_| Failure::Tampered)?;
    if crate::certs::normalize_serial(&record.serial) != leaf.serial {
        return Err(Failure::Tampered);
    }
    // Format 2 signs the certificate's fingerprint, not the certificate.
    if let Some(fingerprint) = &record.certificate_sha256 {
        if *fingerprint != leaf.fingerprint {
            return Err(Failure::Tampered);
        }
    }
    leaf.key
        .verify_strict(&record.signed_bytes(), &signature)
        .map_err(|_| Failure::Tampered)
}

fn within_validity(leaf: &Leaf, signed_at: DateTime<Utc>) -> Result<(), Failure> {
    if signed_at < leaf.not_before || signed_at > leaf.not_after {
        return Err(Failure::Expired {
            not_before: leaf.not_before,
            not_after: leaf.not_after,
            signed_at,
        });
    }
    Ok(())
}

fn not_revoked(
    serial: &str,
    signed_at: DateTime<Utc>,
    revocations: &Revocations,
) -> Result<(), Failure> {
    match revocations.get(serial) {
        Some(revocation) => Err(Failure::Revoked {
            at: revocation.at,
            reason: revocation.reason.clone(),
            before_signing: revocation.at <= signed_at,
        }),
        None => Ok(()),
    }
}

fn same_content(record: &Record, inputs: &Inputs<'_>) -> Result<(), Failure> {
    let given = &inputs.document.target;
    let same_target = match (&record.target, given) {
        (super::Target::File { .. }, super::Target::File { .. }) => true,
        (
            super::Target::AppItem { app, id, .. },
            super::Target::AppItem {
                app: given_app,
                id: given_id,
                ..
            },
        ) => app == given_app && id == given_id,
        _ => false,
    };
    if !same_target {
        return Err(Failure::OtherDocument {
            signed: record.target.to_string(),
            given: given.to_string(),
        });
    }
    if record.digest.value != inputs.document.digest {
        return Err(Failure::ContentChanged {
            signed: record.digest.value.clone(),
            now: inputs.document.digest.clone(),
            since_version: inputs.changed_since,
        });
    }
    Ok(())
}

impl super::Ses {
    /// Every revocation in the store.
    pub async fn revocations(&self) -> crate::Result<Revocations> {
        let now = Utc::now();
        let mut revocations = Revocations::new();
        for cert in self.certs().list(None).await? {
            if let Some(at) = cert.revoked_at {
                let info = crate::certs::Info::of(&cert, now);
                revocations.insert(
                    cert.serial,
                    Revocation {
                        at: crate::store::datetime(at),
                        reason: info.revocation_reason.unwrap_or_default(),
                    },
                );
            }
        }
        Ok(revocations)
    }

    /// Verifies the signature file `signature` of `document` against the
    /// store's CA and revocations.
    pub async fn verify_document(
        &self,
        document: &Document,
        signature: &[u8],
        now: DateTime<Utc>,
    ) -> crate::Result<Report> {
        let ca = self.certs().ca(now).await?;
        let revocations = self.revocations().await?;
        let inputs = Inputs {
            ca_der: &ca.der,
            revocations: Some(&revocations),
            document,
            changed_since: None,
            now,
        };
        Ok(verify(signature, &inputs))
    }

    /// Verifies the signature file `signature` of the app item `app/id` as
    /// it is now, against the store's CA and revocations.
    pub async fn verify_app_item(
        &self,
        app: &str,
        id: &str,
        signature: &[u8],
        now: DateTime<Utc>,
    ) -> crate::Result<Report> {
        let (document, changed_since) = match parse(signature) {
            Ok(record) => self.item_as_signed(app, id, &record.target).await?,
            Err(_) => (Document::app_item(self.db(), app, id).await?, None),
        };
        let ca = self.certs().ca(now).await?;
        let revocations = self.revocations().await?;
        let inputs = Inputs {
            ca_der: &ca.der,
            revocations: Some(&revocations),
            document: &document,
            changed_since,
            now,
        };
        Ok(verify(signature, &inputs))
    }

    /// The item `app/id` now, digested as the signature `target` saw it
    /// (its version and fields), and the first version that changed a
    /// signed field since.
    pub async fn item_as_signed(
        &self,
        app: &str,
        id: &str,
        target: &super::Target,
    ) -> crate::Result<(Document, Option<i32>)> {
        let super::Target::AppItem {
            version, fields, ..
        } = target
        else {
            return Ok((Document::app_item(self.db(), app, id).await?, None));
        };
        let history = crate::apps::history(self.db(), app, id).await?;
        let latest = history.last().ok_or_else(|| crate::Error::UnknownItem {
            app: app.to_owned(),
            id: id.to_owned(),
        })?;
        let digest = crate::apps::digest(app, id, *version, &latest.fields, fields);
        let document = Document {
            target: super::Target::AppItem {
                app: app.to_owned(),
                id: id.to_owned(),
                version: latest.version,
                fields: fields.clone(),
            },
            digest,
        };
        Ok((
            document,
            crate::apps::changed_since(&history, *version, fields),
        ))
    }
}

/// The revocations a CRL lists, after checking that the CA signed it.
pub fn revocations_from_crl(crl: &[u8], ca_der: &[u8]) -> Result<Revocations, String> {
    use x509_parser::revocation_list::CertificateRevocationList;
    let der = if crl.starts_with(b"-----") {
        certificate_der(&String::from_utf8_lossy(crl)).map_err(|e| e.to_string())?
    } else {
        crl.to_vec()
    };
    let (_, list) =
        CertificateRevocationList::from_der(&der).map_err(|e| format!("not a CRL: {e}"))?;
    let (_, ca) = X509Certificate::from_der(ca_der).map_err(|e| format!("bad CA: {e}"))?;
    let key = ed25519_key(ca.public_key().subject_public_key.data.as_ref())
        .ok_or("the CA key is not Ed25519")?;
    let signature = Signature::from_slice(list.signature_value.data.as_ref())
        .map_err(|_| "the CRL signature is malformed")?;
    key.verify_strict(list.tbs_cert_list.as_ref(), &signature)
        .map_err(|_| "the CRL was not signed by this CA")?;
    let mut revocations = Revocations::new();
    for entry in list.iter_revoked_certificates() {
        let reason = entry
            .reason_code()
            .map_or_else(|| "unspecified".to_owned(), |(_, code)| code.to_string());
        revocations.insert(
            hex::encode(entry.raw_serial()),
            Revocation {
                at: DateTime::from_timestamp(entry.revocation_date.timestamp(), 0)
                    .unwrap_or_default(),
                reason,
            },
        );
    }
    Ok(revocations)
}
