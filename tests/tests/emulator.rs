//! The Redshift emulator against Redshift's documented behaviour, through real clients (the
//! `postgres` crate, psql) and real S3 objects: COPY options and data rules, load errors in
//! stl_load_errors after the rollback, TRUNCATE's commit, table attributes, late-binding views,
//! identifier folding, and the functions our flows use.

use std::io::Write;
use std::process::{Command, Stdio};

use e2e::{S3, describe, fails, redshift, redshift_iam_role, stack_setting, text_rows, unique_prefix};

fn s3_url(key: &str) -> String {
    format!("s3://{}/{key}", e2e::s3_bucket())
}


fn run(db: &mut postgres::Client, sql: &str) {
    db.batch_execute(sql).unwrap_or_else(|e| panic!("{sql}: {}", describe(&e)));
}


fn copy_sql(table: &str, key: &str, options: &str) -> String {
    format!("COPY {table} FROM '{}' IAM_ROLE '{}' {options}", s3_url(key), redshift_iam_role())
}

fn compress(tool: &str, data: &[u8]) -> Vec<u8> {
    let mut child = Command::new(tool)
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{tool}: {e} (scripts/setup installs it)"));
    let mut stdin = child.stdin.take().expect("stdin");
    let input = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("compressor output");
    writer.join().expect("writer").expect("write");
    assert!(out.status.success(), "{tool} failed");
    out.stdout
}

#[test]
fn wrong_password_and_unknown_database_are_refused() {
    let url = stack_setting("PG2RS_REDSHIFT_URL");
    let parts = e2e::url_parts(&url);
    let password = String::from_utf8_lossy(parts.config.get_password().expect("password")).into_owned();
    let database = parts.config.get_dbname().expect("database");
    let err = e2e::try_connect(&url.replacen(&format!(":{password}@"), ":wrong@", 1)).err().expect("must fail");
    assert!(err.contains("password authentication failed"), "{err}");
    let err = e2e::try_connect(&url.replacen(&format!("/{database}?"), "/nosuchdb?", 1)).err().expect("must fail");
    assert!(err.contains("3D000"), "{err}");
}

#[test]
fn psql_connects_and_runs_queries_interactively() {
    let url = stack_setting("PG2RS_REDSHIFT_URL");
    let mut child = Command::new("psql")
        .args(["-X", "-A", "-t", &url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("psql");
    let script = "CREATE TABLE \"Psql_Check\" (\"Id\" INT, name VARCHAR(10));\n\
                  INSERT INTO psql_check VALUES (1, 'one'), (2, 'two');\n\
                  SELECT count(*) FROM PSQL_CHECK;\n\
                  \\d psql_check\n\
                  SELECT len(name) FROM psql_check ORDER BY \"ID\";\n\
                  DROP TABLE psql_check;\n";
    child.stdin.take().expect("stdin").write_all(script.as_bytes()).expect("write");
    let out = child.wait_with_output().expect("psql output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.is_empty(), "psql failed: {stderr}");
    assert!(stdout.contains("\n2\n") || stdout.starts_with("2\n"), "{stdout}");
    assert!(stdout.contains("id|integer"), "psql \\d shows the folded column: {stdout}");
    assert!(stdout.contains("3\n3"), "{stdout}");
}

/// The ESCAPE example of copy-parameters-data-conversion.html, loaded from S3.
#[test]
fn the_documented_escape_example() {
    let mut db = redshift();
    let s3 = S3::stack();
    let key = format!("{}/escape.txt", unique_prefix("emu-escape"));
    s3.put(
        &key,
        b"1|The quick brown fox\\\njumped over the lazy dog.\n2| A\\\\B\\\\C\n3| A \\| B \\| C\n4|\\N\n5|\\\\N\n".to_vec(),
    );
    run(&mut db, "DROP TABLE IF EXISTS escape_example; CREATE TABLE escape_example (c1 INT, c2 VARCHAR(100))");
    run(&mut db, &copy_sql("escape_example", &key, "DELIMITER '|' ESCAPE"));
    let rows = text_rows(&mut db, "SELECT c1, c2 FROM escape_example ORDER BY c1");
    let got: Vec<Option<String>> = rows.into_iter().map(|r| r[1].clone()).collect();
    assert_eq!(
        got,
        vec![
            Some("The quick brown fox\njumped over the lazy dog.".into()),
            Some(" A\\B\\C".into()),
            Some(" A | B | C".into()),
            None,
            // "`\N` and `\\N` both give NULL unless NULL AS is set" (copy-parameters-data-conversion).
            None,
        ]
    );
    // Without ESCAPE the backslash is data and the delimiter splits.
    run(&mut db, "TRUNCATE escape_example");
    let err = fails(&mut db, &copy_sql("escape_example", &key, "DELIMITER '|'"));
    assert!(err.contains("Load into table 'escape_example' failed"), "{err}");
}

/// CSV with NULL AS '\0': a lone NUL is NULL, `""` and an empty field are '' in VARCHAR and
/// NULL in other types; lengths count bytes.
#[test]
fn csv_null_as_nul_empty_strings_and_byte_lengths() {
    let mut db = redshift();
    let s3 = S3::stack();
    let key = format!("{}/data.csv", unique_prefix("emu-csv"));
    let mut data = Vec::new();
    data.extend_from_slice(b"1,\0,\0\n");
    data.extend_from_slice(b"2,\"\",\n");
    data.extend_from_slice(b"3,,7\n");
    data.extend_from_slice("4,\"éé\",\"8\"\n".as_bytes());
    data.extend_from_slice(b"5,\"a,\"\"b\"\"\nc\",9\n");
    s3.put(&key, data);
    run(&mut db, "DROP TABLE IF EXISTS csv_rules; CREATE TABLE csv_rules (id INT, v VARCHAR(12), n INT)");
    run(&mut db, &copy_sql("csv_rules", &key, "CSV NULL AS '\\0'"));
    let rows = text_rows(&mut db, "SELECT id, v, n FROM csv_rules ORDER BY id");
    assert_eq!(
        rows,
        vec![
            vec![Some("1".into()), None, None],
            vec![Some("2".into()), Some(String::new()), None],
            vec![Some("3".into()), Some(String::new()), Some("7".into())],
            vec![Some("4".into()), Some("éé".into()), Some("8".into())],
            vec![Some("5".into()), Some("a,\"b\"\nc".into()), Some("9".into())],
        ]
    );
    assert_eq!(text_rows(&mut db, "SELECT pg_last_copy_count()")[0][0].as_deref(), Some("5"));
    let commits = text_rows(
        &mut db,
        "SELECT trim(filename), lines_scanned FROM stl_load_commits WHERE query = pg_last_copy_id()",
    );
    assert_eq!(commits, vec![vec![Some(s3_url(&key)), Some("5".into())]]);
    // EMPTYASNULL turns the empty strings into NULL.
    run(&mut db, "TRUNCATE csv_rules");
    run(&mut db, &copy_sql("csv_rules", &key, "CSV NULL AS '\\0' EMPTYASNULL"));
    assert_eq!(text_rows(&mut db, "SELECT count(*) FROM csv_rules WHERE v IS NULL")[0][0].as_deref(), Some("3"));
}

/// A value over the column's byte length fails the COPY with Redshift's message, aborts the
/// transaction, leaves the table as it was, and leaves a row in stl_load_errors (and
/// sys_load_error_detail) that the rollback does not remove.
#[test]
fn a_bad_row_fails_the_load_and_stays_in_stl_load_errors_after_rollback() {
    let mut db = redshift();
    let s3 = S3::stack();
    let key = format!("{}/bad.csv", unique_prefix("emu-bad-row"));
    s3.put(&key, "1,ok\n2,éé\n3,ééé\n4,fine\n".as_bytes().to_vec());
    run(&mut db, "DROP TABLE IF EXISTS bad_rows; CREATE TABLE bad_rows (id INT, v VARCHAR(4)); INSERT INTO bad_rows VALUES (0, 'old')");
    run(&mut db, "BEGIN");
    let err = fails(&mut db, &copy_sql("bad_rows", &key, "CSV"));
    assert_eq!(err, "Load into table 'bad_rows' failed.  Check 'stl_load_errors' system table for details. (XX000)");
    // The transaction is aborted, as in Redshift.
    assert!(fails(&mut db, "SELECT 1").contains("25P02"));
    run(&mut db, "ROLLBACK");
    assert_eq!(text_rows(&mut db, "SELECT count(*) FROM bad_rows")[0][0].as_deref(), Some("1"));
    assert_eq!(text_rows(&mut db, "SELECT pg_last_copy_count()")[0][0].as_deref(), Some("0"));
    let id = text_rows(&mut db, "SELECT pg_last_copy_id()")[0][0].clone().expect("copy id");
    let rows = text_rows(
        &mut db,
        &format!(
            "SELECT trim(filename), line_number, trim(colname), trim(type), trim(col_length), trim(raw_field_value), err_code, trim(err_reason) \
             FROM stl_load_errors WHERE query = {id}"
        ),
    );
    assert_eq!(
        rows,
        vec![vec![
            Some(s3_url(&key)),
            Some("3".into()),
            Some("v".into()),
            Some("varchar".into()),
            Some("4".into()),
            Some("ééé".into()),
            Some("1204".into()),
            Some("String length exceeds DDL length".into()),
        ]]
    );
    let detail = text_rows(&mut db, &format!("SELECT error_code, trim(column_name) FROM sys_load_error_detail WHERE query_id = {id}"));
    assert_eq!(detail, vec![vec![Some("1204".into()), Some("v".into())]]);

    // MAXERROR lets that many rows fail: the rest load, the failures are still recorded.
    run(&mut db, &copy_sql("bad_rows", &key, "CSV MAXERROR 5"));
    assert_eq!(text_rows(&mut db, "SELECT count(*) FROM bad_rows")[0][0].as_deref(), Some("4"));
    assert_eq!(text_rows(&mut db, "SELECT pg_last_copy_count()")[0][0].as_deref(), Some("3"));
    // TRUNCATECOLUMNS cuts at a character boundary within the byte length.
    run(&mut db, "TRUNCATE bad_rows");
    run(&mut db, &copy_sql("bad_rows", &key, "CSV TRUNCATECOLUMNS"));
    assert_eq!(text_rows(&mut db, "SELECT v FROM bad_rows WHERE id = 3")[0][0].as_deref(), Some("éé"));
}

#[test]
fn char_holds_single_byte_characters_only() {
    let mut db = redshift();
    let s3 = S3::stack();
    let key = format!("{}/char.csv", unique_prefix("emu-char"));
    s3.put(&key, "1,ab\n2,é\n".as_bytes().to_vec());
    run(&mut db, "DROP TABLE IF EXISTS char_rule; CREATE TABLE char_rule (id INT, c CHAR(4))");
    fails(&mut db, &copy_sql("char_rule", &key, "CSV"));
    let id = text_rows(&mut db, "SELECT pg_last_copy_id()")[0][0].clone().expect("id");
    let reason = text_rows(&mut db, &format!("SELECT err_code, trim(err_reason) FROM stl_load_errors WHERE query = {id}"));
    assert_eq!(reason[0][0].as_deref(), Some("1220"));
    assert!(reason[0][1].as_deref().unwrap_or_default().starts_with("Multibyte character not supported for CHAR"));
}

#[test]
fn manifest_with_a_missing_mandatory_file_fails_and_an_optional_one_is_skipped() {
    let mut db = redshift();
    let s3 = S3::stack();
    let prefix = unique_prefix("emu-manifest");
    let part = format!("{prefix}/part-0.csv");
    s3.put(&part, b"1\n2\n".to_vec());
    let manifest = |mandatory: bool| {
        format!(
            r#"{{"entries":[{{"url":"{}","mandatory":true,"meta":{{"content_length":4}}}},{{"url":"{}","mandatory":{mandatory}}}]}}"#,
            s3_url(&part),
            s3_url(&format!("{prefix}/missing.csv"))
        )
    };
    s3.put(&format!("{prefix}/strict.json"), manifest(true).into_bytes());
    s3.put(&format!("{prefix}/lenient.json"), manifest(false).into_bytes());
    run(&mut db, "DROP TABLE IF EXISTS manifest_t; CREATE TABLE manifest_t (id INT)");
    let err = fails(&mut db, &copy_sql("manifest_t", &format!("{prefix}/strict.json"), "CSV MANIFEST"));
    assert!(err.contains("mandatory") && err.contains("missing.csv"), "{err}");
    run(&mut db, &copy_sql("manifest_t", &format!("{prefix}/lenient.json"), "CSV MANIFEST"));
    assert_eq!(text_rows(&mut db, "SELECT count(*) FROM manifest_t")[0][0].as_deref(), Some("2"));
    // A wrong content_length is refused.
    s3.put(
        &format!("{prefix}/wrong.json"),
        format!(r#"{{"entries":[{{"url":"{}","mandatory":true,"meta":{{"content_length":99}}}}]}}"#, s3_url(&part))
            .into_bytes(),
    );
    let err = fails(&mut db, &copy_sql("manifest_t", &format!("{prefix}/wrong.json"), "CSV MANIFEST"));
    assert!(err.contains("content_length"), "{err}");
    // Without MANIFEST a prefix loads every object under it (manifests too, which then fail).
    run(&mut db, "TRUNCATE manifest_t");
    run(&mut db, &copy_sql("manifest_t", &format!("{prefix}/part-"), "CSV"));
    assert_eq!(text_rows(&mut db, "SELECT count(*) FROM manifest_t")[0][0].as_deref(), Some("2"));
    let err = fails(&mut db, &copy_sql("manifest_t", &format!("{prefix}/nothing-here"), "CSV"));
    assert!(err.contains("prefix"), "{err}");
}

#[test]
fn compressed_input_and_authorization() {
    let mut db = redshift();
    let s3 = S3::stack();
    let prefix = unique_prefix("emu-compressed");
    let data = b"1,one\n2,two\n3,three\n".to_vec();
    s3.put(&format!("{prefix}/d.gz"), compress("gzip", &data));
    s3.put(&format!("{prefix}/d.zst"), compress("zstd", &data));
    s3.put(&format!("{prefix}/d.bz2"), compress("bzip2", &data));
    run(&mut db, "DROP TABLE IF EXISTS compressed; CREATE TABLE compressed (id INT, name VARCHAR(10))");
    for (ext, opt) in [("gz", "GZIP"), ("zst", "ZSTD"), ("bz2", "BZIP2")] {
        run(&mut db, &copy_sql("compressed", &format!("{prefix}/d.{ext}"), &format!("CSV {opt}")));
    }
    assert_eq!(text_rows(&mut db, "SELECT count(*), sum(len(name)) FROM compressed")[0], vec![Some("9".into()), Some("33".into())]);
    // Keys are checked by the S3 server; an unknown role by the emulator.
    let key = format!("{prefix}/d.gz");
    let ok = format!(
        "COPY compressed FROM '{}' ACCESS_KEY_ID '{}' SECRET_ACCESS_KEY '{}' CSV GZIP",
        s3_url(&key),
        stack_setting("PG2RS_S3_ACCESS_KEY"),
        stack_setting("PG2RS_S3_SECRET_KEY")
    );
    run(&mut db, &ok);
    let creds = format!(
        "COPY compressed FROM '{}' CREDENTIALS 'aws_access_key_id={};aws_secret_access_key=wrong' CSV GZIP",
        s3_url(&key),
        stack_setting("PG2RS_S3_ACCESS_KEY")
    );
    assert!(fails(&mut db, &creds).contains("S3ServiceException"));
    let role = format!("COPY compressed FROM '{}' IAM_ROLE 'arn:aws:iam::1:role/other' CSV GZIP", s3_url(&key));
    assert!(fails(&mut db, &role).contains("not authorized to assume IAM Role"));
    assert!(fails(&mut db, &copy_sql("compressed", &key, "CSV GZIP REGION 'eu-west-1'")).contains("different region"));
    // Options Redshift does not have, or the emulator does not implement, are errors.
    assert!(fails(&mut db, &copy_sql("compressed", &key, "CSV GZIP FILLRECORD")).contains("42601"));
    assert!(fails(&mut db, &copy_sql("compressed", &key, "CSV ESCAPE")).contains("42601"));
}

#[test]
fn value_rules_for_redshift_types() {
    let mut db = redshift();
    let s3 = S3::stack();
    let key = format!("{}/types.csv", unique_prefix("emu-types"));
    s3.put(
        &key,
        b"1,yes,20.259,2024-02-29,2024-02-29 10:11:12.123456,2024-02-29 10:11:12+02,\"{\"\"a\"\": [1, 2]}\",0aff\n\
          2,0,,,,,\"\"\"s\"\"\",\n"
            .to_vec(),
    );
    run(
        &mut db,
        "DROP TABLE IF EXISTS typed; CREATE TABLE typed (id SMALLINT, b BOOLEAN, d DECIMAL(8,2), dt DATE, ts TIMESTAMP, \
         tz TIMESTAMPTZ, s SUPER, vb VARBYTE(4))",
    );
    run(&mut db, &copy_sql("typed", &key, "CSV"));
    let rows = text_rows(&mut db, "SELECT b, d, dt, ts, tz, s, vb FROM typed ORDER BY id");
    assert_eq!(
        rows[0],
        vec![
            Some("t".into()),
            // COPY truncates to the scale by default (ROUNDEC would round).
            Some("20.25".into()),
            Some("2024-02-29".into()),
            Some("2024-02-29 10:11:12.123456".into()),
            Some("2024-02-29 08:11:12+00".into()),
            Some("{\"a\": [1, 2]}".into()),
            // VARBYTE prints as bare hexadecimal. https://docs.aws.amazon.com/redshift/latest/dg/r_VARBYTE_type.html
            Some("0aff".into()),
        ]
    );
    assert_eq!(rows[1][0].as_deref(), Some("f"));
    assert_eq!(rows[1][1], None, "an empty field in a non-character column is NULL");
    assert_eq!(rows[1][5].as_deref(), Some("\"s\""));
    for (bad, code) in [
        ("3,maybe,,,,,,\n", "1210"),
        ("3,t,1234567.1,,,,,\n", "1204"),
        ("3,t,,2023-02-29,,,,\n", "1205"),
        ("3,t,,,2024-01-01T00:00:00,,,\n", "1206"),
        ("3,t,,,,,{a},\n", "1224"),
        ("3,t,,,,,,0aff00ff00\n", "1204"),
        ("70000,t,,,,,,\n", "1222"),
        ("3,t,,,,,\n", "1214"),
        ("3,t,,,,,,,\n", "1202"),
    ] {
        let k = format!("{}/bad.csv", unique_prefix("emu-types-bad"));
        s3.put(&k, bad.as_bytes().to_vec());
        assert!(db.batch_execute(&copy_sql("typed", &k, "CSV")).is_err(), "input {bad:?} loaded");
        let id = text_rows(&mut db, "SELECT pg_last_copy_id()")[0][0].clone().expect("id");
        let got = text_rows(&mut db, &format!("SELECT err_code FROM stl_load_errors WHERE query = {id}"));
        assert_eq!(got, vec![vec![Some(code.to_string())]], "input {bad:?}");
    }
    // 'auto' reads ISO 8601 with a T.
    let k = format!("{}/auto.csv", unique_prefix("emu-types-auto"));
    s3.put(&k, b"9,t,,,2024-01-01T00:00:00,,,\n".to_vec());
    run(&mut db, &copy_sql("typed", &k, "CSV TIMEFORMAT 'auto'"));
}

#[test]
fn truncate_commits_the_transaction_and_append_refuses_a_block() {
    let mut db = redshift();
    run(&mut db, "DROP TABLE IF EXISTS tr_a; DROP TABLE IF EXISTS tr_b; CREATE TABLE tr_a (id INT); CREATE TABLE tr_b (id INT); INSERT INTO tr_b VALUES (1)");
    run(&mut db, "BEGIN; INSERT INTO tr_a VALUES (1), (2)");
    run(&mut db, "TRUNCATE tr_b");
    run(&mut db, "ROLLBACK");
    // "TRUNCATE commits the transaction in which it is run": the insert before it stays.
    assert_eq!(text_rows(&mut db, "SELECT count(*) FROM tr_a")[0][0].as_deref(), Some("2"));
    assert_eq!(text_rows(&mut db, "SELECT count(*) FROM tr_b")[0][0].as_deref(), Some("0"));

    run(&mut db, "BEGIN");
    let err = fails(&mut db, "ALTER TABLE tr_b APPEND FROM tr_a");
    assert!(err.contains("25001"), "{err}");
    run(&mut db, "ROLLBACK");
    run(&mut db, "ALTER TABLE tr_b APPEND FROM tr_a");
    assert_eq!(text_rows(&mut db, "SELECT (SELECT count(*) FROM tr_a), (SELECT count(*) FROM tr_b)")[0], vec![Some("0".into()), Some("2".into())]);
}

#[test]
fn create_table_attributes_are_kept_and_unknown_types_refused() {
    let mut db = redshift();
    run(
        &mut db,
        "DROP TABLE IF EXISTS \"Attr_T\"; CREATE TABLE \"Attr_T\" (\"ID\" BIGINT NOT NULL ENCODE az64, name VARCHAR(MAX) ENCODE zstd, \
         at TIMESTAMP, PRIMARY KEY (\"ID\")) BACKUP NO DISTSTYLE KEY DISTKEY (id) COMPOUND SORTKEY (at, id)",
    );
    let def = text_rows(&mut db, "SELECT \"column\", type, trim(encoding), distkey, sortkey, \"notnull\" FROM pg_table_def WHERE tablename = 'attr_t' ORDER BY sortkey, \"column\"");
    assert_eq!(
        def,
        vec![
            vec![Some("name".into()), Some("character varying(65535)".into()), Some("zstd".into()), Some("f".into()), Some("0".into()), Some("f".into())],
            vec![Some("at".into()), Some("timestamp without time zone".into()), Some("none".into()), Some("f".into()), Some("1".into()), Some("f".into())],
            vec![Some("id".into()), Some("bigint".into()), Some("az64".into()), Some("t".into()), Some("2".into()), Some("t".into())],
        ]
    );
    run(&mut db, "INSERT INTO attr_t VALUES (1, 'x', getdate())");
    let info = text_rows(&mut db, "SELECT diststyle, sortkey1, sortkey_num, max_varchar, tbl_rows FROM svv_table_info WHERE \"table\" = 'attr_t'");
    assert_eq!(info, vec![vec![Some("KEY(id)".into()), Some("at".into()), Some("2".into()), Some("65535".into()), Some("1".into())]]);
    // Informational constraints are not enforced, as in Redshift.
    run(&mut db, "INSERT INTO attr_t VALUES (1, 'duplicate key', NULL)");
    assert!(fails(&mut db, "CREATE TABLE bad_t (a UUID)").contains("unsupported type \"uuid\""));
    assert!(fails(&mut db, "CREATE TABLE bad_t (a DECIMAL(39,2))").contains("between 1 and 38"));
    assert!(fails(&mut db, "CREATE TABLE bad_t (a INT) DISTSTYLE KEY").contains("DISTKEY"));
    assert!(fails(&mut db, "CREATE FUNCTION f() RETURNS int AS 'select 1' LANGUAGE sql").contains("0A000"));
}

#[test]
fn late_binding_views_follow_names_and_ordinary_views_bind_tables() {
    let mut db = redshift();
    run(
        &mut db,
        "DROP VIEW IF EXISTS lb_late; DROP VIEW IF EXISTS lb_plain; DROP TABLE IF EXISTS lb_t; DROP TABLE IF EXISTS lb_t_new;
         CREATE TABLE lb_t (id INT); INSERT INTO lb_t VALUES (1);
         CREATE VIEW lb_late AS SELECT count(*) AS n FROM public.lb_t WITH NO SCHEMA BINDING;
         CREATE VIEW lb_plain AS SELECT count(*) AS n FROM lb_t",
    );
    assert!(fails(&mut db, "CREATE VIEW lb_bad AS SELECT * FROM lb_t WITH NO SCHEMA BINDING").contains("qualified"));
    // An ordinary view blocks the drop.
    assert!(fails(&mut db, "DROP TABLE lb_t").contains("depend"));
    // Swap in a new table under the old name: the late-binding view follows the name, the
    // ordinary view stays on the renamed old table.
    run(
        &mut db,
        "BEGIN; CREATE TABLE lb_t_new (id INT); INSERT INTO lb_t_new VALUES (1), (2);
         ALTER TABLE lb_t RENAME TO lb_t_old; ALTER TABLE lb_t_new RENAME TO lb_t; COMMIT",
    );
    assert_eq!(text_rows(&mut db, "SELECT n FROM lb_late")[0][0].as_deref(), Some("2"));
    assert_eq!(text_rows(&mut db, "SELECT n FROM lb_plain")[0][0].as_deref(), Some("1"));
    // Dropping what a late-binding view reads makes queries on it fail, not the drop.
    run(&mut db, "DROP TABLE lb_t");
    fails(&mut db, "SELECT n FROM lb_late");
    run(&mut db, "CREATE TABLE lb_t (id INT)");
    assert_eq!(text_rows(&mut db, "SELECT n FROM lb_late")[0][0].as_deref(), Some("0"));
    run(&mut db, "DROP VIEW lb_late; DROP VIEW lb_plain; DROP TABLE lb_t_old; DROP TABLE lb_t");
}

#[test]
fn identifiers_fold_and_functions_behave_like_redshift() {
    let mut db = redshift();
    let row = db
        .query_one(
            "SELECT extract(epoch FROM TIMESTAMP '2024-01-01 00:00:01.7') AS \"Epoch\", \
             extract(epoch FROM TIMESTAMPTZ '2024-01-01 00:00:01.7+00'), \
             extract(epoch FROM TIMESTAMP '2024-01-01 00:00:10.9' - TIMESTAMP '2024-01-01 00:00:00'), \
             datediff(year, DATE '2008-12-31', DATE '2009-01-01'), len('cat   '), len(CAST('cat' AS CHAR(6)))",
            &[],
        )
        .unwrap_or_else(|e| panic!("{}", describe(&e)));
    assert_eq!(row.columns()[0].name(), "epoch");
    let epoch: i32 = row.get(0);
    let epoch_tz: f64 = row.get(1);
    let interval: i32 = row.get(2);
    let years: i64 = row.get(3);
    let (len_varchar, len_char): (i32, i32) = (row.get(4), row.get(5));
    assert_eq!((epoch, epoch_tz, interval, years, len_varchar, len_char), (1704067201, 1704067201.7, 10, 1, 6, 3));
    let now = text_rows(&mut db, "SELECT getdate()::text");
    assert!(!now[0][0].as_deref().unwrap_or_default().contains('.'), "GETDATE has no fractional seconds");
    // A name over 127 bytes is cut to 127, which the backing store cannot hold: an error, not
    // a silent change.
    let long = "n".repeat(130);
    assert!(fails(&mut db, &format!("CREATE TABLE {long} (a INT)")).contains("42622"));
    // MERGE with Redshift's limits.
    run(&mut db, "DROP TABLE IF EXISTS m_t; DROP TABLE IF EXISTS m_s; CREATE TABLE m_t (id INT, v INT); CREATE TABLE m_s (id INT, v INT);
                  INSERT INTO m_t VALUES (1, 1); INSERT INTO m_s VALUES (1, 10), (2, 20)");
    run(&mut db, "MERGE INTO m_t USING m_s ON m_t.id = m_s.id WHEN MATCHED THEN UPDATE SET v = m_s.v WHEN NOT MATCHED THEN INSERT VALUES (m_s.id, m_s.v)");
    assert_eq!(text_rows(&mut db, "SELECT sum(v) FROM m_t")[0][0].as_deref(), Some("30"));
    assert!(fails(&mut db, "MERGE INTO m_t USING m_s ON m_t.id = m_s.id WHEN MATCHED THEN DELETE").contains("42601"));
}

#[test]
fn copy_through_the_extended_protocol() {
    let mut db = redshift();
    let s3 = S3::stack();
    let key = format!("{}/x.csv", unique_prefix("emu-extended"));
    s3.put(&key, b"1\n2\n3\n".to_vec());
    db.execute("DROP TABLE IF EXISTS ext_t", &[]).unwrap_or_else(|e| panic!("{}", describe(&e)));
    db.execute("CREATE TABLE ext_t (id INT)", &[]).unwrap_or_else(|e| panic!("{}", describe(&e)));
    let n = db.execute(&copy_sql("ext_t", &key, "CSV"), &[]).unwrap_or_else(|e| panic!("{}", describe(&e)));
    assert_eq!(n, 3);
    let count: i64 = db.query_one("SELECT pg_last_copy_count()", &[]).expect("count").get(0);
    assert_eq!(count, 3);
    let mut tx = db.transaction().expect("begin");
    tx.execute("INSERT INTO ext_t VALUES ($1)", &[&4i32]).expect("insert");
    tx.commit().expect("commit");
    let total: i64 = db.query_one("SELECT count(*) FROM ext_t", &[]).expect("count").get(0);
    assert_eq!(total, 4);
}

/// A large COPY streams: the emulator's peak memory stays far below the data's size.
#[test]
fn a_large_copy_streams_in_constant_memory() {
    let mut db = redshift();
    let s3 = S3::stack();
    let prefix = unique_prefix("emu-large");
    // 3 files × ~100 MB of CSV, gzipped (highly compressible, so the upload is small).
    let line = format!("{},{}\n", 1234567, "x".repeat(190));
    let one: Vec<u8> = line.as_bytes().repeat(100 * 1024 * 1024 / line.len());
    let gz = compress("gzip", &one);
    for i in 0..3 {
        s3.put(&format!("{prefix}/part-{i}.gz"), gz.clone());
    }
    run(&mut db, "DROP TABLE IF EXISTS large_t; CREATE TABLE large_t (id INT, v VARCHAR(200))");
    let pid_file = format!("{}/run/redshift-emulator.pid", stack_setting("PG2RS_STATE_DIR"));
    let pid = std::fs::read_to_string(&pid_file).expect("emulator pid").trim().to_string();
    run(&mut db, &copy_sql("large_t", &format!("{prefix}/part-"), "CSV GZIP"));
    let rows = (one.len() / line.len() * 3).to_string();
    assert_eq!(text_rows(&mut db, "SELECT count(*) FROM large_t")[0][0].as_deref(), Some(rows.as_str()));
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let hwm_kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("VmHWM");
    assert!(hwm_kb < 128 * 1024, "emulator peak RSS {hwm_kb} kB for a 300 MB load");
    run(&mut db, "DROP TABLE large_t");
}

/// Privileges are the backing database's own: an ordinary user sees a table only after GRANT,
/// and only their own rows in stl_load_errors.
#[test]
fn grants_owners_and_system_table_visibility() {
    let mut admin = redshift();
    run(
        &mut admin,
        "DROP TABLE IF EXISTS granted_t; CREATE TABLE granted_t (id INT); INSERT INTO granted_t VALUES (1)",
    );
    let mut reader = e2e::connect(&stack_setting("PG2RS_REDSHIFT_READER_URL"));
    assert!(fails(&mut reader, "SELECT * FROM granted_t").contains("42501"));
    let reader_name = text_rows(&mut reader, "SELECT current_user")[0][0].clone().expect("name");
    run(&mut admin, &format!("GRANT SELECT ON granted_t TO {reader_name}"));
    assert_eq!(text_rows(&mut reader, "SELECT count(*) FROM granted_t")[0][0].as_deref(), Some("1"));
    run(&mut admin, &format!("REVOKE SELECT ON granted_t FROM {reader_name}"));
    assert!(fails(&mut reader, "SELECT * FROM granted_t").contains("42501"));
    run(&mut admin, &format!("ALTER TABLE granted_t OWNER TO {reader_name}"));
    assert_eq!(text_rows(&mut reader, "SELECT count(*) FROM granted_t")[0][0].as_deref(), Some("1"));
    // The superuser's load errors are not the reader's.
    let mine = text_rows(&mut reader, "SELECT count(*) FROM stl_load_errors WHERE userid <> (SELECT usesysid FROM pg_user WHERE usename = current_user)");
    assert_eq!(mine[0][0].as_deref(), Some("0"));
    run(&mut admin, "DROP TABLE granted_t");
}
