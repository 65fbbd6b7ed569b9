//! The emulator's conformance suite: every documented Redshift behaviour in
//! `tests/conformance/redshift.txt` (statement, documented outcome, Developer Guide page) run
//! against the emulator through a real client. Prints the counts; fails on any mismatch.

use e2e::{describe, redshift};
use postgres::SimpleQueryMessage;

const BEHAVIOURS: &str = include_str!("../conformance/redshift.txt");

#[derive(Debug, Default)]
struct Behaviour {
    title: String,
    page: String,
    setup: Option<String>,
    sql: String,
    rows: Option<String>,
    prefix: Option<String>,
    type_name: Option<String>,
    error: Option<String>,
    differs: Option<String>,
}

fn parse(text: &str) -> Vec<Behaviour> {
    let mut out: Vec<Behaviour> = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if let Some(title) = line.strip_prefix("== ") {
            out.push(Behaviour { title: title.to_string(), ..Behaviour::default() });
            continue;
        }
        let b = out.last_mut().unwrap_or_else(|| panic!("a line before the first behaviour: {line}"));
        let (key, value) = line.split_once(':').unwrap_or_else(|| panic!("not `key: value`: {line}"));
        let value = value.trim().to_string();
        match key {
            "page" => b.page = value,
            "setup" => b.setup = Some(value),
            "sql" => b.sql = value,
            "rows" => b.rows = Some(value),
            "prefix" => b.prefix = Some(value),
            "type" => b.type_name = Some(value),
            "error" => b.error = Some(value),
            "differs" => b.differs = Some(value),
            other => panic!("unknown key {other} in {line}"),
        }
    }
    for b in &out {
        assert!(!b.page.is_empty() && !b.sql.is_empty(), "{}: page and sql are required", b.title);
        let expectations = [b.rows.is_some(), b.prefix.is_some(), b.error.is_some()].iter().filter(|&&x| x).count();
        assert_eq!(expectations, 1, "{}: exactly one of rows, prefix, error", b.title);
    }
    out
}

/// The statement's rows as text, or its error as `SQLSTATE message`.
fn run(db: &mut postgres::Client, sql: &str) -> Result<Vec<Vec<String>>, String> {
    let messages = db.simple_query(sql).map_err(|e| match e.as_db_error() {
        Some(d) => format!("{} {}", d.code().code(), d.message()),
        None => describe(&e),
    })?;
    Ok(messages
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).unwrap_or("NULL").to_string()).collect())
            }
            _ => None,
        })
        .collect())
}

fn check(db: &mut postgres::Client, b: &Behaviour, schema: &str) -> Result<(), String> {
    let fill = |s: &str| s.replace("{schema}", schema);
    if let Some(setup) = &b.setup {
        db.batch_execute(&fill(setup)).map_err(|e| format!("setup failed: {}", describe(&e)))?;
    }
    let sql = fill(&b.sql);
    let got = run(db, &sql);
    if let Some(expected) = &b.error {
        let (code, text) = expected.split_once(' ').unwrap_or((expected, ""));
        return match got {
            Err(e) if e.starts_with(code) && e.contains(text) => Ok(()),
            Err(e) => Err(format!("expected error {expected}, got {e}")),
            Ok(rows) => Err(format!("expected error {expected}, got rows {rows:?}")),
        };
    }
    let rows = got.map_err(|e| format!("failed: {e}"))?;
    if let Some(expected) = &b.rows {
        let expected = fill(expected);
        let shown: Vec<String> = rows.iter().map(|r| r.join(" | ")).collect();
        let want: Vec<String> = if expected.is_empty() { Vec::new() } else { expected.split(" / ").map(String::from).collect() };
        if shown != want {
            return Err(format!("expected rows {want:?}, got {shown:?}"));
        }
    }
    if let Some(prefix) = &b.prefix {
        let first = rows.first().and_then(|r| r.first()).cloned().unwrap_or_default();
        if !first.starts_with(prefix.as_str()) {
            return Err(format!("expected a value starting {prefix:?}, got {first:?}"));
        }
    }
    if let Some(type_name) = &b.type_name {
        let statement = db.prepare(&sql).map_err(|e| format!("prepare: {}", describe(&e)))?;
        let got = statement.columns().first().map(|c| c.type_().name().to_string()).unwrap_or_default();
        if &got != type_name {
            return Err(format!("expected type {type_name}, got {got}"));
        }
    }
    Ok(())
}

#[test]
fn documented_behaviours_hold_in_the_emulator() {
    let behaviours = parse(BEHAVIOURS);
    let mut db = redshift();
    let schema = format!("conformance_{}", std::process::id());
    db.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")).expect("schema");
    let mut failures = Vec::new();
    for b in &behaviours {
        if let Err(why) = check(&mut db, b, &schema) {
            failures.push(format!("{} ({}): {why}", b.title, b.page));
        }
    }
    db.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).expect("drop schema");
    let differs = behaviours.iter().filter(|b| b.differs.is_some()).count();
    let pages: std::collections::BTreeSet<&str> = behaviours.iter().map(|b| b.page.as_str()).collect();
    println!(
        "conformance: {} behaviours from {} pages: {} as documented, {} known differences (pinned), {} failed",
        behaviours.len(),
        pages.len(),
        behaviours.len() - differs - failures.len(),
        differs,
        failures.len()
    );
    for b in behaviours.iter().filter(|b| b.differs.is_some()) {
        println!("  known difference: {} ({}): {}", b.title, b.page, b.differs.as_deref().unwrap_or(""));
    }
    assert!(failures.is_empty(), "{} behaviour(s) differ from the docs:\n{}", failures.len(), failures.join("\n"));
}
