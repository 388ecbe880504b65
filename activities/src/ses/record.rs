//! The signature record: what the store keeps and the detached signature
//! file holds. It carries the signer's certificate, so that it verifies
//! offline with the CA certificate alone.
//!
//! The signature covers the canonical JSON (RFC 8785) of the record's
//! fields but `signature` and `certificate`: the certificate is bound by
//! its serial and its SHA-256 (`certificate_sha256`), which verification
//! compares with the certificate the record carries. Records of format 1,
//! made before, have no `certificate_sha256` and their signature covers
//! the certificate itself; they verify as they did.

use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use ed25519_dalek::{Signer as _, SigningKey};
use serde::{Deserialize, Serialize};

use super::{Target, NOTICE};
use crate::canonical;

/// The format name and version of the records made now.
pub const FORMAT: &str = "sesflow-ses-signature/2";
/// The format of records whose signature covers the whole certificate.
pub const FORMAT_1: &str = "sesflow-ses-signature/1";

/// Bytes of the signed form beyond a format 1 certificate, enough for a
/// usual record to be written without growing its buffer.
const SIGNED_OVERHEAD: usize = 768;

/// Who signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signer {
    /// The login.
    pub login: String,
    /// The full name.
    pub full_name: String,
}

/// A digest and its algorithm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Digest {
    /// Always `sha-256`.
    pub algorithm: String,
    /// The digest, lower-case hex.
    pub value: String,
}

/// A signature record. A member the format does not define makes the file
/// garbled: nothing unsigned rides along with a valid signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// SHA-256 of the certificate's DER, lower-case hex: what the signature
    /// covers of the certificate. Absent from format 1 records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_sha256: Option<String>,
    /// What was signed.
    pub target: Target,
    /// The digest signed.
    pub digest: Digest,
    /// When, RFC 3339 in UTC.
    pub signed_at: String,
    /// How the signer confirmed: `password` or `password+code:email,sms`.
    pub method: String,
    /// Ed25519 signature, base64, over the RFC 8785 canonical JSON of every
    /// other field but `certificate` (format 1: every other field).
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
    /// SHA-256 of the certificate's DER, lower-case hex.
    pub certificate_sha256: String,
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
            certificate_sha256: Some(unsigned.certificate_sha256),
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
    /// without its `signature` and, when it has a `certificate_sha256`,
    /// without its `certificate`.
    ///
    /// Written member by member in canonical key order, the same bytes as
    /// canonicalizing the record's JSON (the tests hold the two together).
    pub fn signed_bytes(&self) -> Vec<u8> {
        let certificate = match self.certificate_sha256 {
            Some(_) => 0,
            None => self.certificate.len(),
        };
        let mut out = Vec::with_capacity(SIGNED_OVERHEAD + certificate);
        let mut record = canonical::Object::new(&mut out);
        match &self.certificate_sha256 {
            Some(fingerprint) => record.string("certificate_sha256", fingerprint),
            None => record.string("certificate", &self.certificate),
        }
        let mut digest = canonical::Object::new(record.key("digest"));
        digest.string("algorithm", &self.digest.algorithm);
        digest.string("value", &self.digest.value);
        digest.end();
        record.string("format", &self.format);
        record.string("id", &self.id);
        record.string("method", &self.method);
        record.string("notice", &self.notice);
        record.string("serial", &self.serial);
        record.string("signed_at", &self.signed_at);
        let mut signer = canonical::Object::new(record.key("signer"));
        signer.string("full_name", &self.signer.full_name);
        signer.string("login", &self.signer.login);
        signer.end();
        self.target.write_canonical(record.key("target"));
        record.end();
        out
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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use ed25519_dalek::Verifier;
    use proptest::prelude::*;

    use super::*;

    /// The signed bytes as the record's JSON, canonicalized, says they are.
    fn through_json(record: &Record) -> Vec<u8> {
        let mut value = serde_json::to_value(record).expect("a record serializes to JSON");
        if let Some(map) = value.as_object_mut() {
            map.remove("signature");
            if map.contains_key("certificate_sha256") {
                map.remove("certificate");
            }
        }
        canonical::to_vec(&value).expect("a JSON value serializes canonically")
    }

    /// `record` as format 1 made it: no fingerprint, signed with `key`.
    fn as_format_1(mut record: Record, key: &SigningKey) -> Record {
        record.format = FORMAT_1.to_owned();
        record.certificate_sha256 = None;
        let signature = key.sign(&record.signed_bytes());
        record.signature = base64::engine::general_purpose::STANDARD.encode(signature.to_bytes());
        record
    }

    fn unsigned(target: Target, full_name: &str) -> Unsigned {
        Unsigned {
            id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into(),
            signer: Signer {
                login: "ann".into(),
                full_name: full_name.into(),
            },
            serial: "4f1c2a".into(),
            certificate: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".into(),
            certificate_sha256: "5f3c0a9b1e7d2c4a6b8e0f1d3c5a7b9e1f3d5c7a9b0e2d4c6a8b0f1e3d5c7a9b"
                .into(),
            target,
            digest: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
            signed_at: Utc
                .with_ymd_and_hms(2024, 5, 17, 9, 30, 0)
                .single()
                .expect("a valid time"),
            method: "password+code:email".into(),
        }
    }

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    #[test]
    fn signed_bytes_of_a_file_record_are_its_canonical_json() {
        let target = Target::File {
            name: "offer.pdf".into(),
        };
        let record = Record::sign(unsigned(target, "Ann Lee"), &key());
        let text = String::from_utf8(record.signed_bytes()).expect("UTF-8");
        assert!(text.starts_with(
            "{\"certificate_sha256\":\"5f3c0a9b1e7d2c4a6b8e0f1d3c5a7b9e1f3d5c7a9b0e2d4c6a8b0f1e3d5c7a9b\",\
             \"digest\":{\"algorithm\":\"sha-256\",\"value\":\"9f86d081"
        ));
        assert!(!text.contains("BEGIN CERTIFICATE"));
        assert!(text.contains("\"format\":\"sesflow-ses-signature/2\""));
        assert!(text.ends_with(
            "\"signed_at\":\"2024-05-17T09:30:00.000Z\",\
             \"signer\":{\"full_name\":\"Ann Lee\",\"login\":\"ann\"},\
             \"target\":{\"kind\":\"file\",\"name\":\"offer.pdf\"}}"
        ));
        assert!(!text.contains("signature\""));
        assert_eq!(record.signed_bytes(), through_json(&record));
    }

    #[test]
    fn signed_bytes_of_an_app_item_record_are_its_canonical_json() {
        let target = Target::AppItem {
            app: "invoices".into(),
            id: "2024-17".into(),
            version: -3,
            fields: vec!["amount".into(), "payee".into()],
        };
        let record = Record::sign(unsigned(target, "Zoë \"Z\" O'Neil\t"), &key());
        let text = String::from_utf8(record.signed_bytes()).expect("UTF-8");
        assert!(text.contains(
            "\"target\":{\"app\":\"invoices\",\"fields\":[\"amount\",\"payee\"],\
             \"id\":\"2024-17\",\"kind\":\"app_item\",\"version\":-3}"
        ));
        assert!(text.contains("\"full_name\":\"Zoë \\\"Z\\\" O'Neil\\t\""));
        assert_eq!(record.signed_bytes(), through_json(&record));
    }

    #[test]
    fn signed_bytes_of_a_format_1_record_cover_the_certificate() {
        let target = Target::File {
            name: "offer.pdf".into(),
        };
        let key = key();
        let record = as_format_1(Record::sign(unsigned(target, "Ann Lee"), &key), &key);
        let text = String::from_utf8(record.signed_bytes()).expect("UTF-8");
        assert!(text.starts_with(
            "{\"certificate\":\"-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n\",\
             \"digest\":{"
        ));
        assert!(!text.contains("certificate_sha256"));
        assert_eq!(record.signed_bytes(), through_json(&record));
        let file = record.to_file();
        assert!(!file.contains("certificate_sha256"));
        let back: Record = serde_json::from_str(&file).expect("a record");
        assert_eq!(back, record);
    }

    #[test]
    fn the_signature_covers_the_signed_bytes() {
        let target = Target::File {
            name: "offer.pdf".into(),
        };
        let key = key();
        let record = Record::sign(unsigned(target, "Ann Lee"), &key);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&record.signature)
            .expect("base64");
        let signature = ed25519_dalek::Signature::from_slice(&bytes).expect("64 bytes");
        let public = key.verifying_key();
        assert!(public.verify(&record.signed_bytes(), &signature).is_ok());
        let mut altered = record.clone();
        altered.method = "password".into();
        assert!(public.verify(&altered.signed_bytes(), &signature).is_err());
        let mut altered = record.clone();
        altered.certificate_sha256 = Some("00".repeat(32));
        assert!(public.verify(&altered.signed_bytes(), &signature).is_err());
    }

    proptest! {
        #[test]
        fn signed_bytes_match_canonical_json_for_any_text(
            login in any::<String>(),
            full_name in any::<String>(),
            name in any::<String>(),
            certificate in any::<String>(),
            app in "\\PC*",
            fields in proptest::collection::vec(any::<String>(), 0..4),
            version in any::<i32>(),
            file in any::<bool>(),
            format_1 in any::<bool>(),
        ) {
            let target = if file {
                Target::File { name }
            } else {
                Target::AppItem { app, id: name, version, fields }
            };
            let mut unsigned = unsigned(target, &full_name);
            unsigned.signer.login = login;
            unsigned.certificate = certificate;
            let mut record = Record::sign(unsigned, &key());
            if format_1 {
                record = as_format_1(record, &key());
            }
            prop_assert_eq!(record.signed_bytes(), through_json(&record));
        }
    }
}
