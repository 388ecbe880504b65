//! History rows are stored packed; rows a store of an earlier version
//! holds (plain JSON text) are read as they are after the upgrade, on
//! SQLite and on PostgreSQL (whose column becomes `bytea`).

mod common;

use std::sync::Arc;

use sea_orm::{ConnectionTrait, Statement};
use sea_orm_migration::MigratorTrait;
use sesflow_engine::history::Record;
use sesflow_engine::store::{self, packing, Migrator};

use common::{Recorder, TestDb, T0};

/// An instance and its one history row as the version before packing
/// wrote them.
const OLD_ID: &str = "0190aaaa-0000-7000-8000-000000000001";
const OLD_RECORDS: &str = r#"[{"type":"started","process":"approve","version":1,"vars":{},"now_ms":1893456000000,"seed":42},{"type":"entered","node":"start","token":1},{"type":"entered","node":"prepare","token":2,"from":"start"}]"#;

async fn old_rows_read_and_new_rows_pack(db: &TestDb) {
    let conn = store::connect(&db.url).await.expect("connects");
    Migrator::up(&conn, Some(3))
        .await
        .expect("migrates to the version before packing");
    let sql = format!(
        "INSERT INTO instance (id, process, version, status, rev, state, created_at, updated_at) \
         VALUES ('{OLD_ID}', 'approve', 1, 'active', 1, '{{}}', {T0}, {T0}); \
         INSERT INTO history (instance_id, rev, at, records) VALUES ('{OLD_ID}', 1, {T0}, '{OLD_RECORDS}')"
    );
    conn.execute_unprepared(&sql)
        .await
        .expect("old rows written");
    conn.close().await.expect("closes");

    let recorder = Arc::new(Recorder::default());
    let (engine, _clock) = common::engine(db, &recorder, &["approve"]).await;
    let lines = engine.history(OLD_ID).await.expect("old history reads");
    let names: Vec<&str> = lines.iter().map(|line| line.record.name()).collect();
    assert_eq!(names, ["started", "entered", "entered"], "{}", db.label);
    assert!(matches!(
        &lines[0].record,
        Record::Started { process, seed: 42, .. } if process == "approve"
    ));

    let started = engine
        .start("approve", None, Vec::new(), Some("ann".into()))
        .await
        .expect("starts");
    let rows = engine
        .db()
        .query_all(Statement::from_sql_and_values(
            engine.db().get_database_backend(),
            match db.label {
                "postgres" => "SELECT records FROM history WHERE instance_id = $1",
                _ => "SELECT records FROM history WHERE instance_id = ?",
            },
            [started.id.clone().into()],
        ))
        .await
        .expect("reads the row");
    let packed: Vec<u8> = rows[0].try_get("", "records").expect("bytes");
    assert_eq!(packed[0], 1, "{}: a new row is packed", db.label);
    let records = packing::unpack(&packed).expect("unpacks");
    let json_len = sesflow_engine::history::encode(&records).len();
    assert!(
        packed.len() * 2 < json_len,
        "{}: {} packed bytes for {json_len} bytes of JSON",
        db.label,
        packed.len()
    );
    let lines = engine
        .history(&started.id)
        .await
        .expect("new history reads");
    let names: Vec<&str> = lines.iter().map(|line| line.record.name()).collect();
    assert_eq!(
        names,
        ["started", "entered", "entered", "script", "entered", "waiting"],
        "{}",
        db.label
    );
}

#[tokio::test]
async fn history_rows_of_an_earlier_version_read_after_the_upgrade() {
    on_every_db!(old_rows_read_and_new_rows_pack);
}
