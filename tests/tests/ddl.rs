//! redshift_ddl() / redshift_columns() against real catalogs of the stack's source cluster.

use e2e::{ColumnRow, builtin_types, expect_sqlstate, fresh_source_database, parse_redshift_ddl, redshift_columns, redshift_ddl};

fn database(name: &str) -> postgres::Client {
    let mut db = fresh_source_database(name);
    db.batch_execute("CREATE EXTENSION pg2redshift").expect("CREATE EXTENSION");
    db
}

fn types_of(rows: &[ColumnRow]) -> Vec<(&str, &str, bool)> {
    rows.iter().map(|r| (r.2.as_str(), r.3.as_str(), r.4)).collect()
}

/// Every built-in scalar, range and multirange type of the live catalog gets a column, and each
/// one is mapped on purpose (none falls through to the unknown-type fallback).
#[test]
fn every_builtin_type_of_the_live_catalog_is_mapped() {
    let mut db = database("e2e_ddl_all_types");
    let names = builtin_types(&mut db, &["b", "r", "m"]);
    assert!(names.len() > 70, "only {} built-in types found", names.len());
    let columns: Vec<String> = names.iter().map(|n| format!("\"c_{n}\" pg_catalog.\"{n}\"")).collect();
    db.batch_execute(&format!("CREATE TABLE every_type ({})", columns.join(", ")))
        .expect("create a table with every built-in type");

    let rows = redshift_columns(&mut db, "'every_type'");
    assert_eq!(rows.len(), names.len());
    for row in &rows {
        let note = row.5.as_deref().unwrap_or("");
        assert!(!note.contains("not known to pg2redshift"), "{} is not mapped on purpose: {note}", row.1);
    }
    parse_redshift_ddl(&redshift_ddl(&mut db, "'every_type'"));
}

#[test]
fn containers_enums_domains_and_typmods_map_as_documented() {
    let mut db = database("e2e_ddl_kinds_of_types");
    db.batch_execute(
        "CREATE TYPE mood AS ENUM ('ok', 'ünïcödé');
         CREATE TYPE pair AS (a int, b text);
         CREATE DOMAIN short_code AS varchar(5) NOT NULL;
         CREATE DOMAIN code_alias AS short_code;
         CREATE DOMAIN money_amount AS numeric(12,3);
         CREATE TABLE t (
             a int4[],
             b pair,
             c int8range,
             d mood,
             e code_alias,
             f money_amount,
             g varchar(10),
             h numeric(12,3),
             i numeric,
             j char(3),
             k timestamptz(3),
             l jsonb,
             m bytea,
             n uuid,
             o pair[]
         )",
    )
    .expect("create table");
    let rows = redshift_columns(&mut db, "'t'");
    assert_eq!(
        types_of(&rows),
        vec![
            ("a", "SUPER", true),
            ("b", "SUPER", true),
            ("c", "SUPER", true),
            ("d", "VARCHAR(11)", true), // "ünïcödé" is 11 bytes
            ("e", "VARCHAR(20)", false),
            ("f", "DECIMAL(12,3)", true),
            ("g", "VARCHAR(40)", true),
            ("h", "DECIMAL(12,3)", true),
            ("i", "DECIMAL(38,10)", true),
            ("j", "VARCHAR(12)", true),
            ("k", "TIMESTAMPTZ", true),
            ("l", "SUPER", true),
            ("m", "VARBYTE(1024000)", true),
            ("n", "CHAR(36)", true),
            ("o", "SUPER", true),
        ]
    );
    assert_eq!(rows[4].1, "code_alias", "source_type shows the declared type");
    let wider = redshift_columns(&mut db, "'t', numeric_scale => 4");
    assert_eq!(wider[8].3, "DECIMAL(38,4)");
}

#[test]
fn catalog_details_carry_over() {
    let mut db = database("e2e_ddl_catalog");
    db.batch_execute(
        "CREATE SCHEMA \"Sales\";
         CREATE TABLE \"Sales\".\"Orders\" (
             region text NOT NULL,
             gone int,
             \"OrderNo\" bigint GENERATED ALWAYS AS IDENTITY,
             serial_col serial,
             total numeric(10,2) GENERATED ALWAYS AS (1.5) STORED,
             note text,
             PRIMARY KEY (\"OrderNo\", region)
         );
         ALTER TABLE \"Sales\".\"Orders\" DROP COLUMN gone;",
    )
    .expect("create table");
    let ddl = redshift_ddl(&mut db, "'\"Sales\".\"Orders\"'");
    assert_eq!(
        ddl,
        "CREATE TABLE \"sales\".\"orders\" (\n    \"region\" VARCHAR(65535) NOT NULL,\n    \
         \"orderno\" BIGINT NOT NULL,\n    \"serial_col\" INTEGER NOT NULL,\n    \
         \"total\" DECIMAL(10,2),\n    \"note\" VARCHAR(65535),\n    \
         PRIMARY KEY (\"orderno\", \"region\")\n)\nDISTSTYLE AUTO\nSORTKEY AUTO"
    );
    parse_redshift_ddl(&ddl);
    let rows = redshift_columns(&mut db, "'\"Sales\".\"Orders\"'");
    assert_eq!(rows[1].0, "OrderNo");
    assert_eq!(rows[1].2, "orderno");

    let options = "'\"Sales\".\"Orders\"', target_schema => 'Staging', target_table => 'orders_v2', \
                   distkey => 'OrderNo', sortkey => ARRAY['region', 'orderno'], sortkey_style => 'interleaved'";
    let ddl = redshift_ddl(&mut db, options);
    assert!(ddl.starts_with("CREATE TABLE \"staging\".\"orders_v2\" ("), "{ddl}");
    assert!(ddl.ends_with("DISTSTYLE KEY DISTKEY (\"orderno\")\nINTERLEAVED SORTKEY (\"region\", \"orderno\")"), "{ddl}");
    parse_redshift_ddl(&ddl);

    db.batch_execute("CREATE TABLE covered (id int, payload text, PRIMARY KEY (id) INCLUDE (payload))")
        .expect("create table with INCLUDE");
    let ddl = redshift_ddl(&mut db, "'covered'");
    assert!(ddl.contains("PRIMARY KEY (\"id\")\n"), "INCLUDE columns are not key columns: {ddl}");
}

#[test]
fn null_arguments_behave_like_a_strict_function_or_the_default() {
    let mut db = database("e2e_ddl_nulls");
    db.batch_execute("CREATE TABLE t (n numeric)").expect("create table");
    let ddl: Option<String> = db.query_one("SELECT redshift_ddl(NULL)", &[]).expect("NULL relation").get(0);
    assert_eq!(ddl, None);
    let rows = db.query("SELECT * FROM redshift_columns(NULL)", &[]).expect("NULL relation");
    assert!(rows.is_empty());
    assert_eq!(redshift_columns(&mut db, "'t', numeric_scale => NULL")[0].3, "DECIMAL(38,10)");
}

#[test]
fn every_exportable_relation_kind_has_ddl() {
    let mut db = database("e2e_ddl_relkinds");
    db.batch_execute(
        "CREATE TABLE plain (id int PRIMARY KEY, v text);
         CREATE TABLE parted (id int, at date NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
         CREATE TABLE parted_2026 PARTITION OF parted FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
         CREATE VIEW a_view AS SELECT id, v || '!' AS shout FROM plain;
         CREATE MATERIALIZED VIEW a_matview AS SELECT id, count(*) AS n FROM plain GROUP BY id;
         CREATE FOREIGN DATA WRAPPER dummy_fdw;
         CREATE SERVER dummy_server FOREIGN DATA WRAPPER dummy_fdw;
         CREATE FOREIGN TABLE a_foreign (id int NOT NULL, label varchar(20)) SERVER dummy_server;",
    )
    .expect("create relations");
    for (relation, expected_columns) in [
        ("plain", vec![("id", "INTEGER", false), ("v", "VARCHAR(65535)", true)]),
        ("parted", vec![("id", "INTEGER", false), ("at", "DATE", false)]),
        ("a_view", vec![("id", "INTEGER", true), ("shout", "VARCHAR(65535)", true)]),
        ("a_matview", vec![("id", "INTEGER", true), ("n", "BIGINT", true)]),
        ("a_foreign", vec![("id", "INTEGER", false), ("label", "VARCHAR(80)", true)]),
    ] {
        let rows = redshift_columns(&mut db, &format!("'{relation}'"));
        assert_eq!(types_of(&rows), expected_columns, "{relation}");
        parse_redshift_ddl(&redshift_ddl(&mut db, &format!("'{relation}'")));
    }
    assert!(redshift_ddl(&mut db, "'parted'").contains("PRIMARY KEY (\"id\", \"at\")"));
}

#[test]
fn relations_without_rows_are_refused_with_wrong_object_type() {
    let mut db = database("e2e_ddl_bad_relkinds");
    db.batch_execute(
        "CREATE TABLE base (id int PRIMARY KEY, body text);
         CREATE SEQUENCE a_sequence;
         CREATE TYPE a_composite AS (x int);",
    )
    .expect("create objects");
    let toast: String = db
        .query_one("SELECT reltoastrelid::regclass::text FROM pg_class WHERE relname = 'base'", &[])
        .expect("toast table")
        .get(0);
    for (relation, word) in [
        ("base_pkey".to_string(), "is an index"),
        ("a_sequence".to_string(), "is a sequence"),
        ("a_composite".to_string(), "is a composite type"),
        (toast, "is a TOAST table"),
    ] {
        let message = expect_sqlstate(&mut db, &format!("SELECT redshift_ddl('{relation}')"), "42809");
        assert!(message.contains(word), "{message}");
        expect_sqlstate(&mut db, &format!("SELECT * FROM redshift_columns('{relation}')"), "42809");
    }
}

#[test]
fn bad_input_gets_an_error_naming_the_object() {
    let mut db = database("e2e_ddl_bad_input");
    db.batch_execute(
        "CREATE TABLE clash (\"Id\" int, id int, \"NAME\" text, name text, body jsonb);
         CREATE TABLE fine (id int, body jsonb);
         CREATE VIEW sys_names AS SELECT 1 AS xmin;",
    )
    .expect("create tables");
    let message = expect_sqlstate(&mut db, "SELECT redshift_ddl('clash')", "42701");
    assert!(message.contains("\"Id\", \"id\" all become \"id\""), "{message}");
    assert!(message.contains("\"NAME\", \"name\" all become \"name\""), "{message}");
    assert!(message.contains("\"public\".\"clash\""), "{message}");

    let message = expect_sqlstate(&mut db, "SELECT redshift_ddl('fine', distkey => 'missing')", "42703");
    assert!(message.contains("\"missing\"") && message.contains("\"public\".\"fine\""), "{message}");
    expect_sqlstate(&mut db, "SELECT redshift_ddl('fine', sortkey => ARRAY['id', 'nope'])", "42703");
    let message = expect_sqlstate(&mut db, "SELECT redshift_ddl('fine', distkey => 'body')", "22023");
    assert!(message.contains("SUPER"), "{message}");
    expect_sqlstate(&mut db, "SELECT redshift_ddl('fine', diststyle => 'diagonal')", "22023");
    expect_sqlstate(&mut db, "SELECT redshift_ddl('fine', diststyle => 'key')", "22023");
    expect_sqlstate(&mut db, "SELECT redshift_ddl('fine', numeric_scale => 38)", "22023");
    expect_sqlstate(&mut db, "SELECT redshift_ddl('fine', sortkey => ARRAY[NULL]::text[])", "22023");
    let message = expect_sqlstate(&mut db, &format!("SELECT redshift_ddl('fine', target_table => '{}')", "t".repeat(128)), "42622");
    assert!(message.contains("127"), "{message}");
    let message = expect_sqlstate(&mut db, "SELECT redshift_ddl('sys_names')", "42939");
    assert!(message.contains("xmin"), "{message}");
    // The error's location is where the SQL function returned it, not a shared helper.
    let err = db.batch_execute("SELECT redshift_ddl('fine', diststyle => 'diagonal')").unwrap_err();
    let db_err = err.as_db_error().expect("a server error");
    assert!(db_err.file().is_some_and(|f| f.ends_with("ddl_api.rs")), "location {:?}:{:?}", db_err.file(), db_err.line());
    assert!(db_err.hint().is_some() || db_err.message().contains("diststyle"), "{db_err:?}");
    // An option the function does not have is refused by PostgreSQL itself.
    expect_sqlstate(&mut db, "SELECT redshift_ddl('fine', colour => 'blue')", "42883");
    expect_sqlstate(&mut db, "SELECT redshift_ddl('no_such_table')", "42P01");
    // The backend survived all of it.
    assert_eq!(redshift_columns(&mut db, "'fine'").len(), 2);
}
