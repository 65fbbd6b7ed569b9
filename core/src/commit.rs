//! What an export commits, built from what it planned and what it uploaded: each table's
//! manifest.json and bundle.json, the export's one export.json, and the check that no two tables of one export would land in
//! the same Redshift table. No I/O here; the extension writes the results.

use std::collections::{BTreeMap, HashMap};

use pg2redshift_bundle::{
    Bundle, BundleKind, BundleLocation, ChangeFile, Changes, ColumnInfo, Compression, DataFile, DocumentRef, Encoding, ExportDocument, ExportMember,
    FORMAT_VERSION, Manifest, OnUnrepresentable, Source, StreamPosition, Totals, quote_ident, quote_qualified,
};

use crate::table::TablePlan;

/// Facts about the whole export, shared by all of its tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportHead {
    pub export_id: String,
    /// When the export's statement started, UTC, ISO 8601 with microseconds.
    pub exported_at: String,
    /// `pg_current_snapshot()` of the export.
    pub snapshot: String,
    pub database: String,
    /// e.g. `pg2redshift 0.1.0`.
    pub producer: String,
    pub policy: OnUnrepresentable,
    /// `Full`, or `Changes` for a change stream's batch.
    pub kind: BundleKind,
    /// The change stream this export belongs to (its base, or a batch of its changes).
    pub stream: Option<StreamPosition>,
    /// How the data files are compressed.
    pub compression: Compression,
}

/// One table of the export as it was read: its source, plan and S3 location.
#[derive(Debug, Clone, Copy)]
pub struct TableSource<'a> {
    pub schema: &'a str,
    pub name: &'a str,
    /// `pg_class.relkind`.
    pub relkind: &'a str,
    pub plan: &'a TablePlan,
    pub location: &'a BundleLocation,
}

/// What streaming one table produced: its files in order, as uploaded, and the values changed
/// under the policy per source column.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableOutput {
    pub files: Vec<DataFile>,
    pub changes: BTreeMap<String, u64>,
    /// Kind `changes`: how the files are laid out.
    pub change_file: Option<ChangeFile>,
}

/// The export document: every table of the export, listed once.
pub fn document(head: &ExportHead, tables: &[TableSource<'_>]) -> ExportDocument {
    ExportDocument {
        format_version: FORMAT_VERSION,
        kind: head.kind,
        export_id: head.export_id.clone(),
        exported_at: head.exported_at.clone(),
        producer: head.producer.clone(),
        database: head.database.clone(),
        snapshot: head.snapshot.clone(),
        tables: tables
            .iter()
            .map(|t| ExportMember { schema: t.schema.to_string(), table: t.name.to_string(), bundle_key: t.location.bundle_key() })
            .collect(),
        stream: head.stream.clone(),
    }
}

/// The COPY manifest of one table: every file mandatory, with its compressed size.
pub fn manifest(table: &TableSource<'_>, output: &TableOutput) -> Manifest {
    let urls: Vec<(String, u64)> =
        output.files.iter().map(|f| (table.location.url(&f.key), f.compressed_bytes)).collect();
    Manifest::of_files(urls.iter().map(|(url, size)| (url.as_str(), *size)))
}

/// The bundle.json of one table, naming the export document by `document` (its key and hash).
pub fn bundle(head: &ExportHead, table: &TableSource<'_>, output: &TableOutput, document: &DocumentRef) -> Bundle {
    let files = output.files.clone();
    let totals = Totals {
        rows: files.iter().map(|f| f.rows).sum(),
        files: files.len() as u64,
        raw_bytes: files.iter().map(|f| f.raw_bytes).sum(),
        compressed_bytes: files.iter().map(|f| f.compressed_bytes).sum(),
    };
    let columns = table
        .plan
        .columns
        .iter()
        .map(|c| ColumnInfo {
            source_name: c.source_name.clone(),
            source_type: c.declared_type.clone(),
            name: c.target_name.clone(),
            data_type: c.mapping.redshift,
            nullable: !c.not_null,
            note: c.mapping.note.clone(),
        })
        .collect();
    Bundle {
        format_version: FORMAT_VERSION,
        kind: head.kind,
        export_id: head.export_id.clone(),
        exported_at: head.exported_at.clone(),
        producer: head.producer.clone(),
        source: Source {
            database: head.database.clone(),
            schema: table.schema.to_string(),
            table: table.name.to_string(),
            relkind: table.relkind.to_string(),
            snapshot: head.snapshot.clone(),
        },
        export: Vec::new(),
        export_document: Some(document.clone()),
        table: table.plan.table.clone(),
        create_table_sql: table.plan.table.create_table_sql(),
        columns,
        encoding: Encoding::current(head.compression),
        manifest_key: table.location.manifest_key(),
        files,
        totals,
        changes: Changes { policy: head.policy, total: output.changes.values().sum(), columns: output.changes.clone() },
        change_file: output.change_file.clone(),
    }
}

/// Two tables of one export that would be loaded into the same Redshift table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tables {first} and {second} would both be loaded into {target}")]
pub struct DuplicateTarget {
    pub first: String,
    pub second: String,
    pub target: String,
}

/// Refuses an export in which two source tables have the same Redshift target.
pub fn check_distinct_targets(tables: &[TableSource<'_>]) -> Result<(), DuplicateTarget> {
    let mut seen = HashMap::new();
    for t in tables {
        let target = (t.plan.table.schema.as_str(), t.plan.table.name.as_str());
        let source = quote_qualified(t.schema, t.name);
        if let Some(first) = seen.insert(target, source.clone()) {
            return Err(DuplicateTarget { first, second: source, target: quote_qualified(target.0, target.1) });
        }
    }
    Ok(())
}

/// A table whose Redshift schema its destination does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("destination '{destination}' may not load into Redshift schema {}: table {table} would go there", quote_ident(schema))]
pub struct TargetSchemaNotAllowed {
    pub destination: String,
    pub schema: String,
    pub table: String,
}

/// Refuses an export naming a Redshift schema outside `allowed` (folded names; None allows
/// any), before any data moves.
pub fn check_target_schemas(
    tables: &[TableSource<'_>],
    destination: &str,
    allowed: Option<&[String]>,
) -> Result<(), TargetSchemaNotAllowed> {
    let Some(allowed) = allowed else { return Ok(()) };
    for t in tables {
        let schema = t.plan.table.schema.as_str();
        if !allowed.iter().any(|a| a.eq_ignore_ascii_case(schema)) {
            return Err(TargetSchemaNotAllowed {
                destination: destination.to_string(),
                schema: schema.to_string(),
                table: quote_qualified(t.schema, t.name),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{SourceColumn, SourceType};
    use crate::table::{TableOptions, plan_table};

    fn plan(schema: &str, table: &str, options: &TableOptions) -> TablePlan {
        let columns = vec![
            SourceColumn { name: "id".into(), ty: SourceType::builtin("int4", -1), declared_type: "integer".into(), not_null: true },
            SourceColumn { name: "body".into(), ty: SourceType::builtin("text", -1), declared_type: "text".into(), not_null: false },
        ];
        plan_table(schema, table, &columns, &["id".to_string()], options).expect("plan")
    }

    fn location(schema: &str, table: &str) -> BundleLocation {
        BundleLocation {
            bucket: "b".into(),
            prefix: "p".into(),
            database: "app".into(),
            schema: schema.into(),
            table: table.into(),
            export_id: "20261204T000000Z-abcd1234".into(),
        }
    }

    fn head() -> ExportHead {
        ExportHead {
            export_id: "20261204T000000Z-abcd1234".into(),
            exported_at: "2026-12-04T00:00:00.000000Z".into(),
            snapshot: "10:10:".into(),
            database: "app".into(),
            producer: "pg2redshift test".into(),
            policy: OnUnrepresentable::Null,
            kind: BundleKind::Full,
            stream: None,
            compression: Compression::Zstd,
        }
    }

    #[test]
    fn a_bundle_totals_its_files_and_counts_changes() {
        let p = plan("s", "t", &TableOptions::default());
        let loc = location("s", "t");
        let table = TableSource { schema: "s", name: "t", relkind: "r", plan: &p, location: &loc };
        let output = TableOutput {
            files: vec![
                DataFile { key: loc.part_key(0, Compression::Zstd), rows: 3, raw_bytes: 30, compressed_bytes: 10 },
                DataFile { key: loc.part_key(1, Compression::Zstd), rows: 2, raw_bytes: 20, compressed_bytes: 8 },
            ],
            changes: BTreeMap::from([("body".to_string(), 2)]),
            change_file: None,
        };
        let doc = document(&head(), &[table]);
        let doc_bytes = doc.to_json().expect("serialise");
        let reference = ExportDocument::reference(&loc.document_key(), doc_bytes.as_bytes(), doc.tables.len());
        let b = bundle(&head(), &table, &output, &reference);
        assert_eq!((b.totals.rows, b.totals.files, b.totals.raw_bytes, b.totals.compressed_bytes), (5, 2, 50, 18));
        assert_eq!((b.changes.total, b.changes.policy), (2, OnUnrepresentable::Null));
        assert_eq!(b.encoding.compression, "zstd");
        assert_eq!(doc.tables[0].bundle_key, loc.bundle_key());
        assert_eq!(b.export_document.as_ref(), Some(&reference));
        pg2redshift_bundle::integrity::check_document(&reference, doc_bytes.as_bytes(), &doc).expect("a valid document");
        pg2redshift_bundle::integrity::check_bundle(&loc.bundle_key(), &b).expect("a valid bundle");
        assert_eq!(b.manifest_key, loc.manifest_key());
        assert_eq!(b.columns.iter().map(|c| (c.name.as_str(), c.nullable)).collect::<Vec<_>>(), [("id", false), ("body", true)]);
        // What it serialises to is what the loader reads back.
        let again = Bundle::from_json(&b.to_json().expect("serialise")).expect("parse");
        assert_eq!(again.totals, b.totals);

        let m = manifest(&table, &output);
        assert_eq!(m.entries.len(), 2);
        assert_eq!(m.entries[1].url, loc.url(&loc.part_key(1, Compression::Zstd)));
        assert_eq!(m.entries[1].meta.content_length, 8);
    }

    #[test]
    fn a_schema_the_destination_does_not_allow_is_refused() {
        let p = plan("Sales", "t", &TableOptions::default());
        let loc = location("Sales", "t");
        let tables = [TableSource { schema: "Sales", name: "t", relkind: "r", plan: &p, location: &loc }];
        assert_eq!(p.table.schema, "sales");
        assert!(check_target_schemas(&tables, "d", None).is_ok());
        assert!(check_target_schemas(&tables, "d", Some(&["sales".to_string()])).is_ok());
        let err = check_target_schemas(&tables, "d", Some(&["public".to_string()])).unwrap_err();
        assert_eq!(err.schema, "sales");
        assert_eq!(err.to_string(), "destination 'd' may not load into Redshift schema \"sales\": table \"Sales\".\"t\" would go there");
        let into = TableOptions { target_schema: Some("public".into()), ..TableOptions::default() };
        let p = plan("Sales", "t", &into);
        let tables = [TableSource { schema: "Sales", name: "t", relkind: "r", plan: &p, location: &loc }];
        assert!(check_target_schemas(&tables, "d", Some(&["public".to_string()])).is_ok());
    }

    #[test]
    fn two_tables_with_one_target_are_refused() {
        let into_public = TableOptions { target_schema: Some("public".into()), ..TableOptions::default() };
        let (a, b) = (plan("s1", "t", &into_public), plan("s2", "t", &into_public));
        let (la, lb) = (location("s1", "t"), location("s2", "t"));
        let tables = [
            TableSource { schema: "s1", name: "t", relkind: "r", plan: &a, location: &la },
            TableSource { schema: "s2", name: "t", relkind: "r", plan: &b, location: &lb },
        ];
        let err = check_distinct_targets(&tables).unwrap_err();
        assert_eq!(err, DuplicateTarget { first: "\"s1\".\"t\"".into(), second: "\"s2\".\"t\"".into(), target: "\"public\".\"t\"".into() });
        assert!(check_distinct_targets(&tables[..1]).is_ok());
    }
}
