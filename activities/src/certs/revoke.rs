//! Revocation: a certificate stops being valid, with an RFC 5280 reason.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use sea_orm::TransactionTrait;
use sea_orm::{sea_query::Expr, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use super::{Certificate, Error, Service};
use crate::audit;
use crate::store::{self, entities::certificate};

/// Why a certificate is revoked (RFC 5280, 5.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// No reason given.
    Unspecified,
    /// The private key is, or may be, known to someone else.
    KeyCompromise,
    /// The holder's name or affiliation changed.
    AffiliationChanged,
    /// A new certificate replaces it.
    Superseded,
    /// The holder no longer needs it.
    CessationOfOperation,
    /// The holder may no longer sign.
    PrivilegeWithdrawn,
}

const NAMES: [(&str, Reason); 6] = [
    ("unspecified", Reason::Unspecified),
    ("key-compromise", Reason::KeyCompromise),
    ("affiliation-changed", Reason::AffiliationChanged),
    ("superseded", Reason::Superseded),
    ("cessation-of-operation", Reason::CessationOfOperation),
    ("privilege-withdrawn", Reason::PrivilegeWithdrawn),
];

impl Reason {
    /// The reason as the CRL encodes it.
    pub fn crl_code(self) -> rcgen::RevocationReason {
        match self {
            Reason::Unspecified => rcgen::RevocationReason::Unspecified,
            Reason::KeyCompromise => rcgen::RevocationReason::KeyCompromise,
            Reason::AffiliationChanged => rcgen::RevocationReason::AffiliationChanged,
            Reason::Superseded => rcgen::RevocationReason::Superseded,
            Reason::CessationOfOperation => rcgen::RevocationReason::CessationOfOperation,
            Reason::PrivilegeWithdrawn => rcgen::RevocationReason::PrivilegeWithdrawn,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = NAMES
            .iter()
            .find(|(_, r)| r == self)
            .map_or("unspecified", |(n, _)| n);
        f.write_str(name)
    }
}

impl FromStr for Reason {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let wanted = s.trim().to_ascii_lowercase().replace(['_', ' '], "-");
        NAMES
            .iter()
            .find(|(n, _)| *n == wanted || n.replace('-', "") == wanted)
            .map(|(_, r)| *r)
            .ok_or_else(|| Error::Invalid {
                field: "reason",
                value: s.to_owned(),
                remedy: format!(
                    "use one of {}",
                    NAMES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                ),
            })
    }
}

impl Service {
    /// Revokes the certificate `serial` for `reason`.
    pub async fn revoke(
        &self,
        serial: &str,
        reason: Reason,
        now: DateTime<Utc>,
    ) -> Result<Certificate, Error> {
        let cert = self.get(serial).await?;
        if let Some(at) = cert.revoked_at {
            return Err(Error::AlreadyRevoked {
                serial: cert.serial,
                at: store::datetime(at),
            });
        }
        let txn = self.db.begin().await?;
        if !mark(&txn, &cert.serial, reason, now).await? {
            txn.rollback().await?;
            let at = self.get(&cert.serial).await?.revoked_at.unwrap_or_default();
            return Err(Error::AlreadyRevoked {
                serial: cert.serial,
                at: store::datetime(at),
            });
        }
        txn.commit().await?;
        tracing::info!(serial = %cert.serial, %reason, "certificate revoked");
        self.get(&cert.serial).await
    }
}

/// Marks `serial` revoked and records it in the audit log; false when it
/// was revoked already.
pub(crate) async fn mark<C: ConnectionTrait>(
    conn: &C,
    serial: &str,
    reason: Reason,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = certificate::Entity::update_many()
        .col_expr(
            certificate::Column::RevokedAt,
            Expr::value(store::millis(now)),
        )
        .col_expr(
            certificate::Column::RevocationReason,
            Expr::value(reason.to_string()),
        )
        .filter(certificate::Column::Serial.eq(serial))
        .filter(certificate::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    if result.rows_affected != 1 {
        return Ok(false);
    }
    let login = certificate::Entity::find_by_id(serial)
        .one(conn)
        .await?
        .map(|c| c.login);
    let detail = serde_json::json!({ "reason": reason.to_string() });
    audit::record(
        conn,
        now,
        audit::action::REVOKED,
        login.as_deref(),
        Some(serial),
        detail,
    )
    .await?;
    Ok(true)
}
