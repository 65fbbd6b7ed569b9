//! Least privilege end to end: an ordinary exporter writes only to destinations a superuser
//! created and granted, into the Redshift schemas they allow; the loader loads only the schemas
//! it was given, and with a signing key only bundles signed with it. Every escape is refused
//! with its SQLSTATE (or exit code 3) and changes nothing in S3 or in Redshift.


use e2e::output_text as text;
use e2e::{S3, connect, count, describe, export, export_database, expect_sqlstate, fresh_target, loader, redshift, source_database_url, unique_prefix};

/// The stack's S3 server, for destinations (a destination names its own endpoint).
const LOCAL_S3: &str = "endpoint => current_setting('pg2redshift.endpoint'), force_path_style => true";

fn url_as(database: &str, role: &str) -> String {
    // Trust authentication on the local stack: any role name logs in.
    source_database_url(database).replacen("postgres@", &format!("{role}@"), 1)
}


#[test]
fn an_exporter_writes_only_where_its_destination_allows() {
    const DB: &str = "e2e_destinations";
    let mut admin = export_database(DB);
    let s3 = S3::stack();
    let (granted, other) = (unique_prefix("dest-granted"), unique_prefix("dest-other"));
    admin
        .batch_execute(&format!(
            "DROP ROLE IF EXISTS e2e_dest_exporter; DROP ROLE IF EXISTS e2e_dest_team;
             CREATE ROLE e2e_dest_team NOLOGIN IN ROLE pg2redshift_exporter;
             CREATE ROLE e2e_dest_exporter LOGIN IN ROLE e2e_dest_team;
             CREATE TABLE t (id int PRIMARY KEY, v text);
             INSERT INTO t VALUES (1, 'a'), (2, 'b');
             GRANT SELECT ON t TO e2e_dest_team;
             SELECT redshift_destination_create('granted', current_setting('pg2redshift.bucket'), ARRAY['Staging', 'public'],
                                                prefix => '{granted}', {LOCAL_S3});
             SELECT redshift_destination_create('other', current_setting('pg2redshift.bucket'), ARRAY['*'], prefix => '{other}', {LOCAL_S3});
             -- Granted to a role the exporter is a member of.
             SELECT redshift_destination_grant('granted', 'e2e_dest_team');"
        ))
        .unwrap();
    let mut exporter = connect(&url_as(DB, "e2e_dest_exporter"));

    // Raw locations are for superusers; so is an export without a destination.
    for option in ["bucket => 'elsewhere'", &format!("prefix => '{granted}/x'"), "endpoint => 'http://127.0.0.1:1'", "region => 'eu-west-1'", "force_path_style => false"] {
        let message = expect_sqlstate(&mut exporter, &format!("SELECT * FROM redshift_export('t', destination => 'granted', {option})"), "42501");
        assert!(message.contains("only a superuser"), "{option}: {message}");
    }
    let message = expect_sqlstate(&mut exporter, "SELECT * FROM redshift_export('t')", "42501");
    assert!(message.contains("without a destination"), "{message}");
    // Another destination, and one that does not exist, look the same to it.
    let not_granted = expect_sqlstate(&mut exporter, "SELECT * FROM redshift_export('t', destination => 'other')", "42501");
    let missing = expect_sqlstate(&mut exporter, "SELECT * FROM redshift_export('t', destination => 'nope')", "42501");
    assert_eq!(not_granted.replace("other", "X"), missing.replace("nope", "X"));
    // A target schema the destination does not allow, in every export form.
    let message = expect_sqlstate(&mut exporter, "SELECT * FROM redshift_export('t', destination => 'granted', target_schema => 'finance')", "42501");
    assert!(message.contains("\"finance\"") && message.contains("granted"), "{message}");
    expect_sqlstate(&mut exporter, "SELECT * FROM redshift_export_schema('public', destination => 'granted', target_schema => 'finance')", "42501");
    expect_sqlstate(&mut exporter, "SELECT * FROM redshift_export(ARRAY['t']::regclass[], destination => 'granted', target_schema => 'Finance')", "42501");
    assert!(s3.keys(&granted).is_empty() && s3.keys(&other).is_empty(), "a refused export wrote something");

    // It can neither manage destinations nor read them beyond its own.
    expect_sqlstate(&mut exporter, "SELECT redshift_destination_create('mine', 'b', ARRAY['*'])", "42501");
    expect_sqlstate(&mut exporter, "SELECT redshift_destination_grant('other', 'e2e_dest_exporter')", "42501");
    expect_sqlstate(&mut exporter, "SELECT * FROM redshift_destination", "42501");
    expect_sqlstate(&mut exporter, "UPDATE redshift_destination SET prefix = 'x'", "42501");
    expect_sqlstate(&mut exporter, "SELECT * FROM redshift_destination_grant", "42501");
    let visible: Vec<String> =
        exporter.query("SELECT name FROM redshift_destinations", &[]).unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(visible, ["granted"]);

    // The search_path cannot fool the lookup: an operator of its own for text = text that
    // always says true would make a naive lookup find the first destination of all.
    exporter
        .batch_execute(
            "CREATE SCHEMA IF NOT EXISTS e2e_dest_exporter;
             CREATE FUNCTION e2e_dest_exporter.yes(text, text) RETURNS boolean LANGUAGE sql AS 'SELECT true';
             CREATE OPERATOR e2e_dest_exporter.= (LEFTARG = text, RIGHTARG = text, FUNCTION = e2e_dest_exporter.yes);
             SET search_path = e2e_dest_exporter, public, pg_catalog;",
        )
        .map_err(|e| describe(&e))
        .ok();
    expect_sqlstate(&mut exporter, "SELECT * FROM redshift_export('t', destination => 'other')", "42501");
    exporter.batch_execute("RESET search_path").unwrap();

    // Through its destination the export works, into an allowed schema, under its prefix; the
    // default comes from pg2redshift.destination; schema names compare as Redshift folds them.
    let r = export(&mut exporter, "redshift_export('t', destination => 'granted', target_schema => 'STAGING')");
    assert_eq!(r[0].rows, 2);
    assert!(r[0].bundle_url.contains(&format!("/{granted}/{DB}/public.t/")), "{}", r[0].bundle_url);
    assert_eq!(s3.bundle(&r[0].bundle_url).table.schema, "staging");
    exporter.batch_execute("SET pg2redshift.destination = 'granted'").unwrap();
    let r = export(&mut exporter, "redshift_export_schema('public')");
    assert!(r[0].bundle_url.contains(&format!("/{granted}/")), "{}", r[0].bundle_url);
    assert!(s3.keys(&other).is_empty());

    // Revoked: refused again.
    admin.batch_execute("SELECT redshift_destination_revoke('granted', 'e2e_dest_team')").unwrap();
    expect_sqlstate(&mut exporter, "SELECT * FROM redshift_export('t')", "42501");

    // A superuser: unknown names are named as such, and a destination cannot be mixed with a
    // raw location; raw locations alone still work (the settings of before).
    let message = expect_sqlstate(&mut admin, "SELECT * FROM redshift_export('t', destination => 'nope')", "42704");
    assert!(message.contains("'nope'"), "{message}");
    expect_sqlstate(&mut admin, &format!("SELECT * FROM redshift_export('t', destination => 'other', prefix => '{other}')"), "22023");
    let r = export(&mut admin, &format!("redshift_export('t', prefix => '{other}/raw', target_schema => 'anything')"));
    assert!(r[0].bundle_url.contains(&format!("/{other}/raw/")), "{}", r[0].bundle_url);
    // Bad destinations are refused by the catalog itself.
    for bad in [
        "redshift_destination_create('bad', 'Not_A_Bucket', ARRAY['*'])",
        "redshift_destination_create('bad', 'pg2redshift', ARRAY['*'], prefix => 'a/../b')",
        "redshift_destination_create('bad', 'pg2redshift', ARRAY['*'], prefix => 'a\\b')",
        "redshift_destination_create('bad', 'pg2redshift', ARRAY[]::text[])",
    ] {
        expect_sqlstate(&mut admin, &format!("SELECT {bad}"), "23514");
    }
    // Dropping a destination drops its grants.
    admin.batch_execute("SELECT redshift_destination_grant('other', 'e2e_dest_exporter'); SELECT redshift_destination_drop('other')").unwrap();
    assert_eq!(count(&mut admin, "SELECT count(*) FROM redshift_destination_grant"), 0);
    expect_sqlstate(&mut admin, "SELECT redshift_destination_drop('other')", "42704");
}

#[test]
fn tampered_or_unsigned_bundles_are_refused_when_the_loader_has_a_key() {
    fresh_target("lp_sig");
    let mut src = export_database("e2e_signatures");
    src.batch_execute("CREATE SCHEMA lp_sig; CREATE TABLE lp_sig.t (id int PRIMARY KEY, name text); INSERT INTO lp_sig.t VALUES (1, 'a')")
        .unwrap();
    let prefix = unique_prefix("signatures");
    let s3 = S3::stack();
    let export_one = |src: &mut postgres::Client| {
        src.batch_execute("INSERT INTO lp_sig.t SELECT max(id) + 1, 'n' FROM lp_sig.t").unwrap();
        export(src, &format!("redshift_export_schema('lp_sig', prefix => '{prefix}')")).remove(0).bundle_url
    };
    let first = export_one(&mut src);
    let out = loader().args(["load", &first]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let refused = |url: &str, reason: &str| {
        let out = loader().args(["load", url]).output().unwrap();
        let t = text(&out);
        assert_eq!(out.status.code(), Some(3), "{t}");
        assert!(t.contains("refused") && t.contains(reason), "expected {reason:?} in: {t}");
        assert!(!t.contains("COPY \""), "a statement ran: {t}");
    };
    let folder = |url: &str| e2e::split_url(url).1.trim_end_matches("bundle.json").to_string();

    // 1. bundle.json changed in a way the integrity checks alone accept: more rows claimed
    //    would still fail at COPY, but a changed DDL or a dropped NOT NULL would load.
    let url = export_one(&mut src);
    let key = e2e::split_url(&url).1;
    let json = String::from_utf8(s3.get(&key)).unwrap();
    assert!(json.contains("\"nullable\": false"), "{json}");
    s3.put(&key, json.replacen("\"nullable\": false", "\"nullable\": true", 1).into_bytes());
    refused(&url, "bundle.json does not match its signature");

    // 2. manifest.json re-serialised (same content, other bytes).
    let url = export_one(&mut src);
    let manifest_key = format!("{}manifest.json", folder(&url));
    let manifest: serde_json::Value = serde_json::from_slice(&s3.get(&manifest_key)).unwrap();
    s3.put(&manifest_key, serde_json::to_vec_pretty(&manifest).unwrap());
    refused(&url, "manifest.json does not match its signature");

    // 3. The signature removed: an unsigned bundle.
    let url = export_one(&mut src);
    S3::stack().delete(&format!("{}signature.json", folder(&url)));
    refused(&url, "not signed");

    // 4. Signed with a key the loader does not have.
    let url = export_one(&mut src);
    let sig_key = format!("{}signature.json", folder(&url));
    let forged = pg2redshift_bundle::signature::SigningKey::new(&[7u8; 32])
        .unwrap()
        .sign(&s3.get(&key_of(&url)), &s3.get(&format!("{}manifest.json", folder(&url))));
    s3.put(&sig_key, forged.to_json().unwrap().into_bytes());
    refused(&url, "which this loader does not have");
    // A loader without keys does not check signatures (they are optional).
    let keyless = loader().env_remove("REDSHIFT_LOAD_SIGNING_KEY_FILE").args(["plan", &url]).output().unwrap();
    assert!(keyless.status.success(), "{}", text(&keyless));

    // watch skips every refused export and loads the good one after them.
    let good = export_one(&mut src);
    let out = loader().args(["watch", "--once", &format!("s3://{}/{prefix}/", s3.bucket)]).output().unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert_eq!(t.matches("skipped").count(), 4, "{t}");
    let mut rs = redshift();
    let expected = count(&mut src, "SELECT count(*) FROM lp_sig.t");
    assert_eq!(count(&mut rs, "SELECT count(*) FROM lp_sig.t"), expected, "{t}");
    let loaded: String = rs.query_one("SELECT export_id FROM pg2redshift_loader.loads WHERE target_schema = 'lp_sig' ORDER BY exported_at DESC LIMIT 1", &[]).unwrap().get(0);
    assert_eq!(loaded, s3.bundle(&good).export_id);
}

fn key_of(url: &str) -> String {
    e2e::split_url(url).1
}

#[test]
fn the_loader_touches_only_the_schemas_it_was_given() {
    fresh_target("lp_allowed");
    fresh_target("lp_denied");
    let mut src = export_database("e2e_loader_schemas");
    src.batch_execute(
        "CREATE SCHEMA lp_allowed; CREATE TABLE lp_allowed.t (id int); INSERT INTO lp_allowed.t VALUES (1);
         CREATE TABLE public.u (id int); INSERT INTO public.u VALUES (1), (2);",
    )
    .unwrap();
    let prefix = unique_prefix("loader-schemas");
    let allowed = export(&mut src, &format!("redshift_export_schema('lp_allowed', prefix => '{prefix}')")).remove(0).bundle_url;
    let denied = export(&mut src, &format!("redshift_export('u', prefix => '{prefix}', target_schema => 'lp_denied')")).remove(0).bundle_url;
    let into_history =
        export(&mut src, &format!("redshift_export('u', prefix => '{prefix}/h', target_schema => 'pg2redshift_loader', target_table => 'loads')"))
            .remove(0)
            .bundle_url;

    let out = loader().args(["--schemas", "LP_ALLOWED,other", "load", &denied]).output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(3), "{t}");
    assert!(t.contains("\"lp_denied\"") && t.contains("--schemas"), "{t}");
    // The history schema is never a target, whatever --schemas says.
    let out = loader().args(["--schemas", "pg2redshift_loader", "load", &into_history]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("history schema"), "{}", text(&out));
    // plan refuses too, and watch skips the refused export and loads the allowed one.
    let out = loader().args(["--schemas", "lp_allowed", "plan", &denied]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let out = loader().args(["--schemas", "lp_allowed", "watch", "--once", &format!("s3://{}/{prefix}/", S3::stack().bucket)]).output().unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("skipped"), "{t}");
    let mut rs = redshift();
    assert_eq!(count(&mut rs, "SELECT count(*) FROM lp_allowed.t"), 1);
    assert_eq!(count(&mut rs, "SELECT count(*) FROM pg_tables WHERE schemaname = 'lp_denied'"), 0);
    assert_eq!(count(&mut rs, "SELECT count(*) FROM pg2redshift_loader.loads WHERE target_schema = 'lp_allowed'"), 1);
    let _ = allowed;
}

/// Every object of an export (data files, manifests, signature, bundle.json) is written with
/// the server-side encryption its destination (or, for a superuser's raw export, the settings)
/// asks for, and Redshift's COPY reads it without options.
#[test]
fn exports_are_encrypted_as_their_destination_says() {
    const DB: &str = "e2e_sse";
    fresh_target("sse1");
    let mut admin = export_database(DB);
    let s3 = S3::stack();
    let kms = "arn:aws:kms:us-east-1:000000000000:key/0b1c2d3e-aaaa-bbbb-cccc-1234567890ab";
    let (kms_prefix, s3_prefix) = (unique_prefix("sse-kms"), unique_prefix("sse-s3"));
    admin
        .batch_execute(&format!(
            "CREATE SCHEMA sse1; CREATE TABLE sse1.t (id int PRIMARY KEY, v text);
             INSERT INTO sse1.t SELECT g, 'v' || g FROM generate_series(1, 50) g;
             SELECT redshift_destination_create('kms', current_setting('pg2redshift.bucket'), ARRAY['sse1'],
                 prefix => '{kms_prefix}', {LOCAL_S3}, sse => 'aws:kms', sse_kms_key_id => '{kms}')"
        ))
        .unwrap_or_else(|e| panic!("setup: {}", describe(&e)));
    let bundle = export(&mut admin, "redshift_export('sse1.t', destination => 'kms')")[0].bundle_url.clone();
    let keys = s3.keys(&kms_prefix);
    assert!(keys.len() >= 4, "{keys:?}");
    for key in &keys {
        assert_eq!(s3.encryption(key), (Some("aws:kms".into()), Some(kms.into())), "{key}");
    }
    let out = loader().args(["load", &bundle]).output().expect("loader");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(count(&mut redshift(), "SELECT count(*) FROM sse1.t"), 50);

    admin.batch_execute("SET pg2redshift.sse = 'AES256'").expect("set");
    export(&mut admin, &format!("redshift_export('sse1.t', prefix => '{s3_prefix}')"));
    for key in s3.keys(&s3_prefix) {
        assert_eq!(s3.encryption(&key), (Some("AES256".into()), None), "{key}");
    }

    // Refused before anything is written: an unknown algorithm, a KMS key without aws:kms.
    admin.batch_execute("SET pg2redshift.sse = 'rot13'").expect("set");
    let refused = unique_prefix("sse-bad");
    expect_sqlstate(&mut admin, &format!("SELECT * FROM redshift_export('sse1.t', prefix => '{refused}')"), "22023");
    assert!(s3.keys(&refused).is_empty());
    admin.batch_execute("RESET pg2redshift.sse").expect("reset");
    expect_sqlstate(
        &mut admin,
        &format!(
            "SELECT redshift_destination_create('bad', current_setting('pg2redshift.bucket'), ARRAY['sse1'], {LOCAL_S3},
                 sse => 'AES256', sse_kms_key_id => '{kms}')"
        ),
        "23514",
    );
}
