//! The errors of the SES module, each with a stable code.
//!
//! Errors a person can cause by their input ([`Error::is_input`]) make the
//! CLI exit with 1; the others with 2.

use chrono::{DateTime, Utc};
use sea_orm::DbErr;

use crate::{certs, notify};

/// Why an operation of the SES module did not complete.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value given is not acceptable.
    #[error("{field} `{value}` is not valid: {remedy}")]
    Invalid {
        /// The field or argument.
        field: &'static str,
        /// The value given.
        value: String,
        /// What would be accepted.
        remedy: String,
    },
    /// No user has this login.
    #[error("no user `{login}`; add one with `sesflow users add {login} --name NAME`")]
    UnknownUser {
        /// The login given.
        login: String,
    },
    /// The login is taken.
    #[error("user `{login}` exists already")]
    UserExists {
        /// The login given.
        login: String,
    },
    /// The password does not match.
    #[error("wrong password for `{login}`")]
    WrongPassword {
        /// The login given.
        login: String,
    },
    /// Two-factor authentication was asked of the module before the company
    /// settings have it.
    #[error(
        "two-factor authentication is not set up in the company security settings; \
         run `sesflow security two-factor --enable --channels sms,email` first"
    )]
    TwoFactorNotConfigured,
    /// The company settings cannot drop two-factor while the module needs it.
    #[error(
        "the SES module requires two-factor authentication; \
         run `sesflow ses enable` without --two-factor first"
    )]
    TwoFactorInUse,
    /// The SES module is off.
    #[error("the SES module is not enabled; run `sesflow ses enable`")]
    ModuleDisabled,
    /// The signer holds no valid certificate.
    #[error(
        "`{login}` holds no valid SES certificate; run the ses-issuance process for them, \
         `sesflow certs request {login}`, or `sesflow ses enable --auto-certificates`"
    )]
    NoCertificate {
        /// The signer.
        login: String,
    },
    /// The signer cannot be reached on any two-factor channel.
    #[error(
        "`{login}` has no {channels} for the two-factor code; add one with \
         `sesflow users set {login} --email E` or `--phone P`"
    )]
    NoChannel {
        /// The signer.
        login: String,
        /// The channels configured, such as `e-mail or phone`.
        channels: String,
    },
    /// Too many wrong codes: signing is locked for a while.
    #[error("signing is locked for `{login}` after too many wrong codes until {until}")]
    Locked {
        /// The signer.
        login: String,
        /// When signing may start again.
        until: DateTime<Utc>,
    },
    /// Too many codes were sent for one signing.
    #[error("no more codes can be sent for this signing until {retry_at}")]
    ResendLimit {
        /// When a code may be sent again.
        retry_at: DateTime<Utc>,
    },
    /// No code was sent for a signing by this user.
    #[error("no code is pending for `{login}`; run `sesflow sign` without --code first")]
    NoPendingCode {
        /// The signer.
        login: String,
    },
    /// The code is wrong.
    #[error("wrong code; {remaining} attempt(s) left")]
    WrongCode {
        /// Attempts left before the signing is void.
        remaining: u32,
    },
    /// The signing is void after too many wrong codes.
    #[error(
        "the signing is void after {attempts} wrong codes; start a new signing at \
         {} or later",
        until.format("%Y-%m-%d %H:%M:%S UTC")
    )]
    Void {
        /// Wrong codes entered.
        attempts: u32,
        /// When a new signing may start.
        until: DateTime<Utc>,
    },
    /// The code has expired.
    #[error("the code has expired; run `sesflow sign` without --code for a new one")]
    CodeExpired,
    /// The code was used already.
    #[error("the code was used already")]
    CodeUsed,
    /// The code was sent for another document or another version of it.
    #[error(
        "the code was sent for {expected}, not for {given}; \
         sign this document with a code sent for it"
    )]
    OtherDocument {
        /// The document the code confirms.
        expected: String,
        /// The document given.
        given: String,
    },
    /// No such app item.
    #[error("no item `{app}/{id}`; add it with `sesflow apps put {app} {id} --json JSON`")]
    UnknownItem {
        /// The app.
        app: String,
        /// The item id.
        id: String,
    },
    /// A file cannot be read or written.
    #[error("cannot use {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The certificate service failed.
    #[error(transparent)]
    Certs(#[from] certs::Error),
    /// A code could not be delivered.
    #[error(transparent)]
    Notify(#[from] notify::Error),
    /// The master key is missing or wrong.
    #[error(transparent)]
    Keys(#[from] certs::keys::Error),
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

impl Error {
    /// A stable code naming the kind of error, such as `SES_WRONG_CODE`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Invalid { .. } => "SES_INVALID",
            Error::UnknownUser { .. } => "SES_UNKNOWN_USER",
            Error::UserExists { .. } => "SES_USER_EXISTS",
            Error::WrongPassword { .. } => "SES_WRONG_PASSWORD",
            Error::TwoFactorNotConfigured => "SES_2FA_NOT_CONFIGURED",
            Error::TwoFactorInUse => "SES_2FA_IN_USE",
            Error::ModuleDisabled => "SES_DISABLED",
            Error::NoCertificate { .. } => "SES_NO_CERTIFICATE",
            Error::NoChannel { .. } => "SES_NO_CHANNEL",
            Error::Locked { .. } => "SES_LOCKED",
            Error::ResendLimit { .. } => "SES_RESEND_LIMIT",
            Error::NoPendingCode { .. } => "SES_NO_PENDING_CODE",
            Error::WrongCode { .. } => "SES_WRONG_CODE",
            Error::Void { .. } => "SES_VOID",
            Error::CodeExpired => "SES_CODE_EXPIRED",
            Error::CodeUsed => "SES_CODE_USED",
            Error::OtherDocument { .. } => "SES_OTHER_DOCUMENT",
            Error::UnknownItem { .. } => "SES_UNKNOWN_ITEM",
            Error::Io { .. } => "SES_IO",
            Error::Certs(e) => e.code(),
            Error::Notify(_) => "SES_DELIVERY",
            Error::Keys(_) => "SES_MASTER_KEY",
            Error::Db(_) => "SES_DB",
        }
    }

    /// Whether the person's input caused the error (rather than the system).
    pub fn is_input(&self) -> bool {
        match self {
            Error::Io { .. } | Error::Notify(_) | Error::Keys(_) | Error::Db(_) => false,
            Error::Certs(e) => e.is_input(),
            _ => true,
        }
    }
}

/// Results of the SES module.
pub type Result<T, E = Error> = std::result::Result<T, E>;
