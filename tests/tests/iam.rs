//! IAM database credentials end to end: the loader asks the emulator's stand-in for Redshift's
//! credential APIs (GetClusterCredentials, GetClusterCredentialsWithIAM, Serverless
//! GetCredentials; SigV4-signed with the stack's key pair) before every connection, logs in with
//! the user name exactly as returned, and reports refusals in one line with exit code 7.
//! https://docs.aws.amazon.com/redshift/latest/mgmt/generating-iam-credentials-overview.html

use std::process::Command;
use std::time::Duration;

use e2e::output_text as text;
use e2e::{Emulator, describe, export_database, fresh_target, loader, redshift, stack_setting, unique_prefix, wait_for};


/// The loader with IAM credentials from the stack's stand-in (the URL's user and password are
/// not used).
fn iam_loader(args: &[&str]) -> Command {
    let mut c = loader();
    c.env("REDSHIFT_LOAD_IAM_ENDPOINT", stack_setting("PG2RS_REDSHIFT_IAM_ENDPOINT"))
        .env("REDSHIFT_LOAD_IAM_REGION", stack_setting("PG2RS_S3_REGION"))
        .env("REDSHIFT_LOAD_TARGET", stack_setting("PG2RS_REDSHIFT_URL").replacen("awsuser:", "nobody:", 1))
        .args(args);
    c
}

fn cluster() -> String {
    stack_setting("PG2RS_REDSHIFT_CLUSTER")
}

#[test]
fn a_load_with_cluster_credentials_for_a_database_user() {
    fresh_target("iam1");
    let mut src = export_database("e2e_iam_load");
    src.batch_execute("CREATE SCHEMA iam1; CREATE TABLE iam1.t (id int PRIMARY KEY); INSERT INTO iam1.t SELECT generate_series(1, 25)")
        .expect("source");
    let prefix = unique_prefix("iam-load");
    let bundle: String = src
        .query_one(&format!("SELECT bundle_url FROM redshift_export_schema('iam1', prefix => '{prefix}')"), &[])
        .unwrap_or_else(|e| panic!("export: {}", describe(&e)))
        .get(0);
    let out = iam_loader(&["--cluster-id", &cluster(), "--db-user", "awsuser", "load", &bundle]).output().expect("loader");
    assert!(out.status.success(), "{}", text(&out));
    let n: i64 = redshift().query_one("SELECT count(*) FROM iam1.t", &[]).expect("count").get(0);
    assert_eq!(n, 25);
}

#[test]
fn auto_create_and_groups_make_a_user_with_the_groups_rights() {
    let mut rs = redshift();
    rs.batch_execute(
        "CREATE SCHEMA IF NOT EXISTS pg2redshift_loader;
         CREATE TABLE IF NOT EXISTS iam_probe (id int)",
    )
    .expect("setup");
    let _ = rs.batch_execute("CREATE GROUP pg2rs_loaders");
    rs.batch_execute("GRANT SELECT ON iam_probe TO GROUP pg2rs_loaders").expect("grant");
    let user = format!("iam_new_{}", std::process::id());
    let out = iam_loader(&["--cluster-id", &cluster(), "--db-user", &user, "--auto-create", "--db-groups", "pg2rs_loaders", "status"])
        .output()
        .expect("loader");
    // The new user logged in; status reads the load history, which it may read or not: either
    // way the login worked, and the user exists in the group afterwards.
    assert!(out.status.success() || text(&out).contains("permission denied"), "{}", text(&out));
    let row = rs
        .query_one(
            "SELECT count(*) FROM pg_user u WHERE u.usename = $1",
            &[&user],
        )
        .expect("pg_user");
    assert_eq!(row.get::<_, i64>(0), 1, "AutoCreate made the user");
    let member: i64 = rs
        .query_one(
            "SELECT count(*) FROM pg_user u JOIN pg_group g ON u.usesysid = ANY (g.grolist) WHERE g.groname = 'pg2rs_loaders' AND u.usename = $1",
            &[&user],
        )
        .expect("pg_group")
        .get(0);
    assert_eq!(member, 1, "DbGroups put the user in the group");

    // A group the identity may not join: AccessDenied, in one line, exit 7.
    let out = iam_loader(&["--cluster-id", &cluster(), "--db-user", &user, "--db-groups", "admins", "status"]).output().expect("loader");
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("AccessDenied") && stderr.contains("redshift:JoinGroup"), "{stderr}");
}

#[test]
fn the_callers_iam_identity_on_a_cluster_and_on_serverless() {
    // Returned as IAM:pg2redshift-loader; Redshift folds the name of the database user.
    let iam_user = "iam:pg2redshift-loader";
    for args in [vec!["--cluster-id", "CLUSTER", "--iam-identity"], vec!["--workgroup", "WORKGROUP"]] {
        let args: Vec<String> = args
            .iter()
            .map(|a| a.replace("CLUSTER", &cluster()).replace("WORKGROUP", &stack_setting("PG2RS_REDSHIFT_WORKGROUP")))
            .collect();
        let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
        all.push("status");
        let first = iam_loader(&all).output().expect("loader");
        // The user is the IAM identity, created on first use, with no rights of its own yet.
        let mut rs = redshift();
        let n: i64 = rs.query_one("SELECT count(*) FROM pg_user WHERE usename = $1", &[&iam_user]).expect("pg_user").get(0);
        assert_eq!(n, 1, "{iam_user} exists: {}", text(&first));
        rs.batch_execute(
            "CREATE SCHEMA IF NOT EXISTS pg2redshift_loader;
             GRANT USAGE ON SCHEMA pg2redshift_loader TO \"IAM:pg2redshift-loader\"",
        )
        .expect("grant");
        let _ = rs.batch_execute("GRANT SELECT ON pg2redshift_loader.loads TO \"IAM:pg2redshift-loader\"");
        let again = iam_loader(&all).output().expect("loader");
        assert!(again.status.success(), "{args:?}: {}", text(&again));
    }
}

#[test]
fn refusals_are_one_line_with_exit_code_7() {
    let cases: [(&[&str], &str); 3] = [
        (&["--cluster-id", "no-such-cluster", "--db-user", "awsuser"], "ClusterNotFound"),
        (&["--workgroup", "no-such-workgroup"], "ResourceNotFoundException"),
        (&["--cluster-id", "CLUSTER", "--db-user", "awsuser", "--iam-duration", "600"], "900 to 3600"),
    ];
    for (args, expected) in cases {
        let args: Vec<String> = args.iter().map(|a| a.replace("CLUSTER", &cluster())).collect();
        let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
        all.push("status");
        let out = iam_loader(&all).output().expect("loader");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(matches!(out.status.code(), Some(7) | Some(2)), "{args:?}: {}", text(&out));
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    let out = iam_loader(&["--cluster-id", &cluster(), "--db-user", "awsuser", "status"])
        .env("AWS_SECRET_ACCESS_KEY", "not-the-secret")
        .output()
        .expect("loader");
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    assert!(text(&out).contains("SignatureDoesNotMatch"), "{}", text(&out));
}

/// Credentials that expired are never reused: every pass of `watch` connects with new ones.
#[test]
fn watch_gets_new_credentials_after_the_old_ones_expired() {
    fresh_target("iam2");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let listen = format!("127.0.0.1:{port}");
    // 900 seconds become 3.
    let emulator = Emulator::start(&["--iam-listen", &listen, "--iam-cluster", "short-lived", "--iam-expiry-divisor", "300"]);
    let mut src = export_database("e2e_iam_watch");
    src.batch_execute("CREATE SCHEMA iam2; CREATE TABLE iam2.t (id int); INSERT INTO iam2.t VALUES (1)").expect("source");
    let prefix = unique_prefix("iam-watch");
    let export = |src: &mut postgres::Client| {
        src.query(&format!("SELECT bundle_url FROM redshift_export_schema('iam2', prefix => '{prefix}')"), &[])
            .unwrap_or_else(|e| panic!("export: {}", describe(&e)));
    };
    export(&mut src);
    let mut watch = loader()
        .env("REDSHIFT_LOAD_TARGET", emulator.url.replacen("awsuser:", "nobody:", 1))
        .env("REDSHIFT_LOAD_IAM_ENDPOINT", format!("http://{listen}"))
        .env("REDSHIFT_LOAD_IAM_REGION", stack_setting("PG2RS_S3_REGION"))
        .args(["--cluster-id", "short-lived", "--db-user", "awsuser", "watch", "--interval", "1"])
        .arg(format!("s3://{}/{prefix}/", e2e::s3_bucket()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("watch");
    let rows = || redshift().query_one("SELECT count(*) FROM iam2.t", &[]).ok().map(|r| r.get::<_, i64>(0));
    wait_for("the first export loaded", Duration::from_secs(60), || (rows() == Some(1)).then_some(()));
    std::thread::sleep(Duration::from_secs(4));
    src.batch_execute("INSERT INTO iam2.t VALUES (2)").expect("insert");
    std::thread::sleep(Duration::from_millis(1100));
    export(&mut src);
    wait_for("the second export loaded with new credentials", Duration::from_secs(60), || (rows() == Some(2)).then_some(()));
    assert!(watch.try_wait().expect("watch").is_none(), "watch must still run");
    let _ = watch.kill();
    let _ = watch.wait();
}
