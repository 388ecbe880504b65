//! The audit log: issuance, rejection, revocation, signing and failed code
//! attempts. It names who and what, never a password, code or key.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::store::{self, entities::audit};

/// An entry of the log.
pub type Entry = audit::Model;

/// The actions the log records.
pub mod action {
    /// A certificate was issued.
    pub const ISSUED: &str = "certificate.issued";
    /// A certificate request was rejected.
    pub const REJECTED: &str = "certificate.rejected";
    /// A certificate was revoked.
    pub const REVOKED: &str = "certificate.revoked";
    /// A signature was made.
    pub const SIGNED: &str = "signature.created";
    /// A code was sent.
    pub const CODE_SENT: &str = "code.sent";
    /// A wrong code was entered.
    pub const CODE_FAILED: &str = "code.failed";
    /// A signing became void after too many wrong codes.
    pub const VOID: &str = "signing.void";
    /// A wrong password was entered.
    pub const PASSWORD_FAILED: &str = "password.failed";
}

/// Adds an entry.
pub async fn record<C: ConnectionTrait>(
    conn: &C,
    at: DateTime<Utc>,
    action: &str,
    login: Option<&str>,
    subject: Option<&str>,
    detail: serde_json::Value,
) -> Result<(), DbErr> {
    let row = audit::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        at: Set(store::millis(at)),
        action: Set(action.to_owned()),
        login: Set(login.map(str::to_owned)),
        subject: Set(subject.map(str::to_owned)),
        detail: Set(detail),
    };
    row.insert(conn).await?;
    Ok(())
}

/// The last `limit` entries, oldest first, about `login` when given.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    login: Option<&str>,
    limit: u64,
) -> Result<Vec<Entry>, DbErr> {
    let mut query = audit::Entity::find()
        .order_by_desc(audit::Column::At)
        .order_by_desc(audit::Column::Id)
        .limit(limit);
    if let Some(login) = login {
        query = query.filter(audit::Column::Login.eq(login));
    }
    let mut rows = query.all(conn).await?;
    rows.reverse();
    Ok(rows)
}
