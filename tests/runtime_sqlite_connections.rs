//! Every connection of the SQLite pool is opened the same way: WAL, commits
//! synced (FULL), the busy timeout, foreign keys, and the checkpoint
//! interval; not only the first connection the pool happens to hand out.

use sea_orm::{ConnectionTrait, DatabaseTransaction, Statement, TransactionTrait};

async fn pragma(txn: &DatabaseTransaction, name: &str) -> String {
    let row = txn
        .query_one(Statement::from_string(
            txn.get_database_backend(),
            format!("PRAGMA {name}"),
        ))
        .await
        .expect("reads a pragma")
        .expect("a pragma answers");
    row.try_get_by_index::<i64>(0)
        .map(|value| value.to_string())
        .or_else(|_| row.try_get_by_index::<String>(0))
        .expect("a pragma's value")
}

#[tokio::test]
async fn every_pooled_sqlite_connection_is_durable_and_tuned() {
    let dir = tempfile::tempdir().expect("directory");
    let url = format!("sqlite://{}", dir.path().join("sesflow.db").display());
    let db = sesflow_engine::store::open(&url).await.expect("opens");
    // Four open transactions hold the pool's four connections at once.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(db.begin().await.expect("begins"));
    }
    for (n, txn) in held.iter().enumerate() {
        let settings = [
            ("journal_mode", "wal"),
            ("synchronous", "2"),
            ("busy_timeout", "10000"),
            ("foreign_keys", "1"),
            ("wal_autocheckpoint", "10000"),
        ];
        for (name, expected) in settings {
            assert_eq!(pragma(txn, name).await, expected, "connection {n}: {name}");
        }
    }
}
