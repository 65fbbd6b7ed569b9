use super::*;
use pg2redshift_bundle::{Bundle, ColumnDef, DistStyle, Encoding, RedshiftType, SortKey, TableDef};

pub(crate) fn committed(table: &str) -> Committed {
    let def = TableDef {
        schema: "s".into(),
        name: table.into(),
        columns: vec![ColumnDef { name: "id".into(), data_type: RedshiftType::Integer, not_null: true }],
        primary_key: Vec::new(),
        dist_style: DistStyle::Auto,
        sort_key: SortKey::Auto,
    };
    let json = serde_json::json!({
        "format_version": pg2redshift_bundle::FORMAT_VERSION, "kind": "full",
        "export_id": "20261204T000000Z-abcd1234", "exported_at": "2026-12-04T00:00:00.000000Z", "producer": "test",
        "source": { "database": "app", "schema": "s", "table": table, "relkind": "r", "snapshot": "1:1:" },
        "export_document": { "key": "app/_exports/x/export.json", "sha256": "00", "tables": 1 },
        "table": serde_json::to_value(&def).expect("table"),
        "create_table_sql": "CREATE TABLE …",
        "columns": [{ "source_name": "id", "source_type": "integer", "name": "id", "type": "INTEGER", "nullable": false }],
        "encoding": serde_json::to_value(Encoding::current(pg2redshift_bundle::Compression::Gzip)).expect("encoding"),
        "manifest_key": format!("app/s.{table}/x/manifest.json"),
        "files": [{ "key": format!("app/s.{table}/x/part-00000.csv.gz"), "rows": 3, "raw_bytes": 9, "compressed_bytes": 30 }],
        "totals": { "rows": 3, "files": 1, "raw_bytes": 9, "compressed_bytes": 30 },
        "changes": { "policy": "error", "columns": {}, "total": 0 }
    });
    let bundle = Bundle::from_json(&json.to_string()).expect("a valid bundle");
    Committed { bucket: "b".into(), key: format!("app/s.{table}/x/bundle.json"), bundle, raw: Vec::new(), stream: None }
}

fn sql(steps: &[Step]) -> Vec<&str> {
    steps.iter().map(|s| s.shown.as_str()).collect()
}

#[test]
fn staging_copies_every_table_and_redacts_only_what_is_shown() {
    let auth = CopyAuth::Keys { access_key_id: "AKIA".into(), secret_access_key: "s3cr3t".into(), session_token: None };
    let steps = stage(&[committed("t"), committed("u")], &auth).expect("stage");
    assert_eq!(sql(&steps)[0], "CREATE SCHEMA IF NOT EXISTS \"s\"");
    assert_eq!(steps.len(), 7, "the schema once, then per table: drop, create, copy");
    assert_eq!(steps[3].action, Action::Copy { table: "s.t".into(), rows: 3 });
    assert_eq!(steps[6].action, Action::Copy { table: "s.u".into(), rows: 3 });
    let phases: Vec<&str> = steps.iter().map(Step::phase).collect();
    assert_eq!(phases[..4], ["staging DDL", "staging DDL", "staging DDL", "copy"]);
    assert!(steps[3].sql.contains("'s3cr3t'") && !steps[3].shown.contains("s3cr3t"));
}

#[test]
fn copy_names_the_codec_the_bundle_declares() {
    let auth = CopyAuth::Keys { access_key_id: "AKIA".into(), secret_access_key: "s3cr3t".into(), session_token: None };
    let mut c = committed("t");
    let gzip = crate::sql::copy_statement(&c.bundle, "b", &auth, true).expect("gzip");
    assert!(gzip.contains("NULL AS '\\0' GZIP COMPUPDATE OFF"), "{gzip}");
    c.bundle.encoding.compression = "zstd".into();
    let zstd = crate::sql::copy_statement(&c.bundle, "b", &auth, true).expect("zstd");
    assert!(zstd.contains("NULL AS '\\0' ZSTD COMPUPDATE OFF"), "{zstd}");
    c.bundle.encoding.compression = "bzip2".into();
    let err = crate::sql::copy_statement(&c.bundle, "b", &auth, true).expect_err("unknown codec");
    assert!(err.to_string().contains("compression bzip2"), "{err}");
}

#[test]
fn a_new_table_is_renamed_and_recorded() {
    let state = TargetState { old: vec![None], ..TargetState::default() };
    let steps = swap(&[committed("t")], &state);
    assert_eq!(sql(&steps)[0], "ALTER TABLE \"s\".\"t__pg2rs_new\" RENAME TO \"t\"");
    assert!(steps[1].sql.starts_with("INSERT INTO pg2redshift_loader.loads VALUES ('s', 't', '20261204T000000Z-abcd1234'"));
    assert!(steps.iter().all(|s| s.action != Action::Lock), "nothing to lock without an old table");
}

fn grant(to: &str) -> crate::sql::Privilege {
    crate::sql::Privilege { privilege: "SELECT".into(), identity: to.into(), identity_type: "user".into(), admin: false }
}

#[test]
fn an_old_table_hands_over_owner_grants_and_views() {
    let view = DependentView {
        oid: 7,
        schema: "s".into(),
        name: "v".into(),
        definition: " SELECT count(*) AS n FROM s.t;".into(),
        owner: "bob".into(),
        grants: vec![grant("ann")],
    };
    let state = TargetState {
        old: vec![Some(OldTable { owner: "alice".into(), grants: vec![grant("ann")], views: vec![view] })],
        gone: vec![("s".into(), "old_one".into())],
    };
    let steps = swap(&[committed("t")], &state);
    let shown = sql(&steps);
    assert_eq!(
        shown[..7],
        [
            "DROP VIEW \"s\".\"v\"",
            "LOCK \"s\".\"t\"",
            "ALTER TABLE \"s\".\"t\" RENAME TO \"t__pg2rs_old\"",
            "ALTER TABLE \"s\".\"t__pg2rs_new\" RENAME TO \"t\"",
            "ALTER TABLE \"s\".\"t\" OWNER TO \"alice\"",
            "GRANT SELECT ON \"s\".\"t\" TO \"ann\"",
            "DROP TABLE \"s\".\"t__pg2rs_old\"",
        ]
    );
    assert!(shown[7].starts_with("INSERT INTO pg2redshift_loader.loads VALUES ('s', 't'"));
    assert_eq!(
        shown[8..11],
        [
            "CREATE VIEW \"s\".\"v\" AS SELECT count(*) AS n FROM s.t",
            "ALTER TABLE \"s\".\"v\" OWNER TO \"bob\"",
            "GRANT SELECT ON \"s\".\"v\" TO \"ann\"",
        ]
    );
    assert_eq!(steps[1].action, Action::Lock);
    assert!(steps[10].note.is_some(), "the re-created views are reported");
    let phases: Vec<&str> = steps.iter().map(Step::phase).collect();
    assert_eq!(
        phases[..11],
        ["views", "lock", "swap", "swap", "grants and owners", "grants and owners", "swap", "history", "views", "views", "views"]
    );
    assert_eq!(shown[shown.len() - 2], "DROP TABLE IF EXISTS \"s\".\"old_one\"");
    assert!(shown[shown.len() - 1].starts_with("DELETE FROM pg2redshift_loader.loads WHERE target_schema = 's'"));
}

#[test]
fn a_view_on_two_swapped_tables_is_dropped_once_and_created_after_the_views_it_reads() {
    let view = |oid: u32, name: &str| DependentView {
        oid,
        schema: "s".into(),
        name: name.into(),
        definition: format!("SELECT 1 AS {name}"),
        owner: "bob".into(),
        grants: vec![],
    };
    // v2 reads v1 (on b) and a: a's list names only v2, b's names v1 then v2.
    let old = |views: Vec<DependentView>| Some(OldTable { owner: "alice".into(), grants: vec![], views });
    let state = TargetState { old: vec![old(vec![view(20, "v2")]), old(vec![view(10, "v1"), view(20, "v2")])], gone: vec![] };
    let steps = swap(&[committed("a"), committed("b")], &state);
    let shown = sql(&steps);
    assert_eq!(shown[..3], ["DROP VIEW \"s\".\"v2\"", "DROP VIEW \"s\".\"v1\"", "LOCK \"s\".\"a\", \"s\".\"b\""]);
    let created: Vec<&str> = shown.iter().copied().filter(|s| s.starts_with("CREATE VIEW")).collect();
    assert_eq!(created, ["CREATE VIEW \"s\".\"v1\" AS SELECT 1 AS v1", "CREATE VIEW \"s\".\"v2\" AS SELECT 1 AS v2"]);
}
