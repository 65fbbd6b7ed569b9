use super::*;
use crate::redshift::{ColumnDef, DistStyle, SortKey};

/// A valid bundle of `app.public.t`, keys laid out as the extension writes them.
pub(crate) fn sample() -> Bundle {
    Bundle {
        format_version: FORMAT_VERSION,
        kind: BundleKind::Full,
        export_id: "20261122T003000Z-1a2b3c4d".into(),
        exported_at: "2026-11-22T00:30:00Z".into(),
        producer: "pg2redshift 0.1.0".into(),
        source: Source {
            database: "app".into(),
            schema: "public".into(),
            table: "t".into(),
            relkind: "r".into(),
            snapshot: "100:100:".into(),
        },
        export: vec![ExportMember {
            schema: "public".into(),
            table: "t".into(),
            bundle_key: "app/public.t/20261122T003000Z-1a2b3c4d/bundle.json".into(),
        }],
        table: TableDef {
            schema: "public".into(),
            name: "t".into(),
            columns: vec![ColumnDef { name: "id".into(), data_type: RedshiftType::Integer, not_null: true }],
            primary_key: vec!["id".into()],
            dist_style: DistStyle::Auto,
            sort_key: SortKey::Auto,
        },
        create_table_sql: "CREATE TABLE …".into(),
        columns: vec![ColumnInfo {
            source_name: "id".into(),
            source_type: "integer".into(),
            name: "id".into(),
            data_type: RedshiftType::Integer,
            nullable: false,
            note: None,
        }],
        encoding: Encoding::current(),
        manifest_key: "app/public.t/20261122T003000Z-1a2b3c4d/manifest.json".into(),
        files: vec![DataFile { key: "app/public.t/20261122T003000Z-1a2b3c4d/part-00000.csv.gz".into(), rows: 1, raw_bytes: 2, compressed_bytes: 22 }],
        totals: Totals { rows: 1, files: 1, raw_bytes: 2, compressed_bytes: 22 },
        changes: Changes::default(),
    }
}

#[test]
fn round_trips_through_json() {
    let b = sample();
    let json = b.to_json().unwrap();
    assert!(json.contains("\"null_as\": \"\\u0000\""), "{json}");
    assert!(json.contains("\"type\": \"INTEGER\""), "{json}");
    assert_eq!(Bundle::from_json(&json).unwrap(), b);
}

#[test]
fn refuses_unknown_version_and_kind_before_anything_else() {
    let mut v: serde_json::Value = serde_json::from_str(&sample().to_json().unwrap()).unwrap();
    v["format_version"] = 2.into();
    v["columns"] = "garbage".into();
    let err = Bundle::from_json(&v.to_string()).unwrap_err();
    assert!(matches!(err, BundleError::UnknownVersion { found: 2 }), "{err}");

    v["format_version"] = 1.into();
    v["kind"] = "cdc".into();
    let err = Bundle::from_json(&v.to_string()).unwrap_err();
    assert!(matches!(err, BundleError::UnknownKind(ref k) if k == "cdc"), "{err}");
}

#[test]
fn policy_parses_case_insensitively() {
    assert_eq!("NULL".parse::<OnUnrepresentable>(), Ok(OnUnrepresentable::Null));
    assert_eq!(" truncate ".parse::<OnUnrepresentable>(), Ok(OnUnrepresentable::Truncate));
    assert!("drop".parse::<OnUnrepresentable>().is_err());
}
