//! `redshift-load` against the Redshift emulator with real exports from the extension: one
//! transaction per export, the swap keeps grants and views, readers never see an error or a
//! half-loaded export, failures change nothing, and an export is loaded once, never over a
//! newer one.

use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use e2e::output_text as text;
use e2e::{S3, count, describe, export_database, fresh_target, loader, redshift, stack_setting, unique_prefix};

fn load(args: &[&str]) -> Output {
    loader().arg("load").args(args).output().expect("run redshift-load")
}


fn must_load(url: &str) -> String {
    let out = load(&[url]);
    assert!(out.status.success(), "load {url} failed: {}", text(&out));
    text(&out)
}

/// Exports schema `schema` and returns the URL of one of its bundle.json files.
fn export_schema(src: &mut postgres::Client, schema: &str, prefix: &str) -> String {
    let rows = src
        .query(&format!("SELECT bundle_url FROM redshift_export_schema('{schema}', prefix => '{prefix}')"), &[])
        .unwrap_or_else(|e| panic!("export: {}", describe(&e)));
    rows[0].get(0)
}

#[test]
fn load_swaps_keeping_grants_and_views_once_and_never_older() {
    fresh_target("ld1");
    let mut src = export_database("e2e_loader_swap");
    src.batch_execute(
        "CREATE SCHEMA ld1; CREATE TABLE ld1.a (id int PRIMARY KEY, name text);
         INSERT INTO ld1.a SELECT g, 'n' || g FROM generate_series(1, 10) g;
         CREATE TABLE ld1.b (id int, v numeric(10,2)); INSERT INTO ld1.b VALUES (1, 1.5)",
    )
    .expect("source");
    let prefix = unique_prefix("loader-swap");
    let first = export_schema(&mut src, "ld1", &prefix);
    let out = must_load(&first);
    assert!(out.contains("loaded"), "{out}");

    let mut rs = redshift();
    let reader = stack_setting("PG2RS_REDSHIFT_READER_URL");
    let reader_name = reader.split("://").nth(1).and_then(|s| s.split(':').next()).expect("reader name").to_string();
    rs.batch_execute(&format!(
        "GRANT USAGE ON SCHEMA ld1 TO {reader_name}; GRANT SELECT ON ld1.a TO {reader_name};
         CREATE VIEW ld1.v_plain AS SELECT count(*) AS n FROM ld1.a;
         CREATE VIEW ld1.v_late AS SELECT count(*) AS n FROM ld1.a WITH NO SCHEMA BINDING;
         GRANT SELECT ON ld1.v_plain TO {reader_name};
         DROP SCHEMA IF EXISTS ld1_rep CASCADE; CREATE SCHEMA ld1_rep;
         CREATE VIEW ld1_rep.v_both AS SELECT p.n + (SELECT count(*) FROM ld1.b) AS n FROM ld1.v_plain p;
         GRANT USAGE ON SCHEMA ld1_rep TO {reader_name}; GRANT SELECT ON ld1_rep.v_both TO {reader_name}"
    ))
    .unwrap_or_else(|e| panic!("{}", describe(&e)));

    // The source changes, gains a column, and is exported again.
    src.batch_execute(
        "INSERT INTO ld1.a SELECT g, 'n' || g FROM generate_series(11, 25) g; DELETE FROM ld1.a WHERE id = 1;
         ALTER TABLE ld1.a ADD COLUMN added date; UPDATE ld1.a SET added = '2024-01-01' WHERE id = 2",
    )
    .expect("change");
    let second = export_schema(&mut src, "ld1", &prefix);
    // plan lists exactly the statements load then runs (owner, grants and views included),
    // with the role but never a secret.
    let planned = sql_events(&loader().args(["plan", "--json", &second]).output().expect("plan"));
    let plan = loader()
        .args(["plan", &second])
        .env_remove("REDSHIFT_LOAD_IAM_ROLE")
        .env("REDSHIFT_LOAD_ACCESS_KEY_ID", "AKIDSECRETLOOKING")
        .env("REDSHIFT_LOAD_SECRET_ACCESS_KEY", "very-secret")
        .output()
        .expect("plan");
    let p = text(&plan);
    assert!(plan.status.success() && p.contains("COPY \"ld1\".\"a__pg2rs_new\""), "{p}");
    assert!(!p.contains("very-secret") && !p.contains("AKIDSECRETLOOKING"), "{p}");
    let ran = sql_events(&load(&["--json", &second]));
    assert_eq!(planned, ran, "plan and load differ");
    for expected in ["OWNER TO", "GRANT SELECT ON \"ld1\".\"a\"", "CREATE VIEW \"ld1\".\"v_plain\"", "LOCK "] {
        assert!(ran.iter().any(|s| s.contains(expected)), "load ran no {expected}: {ran:#?}");
    }
    assert_eq!(count(&mut rs, "SELECT count(*) FROM ld1.a"), 24);
    assert_eq!(count(&mut rs, "SELECT n FROM ld1.v_plain"), 24, "ordinary view re-created on the new table");
    assert_eq!(count(&mut rs, "SELECT n FROM ld1.v_late"), 24, "late-binding view follows the name");
    assert_eq!(count(&mut rs, "SELECT count(added) FROM ld1.a"), 1, "the new column arrived");
    let mut r = e2e::connect(&reader);
    assert_eq!(count(&mut r, "SELECT count(*) FROM ld1.a"), 24, "grant carried over");
    assert_eq!(count(&mut r, "SELECT n FROM ld1.v_plain"), 24, "view grant carried over");
    // A view on that view and on the other table, in another schema: re-created once, on both
    // new tables, with its grant.
    assert_eq!(count(&mut r, "SELECT n FROM ld1_rep.v_both"), 25, "view on a view carried over");
    assert_eq!(ran.iter().filter(|s| s.starts_with("CREATE VIEW \"ld1_rep\".\"v_both\"")).count(), 1, "{ran:#?}");
    assert_eq!(count(&mut rs, "SELECT count(*) FROM pg_tables WHERE tablename LIKE '%pg2rs%'"), 0);

    // Again: nothing to do. The older one: refused, exit code 3.
    let again = load(&[&second]);
    assert!(again.status.success() && text(&again).contains("already loaded"), "{}", text(&again));
    let older = load(&[&first]);
    assert_eq!(older.status.code(), Some(3), "{}", text(&older));
    assert!(text(&older).contains("older export"), "{}", text(&older));
    assert_eq!(count(&mut rs, "SELECT count(*) FROM ld1.a"), 24);

    // verify: equal now; a change at the source shows up as a difference (exit 1).
    let source_url = e2e::source_database_url("e2e_loader_swap");
    let verify = loader().args(["verify", "--schema", "ld1", "--source", &source_url]).output().expect("verify");
    assert!(verify.status.success() && text(&verify).contains("all equal"), "{}", text(&verify));
    src.batch_execute("UPDATE ld1.a SET name = 'changed' WHERE id = 2").expect("update");
    let verify = loader().args(["verify", "--schema", "ld1", "--source", &source_url]).output().expect("verify");
    assert_eq!(verify.status.code(), Some(1), "{}", text(&verify));
    assert!(text(&verify).contains("ld1.a name checksum"), "{}", text(&verify));

    let status = loader().args(["status", "--json"]).output().expect("status");
    let s = text(&status);
    let export_id = second.rsplit('/').nth(1).expect("export id");
    assert!(s.contains("\"table\":\"ld1.a\"") && s.contains(export_id), "{s}");
}

/// The statements of `sql` events in a `--json` run, in order; of a load that was retried
/// after a serialization conflict, those of the attempt that committed.
fn sql_events(o: &Output) -> Vec<String> {
    assert!(o.status.success(), "{}", text(o));
    let events: Vec<serde_json::Value> =
        String::from_utf8_lossy(&o.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let last_attempt = events.iter().rposition(|v| v["event"] == "retry").map_or(0, |i| i + 1);
    events[last_attempt..]
        .iter()
        .filter(|v| v["event"] == "sql")
        .filter_map(|v| v["sql"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn a_bad_row_fails_the_load_explains_it_and_changes_nothing() {
    fresh_target("ld2");
    let mut src = export_database("e2e_loader_bad_row");
    src.batch_execute("CREATE SCHEMA ld2; CREATE TABLE ld2.t (id int, name text); INSERT INTO ld2.t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
        .expect("source");
    let prefix = unique_prefix("loader-bad");
    let good = export_schema(&mut src, "ld2", &prefix);
    must_load(&good);
    let mut rs = redshift();
    let reader = stack_setting("PG2RS_REDSHIFT_READER_URL");
    let reader_name = reader.split("://").nth(1).and_then(|s| s.split(':').next()).expect("reader name").to_string();
    rs.batch_execute(&format!(
        "CREATE VIEW ld2.v AS SELECT id FROM ld2.t; GRANT USAGE ON SCHEMA ld2 TO {reader_name}; GRANT SELECT ON ld2.t TO {reader_name}"
    ))
    .expect("view and grant");

    src.batch_execute("INSERT INTO ld2.t VALUES (4, 'd')").expect("insert");
    let bad = export_schema(&mut src, "ld2", &prefix);
    // Damage the data: the third line's id is not a number (the manifest keeps its size right).
    let s3 = S3::stack();
    let bundle = s3.bundle(&bad);
    let part = bundle.files[0].key.clone();
    let damaged: &[u8] = b"1,a\n2,b\nx3,c\n4,d\n";
    let body = match bundle.encoding.compression.as_str() {
        "zstd" => zstd::stream::encode_all(damaged, 1).expect("zstd"),
        _ => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut gz, damaged).expect("gzip");
            gz.finish().expect("gzip")
        }
    };
    let size = body.len();
    s3.put(&part, body);
    let manifest = String::from_utf8(s3.get(&bundle.manifest_key)).expect("manifest");
    let fixed = manifest.replace(
        &format!("\"content_length\":{}", bundle.files[0].compressed_bytes),
        &format!("\"content_length\":{size}"),
    );
    s3.put(&bundle.manifest_key, fixed.into_bytes());
    // And the bundle's sizes, which the loader compares with the manifest's and S3's.
    let mut resized = bundle.clone();
    resized.files[0].compressed_bytes = size as u64;
    resized.totals.compressed_bytes = resized.files.iter().map(|f| f.compressed_bytes).sum();
    s3.put(&e2e::split_url(&bad).1, resized.to_json().expect("bundle json").into_bytes());
    // Signed again with the stack's key, as if the exporter itself had written the bad row:
    // this test is about a COPY that fails, not about forgery.
    s3.sign_again(&bad);

    let out = load(&[&bad]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("Load into table"), "{t}");
    assert!(t.contains("line 3") && t.contains("column id") && t.contains("Invalid digit") && t.contains("'x3'"), "{t}");
    assert_eq!(count(&mut rs, "SELECT count(*) FROM ld2.t"), 3);
    assert_eq!(count(&mut rs, "SELECT count(*) FROM ld2.v"), 3);
    assert_eq!(count(&mut e2e::connect(&reader), "SELECT count(*) FROM ld2.t"), 3, "the grant still stands");
    assert_eq!(count(&mut rs, "SELECT count(*) FROM pg_tables WHERE tablename LIKE '%pg2rs%'"), 0);
}

#[test]
fn a_loader_killed_mid_copy_leaves_the_old_tables_and_the_next_run_succeeds() {
    fresh_target("ld3");
    let mut src = export_database("e2e_loader_killed");
    src.batch_execute("CREATE SCHEMA ld3; CREATE TABLE ld3.t (id int, pad text); INSERT INTO ld3.t VALUES (1, 'x')")
        .expect("source");
    let prefix = unique_prefix("loader-killed");
    let small = export_schema(&mut src, "ld3", &prefix);
    must_load(&small);
    src.batch_execute("INSERT INTO ld3.t SELECT g, repeat('p', 100) FROM generate_series(2, 1500000) g").expect("grow");
    let big = export_schema(&mut src, "ld3", &prefix);

    let mut backing = e2e::connect(&stack_setting("PG2RS_TARGET_PG_URL"));
    let mut child = loader().arg("load").arg(&big).spawn().expect("spawn loader");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let copying = count(
            &mut backing,
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY \"ld3\".\"t__pg2rs_new\"%FROM STDIN'",
        );
        if copying > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the COPY never started");
        assert!(child.try_wait().expect("wait").is_none(), "the loader finished before it could be killed");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    let mut rs = redshift();
    assert_eq!(count(&mut rs, "SELECT count(*) FROM ld3.t"), 1, "the old table stands");
    // The next run waits for the abandoned transaction to end, then loads.
    must_load(&big);
    assert_eq!(count(&mut rs, "SELECT count(*) FROM ld3.t"), 1_500_000);
}

/// Twenty loads of a two-table export while readers query both tables and a view joining them:
/// never an error, always one whole export (both tables from the same load).
#[test]
fn readers_see_old_or_new_never_an_error_or_a_mix() {
    fresh_target("ld4");
    let mut src = export_database("e2e_loader_readers");
    src.batch_execute(
        "CREATE SCHEMA ld4; CREATE TABLE ld4.r1 (id int PRIMARY KEY); CREATE TABLE ld4.r2 (id int PRIMARY KEY, r1_id int);
         INSERT INTO ld4.r1 SELECT generate_series(1, 100); INSERT INTO ld4.r2 SELECT g, g FROM generate_series(1, 100) g",
    )
    .expect("source");
    let prefix = unique_prefix("loader-readers");
    let url = export_schema(&mut src, "ld4", &prefix);
    must_load(&url);
    let mut rs = redshift();
    rs.batch_execute("CREATE VIEW ld4.joined AS SELECT count(*) AS n FROM ld4.r1 JOIN ld4.r2 ON r2.r1_id = r1.id")
        .expect("view");

    let stop = Arc::new(AtomicBool::new(false));
    // One reader counts both tables in one statement (the same snapshot: never one table new
    // and the other old); the other reads the join through the ordinary view.
    let queries = [
        "SELECT (SELECT count(*) FROM ld4.r1), (SELECT count(*) FROM ld4.r2)",
        "SELECT n, n FROM ld4.joined",
    ];
    let mut readers = Vec::new();
    for sql in queries {
        let stop = stop.clone();
        readers.push(std::thread::spawn(move || {
            let mut db = redshift();
            let mut seen = std::collections::BTreeSet::new();
            while !stop.load(Ordering::SeqCst) {
                let row = db
                    .query_one(sql, &[])
                    .unwrap_or_else(|e| panic!("a reader got an error from {sql}: {}", describe(&e)));
                let (a, b): (i64, i64) = (row.get(0), row.get(1));
                assert_eq!(a, b, "a reader saw a mix: {sql}");
                assert!((100..=120).contains(&a), "unexpected count {a}");
                seen.insert(a);
            }
            seen
        }));
    }
    for i in 1..=20 {
        src.batch_execute(&format!(
            "INSERT INTO ld4.r1 VALUES ({0}); INSERT INTO ld4.r2 VALUES ({0}, {0})",
            100 + i
        ))
        .expect("grow");
        let url = export_schema(&mut src, "ld4", &prefix);
        must_load(&url);
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::SeqCst);
    let mut seen = std::collections::BTreeSet::new();
    for r in readers {
        seen.extend(r.join().expect("reader"));
    }
    assert_eq!(count(&mut rs, "SELECT count(*) FROM ld4.r1"), 120);
    assert!(seen.len() > 2, "the readers saw only {seen:?}: they did not overlap the loads");
}

#[test]
fn watch_once_loads_each_export_once_oldest_first() {
    fresh_target("ld5");
    let mut src = export_database("e2e_loader_watch");
    src.batch_execute("CREATE SCHEMA ld5; CREATE TABLE ld5.t (id int)").expect("source");
    let prefix = unique_prefix("loader-watch");
    for n in 1..=3 {
        src.batch_execute(&format!("INSERT INTO ld5.t VALUES ({n})")).expect("insert");
        export_schema(&mut src, "ld5", &prefix);
        std::thread::sleep(Duration::from_millis(1100));
    }
    let watch_url = format!("s3://{}/{prefix}/", e2e::s3_bucket());
    let out = loader().args(["watch", "--once", &watch_url]).output().expect("watch");
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert_eq!(t.matches(": loaded").count(), 3, "{t}");
    let mut rs = redshift();
    assert_eq!(count(&mut rs, "SELECT count(*) FROM ld5.t"), 3);
    let again = loader().args(["watch", "--once", &watch_url]).output().expect("watch");
    assert!(again.status.success() && !text(&again).contains(": loaded"), "{}", text(&again));
}

#[test]
fn a_table_gone_from_the_source_schema_is_dropped_only_when_asked() {
    fresh_target("ld6");
    let mut src = export_database("e2e_loader_gone");
    src.batch_execute("CREATE SCHEMA ld6; CREATE TABLE ld6.keep (id int); CREATE TABLE ld6.gone (id int)").expect("source");
    let prefix = unique_prefix("loader-gone");
    must_load(&export_schema(&mut src, "ld6", &prefix));
    src.batch_execute("DROP TABLE ld6.gone; INSERT INTO ld6.keep VALUES (1)").expect("drop");
    must_load(&export_schema(&mut src, "ld6", &prefix));
    let mut rs = redshift();
    assert_eq!(count(&mut rs, "SELECT count(*) FROM pg_tables WHERE schemaname = 'ld6'"), 2, "left alone by default");
    src.batch_execute("INSERT INTO ld6.keep VALUES (2)").expect("insert");
    let url = export_schema(&mut src, "ld6", &prefix);
    let out = load(&["--drop-missing", &url]);
    assert!(out.status.success() && text(&out).contains("ld6.gone: dropped"), "{}", text(&out));
    assert_eq!(count(&mut rs, "SELECT count(*) FROM pg_tables WHERE schemaname = 'ld6'"), 1);
    assert_eq!(count(&mut rs, "SELECT count(*) FROM ld6.keep"), 2);
}

/// The documented pg_cron recipe: the schema export scheduled in the source, `watch --once`
/// picking up each committed export; a changed row, a new column and a deleted row arrive with
/// the next scheduled export, and verify passes after each load. The stack's pg_cron (Debian's
/// 1.4) schedules by the minute, so this test takes one to two minutes.
#[test]
fn scheduled_with_pg_cron_and_picked_up_by_watch() {
    fresh_target("ld7");
    let db = "e2e_loader_cron";
    let mut src = export_database(db);
    src.batch_execute(
        "CREATE SCHEMA ld7; CREATE TABLE ld7.t (id int PRIMARY KEY, v text);
         INSERT INTO ld7.t SELECT g, 'v' || g FROM generate_series(1, 50) g",
    )
    .expect("source");
    let prefix = unique_prefix("loader-cron");
    // pg_cron lives in the database named by cron.database_name (the stack's main database)
    // and runs the job in ours.
    let mut cron = e2e::source_admin();
    cron.batch_execute(
        "CREATE EXTENSION IF NOT EXISTS pg_cron;
         SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = 'e2e-redshift-export'",
    )
    .expect("pg_cron");
    let job: i64 = cron
        .query_one(
            "SELECT cron.schedule_in_database('e2e-redshift-export', '* * * * *', $1, $2)",
            &[&format!("SELECT count(*) FROM redshift_export_schema('ld7', prefix => '{prefix}')"), &db],
        )
        .unwrap_or_else(|e| panic!("schedule: {}", describe(&e)))
        .get(0);
    let wait_for_runs = |cron: &mut postgres::Client, after: i64| -> i64 {
        let deadline = Instant::now() + Duration::from_secs(150);
        loop {
            let row = cron
                .query_one(
                    "SELECT count(*) FILTER (WHERE status = 'succeeded'), count(*) FILTER (WHERE status = 'failed'), \
                     coalesce(max(runid) FILTER (WHERE status = 'succeeded'), 0) FROM cron.job_run_details WHERE jobid = $1 AND runid > $2",
                    &[&job, &after],
                )
                .expect("job_run_details");
            let (ok, failed, last): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
            assert_eq!(failed, 0, "a scheduled export failed (see cron.job_run_details)");
            if ok > 0 {
                return last;
            }
            assert!(Instant::now() < deadline, "pg_cron never ran the export");
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let watch_url = format!("s3://{}/{prefix}/", e2e::s3_bucket());
    let source_url = e2e::source_database_url(db);
    let watch_and_verify = || {
        let out = loader().args(["watch", "--once", &watch_url]).output().expect("watch");
        assert!(out.status.success(), "{}", text(&out));
        let v = loader().args(["verify", "--schema", "ld7", "--source", &source_url]).output().expect("verify");
        (out, v)
    };
    let first = wait_for_runs(&mut cron, 0);
    let (_, v) = watch_and_verify();
    assert!(v.status.success(), "{}", text(&v));
    let mut rs = redshift();
    assert_eq!(count(&mut rs, "SELECT count(*) FROM ld7.t"), 50);

    src.batch_execute(
        "UPDATE ld7.t SET v = 'changed' WHERE id = 1; DELETE FROM ld7.t WHERE id = 2;
         ALTER TABLE ld7.t ADD COLUMN extra int DEFAULT 7",
    )
    .expect("change");
    // The next run starts after the change.
    wait_for_runs(&mut cron, first);
    cron.execute("SELECT cron.unschedule(CAST($1 AS bigint))", &[&job]).expect("unschedule");
    let (_, v) = watch_and_verify();
    assert!(v.status.success(), "{}", text(&v));
    assert_eq!(count(&mut rs, "SELECT count(*) FROM ld7.t"), 49);
    assert_eq!(count(&mut rs, "SELECT count(*) FROM ld7.t WHERE v = 'changed' AND extra = 7"), 1);
}

/// The analytics scenario on a small size: the sample generator and the export through psql,
/// the load, the sessions query equal on both sides (with Redshift's integer EXTRACT avoided),
/// and verify.
#[test]
fn the_analytics_scenario_on_a_small_size() {
    fresh_target("analytics");
    let db = "e2e_analytics";
    drop(export_database(db));
    let url = e2e::source_database_url(db);
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let psql = |args: &[&str]| {
        let out = Command::new("psql").args(["-X", "-q", "-v", "ON_ERROR_STOP=1", &url]).args(args).current_dir(&repo).output().expect("psql");
        assert!(out.status.success(), "psql {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    psql(&["-v", "actions=20000", "-f", "examples/analytics_sample.sql"]);
    let exported = psql(&["-At", "-c", "SELECT bundle_url FROM redshift_export_schema('analytics')"]);
    let bundle = exported.lines().next().expect("a bundle url").to_string();
    must_load(&bundle);

    let sessions = |seconds: &str| {
        format!(
            "SELECT count(*), CAST(round(sum(total_s), 6) AS VARCHAR), CAST(round(sum(avg_s), 6) AS VARCHAR) \
             FROM (SELECT user_profile_id, sum(s) AS total_s, avg(s) AS avg_s FROM \
             (SELECT user_profile_id, session_id, {seconds} AS s FROM analytics.action GROUP BY 1, 2) x GROUP BY 1) u"
        )
    };
    let row = |db: &mut postgres::Client, sql: &str| -> (i64, String, String) {
        let r = db.query_one(sql, &[]).unwrap_or_else(|e| panic!("{sql}: {}", describe(&e)));
        (r.get(0), r.get(1), r.get(2))
    };
    let mut src = e2e::connect(&url);
    let mut rs = redshift();
    let source = row(&mut src, &sessions("extract(epoch FROM max(action_time) - min(action_time))"));
    let exact = row(&mut rs, &sessions("datediff(microsecond, min(action_time), max(action_time)) / 1000000.0"));
    assert_eq!(source, exact, "the sessions query differs");
    // The trap: the same text in Redshift loses the fractions of a second.
    let naive = row(&mut rs, &sessions("extract(epoch FROM max(action_time) - min(action_time))"));
    assert_ne!(source.1, naive.1);
    assert!(naive.1.ends_with(".000000"), "{naive:?}");

    let v = loader().args(["verify", "--schema", "analytics", "--source", &url]).output().expect("verify");
    assert!(v.status.success() && text(&v).matches("all equal").count() == 2, "{}", text(&v));
}

/// A bundle can load only its own files: a manifest forged to list another export's file, a
/// bundle.json that claims another table, SQL smuggled into a type, and a data file replaced
/// with other bytes are each refused before any statement runs, naming the reason, and the
/// target keeps what it held.
#[test]
fn forged_bundles_and_manifests_are_refused_before_anything_runs() {
    fresh_target("ld8");
    let mut src = export_database("e2e_loader_forged");
    src.batch_execute("CREATE SCHEMA ld8; CREATE TABLE ld8.t (id int, name text); INSERT INTO ld8.t VALUES (1, 'a'), (2, 'b')")
        .expect("source");
    let prefix = unique_prefix("loader-forged");
    let first = export_schema(&mut src, "ld8", &prefix);
    must_load(&first);
    let s3 = S3::stack();
    let old = s3.bundle(&first);
    let mut rs = redshift();

    // Each forgery starts from a fresh, valid export and changes one thing.
    let fresh = |src: &mut postgres::Client| {
        src.batch_execute("INSERT INTO ld8.t VALUES (3, 'c')").expect("insert");
        let url = export_schema(src, "ld8", &prefix);
        let bundle = s3.bundle(&url);
        (url, bundle)
    };
    let refused = |url: &str, reason: &str| {
        let out = load(&[url]);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(3), "{t}");
        assert!(t.contains("refused") && t.contains(reason), "expected {reason:?} in: {t}");
        assert!(!t.contains("COPY \""), "a statement ran: {t}");
    };

    // 1. The manifest lists the first export's data file (with its right size).
    let (url, bundle) = fresh(&mut src);
    let forged = pg2redshift_bundle::Manifest::of_files([(
        format!("s3://{}/{}", s3.bucket, old.files[0].key).as_str(),
        old.files[0].compressed_bytes,
    )]);
    s3.put(&bundle.manifest_key, serde_json::to_vec(&forged).expect("manifest json"));
    refused(&url, "not the bundle's file");

    // 2. bundle.json claims another table than its key says.
    let (url, bundle) = fresh(&mut src);
    let mut other = bundle.clone();
    other.source.table = "other".into();
    s3.put(&e2e::split_url(&url).1, other.to_json().expect("json").into_bytes());
    refused(&url, "does not match its content");

    // 3. SQL in a column type never reaches Redshift: the bundle does not parse.
    let (url, _) = fresh(&mut src);
    let key = e2e::split_url(&url).1;
    let json = String::from_utf8(s3.get(&key)).expect("bundle");
    s3.put(&key, json.replacen("\"INTEGER\"", "\"INTEGER); DROP TABLE ld8.t; --\"", 1).into_bytes());
    refused(&url, "DROP TABLE");

    // 4. A data file replaced with other bytes.
    let (url, bundle) = fresh(&mut src);
    s3.put(&bundle.files[0].key, b"not the export".to_vec());
    refused(&url, "bytes where the bundle says");

    assert_eq!(count(&mut rs, "SELECT count(*) FROM ld8.t"), 2, "the target keeps the first export");
    assert_eq!(count(&mut rs, "SELECT count(*) FROM pg_tables WHERE tablename LIKE '%pg2rs%'"), 0);
}
