use super::*;
use crate::steps::tests::committed;

fn change_bundle(truncated: bool, fill: &[&str]) -> Committed {
    let mut c = committed("t");
    c.bundle.kind = pg2redshift_bundle::BundleKind::Changes;
    c.bundle.table.columns.push(pg2redshift_bundle::ColumnDef {
        name: "body".into(),
        data_type: pg2redshift_bundle::RedshiftType::Varchar { length: 100 },
        not_null: false,
    });
    c.bundle.change_file =
        Some(ChangeFile { key: vec!["id".into()], truncated, captured: 5, fill_columns: fill.iter().map(|s| s.to_string()).collect(), added_columns: Vec::new(), backfilled_columns: Vec::new() });
    c
}

fn sql(steps: &[Step]) -> Vec<&str> {
    steps.iter().map(|s| s.sql.as_str()).collect()
}

#[test]
fn staging_takes_the_change_file_columns_in_order() {
    let auth = CopyAuth::IamRole("arn:aws:iam::1:role/r".into());
    let steps = stage(&change_bundle(false, &[]), &auth).expect("stage");
    assert_eq!(
        sql(&steps)[1],
        "CREATE TABLE \"s\".\"t__pg2rs_chg\" (\"pg2rs_op\" CHAR(1), \"pg2rs_lsn\" VARCHAR(20), \"pg2rs_fill\" VARCHAR(1600), \
         \"pg2rs_fill_1\" INTEGER, \"id\" INTEGER, \"body\" VARCHAR(100))"
    );
    assert!(sql(&steps)[2].starts_with(
        "COPY \"s\".\"t__pg2rs_chg\" (\"pg2rs_op\", \"pg2rs_lsn\", \"pg2rs_fill\", \"pg2rs_fill_1\", \"id\", \"body\") FROM 's3://b/app/s.t/x/manifest.json'"
    ));
    assert_eq!(steps[2].action, Action::Copy { table: "s.t".into(), rows: 3 });
}

#[test]
fn fills_come_from_the_old_key_then_deletes_and_inserts() {
    let c = change_bundle(false, &["body"]);
    assert_eq!(
        sql(&fill(&c, false).expect("fill")),
        [
            "UPDATE \"s\".\"t__pg2rs_chg\" s SET \"body\" = t.\"body\" FROM \"s\".\"t\" t WHERE s.pg2rs_fill IS NOT NULL \
             AND SUBSTRING(s.pg2rs_fill, 2, 1) = '1' AND t.\"id\" = s.\"pg2rs_fill_1\"",
            "UPDATE \"s\".\"t__pg2rs_chg\" s SET pg2rs_fill = NULL FROM \"s\".\"t\" t WHERE s.pg2rs_fill IS NOT NULL AND t.\"id\" = s.\"pg2rs_fill_1\"",
        ]
    );
    assert!(sql(&fill(&c, true).expect("fill"))[0].ends_with("t.\"id\" = s.\"id\""), "the overlap's second try: the row's own key");
    assert!(fill(&change_bundle(false, &[]), false).expect("fill").is_empty());
    let applied = apply(&c).expect("apply");
    assert_eq!(
        &sql(&applied)[..3],
        [
            "DELETE FROM \"s\".\"t\" USING \"s\".\"t__pg2rs_chg\" WHERE \"t\".\"id\" = \"t__pg2rs_chg\".\"id\"",
            "INSERT INTO \"s\".\"t\" (\"id\", \"body\") SELECT \"id\", \"body\" FROM \"s\".\"t__pg2rs_chg\" WHERE pg2rs_op = 'U'",
            "DROP TABLE \"s\".\"t__pg2rs_chg\"",
        ]
    );
    assert!(sql(&applied)[3].starts_with("INSERT INTO pg2redshift_loader.loads VALUES"));
    assert_eq!(sql(&apply(&change_bundle(true, &[])).expect("apply"))[0], "DELETE FROM \"s\".\"t\"");
}

#[test]
fn a_layout_naming_what_the_table_lacks_is_refused() {
    let mut c = change_bundle(false, &["nope"]);
    assert!(matches!(fill(&c, false), Err(LoadError::Refused(m)) if m.contains("column nope")));
    c.bundle.change_file = Some(ChangeFile { key: Vec::new(), truncated: false, captured: 0, fill_columns: Vec::new(), added_columns: Vec::new(), backfilled_columns: Vec::new() });
    assert!(matches!(apply(&c), Err(LoadError::Refused(m)) if m.contains("without a key")));
    let mut c = change_bundle(false, &[]);
    c.bundle.table.columns[1].name = "pg2rs_op".into();
    assert!(matches!(stage(&c, &CopyAuth::IamRole("r".into())), Err(LoadError::Refused(m)) if m.contains("stages with")));
}

#[test]
fn added_columns_come_first_with_the_value_existing_rows_have() {
    let mut c = change_bundle(false, &[]);
    if let Some(cf) = c.bundle.change_file.as_mut() {
        cf.added_columns = vec!["body".into()];
        cf.backfilled_columns = vec!["body".into()];
    }
    assert_eq!(
        sql(&add_columns(&c).expect("add")),
        [
            "ALTER TABLE \"s\".\"t\" ADD COLUMN \"body\" VARCHAR(100)",
            "UPDATE \"s\".\"t\" SET \"body\" = s.\"body\" FROM \"s\".\"t__pg2rs_chg\" s WHERE s.pg2rs_op = 'A'",
        ]
    );
    assert!(add_columns(&change_bundle(false, &[])).expect("add").is_empty());
}
