use super::*;
use crate::source::{SourceType, TypeKind};
use sqlparser::dialect::RedshiftSqlDialect;
use sqlparser::parser::Parser;

fn column(name: &str, ty: &str, typmod: i32, not_null: bool) -> SourceColumn {
    SourceColumn {
        name: name.into(),
        ty: SourceType::builtin(ty, typmod),
        declared_type: ty.into(),
        not_null,
    }
}

fn action_columns() -> Vec<SourceColumn> {
    vec![
        column("id", "int4", -1, true),
        column("user_profile_id", "int4", -1, false),
        column("session_id", "varchar", 104, false),
        column("action_time", "timestamp", -1, false),
        column("Query", "text", -1, false),
        SourceColumn {
            name: "tags".into(),
            ty: SourceType { kind: TypeKind::Array, ..SourceType::builtin("_text", -1) },
            declared_type: "text[]".into(),
            not_null: false,
        },
    ]
}

fn plan(options: &TableOptions) -> Result<TablePlan, DefinitionError> {
    plan_table("analytics", "Action", &action_columns(), &["id".into()], options)
}

/// The action columns plus c0..c8, enough for an over-long interleaved sort key.
fn plan_wide(options: &TableOptions) -> Result<TablePlan, DefinitionError> {
    let mut columns = action_columns();
    columns.extend((0..9).map(|i| column(&format!("c{i}"), "int4", -1, false)));
    plan_table("analytics", "Action", &columns, &["id".into()], options)
}

#[test]
fn the_default_plan_folds_names_and_keeps_keys_and_not_null() {
    let plan = plan(&TableOptions::default()).expect("plan");
    assert_eq!(
        plan.table.create_table_sql(),
        "CREATE TABLE \"analytics\".\"action\" (\n    \"id\" INTEGER NOT NULL,\n    \
         \"user_profile_id\" INTEGER,\n    \"session_id\" VARCHAR(400),\n    \
         \"action_time\" TIMESTAMP,\n    \"query\" VARCHAR(65535),\n    \"tags\" SUPER,\n    \
         PRIMARY KEY (\"id\")\n)\nDISTSTYLE AUTO\nSORTKEY AUTO"
    );
    assert_eq!(plan.columns[4].source_name, "Query");
    assert_eq!(plan.columns[4].target_name, "query");
    let sql = plan.table.create_table_sql().replace("\nSORTKEY AUTO", "");
    Parser::parse_sql(&RedshiftSqlDialect {}, &sql).expect("sqlparser accepts the DDL");
}

#[test]
fn target_names_and_keys_are_applied() {
    let options = TableOptions {
        target_schema: Some("Staging".into()),
        target_table: Some("actions".into()),
        distkey: Some("user_profile_id".into()),
        sortkey: Some(vec!["action_time".into(), "ID".into()]),
        ..TableOptions::default()
    };
    let plan = plan(&options).expect("plan");
    let sql = plan.table.create_table_sql();
    assert!(sql.starts_with("CREATE TABLE \"staging\".\"actions\" ("), "{sql}");
    assert!(sql.ends_with(
        "DISTSTYLE KEY DISTKEY (\"user_profile_id\")\nCOMPOUND SORTKEY (\"action_time\", \"id\")"
    ), "{sql}");
    let interleaved = TableOptions {
        sortkey: Some(vec!["id".into()]),
        sortkey_style: Some("Interleaved".into()),
        diststyle: Some("ALL".into()),
        ..TableOptions::default()
    };
    let sql = plan_table("s", "t", &action_columns(), &[], &interleaved).expect("plan").table.create_table_sql();
    assert!(sql.ends_with("DISTSTYLE ALL\nINTERLEAVED SORTKEY (\"id\")"), "{sql}");
    assert!(!sql.contains("PRIMARY KEY"), "{sql}");
}

#[test]
fn names_colliding_after_folding_are_refused_listing_them() {
    let mut columns = action_columns();
    columns.push(column("ID", "int8", -1, false));
    columns.push(column("query", "text", -1, false));
    let err = plan_table("s", "t", &columns, &[], &TableOptions::default()).expect_err("collision");
    let DefinitionError::NameCollision { groups, .. } = &err else { panic!("{err:?}") };
    assert_eq!(
        groups,
        &vec![
            ("id".to_string(), vec!["id".to_string(), "ID".to_string()]),
            ("query".to_string(), vec!["Query".to_string(), "query".to_string()]),
        ]
    );
    let message = err.to_string();
    assert!(message.contains("\"id\", \"ID\" all become \"id\""), "{message}");
    assert!(err.hint().is_some());
}

#[test]
fn names_over_127_bytes_are_refused() {
    let long = "é".repeat(64);
    let err = plan_table("s", &long, &action_columns(), &[], &TableOptions::default()).expect_err("too long");
    assert!(matches!(err, DefinitionError::InvalidName { what: "table", problem: NameProblem::TooLong(128), .. }), "{err:?}");
    let mut columns = action_columns();
    columns.push(column(&"c".repeat(128), "int4", -1, false));
    let err = plan_table("s", "t", &columns, &[], &TableOptions::default()).expect_err("too long");
    assert!(matches!(err, DefinitionError::InvalidName { what: "column", .. }), "{err:?}");
    let target = TableOptions { target_schema: Some("x".repeat(200)), ..TableOptions::default() };
    assert!(matches!(plan(&target), Err(DefinitionError::InvalidName { what: "schema", .. })));
}

#[test]
fn bad_options_are_refused_with_what_was_expected() {
    let cases: Vec<(TableOptions, &str)> = vec![
        (TableOptions { distkey: Some("nope".into()), ..Default::default() }, "does not have"),
        (TableOptions { distkey: Some("tags".into()), ..Default::default() }, "SUPER"),
        (TableOptions { diststyle: Some("key".into()), ..Default::default() }, "distkey"),
        (TableOptions { diststyle: Some("even".into()), distkey: Some("id".into()), ..Default::default() }, "diststyle"),
        (TableOptions { diststyle: Some("sideways".into()), ..Default::default() }, "one of auto, even, all, key"),
        (TableOptions { sortkey: Some(vec![]), ..Default::default() }, "at least one column"),
        (TableOptions { sortkey: Some(vec!["missing".into()]), ..Default::default() }, "does not have"),
        (TableOptions { sortkey_style: Some("interleaved".into()), ..Default::default() }, "sortkey_style"),
        (TableOptions { sortkey: Some(vec!["id".into()]), sortkey_style: Some("zigzag".into()), ..Default::default() }, "compound or interleaved"),
        (TableOptions { sortkey: Some(vec!["id".into(), "ID".into()]), ..Default::default() }, "each column at most once"),
        (
            TableOptions {
                sortkey: Some((0..9).map(|i| format!("c{i}")).collect()),
                sortkey_style: Some("interleaved".into()),
                ..Default::default()
            },
            "at most 400 compound or 8 interleaved",
        ),
    ];
    for (options, expected) in cases {
        let err = plan_wide(&options).expect_err("bad option");
        assert!(err.to_string().contains(expected), "{options:?}: {err}");
    }
}

#[test]
fn relations_without_columns_or_with_too_many_are_refused() {
    assert!(matches!(
        plan_table("s", "t", &[], &[], &TableOptions::default()),
        Err(DefinitionError::NoColumns { .. })
    ));
    let many: Vec<SourceColumn> = (0..1601).map(|i| column(&format!("c{i}"), "int4", -1, false)).collect();
    assert!(matches!(
        plan_table("s", "t", &many, &[], &TableOptions::default()),
        Err(DefinitionError::TooManyColumns { count: 1601, .. })
    ));
}

#[test]
fn messages_quote_names_and_values_as_sql_does() {
    let err = DefinitionError::UnknownColumn { relation: "\"s\".\"t\"".into(), option: "distkey", column: "My \"odd\" col".into() };
    assert_eq!(err.to_string(), "option distkey names column \"My \"\"odd\"\" col\", which \"s\".\"t\" does not have");
    let err = DefinitionError::InvalidOption { option: "diststyle", value: "it's".into(), expected: "auto, even, all or key" };
    assert!(err.to_string().starts_with("invalid value 'it''s' for option diststyle"), "{err}");
}
