//! The SES module: settings, signing with a password and a one-time code,
//! detached signature records, and their verification.
//!
//! An SES (simple electronic signature) shows who signed what and when; it
//! is not fit for legally significant documents, and every answer about one
//! says so ([`NOTICE`]).

pub mod document;
pub mod otp;
pub mod record;
pub mod settings;
pub mod sign;
pub mod verify;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use crate::certs::{self, keys::MasterKey, Decision};
use crate::error::Result;
use crate::users::{self, NewUser, User};

pub use document::{Document, Target};
pub use record::Record;
pub use sign::{CodeSent, Step};
pub use verify::{Check, Failure, Report};

/// The note every answer about an SES signature carries.
pub const NOTICE: &str =
    "An SES (simple electronic signature) is not fit for legally significant documents.";

/// The SES module over one database: users, certificates and signing.
#[derive(Clone, Debug)]
pub struct Ses {
    certs: certs::Service,
}

impl Ses {
    /// The module over `db` (migrated by [`crate::store::migrate`]) with the
    /// master key `keys`.
    pub fn new(db: DatabaseConnection, keys: MasterKey) -> Self {
        Self {
            certs: certs::Service::new(db, keys),
        }
    }

    /// The database.
    pub fn db(&self) -> &DatabaseConnection {
        self.certs.db()
    }

    /// The certificate service.
    pub fn certs(&self) -> &certs::Service {
        &self.certs
    }

    /// Adds a user and, when automatic certificates are on, issues them one.
    pub async fn add_user(
        &self,
        new: NewUser,
        now: DateTime<Utc>,
    ) -> Result<(User, Option<Decision>)> {
        let user = users::add(self.db(), new, now).await?;
        let settings = settings::load(self.db()).await?;
        if !(settings.enabled && settings.auto_certificates) {
            return Ok((user, None));
        }
        let decision = self.certs.issue_automatic(&user.login, now).await?;
        Ok((user, Some(decision)))
    }

    /// Turns the module on; with automatic certificates, issues one to every
    /// user who has none, calling `progress(done, total)` after each.
    pub async fn enable(
        &self,
        two_factor: bool,
        auto_certificates: bool,
        now: DateTime<Utc>,
        progress: &(dyn Fn(u64, u64) + Send + Sync),
    ) -> Result<(settings::Settings, Vec<Decision>)> {
        let settings = settings::enable(self.db(), two_factor, auto_certificates, now).await?;
        let decisions = if auto_certificates {
            self.certs.issue_missing(now, progress).await?
        } else {
            Vec::new()
        };
        Ok((settings, decisions))
    }
}
