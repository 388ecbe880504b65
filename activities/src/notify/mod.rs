//! Delivery of one-time codes: e-mail through SMTP, SMS through an HTTP
//! gateway, or the outbox, a table that keeps the message for
//! `sesflow outbox` (the default of a fresh install).

pub mod outbox;
pub mod sms;
pub mod smtp;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use serde::{Deserialize, Serialize};

use crate::security::Channel;

/// Why a message was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The SMTP server refused the message or could not be reached.
    #[error("e-mail through {server} failed: {message}")]
    Smtp {
        /// The server's URL without credentials.
        server: String,
        /// What went wrong.
        message: String,
    },
    /// An address is not acceptable to the mailer.
    #[error("e-mail address `{address}` is not acceptable: {message}")]
    Address {
        /// The address.
        address: String,
        /// What the mailer said.
        message: String,
    },
    /// The SMS gateway refused the message or could not be reached.
    #[error("SMS through the gateway at {host} failed: {message}")]
    Gateway {
        /// The gateway's host.
        host: String,
        /// What went wrong.
        message: String,
    },
    /// The outbox could not be written.
    #[error("the outbox cannot be written: {0}")]
    Db(#[from] DbErr),
}

/// How e-mail goes out.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "via", rename_all = "lowercase")]
pub enum EmailVia {
    /// Kept in the outbox.
    #[default]
    Outbox,
    /// Sent through an SMTP server.
    Smtp {
        /// `smtp://host:port` (plain), `smtp://host:port?tls=required`
        /// (STARTTLS) or `smtps://host:port`, with optional `user:password@`.
        url: String,
        /// The sender address.
        from: String,
    },
}

/// How text messages go out.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "via", rename_all = "lowercase")]
pub enum SmsVia {
    /// Kept in the outbox.
    #[default]
    Outbox,
    /// POSTed to an HTTP gateway.
    Http {
        /// The gateway URL; `{to}` and `{text}` are replaced, URL-encoded.
        url: String,
        /// The request body; `{to}` and `{text}` are replaced, escaped for a
        /// JSON string. Defaults to [`sms::DEFAULT_BODY`].
        body: Option<String>,
    },
}

/// Where messages of each channel go.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// E-mail.
    #[serde(default)]
    pub email: EmailVia,
    /// SMS.
    #[serde(default)]
    pub sms: SmsVia,
}

/// A message to one recipient.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// The channel.
    pub channel: Channel,
    /// The address or phone number.
    pub to: String,
    /// The subject (e-mail only).
    pub subject: String,
    /// The text.
    pub body: String,
}

/// Delivers `message` as `config` says for its channel.
pub async fn send<C: ConnectionTrait>(
    conn: &C,
    config: &Config,
    message: &Message,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    match (message.channel, &config.email, &config.sms) {
        (Channel::Email, EmailVia::Smtp { url, from }, _) => smtp::send(url, from, message).await,
        (Channel::Sms, _, SmsVia::Http { url, body }) => {
            sms::send(url, body.as_deref(), message).await
        }
        _ => outbox::record(conn, message, now).await,
    }
}
