//! How the loader and other clients reach Redshift: TLS checked against a CA (the stack's, as a
//! real cluster's against Amazon's), plaintext refused under require_ssl, certificate and host
//! name failures in one line with an exit code of their own, retries while nothing answers, WLM
//! query groups, and a `watch` that outlives a restart of its target.
//! https://docs.aws.amazon.com/redshift/latest/mgmt/connecting-ssl-support.html

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use e2e::output_text as text;
use e2e::{Emulator, Options, Target, describe, export_database, fresh_target, loader, stack_setting, unique_prefix, url_parts, wait_for};


fn status_with(args: &[&str]) -> Output {
    loader().args(args).arg("status").output().expect("run redshift-load")
}

/// The stack's Redshift URL with its query (sslmode, sslrootcert) replaced.
fn url_with(query: &str) -> String {
    let url = stack_setting("PG2RS_REDSHIFT_URL");
    let base = url.split_once('?').map_or(url.as_str(), |(b, _)| b);
    format!("{base}?{query}")
}

/// A CA that signed nothing the stack serves.
fn other_ca(dir: &std::path::Path) -> std::path::PathBuf {
    let ca = dir.join("other-ca.pem");
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=not the stack CA", "-keyout"])
        .arg(dir.join("other-ca.key"))
        .arg("-out")
        .arg(&ca)
        .output()
        .expect("openssl");
    assert!(out.status.success(), "{}", text(&out));
    ca
}

#[test]
fn psql_and_the_postgres_crate_connect_with_verify_full() {
    let url = stack_setting("PG2RS_REDSHIFT_URL");
    assert!(url.contains("sslmode=verify-full"), "{url}");
    let out = Command::new("psql").args(["-X", "-At", &url, "-c", "SELECT 40 + 2"]).output().expect("psql");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "42");

    let mut db = e2e::connect(&url);
    let row = db.query_one("SELECT current_user::text", &[]).expect("query");
    assert_eq!(row.get::<_, String>(0), url_parts(&url).config.get_user().expect("user"));

    // The loader with the stack's CA on the command line instead of in the URL.
    let out = loader()
        .env("REDSHIFT_LOAD_TARGET", url.split_once('?').expect("query").0)
        .args(["--sslmode", "verify-full", "--sslrootcert", &stack_setting("PG2RS_REDSHIFT_CA"), "status"])
        .output()
        .expect("loader");
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn plaintext_is_refused_under_require_ssl() {
    let plain = url_with("sslmode=disable");
    let err = e2e::try_connect(&plain).err().expect("plaintext must be refused");
    assert!(err.contains("SSL off") && err.contains("28000"), "{err}");

    let out = Command::new("psql").args(["-X", "-At", &plain, "-c", "SELECT 1"]).output().expect("psql");
    assert!(!out.status.success());
    assert!(text(&out).contains("SSL off"), "{}", text(&out));

    let out = status_with(&["--sslmode", "disable"]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("127.0.0.1:") && stderr.contains("requires SSL"), "{stderr}");

    // require: encrypted, the certificate not checked (libpq's meaning).
    e2e::connect(&url_with("sslmode=require"));
}

#[test]
fn a_certificate_from_another_ca_fails_with_its_own_exit_code() {
    let dir = std::env::temp_dir().join(format!("e2e-other-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ca = other_ca(&dir);
    let out = status_with(&["--sslrootcert", ca.to_str().expect("path")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("TLS to 127.0.0.1:") && stderr.contains("not signed by the CAs in"), "{stderr}");
    // verify-ca checks the chain as well.
    let out = status_with(&["--sslmode", "verify-ca", "--sslrootcert", ca.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    // Without a CA file the system's CAs are used, and none of them signed the stack's.
    let out = status_with(&["--sslrootcert", "system"]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(text(&out).contains("system's trusted CAs"), "{}", text(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_host_name_the_certificate_does_not_carry_fails_verify_full_only() {
    // Connected to 127.0.0.1, the certificate checked against another name.
    let parts = url_parts(&stack_setting("PG2RS_REDSHIFT_URL")).config;
    let conn = |mode: &str| {
        format!(
            "host=wrong-name.invalid hostaddr=127.0.0.1 port={} user={} password={} dbname={} sslmode={mode} sslrootcert={}",
            parts.get_ports()[0],
            parts.get_user().expect("user"),
            String::from_utf8_lossy(parts.get_password().expect("password")),
            parts.get_dbname().expect("db"),
            stack_setting("PG2RS_REDSHIFT_CA"),
        )
    };
    let out = loader().env("REDSHIFT_LOAD_TARGET", conn("verify-full")).arg("status").output().expect("loader");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(stderr.contains("TLS to wrong-name.invalid:") && stderr.contains("not issued for this host name"), "{stderr}");
    let out = loader().env("REDSHIFT_LOAD_TARGET", conn("verify-ca")).arg("status").output().expect("loader");
    assert!(out.status.success(), "verify-ca does not check the name: {}", text(&out));
}

#[test]
fn nothing_listening_is_retried_then_reported_with_host_and_cause() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let out = loader()
        .env("REDSHIFT_LOAD_TARGET", format!("postgresql://u:p@127.0.0.1:{port}/dev"))
        .args(["--connect-attempts", "2", "status"])
        .output()
        .expect("loader");
    let t = text(&out);
    assert_eq!(out.status.code(), Some(5), "{t}");
    assert!(t.contains(&format!("cannot connect to 127.0.0.1:{port}")), "{t}");
    assert!(t.to_lowercase().contains("connection refused"), "{t}");
    assert!(t.contains("trying again in 1s"), "{t}");
}

#[test]
fn query_group_and_statement_timeout_apply_to_the_session() {
    let options = Options { query_group: Some("etl_loads".into()), statement_timeout: Some(Duration::from_secs(1)), ..Options::default() };
    let mut db = Target::parse(&stack_setting("PG2RS_REDSHIFT_URL"), &options).and_then(|t| t.connect(|_, _| {})).expect("connect");
    let group: String = db.query_one("SHOW query_group", &[]).expect("show").get(0);
    assert_eq!(group, "etl_loads");
    // A statement waiting on another session's lock is cancelled after the timeout.
    let mut holder = e2e::redshift();
    holder.batch_execute("CREATE TABLE IF NOT EXISTS public.cn_timeout (id int); BEGIN; LOCK public.cn_timeout").expect("lock");
    let err = db.batch_execute("SELECT count(*) FROM public.cn_timeout").expect_err("cancelled by statement_timeout");
    assert!(describe(&err).contains("57014"), "{}", describe(&err));
    holder.batch_execute("END").expect("end");
    let bad = Options { query_group: Some("x'; DROP TABLE t; --".into()), ..Options::default() };
    let err = Target::parse(&stack_setting("PG2RS_REDSHIFT_URL"), &bad).and_then(|t| t.connect(|_, _| {})).err().expect("refused");
    assert!(err.to_string().contains("query_group"), "{err}");
}

/// `watch` keeps going while its target restarts: the pass that finds it down reports the
/// failure, a later one loads what was exported meanwhile.
#[test]
fn watch_survives_its_target_restarting() {
    fresh_target("cn1");
    let mut emulator = Emulator::start(&[]);
    let mut src = export_database("e2e_conn_watch");
    src.batch_execute("CREATE SCHEMA cn1; CREATE TABLE cn1.t (id int); INSERT INTO cn1.t VALUES (1)").expect("source");
    let prefix = unique_prefix("conn-watch");
    let export = |src: &mut postgres::Client| {
        src.query(&format!("SELECT bundle_url FROM redshift_export_schema('cn1', prefix => '{prefix}')"), &[])
            .unwrap_or_else(|e| panic!("export: {}", describe(&e)));
    };
    export(&mut src);
    let mut watch = loader()
        .env("REDSHIFT_LOAD_TARGET", &emulator.url)
        .args(["--connect-attempts", "2", "watch", "--interval", "1", &format!("s3://{}/{prefix}/", e2e::s3_bucket())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("watch");
    let rows = |url: &str| {
        e2e::try_connect(url).ok().and_then(|mut db| db.query_one("SELECT count(*) FROM cn1.t", &[]).ok()).map(|r| r.get::<_, i64>(0))
    };
    wait_for("the first export loaded", Duration::from_secs(60), || (rows(&emulator.url) == Some(1)).then_some(()));
    emulator.stop();
    src.batch_execute("INSERT INTO cn1.t VALUES (2)").expect("insert");
    std::thread::sleep(Duration::from_millis(1100));
    export(&mut src);
    std::thread::sleep(Duration::from_secs(4));
    emulator.restart();
    wait_for("the second export loaded after the restart", Duration::from_secs(90), || (rows(&emulator.url) == Some(2)).then_some(()));
    assert!(watch.try_wait().expect("watch status").is_none(), "watch must still run");
    let _ = watch.kill();
    let _ = watch.wait();
}

/// AWS failures in one line: what was being done, the object, the service's code and message,
/// and a hint; never the SDK's debug structure (that is for --verbose).
#[test]
fn aws_failures_are_one_line_each() {
    let url = format!("s3://{}/e2e/no-export-here/bundle.json", e2e::s3_bucket());
    let one_line = |out: &Output| {
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(!stderr.contains("DispatchFailure") && !stderr.contains("ServiceError {"), "{stderr}");
        stderr
    };
    let mut no_credentials = loader();
    for var in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"]
    {
        no_credentials.env_remove(var);
    }
    let out = no_credentials
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
        .env("AWS_CONFIG_FILE", "/nonexistent/config")
        .args(["load", &url])
        .output()
        .expect("loader");
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let stderr = one_line(&out);
    assert!(stderr.contains("no AWS credentials found; tried the environment"), "{stderr}");

    let out = loader().env("AWS_SECRET_ACCESS_KEY", "not-the-secret").args(["load", &url]).output().expect("loader");
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let stderr = one_line(&out);
    assert!(stderr.contains("reading s3://") && stderr.contains("SignatureDoesNotMatch"), "{stderr}");

    let out = loader().args(["load", &format!("s3://no-such-bucket-{}/p/bundle.json", std::process::id())]).output().expect("loader");
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let stderr = one_line(&out);
    assert!(stderr.contains("NoSuchBucket") && stderr.contains("the bucket does not exist"), "{stderr}");

    let out = loader().arg("-v").env("AWS_SECRET_ACCESS_KEY", "not-the-secret").args(["load", &url]).output().expect("loader");
    assert!(String::from_utf8_lossy(&out.stderr).lines().count() > 1, "--verbose adds the causes");
}
