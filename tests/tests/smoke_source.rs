//! The source cluster of the stack: pg_cron preloaded, and the extension installed so that
//! CREATE EXTENSION works and its functions answer.

use e2e::{fresh_source_database, source_admin};

#[test]
fn extension_installs_and_answers() {
    let mut db = fresh_source_database("e2e_smoke_extension");
    db.batch_execute("CREATE EXTENSION pg2redshift").expect("CREATE EXTENSION pg2redshift");
    let version: String = db
        .query_one("SELECT redshift_export_version()", &[])
        .expect("call redshift_export_version()")
        .get(0);
    assert_eq!(
        version,
        format!("pg2redshift {} (bundle format {})", env!("CARGO_PKG_VERSION"), pg2redshift_bundle::FORMAT_VERSION)
    );
    let installed: String = db
        .query_one("SELECT extversion FROM pg_extension WHERE extname = 'pg2redshift'", &[])
        .expect("pg_extension row")
        .get(0);
    assert_eq!(installed, env!("CARGO_PKG_VERSION"));
}

#[test]
fn source_cluster_is_postgres_15_with_pg_cron() {
    let mut admin = source_admin();
    let version: i32 = admin
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .expect("server_version_num")
        .get(0);
    assert_eq!(version / 10000, 15, "the source cluster must be PostgreSQL 15");
    let preload: String = admin
        .query_one("SHOW shared_preload_libraries", &[])
        .expect("SHOW shared_preload_libraries")
        .get(0);
    assert!(preload.split(',').any(|lib| lib.trim() == "pg_cron"), "preload = {preload:?}");
    admin
        .batch_execute("CREATE EXTENSION IF NOT EXISTS pg_cron")
        .expect("pg_cron installs in cron.database_name");
}

/// The source decodes logically: a pgoutput slot read through the SQL interface without
/// consuming (peek) sees a committed insert, and a rolled-back one not at all.
#[test]
fn source_cluster_decodes_logically_through_pgoutput() {
    const DB: &str = "e2e_smoke_decoding";
    // A slot left by an earlier run would keep its database from being dropped.
    e2e::source_admin()
        .batch_execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'e2e_smoke_slot'")
        .expect("drop a leftover slot");
    let mut db = e2e::fresh_source_database(DB);
    let setting = |db: &mut postgres::Client, name: &str| -> String { db.query_one(&format!("SHOW {name}"), &[]).expect(name).get(0) };
    assert_eq!(setting(&mut db, "wal_level"), "logical");
    assert!(setting(&mut db, "max_replication_slots").parse::<i32>().expect("a number") >= 10);
    // Each its own transaction: a slot is not created in a transaction that wrote.
    for sql in [
        "CREATE TABLE decoded (id int PRIMARY KEY, body text)",
        "CREATE PUBLICATION e2e_smoke_pub FOR TABLE decoded",
        "SELECT pg_create_logical_replication_slot('e2e_smoke_slot', 'pgoutput')",
        "INSERT INTO decoded VALUES (1, 'kept')",
        "BEGIN; INSERT INTO decoded VALUES (2, 'rolled back'); ROLLBACK",
    ] {
        db.batch_execute(sql).unwrap_or_else(|e| panic!("{sql}: {}", e2e::describe(&e)));
    }
    let peek = "SELECT data FROM pg_logical_slot_peek_binary_changes('e2e_smoke_slot', NULL, NULL, \
                'proto_version', '1', 'publication_names', 'e2e_smoke_pub')";
    let messages: Vec<Vec<u8>> = db.query(peek, &[]).expect("peek").iter().map(|r| r.get(0)).collect();
    // Begin, Relation, Insert, Commit: the rolled-back transaction is not decoded.
    let kinds: String = messages.iter().filter_map(|m| m.first().map(|b| *b as char)).collect();
    assert_eq!(kinds, "BRIC", "{messages:?}");
    let insert = &messages[2];
    assert!(insert.windows(4).any(|w| w == b"kept"), "the inserted value travels as text: {insert:?}");
    // Peeking does not consume: the same changes again.
    assert_eq!(db.query(peek, &[]).expect("peek again").len(), messages.len());
    db.batch_execute("SELECT pg_drop_replication_slot('e2e_smoke_slot')").expect("drop the slot");
    drop(db);
    e2e::source_admin().batch_execute(&format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)")).expect("drop the test database");
}
