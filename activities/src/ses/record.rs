//! The signature record: what the store keeps and the detached signature
//! file holds. It carries the signer's certificate, so that it verifies
//! offline with the CA certificate alone.

use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use ed25519_dalek::{Signer as _, SigningKey};
use serde::{Deserialize, Serialize};

use super::{Target, NOTICE};
use crate::canonical;

/// The format name and version of records.
pub const FORMAT: &str = "sesflow-ses-signature/1";

/// Who signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signer {
    /// The login.
    pub login: String,
    /// The full name.
    pub full_name: String,
}

/// A digest and its algorithm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    /// Always `sha-256`.
    pub algorithm: String,
    /// The digest, lower-case hex.
    pub value: String,
}

/// A signature record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// [`FORMAT`].
    pub format: String,
    /// [`NOTICE`].
    pub notice: String,
    /// The signature's id.
    pub id: String,
    /// Who signed.
    pub signer: Signer,
    /// The serial of the signer's certificate.
    pub serial: String,
    /// The signer's certificate, PEM.
    pub certificate: String,
    /// What was signed.
    pub target: Target,
    /// The digest signed.
    pub digest: Digest,
    /// When, RFC 3339 in UTC.
    pub signed_at: String,
    /// How the signer confirmed: `password` or `password+code:email,sms`.
    pub method: String,
    /// Ed25519 signature, base64, over the RFC 8785 canonical JSON of every
    /// other field.
    #[serde(default)]
    pub signature: String,
}

/// The fields of a record before it is signed.
#[derive(Clone, Debug)]
pub struct Unsigned {
    /// The signature's id.
    pub id: String,
    /// Who signs.
    pub signer: Signer,
    /// The certificate's serial.
    pub serial: String,
    /// The certificate, PEM.
    pub certificate: String,
    /// What is signed.
    pub target: Target,
    /// Its digest, hex.
    pub digest: String,
    /// When.
    pub signed_at: DateTime<Utc>,
    /// How the signer confirmed.
    pub method: String,
}

impl Record {
    /// Signs `unsigned` with `key`.
    pub fn sign(unsigned: Unsigned, key: &SigningKey) -> Self {
        let mut record = Record {
            format: FORMAT.to_owned(),
            notice: NOTICE.to_owned(),
            id: unsigned.id,
            signer: unsigned.signer,
            serial: unsigned.serial,
            certificate: unsigned.certificate,
            target: unsigned.target,
            digest: Digest {
                algorithm: "sha-256".to_owned(),
                value: unsigned.digest,
            },
            signed_at: unsigned
                .signed_at
                .to_rfc3339_opts(SecondsFormat::Millis, true),
            method: unsigned.method,
            signature: String::new(),
        };
        let signature = key.sign(&record.signed_bytes());
        record.signature = base64::engine::general_purpose::STANDARD.encode(signature.to_bytes());
        record
    }

    /// The bytes the signature covers: the canonical JSON of the record
    /// without its `signature`.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut value = serde_json::to_value(self).expect("a record serializes to JSON");
        if let Some(map) = value.as_object_mut() {
            map.remove("signature");
        }
        canonical::to_vec(&value).expect("a JSON value serializes canonically")
    }

    /// When it was signed.
    pub fn signed_at(&self) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(&self.signed_at)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The record as the pretty JSON of a signature file.
    pub fn to_file(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a record serializes to JSON");
        text.push('\n');
        text
    }
}
