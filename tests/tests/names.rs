//! The names corpus: schema, table and column names, and option values, with double quotes,
//! semicolons, backslashes, `--`, spaces, single quotes and 4-byte UTF-8 arrive in Redshift
//! under their folded names (or are refused at export, before anything is written), and
//! nothing in them is ever executed: a sentinel table must survive every load.

use e2e::{S3, describe, export, export_database, expect_sqlstate, loader, redshift, source_database_url, unique_prefix};

// The source's names become S3 keys too (escaped, three bytes per odd byte), and the local S3
// server keeps keys of at most about 124 bytes: the longer payloads go in the target names.
const SOURCE_SCHEMA: &str = "N\"; --";
const SOURCE_TABLE: &str = "T\\ 😀";
const SCHEMA: &str = "Names \"Q\"; DROP TABLE names_sentinel; --";
const TABLE: &str = "T\\ 😀 'x'";
const COLUMNS: [&str; 4] = ["Id", "Semi;colon -- c", "back\\slash \"q\"", "😀"];

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[test]
fn odd_names_arrive_folded_and_nothing_in_them_runs() {
    const DB: &str = "e2e_names";
    let mut src = export_database(DB);
    let folded_schema = SCHEMA.to_ascii_lowercase();
    let folded_table = TABLE.to_ascii_lowercase();
    let mut rs = redshift();
    rs.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {} CASCADE; DROP TABLE IF EXISTS public.names_sentinel;
         CREATE TABLE public.names_sentinel (id int); INSERT INTO public.names_sentinel VALUES (1);",
        ident(&folded_schema)
    ))
    .unwrap_or_else(|e| panic!("{}", describe(&e)));

    let columns: Vec<String> = COLUMNS.iter().map(|c| ident(c)).collect();
    src.batch_execute(&format!(
        "CREATE SCHEMA {s};
         CREATE TABLE {s}.{t} ({c0} int PRIMARY KEY, {c1} text, {c2} text, {c3} text);
         INSERT INTO {s}.{t} VALUES (1, 'a;b', 'back\\slash', '😀'), (2, ''' OR 1=1; --', NULL, '\"');",
        s = ident(SOURCE_SCHEMA),
        t = ident(SOURCE_TABLE),
        c0 = columns[0],
        c1 = columns[1],
        c2 = columns[2],
        c3 = columns[3],
    ))
    .unwrap_or_else(|e| panic!("{}", describe(&e)));

    // Option values with the same characters: the prefix and a sort key.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    let prefix = format!("n{}/it's; \"q\"", nanos % 1_000_000_007);
    let relation = literal(&format!("{}.{}", ident(SOURCE_SCHEMA), ident(SOURCE_TABLE)));
    let call = format!(
        "redshift_export({relation}, prefix => {}, sortkey => ARRAY[{}], target_schema => {}, target_table => {})",
        literal(&prefix),
        literal(COLUMNS[1]),
        literal(SCHEMA),
        literal(TABLE)
    );
    let r = export(&mut src, &call).remove(0);
    assert_eq!(r.rows, 2);
    let s3 = S3::stack();
    let bundle = s3.bundle(&r.bundle_url);
    assert_eq!((bundle.table.schema.as_str(), bundle.table.name.as_str()), (folded_schema.as_str(), folded_table.as_str()));
    assert!(e2e::split_url(&r.bundle_url).1.starts_with(&format!("{prefix}/{DB}/")), "the key stays inside the prefix: {}", r.bundle_url);

    let out = loader().args(["load", &r.bundle_url]).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");

    let select = format!(
        "SELECT {}, {}, {}, {} FROM {}.{} ORDER BY 1",
        ident("id"),
        ident("semi;colon -- c"),
        ident("back\\slash \"q\""),
        ident("😀"),
        ident(&folded_schema),
        ident(&folded_table)
    );
    type Row = (i32, Option<String>, Option<String>, Option<String>);
    let rows: Vec<Row> = rs
        .query(&select, &[])
        .unwrap_or_else(|e| panic!("{select}: {}", describe(&e)))
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        rows,
        [
            (1, Some("a;b".into()), Some("back\\slash".into()), Some("😀".into())),
            (2, Some("' OR 1=1; --".into()), None, Some("\"".into())),
        ]
    );
    let sentinel: i64 = rs.query_one("SELECT count(*) FROM public.names_sentinel", &[]).unwrap().get(0);
    assert_eq!(sentinel, 1, "the sentinel survives");
    // The load history keeps the names as they are, backslashes included.
    let recorded: (String, String) = {
        let row = rs
            .query_one(
                "SELECT source_schema, target_table FROM pg2redshift_loader.loads WHERE export_id = $1",
                &[&r.export_id],
            )
            .unwrap_or_else(|e| panic!("{}", describe(&e)));
        (row.get(0), row.get(1))
    };
    assert_eq!(recorded, (SOURCE_SCHEMA.to_string(), folded_table.clone()));

    // verify compares source and Redshift through the same names.
    let out = loader()
        .args(["verify", "--source", &source_database_url(DB), "--schema", &folded_schema])
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("all equal"), "{text}");
}

#[test]
fn names_redshift_cannot_hold_are_refused_before_anything_is_written() {
    let mut src = export_database("e2e_names_refused");
    src.batch_execute(
        "CREATE TABLE t (id int); INSERT INTO t VALUES (1);
         CREATE TABLE \"Twice\" (\"A\" int, a int);
         CREATE TABLE \"ctl\x01name\" (id int);",
    )
    .unwrap_or_else(|e| panic!("{}", describe(&e)));
    let s3 = S3::stack();
    let prefix = unique_prefix("names-refused");
    let at = |options: &str| format!("SELECT * FROM redshift_export('t', prefix => {}{options})", literal(&prefix));

    // 127 bytes is Redshift's limit: accepted; 128 refused (a 4-byte character counts 4).
    let r = export(&mut src, &format!("redshift_export('t', prefix => {}, target_table => repeat('a', 123) || '😀')", literal(&prefix)));
    assert_eq!(s3.bundle(&r[0].bundle_url).table.name.len(), 127);
    let before = s3.keys(&prefix);
    expect_sqlstate(&mut src, &at(", target_table => repeat('a', 124) || '😀'"), "42622");
    expect_sqlstate(&mut src, &at(", target_schema => repeat('b', 128)"), "42622");
    // Folded together, control characters, a sort key that is no column.
    expect_sqlstate(&mut src, &format!("SELECT * FROM redshift_export('\"Twice\"', prefix => {})", literal(&prefix)), "42701");
    expect_sqlstate(&mut src, &format!("SELECT * FROM redshift_export(E'\"ctl\\x01name\"', prefix => {})", literal(&prefix)), "42602");
    expect_sqlstate(&mut src, &at(", sortkey => ARRAY['id; DROP TABLE t']"), "42703");
    expect_sqlstate(&mut src, &at(", target_schema => E'a\\tb'"), "42602");
    // A prefix that would climb out of itself or hide characters.
    for bad in ["a/../b", "a//b", "a\\b", "a\nb"] {
        expect_sqlstate(&mut src, &format!("SELECT * FROM redshift_export('t', prefix => {})", literal(&format!("{prefix}/{bad}"))), "22023");
    }
    assert_eq!(s3.keys(&prefix), before, "a refused export wrote something");
}
