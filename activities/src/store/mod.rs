//! The SES module's tables: entities, migrations and the helpers that sort
//! database errors at the module's edge.
//!
//! The module shares the engine's database. Its migrations are recorded in
//! their own table (`seaql_migrations_ses`) so that they live beside the
//! engine's without either one seeing the other's history.

pub mod entities;
mod migrations;

use sea_orm::{DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait;

pub use migrations::Migrator;

/// Brings the module's tables up to date in `db`, which the engine's
/// `sesflow_engine::store::open` has opened and migrated.
///
/// The migrations run in one transaction that holds the engine's migration
/// lock, so that several workers starting at once on one PostgreSQL
/// database do not create the same tables side by side.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    let txn = sesflow_engine::store::backend::begin_migration(db).await?;
    Migrator::up(&txn, None).await?;
    txn.commit().await
}

/// Whether `error` reports a unique or primary key violation.
pub fn is_conflict(error: &DbErr) -> bool {
    matches!(
        error.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// Milliseconds since the Unix epoch of `at`, the form times take in rows.
pub fn millis(at: chrono::DateTime<chrono::Utc>) -> i64 {
    at.timestamp_millis()
}

/// The time a row holds as `ms`, back as a UTC date and time.
pub fn datetime(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// The settings group `name`, or its default when it was never saved.
pub async fn load_setting<T, C>(conn: &C, name: &str) -> Result<T, DbErr>
where
    T: serde::de::DeserializeOwned + Default,
    C: sea_orm::ConnectionTrait,
{
    use sea_orm::EntityTrait;
    let Some(row) = entities::setting::Entity::find_by_id(name)
        .one(conn)
        .await?
    else {
        return Ok(T::default());
    };
    serde_json::from_value(row.value).map_err(|e| {
        DbErr::Custom(format!(
            "settings `{name}` in the store are unreadable: {e}"
        ))
    })
}

/// Saves the settings group `name`.
pub async fn save_setting<T, C>(
    conn: &C,
    name: &str,
    value: &T,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr>
where
    T: serde::Serialize,
    C: sea_orm::ConnectionTrait,
{
    use entities::setting;
    use sea_orm::{sea_query::OnConflict, EntityTrait, Set};
    let value = serde_json::to_value(value)
        .map_err(|e| DbErr::Custom(format!("settings `{name}` cannot be written: {e}")))?;
    let row = setting::ActiveModel {
        name: Set(name.to_owned()),
        value: Set(value),
        updated_at: Set(millis(now)),
    };
    setting::Entity::insert(row)
        .on_conflict(
            OnConflict::column(setting::Column::Name)
                .update_columns([setting::Column::Value, setting::Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}
