//! Signing: the password, then where two-factor is on a one-time code bound
//! to the exact document, then a signature record in the store.
//!
//! A signing with two-factor is two calls of [`Ses::sign`]: without a code
//! it sends one ([`Step::CodeSent`]); with the code it signs
//! ([`Step::Signed`]). Wrong codes count against the signing, not against
//! the code, so neither a fresh code nor a re-entered password resets them.

use chrono::{DateTime, Utc};
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, Set, TransactionTrait,
};
use serde::Serialize;

use super::record::{Record, Signer, Unsigned};
use super::{otp, settings, Document, Ses, NOTICE};
use crate::error::{Error, Result};
use crate::security::{self, Channel};
use crate::store::{self, entities::code, entities::sign_request, entities::signature};
use crate::users::{self, User};
use crate::{audit, certs, notify};

const PENDING: &str = "pending";
const SIGNED: &str = "signed";
const VOID: &str = "void";
const LAPSED: &str = "lapsed";

/// Where a signing stands after a call of [`Ses::sign`].
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// The document is signed.
    Signed(Box<Record>),
    /// A code was sent; call again with it.
    CodeSent(CodeSent),
}

/// A code on its way to the signer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CodeSent {
    /// The signing it confirms.
    pub sign_request_id: String,
    /// The channels it went through.
    pub channels: Vec<Channel>,
    /// The recipients, partly masked.
    pub to: Vec<String>,
    /// When it stops being accepted.
    pub expires_at: DateTime<Utc>,
    /// Wrong codes left for this signing.
    pub attempts_left: u32,
    /// [`NOTICE`].
    pub notice: String,
}

/// What signing needs of one call.
struct Ready {
    user: User,
    cert: certs::Certificate,
    settings: settings::Settings,
}

impl Ses {
    /// Signs `document` for `login`: checks the password; with two-factor
    /// on, sends a code when `code` is `None` and checks it when given.
    pub async fn sign(
        &self,
        login: &str,
        password: &str,
        document: &Document,
        code: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Step> {
        let ready = self.ready(login, password, now).await?;
        check_covered(self.db(), document).await?;
        if !ready.settings.two_factor {
            let txn = self.db().begin().await?;
            let record = self.record(&txn, &ready, document, "password", now).await?;
            txn.commit().await?;
            return Ok(Step::Signed(Box::new(record)));
        }
        match code {
            None => self
                .send_code(&ready, document, now)
                .await
                .map(Step::CodeSent),
            Some(code) => self.confirm(&ready, document, code, now).await,
        }
    }

    async fn ready(&self, login: &str, password: &str, now: DateTime<Utc>) -> Result<Ready> {
        let settings = settings::load(self.db()).await?;
        if !settings.enabled {
            return Err(Error::ModuleDisabled);
        }
        self.certs().check_key().await?;
        let user = users::require(self.db(), login).await?;
        if let Err(error) = users::check_password(&user, password).await {
            let detail = serde_json::json!({});
            audit::record(
                self.db(),
                now,
                audit::action::PASSWORD_FAILED,
                Some(login),
                None,
                detail,
            )
            .await?;
            return Err(error);
        }
        let cert =
            self.certs()
                .valid_for(login, now)
                .await?
                .ok_or_else(|| Error::NoCertificate {
                    login: login.to_owned(),
                })?;
        Ok(Ready {
            user,
            cert,
            settings,
        })
    }

    async fn send_code(
        &self,
        ready: &Ready,
        document: &Document,
        now: DateTime<Utc>,
    ) -> Result<CodeSent> {
        let login = &ready.user.login;
        let routes = routes(&ready.user, &security::load(self.db()).await?.channels)?;
        self.check_lockout(login, now).await?;
        let request = self.open_request(login, document, now).await?;
        let code = otp::generate();
        let expires_at = now + otp::lifetime();
        let channels: Vec<Channel> = routes.iter().map(|(c, _)| *c).collect();
        self.store_code(&request, &code, &channels, expires_at, now)
            .await?;
        let delivery = &ready.settings.delivery;
        for (channel, to) in &routes {
            let message = message(*channel, to, &code, document);
            notify::send(self.db(), delivery, &message, now).await?;
        }
        tracing::info!(sign_request_id = %request.id, ?channels, "signing code sent");
        Ok(CodeSent {
            sign_request_id: request.id,
            channels,
            to: routes.iter().map(|(_, to)| mask(to)).collect(),
            expires_at,
            attempts_left: (otp::MAX_ATTEMPTS - request.attempts).max(0) as u32,
            notice: NOTICE.to_owned(),
        })
    }

    async fn check_lockout(&self, login: &str, now: DateTime<Utc>) -> Result<()> {
        let since = store::millis(now - otp::lockout());
        let void = sign_request::Entity::find()
            .filter(sign_request::Column::Login.eq(login))
            .filter(sign_request::Column::Status.eq(VOID))
            .filter(sign_request::Column::UpdatedAt.gt(since))
            .order_by_desc(sign_request::Column::UpdatedAt)
            .one(self.db())
            .await?;
        match void {
            Some(request) => Err(Error::Locked {
                login: login.to_owned(),
                until: store::datetime(request.updated_at) + otp::lockout(),
            }),
            None => Ok(()),
        }
    }

    /// The pending signing of this document, within its lifetime and resend
    /// limits, or a new one.
    async fn open_request(
        &self,
        login: &str,
        document: &Document,
        now: DateTime<Utc>,
    ) -> Result<sign_request::Model> {
        if let Some(request) = self
            .pending_request(login, Some(&document.digest), now)
            .await?
        {
            let last_sent = store::datetime(request.updated_at);
            if request.n_codes >= otp::MAX_CODES {
                return Err(Error::ResendLimit {
                    retry_at: store::datetime(request.created_at) + otp::signing_lifetime(),
                });
            }
            if now < last_sent + otp::resend_gap() {
                return Err(Error::ResendLimit {
                    retry_at: last_sent + otp::resend_gap(),
                });
            }
            return Ok(request);
        }
        let row = sign_request::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            login: Set(login.to_owned()),
            document: Set(serde_json::to_value(document).expect("a document serializes")),
            digest: Set(document.digest.clone()),
            status: Set(PENDING.to_owned()),
            attempts: Set(0),
            n_codes: Set(0),
            created_at: Set(store::millis(now)),
            updated_at: Set(store::millis(now)),
        };
        Ok(row.insert(self.db()).await?)
    }

    /// The latest pending signing of `login` (of the document with `digest`
    /// when given); signings past their lifetime lapse on the way.
    async fn pending_request(
        &self,
        login: &str,
        digest: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<sign_request::Model>> {
        let mut query = sign_request::Entity::find()
            .filter(sign_request::Column::Login.eq(login))
            .filter(sign_request::Column::Status.eq(PENDING));
        if let Some(digest) = digest {
            query = query.filter(sign_request::Column::Digest.eq(digest));
        }
        let Some(request) = query
            .order_by_desc(sign_request::Column::CreatedAt)
            .one(self.db())
            .await?
        else {
            return Ok(None);
        };
        if now < store::datetime(request.created_at) + otp::signing_lifetime() {
            return Ok(Some(request));
        }
        sign_request::Entity::update_many()
            .col_expr(sign_request::Column::Status, Expr::value(LAPSED))
            .filter(sign_request::Column::Id.eq(&request.id))
            .filter(sign_request::Column::Status.eq(PENDING))
            .exec(self.db())
            .await?;
        Ok(None)
    }

    async fn store_code(
        &self,
        request: &sign_request::Model,
        code: &str,
        channels: &[Channel],
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let txn = self.db().begin().await?;
        code::Entity::update_many()
            .col_expr(code::Column::Superseded, Expr::value(true))
            .filter(code::Column::SignRequestId.eq(&request.id))
            .exec(&txn)
            .await?;
        let names: Vec<String> = channels.iter().map(|c| c.to_string()).collect();
        let row = code::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            sign_request_id: Set(request.id.clone()),
            login: Set(request.login.clone()),
            code_hash: Set(otp::hash(self.certs().keys(), &request.id, code)),
            channels: Set(names.join(",")),
            sent_at: Set(store::millis(now)),
            expires_at: Set(store::millis(expires_at)),
            used_at: Set(None),
            superseded: Set(false),
        };
        row.insert(&txn).await?;
        sign_request::Entity::update_many()
            .col_expr(
                sign_request::Column::NCodes,
                Expr::col(sign_request::Column::NCodes).add(1),
            )
            .col_expr(
                sign_request::Column::UpdatedAt,
                Expr::value(store::millis(now)),
            )
            .filter(sign_request::Column::Id.eq(&request.id))
            .exec(&txn)
            .await?;
        let detail = serde_json::json!({ "sign_request_id": request.id, "channels": names });
        audit::record(
            &txn,
            now,
            audit::action::CODE_SENT,
            Some(&request.login),
            None,
            detail,
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    async fn confirm(
        &self,
        ready: &Ready,
        document: &Document,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<Step> {
        otp::check_form(code)?;
        let login = &ready.user.login;
        let request = self.request_for(login, document, now).await?;
        let current = code::Entity::find()
            .filter(code::Column::SignRequestId.eq(&request.id))
            .filter(code::Column::Superseded.eq(false))
            .order_by_desc(code::Column::SentAt)
            .one(self.db())
            .await?
            .ok_or_else(|| Error::NoPendingCode {
                login: login.clone(),
            })?;
        if current.used_at.is_some() {
            return Err(Error::CodeUsed);
        }
        if now >= store::datetime(current.expires_at) {
            return Err(Error::CodeExpired);
        }
        if !otp::matches(self.certs().keys(), &request.id, code, &current.code_hash) {
            return Err(self.wrong_code(&request, now).await?);
        }
        let method = format!("password+code:{}", current.channels);
        let txn = self.db().begin().await?;
        if !claim(&txn, &request.id, &current.id, now).await? {
            txn.rollback().await?;
            return Err(self.closed(&request.id).await?);
        }
        let record = self.record(&txn, ready, document, &method, now).await?;
        txn.commit().await?;
        Ok(Step::Signed(Box::new(record)))
    }

    /// The signing a code for `document` confirms, or why there is none.
    async fn request_for(
        &self,
        login: &str,
        document: &Document,
        now: DateTime<Utc>,
    ) -> Result<sign_request::Model> {
        let latest = sign_request::Entity::find()
            .filter(sign_request::Column::Login.eq(login))
            .filter(sign_request::Column::Digest.eq(&document.digest))
            .order_by_desc(sign_request::Column::CreatedAt)
            .one(self.db())
            .await?;
        match latest {
            Some(request) if request.status == PENDING => {
                if now >= store::datetime(request.created_at) + otp::signing_lifetime() {
                    return Err(Error::CodeExpired);
                }
                Ok(request)
            }
            Some(request) if request.status != LAPSED => Err(self.closed(&request.id).await?),
            _ => match self.pending_request(login, None, now).await? {
                Some(other) => Err(Error::OtherDocument {
                    expected: describe(&other),
                    given: document.to_string(),
                }),
                None => Err(Error::NoPendingCode {
                    login: login.to_owned(),
                }),
            },
        }
    }

    /// Counts a wrong code, voiding the signing at the limit.
    async fn wrong_code(&self, request: &sign_request::Model, now: DateTime<Utc>) -> Result<Error> {
        let txn = self.db().begin().await?;
        let counted = sign_request::Entity::update_many()
            .col_expr(
                sign_request::Column::Attempts,
                Expr::col(sign_request::Column::Attempts).add(1),
            )
            .filter(sign_request::Column::Id.eq(&request.id))
            .filter(sign_request::Column::Status.eq(PENDING))
            .filter(sign_request::Column::Attempts.lt(otp::MAX_ATTEMPTS))
            .exec(&txn)
            .await?;
        if counted.rows_affected == 0 {
            txn.rollback().await?;
            return self.closed(&request.id).await;
        }
        let voided = sign_request::Entity::update_many()
            .col_expr(sign_request::Column::Status, Expr::value(VOID))
            .col_expr(
                sign_request::Column::UpdatedAt,
                Expr::value(store::millis(now)),
            )
            .filter(sign_request::Column::Id.eq(&request.id))
            .filter(sign_request::Column::Attempts.gte(otp::MAX_ATTEMPTS))
            .exec(&txn)
            .await?;
        let login = Some(request.login.as_str());
        let detail = serde_json::json!({ "sign_request_id": request.id });
        audit::record(
            &txn,
            now,
            audit::action::CODE_FAILED,
            login,
            None,
            detail.clone(),
        )
        .await?;
        if voided.rows_affected > 0 {
            audit::record(&txn, now, audit::action::VOID, login, None, detail).await?;
        }
        txn.commit().await?;
        let stored = self.sign_request(&request.id).await?;
        tracing::warn!(sign_request_id = %request.id, attempts = stored.attempts, "wrong code");
        if stored.status == VOID {
            return Ok(void(&stored));
        }
        Ok(Error::WrongCode {
            remaining: (otp::MAX_ATTEMPTS - stored.attempts).max(0) as u32,
        })
    }

    /// Why a signing no longer takes codes.
    async fn closed(&self, id: &str) -> Result<Error> {
        let request = self.sign_request(id).await?;
        Ok(match request.status.as_str() {
            VOID => void(&request),
            SIGNED => Error::CodeUsed,
            _ => Error::CodeExpired,
        })
    }

    async fn sign_request(&self, id: &str) -> Result<sign_request::Model> {
        sign_request::Entity::find_by_id(id)
            .one(self.db())
            .await?
            .ok_or_else(|| Error::Db(sea_orm::DbErr::RecordNotFound(format!("signing {id}"))))
    }

    /// Signs and stores the record in `conn`'s transaction.
    async fn record<C: ConnectionTrait>(
        &self,
        conn: &C,
        ready: &Ready,
        document: &Document,
        method: &str,
        now: DateTime<Utc>,
    ) -> Result<Record> {
        let opened = self.certs().open(&ready.cert)?;
        let unsigned = Unsigned {
            id: uuid::Uuid::now_v7().to_string(),
            signer: Signer {
                login: ready.user.login.clone(),
                full_name: ready.user.full_name.clone(),
            },
            serial: ready.cert.serial.clone(),
            certificate: opened.pem().to_owned(),
            certificate_sha256: opened.fingerprint_sha256().to_owned(),
            target: document.target.clone(),
            digest: document.digest.clone(),
            signed_at: now,
            method: method.to_owned(),
        };
        let record = Record::sign(unsigned, opened.key());
        let row = signature::ActiveModel {
            id: Set(record.id.clone()),
            login: Set(record.signer.login.clone()),
            serial: Set(record.serial.clone()),
            target: Set(record.target.key()),
            digest: Set(record.digest.value.clone()),
            method: Set(record.method.clone()),
            signed_at: Set(store::millis(now)),
            record: Set(serde_json::to_value(&record).expect("a record serializes")),
        };
        row.insert(conn).await?;
        let detail = serde_json::json!({
            "signature_id": record.id,
            "target": record.target.key(),
            "digest": record.digest.value,
            "method": record.method,
        });
        audit::record(
            conn,
            now,
            audit::action::SIGNED,
            Some(&record.signer.login),
            Some(&record.serial),
            detail,
        )
        .await?;
        tracing::info!(signature_id = %record.id, serial = %record.serial, "document signed");
        Ok(record)
    }
}

/// Refuses an app item version that has none of the fields the signature
/// would cover.
async fn check_covered<C: ConnectionTrait>(conn: &C, document: &Document) -> Result<()> {
    let super::Target::AppItem {
        app,
        id,
        version,
        fields,
    } = &document.target
    else {
        return Ok(());
    };
    let history = crate::apps::history(conn, app, id).await?;
    match history.iter().find(|item| item.version == *version) {
        Some(item) => crate::apps::check_covered(item, fields),
        None => Err(Error::UnknownItem {
            app: app.clone(),
            id: id.clone(),
        }),
    }
}

/// The error of the void signing `request`, with when a new one may start.
fn void(request: &sign_request::Model) -> Error {
    Error::Void {
        attempts: request.attempts as u32,
        until: store::datetime(request.updated_at) + otp::lockout(),
    }
}

/// Takes the signing and its code for one signature; false when another
/// attempt took them first or the signing is void.
async fn claim<C: ConnectionTrait>(
    conn: &C,
    request_id: &str,
    code_id: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let taken = sign_request::Entity::update_many()
        .col_expr(sign_request::Column::Status, Expr::value(SIGNED))
        .col_expr(
            sign_request::Column::UpdatedAt,
            Expr::value(store::millis(now)),
        )
        .filter(sign_request::Column::Id.eq(request_id))
        .filter(sign_request::Column::Status.eq(PENDING))
        .filter(sign_request::Column::Attempts.lt(otp::MAX_ATTEMPTS))
        .exec(conn)
        .await?;
    if taken.rows_affected != 1 {
        return Ok(false);
    }
    let used = code::Entity::update_many()
        .col_expr(code::Column::UsedAt, Expr::value(store::millis(now)))
        .filter(code::Column::Id.eq(code_id))
        .filter(code::Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    Ok(used.rows_affected == 1)
}

/// The channels and recipients a code goes to.
fn routes(user: &User, channels: &[Channel]) -> Result<Vec<(Channel, String)>> {
    let routes: Vec<(Channel, String)> = channels
        .iter()
        .filter_map(|channel| {
            let to = match channel {
                Channel::Email => user.email.clone(),
                Channel::Sms => user.phone.clone(),
            };
            to.map(|to| (*channel, to))
        })
        .collect();
    if routes.is_empty() {
        let names: Vec<&str> = channels
            .iter()
            .map(|c| match c {
                Channel::Email => "e-mail address",
                Channel::Sms => "phone number",
            })
            .collect();
        return Err(Error::NoChannel {
            login: user.login.clone(),
            channels: if names.is_empty() {
                "channel configured".to_owned()
            } else {
                names.join(" or ")
            },
        });
    }
    Ok(routes)
}

fn message(channel: Channel, to: &str, code: &str, document: &Document) -> notify::Message {
    let body = format!(
        "Your sesflow signing code is {code}. It expires in {} minutes and confirms signing \
         {}. Do not share it. {NOTICE}",
        otp::lifetime().num_minutes(),
        document.target,
    );
    notify::Message {
        channel,
        to: to.to_owned(),
        subject: "sesflow signing code".to_owned(),
        body,
    }
}

fn describe(request: &sign_request::Model) -> String {
    serde_json::from_value::<Document>(request.document.clone())
        .map_or_else(|_| format!("digest {}", request.digest), |d| d.to_string())
}

/// `to` with most of it hidden: `a***@example.com`, `+44******58`.
pub fn mask(to: &str) -> String {
    if let Some((local, domain)) = to.split_once('@') {
        let first: String = local.chars().take(1).collect();
        return format!("{first}***@{domain}");
    }
    let chars: Vec<char> = to.chars().collect();
    if chars.len() <= 5 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 5))
}
