//! The event inbox: correlation, deduplication and buffering of early events.
//!
//! Anything outside an instance (the certificate service, an operator, a
//! remote system) talks to instances by putting events here. An event has an
//! id, a kind, a correlation key and a payload; an event whose id was seen
//! before is ignored, and an event that arrives before its instance waits
//! for it is kept until the wait begins or its time to live runs out.

use sea_orm::{sea_query::OnConflict, ConnectionTrait, DbErr, EntityTrait};
use serde::{Deserialize, Serialize};

use crate::store::entities::event;

/// An event on its way into the inbox.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique id chosen by the sender; the inbox applies an id once.
    pub id: String,
    /// The kind, such as `signature.issuance`.
    pub kind: String,
    /// The correlation key, such as a request id.
    pub key: String,
    /// The payload.
    pub payload: serde_json::Value,
}

/// Puts `event` into the inbox at `now_ms`, inside the caller's transaction
/// when `conn` is one. Returns `false` when an event with the same id was
/// there already (the delivery is then a no-op).
pub async fn publish<C: ConnectionTrait>(
    conn: &C,
    event: &Event,
    now_ms: i64,
    ttl_ms: Option<i64>,
) -> Result<bool, DbErr> {
    let row = event::ActiveModel {
        id: sea_orm::Set(event.id.clone()),
        kind: sea_orm::Set(event.kind.clone()),
        correlation_key: sea_orm::Set(event.key.clone()),
        payload: sea_orm::Set(event.payload.clone()),
        received_at: sea_orm::Set(now_ms),
        expires_at: sea_orm::Set(ttl_ms.map(|ttl| now_ms + ttl)),
        consumed_by: sea_orm::Set(None),
        consumed_at: sea_orm::Set(None),
    };
    let result = event::Entity::insert(row)
        .on_conflict(
            OnConflict::column(event::Column::Id)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(result == 1)
}
