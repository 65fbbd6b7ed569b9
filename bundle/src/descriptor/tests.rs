use super::*;
use crate::redshift::{ColumnDef, DistStyle, SortKey};
use crate::FORMAT_VERSION;
use crate::document::ExportDocument;

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
        export: Vec::new(),
        export_document: Some(DocumentRef {
            key: "app/_exports/20261122T003000Z-1a2b3c4d/export.json".into(),
            sha256: sample_document_ref().sha256,
            tables: 1,
        }),
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
        encoding: Encoding::current(crate::Compression::Gzip),
        manifest_key: "app/public.t/20261122T003000Z-1a2b3c4d/manifest.json".into(),
        files: vec![DataFile { key: "app/public.t/20261122T003000Z-1a2b3c4d/part-00000.csv.gz".into(), rows: 1, raw_bytes: 2, compressed_bytes: 22 }],
        totals: Totals { rows: 1, files: 1, raw_bytes: 2, compressed_bytes: 22 },
        changes: Changes::default(),
        change_file: None,
    }
}

/// The export document `sample()` names.
pub(crate) fn sample_document() -> ExportDocument {
    ExportDocument {
        format_version: FORMAT_VERSION,
        kind: BundleKind::Full,
        export_id: "20261122T003000Z-1a2b3c4d".into(),
        exported_at: "2026-11-22T00:30:00Z".into(),
        producer: "pg2redshift 0.1.0".into(),
        database: "app".into(),
        snapshot: "100:100:".into(),
        tables: vec![ExportMember {
            schema: "public".into(),
            table: "t".into(),
            bundle_key: "app/public.t/20261122T003000Z-1a2b3c4d/bundle.json".into(),
        }],
        stream: None,
    }
}

pub(crate) fn sample_document_ref() -> DocumentRef {
    let bytes = sample_document().to_json().unwrap();
    ExportDocument::reference("app/_exports/20261122T003000Z-1a2b3c4d/export.json", bytes.as_bytes(), 1)
}

/// `sample()` as format 1 wrote it: the table list in the bundle, no export document.
pub(crate) fn sample_v1() -> Bundle {
    let mut b = sample();
    b.format_version = 1;
    b.export_document = None;
    b.export = sample_document().tables;
    b
}

#[test]
fn both_formats_round_trip_through_json() {
    for b in [sample(), sample_v1()] {
        let json = b.to_json().unwrap();
        assert_eq!(Bundle::from_json(&json).unwrap(), b);
    }
    let json = sample().to_json().unwrap();
    assert!(!json.contains("\"export\""), "format 2 does not list the export's tables: {json}");
    let doc = sample_document();
    assert_eq!(ExportDocument::from_json(&doc.to_json().unwrap()).unwrap(), doc);
}

#[test]
fn each_format_has_its_own_shape() {
    let mut b = sample();
    b.export = sample_document().tables;
    assert!(matches!(Bundle::from_json(&b.to_json().unwrap()), Err(BundleError::Shape { version: 2, .. })));
    b.export.clear();
    b.export_document = None;
    assert!(matches!(Bundle::from_json(&b.to_json().unwrap()), Err(BundleError::Shape { version: 2, .. })));
    let mut b = sample_v1();
    b.export_document = sample().export_document;
    assert!(matches!(Bundle::from_json(&b.to_json().unwrap()), Err(BundleError::Shape { version: 1, .. })));
    b.export_document = None;
    b.export.clear();
    assert!(matches!(Bundle::from_json(&b.to_json().unwrap()), Err(BundleError::Shape { version: 1, .. })));
}

#[test]
fn change_bundles_have_their_own_shape() {
    let mut b = sample();
    b.kind = BundleKind::Changes;
    let err = Bundle::from_json(&b.to_json().unwrap()).unwrap_err();
    assert_eq!(err.to_string(), "bundle.json of format version 2 has kind changes but no change_file");
    b.change_file = Some(ChangeFile { key: vec!["id".into()], truncated: false, captured: 3, fill_columns: Vec::new(), added_columns: Vec::new(), backfilled_columns: Vec::new() });
    assert_eq!(Bundle::from_json(&b.to_json().unwrap()).unwrap(), b);
    b.kind = BundleKind::Full;
    assert!(matches!(Bundle::from_json(&b.to_json().unwrap()), Err(BundleError::Shape { version: 2, .. })));
    let mut v1 = sample_v1();
    v1.kind = BundleKind::Changes;
    v1.change_file = b.change_file.clone();
    assert!(matches!(Bundle::from_json(&v1.to_json().unwrap()), Err(BundleError::Shape { version: 1, .. })));

    let mut d = sample_document();
    d.kind = BundleKind::Changes;
    let err = ExportDocument::from_json(&d.to_json().unwrap()).unwrap_err();
    assert_eq!(err.to_string(), "export.json of format version 2 has kind changes but names no stream");
    d.stream = Some(crate::StreamPosition {
        stream: "orders".into(),
        slot: "pg2redshift_orders".into(),
        base_export_id: "20261122T003000Z-1a2b3c4d".into(),
        from_lsn: "0/16B3748".into(),
        to_lsn: "0/16B3800".into(),
        overlap_until_lsn: "0/16B3700".into(),
    });
    assert_eq!(ExportDocument::from_json(&d.to_json().unwrap()).unwrap(), d);
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
    v["format_version"] = 3.into();
    v["columns"] = "garbage".into();
    let err = Bundle::from_json(&v.to_string()).unwrap_err();
    assert!(matches!(err, BundleError::UnknownVersion { found: 3, .. }), "{err}");
    assert_eq!(err.to_string(), "bundle.json has format version 3; this program reads versions 1 and 2");

    v["format_version"] = 1.into();
    v["kind"] = "cdc".into();
    let err = Bundle::from_json(&v.to_string()).unwrap_err();
    assert!(matches!(err, BundleError::UnknownKind { ref kind, .. } if kind == "cdc"), "{err}");

    let mut d: serde_json::Value = serde_json::from_str(&sample_document().to_json().unwrap()).unwrap();
    d["format_version"] = 1.into();
    let err = ExportDocument::from_json(&d.to_string()).unwrap_err();
    assert!(err.to_string().starts_with("export.json has format version 1"), "{err}");
}

#[test]
fn policy_parses_case_insensitively() {
    assert_eq!("NULL".parse::<OnUnrepresentable>(), Ok(OnUnrepresentable::Null));
    assert_eq!(" truncate ".parse::<OnUnrepresentable>(), Ok(OnUnrepresentable::Truncate));
    assert!("drop".parse::<OnUnrepresentable>().is_err());
}
