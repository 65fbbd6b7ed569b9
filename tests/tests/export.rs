//! redshift_export() against the real stack: values survive the trip through gzipped CSV in S3
//! exactly (read back by Redshift's documented CSV rules), values Redshift cannot hold are
//! refused or changed only under an explicit policy, and a refused export leaves nothing behind.

use e2e::redshift_csv::Field;
use e2e::{S3, describe, expect_sqlstate, export, export_database, split_url, unique_prefix};

fn text(field: &Field) -> Option<&str> {
    field.as_varchar()
}

#[test]
fn every_value_comes_back_exactly() {
    let mut db = export_database("e2e_export_roundtrip");
    // The caller's own settings must not leak into the files.
    db.batch_execute(
        "SET DateStyle = 'SQL, DMY'; SET TimeZone = 'America/New_York'; SET IntervalStyle = 'sql_standard';
         SET extra_float_digits = -3; SET bytea_output = 'escape';
         CREATE TABLE nasty (
             id int PRIMARY KEY, t text, b bytea, j json, jb jsonb, n numeric(12,3), f float8, r real,
             ts timestamp, tstz timestamptz, d date, tm time, ttz timetz, iv interval, u uuid,
             arr text[], bo bool, mo money, big numeric, ch char(3), rng int4range);",
    )
    .unwrap();
    let long_ascii = "x".repeat(65535);
    let long_utf8 = "😀".repeat(16383) + "abc"; // 65535 bytes
    let texts: Vec<Option<String>> = vec![
        Some("plain".into()),
        Some(String::new()),
        None,
        Some("line\nfeed".into()),
        Some("carriage\rreturn".into()),
        Some("crlf\r\nend\r\n".into()),
        Some("comma, \"quotes\", \"\"".into()),
        Some("back\\slash \\\\ \\n".into()),
        Some("\\N".into()),
        Some("NULL".into()),
        Some("4-byte 😀𝄞 and é".into()),
        Some("  padded  ".into()),
        Some("\"".into()),
        Some(",".into()),
        Some(long_ascii),
        Some(long_utf8),
    ];
    for (i, t) in texts.iter().enumerate() {
        db.execute("INSERT INTO nasty (id, t) VALUES ($1, $2)", &[&(i as i32), t]).unwrap();
    }
    db.batch_execute(
        r#"INSERT INTO nasty VALUES (100, 'all types', '\x00ff0a2c22', '{"b" : 1, "a": [1, 2.50, "x y"], "a": null}',
             '{"k": "v\"q", "n": 1.50}', -123456789.125, 0.1, 1.5e-7,
             '2024-02-29 23:59:59.123456', '2024-01-01 12:00:00+02', '0001-01-01', '24:00:00', '12:34:56+14:59',
             '1 year 2 months 3 days 04:05:06.5', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
             '{"a,b","c\"d",NULL,""}', true, '1234.56', 12345678901234567890123456.0123456789, 'ab', '[1,5)');
           INSERT INTO nasty (id, f, tstz, mo) VALUES (101, '-0', '1999-12-31 23:59:59.999999-11:30', '-0.01');"#,
    )
    .unwrap();

    let prefix = unique_prefix("roundtrip");
    let result = export(&mut db, &format!("redshift_export('nasty', prefix => '{prefix}')"));
    assert_eq!(result.len(), 1);
    let r = &result[0];
    assert_eq!(r.table_name, "\"public\".\"nasty\"");
    assert_eq!(r.rows, texts.len() as i64 + 2);
    assert_eq!(r.changed_values, 0);
    assert!(r.bundle_url.contains(&format!("/{prefix}/e2e_export_roundtrip/public.nasty/{}/bundle.json", r.export_id)));

    // The caller's settings are back once the export returns.
    let tz: String = db.query_one("SHOW TimeZone", &[]).unwrap().get(0);
    assert_eq!(tz, "America/New_York");
    let ds: String = db.query_one("SHOW DateStyle", &[]).unwrap().get(0);
    assert_eq!(ds, "SQL, DMY");

    let s3 = S3::stack();
    let bundle = s3.bundle(&r.bundle_url);
    assert_eq!(bundle.export_id, r.export_id);
    assert_eq!(bundle.totals.rows as i64, r.rows);
    assert_eq!(bundle.totals.compressed_bytes as i64, r.bytes_gzip);
    assert_eq!(bundle.totals.raw_bytes as i64, r.bytes);
    assert_eq!(bundle.columns.len(), 21);
    assert_eq!(bundle.format_version, 2);
    assert!(bundle.export.is_empty(), "format 2 lists the export's tables in its document only");
    let doc = s3.document(&bundle);
    assert_eq!((doc.export_id.as_str(), doc.tables.len()), (r.export_id.as_str(), 1));
    assert_eq!(doc.tables[0].bundle_key, split_url(&r.bundle_url).1);
    assert_eq!(bundle.source.table, "nasty");
    assert!(bundle.create_table_sql.starts_with("CREATE TABLE \"public\".\"nasty\""));
    assert!(bundle.changes.columns.is_empty());
    let rows = s3.rows(&bundle);
    assert_eq!(rows.len() as i64, r.rows);
    let by_id = |id: i32| {
        rows.iter()
            .find(|row| row[0] == Field::Text(id.to_string()))
            .unwrap_or_else(|| panic!("row {id} missing"))
    };

    for (i, expected) in texts.iter().enumerate() {
        let row = by_id(i as i32);
        assert_eq!(row.len(), 21);
        assert_eq!(text(&row[1]), expected.as_deref(), "text of row {i}");
        // Empty strings are quoted so that they are not mistaken for NULL by other types.
        if expected.as_deref() == Some("") {
            assert_eq!(row[1], Field::Text(String::new()));
        }
        assert_eq!(row[2], Field::Null, "NULL bytea of row {i}");
    }

    let row = by_id(100);
    let cell = |i: usize| text(&row[i]).unwrap_or_else(|| panic!("column {i} is NULL"));
    assert_eq!(cell(2), "00ff0a2c22", "bytea as hex without \\x");
    // json keeps key order and duplicates, only whitespace goes.
    assert_eq!(cell(3), r#"{"b":1,"a":[1,2.50,"x y"],"a":null}"#);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(cell(4)).unwrap(),
        serde_json::json!({"k": "v\"q", "n": 1.50})
    );
    assert_eq!(cell(5), "-123456789.125");
    assert_eq!(cell(6), "0.1", "shortest exact float, whatever extra_float_digits the caller has");
    assert_eq!(cell(7), "1.5e-07");
    assert_eq!(cell(8), "2024-02-29 23:59:59.123456");
    assert_eq!(cell(9), "2024-01-01 10:00:00+00", "timestamptz in UTC with offset");
    assert_eq!(cell(10), "0001-01-01");
    assert_eq!(cell(11), "24:00:00");
    assert_eq!(cell(12), "12:34:56+14:59");
    assert_eq!(cell(13), "P1Y2M3DT4H5M6.5S");
    assert_eq!(cell(14), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    assert_eq!(cell(15), r#"["a,b","c\"d",null,""]"#);
    assert_eq!(cell(16), "true");
    assert_eq!(cell(17), "1234.56");
    assert_eq!(cell(18), "12345678901234567890123456.0123456789");
    assert_eq!(cell(19), "ab ", "char(n) keeps its padding");
    assert_eq!(cell(20), r#"{"lower":1,"upper":5,"lower_inc":true,"upper_inc":false}"#);

    let row = by_id(101);
    assert_eq!(text(&row[6]), Some("-0"));
    assert_eq!(text(&row[9]), Some("2000-01-01 11:29:59.999999+00"));
    assert_eq!(text(&row[17]), Some("-0.01"));

    // The export is on record.
    let (status, tables): (String, Vec<String>) = {
        let row = db
            .query_one("SELECT status, tables FROM redshift_export_history WHERE export_id = $1", &[&r.export_id])
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(status, "committed");
    assert_eq!(tables, vec!["\"public\".\"nasty\"".to_string()]);
}

/// Every refused value: the SQLSTATE, and a message naming table, column and row.
#[test]
fn values_redshift_cannot_hold_are_refused_and_nothing_is_left() {
    let mut db = export_database("e2e_export_refusals");
    let s3 = S3::stack();
    let cases: &[(&str, &str, &str, &str)] = &[
        ("text", "repeat('x', 65536)", "22001", "65536 bytes"),
        ("text", "repeat('é', 32768)", "22001", "65536 bytes"),
        ("bytea", "decode(repeat('ab', 1024001), 'hex')", "22001", "1024001 bytes"),
        ("float8", "'NaN'", "22003", "NaN"),
        ("float8", "'-Infinity'", "22003", "-Infinity"),
        ("real", "'Infinity'", "22003", "Infinity"),
        ("numeric", "'NaN'", "22003", "NaN"),
        ("numeric", "0.00000000001", "22003", "DECIMAL(38,10)"),
        ("numeric", "1e28", "22003", "DECIMAL(38,10)"),
        ("numeric(50,2)", "1e40", "22003", "DECIMAL(38,2)"),
        ("timestamp", "'infinity'", "22008", "infinity"),
        ("timestamptz", "'-infinity'", "22008", "-infinity"),
        ("date", "'0044-03-15 BC'", "22008", "BC"),
        ("timestamp", "'0001-01-01 00:00 BC'", "22008", "BC"),
        ("date", "'294277-01-01'", "22008", "294277"),
        ("timetz", "'12:00+15'", "22008", "+15"),
        // Found by the emulator: an empty field is NULL in a VARBYTE column.
        ("bytea", "'\\x'::bytea", "22000", "empty bytea"),
    ];
    for (i, (ty, value, code, detail)) in cases.iter().enumerate() {
        let table = format!("bad_{i}");
        db.batch_execute(&format!(
            "CREATE TABLE {table} (id int PRIMARY KEY, ok text, v {ty});
             INSERT INTO {table} SELECT g, 'fine', NULL FROM generate_series(1, 5000) g;
             INSERT INTO {table} VALUES (7777777, 'fine', {value});"
        ))
        .unwrap_or_else(|e| panic!("{ty} {value}: {}", describe(&e)));
        let prefix = unique_prefix(&table);
        let message = expect_sqlstate(&mut db, &format!("SELECT * FROM redshift_export('{table}', prefix => '{prefix}')"), code);
        for part in [format!("\"public\".\"{table}\""), "column \"v\"".into(), "(id)=(7777777)".into(), detail.to_string()] {
            assert!(message.contains(&part), "{ty} {value}: message {message:?} lacks {part:?}");
        }
        assert_eq!(s3.keys(&prefix), Vec::<String>::new(), "{ty} {value}: files left behind");
        assert_eq!(s3.open_uploads(&prefix), Vec::<String>::new(), "{ty} {value}: uploads left open");
    }
    // A row without a primary key is named by its ctid.
    db.batch_execute("CREATE TABLE heap (v float8); INSERT INTO heap VALUES (1), ('NaN');").unwrap();
    let message = expect_sqlstate(&mut db, "SELECT * FROM redshift_export('heap')", "22003");
    assert!(message.contains("ctid (0,2)"), "{message}");

    // Every failed export is in the history with its error, although its transaction rolled back.
    let failed: Vec<(String, Vec<String>, String)> = db
        .query(
            "SELECT error, tables, exported_by::text FROM redshift_export_history WHERE status = 'failed' ORDER BY started_at",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(failed.len(), cases.len() + 1, "{failed:#?}");
    for (i, (_, _, code, _)) in cases.iter().enumerate() {
        let (error, tables, by) = &failed[i];
        assert!(error.contains(&format!("({code})")) && error.contains(&format!("bad_{i}")), "{error}");
        assert_eq!((tables.as_slice(), by.as_str()), ([format!("bad_{i}")].as_slice(), "postgres"));
    }
    let committed: i64 = db.query_one("SELECT count(*) FROM redshift_export_history WHERE status = 'committed'", &[]).unwrap().get(0);
    assert_eq!(committed, 0);
}

#[test]
fn policies_change_values_only_when_asked_and_count_them() {
    let mut db = export_database("e2e_export_policies");
    db.batch_execute(
        "CREATE TABLE p (id int PRIMARY KEY, t text, f float8, req text NOT NULL);
         INSERT INTO p VALUES (1, repeat('é', 40000), 'NaN', 'ok'), (2, 'short', 'Infinity', 'ok'), (3, NULL, 1, 'ok');",
    )
    .unwrap();
    let s3 = S3::stack();

    let r = &export(&mut db, "redshift_export('p', on_unrepresentable => 'null')")[0];
    assert_eq!(r.changed_values, 3);
    let bundle = s3.bundle(&r.bundle_url);
    assert_eq!(bundle.changes.policy, pg2redshift_bundle::OnUnrepresentable::Null);
    assert_eq!(bundle.changes.columns.get("t"), Some(&1));
    assert_eq!(bundle.changes.columns.get("f"), Some(&2));
    assert_eq!(bundle.changes.total, 3);
    let rows = s3.rows(&bundle);
    assert!(rows.iter().all(|row| row[2] == Field::Null || row[2] == Field::Text("1".into())));
    assert_eq!(rows.iter().filter(|row| row[1] == Field::Null).count(), 2);

    // Truncation applies to lengths only: the NaN still stops the export.
    expect_sqlstate(&mut db, "SELECT * FROM redshift_export('p', on_unrepresentable => 'truncate')", "22003");
    db.batch_execute("UPDATE p SET f = 0").unwrap();
    let r = &export(&mut db, "redshift_export('p', on_unrepresentable => 'truncate')")[0];
    assert_eq!(r.changed_values, 1);
    let rows = s3.rows(&s3.bundle(&r.bundle_url));
    let cut = rows.iter().find(|row| row[0] == Field::Text("1".into())).unwrap();
    // 65535 bytes hold 32767 two-byte characters: the cut never splits one.
    assert_eq!(text(&cut[1]), Some("é".repeat(32767).as_str()));

    // NULL is no way out for a NOT NULL column.
    db.batch_execute("UPDATE p SET req = repeat('x', 70000) WHERE id = 3").unwrap();
    expect_sqlstate(&mut db, "SELECT * FROM redshift_export('p', on_unrepresentable => 'null')", "22001");
    expect_sqlstate(&mut db, "SELECT * FROM redshift_export('p', on_unrepresentable => 'drop')", "22023");
}

#[test]
fn a_file_of_several_multipart_parts_arrives_byte_for_byte() {
    // md5 text compresses about 2:1, so 400,000 rows give about 27 MB of gzip at level 1: several
    // 8 MiB parts, each sealed into pages of its own and uploaded while the next is compressed.
    let mut db = export_database("e2e_export_parts");
    db.batch_execute(
        "CREATE TABLE parts (id int PRIMARY KEY, pad text);
         INSERT INTO parts SELECT g, md5(g::text) || md5((g * 3)::text) || md5((g * 5)::text) || md5((g * 7)::text)
         FROM generate_series(1, 400000) g;",
    )
    .unwrap();
    let s3 = S3::stack();
    let prefix = unique_prefix("parts");
    let r = &export(&mut db, &format!("redshift_export('parts', prefix => '{prefix}', gzip_level => 1)"))[0];
    let bundle = s3.bundle(&r.bundle_url);
    assert_eq!((r.rows, bundle.files.len()), (400000, 1));
    assert!(bundle.files[0].compressed_bytes > 3 * (8 << 20), "more than three parts: {}", bundle.files[0].compressed_bytes);
    let mut exported = s3.rows(&bundle);
    exported.sort_by_key(|row| text(&row[0]).and_then(|id| id.parse::<i32>().ok()));
    let expected = db.query("SELECT id::text, pad FROM parts ORDER BY parts.id", &[]).unwrap();
    assert_eq!(exported.len(), expected.len());
    for (row, want) in exported.iter().zip(&expected) {
        assert_eq!(text(&row[0]), Some(want.get::<_, &str>(0)));
        assert_eq!(text(&row[1]), Some(want.get::<_, &str>(1)), "row {}", want.get::<_, &str>(0));
    }
    assert_eq!(s3.open_uploads(&prefix), Vec::<String>::new());
}

#[test]
fn large_tables_are_split_into_files_listed_by_the_manifest() {
    let mut db = export_database("e2e_export_files");
    db.batch_execute(
        "CREATE TABLE wide (id bigint PRIMARY KEY, pad text);
         INSERT INTO wide SELECT g, md5(g::text) || repeat(md5((g * 7)::text), 6) FROM generate_series(1, 60000) g;",
    )
    .unwrap();
    let s3 = S3::stack();
    let prefix = unique_prefix("files");
    let r = &export(&mut db, &format!("redshift_export('wide', prefix => '{prefix}', chunk_size => 1048576, gzip_level => 1)"))[0];
    assert_eq!(r.rows, 60000);
    assert!(r.files >= 10, "about 13 MB of CSV in 1 MiB chunks: {} files", r.files);
    let bundle = s3.bundle(&r.bundle_url);
    for (n, file) in bundle.files.iter().enumerate() {
        assert!(file.key.ends_with(&format!("part-{n:05}.csv.gz")), "{}", file.key);
        assert!(file.raw_bytes >= 1 << 20 || n + 1 == bundle.files.len(), "only the last file is short");
    }
    let keys = s3.keys(&prefix);
    assert_eq!(keys.len(), bundle.files.len() + 4, "data files, manifest.json, signature.json, bundle.json, export.json and nothing else");
    let rows = s3.rows(&bundle);
    let ids: std::collections::BTreeSet<i64> = rows.iter().map(|row| text(&row[0]).unwrap().parse().unwrap()).collect();
    assert_eq!(ids.len(), 60000);
    assert_eq!(s3.open_uploads(&prefix), Vec::<String>::new());

    // Compressed by three threads, 1 MiB block by block: still one gzip stream per file, which
    // the standard gzip tool reads whole (no reliance on multi-member support) with its CRC.
    db.batch_execute("SET pg2redshift.gzip_threads = 3").unwrap();
    let r = &export(&mut db, &format!("redshift_export('wide', prefix => '{prefix}-threads', gzip_level => 6)"))[0];
    let bundle = s3.bundle(&r.bundle_url);
    assert_eq!((r.rows, bundle.files.len()), (60000, 1));
    assert!(bundle.files[0].raw_bytes > 10 << 20, "more than ten blocks");
    assert_eq!(s3.rows(&bundle), rows, "the same rows as the single-threaded export");
    let mut gunzip = std::process::Command::new("gzip")
        .args(["-dc"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gzip runs");
    let gz = s3.get(&bundle.files[0].key);
    let mut stdin = gunzip.stdin.take().unwrap();
    let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &gz));
    let output = gunzip.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(output.status.success(), "gzip -d: {}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.stdout.len() as u64, bundle.files[0].raw_bytes);
    db.batch_execute("RESET pg2redshift.gzip_threads").unwrap();

    // An empty table still gets one (empty) file, so COPY has something to read.
    db.batch_execute("CREATE TABLE empty (id int)").unwrap();
    let r = &export(&mut db, "redshift_export('empty')")[0];
    assert_eq!((r.rows, r.files), (0, 1));
    assert!(s3.rows(&s3.bundle(&r.bundle_url)).is_empty());
}

/// Every key of an export is built on its prefix, so a prefix that could climb out of itself
/// or hide characters is refused before anything is written.
#[test]
fn a_prefix_that_could_escape_is_refused() {
    let mut db = export_database("e2e_export_prefix");
    db.batch_execute("DROP TABLE IF EXISTS p; CREATE TABLE p (id int); INSERT INTO p VALUES (1)").expect("table");
    let s3 = S3::stack();
    let base = unique_prefix("prefix-escape");
    for bad in [format!("{base}/../elsewhere"), format!("{base}//x"), format!("{base}/./x"), format!("{base}/a\u{1}b")] {
        let message = expect_sqlstate(&mut db, &format!("SELECT * FROM redshift_export('p', prefix => $q${bad}$q$)"), "22023");
        assert!(message.contains("prefix"), "{message}");
    }
    assert!(s3.keys(&base).is_empty(), "nothing is written under a refused prefix");
    assert!(s3.keys("elsewhere").is_empty());
    // The same prefix without the escape works, leading and trailing slashes tolerated.
    let out = export(&mut db, &format!("redshift_export('p', prefix => '/{base}/ok/')"));
    assert!(out[0].bundle_url.contains(&format!("/{base}/ok/")), "{}", out[0].bundle_url);
}

/// A schema with more tables than the lock table holds is refused before any lock is taken or
/// anything written, naming max_locks_per_transaction and the number of locks needed (instead
/// of PostgreSQL's "out of shared memory" midway).
#[test]
fn a_schema_beyond_the_lock_table_is_refused_up_front() {
    const DB: &str = "e2e_lock_table";
    let mut db = export_database(DB);
    let setting = |db: &mut postgres::Client, name: &str| -> i64 {
        db.query_one(&format!("SELECT current_setting('{name}')::int8"), &[]).expect("setting").get(0)
    };
    let slots = ["max_connections", "autovacuum_max_workers", "max_worker_processes", "max_wal_senders", "max_prepared_transactions"]
        .iter()
        .map(|s| setting(&mut db, s))
        .sum::<i64>()
        + 1;
    let capacity = setting(&mut db, "max_locks_per_transaction") * slots;
    let tables = capacity + 50;
    db.batch_execute("CREATE SCHEMA lk").expect("schema");
    // In batches, each its own transaction, so creating them fits in the lock table.
    let mut made = 0;
    while made < tables {
        let upto = (made + 1000).min(tables);
        db.batch_execute(&format!(
            "DO $$ BEGIN FOR i IN {} .. {upto} LOOP EXECUTE format('CREATE TABLE lk.t%s (id int)', i); END LOOP; END $$",
            made + 1
        ))
        .expect("tables");
        made = upto;
    }
    let prefix = unique_prefix("lock-table");
    let message = expect_sqlstate(&mut db, &format!("SELECT * FROM redshift_export_schema('lk', prefix => '{prefix}')"), "53200");
    assert!(message.contains("max_locks_per_transaction") && message.contains(&format!("needs about {tables} locks")), "{message}");
    assert!(S3::stack().keys(&prefix).is_empty(), "nothing written");
    drop(db);
    e2e::source_admin().batch_execute(&format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)")).expect("drop the test database");
}

/// Over HTTPS, as to AWS, bodies go without a SigV4 payload hash but with a CRC32C that the
/// server checks; a body whose checksum does not match is refused and nothing is stored.
#[test]
fn exports_over_https_carry_checksums_the_server_checks() {
    let mut db = export_database("e2e_export_https");
    db.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, pad text);
         INSERT INTO t SELECT g, md5(g::text) || md5((g * 3)::text) || md5((g * 5)::text) FROM generate_series(1, 300000) g;",
    )
    .unwrap();
    let s3 = S3::stack();
    let tls = e2e::stack_setting("PG2RS_S3_TLS_ENDPOINT");
    assert!(tls.starts_with("https://"), "{tls}");
    // Several 8 MiB parts (gzip level 1 of incompressible-ish hex), and the small files as
    // single PUTs.
    let prefix = unique_prefix("https");
    let r = &export(&mut db, &format!("redshift_export('t', prefix => '{prefix}', endpoint => '{tls}', gzip_level => 1)"))[0];
    let bundle = s3.bundle(&r.bundle_url);
    assert!(bundle.files[0].compressed_bytes > 2 * (8 << 20), "more than two parts: {}", bundle.files[0].compressed_bytes);
    let rows = s3.rows(&bundle);
    assert_eq!(rows.len(), 300_000);
    let expected: Vec<String> = db.query("SELECT pad FROM t ORDER BY id", &[]).unwrap().iter().map(|r| r.get(0)).collect();
    let mut got: Vec<(i32, String)> =
        rows.iter().map(|row| (text(&row[0]).unwrap().parse().unwrap(), text(&row[1]).unwrap().to_string())).collect();
    got.sort();
    assert!(got.iter().map(|(_, pad)| pad).eq(expected.iter()), "the rows read back as written");
    assert_eq!(s3.open_uploads(&prefix), Vec::<String>::new());

    // A part whose CRC32C is not its own is refused; the right one is taken.
    let body = b"1,a\n2,b\n".to_vec();
    let refused = s3.upload_part_claiming(&format!("{prefix}/damaged.csv"), body.clone(), Some("AAAAAA=="));
    assert_eq!(refused, Err("BadDigest".to_string()));
    assert!(s3.upload_part_claiming(&format!("{prefix}/whole.csv"), body, None).is_ok());
}
