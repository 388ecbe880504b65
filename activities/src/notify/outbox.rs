//! The outbox: messages kept in the store instead of being sent, so that an
//! operator reads them with `sesflow outbox`.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use sea_orm::{ColumnTrait, QuerySelect};

use super::{Error, Message};
use crate::store::{self, entities::outbox};

/// A message in the outbox.
pub type Entry = outbox::Model;

/// Keeps `message` in the outbox.
pub async fn record<C: ConnectionTrait>(
    conn: &C,
    message: &Message,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let row = outbox::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        channel: Set(message.channel.to_string()),
        recipient: Set(message.to.clone()),
        subject: Set(Some(message.subject.clone()).filter(|s| !s.is_empty())),
        body: Set(message.body.clone()),
        created_at: Set(store::millis(now)),
    };
    row.insert(conn).await?;
    Ok(())
}

/// The last `limit` messages, newest last, to `to` when given.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    to: Option<&str>,
    limit: u64,
) -> Result<Vec<Entry>, Error> {
    let mut query = outbox::Entity::find()
        .order_by_desc(outbox::Column::CreatedAt)
        .order_by_desc(outbox::Column::Id)
        .limit(limit);
    if let Some(to) = to {
        query = query.filter(outbox::Column::Recipient.eq(to));
    }
    let mut rows = query.all(conn).await?;
    rows.reverse();
    Ok(rows)
}
