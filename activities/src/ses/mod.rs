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

/// A signature of an app item and whether it still holds.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ItemSignature {
    /// The signature's id.
    pub id: String,
    /// The signer.
    pub login: String,
    /// The certificate's serial.
    pub serial: String,
    /// When it was made.
    pub signed_at: DateTime<Utc>,
    /// The version signed.
    pub version: i32,
    /// The first later version that changed a signed field, if any.
    pub invalid_since: Option<i32>,
}

impl Ses {
    /// Signatures, newest last, by `login` and of `target` (a
    /// [`Target::key`]) when given.
    pub async fn signatures(
        &self,
        login: Option<&str>,
        target: Option<&str>,
    ) -> Result<Vec<crate::store::entities::signature::Model>> {
        use crate::store::entities::signature;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
        let mut query = signature::Entity::find()
            .order_by_asc(signature::Column::SignedAt)
            .order_by_asc(signature::Column::Id);
        if let Some(login) = login {
            query = query.filter(signature::Column::Login.eq(login));
        }
        if let Some(target) = target {
            query = query.filter(signature::Column::Target.eq(target));
        }
        Ok(query.all(self.db()).await?)
    }

    /// Each signature of the app item `app/id`, with the version since
    /// which it no longer holds.
    pub async fn item_signatures(&self, app: &str, id: &str) -> Result<Vec<ItemSignature>> {
        let history = crate::apps::history(self.db(), app, id).await?;
        let key = format!("app:{app}/{id}");
        let mut out = Vec::new();
        for row in self.signatures(None, Some(&key)).await? {
            let Ok(record) = serde_json::from_value::<Record>(row.record) else {
                continue;
            };
            let Target::AppItem {
                version, fields, ..
            } = &record.target
            else {
                continue;
            };
            out.push(ItemSignature {
                id: row.id,
                login: row.login,
                serial: row.serial,
                signed_at: crate::store::datetime(row.signed_at),
                version: *version,
                invalid_since: crate::apps::changed_since(&history, *version, fields),
            });
        }
        Ok(out)
    }
}
