//! The generated round trip over every mapped type. The table is built from the live catalog:
//! one column per built-in scalar type, per range and multirange type, the README's extension
//! types, a few typmods, domains over each kind of container, an enum, arrays and composites.
//! Each column holds NULL, the type's edge values and seeded random values. The corpus is
//! exported with each policy, loaded with `redshift-load`, and every cell Redshift holds is
//! compared with the value the README's mapping says it must hold, computed on the source
//! side from the documented form (not by the exporter's code). Values the README says are
//! refused must stop the default export with their SQLSTATE, naming table, column and row.

use std::collections::{BTreeMap, HashMap};

use e2e::corpus::{self, Expect, Form, Rng, Value};
use e2e::{S3, builtin_types, describe, excerpt, export, export_database, fresh_target, loader, redshift, redshift_columns, source_database_url, text_rows, try_export, unique_prefix};

const SEED: u64 = 0x5eed_2026;

/// Fixed output settings for the expected values: the export fixes the same ones.
const SOURCE_SETTINGS: &str = "SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'; SET IntervalStyle = 'iso_8601';
     SET extra_float_digits = 1; SET bytea_output = 'hex'";

const SETUP: &str = "
CREATE EXTENSION citext; CREATE EXTENSION hstore; CREATE EXTENSION ltree;
CREATE TYPE corpus_mood AS ENUM ('sad', 'ok', 'happy 😀', 'a,b\"c');
CREATE TYPE corpus_row AS (i int4, t text, n numeric, ts timestamptz, b bytea, r int4range, a int4[], j jsonb, d date);
CREATE TYPE corpus_nest AS (inner_row corpus_row, tags text[], mood corpus_mood);
CREATE DOMAIN corpus_posint AS int4 CHECK (VALUE > 0);
CREATE DOMAIN corpus_short AS varchar(5);
CREATE DOMAIN corpus_span AS int4range;
CREATE DOMAIN corpus_spans AS int4multirange;
CREATE DOMAIN corpus_tags AS text[];
CREATE DOMAIN corpus_pair AS corpus_row;
CREATE DOMAIN corpus_kv AS hstore;
CREATE DOMAIN corpus_when AS timestamptz;
-- Values for the statistics types, which have no input function.
CREATE TABLE corpus_stats (a int, b int);
INSERT INTO corpus_stats SELECT i % 10, i % 5 FROM generate_series(1, 1000) i;
CREATE STATISTICS corpus_stats_s (ndistinct, dependencies, mcv) ON a, b FROM corpus_stats;
ANALYZE corpus_stats;
CREATE TABLE corpus_defaults (x int DEFAULT 42);
";

/// A column holding NULL first, then its edge values, then `count` generated values (one in
/// twenty of them NULL as well).
fn column(name: &str, decl: &str, form: Form, edges: Vec<Value>, generated: impl Fn(&mut Rng) -> String, rng: &mut Rng, count: usize) -> corpus::Column {
    let mut values = vec![kept("NULL")];
    values.extend(edges);
    values.extend((0..count).map(|_| kept(if rng.chance(5) { "NULL".into() } else { generated(rng) })));
    corpus::Column { name: name.into(), decl: decl.into(), form, values }
}

fn kept(sql: impl Into<String>) -> Value {
    Value { sql: sql.into(), expect: Expect::Kept }
}

/// Every column of the corpus, from the live catalog plus the types SETUP creates.
fn corpus_columns(db: &mut postgres::Client, rng: &mut Rng) -> Vec<corpus::Column> {
    let n = corpus::GENERATED;
    let mut columns = Vec::new();
    let mut unknown = Vec::new();
    let builtins = builtin_types(db, &["b"]);
    assert!(builtins.len() > 60, "only {} built-in types", builtins.len());
    let extension_types = ["citext", "hstore", "ltree", "lquery"];
    for name in builtins.iter().map(String::as_str).chain(extension_types) {
        let ty = if extension_types.contains(&name) { format!("public.{name}") } else { format!("pg_catalog.\"{name}\"") };
        let Some((form, values, generator)) = corpus::scalar(name, &ty) else {
            unknown.push(name.to_string());
            continue;
        };
        let count = if corpus::catalog_value(name).is_some() || corpus::NO_VALUES.contains(&name) { 0 } else { n };
        columns.push(column(&format!("c_{name}"), &ty, form, values, generator, rng, count));
    }
    assert!(unknown.is_empty(), "types of the catalog the corpus has no values for: {unknown:?}");

    // Typmods: lengths counted in characters become bytes, scales and precisions widen.
    let typmods: Vec<(&str, &'static str, &str, Vec<Value>)> = vec![
        ("c_varchar10", "varchar(10)", "text", vec![kept("'😀😀😀😀😀😀😀😀😀😀'::varchar(10)"), kept("'€€€€€€€€€€'::varchar(10)")]),
        ("c_char5", "char(5)", "text", vec![kept("'ab'::char(5)"), kept("'😀😀😀😀😀'::char(5)"), kept("''::char(5)")]),
        ("c_numeric12_3", "numeric(12,3)", "numeric", vec![kept("999999999.999"), kept("-999999999.999"), kept("0.001")]),
        ("c_numeric5_m2", "numeric(5,-2)", "numeric", vec![kept("9999900"), kept("-9999900"), kept("100")]),
        ("c_numeric3_5", "numeric(3,5)", "numeric", vec![kept("0.00999"), kept("-0.00999"), kept("0.00001")]),
        (
            "c_numeric50_10",
            "numeric(50,10)",
            "numeric",
            vec![
                kept("9999999999999999999999999999.9999999999"),
                Value { sql: "10000000000000000000000000000".into(), expect: Expect::Refused { sqlstate: "22003", truncates: false } },
            ],
        ),
        ("c_bit8", "bit(8)", "bit8", vec![kept("B'00000000'"), kept("B'11111111'")]),
        ("c_varbit20", "varbit(20)", "varbit", vec![kept("B''"), kept("B'11111111111111111111'")]),
        ("c_timestamp0", "timestamp(0)", "timestamp", vec![kept("'2024-02-29 23:59:59.6'::timestamp(0)")]),
        ("c_timetz3", "timetz(3)", "timetz", vec![kept("'23:59:59.9996+14:59'::timetz(3)")]),
    ];
    for (name, decl, base, values) in typmods {
        let generator: corpus::Generator = match base {
            "text" => Box::new(move |r: &mut Rng| {
                let s: String = r.text(8).chars().take(5).collect();
                format!("{}::{decl}", corpus::lit(&s, "text"))
            }),
            "numeric" => {
                let (int, frac) = match decl {
                    "numeric(12,3)" => (9, 3),
                    "numeric(5,-2)" => (5, 0),
                    "numeric(3,5)" => (0, 5),
                    _ => (28, 10),
                };
                Box::new(move |r: &mut Rng| {
                    let v = corpus::decimal(r, int, frac);
                    match decl {
                        "numeric(3,5)" => format!("({v}::numeric / 1000)::{decl}"),
                        _ => format!("{v}::{decl}"),
                    }
                })
            }
            "bit8" => Box::new(|r: &mut Rng| format!("B'{}'", (0..8).map(|_| if r.chance(50) { '1' } else { '0' }).collect::<String>())),
            "varbit" => Box::new(|r: &mut Rng| {
                let n = r.below(21);
                format!("B'{}'::varbit(20)", (0..n).map(|_| if r.chance(50) { '1' } else { '0' }).collect::<String>())
            }),
            other => {
                let (_, _, g) = corpus::scalar(other, &format!("pg_catalog.{other}")).expect("base type");
                Box::new(move |r: &mut Rng| format!("({})::{decl}", g(r)))
            }
        };
        let form = if base == "numeric" { Form::Decimal } else { Form::Text };
        columns.push(column(name, decl, form, values, generator, rng, n));
    }

    // Arrays of several element types, a two-dimensional one and an array of ranges.
    for (name, ty) in corpus::ELEMENTS {
        let array = format!("{ty}[]");
        let mut edges = vec![kept(format!("'{{}}'::{array}")), kept(format!("ARRAY[NULL]::{array}"))];
        if *name == "int4" {
            // A JSON array cannot keep lower bounds other than 1.
            edges.push(Value { sql: format!("'[0:1]={{1,2}}'::{array}"), expect: Expect::Refused { sqlstate: "22000", truncates: false } });
            edges.push(kept(format!("'[1:2]={{1,2}}'::{array}")));
        }
        let column_name = format!("a_{name}");
        let (name, ty) = (name.to_string(), ty.to_string());
        let element_array = array.clone();
        let generator = move |r: &mut Rng| {
            let k = r.below(5);
            let items: Vec<String> = (0..k).map(|_| corpus::element(r, &name, &ty)).collect();
            format!("ARRAY[{}]::{element_array}", items.join(", "))
        };
        columns.push(column(&column_name, &array, Form::ToJson, edges, generator, rng, n));
    }
    // Values that are refused as scalars are JSON strings inside a container (README).
    columns.push(column(
        "a_special_floats",
        "float8[]",
        Form::ToJson,
        vec![kept("'{NaN,Infinity,-Infinity,-0}'::float8[]")],
        |_: &mut Rng| "NULL".into(),
        rng,
        0,
    ));
    columns.push(column(
        "a_special_numerics",
        "numeric[]",
        Form::ToJson,
        vec![kept("'{NaN,Infinity,-Infinity}'::numeric[]")],
        |_: &mut Rng| "NULL".into(),
        rng,
        0,
    ));
    columns.push(column(
        "a_special_times",
        "timestamp[]",
        Form::ToJson,
        vec![kept("'{infinity,-infinity,\"0044-03-15 BC\"}'::timestamp[]")],
        |_: &mut Rng| "NULL".into(),
        rng,
        0,
    ));
    columns.push(column(
        "a_int4_2d",
        "int4[]",
        Form::ToJson,
        vec![kept("'{{1,2},{3,4}}'::int4[]"), kept("'{{NULL,1},{2,NULL}}'::int4[]")],
        |r: &mut Rng| {
            let (rows, cols) = (r.between(1, 3), r.between(1, 3));
            let inner: Vec<String> = (0..rows)
                .map(|_| format!("ARRAY[{}]", (0..cols).map(|_| r.between(-99, 99).to_string()).collect::<Vec<_>>().join(",")))
                .collect();
            format!("ARRAY[{}]::int4[]", inner.join(","))
        },
        rng,
        n,
    ));
    columns.push(column(
        "a_int4range",
        "int4range[]",
        Form::ToJson,
        vec![kept("'{}'::int4range[]"), kept("ARRAY['empty'::int4range, NULL, '[1,5)']")],
        |r: &mut Rng| format!("ARRAY[{}, {}]", corpus::range(r, "int4range", "int4"), corpus::range(r, "int4range", "int4")),
        rng,
        n,
    ));

    // Composites (one nested), all fields NULL being a value, not a NULL.
    let row = |r: &mut Rng| {
        let fields = [
            corpus::element(r, "int4", "pg_catalog.int4"),
            corpus::element(r, "text", "pg_catalog.text"),
            corpus::element(r, "numeric", "pg_catalog.numeric"),
            corpus::element(r, "timestamptz", "pg_catalog.timestamptz"),
            corpus::element(r, "bytea", "pg_catalog.bytea"),
            corpus::range(r, "int4range", "int4"),
            format!("ARRAY[{}]::int4[]", corpus::element(r, "int4", "pg_catalog.int4")),
            corpus::element(r, "jsonb", "pg_catalog.jsonb"),
            corpus::element(r, "date", "pg_catalog.date"),
        ];
        format!("ROW({})::corpus_row", fields.join(", "))
    };
    let all_null_row = "ROW(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::corpus_row";
    columns.push(column("k_row", "corpus_row", Form::ToJson, vec![kept(all_null_row)], row, rng, n));
    columns.push(column(
        "k_nest",
        "corpus_nest",
        Form::ToJson,
        vec![kept(format!("ROW({all_null_row}, '{{}}', 'ok')::corpus_nest")), kept("ROW(NULL, NULL, NULL)::corpus_nest")],
        move |r: &mut Rng| {
            let tags = format!("ARRAY[{}]::text[]", corpus::element(r, "text", "pg_catalog.text"));
            let mood = r.pick(&["'sad'", "'happy 😀'", "NULL"]).to_string();
            format!("ROW({}, {tags}, {mood})::corpus_nest", row(r))
        },
        rng,
        n,
    ));

    // Domains over a scalar, a string with a typmod, a range, a multirange, an array, a composite, hstore,
    // and a type with refusals.
    columns.push(column("d_posint", "corpus_posint", Form::Text, vec![kept("1"), kept("2147483647")], |r: &mut Rng| r.between(1, i32::MAX.into()).to_string(), rng, n));
    columns.push(column("d_short", "corpus_short", Form::Text, vec![kept("'😀😀😀😀😀'"), kept("''")], |r: &mut Rng| corpus::lit(&r.text(8).chars().take(5).collect::<String>(), "corpus_short"), rng, n));
    columns.push(column("d_span", "corpus_span", Form::Range, vec![kept("'empty'"), kept("'(,)'")], |r: &mut Rng| corpus::range(r, "int4range", "int4"), rng, n));
    columns.push(column(
        "d_spans",
        "corpus_spans",
        Form::Multirange,
        vec![kept("'{}'")],
        |r: &mut Rng| format!("pg_catalog.int4multirange({})", corpus::range(r, "int4range", "int4")),
        rng,
        n,
    ));
    columns.push(column("d_tags", "corpus_tags", Form::ToJson, vec![kept("'{}'"), kept("ARRAY[NULL]::text[]"), Value { sql: "'[2:2]={x}'".into(), expect: Expect::Refused { sqlstate: "22000", truncates: false } }], |r: &mut Rng| format!("ARRAY[{}]::text[]", corpus::element(r, "text", "pg_catalog.text")), rng, n));
    columns.push(column("d_pair", "corpus_pair", Form::ToJson, vec![kept(all_null_row)], row, rng, n));
    columns.push(column("d_kv", "corpus_kv", Form::ToJson, vec![kept("''")], |r: &mut Rng| format!("'k=>{}'", r.below(100)), rng, n));
    columns.push(column(
        "d_when",
        "corpus_when",
        Form::Text,
        vec![kept("'2024-01-01 00:00:00+00'"), Value { sql: "'infinity'".into(), expect: Expect::Refused { sqlstate: "22008", truncates: false } }],
        |r: &mut Rng| format!("'{}-01-01 00:00:00+00'", r.between(1, 9999)),
        rng,
        n,
    ));
    columns.push(column(
        "e_mood",
        "corpus_mood",
        Form::Text,
        vec![kept("'sad'"), kept("'happy 😀'"), kept("'a,b\"c'")],
        |r: &mut Rng| format!("'{}'", r.pick(&["sad", "ok", "happy 😀", "a,b\"c"])),
        rng,
        n,
    ));

    // A range and a multirange of each range type of the catalog.
    let ranges: Vec<(String, String, String)> = db
        .query(
            "SELECT r.typname::text, s.typname::text, m.typname::text FROM pg_range g
             JOIN pg_type r ON r.oid = g.rngtypid JOIN pg_type s ON s.oid = g.rngsubtype
             JOIN pg_type m ON m.oid = g.rngmultitypid
             WHERE r.typnamespace = 'pg_catalog'::regnamespace ORDER BY 1",
            &[],
        )
        .expect("range types")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert!(ranges.len() >= 6, "{ranges:?}");
    for (range, subtype, multi) in &ranges {
        let mut edges = vec![kept(format!("'empty'::{range}")), kept(format!("'(,)'::{range}"))];
        if matches!(subtype.as_str(), "timestamp" | "timestamptz" | "date") {
            edges.push(kept(format!("'[-infinity,infinity]'::{range}")));
        }
        let (r1, s1) = (range.clone(), subtype.clone());
        columns.push(column(&format!("r_{range}"), &format!("pg_catalog.{range}"), Form::Range, edges, move |r: &mut Rng| corpus::range(r, &r1, &s1), rng, n));
        let (r2, s2, m2) = (range.clone(), subtype.clone(), multi.clone());
        columns.push(column(
            &format!("m_{multi}"),
            &format!("pg_catalog.{multi}"),
            Form::Multirange,
            vec![kept(format!("'{{}}'::{multi}")), kept(format!("pg_catalog.{multi}('empty'::{range}, '(,)'::{range})"))],
            move |r: &mut Rng| {
                let k = r.below(4);
                let parts: Vec<String> = (0..k).map(|_| corpus::range(r, &r2, &s2)).collect();
                format!("pg_catalog.{m2}({})", parts.join(", "))
            },
            rng,
            n,
        ));
    }
    columns
}



fn q(name: &str) -> String {
    format!("\"{name}\"")
}

/// The documented Redshift form of column `c`, as an expression on the source side.
fn expected_expression(form: Form, c: &str) -> String {
    let range = |r: &str| {
        format!(
            "CASE WHEN pg_catalog.num_nulls({r}) = 1 THEN NULL WHEN pg_catalog.isempty({r}) THEN '{{\"empty\": true}}'::jsonb \
             ELSE pg_catalog.jsonb_build_object('lower', pg_catalog.lower({r}), 'upper', pg_catalog.upper({r}), \
             'lower_inc', pg_catalog.lower_inc({r}), 'upper_inc', pg_catalog.upper_inc({r})) END"
        )
    };
    match form {
        Form::Text | Form::Decimal => c.to_string(),
        Form::Money => format!("{c}::numeric"),
        Form::Json => format!("{c}::jsonb"),
        Form::ToJson => format!("pg_catalog.to_jsonb({c})"),
        Form::Range => range(c),
        Form::Multirange => format!(
            "CASE WHEN pg_catalog.num_nulls({c}) = 1 THEN NULL ELSE (SELECT COALESCE(pg_catalog.jsonb_agg({} ORDER BY o), '[]'::jsonb) \
             FROM pg_catalog.unnest({c}) WITH ORDINALITY AS u(v, o)) END",
            range("u.v")
        ),
    }
}

fn same(form: Form, expected: &Option<String>, got: &Option<String>) -> bool {
    match (form, expected, got) {
        (Form::Decimal | Form::Money, Some(e), Some(g)) => corpus::canonical_decimal(e) == corpus::canonical_decimal(g),
        _ => expected == got,
    }
}

/// One refused value placed in a row of its own: (row id, column index, its Expect).
struct Placed {
    id: i32,
    column: usize,
    truncates: bool,
}

fn create_table(db: &mut postgres::Client, table: &str, columns: &[corpus::Column]) {
    let defs: Vec<String> = columns.iter().map(|c| format!("{} {}", q(&c.name), c.decl)).collect();
    let sql = format!("CREATE TABLE {table} (id int PRIMARY KEY, {})", defs.join(", "));
    db.batch_execute(&sql).unwrap_or_else(|e| panic!("create {table}: {}", describe(&e)));
}

fn insert_row(db: &mut postgres::Client, table: &str, id: i32, values: &[String]) {
    let sql = format!("INSERT INTO {table} VALUES ({id}, {})", values.join(", "));
    db.batch_execute(&sql).unwrap_or_else(|e| panic!("row {id} of {table}: {}\n{}", describe(&e), excerpt(&sql, 4000)));
}

/// The kept values, row by row (row i holds each column's i-th value where it is kept).
fn fill_kept(db: &mut postgres::Client, table: &str, columns: &[corpus::Column]) -> usize {
    let rows = columns.iter().map(|c| c.values.len()).max().unwrap_or(0) + 1;
    db.batch_execute("BEGIN").expect("begin");
    for i in 0..rows {
        let values: Vec<String> = columns
            .iter()
            .map(|c| match c.values.get(i) {
                Some(v) if v.expect == Expect::Kept => format!("({})::{}", v.sql, c.decl),
                _ => "NULL".into(),
            })
            .collect();
        insert_row(db, table, i as i32 + 1, &values);
    }
    db.batch_execute("COMMIT").expect("commit");
    rows
}

/// Adds one row per refused value (`only_truncating`: those the truncate policy cuts).
fn add_refused(db: &mut postgres::Client, table: &str, columns: &[corpus::Column], only_truncating: bool) -> Vec<Placed> {
    let mut placed = Vec::new();
    for (ci, c) in columns.iter().enumerate() {
        for v in &c.values {
            let Expect::Refused { truncates, .. } = v.expect else { continue };
            if only_truncating && !truncates {
                continue;
            }
            let id = 100_000 + placed.len() as i32;
            let values: Vec<String> =
                (0..columns.len()).map(|k| if k == ci { format!("({})::{}", v.sql, c.decl) } else { "NULL".into() }).collect();
            insert_row(db, table, id, &values);
            placed.push(Placed { id, column: ci, truncates });
        }
    }
    placed
}



/// Exports `table` with `policy` into Redshift schema `target`, loads it with `redshift-load`
/// and returns the export's `changed_values` and the bundle's per-column counts.
fn export_and_load(db: &mut postgres::Client, table: &str, policy: &str, target: &str) -> (i64, BTreeMap<String, u64>) {
    fresh_target(target);
    let prefix = unique_prefix(&format!("corpus-{policy}"));
    let out = export(
        db,
        &format!("redshift_export('{table}', prefix => '{prefix}', on_unrepresentable => '{policy}', target_schema => '{target}', target_table => 'corpus')"),
    );
    let bundle = S3::stack().bundle(&out[0].bundle_url);
    let run = loader().args(["load", &out[0].bundle_url]).output().expect("run redshift-load");
    assert!(
        run.status.success(),
        "redshift-load of {table} ({policy}) failed: {}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(bundle.changes.total as i64, out[0].changed_values);
    (out[0].changed_values, bundle.changes.columns)
}

/// The Redshift column limit in bytes for the truncate policy: VARCHAR(n), CHAR(n), VARBYTE(n).
fn byte_limit(redshift_type: &str) -> usize {
    let inner = redshift_type.split_once('(').and_then(|(_, rest)| rest.strip_suffix(')'));
    inner.and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("no length in {redshift_type}"))
}

/// Compares every cell of Redshift table `target.corpus` with the documented form of the source
/// table's value, adjusted for what `policy` does to the placed refused rows. Returns the cells
/// that differ, each naming table, column, row and both values.
fn compare(
    src: &mut postgres::Client,
    table: &str,
    target: &str,
    columns: &[corpus::Column],
    policy: &str,
    placed: &[Placed],
) -> Vec<String> {
    let redshift_types: HashMap<String, String> =
        redshift_columns(src, &format!("'{table}'")).into_iter().map(|r| (r.0, r.3)).collect();
    // Redshift shows VARBYTE as bare hexadecimal (r_VARBYTE_type), PostgreSQL bytea as `\x…`.
    let select_src: Vec<String> = columns
        .iter()
        .map(|c| {
            if c.form == Form::Text && c.decl.contains("bytea") {
                format!("pg_catalog.encode({}, 'hex')", q(&c.name))
            } else {
                expected_expression(c.form, &q(&c.name))
            }
        })
        .collect();
    let select_rs: Vec<String> = columns.iter().map(|c| q(&c.name)).collect();
    let expected = text_rows(src, &format!("SELECT id, {} FROM {table} ORDER BY id", select_src.join(", ")));
    let mut rs = redshift();
    let got = text_rows(&mut rs, &format!("SELECT id, {} FROM {target}.corpus ORDER BY id", select_rs.join(", ")));
    let mut differences = Vec::new();
    if expected.len() != got.len() {
        differences.push(format!("{table} ({policy}): {} rows in the source, {} in Redshift", expected.len(), got.len()));
        return differences;
    }
    let by_id: HashMap<i32, &Placed> = placed.iter().map(|p| (p.id, p)).collect();
    for (e_row, g_row) in expected.iter().zip(&got) {
        let id: i32 = e_row[0].as_deref().and_then(|s| s.parse().ok()).expect("id");
        if g_row[0] != e_row[0] {
            differences.push(format!("{table} ({policy}): row {id} is missing in Redshift (found {:?})", g_row[0]));
            return differences;
        }
        for (ci, c) in columns.iter().enumerate() {
            let mut want = e_row[ci + 1].clone();
            if let Some(p) = by_id.get(&id).filter(|p| p.column == ci) {
                want = match policy {
                    "null" => None,
                    "truncate" if p.truncates => {
                        let limit = byte_limit(&redshift_types[&c.name]);
                        want.map(|w| corpus::truncated(&w, limit, c.decl.contains("bytea")))
                    }
                    _ => panic!("row {id} should not be in {table} under {policy}"),
                };
            }
            let have = &g_row[ci + 1];
            if !same(c.form, &want, have) {
                differences.push(format!(
                    "{table} ({policy}), column {} ({}), row {id}: expected {:?}, Redshift holds {:?}",
                    c.name,
                    c.decl,
                    want.as_deref().map(|s| excerpt(s, 200)),
                    have.as_deref().map(|s| excerpt(s, 200)),
                ));
            }
        }
    }
    differences
}

fn changed_per_column(columns: &[corpus::Column], placed: &[Placed]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for p in placed {
        *counts.entry(columns[p.column].name.clone()).or_insert(0) += 1;
    }
    counts
}

/// Fails with every column that differs (how many cells) and the first few cells of each.
fn fail_on(differences: Vec<String>) {
    if differences.is_empty() {
        return;
    }
    let mut by_column: BTreeMap<String, Vec<&String>> = BTreeMap::new();
    for d in &differences {
        let column = d.split(", column ").nth(1).and_then(|rest| rest.split(' ').next()).unwrap_or("?");
        by_column.entry(column.to_string()).or_default().push(d);
    }
    let mut report = format!("{} cells differ from the documented mapping, in {} columns:\n", differences.len(), by_column.len());
    for (column, cells) in &by_column {
        report.push_str(&format!("{column}: {} cells, e.g.\n", cells.len()));
        for cell in cells.iter().take(3) {
            report.push_str(&format!("  {cell}\n"));
        }
    }
    panic!("{report}");
}

#[test]
fn every_mapped_type_round_trips_or_is_refused_by_name() {
    let mut db = export_database("e2e_type_corpus");
    db.batch_execute(SETUP).unwrap_or_else(|e| panic!("setup: {}", describe(&e)));
    db.batch_execute(SOURCE_SETTINGS).expect("settings");
    let mut rng = Rng::new(SEED);
    let columns = corpus_columns(&mut db, &mut rng);

    // Every refused value stops the default export with its SQLSTATE, naming table, column and row.
    let mut refusals = 0;
    for c in &columns {
        for v in &c.values {
            let Expect::Refused { sqlstate, .. } = v.expect else { continue };
            refusals += 1;
            let table = format!("refused_{refusals}");
            db.batch_execute(&format!("CREATE TABLE {table} (id int PRIMARY KEY, {} {})", q(&c.name), c.decl))
                .expect("refusal table");
            insert_row(&mut db, &table, refusals, &[format!("({})::{}", v.sql, c.decl)]);
            let prefix = unique_prefix("corpus-refused");
            let err = match try_export(&mut db, &format!("redshift_export('{table}', prefix => '{prefix}')")) {
                Ok(_) => panic!("{} = {} was exported, but the README says it is refused ({sqlstate})", c.name, excerpt(&v.sql, 100)),
                Err(e) => e,
            };
            let db_err = err.as_db_error().unwrap_or_else(|| panic!("{}: {err}", c.name));
            let message = db_err.message();
            assert_eq!(db_err.code().code(), sqlstate, "{} = {}: {message}", c.name, excerpt(&v.sql, 100));
            for part in [format!("\"{table}\""), format!("\"{}\"", c.name), format!("(id)=({refusals})")] {
                assert!(message.contains(&part), "{} = {}: the error does not name {part}: {message}", c.name, excerpt(&v.sql, 100));
            }
            assert!(S3::stack().keys(&prefix).is_empty(), "a refused export left objects under {prefix}");
        }
    }
    assert!(refusals >= 30, "only {refusals} refused values in the corpus");

    // The kept values, exported with the default policy: every cell as documented.
    create_table(&mut db, "corpus", &columns);
    let rows = fill_kept(&mut db, "corpus", &columns);
    assert!(rows > corpus::GENERATED);
    let (changed, _) = export_and_load(&mut db, "corpus", "error", "tc_error");
    assert_eq!(changed, 0);
    fail_on(compare(&mut db, "corpus", "tc_error", &columns, "error", &[]));
    // The loader's own verify agrees on every column.
    let verify = loader()
        .args(["verify", "--schema", "tc_error", "--source", &source_database_url("e2e_type_corpus")])
        .output()
        .expect("run redshift-load verify");
    assert!(verify.status.success(), "verify: {}{}", String::from_utf8_lossy(&verify.stdout), String::from_utf8_lossy(&verify.stderr));

    // With the refused values added: 'null' makes each of them NULL and nothing else.
    for (policy, only_truncating) in [("null", false), ("truncate", true)] {
        let table = format!("corpus_{policy}");
        db.batch_execute(&format!("CREATE TABLE {table} (LIKE corpus INCLUDING ALL); INSERT INTO {table} SELECT * FROM corpus"))
            .expect("copy corpus");
        let placed = add_refused(&mut db, &table, &columns, only_truncating);
        assert!(!placed.is_empty());
        let target = format!("tc_{policy}");
        let (changed, per_column) = export_and_load(&mut db, &table, policy, &target);
        assert_eq!(changed, placed.len() as i64, "changed_values under {policy}");
        assert_eq!(per_column, changed_per_column(&columns, &placed), "bundle.json's counts under {policy}");
        fail_on(compare(&mut db, &table, &target, &columns, policy, &placed));
    }
}
