//! The SES module's settings: on or off, two-factor, automatic
//! certificates, certificate validity, approval of requests and delivery of
//! codes.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::{notify, security, store};

const NAME: &str = "module";

/// Days a certificate is valid when the settings do not say.
pub const DEFAULT_VALIDITY_DAYS: u32 = 365;

/// Who decides certificate requests that pass the checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Approval {
    /// The service issues as soon as the checks pass.
    #[default]
    Auto,
    /// An operator approves or rejects each request.
    Manual,
}

impl fmt::Display for Approval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Approval::Auto => "auto",
            Approval::Manual => "manual",
        })
    }
}

impl FromStr for Approval {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(Approval::Auto),
            "manual" => Ok(Approval::Manual),
            _ => Err(Error::Invalid {
                field: "approval",
                value: s.to_owned(),
                remedy: "use auto or manual".into(),
            }),
        }
    }
}

/// The module's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Format version of the stored settings.
    pub version: u32,
    /// Whether the module is on.
    pub enabled: bool,
    /// Whether signing needs a one-time code.
    pub two_factor: bool,
    /// Whether every user gets a certificate without asking.
    pub auto_certificates: bool,
    /// Days a new certificate is valid.
    pub validity_days: u32,
    /// Who decides certificate requests.
    pub approval: Approval,
    /// Where codes go.
    pub delivery: notify::Config,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            version: 1,
            enabled: false,
            two_factor: false,
            auto_certificates: false,
            validity_days: DEFAULT_VALIDITY_DAYS,
            approval: Approval::Auto,
            delivery: notify::Config::default(),
        }
    }
}

/// The current settings.
pub async fn load<C: ConnectionTrait>(conn: &C) -> Result<Settings, DbErr> {
    store::load_setting(conn, NAME).await
}

/// Saves `settings` as they are.
pub async fn save<C: ConnectionTrait>(
    conn: &C,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<()> {
    Ok(store::save_setting(conn, NAME, settings, now).await?)
}

/// Turns the module on with the options given, refusing two-factor while
/// the company settings lack it. Returns the new settings.
pub async fn enable<C: ConnectionTrait>(
    conn: &C,
    two_factor: bool,
    auto_certificates: bool,
    now: DateTime<Utc>,
) -> Result<Settings> {
    if two_factor && !security::load(conn).await?.two_factor {
        return Err(Error::TwoFactorNotConfigured);
    }
    let mut settings = load(conn).await?;
    settings.enabled = true;
    settings.two_factor = two_factor;
    settings.auto_certificates = auto_certificates;
    save(conn, &settings, now).await?;
    Ok(settings)
}

/// Turns the module off; its data stays.
pub async fn disable<C: ConnectionTrait>(conn: &C, now: DateTime<Utc>) -> Result<Settings> {
    let mut settings = load(conn).await?;
    settings.enabled = false;
    settings.two_factor = false;
    settings.auto_certificates = false;
    save(conn, &settings, now).await?;
    Ok(settings)
}
