//! The node kinds that reach the SES module, one file per kind, and the
//! [`register`] function that plugs them into an engine's registry.
//!
//! - [`signature_issuing_request`]: an activity that submits a certificate
//!   request to the certificate service, once per idempotency key;
//! - [`expect_signature_issuing`]: the engine waits for the
//!   `signature.issuance` event; the certificate service's processing, run
//!   by the worker as a chore, publishes it;
//! - [`sign`]: a task completed only by a signature the SES module made,
//!   confirmed by an activity, and the functions that sign or refuse one.
//!
//! The engine knows none of this: it calls activities by node kind and
//! runs chores, and the certificate service answers through the inbox.

pub mod expect_signature_issuing;
pub mod sign;
pub mod signature_issuing_request;

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbErr};
use sesflow_engine::activity::{self, Registry};

use crate::certs::keys::{self, MasterKey};
use crate::ses::Ses;

/// Where the master key comes from.
#[derive(Clone, Debug)]
pub enum Keys {
    /// This key.
    Given(MasterKey),
    /// `SESFLOW_MASTER_KEY` or the key file, read when first needed (see
    /// [`crate::certs::keys`]).
    Load,
}

/// The SES module as the node kinds reach it: its database at once, its
/// master key when first needed, so that a program that never issues or
/// signs never touches the key.
#[derive(Clone, Debug)]
pub struct Module {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: DatabaseConnection,
    keys: Keys,
    loaded: OnceLock<MasterKey>,
}

impl Module {
    /// The module over `db` with master key from `keys`.
    pub fn new(db: DatabaseConnection, keys: Keys) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                keys,
                loaded: OnceLock::new(),
            }),
        }
    }

    /// The database.
    pub fn db(&self) -> &DatabaseConnection {
        &self.inner.db
    }

    /// The SES module, loading the master key on first use.
    pub fn ses(&self) -> Result<Ses, keys::Error> {
        let key = match (self.inner.loaded.get(), &self.inner.keys) {
            (Some(key), _) => key.clone(),
            (None, Keys::Given(key)) => key.clone(),
            (None, Keys::Load) => {
                let key = MasterKey::load()?;
                self.inner.loaded.get_or_init(|| key).clone()
            }
        };
        Ok(Ses::new(self.inner.db.clone(), key))
    }

    /// [`Module::ses`] for an activity: a key that cannot be read fails
    /// the node.
    fn activity_ses(&self) -> Result<Ses, activity::Error> {
        self.ses()
            .map_err(|error| failed("SES_MASTER_KEY", error.to_string()))
    }
}

/// Brings the module's tables up to date and registers its node kinds
/// (`signature_issuing_request`, `sign`) and the certificate service's
/// processing as a chore, so that a worker issues certificates.
pub async fn register(registry: &mut Registry, module: &Module) -> Result<(), DbErr> {
    register_kinds(registry, module).await?;
    registry.add_chore(Arc::new(expect_signature_issuing::Service::new(
        module.clone(),
    )));
    Ok(())
}

/// Like [`register`] without the certificate service, for workers of a
/// deployment that runs the service apart (`sesflow certs process`).
pub async fn register_kinds(registry: &mut Registry, module: &Module) -> Result<(), DbErr> {
    crate::store::migrate(module.db()).await?;
    registry.register(
        signature_issuing_request::KIND,
        Arc::new(signature_issuing_request::Request::new(module.clone())),
    );
    registry.register(sign::KIND, Arc::new(sign::Confirm::new(module.clone())));
    Ok(())
}

/// The engine's clock reading `now_ms` as a UTC time.
fn at(now_ms: i64) -> DateTime<Utc> {
    crate::store::datetime(now_ms)
}

/// A failure for good: the node takes `on_error` or stops on an incident.
fn failed(code: &str, message: impl Into<String>) -> activity::Error {
    activity::Error::Failed {
        code: code.to_owned(),
        message: message.into(),
    }
}

/// An error of the module as the engine sees it: passing faults of the
/// database are retried, everything else fails the node with its code.
fn of_module(error: crate::Error) -> activity::Error {
    match error {
        crate::Error::Db(error) | crate::Error::Certs(crate::certs::Error::Db(error)) => {
            activity::Error::Unavailable(format!("database: {error}"))
        }
        other => failed(other.code(), other.to_string()),
    }
}
