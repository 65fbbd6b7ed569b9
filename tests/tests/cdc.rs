//! Change streams on the real stack: a stream's first export is its base snapshot, later ones
//! batches of the changes since, each the final state per key in commit order with unchanged
//! TOASTed values marked, never read twice and never lost when an export fails after its batch
//! is in S3; starting is refused for tables whose changes could not be applied, and only stream
//! admins may start one.

use e2e::redshift_csv::Field;
use e2e::{S3, describe, expect_sqlstate, export_database, unique_prefix};
use pg2redshift_bundle::BundleKind;

/// `(export_id, kind, bundle_url, rows)` of a `redshift_cdc_export(stream)` call.
fn cdc_export(db: &mut postgres::Client, stream: &str) -> Vec<(String, String, String, i64)> {
    db.query(&format!("SELECT export_id, kind, bundle_url, rows FROM redshift_cdc_export('{stream}')"), &[])
        .unwrap_or_else(|e| panic!("export {stream}: {}", describe(&e)))
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

fn text(field: &Field) -> Option<String> {
    match field {
        Field::Null => None,
        Field::Empty => Some(String::new()),
        Field::Text(t) => Some(t.clone()),
    }
}

/// A stream's database: its own prefix for the superuser's raw location, and no slot left over
/// from an earlier run of the test.
fn stream_database(name: &str, stream: &str) -> postgres::Client {
    let mut db = export_database(name);
    let prefix = unique_prefix(name);
    db.batch_execute(&format!(
        "SET pg2redshift.prefix = '{prefix}';
         SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots
         WHERE slot_name = 'pg2redshift_{stream}' AND NOT active"
    ))
    .expect("prefix");
    db
}

/// Random hex that compresses poorly: stored out of line (TOASTed).
const BIG: &str = "(SELECT string_agg(md5(g::text || random()::text), '') FROM generate_series(1, 300) g)";

#[test]
fn a_stream_exports_its_base_then_each_change_once() {
    let mut db = stream_database("e2e_cdc_basic", "basic");
    db.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, body text, n numeric(10,2), tags text[], big text);
         INSERT INTO t SELECT g, 'row ' || g, g * 1.5, ARRAY['a', 'b\"c'], NULL FROM generate_series(1, 5) g;",
    )
    .expect("table");
    let started = db.query_one("SELECT stream, slot_name, tables FROM redshift_cdc_start('basic', ARRAY['t']::regclass[])", &[]).expect("start");
    assert_eq!((started.get::<_, String>(0), started.get::<_, String>(1), started.get::<_, i32>(2)), ("basic".into(), "pg2redshift_basic".into(), 1));
    let s3 = S3::stack();

    let base = cdc_export(&mut db, "basic");
    assert_eq!(base.len(), 1);
    assert_eq!((base[0].1.as_str(), base[0].3), ("full", 5));
    let base_bundle = s3.bundle(&base[0].2);
    assert_eq!(base_bundle.kind, BundleKind::Full);
    let base_doc = s3.document(&base_bundle);
    let base_position = base_doc.stream.expect("a base names its stream");
    assert_eq!((base_position.stream.as_str(), base_position.base_export_id.as_str()), ("basic", base[0].0.as_str()));
    assert_eq!(base_position.from_lsn, base_position.to_lsn);

    db.batch_execute(&format!(
        "INSERT INTO t VALUES (6, 'six', 6, '{{}}', {BIG});
         UPDATE t SET body = 'one, \"quoted\"' WHERE id = 1;
         DELETE FROM t WHERE id = 2;"
    ))
    .expect("changes");
    // Its own query: one simple query's statements share a transaction.
    db.batch_execute("BEGIN; INSERT INTO t VALUES (99, 'never', 0, NULL, NULL); ROLLBACK;").expect("rolled back");
    let first = cdc_export(&mut db, "basic");
    assert_eq!(first.len(), 1);
    assert_eq!((first[0].1.as_str(), first[0].3), ("changes", 3));
    let bundle = s3.bundle(&first[0].2);
    assert_eq!(bundle.kind, BundleKind::Changes);
    let doc = s3.document(&bundle);
    let position = doc.stream.clone().expect("a batch names its stream");
    assert_eq!(position.from_lsn, base_position.to_lsn, "the first batch starts where the base left off");
    assert_eq!(position.base_export_id, base[0].0);
    assert_eq!(first[0].0, format!("cdc-basic-{}-{}", hex(&position.from_lsn), hex(&position.to_lsn)));
    let change_file = bundle.change_file.clone().expect("a change file layout");
    assert_eq!((change_file.key.as_slice(), change_file.truncated, change_file.captured), (&["id".to_string()][..], false, 3));
    let rows: Vec<Vec<Option<String>>> = s3.rows(&bundle).iter().map(|r| r.iter().map(text).collect()).collect();
    // op, lsn, fill, fill key id, then id, body, n, tags, big.
    let summary: Vec<(Option<String>, Option<String>, Option<String>, Option<String>)> =
        rows.iter().map(|r| (r[0].clone(), r[2].clone(), r[4].clone(), r[5].clone())).collect();
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        summary,
        [(s("U"), None, s("1"), s("one, \"quoted\"")), (s("D"), None, s("2"), None), (s("U"), None, s("6"), s("six"))]
    );
    assert_eq!(rows[0][7], s("[\"a\",\"b\\\"c\"]"), "arrays are encoded as in a full export");
    assert_eq!(rows[2][8].as_ref().map(String::len), Some(9600), "an inserted TOASTed value travels whole");

    // An update that leaves the TOASTed value alone, then a key change: the moved row takes
    // `big` from the target's row under its old key.
    db.batch_execute("UPDATE t SET n = 7 WHERE id = 6; UPDATE t SET id = 60 WHERE id = 6;").expect("move");
    let second = cdc_export(&mut db, "basic");
    let bundle = s3.bundle(&second[0].2);
    let position2 = s3.document(&bundle).stream.expect("stream");
    assert_eq!(position2.from_lsn, position.to_lsn, "batches chain");
    assert_eq!(bundle.change_file.as_ref().map(|c| c.fill_columns.clone()), Some(vec!["big".to_string()]));
    let rows: Vec<Vec<Option<String>>> = s3.rows(&bundle).iter().map(|r| r.iter().map(text).collect()).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0][0].clone(), rows[0][4].clone()), (s("D"), s("6")));
    assert_eq!(
        (rows[1][0].clone(), rows[1][2].clone(), rows[1][3].clone(), rows[1][4].clone(), rows[1][6].clone(), rows[1][8].clone()),
        (s("U"), s("00001"), s("6"), s("60"), s("7.00"), None)
    );

    // Nothing new: no batch, and the slot holds no WAL of ours back.
    assert!(cdc_export(&mut db, "basic").is_empty());
    let status = db
        .query_one("SELECT wal_status, unexported_wal_bytes::text, changes_exported, last_error FROM redshift_cdc_status() WHERE name = 'basic'", &[])
        .expect("status");
    assert_eq!(status.get::<_, Option<String>>(0).as_deref(), Some("reserved"));
    assert_eq!(status.get::<_, Option<String>>(1).as_deref(), Some("0"));
    assert_eq!(status.get::<_, i64>(2), 5);
    assert_eq!(status.get::<_, Option<String>>(3), None);

    db.batch_execute("SELECT redshift_cdc_stop('basic')").expect("stop");
    let slots: i64 = db.query_one("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pg2redshift_basic'", &[]).expect("slots").get(0);
    assert_eq!(slots, 0, "stopping drops the slot");
}

/// `4/788D2CA0` as the 16 hex digits of a batch id.
fn hex(lsn: &str) -> String {
    let (hi, lo) = lsn.split_once('/').expect("an LSN");
    format!("{:08X}{:08X}", u32::from_str_radix(hi, 16).expect("hex"), u32::from_str_radix(lo, 16).expect("hex"))
}

#[test]
fn a_batch_in_s3_whose_export_failed_afterwards_is_not_exported_again() {
    let mut db = stream_database("e2e_cdc_recover", "recover");
    db.batch_execute("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a');").expect("table");
    db.batch_execute("SELECT * FROM redshift_cdc_start('recover', ARRAY['t']::regclass[])").expect("start");
    cdc_export(&mut db, "recover");
    db.batch_execute("INSERT INTO t VALUES (2, 'b')").expect("insert");
    // The batch is committed in S3 and the slot has moved, but the stream's own record of it is
    // rolled back, as when the session dies before its transaction commits.
    db.batch_execute("BEGIN").expect("begin");
    let lost = cdc_export(&mut db, "recover");
    db.batch_execute("ROLLBACK").expect("rollback");
    assert_eq!(lost.len(), 1);
    db.batch_execute("INSERT INTO t VALUES (3, 'c')").expect("insert");
    let next = cdc_export(&mut db, "recover");
    assert_eq!(next.len(), 1);
    let s3 = S3::stack();
    let lost_position = s3.document(&s3.bundle(&lost[0].2)).stream.expect("stream");
    let next_bundle = s3.bundle(&next[0].2);
    let next_position = s3.document(&next_bundle).stream.expect("stream");
    assert_eq!(next_position.from_lsn, lost_position.to_lsn, "the next batch follows the one whose record was lost");
    let ids: Vec<Option<String>> = s3.rows(&next_bundle).iter().map(|r| text(&r[4])).collect();
    assert_eq!(ids, [Some("3".to_string())], "only the new change, once");
    db.batch_execute("SELECT redshift_cdc_stop('recover')").expect("stop");
}

#[test]
fn streams_refuse_what_they_could_not_apply_and_who_may_not_start_them() {
    let mut db = stream_database("e2e_cdc_refusals", "refusals");
    db.batch_execute(
        "DROP ROLE IF EXISTS e2e_cdc_exporter;
         CREATE ROLE e2e_cdc_exporter LOGIN IN ROLE pg2redshift_exporter;
         CREATE TABLE keyed (id int PRIMARY KEY, v text);
         CREATE TABLE heap (v text);
         CREATE TABLE gen (id int PRIMARY KEY, v int, w int GENERATED ALWAYS AS (v * 2) STORED);
         CREATE UNLOGGED TABLE scratch (id int PRIMARY KEY);
         GRANT SELECT ON keyed TO e2e_cdc_exporter;",
    )
    .expect("tables");
    let no_key = expect_sqlstate(&mut db, "SELECT redshift_cdc_start('refusals', ARRAY['keyed', 'heap']::regclass[])", "55000");
    assert!(no_key.contains("table \"public\".\"heap\" cannot be captured: it has no primary key"), "{no_key}");
    let generated = expect_sqlstate(&mut db, "SELECT redshift_cdc_start('refusals', ARRAY['gen']::regclass[])", "55000");
    assert!(generated.contains("generated columns"), "{generated}");
    let unlogged = expect_sqlstate(&mut db, "SELECT redshift_cdc_start('refusals', ARRAY['scratch']::regclass[])", "55000");
    assert!(unlogged.contains("unlogged"), "{unlogged}");
    let name = expect_sqlstate(&mut db, "SELECT redshift_cdc_start('Bad-Name', ARRAY['keyed']::regclass[])", "42602");
    assert!(name.contains("not a valid stream name"), "{name}");
    let after_write = expect_sqlstate(
        &mut db,
        "WITH w AS (INSERT INTO keyed VALUES (1, 'x') RETURNING 1) SELECT redshift_cdc_start('refusals', ARRAY['keyed']::regclass[]) FROM w",
        "25001",
    );
    assert!(after_write.contains("before its transaction writes anything"), "{after_write}");
    let slots: i64 =
        db.query_one("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pg2redshift_refusals'", &[]).expect("slots").get(0);
    assert_eq!(slots, 0, "no refused start leaves a slot behind");

    // An exporter may export streams (with the destination's rights), not start them.
    db.batch_execute("SET ROLE e2e_cdc_exporter").expect("set role");
    let denied = expect_sqlstate(&mut db, "SELECT redshift_cdc_start('refusals', ARRAY['keyed']::regclass[])", "42501");
    assert!(denied.contains("permission denied for function redshift_cdc_start"), "{denied}");
    db.batch_execute("RESET ROLE").expect("reset role");
    db.batch_execute("SELECT * FROM redshift_cdc_start('refusals', ARRAY['keyed']::regclass[])").expect("start");
    let twice = expect_sqlstate(&mut db, "SELECT redshift_cdc_start('refusals', ARRAY['keyed']::regclass[])", "42710");
    assert!(twice.contains("already exists"), "{twice}");
    db.batch_execute("SET ROLE e2e_cdc_exporter").expect("set role");
    let no_destination = expect_sqlstate(&mut db, "SELECT * FROM redshift_cdc_export('refusals')", "42501");
    assert!(no_destination.contains("without a destination"), "{no_destination}");
    db.batch_execute("RESET ROLE; SELECT redshift_cdc_stop('refusals')").expect("stop");
    let unknown = expect_sqlstate(&mut db, "SELECT * FROM redshift_cdc_export('refusals')", "42704");
    assert!(unknown.contains("does not exist"), "{unknown}");
}
