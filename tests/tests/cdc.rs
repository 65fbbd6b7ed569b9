//! Change streams on the real stack: a stream's first export is its base snapshot, later ones
//! batches of the changes since, each the final state per key in commit order with unchanged
//! TOASTed values marked, never read twice and never lost when an export fails after its batch
//! is in S3; starting is refused for tables whose changes could not be applied, and only stream
//! admins may start one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use e2e::redshift_csv::Field;
use e2e::{S3, count, describe, expect_sqlstate, export_database, fresh_target, loader, output_text, redshift, s3_bucket, source_database_url, text_rows, unique_prefix};
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
    stream_database_at(name, stream, &unique_prefix(name))
}

fn stream_database_at(name: &str, stream: &str, prefix: &str) -> postgres::Client {
    let mut db = export_database(name);
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
    let summary: Vec<[Option<String>; 4]> = rows.iter().map(|r| [r[0].clone(), r[2].clone(), r[4].clone(), r[5].clone()]).collect();
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        summary,
        [[s("U"), None, s("1"), s("one, \"quoted\"")], [s("D"), None, s("2"), None], [s("U"), None, s("6"), s("six")]]
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

    // Nothing new: no batch, and the slot holds no WAL of ours back (it moved to where the WAL
    // was flushed when the export began; other tests write WAL meanwhile).
    let flushed: String = db.query_one("SELECT pg_current_wal_flush_lsn()::text", &[]).expect("lsn").get(0);
    assert!(cdc_export(&mut db, "basic").is_empty());
    let status = db
        .query_one(
            "SELECT wal_status, (SELECT confirmed_flush_lsn >= $1::text::pg_lsn FROM pg_replication_slots WHERE slot_name = 'pg2redshift_basic'),
                    changes_exported, last_error FROM redshift_cdc_status() WHERE name = 'basic'",
            &[&flushed],
        )
        .expect("status");
    assert_eq!(status.get::<_, Option<String>>(0).as_deref(), Some("reserved"));
    assert_eq!(status.get::<_, Option<bool>>(1), Some(true), "an idle run moves the slot on");
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

/// No position of `stream` in the loader's history, so a test can run again.
fn forget_stream(stream: &str) {
    let mut rs = redshift();
    let exists: i64 = rs
        .query_one("SELECT count(*) FROM pg_tables WHERE schemaname = 'pg2redshift_loader' AND tablename = 'streams'", &[])
        .expect("history")
        .get(0);
    if exists > 0 {
        rs.execute("DELETE FROM pg2redshift_loader.streams WHERE stream = $1", &[&stream]).expect("forget");
    }
}

fn watch_once(prefix: &str) -> String {
    let out = loader().args(["watch", "--once", &format!("s3://{}/{prefix}", s3_bucket())]).output().expect("run redshift-load");
    let text = output_text(&out);
    assert!(out.status.success(), "watch failed: {text}");
    text
}

const SOURCE_ROWS: &str = "SELECT t.id::text, t.body, t.n::text, md5(t.big) FROM t ORDER BY t.id";

fn target_rows(schema: &str) -> Vec<Vec<Option<String>>> {
    text_rows(&mut redshift(), &format!("SELECT t.id::text, t.body, t.n::text, md5(t.big) FROM {schema}.t t ORDER BY t.id"))
}

/// Panics with the first rows that differ (the tables are large).
fn assert_same(target: &[Vec<Option<String>>], source: &[Vec<Option<String>>], context: &str) {
    use std::collections::BTreeSet;
    let (t, s): (BTreeSet<_>, BTreeSet<_>) = (target.iter().collect(), source.iter().collect());
    let only_target: Vec<_> = t.difference(&s).take(5).collect();
    let only_source: Vec<_> = s.difference(&t).take(5).collect();
    assert!(
        only_target.is_empty() && only_source.is_empty() && target.len() == source.len(),
        "Redshift has {} rows, the source {}; only in Redshift: {only_target:?}; only in the source: {only_source:?}\n{context}",
        target.len(),
        source.len()
    );
}

/// Writes to `t` from another session until told to stop: inserts, updates of a TOASTed row's
/// other columns, deletes.
fn writer(stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut db = e2e::connect(&source_database_url("e2e_cdc_apply"));
        let mut i = 0u64;
        while !stop.load(Ordering::Relaxed) {
            i += 1;
            let id = 1000 + i as i64;
            db.batch_execute(&format!(
                "INSERT INTO t (id, body, n, big) VALUES ({id}, 'w{i}', {i}, {BIG}); UPDATE t SET n = n + 1 WHERE id = {};
                 DELETE FROM t WHERE id = {};",
                id - 1,
                id - 5
            ))
            .expect("write");
        }
        i
    })
}

#[test]
fn changes_apply_in_redshift_in_commit_order_and_end_equal_to_the_source() {
    let prefix = unique_prefix("e2e_cdc_apply");
    let mut db = stream_database_at("e2e_cdc_apply", "apply", &prefix);
    fresh_target("cdc_apply");
    forget_stream("apply");
    db.batch_execute(&format!(
        "CREATE TABLE t (id int PRIMARY KEY, body text, n numeric(12,2), big text);
         INSERT INTO t SELECT g, 'row ' || g, g, CASE WHEN g % 10 = 0 THEN {BIG} END FROM generate_series(1, 200) g;"
    ))
    .expect("table");

    // Writes run while the stream starts, while its base is taken and while it is exported
    // repeatedly: inserts of TOASTed values, updates of another column of those rows, deletes.
    let stop = Arc::new(AtomicBool::new(false));
    let busy = writer(stop.clone());
    std::thread::sleep(std::time::Duration::from_millis(200));
    db.batch_execute("SELECT * FROM redshift_cdc_start('apply', ARRAY['t']::regclass[], target_schema => 'cdc_apply')").expect("start");
    std::thread::sleep(std::time::Duration::from_millis(200));
    let base = cdc_export(&mut db, "apply");
    assert_eq!(base[0].1, "full");

    // Every kind of change, in several batches, beside the writer's (whose rows are 1000 up).
    db.batch_execute("UPDATE t SET body = 'toast kept' WHERE id = 10").expect("update beside a TOASTed value");
    cdc_export(&mut db, "apply");
    db.batch_execute("ALTER TABLE t ADD COLUMN extra int DEFAULT 5").expect("a column added while the writer writes");
    db.batch_execute("UPDATE t SET id = 100000 WHERE id = 20").expect("key change");
    db.batch_execute("UPDATE t SET body = 'moved, then changed', extra = 6 WHERE id = 100000").expect("update after the move");
    db.batch_execute("BEGIN; DELETE FROM t WHERE id < 100; ROLLBACK;").expect("rolled back");
    db.batch_execute("INSERT INTO t (id, body, n) SELECT g, 'bulk', g FROM generate_series(200001, 300000) g").expect("100,000 rows in one transaction");
    cdc_export(&mut db, "apply");
    cdc_export(&mut db, "apply");
    stop.store(true, Ordering::Relaxed);
    let written = busy.join().expect("writer");
    assert!(written > 3, "the writer ran ({written} rounds)");
    db.batch_execute("DELETE FROM t WHERE id BETWEEN 200001 AND 250000; UPDATE t SET n = -n WHERE id % 7 = 0 AND id < 1000").expect("bulk changes");
    // Until nothing is left (a batch ends where a column was added).
    let mut exports = 0;
    while !cdc_export(&mut db, "apply").is_empty() {
        exports += 1;
        assert!(exports < 10, "the stream keeps finding changes");
    }
    let out = watch_once(&prefix);
    let compare = "SELECT t.id::text, t.body, t.n::text, md5(t.big), t.extra::text FROM";
    assert_same(
        &text_rows(&mut redshift(), &format!("{compare} cdc_apply.t t ORDER BY t.id")),
        &text_rows(&mut db, &format!("{compare} t ORDER BY t.id")),
        &e2e::excerpt(&out, 3000),
    );
    let verified = loader()
        .args(["verify", "--schema", "cdc_apply", "--source", &source_database_url("e2e_cdc_apply")])
        .output()
        .expect("run redshift-load");
    assert!(verified.status.success(), "verify: {}", output_text(&verified));
    assert!(output_text(&verified).contains("all equal"), "{}", output_text(&verified));

    // A TRUNCATE, and rows after it, in one batch.
    db.batch_execute("TRUNCATE t; INSERT INTO t VALUES (1, 'after truncate', 1, NULL, 8)").expect("truncate");
    let last = cdc_export(&mut db, "apply");
    assert_eq!(last.len(), 1);
    watch_once(&prefix);
    assert_eq!(target_rows("cdc_apply"), [vec![Some("1".to_string()), Some("after truncate".into()), Some("1.00".into()), None]]);

    // Applied once: loading a batch again does nothing.
    let again = loader().args(["load", &last[0].2]).output().expect("run redshift-load");
    assert!(output_text(&again).contains("already loaded"), "{}", output_text(&again));
    db.batch_execute("SELECT redshift_cdc_stop('apply')").expect("stop");
}

#[test]
fn a_batch_is_refused_until_the_one_before_it_is_applied() {
    let prefix = unique_prefix("e2e_cdc_gap");
    let mut db = stream_database_at("e2e_cdc_gap", "gap", &prefix);
    fresh_target("cdc_gap");
    forget_stream("gap");
    db.batch_execute("CREATE TABLE t (id int PRIMARY KEY, body text, n numeric(12,2), big text)").expect("table");
    db.batch_execute("SELECT * FROM redshift_cdc_start('gap', ARRAY['t']::regclass[], target_schema => 'cdc_gap')").expect("start");
    let base = cdc_export(&mut db, "gap");
    db.batch_execute("INSERT INTO t VALUES (1, 'one', 1, NULL)").expect("insert");
    let first = cdc_export(&mut db, "gap");
    db.batch_execute("INSERT INTO t VALUES (2, 'two', 2, NULL)").expect("insert");
    let second = cdc_export(&mut db, "gap");
    let load = |url: &str| {
        let out = loader().args(["load", url]).output().expect("run redshift-load");
        (out.status.code(), output_text(&out))
    };
    let (code, text) = load(&second[0].2);
    assert_ne!(code, Some(0));
    assert!(text.contains("is not loaded here: load the base first"), "{text}");
    assert_eq!(load(&base[0].2).0, Some(0));
    let (code, text) = load(&second[0].2);
    assert_ne!(code, Some(0));
    assert!(text.contains("a gap: the changes between are missing"), "{text}");
    assert_eq!(load(&first[0].2).0, Some(0), "in order, it applies");
    assert_eq!(load(&second[0].2).0, Some(0));
    assert_eq!(target_rows("cdc_gap").len(), 2);

    // A full export of the table loaded over it, outside the stream: the stream's next batch
    // could be older than it, and is refused.
    let full: String = db
        .query_one(&format!("SELECT bundle_url FROM redshift_export('t', target_schema => 'cdc_gap', prefix => '{prefix}-full')"), &[])
        .expect("full export")
        .get(0);
    assert_eq!(load(&full).0, Some(0));
    db.batch_execute("INSERT INTO t VALUES (3, 'three', 3, NULL)").expect("insert");
    let third = cdc_export(&mut db, "gap");
    let (code, text) = load(&third[0].2);
    assert_ne!(code, Some(0));
    assert!(text.contains("was replaced by export"), "{text}");
    db.batch_execute("SELECT redshift_cdc_stop('gap')").expect("stop");
}

#[test]
fn s3_down_during_an_export_and_a_loader_killed_mid_apply_lose_and_repeat_nothing() {
    let prefix = unique_prefix("e2e_cdc_crash");
    let mut db = stream_database_at("e2e_cdc_crash", "crash", &prefix);
    fresh_target("cdc_crash");
    forget_stream("crash");
    db.batch_execute("CREATE TABLE t (id int PRIMARY KEY, body text, n numeric(12,2), big text); INSERT INTO t VALUES (1, 'one', 1, NULL)")
        .expect("table");
    db.batch_execute("SELECT * FROM redshift_cdc_start('crash', ARRAY['t']::regclass[], target_schema => 'cdc_crash')").expect("start");
    cdc_export(&mut db, "crash");
    watch_once(&prefix);

    // S3 does not answer: the export fails, commits nothing and leaves the slot where it was.
    db.batch_execute("INSERT INTO t SELECT g, 'bulk', g, NULL FROM generate_series(2, 400001) g").expect("changes");
    let before: String = db.query_one("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'pg2redshift_crash'", &[]).expect("slot").get(0);
    db.batch_execute("SET pg2redshift.endpoint = 'http://127.0.0.1:9'").expect("S3 gone");
    let failed = db.query("SELECT * FROM redshift_cdc_export('crash')", &[]).expect_err("an export without S3");
    assert!(describe(&failed).contains("S3"), "{}", describe(&failed));
    db.batch_execute("RESET pg2redshift.endpoint").expect("S3 back");
    let after: String = db.query_one("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'pg2redshift_crash'", &[]).expect("slot").get(0);
    assert_eq!(before, after, "a failed export does not move the slot");
    let status = db.query_one("SELECT last_error FROM redshift_cdc_status() WHERE name = 'crash'", &[]).expect("status");
    assert!(status.get::<_, Option<String>>(0).is_some_and(|e| e.contains("S3")), "the failure is in the stream's status");
    let batch = cdc_export(&mut db, "crash");
    assert_eq!(batch[0].3, 400_000, "every change, once");

    // The loader is killed while it COPYs the batch: Redshift keeps the table as it was.
    let mut backing = e2e::connect(&e2e::stack_setting("PG2RS_TARGET_PG_URL"));
    let mut child = loader().args(["load", &batch[0].2]).spawn().expect("spawn loader");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while count(&mut backing, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY \"cdc_crash\".\"t__pg2rs_chg\"%FROM STDIN'") == 0 {
        assert!(std::time::Instant::now() < deadline, "the COPY never started");
        assert!(child.try_wait().expect("wait").is_none(), "the loader finished before it could be killed");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    assert_eq!(count(&mut redshift(), "SELECT count(*) FROM cdc_crash.t"), 1, "the table stands as it was");
    // The next run waits for the abandoned transaction, then applies the batch, once.
    watch_once(&prefix);
    assert_eq!(count(&mut redshift(), "SELECT count(*) FROM cdc_crash.t"), 400_001);
    watch_once(&prefix);
    assert_eq!(count(&mut redshift(), "SELECT count(*) FROM cdc_crash.t"), 400_001, "applied once");
    db.batch_execute("SELECT redshift_cdc_stop('crash')").expect("stop");
}

#[test]
fn an_idle_stream_does_not_hold_back_the_wal_of_other_tables() {
    let mut db = stream_database("e2e_cdc_idle", "idle");
    db.batch_execute("CREATE TABLE quiet (id int PRIMARY KEY); CREATE TABLE busy (id int PRIMARY KEY, pad text)").expect("tables");
    db.batch_execute("SELECT * FROM redshift_cdc_start('idle', ARRAY['quiet']::regclass[])").expect("start");
    cdc_export(&mut db, "idle");
    // Plenty of WAL, none of it the stream's.
    for round in 0..5 {
        db.batch_execute(&format!(
            "INSERT INTO busy SELECT g, repeat('x', 500) FROM generate_series({0} * 20000 + 1, ({0} + 1) * 20000) g",
            round
        ))
        .expect("busy");
    }
    db.batch_execute("CHECKPOINT").expect("checkpoint");
    let written: String = db.query_one("SELECT pg_current_wal_lsn()::text", &[]).expect("lsn").get(0);
    let held_before: i64 =
        count(&mut db, &format!("SELECT pg_wal_lsn_diff('{written}', restart_lsn)::bigint FROM pg_replication_slots WHERE slot_name = 'pg2redshift_idle'"));
    assert!(held_before > 40_000_000, "the busy table wrote WAL the slot holds ({held_before} bytes)");
    assert!(cdc_export(&mut db, "idle").is_empty(), "nothing of the stream's");
    let confirmed: bool = db
        .query_one(&format!("SELECT confirmed_flush_lsn >= '{written}'::pg_lsn FROM pg_replication_slots WHERE slot_name = 'pg2redshift_idle'"), &[])
        .expect("slot")
        .get(0);
    assert!(confirmed, "an idle run confirms the WAL it read");
    // Where decoding must restart also depends on the transactions running anywhere in the
    // server (other tests' among them), recorded at checkpoints: once they are gone, an idle run
    // lets go of the busy table's WAL.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        db.batch_execute("CHECKPOINT").expect("checkpoint");
        cdc_export(&mut db, "idle");
        let held: i64 =
            count(&mut db, &format!("SELECT pg_wal_lsn_diff('{written}', restart_lsn)::bigint FROM pg_replication_slots WHERE slot_name = 'pg2redshift_idle'"));
        if held < 1_000_000 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "after idle runs the slot still holds {held} bytes of the busy table's WAL");
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    db.batch_execute("SELECT redshift_cdc_stop('idle')").expect("stop");
}

#[test]
fn a_stream_scheduled_with_pg_cron_is_applied_by_watch() {
    let db_name = "e2e_cdc_cron";
    let prefix = unique_prefix(db_name);
    let mut db = stream_database_at(db_name, "cron", &prefix);
    fresh_target("cdc_cron");
    forget_stream("cron");
    db.batch_execute("CREATE TABLE t (id int PRIMARY KEY, body text, n numeric(12,2), big text); INSERT INTO t SELECT g, 'v', g, NULL FROM generate_series(1, 50) g")
        .expect("table");
    db.batch_execute("SELECT * FROM redshift_cdc_start('cron', ARRAY['t']::regclass[], target_schema => 'cdc_cron')").expect("start");
    let mut cron = e2e::source_admin();
    cron.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_cron; SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = 'e2e-cdc'")
        .expect("pg_cron");
    let command = format!("SET pg2redshift.prefix = '{prefix}'; SELECT count(*) FROM redshift_cdc_export('cron')");
    let job: i64 = cron
        .query_one("SELECT cron.schedule_in_database('e2e-cdc', '* * * * *', $1, $2)", &[&command, &db_name])
        .unwrap_or_else(|e| panic!("schedule: {}", describe(&e)))
        .get(0);
    let exported = |db: &mut postgres::Client, kind: &str| -> bool {
        let id: Option<String> = db.query_one("SELECT last_export_id FROM redshift_cdc_status() WHERE name = 'cron'", &[]).expect("status").get(0);
        id.is_some_and(|id| (kind == "full") != id.starts_with("cdc-"))
    };
    e2e::wait_for("the scheduled base export", std::time::Duration::from_secs(150), || exported(&mut db, "full").then_some(()));
    db.batch_execute(&format!("UPDATE t SET body = 'changed' WHERE id = 1; DELETE FROM t WHERE id = 2; UPDATE t SET big = {BIG} WHERE id = 3"))
        .expect("changes");
    e2e::wait_for("a scheduled change export", std::time::Duration::from_secs(150), || exported(&mut db, "changes").then_some(()));
    cron.execute("SELECT cron.unschedule(CAST($1 AS bigint))", &[&job]).expect("unschedule");
    let failed: i64 = count(&mut cron, &format!("SELECT count(*) FROM cron.job_run_details WHERE jobid = {job} AND status = 'failed'"));
    assert_eq!(failed, 0, "a scheduled export failed (see cron.job_run_details)");
    watch_once(&prefix);
    assert_same(&target_rows("cdc_cron"), &text_rows(&mut db, SOURCE_ROWS), "after watch");
    let verified = loader().args(["verify", "--schema", "cdc_cron", "--source", &source_database_url(db_name)]).output().expect("verify");
    assert!(verified.status.success(), "verify: {}", output_text(&verified));
    db.batch_execute("SELECT redshift_cdc_stop('cron')").expect("stop");
}

#[test]
fn a_column_added_to_a_captured_table_arrives_in_redshift() {
    let prefix = unique_prefix("e2e_cdc_added");
    let mut db = stream_database_at("e2e_cdc_added", "added", &prefix);
    fresh_target("cdc_added");
    forget_stream("added");
    db.batch_execute("CREATE TABLE t (id int PRIMARY KEY, body text); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 3) g")
        .expect("table");
    db.batch_execute("SELECT * FROM redshift_cdc_start('added', ARRAY['t']::regclass[], target_schema => 'cdc_added')").expect("start");
    cdc_export(&mut db, "added");
    watch_once(&prefix);

    // Changes before and after the ALTER, exported together: the first batch ends before the
    // first change that has the new column, the next one adds it.
    db.batch_execute("UPDATE t SET body = 'before' WHERE id = 1").expect("before");
    db.batch_execute("ALTER TABLE t ADD COLUMN extra int DEFAULT 7").expect("add");
    db.batch_execute("INSERT INTO t VALUES (4, 'four', 9); UPDATE t SET body = 'after' WHERE id = 2").expect("after");
    let first = cdc_export(&mut db, "added");
    let second = cdc_export(&mut db, "added");
    assert_eq!((first.len(), second.len()), (1, 1), "two batches");
    let s3 = S3::stack();
    let change = s3.bundle(&second[0].2).change_file.expect("a change file");
    assert_eq!((change.added_columns, change.backfilled_columns), (vec!["extra".to_string()], vec!["extra".to_string()]));
    db.batch_execute("ALTER TABLE t ADD COLUMN note text; UPDATE t SET note = 'noted' WHERE id = 3").expect("a column without default");
    cdc_export(&mut db, "added");
    watch_once(&prefix);
    let source = text_rows(&mut db, "SELECT id::text, body, extra::text, note FROM t ORDER BY id");
    let target = text_rows(&mut redshift(), "SELECT id::text, body, extra::text, note FROM cdc_added.t ORDER BY id");
    assert_eq!(target, source);
    assert_eq!(source[0], [Some("1".to_string()), Some("before".into()), Some("7".into()), None], "rows that existed take the default");

    // A default computed row by row rewrites the table, which decoding does not see: refused.
    db.batch_execute("ALTER TABLE t ADD COLUMN r float8 DEFAULT random(); UPDATE t SET body = 'r' WHERE id = 1").expect("volatile");
    let refused = expect_sqlstate(&mut db, "SELECT * FROM redshift_cdc_export('added')", "55000");
    assert!(refused.contains("column r was added with a default PostgreSQL computes for each row"), "{refused}");
    db.batch_execute("SELECT redshift_cdc_stop('added')").expect("stop");
}
