//! The event inbox: correlation, deduplication and buffering of early events.
//!
//! Anything outside an instance (the certificate service, an operator, a
//! remote system) talks to instances by putting events here. An event has an
//! id, a kind, a correlation key and a payload; an event whose id was seen
//! before is ignored, and an event that arrives before its instance waits
//! for it is kept until the wait begins or its time to live runs out.

use sea_orm::sea_query::{Expr, IntoCondition, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, JoinType, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};

use crate::store::entities::{event, wait};

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

/// Events not consumed and not expired at `now_ms`.
fn kept_at(now_ms: i64) -> Condition {
    use event::Column as C;
    Condition::all().add(C::ConsumedBy.is_null()).add(
        Condition::any()
            .add(C::ExpiresAt.is_null())
            .add(C::ExpiresAt.gt(now_ms)),
    )
}

/// Takes the oldest kept event of `kind` with `key` for `instance_id`: marks
/// it consumed, unless it expired or another consumer took it first.
pub async fn take<C: ConnectionTrait>(
    conn: &C,
    kind: &str,
    key: &str,
    instance_id: &str,
    now_ms: i64,
) -> Result<Option<event::Model>, DbErr> {
    use event::Column as C;
    let candidates = event::Entity::find()
        .filter(C::Kind.eq(kind))
        .filter(C::CorrelationKey.eq(key))
        .filter(kept_at(now_ms))
        .order_by_asc(C::ReceivedAt)
        .limit(4)
        .all(conn)
        .await?;
    for candidate in candidates {
        if consume(conn, &candidate.id, instance_id, now_ms).await? {
            return Ok(Some(candidate));
        }
    }
    Ok(None)
}

/// Marks event `id` consumed by `instance_id`; `false` when another consumer
/// took it first.
pub async fn consume<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    instance_id: &str,
    now_ms: i64,
) -> Result<bool, DbErr> {
    use event::Column as C;
    let result = event::Entity::update_many()
        .col_expr(C::ConsumedBy, Expr::value(instance_id))
        .col_expr(C::ConsumedAt, Expr::value(now_ms))
        .filter(C::Id.eq(id))
        .filter(C::ConsumedBy.is_null())
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// A kept event and the wait it matches, found by [`matches()`].
#[derive(Clone, Debug, PartialEq)]
pub struct Match {
    /// The event.
    pub event: event::Model,
    /// The waiting instance.
    pub instance_id: String,
    /// The waiting token.
    pub token_id: i64,
}

/// Kept, unexpired events that a registered wait matches: what the sweep
/// delivers when an event and its wait were committed side by side.
pub async fn matches<C: ConnectionTrait>(
    conn: &C,
    now_ms: i64,
    limit: u64,
) -> Result<Vec<Match>, DbErr> {
    use event::Column as C;
    let found = event::Entity::find()
        .select_also(wait::Entity)
        .join(
            JoinType::InnerJoin,
            event::Entity::belongs_to(wait::Entity)
                .from(C::Kind)
                .to(wait::Column::Kind)
                .on_condition(|event, wait| {
                    Expr::col((event, C::CorrelationKey))
                        .equals((wait, wait::Column::CorrelationKey))
                        .into_condition()
                })
                .into(),
        )
        .filter(kept_at(now_ms))
        .order_by_asc(C::ReceivedAt)
        .limit(limit)
        .all(conn)
        .await?;
    Ok(found
        .into_iter()
        .filter_map(|(event, wait)| {
            wait.map(|wait| Match {
                event,
                instance_id: wait.instance_id,
                token_id: wait.token_id,
            })
        })
        .collect())
}

/// The oldest waits for events of `kind` with `key`.
pub async fn waits_for<C: ConnectionTrait>(
    conn: &C,
    kind: &str,
    key: &str,
) -> Result<Vec<wait::Model>, DbErr> {
    wait::Entity::find()
        .filter(wait::Column::Kind.eq(kind))
        .filter(wait::Column::CorrelationKey.eq(key))
        .order_by_asc(wait::Column::CreatedAt)
        .limit(8)
        .all(conn)
        .await
}
