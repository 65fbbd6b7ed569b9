//! `pg_terminate_backend` during an export raises FATAL, which does not unwind: the export
//! cannot clean up, and its open multipart upload stays behind (as after a crash or a
//! postmaster restart). `redshift_export_cleanup` lists such leftovers (dry run by default) and
//! removes them, and never touches a committed export or anything younger than the given age.

use std::time::Duration;

use e2e::{S3, connect, describe, expect_sqlstate, export, export_database, source_database_url, unique_prefix, wait_for};

const DB: &str = "e2e_export_terminated";

/// `(kind, key, removed)` rows of a clean-up call.
fn cleanup(db: &mut postgres::Client, args: &str) -> Vec<(String, String, bool)> {
    let sql = format!("SELECT kind, key, removed FROM redshift_export_cleanup({args}) ORDER BY kind, key");
    db.query(&sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {}", describe(&e)))
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

#[test]
fn a_terminated_export_leaves_an_upload_that_cleanup_removes() {
    let mut db = export_database(DB);
    db.batch_execute(
        "CREATE TABLE big (id bigint PRIMARY KEY, a text, b text);
         INSERT INTO big SELECT g, md5(g::text) || md5((g + 1)::text), md5((g * 3)::text) FROM generate_series(1, 1500000) g;
         CREATE TABLE small (id int PRIMARY KEY);
         INSERT INTO small VALUES (1), (2);
         DROP ROLE IF EXISTS e2e_cleaner; DROP ROLE IF EXISTS e2e_outsider;
         CREATE ROLE e2e_cleaner LOGIN; GRANT pg2redshift_exporter TO e2e_cleaner;
         CREATE ROLE e2e_outsider LOGIN;",
    )
    .unwrap();
    let s3 = S3::stack();
    let prefix = unique_prefix("terminated");
    // A committed export under the same prefix, which the clean-up must leave alone.
    let committed = export(&mut db, &format!("redshift_export('small', prefix => '{prefix}')"));
    let committed_keys = s3.keys(&prefix);
    // part-00000.csv.zst, manifest.json, signature.json (the stack signs), bundle.json and the
    // export's export.json.
    assert_eq!(committed_keys.len(), 5, "{committed_keys:?}");

    let call = format!("SELECT * FROM redshift_export('big', prefix => '{prefix}')");
    let (tx, rx) = std::sync::mpsc::channel();
    let export_session = std::thread::spawn(move || {
        let mut own = connect(&source_database_url(DB));
        let pid: i32 = own.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
        tx.send(pid).unwrap();
        own.query(&call, &[]).map(|rows| rows.len())
    });
    let pid = rx.recv().expect("export session started");
    wait_for("a multipart upload to start", Duration::from_secs(120), || {
        (!s3.open_uploads(&prefix).is_empty()).then_some(())
    });
    let terminated: bool = db.query_one("SELECT pg_terminate_backend($1, 10000)", &[&pid]).unwrap().get(0);
    assert!(terminated);
    let outcome = export_session.join().expect("export thread");
    assert!(outcome.is_err(), "a terminated export returned rows");
    let uploads = s3.open_uploads(&prefix);
    assert!(!uploads.is_empty(), "FATAL does not unwind: the upload is expected to stay open");
    assert!(s3.keys(&prefix).iter().filter(|k| k.contains("public.big/")).all(|k| !k.ends_with("bundle.json")));

    // Only exporters may clean up, and only through a destination; nothing is young enough to
    // be a leftover at the default age.
    let mut outsider = connect(&source_database_url(DB).replace("postgres@", "e2e_outsider@"));
    expect_sqlstate(&mut outsider, "SELECT * FROM redshift_export_cleanup()", "42501");
    db.batch_execute(&format!(
        "SELECT redshift_destination_create('terminated', current_setting('pg2redshift.bucket'), ARRAY['public'], prefix => '{prefix}',
                                            endpoint => current_setting('pg2redshift.endpoint'), force_path_style => true);
         SELECT redshift_destination_grant('terminated', 'e2e_cleaner');"
    ))
    .unwrap();
    let mut cleaner = connect(&source_database_url(DB).replace("postgres@", "e2e_cleaner@"));
    expect_sqlstate(&mut cleaner, &format!("SELECT * FROM redshift_export_cleanup(prefix => '{prefix}')"), "42501");
    assert_eq!(cleanup(&mut cleaner, "destination => 'terminated'"), vec![]);
    // A younger folder may be another role's running export: below an hour is for superusers.
    expect_sqlstate(&mut cleaner, "SELECT * FROM redshift_export_cleanup(older_than => '59 minutes', destination => 'terminated')", "22023");

    // A dry run lists the upload and removes nothing.
    let listed = cleanup(&mut db, &format!("older_than => '0 seconds', prefix => '{prefix}'"));
    let upload_rows: Vec<_> = listed.iter().filter(|r| r.0 == "multipart upload").collect();
    assert_eq!(upload_rows.len(), uploads.len(), "{listed:?}");
    assert!(listed.iter().all(|r| !r.2), "a dry run removed something: {listed:?}");
    assert!(listed.iter().all(|r| !committed_keys.contains(&r.1)), "a committed file was listed: {listed:?}");
    assert_eq!(s3.open_uploads(&prefix), uploads);

    // Removing: the upload is aborted, uncommitted objects are deleted, the committed export stays.
    let removed = cleanup(&mut db, &format!("older_than => '0 seconds', dry_run => false, prefix => '{prefix}'"));
    assert_eq!(removed.iter().map(|r| (&r.0, &r.1)).collect::<Vec<_>>(), listed.iter().map(|r| (&r.0, &r.1)).collect::<Vec<_>>());
    assert!(removed.iter().all(|r| r.2));
    assert_eq!(s3.open_uploads(&prefix), Vec::<String>::new());
    assert_eq!(s3.keys(&prefix), committed_keys);
    assert_eq!(committed[0].rows, 2);
    expect_sqlstate(&mut db, "SELECT * FROM redshift_export_cleanup(older_than => '-1 day')", "22023");
}
