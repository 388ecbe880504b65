//! Company security settings: whether two-factor authentication is set up
//! and through which channels its codes may go.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::{ses, store};

const NAME: &str = "security";

/// A channel for one-time codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// A text message to the user's phone.
    Sms,
    /// An e-mail to the user's address.
    Email,
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
        })
    }
}

impl FromStr for Channel {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sms" => Ok(Channel::Sms),
            "email" | "e-mail" => Ok(Channel::Email),
            _ => Err(Error::Invalid {
                field: "channel",
                value: s.to_owned(),
                remedy: "use sms or email".into(),
            }),
        }
    }
}

/// The company security settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Security {
    /// Format version of the stored settings.
    #[serde(default)]
    pub version: u32,
    /// Whether two-factor authentication is set up.
    #[serde(default)]
    pub two_factor: bool,
    /// The channels codes may go through, in order of preference.
    #[serde(default)]
    pub channels: Vec<Channel>,
}

/// The current settings.
pub async fn load<C: ConnectionTrait>(conn: &C) -> Result<Security, DbErr> {
    store::load_setting(conn, NAME).await
}

/// Sets up two-factor authentication through `channels`.
pub async fn enable_two_factor<C: ConnectionTrait>(
    conn: &C,
    channels: &[Channel],
    now: DateTime<Utc>,
) -> Result<Security> {
    let mut unique: Vec<Channel> = Vec::new();
    for channel in channels {
        if !unique.contains(channel) {
            unique.push(*channel);
        }
    }
    if unique.is_empty() {
        return Err(Error::Invalid {
            field: "channels",
            value: String::new(),
            remedy: "name at least one of sms, email".into(),
        });
    }
    let security = Security {
        version: 1,
        two_factor: true,
        channels: unique,
    };
    store::save_setting(conn, NAME, &security, now).await?;
    Ok(security)
}

/// Turns two-factor authentication off, unless the SES module requires it.
pub async fn disable_two_factor<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
) -> Result<Security> {
    if ses::settings::load(conn).await?.two_factor {
        return Err(Error::TwoFactorInUse);
    }
    let security = Security {
        version: 1,
        two_factor: false,
        channels: Vec::new(),
    };
    store::save_setting(conn, NAME, &security, now).await?;
    Ok(security)
}
