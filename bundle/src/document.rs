//! `export.json`: the export-level document. One per export, written once after every table's
//! data, manifest and signature and before the first bundle.json; it lists the export's tables.
//! Each bundle.json names it by key and SHA-256, so an export's size grows with its tables, not
//! with their square (format 1 repeated the whole list in every bundle.json), and a signed
//! bundle authenticates the list too. The commit rule is unchanged: a table counts once its
//! bundle.json exists, an export once every table it lists has one.
//!
//! Change bundles (CDC) share this document: kind `changes` adds the stream and its LSN range
//! ([`StreamPosition`]), and a stream's base snapshot (kind `full`) says where its changes
//! continue; a loader that does not know a kind refuses it, as it does for bundle.json.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::descriptor::{BundleError, BundleKind, DocumentRef, ExportMember, check_header};

/// The export document's file name, in `PREFIX/<database>/_exports/<export_id>/`.
pub const EXPORT_FILE: &str = "export.json";

/// The folder, inside a database's folder, that holds the export documents. Table folders are
/// `<schema>.<table>` with every `.` inside a name escaped, so they always hold one literal `.`
/// and this name, which holds none, cannot be one of them.
pub const EXPORTS_FOLDER: &str = "_exports";

/// The contents of `export.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportDocument {
    pub format_version: u32,
    pub kind: BundleKind,
    pub export_id: String,
    /// RFC 3339, UTC: when the export's snapshot was taken; orders exports.
    pub exported_at: String,
    pub producer: String,
    pub database: String,
    /// `pg_current_snapshot()` of the export, shared by every table.
    pub snapshot: String,
    /// Every table of the export, in the order the loader creates and swaps them.
    pub tables: Vec<ExportMember>,
    /// The change stream this export belongs to: its base snapshot (kind `full`) or one of its
    /// change batches (kind `changes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamPosition>,
}

/// Where an export stands in its change stream. LSNs are PostgreSQL's `X/Y` text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamPosition {
    pub stream: String,
    pub slot: String,
    /// The stream's base snapshot: the full export its changes apply on top of.
    pub base_export_id: String,
    /// The batch holds the changes of the transactions whose commit record starts in
    /// `[from_lsn, to_lsn)`. Batches of a stream chain: each starts where the previous ended,
    /// the first where its base says (a base has `from_lsn == to_lsn`).
    pub from_lsn: String,
    pub to_lsn: String,
    /// Changes that committed before this LSN may already be in the base snapshot: applying
    /// them again reaches the same state, but a row they would fill from may be missing.
    pub overlap_until_lsn: String,
}

impl ExportDocument {
    /// Parses export.json, refusing an unknown format version or kind first.
    pub fn from_json(text: &str) -> Result<ExportDocument, BundleError> {
        // Format 1 had no export document.
        check_header(text, "export.json", &[2])?;
        let document: ExportDocument =
            serde_json::from_str(text).map_err(|source| BundleError::Json { file: "export.json", source })?;
        if document.kind == BundleKind::Changes && document.stream.is_none() {
            return Err(BundleError::Shape { file: "export.json", version: 2, problem: "has kind changes but names no stream" });
        }
        Ok(document)
    }

    /// Compact: at thousands of tables the document is read whole, so no indentation.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    /// The reference every bundle.json of the export carries, for these exact bytes.
    pub fn reference(key: &str, bytes: &[u8], tables: usize) -> DocumentRef {
        DocumentRef { key: key.to_string(), sha256: sha256_hex(bytes), tables: tables as u64 }
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
