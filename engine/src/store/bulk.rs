//! Changing many instance rows in one statement, each still checked against
//! the revision it was read at.

use sea_orm::{ConnectionTrait, DbErr, Statement, Value};

use super::backend;

/// The new state of one instance row read at revision `rev`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceUpdate {
    /// The instance id.
    pub id: String,
    /// The revision it was read at; the row gets `rev + 1`.
    pub rev: i64,
    /// The new status.
    pub status: String,
    /// The new compact state.
    pub state: String,
    /// The outcome, once completed.
    pub outcome: Option<String>,
    /// The open incident's message.
    pub incident: Option<String>,
    /// The time of the change, ms since the Unix epoch.
    pub updated_at: i64,
}

/// Updates each row whose revision is still the one read, in one round
/// trip to the database (see [`backend::update_instances_sql`]).
/// Returns how many rows matched: fewer than given means another writer
/// changed an instance first.
pub async fn update_instances<C: ConnectionTrait>(
    conn: &C,
    rows: &[InstanceUpdate],
) -> Result<u64, DbErr> {
    if rows.is_empty() {
        return Ok(0);
    }
    let backend = conn.get_database_backend();
    let mut values = Vec::with_capacity(rows.len() * 7);
    for row in rows {
        values.extend([
            Value::from(row.status.clone()),
            Value::from(row.state.clone()),
            Value::from(row.outcome.clone()),
            Value::from(row.incident.clone()),
            Value::from(row.updated_at),
            Value::from(row.id.clone()),
            Value::from(row.rev),
        ]);
    }
    let sql = backend::update_instances_sql(backend, rows.len());
    let result = conn
        .execute(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(result.rows_affected())
}

#[cfg(test)]
mod tests {
    use sea_orm::DbBackend;

    use super::*;

    fn update(id: &str, rev: i64, state: &str) -> InstanceUpdate {
        InstanceUpdate {
            id: id.into(),
            rev,
            status: "active".into(),
            state: state.into(),
            outcome: None,
            incident: Some("why".into()),
            updated_at: 9,
        }
    }

    #[tokio::test]
    async fn a_row_read_at_an_old_revision_is_not_updated() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("bulk.db").display());
        let db = crate::store::open(&url).await.expect("opens");
        for id in ["a", "b"] {
            db.execute_unprepared(&format!(
                "INSERT INTO instance (id, process, version, status, rev, state, created_at, \
                 updated_at) VALUES ('{id}', 'p', 1, 'active', 1, '{{}}', 0, 0)"
            ))
            .await
            .expect("inserts");
        }
        let first = [update("a", 1, "A2"), update("b", 1, "B2")];
        assert_eq!(update_instances(&db, &first).await.expect("updates"), 2);
        // `a` was read before that change: its update matches nothing
        let stale = [update("a", 1, "A3"), update("b", 2, "B3")];
        assert_eq!(update_instances(&db, &stale).await.expect("updates"), 1);
        let rows = db
            .query_all(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT id, rev, state, incident FROM instance ORDER BY id",
            ))
            .await
            .expect("reads");
        let read = |ix: usize| -> (i64, String, String) {
            let row = &rows[ix];
            (
                row.try_get("", "rev").expect("rev"),
                row.try_get("", "state").expect("state"),
                row.try_get("", "incident").expect("incident"),
            )
        };
        assert_eq!(read(0), (2, "A2".into(), "why".into()));
        assert_eq!(read(1), (3, "B3".into(), "why".into()));
    }
}
