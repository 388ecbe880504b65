//! What the SES tests share: a fresh store on SQLite (a file in a temporary
//! folder) and, when SESFLOW_TEST_PG_URL is set, on PostgreSQL in a schema
//! of its own; users; codes read from the outbox.

#![allow(
    dead_code,
    reason = "each test file uses a different part of the support"
)]

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use sesflow_activities::certs::keys::MasterKey;
use sesflow_activities::notify::outbox;
use sesflow_activities::security::{self, Channel};
use sesflow_activities::ses::{settings, Ses};
use sesflow_activities::users::NewUser;
use zeroize::Zeroizing;

/// The password of every test user.
pub const PASSWORD: &str = "correct horse battery";

/// A store under test.
pub struct Env {
    /// The backend's name, for messages.
    pub name: &'static str,
    /// The database URL.
    pub url: String,
    /// The module over it.
    pub ses: Ses,
    /// The PostgreSQL schema to drop at the end.
    schema: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl Env {
    /// The database.
    pub fn db(&self) -> &DatabaseConnection {
        self.ses.db()
    }

    /// Drops what the test made on PostgreSQL.
    pub async fn cleanup(self) {
        if let Some((base, schema)) = &self.schema {
            let admin = sesflow_engine::store::connect(base).await.expect("connect");
            admin
                .execute_unprepared(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .await
                .expect("drop schema");
        }
    }
}

/// A fresh store on SQLite, and on PostgreSQL when SESFLOW_TEST_PG_URL is set.
pub async fn backends() -> Vec<Env> {
    let mut envs = vec![sqlite().await];
    match std::env::var("SESFLOW_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => envs.push(postgres(&url).await),
        _ => eprintln!("SESFLOW_TEST_PG_URL is not set: PostgreSQL part skipped"),
    }
    envs
}

/// A fresh store on SQLite.
pub async fn sqlite() -> Env {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("ses.db").display());
    let ses = open(&url).await;
    Env {
        name: "sqlite",
        url,
        ses,
        schema: None,
        _dir: dir,
    }
}

async fn postgres(base: &str) -> Env {
    let schema = format!("ses_{}", uuid::Uuid::new_v4().simple());
    let admin = sesflow_engine::store::connect(base).await.expect("connect");
    admin
        .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
        .await
        .expect("create schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    let ses = open(&url).await;
    Env {
        name: "postgres",
        url,
        ses,
        schema: Some((base.to_owned(), schema)),
        _dir: tempfile::tempdir().expect("temp dir"),
    }
}

async fn open(url: &str) -> Ses {
    let db = sesflow_engine::store::open(url).await.expect("open store");
    sesflow_activities::store::migrate(&db)
        .await
        .expect("migrate");
    Ses::new(db, MasterKey::generate())
}

/// A fixed clock for a test.
pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-03-01T09:00:00Z")
        .expect("valid time")
        .with_timezone(&Utc)
}

/// Adds a user with the test password.
pub async fn add_user(ses: &Ses, login: &str, email: Option<&str>, phone: Option<&str>) {
    let new = NewUser {
        login: login.into(),
        full_name: format!("{} Tester", login.to_uppercase()),
        email: email.map(Into::into),
        phone: phone.map(Into::into),
        password: Zeroizing::new(PASSWORD.into()),
    };
    ses.add_user(new, t0()).await.expect("add user");
}

/// Turns the module on, with two-factor through `channels` when given.
pub async fn enable(ses: &Ses, channels: Option<&[Channel]>) {
    if let Some(channels) = channels {
        security::enable_two_factor(ses.db(), channels, t0())
            .await
            .expect("company two-factor");
    }
    settings::enable(ses.db(), channels.is_some(), false, t0())
        .await
        .expect("enable module");
}

/// Issues a certificate to `login` at [`t0`].
pub async fn issue(ses: &Ses, login: &str) -> String {
    match ses
        .certs()
        .issue_automatic(login, t0())
        .await
        .expect("issue")
    {
        sesflow_activities::certs::Decision::Issued { certificate, .. } => certificate.serial,
        other => panic!("not issued: {other:?}"),
    }
}

/// The code in the latest outbox message to `to`.
pub async fn code_for(ses: &Ses, to: &str) -> String {
    let entries = outbox::list(ses.db(), Some(to), 1).await.expect("outbox");
    let body = &entries.last().expect("a message in the outbox").body;
    extract_code(body)
}

/// The six-digit code in a message text.
pub fn extract_code(text: &str) -> String {
    let start = text.find("code is ").expect("the message names the code") + 8;
    text[start..start + 6].to_owned()
}
