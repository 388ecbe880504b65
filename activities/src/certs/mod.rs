//! The certificate service: its own Ed25519 CA, requests carrying a user's
//! data, checks, issuance of X.509 v3 certificates, revocation and CRLs.
//!
//! The service talks to processes only through the engine's inbox: each
//! request ends with a `signature.issuance` event, correlated by the
//! request id and published in the same transaction as the decision.
//! Private keys are held by the service (cloud certificates) and sealed at
//! rest under the master key ([`keys`]).

pub mod ca;
pub mod crl;
pub mod issue;
pub mod keys;
pub mod revoke;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::SigningKey;
use sea_orm::{
    sea_query::OnConflict, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, Set,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::{self, entities::ca as ca_row, entities::cert_request, entities::certificate};
use keys::MasterKey;

pub use issue::Decision;
pub use revoke::Reason;

/// The name of the built-in certificate service.
pub const SERVICE: &str = "ses";
/// The kind of the events the service publishes.
pub const EVENT_KIND: &str = "signature.issuance";

/// A request as stored.
pub type RequestRow = cert_request::Model;
/// A certificate as stored (its key sealed).
pub type Certificate = certificate::Model;

/// Errors of the certificate service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request field is missing or malformed.
    #[error("{field} `{value}` is not valid: {remedy}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// The value given.
        value: String,
        /// What would be accepted.
        remedy: String,
    },
    /// No request has this id.
    #[error("no certificate request `{id}`; list them with `sesflow certs requests`")]
    UnknownRequest {
        /// The id given.
        id: String,
    },
    /// The request was decided already.
    #[error("certificate request `{id}` is {status} already")]
    Decided {
        /// The request.
        id: String,
        /// Its status.
        status: String,
    },
    /// No certificate has this serial.
    #[error("no certificate with serial `{serial}`; list them with `sesflow certs list`")]
    UnknownCertificate {
        /// The serial given.
        serial: String,
    },
    /// The certificate was revoked already.
    #[error("certificate `{serial}` was revoked already at {at}")]
    AlreadyRevoked {
        /// The serial.
        serial: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Building or parsing a certificate failed.
    #[error("certificate: {0}")]
    X509(String),
    /// The master key is missing or wrong.
    #[error(transparent)]
    Keys(#[from] keys::Error),
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

impl Error {
    /// A stable code naming the kind of error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Invalid { .. } => "CERT_INVALID",
            Error::UnknownRequest { .. } => "CERT_UNKNOWN_REQUEST",
            Error::Decided { .. } => "CERT_DECIDED",
            Error::UnknownCertificate { .. } => "CERT_UNKNOWN",
            Error::AlreadyRevoked { .. } => "CERT_REVOKED",
            Error::X509(_) => "CERT_X509",
            Error::Keys(_) => "CERT_MASTER_KEY",
            Error::Db(_) => "CERT_DB",
        }
    }

    /// Whether the caller's input caused the error.
    pub fn is_input(&self) -> bool {
        !matches!(self, Error::X509(_) | Error::Keys(_) | Error::Db(_))
    }
}

impl From<rcgen::Error> for Error {
    fn from(e: rcgen::Error) -> Self {
        Error::X509(e.to_string())
    }
}

/// Where a request comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// A process (the `signature_issuing_request` node).
    Process,
    /// An operator at the command line.
    Operator,
    /// Automatic certificate generation.
    Automatic,
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Origin::Process => "process",
            Origin::Operator => "operator",
            Origin::Automatic => "automatic",
        }
    }
}

/// A request for a certificate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// The caller's key: a second submission with the same key returns the
    /// same request id (the engine passes `instance/node/token`).
    pub key: String,
    /// The user's login.
    pub login: String,
    /// The full name for the certificate.
    pub full_name: Option<String>,
    /// The e-mail address.
    pub email: Option<String>,
    /// The phone number.
    pub phone: Option<String>,
    /// Whether a valid certificate of the user may be replaced.
    pub replace: bool,
    /// Who asks.
    pub origin: Origin,
}

/// What an issued certificate says, as the event and the CLI show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Info {
    /// Serial number, lower-case hex.
    pub serial: String,
    /// The holder.
    pub login: String,
    /// The subject.
    pub subject: String,
    /// The e-mail address in the certificate.
    pub email: Option<String>,
    /// Start of validity.
    pub not_before: DateTime<Utc>,
    /// End of validity.
    pub not_after: DateTime<Utc>,
    /// The issuing CA's subject.
    pub issuer: String,
    /// SHA-256 of the DER certificate, hex.
    pub fingerprint_sha256: String,
    /// `valid`, `revoked` or `expired` at the time asked.
    pub status: String,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Why it was revoked.
    pub revocation_reason: Option<String>,
}

impl Info {
    /// The view of `cert` at `now`.
    pub fn of(cert: &Certificate, now: DateTime<Utc>) -> Self {
        let status = if cert.revoked_at.is_some() {
            "revoked"
        } else if store::millis(now) > cert.not_after {
            "expired"
        } else {
            "valid"
        };
        Self {
            serial: cert.serial.clone(),
            login: cert.login.clone(),
            subject: cert.subject.clone(),
            email: cert.email.clone(),
            not_before: store::datetime(cert.not_before),
            not_after: store::datetime(cert.not_after),
            issuer: ca::SUBJECT_CN.to_owned(),
            fingerprint_sha256: fingerprint(&cert.certificate),
            status: status.to_owned(),
            revoked_at: cert.revoked_at.map(store::datetime),
            revocation_reason: cert.revocation_reason.clone(),
        }
    }
}

/// The certificate service over one database.
#[derive(Clone, Debug)]
pub struct Service {
    db: DatabaseConnection,
    keys: MasterKey,
    opened: KeyCache,
}

/// A certificate's private key, opened, with the certificate in PEM and its
/// fingerprint: what a signing needs of it. The key is wiped from memory
/// when the last holder drops it.
pub struct Opened {
    key: SigningKey,
    pem: String,
    fingerprint: String,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("verifying_key", &self.key.verifying_key())
            .finish_non_exhaustive()
    }
}

impl Opened {
    /// The private key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// The certificate, PEM.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// SHA-256 of the certificate's DER, lower-case hex ([`fingerprint`]).
    pub fn fingerprint_sha256(&self) -> &str {
        &self.fingerprint
    }
}

/// Keys opened once, by certificate serial. An entry is used only while the
/// certificate's sealed key and its DER are byte for byte the ones it was
/// made from; keys stay sealed at rest and are wiped from memory when
/// dropped.
#[derive(Clone, Default)]
struct KeyCache(Arc<Mutex<HashMap<String, Entry>>>);

/// An opened key with the sealed key and certificate it was made from.
struct Entry {
    sealed: Vec<u8>,
    der: Vec<u8>,
    opened: Arc<Opened>,
}

/// How many opened keys the cache holds before it starts over.
const KEY_CACHE_SIZE: usize = 1024;

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyCache")
    }
}

impl KeyCache {
    fn get(&self, cert: &Certificate) -> Option<Arc<Opened>> {
        let cache = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = cache.get(&cert.serial)?;
        (entry.sealed == cert.key && entry.der == cert.certificate)
            .then(|| Arc::clone(&entry.opened))
    }

    fn put(&self, cert: &Certificate, opened: &Arc<Opened>) {
        let mut cache = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if cache.len() >= KEY_CACHE_SIZE {
            cache.clear();
        }
        let entry = Entry {
            sealed: cert.key.clone(),
            der: cert.certificate.clone(),
            opened: Arc::clone(opened),
        };
        cache.insert(cert.serial.clone(), entry);
    }
}

impl Service {
    /// The service over `db` (migrated by [`crate::store::migrate`]) with
    /// the master key `keys`.
    pub fn new(db: DatabaseConnection, keys: MasterKey) -> Self {
        Self {
            db,
            keys,
            opened: KeyCache::default(),
        }
    }

    /// The database.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The master key.
    pub fn keys(&self) -> &MasterKey {
        &self.keys
    }

    /// Refuses the master key unless the store's sealed keys were sealed
    /// under it (a store without sealed keys takes any key).
    pub async fn check_key(&self) -> Result<(), Error> {
        match store_key_id(&self.db).await? {
            Some(expected) => Ok(self.keys.check(&expected)?),
            None => Ok(()),
        }
    }

    /// The CA, created on first use.
    pub async fn ca(&self, now: DateTime<Utc>) -> Result<ca::Authority, Error> {
        ca::Authority::load_or_create(&self.db, &self.keys, SERVICE, now).await
    }

    /// Records `request` and returns its id; a request with a key seen
    /// before returns the id given then. Fields are checked when the
    /// request is processed, except that a login is required.
    pub async fn submit(&self, request: &Request, now: DateTime<Utc>) -> Result<String, Error> {
        if request.login.trim().is_empty() || request.key.trim().is_empty() {
            return Err(Error::Invalid {
                field: if request.key.trim().is_empty() {
                    "request key"
                } else {
                    "user"
                },
                value: String::new(),
                remedy: "give a non-empty value".into(),
            });
        }
        let row = cert_request::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            request_key: Set(request.key.clone()),
            login: Set(request.login.trim().to_owned()),
            full_name: Set(request.full_name.clone()),
            email: Set(request.email.clone()),
            phone: Set(request.phone.clone()),
            replace: Set(request.replace),
            origin: Set(request.origin.as_str().to_owned()),
            status: Set(issue::PENDING.to_owned()),
            reason: Set(None),
            serial: Set(None),
            created_at: Set(store::millis(now)),
            decided_at: Set(None),
        };
        cert_request::Entity::insert(row)
            .on_conflict(
                OnConflict::column(cert_request::Column::RequestKey)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        let stored = cert_request::Entity::find()
            .filter(cert_request::Column::RequestKey.eq(&request.key))
            .one(&self.db)
            .await?
            .ok_or_else(|| DbErr::RecordNotFound(format!("request key {}", request.key)))?;
        tracing::info!(request_id = %stored.id, login = %stored.login, "certificate requested");
        Ok(stored.id)
    }

    /// The request `id`.
    pub async fn request(&self, id: &str) -> Result<RequestRow, Error> {
        cert_request::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::UnknownRequest { id: id.to_owned() })
    }

    /// Requests waiting for a decision, oldest first.
    pub async fn pending(&self) -> Result<Vec<RequestRow>, Error> {
        Ok(cert_request::Entity::find()
            .filter(cert_request::Column::Status.eq(issue::PENDING))
            .order_by_asc(cert_request::Column::CreatedAt)
            .order_by_asc(cert_request::Column::Id)
            .all(&self.db)
            .await?)
    }

    /// Every certificate, of `login` when given, oldest first.
    pub async fn list(&self, login: Option<&str>) -> Result<Vec<Certificate>, Error> {
        let mut query = certificate::Entity::find()
            .order_by_asc(certificate::Column::NotBefore)
            .order_by_asc(certificate::Column::Serial);
        if let Some(login) = login {
            query = query.filter(certificate::Column::Login.eq(login));
        }
        Ok(query.all(&self.db).await?)
    }

    /// The certificate with `serial` (hex, any case, colons allowed).
    pub async fn get(&self, serial: &str) -> Result<Certificate, Error> {
        let normal = normalize_serial(serial);
        certificate::Entity::find_by_id(normal)
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::UnknownCertificate {
                serial: serial.to_owned(),
            })
    }

    /// The certificate of `login` valid at `now`, the newest if several.
    pub async fn valid_for(
        &self,
        login: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Certificate>, Error> {
        Ok(issue::valid_certificate(&self.db, login, now).await?)
    }

    /// The private key of `cert`, opened with the master key on first use
    /// and kept in memory (never stored unsealed) for the next signings,
    /// with the certificate's PEM and fingerprint.
    pub fn open(&self, cert: &Certificate) -> Result<Arc<Opened>, Error> {
        if let Some(opened) = self.opened.get(cert) {
            return Ok(opened);
        }
        let der = self
            .keys
            .open(&key_context(&cert.serial), &cert.key_id, &cert.key)?;
        let key = SigningKey::from_pkcs8_der(&der).map_err(|e| Error::X509(e.to_string()))?;
        let opened = Arc::new(Opened {
            key,
            pem: ca::pem_of("CERTIFICATE", &cert.certificate),
            fingerprint: fingerprint(&cert.certificate),
        });
        self.opened.put(cert, &opened);
        Ok(opened)
    }

    /// The private key of `cert` ([`Service::open`]).
    pub fn signing_key(&self, cert: &Certificate) -> Result<SigningKey, Error> {
        Ok(self.open(cert)?.key().clone())
    }
}

/// The id of the master key the store's sealed keys are under: the CA's,
/// else the newest certificate's; `None` for a store without sealed keys.
pub async fn store_key_id<C: ConnectionTrait>(conn: &C) -> Result<Option<String>, DbErr> {
    if let Some(row) = ca_row::Entity::find_by_id(SERVICE).one(conn).await? {
        return Ok(Some(row.key_id));
    }
    let newest = certificate::Entity::find()
        .order_by_desc(certificate::Column::NotBefore)
        .one(conn)
        .await?;
    Ok(newest.map(|cert| cert.key_id))
}

/// The master key for the store `conn` ([`MasterKey::load_for`] with the
/// store's key id): refused when it is not the key the store expects.
pub async fn load_key<C: ConnectionTrait>(conn: &C) -> Result<MasterKey, Error> {
    let expected = store_key_id(conn).await?;
    Ok(MasterKey::load_for(expected.as_deref())?)
}

/// The associated data that binds a certificate's sealed key to its row.
pub(crate) fn key_context(serial: &str) -> String {
    format!("cert:{serial}")
}

/// The SHA-256 fingerprint of the DER certificate `der`, lower-case hex.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// `serial` as stored: lower-case hex without separators.
pub fn normalize_serial(serial: &str) -> String {
    serial
        .chars()
        .filter(|c| c.is_ascii_hexdigit())
        .collect::<String>()
        .to_ascii_lowercase()
}
