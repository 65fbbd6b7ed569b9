//! The emulator where one session is not enough to see it: transactions isolated as Redshift
//! isolates them (snapshot isolation or serializable, violators cancelled with error 1023), the
//! catalog cleaned up when tables go, and load-error texts that match the COPY that failed.

use e2e::{S3, describe, redshift, redshift_iam_role, text_rows, unique_prefix};

fn run(db: &mut postgres::Client, sql: &str) {
    db.batch_execute(sql).unwrap_or_else(|e| panic!("{sql}: {}", describe(&e)));
}

/// "A database snapshot is created within a transaction on the first occurrence of most SELECT
/// statements … concurrent transactions are invisible to each other".
/// https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation.html
#[test]
fn a_transaction_does_not_see_commits_made_after_its_first_read() {
    let mut a = redshift();
    let mut b = redshift();
    run(&mut a, "DROP TABLE IF EXISTS iso_snap; CREATE TABLE iso_snap (id INT); INSERT INTO iso_snap VALUES (1)");
    run(&mut a, "BEGIN");
    assert_eq!(text_rows(&mut a, "SELECT count(*) FROM iso_snap")[0][0].as_deref(), Some("1"));
    run(&mut b, "INSERT INTO iso_snap VALUES (2)");
    assert_eq!(text_rows(&mut a, "SELECT count(*) FROM iso_snap")[0][0].as_deref(), Some("1"), "a read committed snapshot");
    run(&mut a, "END");
    assert_eq!(text_rows(&mut a, "SELECT count(*) FROM iso_snap")[0][0].as_deref(), Some("2"));
}

/// Write skew: each transaction reads what the other writes. "SERIALIZABLE isolation … prevents
/// problems such as write-skew anomalies by only allowing one transaction to commit, while
/// canceling all other concurrent transaction with an serializable isolation violation error";
/// the error is `ERROR:1023 DETAIL: Serializable isolation violation on table …`.
/// https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation.html
/// https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation-serializable-isolation-troubleshooting.html
#[test]
fn serializable_write_skew_aborts_one_side_with_error_1023() {
    let emulator = e2e::Emulator::start(&["--isolation", "serializable"]);
    let mut a = e2e::connect(&emulator.url);
    let mut b = e2e::connect(&emulator.url);
    assert_eq!(text_rows(&mut a, "SELECT trim(isolation_level) FROM stv_db_isolation_level")[0][0].as_deref(), Some("Serializable"));
    run(&mut a, "DROP TABLE IF EXISTS iso_x, iso_y; CREATE TABLE iso_x (v INT); CREATE TABLE iso_y (v INT)");
    run(&mut a, "BEGIN; SELECT count(*) FROM iso_x");
    run(&mut b, "BEGIN; SELECT count(*) FROM iso_y");
    run(&mut a, "INSERT INTO iso_y VALUES (1)");
    let mut failures = Vec::new();
    for step in [b.batch_execute("INSERT INTO iso_x VALUES (1)"), a.batch_execute("COMMIT"), b.batch_execute("COMMIT")] {
        if let Err(e) = step {
            failures.push(e);
        }
    }
    assert_eq!(failures.len(), 1, "exactly one side aborts: {:?}", failures.iter().map(describe).collect::<Vec<_>>());
    assert_1023(&failures[0]);
    let _ = b.batch_execute("ROLLBACK");
    let _ = a.batch_execute("ROLLBACK");
    let committed = text_rows(&mut a, "SELECT (SELECT count(*) FROM iso_x) + (SELECT count(*) FROM iso_y)");
    assert_eq!(committed[0][0].as_deref(), Some("1"), "only one side's write committed");
    run(&mut a, "DROP TABLE iso_x, iso_y");
}

/// Snapshot isolation (the stack's, Redshift's default since 2024): two transactions that write
/// the same row conflict, and the second is cancelled with error 1023; write skew on different
/// rows is what snapshot isolation allows, so both commit.
/// https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation.html
#[test]
fn snapshot_isolation_cancels_a_concurrent_write_of_the_same_row() {
    let mut a = redshift();
    let mut b = redshift();
    assert_eq!(text_rows(&mut a, "SELECT trim(isolation_level) FROM stv_db_isolation_level")[0][0].as_deref(), Some("Snapshot Isolation"));
    run(&mut a, "DROP TABLE IF EXISTS iso_row; CREATE TABLE iso_row (id INT, v INT); INSERT INTO iso_row VALUES (1, 0)");
    run(&mut a, "BEGIN; SELECT count(*) FROM iso_row");
    run(&mut b, "BEGIN; SELECT count(*) FROM iso_row");
    run(&mut a, "UPDATE iso_row SET v = 1 WHERE id = 1; COMMIT");
    let err = b.batch_execute("UPDATE iso_row SET v = 2 WHERE id = 1").expect_err("a concurrent write of the same row");
    assert_1023(&err);
    let _ = b.batch_execute("ROLLBACK");
    assert_eq!(text_rows(&mut a, "SELECT v FROM iso_row")[0][0].as_deref(), Some("1"));

    run(&mut a, "DROP TABLE IF EXISTS iso_sx, iso_sy; CREATE TABLE iso_sx (v INT); CREATE TABLE iso_sy (v INT)");
    run(&mut a, "BEGIN; SELECT count(*) FROM iso_sx");
    run(&mut b, "BEGIN; SELECT count(*) FROM iso_sy");
    run(&mut a, "INSERT INTO iso_sy VALUES (1)");
    run(&mut b, "INSERT INTO iso_sx VALUES (1)");
    run(&mut a, "COMMIT");
    run(&mut b, "COMMIT");
}

fn assert_1023(e: &postgres::Error) {
    let db = e.as_db_error().unwrap_or_else(|| panic!("not a server error: {}", describe(e)));
    assert_eq!(db.code().code(), "40001");
    assert_eq!(db.message(), "1023");
    assert!(db.detail().unwrap_or_default().starts_with("Serializable isolation violation on table"), "{:?}", db.detail());
}

/// A dropped table or column takes its Redshift attributes with it, so that a reused OID never
/// inherits a stale DISTSTYLE or SORTKEY.
#[test]
fn dropping_a_table_or_column_forgets_its_attributes() {
    let mut db = redshift();
    run(
        &mut db,
        "DROP TABLE IF EXISTS hyg; CREATE TABLE hyg (id INT ENCODE az64, b VARBYTE(8), c INT) DISTSTYLE KEY DISTKEY (id) SORTKEY (id)",
    );
    let oid = text_rows(&mut db, "SELECT 'hyg'::regclass::oid")[0][0].clone().expect("oid");
    let count = |db: &mut postgres::Client, table: &str| {
        text_rows(db, &format!("SELECT count(*) FROM rs_emulator.{table} WHERE relid = {oid}"))[0][0].clone().expect("count")
    };
    assert_eq!(count(&mut db, "table_attrs"), "1");
    assert_eq!(count(&mut db, "column_attrs"), "3");
    run(&mut db, "ALTER TABLE hyg DROP COLUMN b");
    assert_eq!(count(&mut db, "column_attrs"), "2");
    run(&mut db, "DROP TABLE hyg");
    assert_eq!(count(&mut db, "table_attrs"), "0");
    assert_eq!(count(&mut db, "column_attrs"), "0");
}

/// Load-error texts follow the documented codes and the COPY that failed.
/// https://docs.aws.amazon.com/redshift/latest/dg/r_Load_Error_Reference.html
#[test]
fn load_error_texts_fit_the_value_and_the_copy() {
    let mut db = redshift();
    let s3 = S3::stack();
    let prefix = unique_prefix("emu-errtext");
    let reason = |db: &mut postgres::Client| {
        let rows = text_rows(db, "SELECT err_code, trim(err_reason) FROM stl_load_errors WHERE query = pg_last_copy_id()");
        (rows[0][0].clone().unwrap_or_default(), rows[0][1].clone().unwrap_or_default())
    };
    run(&mut db, "DROP TABLE IF EXISTS errtext; CREATE TABLE errtext (d DATE, v VARCHAR(10))");

    // 1205 for an 11-character value: not a complaint about its length.
    s3.put(&format!("{prefix}/date.csv"), b"2020-13-45x,a\n".to_vec());
    let copy = |key: &str, options: &str| {
        format!("COPY errtext FROM 's3://{}/{prefix}/{key}' IAM_ROLE '{}' {options}", e2e::s3_bucket(), redshift_iam_role())
    };
    assert!(db.batch_execute(&copy("date.csv", "CSV")).is_err());
    let (code, text) = reason(&mut db);
    assert_eq!(code, "1205");
    assert!(!text.contains("length must be 10"), "{text}");
    assert!(text.starts_with("Date format is not valid"), "{text}");

    // 1218 without NULL AS '\0': the message names no NULL AS rule.
    s3.put(&format!("{prefix}/nul.csv"), b"2020-01-01,a\0b\n".to_vec());
    assert!(db.batch_execute(&copy("nul.csv", "CSV")).is_err());
    let (code, text) = reason(&mut db);
    assert_eq!(code, "1218");
    assert!(!text.contains("NULL AS"), "{text}");
    assert!(db.batch_execute(&copy("nul.csv", "CSV NULL AS '\\0'")).is_err());
    let (_, text) = reason(&mut db);
    assert!(text.contains("NULL AS '\\0'"), "{text}");
}
