//! Who may export what, and what one export sees: EXECUTE only for the exporter role, the
//! caller's SELECT privileges and row-level security, secrets hidden from other roles, and one
//! snapshot for every table of a multi-table export.

use e2e::{S3, connect, export, export_database, expect_sqlstate, source_database_url, unique_prefix};

fn url_as(database: &str, role: &str) -> String {
    // Trust authentication on the local stack: any role name logs in.
    source_database_url(database).replacen("postgres@", &format!("{role}@"), 1)
}

#[test]
fn privileges_and_row_level_security_apply() {
    const DB: &str = "e2e_export_access";
    let mut admin = export_database(DB);
    admin
        .batch_execute(
            "DROP ROLE IF EXISTS e2e_outsider; DROP ROLE IF EXISTS e2e_analyst;
             CREATE ROLE e2e_outsider LOGIN; CREATE ROLE e2e_analyst LOGIN IN ROLE pg2redshift_exporter;
             CREATE TABLE secret (id int PRIMARY KEY, v text);
             INSERT INTO secret VALUES (1, 'x');
             CREATE TABLE orders (id int PRIMARY KEY, owner name, amount numeric(10,2));
             INSERT INTO orders VALUES (1, 'e2e_analyst', 10), (2, 'someone_else', 20), (3, 'e2e_analyst', 30);
             ALTER TABLE orders ENABLE ROW LEVEL SECURITY;
             CREATE POLICY own_rows ON orders FOR SELECT USING (owner = current_user);
             GRANT SELECT ON orders TO e2e_analyst;
             SELECT redshift_destination_create('e2e_access', current_setting('pg2redshift.bucket'), ARRAY['public'],
                                                prefix => 'e2e/access', endpoint => current_setting('pg2redshift.endpoint'), force_path_style => true);
             SELECT redshift_destination_grant('e2e_access', 'e2e_analyst');
             ALTER ROLE e2e_analyst SET pg2redshift.destination = 'e2e_access';",
        )
        .unwrap();

    // PUBLIC cannot run exports at all.
    let mut outsider = connect(&url_as(DB, "e2e_outsider"));
    let message = expect_sqlstate(&mut outsider, "SELECT * FROM redshift_export('orders')", "42501");
    assert!(message.contains("redshift_export"), "{message}");
    expect_sqlstate(&mut outsider, "SELECT * FROM redshift_export_schema('public')", "42501");
    expect_sqlstate(&mut outsider, "SELECT * FROM redshift_export_history", "42501");

    // A member of the exporter role still needs SELECT on the table.
    let mut analyst = connect(&url_as(DB, "e2e_analyst"));
    let message = expect_sqlstate(&mut analyst, "SELECT * FROM redshift_export('secret')", "42501");
    assert!(message.contains("secret"), "{message}");

    // Row-level security hides rows from the export exactly as from a SELECT.
    let r = &export(&mut analyst, "redshift_export('orders')")[0];
    assert_eq!(r.rows, 2);
    let s3 = S3::stack();
    let ids: Vec<String> = s3
        .rows(&s3.bundle(&r.bundle_url))
        .iter()
        .map(|row| row[0].as_varchar().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["1", "3"]);
    let by: String = admin
        .query_one("SELECT exported_by::text FROM redshift_export_history WHERE export_id = $1", &[&r.export_id])
        .unwrap()
        .get(0);
    assert_eq!(by, "e2e_analyst");

    // Only a superuser may point exports at another endpoint (or bucket, or prefix). The
    // refusal is recorded as the analyst's failed export.
    expect_sqlstate(&mut analyst, "SELECT * FROM redshift_export('orders', endpoint => 'http://127.0.0.1:1')", "42501");
    let row = admin
        .query_one("SELECT exported_by::text, error FROM redshift_export_history WHERE status = 'failed'", &[])
        .unwrap();
    let (by, error): (String, String) = (row.get(0), row.get(1));
    assert_eq!(by, "e2e_analyst");
    assert!(error.contains("(42501)") && error.contains("endpoint"), "{error}");

    // Credentials set by a superuser are invisible to other roles.
    analyst.batch_execute("SELECT redshift_export_version()").unwrap();
    expect_sqlstate(&mut analyst, "SHOW pg2redshift.s3_secret_access_key", "42501");
    let visible: i64 = analyst
        .query_one("SELECT count(*) FROM pg_settings WHERE name LIKE 'pg2redshift.s3_%'", &[])
        .unwrap()
        .get(0);
    assert_eq!(visible, 0);
    expect_sqlstate(&mut analyst, "SET pg2redshift.s3_secret_access_key = 'x'", "42501");
}

#[test]
fn wrong_credentials_fail_cleanly_without_showing_the_secret() {
    let mut db = export_database("e2e_export_credentials");
    db.batch_execute(
        "CREATE TABLE t (id int); INSERT INTO t VALUES (1);
         SET pg2redshift.s3_access_key_id = 'pg2redshift-local';
         SET pg2redshift.s3_secret_access_key = 'not-the-secret-4711';",
    )
    .unwrap();
    let prefix = unique_prefix("credentials");
    let message = expect_sqlstate(&mut db, &format!("SELECT * FROM redshift_export('t', prefix => '{prefix}')"), "58030");
    assert!(message.contains("SignatureDoesNotMatch") || message.contains("403"), "{message}");
    assert!(!message.contains("not-the-secret-4711"), "{message}");
    assert_eq!(S3::stack().keys(&prefix), Vec::<String>::new());
    // Half a key pair is a configuration error, not a silent fallback to other credentials.
    db.batch_execute("RESET pg2redshift.s3_secret_access_key").unwrap();
    expect_sqlstate(&mut db, "SELECT * FROM redshift_export('t')", "F0000");
}

#[test]
fn tables_of_one_export_share_one_snapshot() {
    const DB: &str = "e2e_export_snapshot";
    let mut db = export_database(DB);
    db.batch_execute(
        "CREATE SCHEMA shop;
         CREATE TABLE shop.orders (id bigint PRIMARY KEY, pad text);
         CREATE TABLE shop.order_lines (order_id bigint PRIMARY KEY, pad text);
         CREATE TABLE shop.skipped_tmp (id int);
         INSERT INTO shop.orders SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 300000) g;
         INSERT INTO shop.order_lines SELECT id, 'line' FROM shop.orders;",
    )
    .unwrap();
    // A writer adds an order and its line in one transaction, again and again, while the
    // export runs: any export that reads the two tables at different moments sees them differ.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let url = source_database_url(DB);
        std::thread::spawn(move || {
            let mut w = connect(&url);
            let mut n = 0u64;
            let mut id = 1_000_000i64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let mut tx = w.transaction().unwrap();
                tx.execute("INSERT INTO shop.orders VALUES ($1, 'new')", &[&id]).unwrap();
                tx.execute("INSERT INTO shop.order_lines VALUES ($1, 'new')", &[&id]).unwrap();
                tx.commit().unwrap();
                id += 1;
                n += 1;
            }
            n
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(200));
    let results = export(&mut db, "redshift_export_schema('shop', exclude => '%tmp')");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.join().expect("writer");
    assert!(written > 0, "the writer committed during the export");

    let names: Vec<&str> = results.iter().map(|r| r.table_name.as_str()).collect();
    assert_eq!(names, ["\"shop\".\"order_lines\"", "\"shop\".\"orders\""]);
    assert_eq!(results[0].export_id, results[1].export_id, "one export id");
    assert_eq!(results[0].rows, results[1].rows, "both tables from the same snapshot");
    assert!(results[0].rows >= 300000);

    let s3 = S3::stack();
    let bundles: Vec<_> = results.iter().map(|r| s3.bundle(&r.bundle_url)).collect();
    assert_eq!(bundles[0].source.snapshot, bundles[1].source.snapshot);
    assert_eq!(bundles[0].export_document, bundles[1].export_document, "both bundles name one export document");
    let doc = s3.document(&bundles[0]);
    assert_eq!(doc.tables.len(), 2);
    assert_eq!(doc.snapshot, bundles[0].source.snapshot);
    let ids = |b: &pg2redshift_bundle::Bundle| -> std::collections::BTreeSet<String> {
        s3.rows(b).iter().map(|row| row[0].as_varchar().unwrap().to_string()).collect()
    };
    assert_eq!(ids(&bundles[0]), ids(&bundles[1]));

    // The same through the array form; a table named twice is exported once.
    let r = export(&mut db, "redshift_export(ARRAY['shop.orders', 'shop.order_lines', 'shop.orders']::regclass[])");
    assert_eq!(r.len(), 2);
    expect_sqlstate(&mut db, "SELECT * FROM redshift_export_schema('shop', include => 'nothing%')", "42P01");
    expect_sqlstate(&mut db, "SELECT * FROM redshift_export_schema('no_such_schema')", "3F000");
    let message = expect_sqlstate(&mut db, "SELECT * FROM redshift_export('shop.nope')", "42P01");
    assert!(message.contains("shop.nope"), "{message}");
    expect_sqlstate(&mut db, "SELECT * FROM redshift_export(NULL::regclass)", "22004");
}

/// A misspelt bucket fails as it would on S3 (NoSuchBucket, in one line), and nothing is made.
#[test]
fn a_bucket_that_does_not_exist_fails_the_export() {
    let mut db = export_database("e2e_export_no_bucket");
    db.batch_execute("CREATE TABLE t (id int); INSERT INTO t VALUES (1)").unwrap();
    let bucket = format!("pg2redshift-misspelt-{}", std::process::id());
    let message = expect_sqlstate(&mut db, &format!("SELECT * FROM redshift_export('t', bucket => '{bucket}')"), "58030");
    assert!(message.contains("NoSuchBucket") && message.contains("the bucket does not exist"), "{message}");
    assert!(!message.contains('\n') && !message.contains("ServiceError"), "{message}");
    let s3 = e2e::s3_client();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let buckets = rt.block_on(s3.list_buckets().send()).expect("list buckets");
    assert!(!buckets.buckets().iter().any(|b| b.name() == Some(bucket.as_str())));
}
