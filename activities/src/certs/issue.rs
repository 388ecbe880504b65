//! Deciding requests: the checks, issuance of a certificate, rejection, and
//! the `signature.issuance` event published in the same transaction.

use chrono::{DateTime, Duration, Utc};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, DnValue, ExtendedKeyUsagePurpose, IsCa,
    KeyUsagePurpose, SanType,
};
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder, Set, TransactionTrait,
};
use serde::Serialize;
use sesflow_engine::events::{self, Event};

use super::{ca, Error, Info, Origin, Request, RequestRow, Service, EVENT_KIND};
use crate::security::{self, Channel};
use crate::ses::settings::{self, Approval, Settings};
use crate::store::{self, entities::cert_request, entities::certificate, entities::user};
use crate::{audit, users};

/// Status of a request waiting for a decision.
pub const PENDING: &str = "pending";
/// Status of a request answered with a certificate.
pub const ISSUED: &str = "issued";
/// Status of a refused request.
pub const REJECTED: &str = "rejected";

/// How a request was decided.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Decision {
    /// A certificate was issued.
    Issued {
        /// The request.
        request_id: String,
        /// The certificate.
        certificate: Box<Info>,
    },
    /// The request was refused.
    Rejected {
        /// The request.
        request_id: String,
        /// Why.
        reason: String,
    },
    /// The request passed the checks and waits for an operator.
    Pending {
        /// The request.
        request_id: String,
    },
}

/// Who is deciding.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// The service's own processing: manual approval leaves requests pending.
    Process,
    /// An operator's approval, or automatic generation: issue if the checks pass.
    Approve,
}

/// What the checks found for a request that passes them.
struct Checked {
    full_name: String,
    email: Option<String>,
    phone: Option<String>,
    replaced: Vec<String>,
}

impl Service {
    /// Checks each pending request and issues or rejects it; with manual
    /// approval, requests that pass the checks stay pending.
    pub async fn process_pending(&self, now: DateTime<Utc>) -> Result<Vec<Decision>, Error> {
        let mut decisions = Vec::new();
        for request in self.pending().await? {
            decisions.push(self.decide(&request.id, Mode::Process, now).await?);
        }
        Ok(decisions)
    }

    /// An operator's approval: issues if the checks pass, else rejects.
    pub async fn approve(&self, id: &str, now: DateTime<Utc>) -> Result<Decision, Error> {
        self.require_pending(id).await?;
        self.decide(id, Mode::Approve, now).await
    }

    /// An operator's rejection with `reason`.
    pub async fn reject(
        &self,
        id: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Decision, Error> {
        let request = self.require_pending(id).await?;
        let reason = format!("rejected by an operator: {}", reason.trim());
        self.commit_rejection(&request, &reason, now).await
    }

    /// Requests and issues a certificate for `login` at once, whatever the
    /// approval setting (automatic certificate generation).
    pub async fn issue_automatic(
        &self,
        login: &str,
        now: DateTime<Utc>,
    ) -> Result<Decision, Error> {
        let request = Request {
            key: format!("automatic/{login}/{}", uuid::Uuid::now_v7()),
            login: login.to_owned(),
            full_name: None,
            email: None,
            phone: None,
            replace: false,
            origin: Origin::Automatic,
        };
        let id = self.submit(&request, now).await?;
        self.decide(&id, Mode::Approve, now).await
    }

    /// Issues a certificate to every user who holds no valid one, calling
    /// `progress(done, total)` after each.
    pub async fn issue_missing(
        &self,
        now: DateTime<Utc>,
        progress: &(dyn Fn(u64, u64) + Send + Sync),
    ) -> Result<Vec<Decision>, Error> {
        let mut missing = Vec::new();
        for user in user::Entity::find().all(&self.db).await? {
            if valid_certificate(&self.db, &user.login, now)
                .await?
                .is_none()
            {
                missing.push(user.login);
            }
        }
        let total = missing.len() as u64;
        let mut decisions = Vec::with_capacity(missing.len());
        for (done, login) in missing.iter().enumerate() {
            decisions.push(self.issue_automatic(login, now).await?);
            progress(done as u64 + 1, total);
        }
        Ok(decisions)
    }

    async fn require_pending(&self, id: &str) -> Result<RequestRow, Error> {
        let request = self.request(id).await?;
        if request.status != PENDING {
            return Err(Error::Decided {
                id: id.to_owned(),
                status: request.status,
            });
        }
        Ok(request)
    }

    async fn decide(&self, id: &str, mode: Mode, now: DateTime<Utc>) -> Result<Decision, Error> {
        let request = self.request(id).await?;
        if request.status != PENDING {
            return self.decision_of(&request, now).await;
        }
        let settings = settings::load(&self.db).await?;
        match check(&self.db, &request, &settings, now).await? {
            Err(reason) => self.commit_rejection(&request, &reason, now).await,
            Ok(_) if mode == Mode::Process && settings.approval == Approval::Manual => {
                Ok(Decision::Pending {
                    request_id: request.id,
                })
            }
            Ok(checked) => {
                self.commit_issuance(&request, checked, &settings, now)
                    .await
            }
        }
    }

    async fn commit_issuance(
        &self,
        request: &RequestRow,
        checked: Checked,
        settings: &Settings,
        now: DateTime<Utc>,
    ) -> Result<Decision, Error> {
        let authority = self.ca(now).await?;
        let (serial, row) = build(self, &authority, request, &checked, settings, now)?;
        let txn = self.db.begin().await?;
        if !close(&txn, &request.id, ISSUED, None, Some(&serial), now).await? {
            txn.rollback().await?;
            return self
                .decision_of(&self.request(&request.id).await?, now)
                .await;
        }
        for old in &checked.replaced {
            super::revoke::mark(&txn, old, super::Reason::Superseded, now).await?;
        }
        fill_contacts(&txn, &request.login, &checked).await?;
        let cert = row.insert(&txn).await?;
        let info = Info::of(&cert, now);
        let detail = serde_json::json!({ "request_id": request.id, "origin": request.origin });
        audit::record(
            &txn,
            now,
            audit::action::ISSUED,
            Some(&cert.login),
            Some(&serial),
            detail,
        )
        .await?;
        let payload = serde_json::json!({ "status": ISSUED, "certificate": info });
        publish(&txn, &request.id, payload, now).await?;
        txn.commit().await?;
        tracing::info!(request_id = %request.id, serial = %serial, "certificate issued");
        Ok(Decision::Issued {
            request_id: request.id.clone(),
            certificate: Box::new(info),
        })
    }

    async fn commit_rejection(
        &self,
        request: &RequestRow,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Decision, Error> {
        let txn = self.db.begin().await?;
        if !close(&txn, &request.id, REJECTED, Some(reason), None, now).await? {
            txn.rollback().await?;
            return self
                .decision_of(&self.request(&request.id).await?, now)
                .await;
        }
        let detail = serde_json::json!({ "request_id": request.id, "reason": reason });
        audit::record(
            &txn,
            now,
            audit::action::REJECTED,
            Some(&request.login),
            None,
            detail,
        )
        .await?;
        let payload = serde_json::json!({ "status": REJECTED, "reason": reason });
        publish(&txn, &request.id, payload, now).await?;
        txn.commit().await?;
        tracing::info!(request_id = %request.id, reason, "certificate request rejected");
        Ok(Decision::Rejected {
            request_id: request.id.clone(),
            reason: reason.to_owned(),
        })
    }

    async fn decision_of(
        &self,
        request: &RequestRow,
        now: DateTime<Utc>,
    ) -> Result<Decision, Error> {
        let request_id = request.id.clone();
        Ok(match (request.status.as_str(), &request.serial) {
            (ISSUED, Some(serial)) => Decision::Issued {
                request_id,
                certificate: Box::new(Info::of(&self.get(serial).await?, now)),
            },
            (REJECTED, _) => Decision::Rejected {
                request_id,
                reason: request.reason.clone().unwrap_or_default(),
            },
            _ => Decision::Pending { request_id },
        })
    }
}

/// The newest certificate of `login` that is neither revoked nor expired.
pub(crate) async fn valid_certificate<C: ConnectionTrait>(
    conn: &C,
    login: &str,
    now: DateTime<Utc>,
) -> Result<Option<certificate::Model>, DbErr> {
    let now = store::millis(now);
    certificate::Entity::find()
        .filter(certificate::Column::Login.eq(login))
        .filter(certificate::Column::RevokedAt.is_null())
        .filter(certificate::Column::NotBefore.lte(now))
        .filter(certificate::Column::NotAfter.gt(now))
        .order_by_desc(certificate::Column::NotAfter)
        .one(conn)
        .await
}

/// Runs the checks; `Ok(Err(reason))` is a rejection.
async fn check<C: ConnectionTrait>(
    conn: &C,
    request: &RequestRow,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<Result<Checked, String>, Error> {
    if !settings.enabled {
        return Ok(Err(
            "the SES module is not enabled; an operator runs `sesflow ses enable`".into(),
        ));
    }
    let Some(user) = user::Entity::find_by_id(&request.login).one(conn).await? else {
        return Ok(Err(format!("no user `{}`", request.login)));
    };
    let checked = match consistent(&user, request) {
        Ok(checked) => checked,
        Err(reason) => return Ok(Err(reason)),
    };
    let existing = valid_certificate(conn, &user.login, now).await?;
    let replaced = match existing {
        Some(cert) if !request.replace => {
            return Ok(Err(format!(
                "`{}` holds a valid SES certificate (serial {}) until {}; \
                 ask for a replacement to get a new one",
                user.login,
                cert.serial,
                store::datetime(cert.not_after).format("%Y-%m-%d"),
            )))
        }
        Some(cert) => vec![cert.serial],
        None => Vec::new(),
    };
    if settings.two_factor {
        let channels = security::load(conn).await?.channels;
        if let Err(reason) = reachable(&user.login, &channels, &checked) {
            return Ok(Err(reason));
        }
    }
    Ok(Ok(Checked {
        replaced,
        ..checked
    }))
}

/// Compares the request's data with the user's, field by field.
fn consistent(user: &user::Model, request: &RequestRow) -> Result<Checked, String> {
    let full_name = match request
        .full_name
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    {
        None => user.full_name.clone(),
        Some(name) => {
            let name = users::check_name(name).map_err(|e| e.to_string())?;
            if !name.eq_ignore_ascii_case(&user.full_name) {
                return Err(format!(
                    "full name `{name}` differs from the user's `{}`",
                    user.full_name
                ));
            }
            user.full_name.clone()
        }
    };
    let email = merge(
        "e-mail",
        user.email.as_deref(),
        request.email.as_deref(),
        users::check_email,
    )?;
    let phone = merge(
        "phone",
        user.phone.as_deref(),
        request.phone.as_deref(),
        users::check_phone,
    )?;
    Ok(Checked {
        full_name,
        email,
        phone,
        replaced: Vec::new(),
    })
}

fn merge(
    field: &str,
    stored: Option<&str>,
    asked: Option<&str>,
    check: fn(&str) -> crate::error::Result<String>,
) -> Result<Option<String>, String> {
    let asked = asked.filter(|s| !s.trim().is_empty());
    let Some(asked) = asked else {
        return Ok(stored.map(str::to_owned));
    };
    let asked = check(asked).map_err(|e| e.to_string())?;
    match stored {
        Some(stored) if !stored.eq_ignore_ascii_case(&asked) => Err(format!(
            "{field} `{asked}` differs from the user's `{stored}`"
        )),
        _ => Ok(Some(asked)),
    }
}

fn reachable(login: &str, channels: &[Channel], checked: &Checked) -> Result<(), String> {
    let ok = channels.iter().any(|channel| match channel {
        Channel::Email => checked.email.is_some(),
        Channel::Sms => checked.phone.is_some(),
    });
    if ok {
        return Ok(());
    }
    let needs: Vec<&str> = channels
        .iter()
        .map(|c| match c {
            Channel::Email => "an e-mail address",
            Channel::Sms => "a phone number",
        })
        .collect();
    Err(format!(
        "two-factor authentication needs {} and `{login}` has none",
        needs.join(" or ")
    ))
}

fn build(
    service: &Service,
    authority: &ca::Authority,
    request: &RequestRow,
    checked: &Checked,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<(String, certificate::ActiveModel), Error> {
    let (serial_number, serial) = ca::new_serial();
    let (key, sealed) = ca::new_key(service.keys(), &super::key_context(&serial))?;
    let not_before = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
    let not_after = not_before + Duration::days(settings.validity_days.max(1).into());
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, checked.full_name.as_str());
    name.push(
        DnType::CustomDnType(vec![0, 9, 2342, 19200300, 100, 1, 1]),
        request.login.as_str(),
    );
    if let Some(email) = &checked.email {
        let ia5 = email.clone().try_into()?;
        name.push(
            DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]),
            DnValue::Ia5String(ia5),
        );
        params.subject_alt_names = vec![SanType::Rfc822Name(email.clone().try_into()?)];
    }
    params.distinguished_name = name;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::EmailProtection];
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(serial_number);
    params.not_before = ca::offset_time(not_before);
    params.not_after = ca::offset_time(not_after);
    let cert = params.signed_by(&key, &authority.issuer, &authority.key)?;
    let row = certificate::ActiveModel {
        serial: Set(serial.clone()),
        login: Set(request.login.clone()),
        subject: Set(format!("CN={}, UID={}", checked.full_name, request.login)),
        email: Set(checked.email.clone()),
        phone: Set(checked.phone.clone()),
        certificate: Set(cert.der().to_vec()),
        key: Set(sealed),
        key_id: Set(service.keys().id().to_owned()),
        not_before: Set(store::millis(not_before)),
        not_after: Set(store::millis(not_after)),
        request_id: Set(request.id.clone()),
        revoked_at: Set(None),
        revocation_reason: Set(None),
    };
    Ok((serial, row))
}

/// Moves a pending request to `status`; false when it was not pending.
async fn close<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    status: &str,
    reason: Option<&str>,
    serial: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = cert_request::Entity::update_many()
        .col_expr(cert_request::Column::Status, Expr::value(status))
        .col_expr(
            cert_request::Column::Reason,
            Expr::value(reason.map(str::to_owned)),
        )
        .col_expr(
            cert_request::Column::Serial,
            Expr::value(serial.map(str::to_owned)),
        )
        .col_expr(
            cert_request::Column::DecidedAt,
            Expr::value(store::millis(now)),
        )
        .filter(cert_request::Column::Id.eq(id))
        .filter(cert_request::Column::Status.eq(PENDING))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Stores the contacts a request brought that the user lacked.
async fn fill_contacts<C: ConnectionTrait>(
    conn: &C,
    login: &str,
    checked: &Checked,
) -> Result<(), DbErr> {
    for (column, value) in [
        (user::Column::Email, &checked.email),
        (user::Column::Phone, &checked.phone),
    ] {
        if let Some(value) = value {
            user::Entity::update_many()
                .col_expr(column, Expr::value(value.clone()))
                .filter(user::Column::Login.eq(login))
                .filter(column.is_null())
                .exec(conn)
                .await?;
        }
    }
    Ok(())
}

async fn publish<C: ConnectionTrait>(
    conn: &C,
    request_id: &str,
    payload: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let event = Event {
        id: format!("{EVENT_KIND}/{request_id}"),
        kind: EVENT_KIND.to_owned(),
        key: request_id.to_owned(),
        payload,
    };
    events::publish(conn, &event, store::millis(now), None).await?;
    Ok(())
}
