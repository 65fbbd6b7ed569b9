//! The bundle contract, format 2: one export document per export, so a bundle.json's size does
//! not grow with the export's table count; an export loads only once every table it lists has
//! its bundle.json; the document is checked against the bundles that name it; `watch` does not
//! read exports it has loaded; and exports written in format 1 (by pg2redshift before the
//! change, kept in tests/fixtures/format-v1) still load.

use std::path::{Path, PathBuf};
use std::process::Output;

use e2e::output_text as text;
use e2e::{S3, count, describe, export_database, fresh_target, loader, redshift, s3_bucket, split_url, unique_prefix};

fn export_schema(src: &mut postgres::Client, schema: &str, prefix: &str) -> Vec<String> {
    src.query(&format!("SELECT bundle_url FROM redshift_export_schema('{schema}', prefix => '{prefix}')"), &[])
        .unwrap_or_else(|e| panic!("export: {}", describe(&e)))
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn tables_in(schema: &str) -> i64 {
    count(&mut redshift(), &format!("SELECT count(*) FROM pg_tables WHERE schemaname = '{schema}'"))
}

fn run(args: &[&str]) -> Output {
    loader().args(args).output().expect("run redshift-load")
}

#[test]
fn a_bundle_does_not_grow_with_the_tables_of_its_export() {
    let mut src = export_database("e2e_format_linear");
    let mut ddl = String::from("DROP SCHEMA IF EXISTS lin_one CASCADE; DROP SCHEMA IF EXISTS lin_many CASCADE; CREATE SCHEMA lin_one; CREATE SCHEMA lin_many;");
    ddl.push_str("CREATE TABLE lin_one.t0 (id int PRIMARY KEY, body text); INSERT INTO lin_one.t0 VALUES (1, 'x');");
    for i in 0..60 {
        ddl.push_str(&format!("CREATE TABLE lin_many.t{i} (id int PRIMARY KEY, body text); INSERT INTO lin_many.t{i} VALUES (1, 'x');"));
    }
    src.batch_execute(&ddl).expect("source");
    let prefix = unique_prefix("format-linear");
    let s3 = S3::stack();
    let one = export_schema(&mut src, "lin_one", &prefix);
    let many = export_schema(&mut src, "lin_many", &prefix);
    assert_eq!((one.len(), many.len()), (1, 60));
    let size = |url: &String| s3.size(&split_url(url).1);
    let single = size(&one[0]);
    let largest = many.iter().map(size).max().unwrap_or_default();
    // The same table shape: only the names' lengths may differ (t0 vs t59, lin_one vs lin_many).
    assert!(largest <= single + 64, "a bundle.json of a 60-table export has {largest} bytes, of a 1-table export {single}");
    let bundle = s3.bundle(&many[0]);
    let doc = s3.document(&bundle);
    assert_eq!(doc.tables.len(), 60);
    let doc_bytes = s3.size(&bundle.export_document.expect("a document").key);
    assert!(doc_bytes < 60 * 200, "the export document lists 60 tables in {doc_bytes} bytes");
}

#[test]
fn an_export_loads_only_complete_and_its_document_is_checked() {
    fresh_target("fmt_inc");
    let mut src = export_database("e2e_format_incomplete");
    src.batch_execute(
        "DROP SCHEMA IF EXISTS fmt_inc CASCADE; CREATE SCHEMA fmt_inc;
         CREATE TABLE fmt_inc.a (id int PRIMARY KEY); INSERT INTO fmt_inc.a SELECT generate_series(1, 5);
         CREATE TABLE fmt_inc.b (id int PRIMARY KEY); INSERT INTO fmt_inc.b SELECT generate_series(1, 7);",
    )
    .expect("source");
    let prefix = unique_prefix("format-incomplete");
    let urls = export_schema(&mut src, "fmt_inc", &prefix);
    assert_eq!(urls.len(), 2);
    let s3 = S3::stack();
    let prefix_url = format!("s3://{}/{prefix}/", s3_bucket());

    // One table's bundle.json not written yet: neither load nor watch loads any of it.
    let held_key = split_url(&urls[1]).1;
    let held = s3.get(&held_key);
    s3.delete(&held_key);
    let out = run(&["load", &urls[0]]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("is incomplete") && text(&out).contains("has no bundle.json yet"), "{}", text(&out));
    let out = run(&["watch", "--once", &prefix_url]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("skipped") && text(&out).contains("1 of its 2 tables committed"), "{}", text(&out));
    assert_eq!(tables_in("fmt_inc"), 0, "nothing of an incomplete export is loaded");

    // Committed: watch loads both tables, even with a stray bundle.json beside them that
    // lists first (it is not one the export document names, so it is never read).
    s3.put(&held_key, held);
    let first_key = split_url(&urls[0]).1;
    let export_id = s3.bundle(&urls[0]).export_id;
    let stray = format!("{prefix}/e2e_format_incomplete/aaa.stray/{export_id}/bundle.json");
    s3.put(&stray, s3.get(&first_key));
    let out = run(&["watch", "--once", &prefix_url]);
    assert!(out.status.success() && text(&out).contains("loaded") && !text(&out).contains("skipped"), "{}", text(&out));
    s3.delete(&stray);
    // A document added under another export id, pointing at this export's bundles, cannot make
    // watch load them again (or anything else): it is refused and skipped.
    let fake_id = "20991231T000000Z-ffffffff";
    let fake_doc = format!("{prefix}/e2e_format_incomplete/_exports/{fake_id}/export.json");
    let fake_bundle = format!("{prefix}/e2e_format_incomplete/zzz.fake/{fake_id}/bundle.json");
    let real_doc = s3.get(&s3.bundle(&urls[0]).export_document.expect("a document").key);
    s3.put(&fake_doc, String::from_utf8(real_doc).expect("UTF-8").replacen(&export_id, fake_id, 1).into_bytes());
    s3.put(&fake_bundle, b"{}".to_vec());
    let out = run(&["watch", "--once", &prefix_url]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("skipped") && text(&out).contains("lists tables of another export"), "{}", text(&out));
    assert!(!text(&out).contains("loaded"), "{}", text(&out));
    s3.delete(&fake_doc);
    s3.delete(&fake_bundle);
    let mut rs = redshift();
    assert_eq!(count(&mut rs, "SELECT count(*) FROM fmt_inc.a") + count(&mut rs, "SELECT count(*) FROM fmt_inc.b"), 12);

    // A loaded export is not read again: with its document spoilt, watch has nothing to say...
    let bundle = s3.bundle(&urls[0]);
    let doc_key = bundle.export_document.expect("a document").key;
    let doc = s3.get(&doc_key);
    let mut forged = String::from_utf8(doc.clone()).expect("UTF-8");
    forged = forged.replace("\"b\"", "\"c\"");
    s3.put(&doc_key, forged.into_bytes());
    let out = run(&["watch", "--once", &prefix_url]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("skipped") && !text(&out).contains("loaded"), "a loaded export was read again: {}", text(&out));
    // ...but naming it reads it, and a changed document is refused by its hash.
    let out = run(&["load", &urls[0]]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("its SHA-256 is"), "{}", text(&out));
    // A missing one too.
    s3.delete(&doc_key);
    let out = run(&["load", &urls[0]]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("export document") && text(&out).contains("does not exist"), "{}", text(&out));
    s3.put(&doc_key, doc);
    let out = run(&["load", &urls[0]]);
    assert!(out.status.success() && text(&out).contains("already loaded"), "{}", text(&out));
}

/// Every file of the format 1 export kept in tests/fixtures/format-v1 (two tables, written by
/// pg2redshift 0.1.0 with bundle format 1, unsigned), as (key, bytes) under the stack's bucket.
fn fixture() -> Vec<(String, Vec<u8>)> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).expect("fixture folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                let key = format!("fixture-v1/{}", path.strip_prefix(root).expect("inside").display());
                out.push((key, std::fs::read(&path).expect("fixture file")));
            }
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/format-v1");
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out.sort();
    out
}

#[test]
fn an_export_in_format_1_still_loads() {
    let s3 = S3::stack();
    assert_eq!(s3_bucket(), "pg2redshift", "the fixture's manifests name the stack's bucket");
    let files = fixture();
    assert_eq!(files.len(), 6);
    for (key, body) in &files {
        s3.put(key, body.clone());
    }
    let people = files.iter().map(|(k, _)| k).find(|k| k.contains("legacy.people") && k.ends_with("/bundle.json")).expect("people");
    assert_eq!(s3.bundle(&format!("s3://pg2redshift/{people}")).format_version, 1);
    let unsigned = |args: &[&str]| loader().env_remove("REDSHIFT_LOAD_SIGNING_KEY_FILE").args(args).output().expect("run");

    for args in [vec!["load".to_string(), format!("s3://pg2redshift/{people}")], vec!["watch".into(), "--once".into(), "s3://pg2redshift/fixture-v1/".into()]] {
        fresh_target("legacy");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = unsigned(&args);
        assert!(out.status.success() && text(&out).contains("loaded"), "{args:?}: {}", text(&out));
        let mut rs = redshift();
        let rows = rs
            .query("SELECT id, name, born::text, balance::text FROM legacy.people ORDER BY id", &[])
            .unwrap_or_else(|e| panic!("{}", describe(&e)));
        let got: Vec<(i32, String, Option<String>, Option<String>)> = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect();
        assert_eq!(
            got,
            [
                (1, "Ada".to_string(), Some("1815-12-10".to_string()), Some("1234.50".to_string())),
                (2, "Zoë \"Z\" O'Neil, Jr.".to_string(), None, Some("-0.01".to_string())),
                (3, "line\nbreak".to_string(), Some("2000-02-29".to_string()), None),
            ]
        );
        let payload: Vec<Option<String>> =
            rs.query("SELECT payload FROM legacy.events ORDER BY id", &[]).expect("events").iter().map(|r| r.get(0)).collect();
        assert_eq!(payload, [Some("login".to_string()), None, Some("日本語".to_string())]);
    }
    // With signing keys, the unsigned format 1 export is refused as any unsigned one is.
    let out = run(&["load", &format!("s3://pg2redshift/{people}")]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
}
