//! Helpers for the end-to-end tests: where the running stack is (from `scripts/stack env`),
//! and clients configured the way the product's own parts configure theirs.

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};

/// A setting exported by `scripts/stack env`; the tests run against a real stack only.
pub fn stack_setting(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests through scripts/test, which starts the stack")
    })
}

/// Superuser connection to the source cluster's main database.
pub fn source_admin() -> postgres::Client {
    connect(&stack_setting("PG2RS_SOURCE_URL"))
}

pub fn connect(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {}", describe(&e)))
}

/// The server's message and SQLSTATE where there is one (Display says only "db error").
pub fn describe(err: &postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => err.to_string(),
    }
}

/// Creates (or re-creates) database `name` in the source cluster and connects to it as the
/// superuser, so each test file starts from an empty catalog and the extension SQL of this build.
pub fn fresh_source_database(name: &str) -> postgres::Client {
    let mut admin = source_admin();
    // Two calls: a multi-statement string runs as one transaction, which these refuse.
    for sql in [
        format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
        format!("CREATE DATABASE \"{name}\""),
    ] {
        admin
            .batch_execute(&sql)
            .unwrap_or_else(|e| panic!("{sql}: {}", describe(&e)));
    }
    let url = stack_setting("PG2RS_SOURCE_URL");
    let base = url.rsplit_once('/').map_or(url.as_str(), |(base, _)| base);
    connect(&format!("{base}/{name}"))
}

/// An S3 client for the stack's S3 server, set up as the extension and loader set theirs up
/// for an S3-compatible server: custom endpoint, path-style addressing, static keys, a region.
pub fn s3_client_with_secret(secret: &str) -> aws_sdk_s3::Client {
    let credentials = Credentials::new(
        stack_setting("PG2RS_S3_ACCESS_KEY"),
        secret,
        None,
        None,
        "pg2redshift-tests",
    );
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(stack_setting("PG2RS_S3_ENDPOINT"))
        .force_path_style(true)
        .region(Region::new(stack_setting("PG2RS_S3_REGION")))
        .credentials_provider(credentials)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

pub fn s3_client() -> aws_sdk_s3::Client {
    s3_client_with_secret(&stack_setting("PG2RS_S3_SECRET_KEY"))
}

pub fn s3_bucket() -> String {
    stack_setting("PG2RS_S3_BUCKET")
}

/// Runs `sql`, expects it to fail with SQLSTATE `code`, and returns the error's message.
pub fn expect_sqlstate(db: &mut postgres::Client, sql: &str, code: &str) -> String {
    match db.batch_execute(sql) {
        Ok(()) => panic!("expected SQLSTATE {code}, but it succeeded: {sql}"),
        Err(err) => {
            let db_err = err.as_db_error().unwrap_or_else(|| panic!("{sql}: not a server error: {err}"));
            assert_eq!(db_err.code().code(), code, "{sql}: {}", db_err.message());
            db_err.message().to_string()
        }
    }
}

/// `redshift_ddl()` of `relation` (an SQL expression for a regclass, e.g. `'s.t'`).
pub fn redshift_ddl(db: &mut postgres::Client, relation_and_options: &str) -> String {
    let sql = format!("SELECT redshift_ddl({relation_and_options})");
    db.query_one(&sql, &[]).unwrap_or_else(|e| panic!("{sql}: {}", describe(&e))).get(0)
}

/// `(source_name, source_type, redshift_name, redshift_type, nullable, note)` rows of
/// `redshift_columns()`.
pub type ColumnRow = (String, String, String, String, bool, Option<String>);

pub fn redshift_columns(db: &mut postgres::Client, relation_and_options: &str) -> Vec<ColumnRow> {
    let sql = format!(
        "SELECT source_name, source_type, redshift_name, redshift_type, nullable, note \
         FROM redshift_columns({relation_and_options}) ORDER BY position"
    );
    db.query(&sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {}", describe(&e)))
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
        .collect()
}

/// Parses a generated CREATE TABLE with sqlparser's Redshift dialect. Its grammar lacks
/// `SORTKEY AUTO` and the COMPOUND/INTERLEAVED prefixes; those are taken out first.
pub fn parse_redshift_ddl(sql: &str) -> sqlparser::ast::Statement {
    use sqlparser::dialect::RedshiftSqlDialect;
    let parseable = sql
        .replace("\nSORTKEY AUTO", "")
        .replace("COMPOUND SORTKEY", "SORTKEY")
        .replace("INTERLEAVED SORTKEY", "SORTKEY");
    let mut statements = sqlparser::parser::Parser::parse_sql(&RedshiftSqlDialect {}, &parseable)
        .unwrap_or_else(|e| panic!("sqlparser (Redshift dialect) rejects\n{sql}\n: {e}"));
    assert_eq!(statements.len(), 1, "{sql}");
    statements.remove(0)
}
