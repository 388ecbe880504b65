//! The service's own certificate authority: an Ed25519 key and a
//! self-signed certificate, created on first use and kept in the store.

use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::pkcs8::EncodePrivateKey;
use ed25519_dalek::{SigningKey, VerifyingKey};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose,
    SerialNumber,
};
use sea_orm::{sea_query::OnConflict, ConnectionTrait, EntityTrait, Set};

use super::{keys::MasterKey, Error};
use crate::store::{self, entities::ca};

/// The common name of the CA.
pub const SUBJECT_CN: &str = "sesflow SES CA";
/// Years the CA certificate is valid.
pub const VALIDITY_YEARS: i64 = 10;

/// A loaded CA, ready to sign certificates and CRLs.
pub struct Authority {
    /// The CA certificate, DER.
    pub der: Vec<u8>,
    /// The CA's public key.
    pub verifying_key: VerifyingKey,
    pub(crate) issuer: rcgen::Certificate,
    pub(crate) key: KeyPair,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("verifying_key", &self.verifying_key)
            .finish()
    }
}

impl Authority {
    /// The CA of `service`, created when the store has none.
    pub async fn load_or_create<C: ConnectionTrait>(
        conn: &C,
        keys: &MasterKey,
        service: &str,
        now: DateTime<Utc>,
    ) -> Result<Self, Error> {
        if let Some(row) = ca::Entity::find_by_id(service).one(conn).await? {
            return Self::from_row(keys, &row);
        }
        let row = create(keys, service, now)?;
        // Two processes may create at once: the first row wins, both use it.
        ca::Entity::insert(row)
            .on_conflict(
                OnConflict::column(ca::Column::Service)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(conn)
            .await?;
        let row = ca::Entity::find_by_id(service)
            .one(conn)
            .await?
            .ok_or_else(|| Error::X509(format!("the CA of `{service}` vanished")))?;
        tracing::info!(service, "certificate authority created");
        Self::from_row(keys, &row)
    }

    /// The CA certificate in PEM.
    pub fn pem(&self) -> String {
        pem_of("CERTIFICATE", &self.der)
    }

    fn from_row(keys: &MasterKey, row: &ca::Model) -> Result<Self, Error> {
        let pkcs8 = keys.open(&context(&row.service), &row.key_id, &row.key)?;
        let key = KeyPair::try_from(pkcs8.as_slice())?;
        let params = CertificateParams::from_ca_cert_der(&row.certificate.clone().into())?;
        let issuer = params.self_signed(&key)?;
        let raw: [u8; 32] = key
            .public_key_raw()
            .try_into()
            .map_err(|_| Error::X509("the CA key is not an Ed25519 key".into()))?;
        let verifying_key =
            VerifyingKey::from_bytes(&raw).map_err(|e| Error::X509(e.to_string()))?;
        Ok(Self {
            der: row.certificate.clone(),
            verifying_key,
            issuer,
            key,
        })
    }
}

/// A new Ed25519 key, as rcgen's key pair and as sealed PKCS#8.
pub(crate) fn new_key(keys: &MasterKey, context: &str) -> Result<(KeyPair, Vec<u8>), Error> {
    let signing = SigningKey::generate(&mut rand::rngs::OsRng);
    let pkcs8 = signing
        .to_pkcs8_der()
        .map_err(|e| Error::X509(e.to_string()))?;
    let pair = KeyPair::try_from(pkcs8.as_bytes())?;
    Ok((pair, keys.seal(context, pkcs8.as_bytes())))
}

/// A random positive 16-byte serial number and its hex form.
pub(crate) fn new_serial() -> (SerialNumber, String) {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes[0] = (bytes[0] & 0x7f).max(1);
    (SerialNumber::from_slice(&bytes), hex::encode(bytes))
}

/// `at` as the `time` crate's date and time, whole seconds.
pub(crate) fn offset_time(at: DateTime<Utc>) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(at.timestamp())
        .expect("a chrono UTC time in whole seconds is within time's range")
}

/// `der` wrapped in PEM with `label`.
pub fn pem_of(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn context(service: &str) -> String {
    format!("ca:{service}")
}

fn create(keys: &MasterKey, service: &str, now: DateTime<Utc>) -> Result<ca::ActiveModel, Error> {
    let (key, sealed) = new_key(keys, &context(service))?;
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, SUBJECT_CN);
    name.push(DnType::OrganizationName, "sesflow");
    name.push(
        DnType::OrganizationalUnitName,
        format!("certificate service {service}"),
    );
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.serial_number = Some(new_serial().0);
    params.not_before = offset_time(now - Duration::minutes(5));
    params.not_after = offset_time(now + Duration::days(365 * VALIDITY_YEARS));
    let cert = params.self_signed(&key)?;
    Ok(ca::ActiveModel {
        service: Set(service.to_owned()),
        certificate: Set(cert.der().to_vec()),
        key: Set(sealed),
        key_id: Set(keys.id().to_owned()),
        crl_number: Set(0),
        created_at: Set(store::millis(now)),
    })
}
