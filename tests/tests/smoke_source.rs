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
