//! Helpers for the end-to-end tests: where the running stack is (from `scripts/stack env`),
//! and clients configured the way the product's own parts configure theirs.

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
pub use pg2redshift_loader::connection::{Options, Target};

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

/// A connection made as the loader makes its own (TLS as the URL says: the stack's Redshift URLs
/// ask for verify-full against the stack's CA).
pub fn connect(url: &str) -> postgres::Client {
    try_connect(url).unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"))
}

/// As [`connect`], one attempt, the failure in the loader's words.
pub fn try_connect(url: &str) -> Result<postgres::Client, String> {
    let options = Options { attempts: 1, application_name: "e2e".into(), ..Options::default() };
    Target::parse(url, &options).and_then(|t| t.connect(|_, _| {})).map_err(|e| e.to_string())
}

/// The parts of a connection URL (user, password, host, port, database) and its TLS settings.
pub fn url_parts(url: &str) -> Target {
    Target::parse(url, &Options::default()).unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// A process's stdout and stderr, for assertions and failure messages.
pub fn output_text(o: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The server's message and SQLSTATE where there is one (Display says only "db error").
pub fn describe(err: &postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => err.to_string(),
    }
}

/// The first column of the one row `sql` returns, as a bigint (`SELECT count(*) …`).
pub fn count(db: &mut postgres::Client, sql: &str) -> i64 {
    db.query_one(sql, &[]).unwrap_or_else(|e| panic!("{sql}: {}", describe(&e))).get(0)
}

/// A directory of the server's installation, as its pg_config names it (`SHAREDIR`,
/// `PKGLIBDIR`): the stack's cluster runs the installed PostgreSQL 15.
pub fn server_dir(admin: &mut postgres::Client, name: &str) -> std::path::PathBuf {
    let value: String = admin
        .query_one("SELECT setting FROM pg_catalog.pg_config WHERE name = $1", &[&name])
        .unwrap_or_else(|e| panic!("pg_config {name}: {}", describe(&e)))
        .get(0);
    value.into()
}

/// `extension/releases/`: each released version's install script, as released.
pub fn releases_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../extension/releases")
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
    connect(&source_database_url(name))
}

/// URL of database `name` in the source cluster, as the superuser.
pub fn source_database_url(name: &str) -> String {
    let url = stack_setting("PG2RS_SOURCE_URL");
    let base = url.rsplit_once('/').map_or(url.as_str(), |(base, _)| base);
    format!("{base}/{name}")
}

/// An S3 client for the stack's S3 server, set up as the extension and loader set theirs up
/// for an S3-compatible server: custom endpoint, path-style addressing, static keys, a region.
pub fn s3_client_with_secret(secret: &str) -> aws_sdk_s3::Client {
    s3_client_at(&stack_setting("PG2RS_S3_ENDPOINT"), secret)
}

/// The same set-up for any S3-compatible endpoint.
pub fn s3_client_at(endpoint: &str, secret: &str) -> aws_sdk_s3::Client {
    let credentials = Credentials::new(
        stack_setting("PG2RS_S3_ACCESS_KEY"),
        secret,
        None,
        None,
        "pg2redshift-tests",
    );
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
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

/// Runs `sql` through the simple query protocol: every value as its output text, NULL as None.
pub fn text_rows(db: &mut postgres::Client, sql: &str) -> Vec<Vec<Option<String>>> {
    db.simple_query(sql)
        .unwrap_or_else(|e| panic!("{}: {}", excerpt(sql, 300), describe(&e)))
        .into_iter()
        .filter_map(|m| match m {
            postgres::SimpleQueryMessage::Row(r) => Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect()),
            _ => None,
        })
        .collect()
}

/// At most `max` bytes of `s` (cut at a character boundary), with its length when cut.
pub fn excerpt(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
}

/// Runs `sql`, which must fail, and returns the server's error.
fn server_error(db: &mut postgres::Client, sql: &str) -> postgres::Error {
    match db.batch_execute(sql) {
        Ok(()) => panic!("expected an error, but it succeeded: {sql}"),
        Err(err) => err,
    }
}

/// Runs a statement that must fail; returns "message (SQLSTATE)".
pub fn fails(db: &mut postgres::Client, sql: &str) -> String {
    describe(&server_error(db, sql))
}

/// Runs `sql`, expects it to fail with SQLSTATE `code`, and returns the error's message.
pub fn expect_sqlstate(db: &mut postgres::Client, sql: &str, code: &str) -> String {
    let err = server_error(db, sql);
    let db_err = err.as_db_error().unwrap_or_else(|| panic!("{sql}: not a server error: {err}"));
    assert_eq!(db_err.code().code(), code, "{sql}: {}", db_err.message());
    db_err.message().to_string()
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

pub mod corpus;
pub mod redshift_csv;

/// A fresh database with the extension installed.
pub fn export_database(name: &str) -> postgres::Client {
    let mut db = fresh_source_database(name);
    db.batch_execute("CREATE EXTENSION pg2redshift")
        .unwrap_or_else(|e| panic!("CREATE EXTENSION: {}", describe(&e)));
    db
}

/// A key prefix no other test run uses, so listings see only this test's objects.
pub fn unique_prefix(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("e2e/{test}-{nanos}-{}", std::process::id())
}

/// One row of redshift_export()'s result.
#[derive(Debug, Clone)]
pub struct Exported {
    pub export_id: String,
    pub table_name: String,
    pub bundle_url: String,
    pub rows: i64,
    pub files: i64,
    pub bytes: i64,
    pub bytes_gzip: i64,
    pub changed_values: i64,
}

/// Runs `SELECT * FROM <call>`, e.g. `redshift_export('t', prefix => 'x')`.
pub fn try_export(db: &mut postgres::Client, call: &str) -> Result<Vec<Exported>, postgres::Error> {
    let sql = format!(
        "SELECT export_id, table_name, bundle_url, rows, files, bytes, bytes_gzip, changed_values FROM {call}"
    );
    Ok(db
        .query(&sql, &[])?
        .iter()
        .map(|r| Exported {
            export_id: r.get(0),
            table_name: r.get(1),
            bundle_url: r.get(2),
            rows: r.get(3),
            files: r.get(4),
            bytes: r.get(5),
            bytes_gzip: r.get(6),
            changed_values: r.get(7),
        })
        .collect())
}

pub fn export(db: &mut postgres::Client, call: &str) -> Vec<Exported> {
    try_export(db, call).unwrap_or_else(|e| panic!("{call}: {}", describe(&e)))
}

/// `(bucket, key)` of an `s3://bucket/key` URL.
pub fn split_url(url: &str) -> (String, String) {
    let (bucket, key) = pg2redshift_bundle::split_s3_url(url).unwrap_or_else(|| panic!("not an s3 URL: {url}"));
    (bucket.to_string(), key.to_string())
}

/// Blocking S3 calls for the synchronous tests.
pub struct S3 {
    runtime: tokio::runtime::Runtime,
    client: aws_sdk_s3::Client,
    pub bucket: String,
}

impl S3 {
    pub fn stack() -> S3 {
        S3::at(&stack_setting("PG2RS_S3_ENDPOINT"))
    }

    /// The same keys, another S3-compatible server (e.g. one a test starts and stops).
    pub fn at(endpoint: &str) -> S3 {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let client = s3_client_at(endpoint, &stack_setting("PG2RS_S3_SECRET_KEY"));
        S3 { runtime, client, bucket: s3_bucket() }
    }

    pub fn get(&self, key: &str) -> Vec<u8> {
        self.runtime.block_on(async {
            let out = self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
                .unwrap_or_else(|e| panic!("get {key}: {}", aws_sdk_s3::error::DisplayErrorContext(e)));
            out.body.collect().await.expect("read body").into_bytes().to_vec()
        })
    }

    /// Uploads `body` as part 1 of a new multipart upload of `key` with a CRC32C: `crc32c`
    /// (base64) as given, or computed by the SDK when None; the server's answer: the part's
    /// ETag, or its error code. The upload is aborted either way.
    pub fn upload_part_claiming(&self, key: &str, body: Vec<u8>, crc32c: Option<&str>) -> Result<String, String> {
        use aws_sdk_s3::error::ProvideErrorMetadata;
        use aws_sdk_s3::types::ChecksumAlgorithm;
        self.runtime.block_on(async {
            let upload = self
                .client
                .create_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .checksum_algorithm(ChecksumAlgorithm::Crc32C)
                .send()
                .await
                .expect("create multipart upload");
            let id = upload.upload_id().expect("an upload id").to_string();
            let part = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(&id)
                .part_number(1)
                .checksum_algorithm(ChecksumAlgorithm::Crc32C)
                .set_checksum_crc32_c(crc32c.map(str::to_string))
                .body(body.into())
                .send()
                .await;
            self.client.abort_multipart_upload().bucket(&self.bucket).key(key).upload_id(&id).send().await.expect("abort");
            part.map(|p| p.e_tag().unwrap_or_default().to_string()).map_err(|e| e.code().unwrap_or("no code").to_string())
        })
    }

    /// Every key under `prefix`.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        self.runtime.block_on(async {
            let mut keys = Vec::new();
            let mut pages = self.client.list_objects_v2().bucket(&self.bucket).prefix(prefix).into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.unwrap_or_else(|e| panic!("list {prefix}: {}", aws_sdk_s3::error::DisplayErrorContext(e)));
                keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_string)));
            }
            keys.sort();
            keys
        })
    }

    /// The server-side encryption an object was written with: (algorithm, KMS key id).
    pub fn encryption(&self, key: &str) -> (Option<String>, Option<String>) {
        self.runtime.block_on(async {
            let out = self.client.head_object().bucket(&self.bucket).key(key).send().await;
            let out = out.unwrap_or_else(|e| panic!("head {key}: {}", aws_sdk_s3::error::DisplayErrorContext(e)));
            (out.server_side_encryption().map(|s| s.as_str().to_string()), out.ssekms_key_id().map(str::to_string))
        })
    }

    pub fn size(&self, key: &str) -> i64 {
        self.runtime.block_on(async {
            let out = self.client.head_object().bucket(&self.bucket).key(key).send().await;
            out.unwrap_or_else(|e| panic!("head {key}: {}", aws_sdk_s3::error::DisplayErrorContext(e)))
                .content_length()
                .unwrap_or(-1)
        })
    }

    /// Keys of the multipart uploads still open under `prefix`.
    pub fn open_uploads(&self, prefix: &str) -> Vec<String> {
        self.runtime.block_on(async {
            let out = self
                .client
                .list_multipart_uploads()
                .bucket(&self.bucket)
                .prefix(prefix)
                .send()
                .await
                .unwrap_or_else(|e| panic!("list uploads {prefix}: {}", aws_sdk_s3::error::DisplayErrorContext(e)));
            out.uploads().iter().filter_map(|u| u.key().map(str::to_string)).collect()
        })
    }

    pub fn bundle(&self, url: &str) -> pg2redshift_bundle::Bundle {
        let (_, key) = split_url(url);
        let text = String::from_utf8(self.get(&key)).expect("bundle.json is UTF-8");
        pg2redshift_bundle::Bundle::from_json(&text).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    /// The export document a bundle names, checked against the bundle's reference.
    pub fn document(&self, bundle: &pg2redshift_bundle::Bundle) -> pg2redshift_bundle::ExportDocument {
        let reference = bundle.export_document.as_ref().expect("a format 2 bundle names its export document");
        let bytes = self.get(&reference.key);
        let doc = pg2redshift_bundle::ExportDocument::from_json(std::str::from_utf8(&bytes).expect("UTF-8"))
            .unwrap_or_else(|e| panic!("{}: {e}", reference.key));
        pg2redshift_bundle::integrity::check_document(reference, &bytes, &doc).unwrap_or_else(|e| panic!("{}: {e}", reference.key));
        doc
    }

    /// The rows of a bundle, read through its manifest as COPY would, after checking that the
    /// manifest lists exactly the bundle's files with their real sizes.
    pub fn rows(&self, bundle: &pg2redshift_bundle::Bundle) -> Vec<Vec<redshift_csv::Field>> {
        use std::io::Read;
        let manifest: pg2redshift_bundle::Manifest =
            serde_json::from_slice(&self.get(&bundle.manifest_key)).expect("manifest.json parses");
        assert_eq!(manifest.entries.len(), bundle.files.len(), "manifest and bundle list the same files");
        let mut rows = Vec::new();
        for (entry, file) in manifest.entries.iter().zip(&bundle.files) {
            let (bucket, key) = split_url(&entry.url);
            assert_eq!(bucket, self.bucket);
            assert_eq!(key, file.key);
            assert!(entry.mandatory);
            assert_eq!(entry.meta.content_length as i64, self.size(&key), "{key}: manifest size");
            let compressed = self.get(&key);
            let mut csv = Vec::new();
            match bundle.encoding.compression.as_str() {
                "gzip" => {
                    assert!(key.ends_with(".csv.gz"), "{key}");
                    flate2::read::GzDecoder::new(compressed.as_slice()).read_to_end(&mut csv).expect("valid gzip");
                }
                "zstd" => {
                    assert!(key.ends_with(".csv.zst"), "{key}");
                    csv = zstd::stream::decode_all(compressed.as_slice()).expect("valid zstd");
                }
                other => panic!("{key}: unknown compression {other}"),
            }
            assert_eq!(csv.len() as u64, file.raw_bytes, "{key}: raw size");
            let parsed = redshift_csv::parse(&csv).unwrap_or_else(|e| panic!("{key}: {e}"));
            assert_eq!(parsed.len() as u64, file.rows, "{key}: row count");
            rows.extend(parsed);
        }
        rows
    }
}

/// A session on the Redshift emulator as the stack's superuser.
pub fn redshift() -> postgres::Client {
    connect(&stack_setting("PG2RS_REDSHIFT_URL"))
}

/// An emulator of its own on a free port (with extra arguments), sharing the stack's backing
/// database, users, S3 and certificate, and refusing plaintext as the stack's does; stopped
/// when dropped.
pub struct Emulator {
    child: Option<std::process::Child>,
    pub port: u16,
    /// The stack's superuser URL, on this emulator's port.
    pub url: String,
    args: Vec<String>,
}

impl Emulator {
    pub fn start(args: &[&str]) -> Emulator {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port();
        let stack_url = stack_setting("PG2RS_REDSHIFT_URL");
        let stack_port = url_parts(&stack_url).config.get_ports()[0];
        let url = stack_url.replacen(&format!(":{stack_port}/"), &format!(":{port}/"), 1);
        let mut e = Emulator { child: None, port, url, args: args.iter().map(|a| a.to_string()).collect() };
        e.restart();
        e
    }

    /// Started again on the same port (stopped first if it runs).
    pub fn restart(&mut self) {
        self.stop();
        let target = url_parts(&stack_setting("PG2RS_TARGET_PG_URL")).config;
        let stack = url_parts(&stack_setting("PG2RS_REDSHIFT_URL")).config;
        let credentials = format!(
            "{}:{}",
            stack.get_user().expect("user"),
            String::from_utf8_lossy(stack.get_password().expect("password"))
        );
        let backing = match &target.get_hosts()[0] {
            postgres::config::Host::Tcp(h) => format!("{h}:{}", target.get_ports()[0]),
            other => panic!("the backing database on {other:?}"),
        };
        let tls = std::path::PathBuf::from(stack_setting("PG2RS_REDSHIFT_CA"));
        let tls = tls.parent().expect("the stack's tls folder");
        let child = std::process::Command::new(stack_setting("PG2RS_EMULATOR_BIN"))
            .args(&self.args)
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .env("REDSHIFT_EMULATOR_BACKING", backing)
            .env("REDSHIFT_EMULATOR_BACKING_DB", target.get_dbname().expect("backing db"))
            .env("REDSHIFT_EMULATOR_DATABASE", stack.get_dbname().expect("db"))
            .env("REDSHIFT_EMULATOR_SUPERUSERS", credentials)
            .env("REDSHIFT_EMULATOR_S3_ENDPOINT", stack_setting("PG2RS_S3_ENDPOINT"))
            .env("REDSHIFT_EMULATOR_S3_ACCESS_KEY_ID", stack_setting("PG2RS_S3_ACCESS_KEY"))
            .env("REDSHIFT_EMULATOR_S3_SECRET_ACCESS_KEY", stack_setting("PG2RS_S3_SECRET_KEY"))
            .env("REDSHIFT_EMULATOR_IAM_ROLES", stack_setting("PG2RS_REDSHIFT_IAM_ROLE"))
            .env("REDSHIFT_EMULATOR_TLS_CERT", tls.join("server.pem"))
            .env("REDSHIFT_EMULATOR_TLS_KEY", tls.join("server.key"))
            .env("REDSHIFT_EMULATOR_REQUIRE_SSL", "true")
            .env("REDSHIFT_EMULATOR_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("the emulator binary");
        self.child = Some(child);
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(started.elapsed() < std::time::Duration::from_secs(20), "the emulator did not start");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The IAM role the stack's emulator accepts for COPY.
pub fn redshift_iam_role() -> String {
    stack_setting("PG2RS_REDSHIFT_IAM_ROLE")
}

impl S3 {
    pub fn put(&self, key: &str, body: Vec<u8>) {
        self.runtime.block_on(async {
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .body(body.into())
                .send()
                .await
                .unwrap_or_else(|e| panic!("put {key}: {}", aws_sdk_s3::error::DisplayErrorContext(e)));
        })
    }

    /// Writes signature.json anew for a bundle's current bundle.json and manifest.json, with
    /// the stack's signing key: for tests that change an export on purpose and are not about
    /// forgery.
    pub fn sign_again(&self, bundle_url: &str) {
        let key_text = std::fs::read_to_string(stack_setting("PG2RS_SIGNING_KEY_FILE")).expect("the stack's signing key");
        let key = pg2redshift_bundle::signature::SigningKey::new(key_text.trim().as_bytes()).expect("signing key");
        let bundle_key = split_url(bundle_url).1;
        let folder = bundle_key.trim_end_matches(pg2redshift_bundle::BUNDLE_FILE);
        let bundle = self.get(&bundle_key);
        let manifest = self.get(&format!("{folder}{}", pg2redshift_bundle::MANIFEST_FILE));
        let signature = key.sign(&bundle, &manifest).to_json().expect("signature json");
        self.put(&format!("{folder}{}", pg2redshift_bundle::signature::SIGNATURE_FILE), signature.into_bytes());
    }

    pub fn delete(&self, key: &str) {
        self.runtime.block_on(async {
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
                .unwrap_or_else(|e| panic!("delete {key}: {}", aws_sdk_s3::error::DisplayErrorContext(e)));
        })
    }
}

/// `redshift-load` configured for the stack: the emulator as target, the stack's IAM role for
/// COPY, and the S3 server with its keys for reading bundles.
pub fn loader() -> std::process::Command {
    loader_at(stack_setting("PG2RS_LOADER_BIN"))
}

/// As [`loader`], for the binary at `path` (a release build unpacked from its tarball).
pub fn loader_at(path: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
    let mut c = std::process::Command::new(path);
    c.env("REDSHIFT_LOAD_TARGET", stack_setting("PG2RS_REDSHIFT_URL"))
        .env("REDSHIFT_LOAD_IAM_ROLE", stack_setting("PG2RS_REDSHIFT_IAM_ROLE"))
        .env("REDSHIFT_LOAD_S3_ENDPOINT", stack_setting("PG2RS_S3_ENDPOINT"))
        .env("REDSHIFT_LOAD_S3_REGION", stack_setting("PG2RS_S3_REGION"))
        .env("AWS_ACCESS_KEY_ID", stack_setting("PG2RS_S3_ACCESS_KEY"))
        .env("AWS_SECRET_ACCESS_KEY", stack_setting("PG2RS_S3_SECRET_KEY"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("REDSHIFT_LOAD_SIGNING_KEY_FILE", stack_setting("PG2RS_SIGNING_KEY_FILE"));
    c
}

/// An empty Redshift schema and no load history for it, so a test can run again.
pub fn fresh_target(schema: &str) {
    let mut rs = redshift();
    rs.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).expect("drop schema");
    let history: i64 = rs
        .query_one("SELECT count(*) FROM pg_tables WHERE schemaname = 'pg2redshift_loader'", &[])
        .expect("history table")
        .get(0);
    if history > 0 {
        rs.execute("DELETE FROM pg2redshift_loader.loads WHERE target_schema = $1", &[&schema]).expect("history");
    }
}

/// Names of the built-in types of the live catalog with `typtype` in `typtypes` (e.g. `'b'`),
/// leaving out composite row types and arrays (but not `int2vector`/`oidvector`, which are
/// scalars to the mapping).
pub fn builtin_types(db: &mut postgres::Client, typtypes: &[&str]) -> Vec<String> {
    let typtypes: Vec<String> = typtypes.iter().map(|t| t.to_string()).collect();
    db.query(
        "SELECT typname::text FROM pg_type
         WHERE typnamespace = 'pg_catalog'::regnamespace AND typtype::text = ANY($1)
           AND typrelid = 0 AND (typcategory <> 'A' OR typname IN ('int2vector', 'oidvector'))
         ORDER BY typname",
        &[&typtypes],
    )
    .expect("list built-in types")
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// Polls `check` until it returns Some, or panics after `limit`.
pub fn wait_for<T>(what: &str, limit: std::time::Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
