//! `bundle.json`: everything the loader needs to know about one table of one export. It is
//! written last, so its presence is the commit marker.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::redshift::{RedshiftType, TableDef};
use crate::READ_VERSIONS;

/// What the bundle holds: a full snapshot of its table, or a batch of a change stream's
/// changes to it (format 2 only). A loader must refuse a kind it does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BundleKind {
    Full,
    Changes,
}

/// What the exporter did with a value Redshift cannot hold unchanged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnUnrepresentable {
    /// Stop the export with an error naming table, column and row (the default).
    #[default]
    Error,
    /// Export the value as NULL (refused for NOT NULL columns).
    Null,
    /// Cut over-long text and binary values to the column's limit; other values still error.
    Truncate,
}

impl OnUnrepresentable {
    pub fn as_str(self) -> &'static str {
        match self {
            OnUnrepresentable::Error => "error",
            OnUnrepresentable::Null => "null",
            OnUnrepresentable::Truncate => "truncate",
        }
    }
}

impl fmt::Display for OnUnrepresentable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OnUnrepresentable {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s.trim().to_ascii_lowercase().as_str() {
            "error" => Ok(OnUnrepresentable::Error),
            "null" => Ok(OnUnrepresentable::Null),
            "truncate" => Ok(OnUnrepresentable::Truncate),
            _ => Err(()),
        }
    }
}

/// How the data files are encoded; the loader derives its COPY options from this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Encoding {
    /// Always `csv`.
    pub format: String,
    pub delimiter: String,
    pub quote: String,
    /// A field consisting of exactly this string is NULL: a lone NUL byte.
    pub null_as: String,
    /// `gzip` or `zstd` ([`Compression`]).
    pub compression: String,
    /// Time zone of every timestamptz value (always `UTC`, written with an offset).
    pub timezone: String,
}

impl Encoding {
    /// The encoding this format version writes, with the data files compressed as given.
    pub fn current(compression: Compression) -> Encoding {
        Encoding {
            format: "csv".into(),
            delimiter: ",".into(),
            quote: "\"".into(),
            null_as: "\0".into(),
            compression: compression.name().into(),
            timezone: "UTC".into(),
        }
    }
}

/// How an export's data files are compressed. Both are codecs Redshift's COPY reads from S3
/// (https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-file-compression.html).
/// A loader that does not know a codec refuses the bundle by its `encoding.compression`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
}

impl Compression {
    pub const ALL: [Compression; 2] = [Compression::Gzip, Compression::Zstd];

    /// As written in bundle.json and accepted by the extension's `compression` option.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }

    /// The data files' name ending.
    pub fn file_suffix(self) -> &'static str {
        match self {
            Compression::Gzip => ".csv.gz",
            Compression::Zstd => ".csv.zst",
        }
    }

    /// The data files' Content-Type (application/zstd: RFC 8878).
    pub fn content_type(self) -> &'static str {
        match self {
            Compression::Gzip => "application/gzip",
            Compression::Zstd => "application/zstd",
        }
    }

    /// COPY's file compression parameter.
    pub fn copy_option(self) -> &'static str {
        match self {
            Compression::Gzip => "GZIP",
            Compression::Zstd => "ZSTD",
        }
    }
}

impl std::str::FromStr for Compression {
    type Err = ();

    fn from_str(s: &str) -> Result<Compression, ()> {
        Compression::ALL.into_iter().find(|c| c.name() == s).ok_or(())
    }
}

/// Where the rows came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub database: String,
    pub schema: String,
    pub table: String,
    /// `pg_class.relkind`: r, p, v, m or f.
    pub relkind: String,
    /// `pg_current_snapshot()` of the export: every table of one export shares it.
    pub snapshot: String,
}

/// One column on both sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnInfo {
    pub source_name: String,
    pub source_type: String,
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: RedshiftType,
    pub nullable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One gzipped CSV data file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataFile {
    pub key: String,
    pub rows: u64,
    /// CSV bytes before compression.
    pub raw_bytes: u64,
    /// Object size in S3.
    pub compressed_bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub rows: u64,
    pub files: u64,
    pub raw_bytes: u64,
    pub compressed_bytes: u64,
}

/// Values that could not go to Redshift unchanged and were changed under the chosen policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    pub policy: OnUnrepresentable,
    /// Changed values per source column name; empty when nothing was changed.
    pub columns: BTreeMap<String, u64>,
    pub total: u64,
}

/// One table of an export (same snapshot, same export id): an entry of export.json's list
/// (format 1: of every bundle.json's `export`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportMember {
    pub schema: String,
    pub table: String,
    pub bundle_key: String,
}

/// How a bundle.json names its export document (`export.json`, see `document.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentRef {
    pub key: String,
    /// Hex SHA-256 of the document's exact bytes.
    pub sha256: String,
    /// How many tables it lists.
    pub tables: u64,
}

/// How the data files of a bundle of kind `changes` are laid out. Each row is the final state of
/// one primary key after the batch's changes, collapsed in commit order: the columns
/// [`CHANGE_META_COLUMNS`], then the key columns the `fill` cells come from (`fill_key`, the
/// row's key before the batch), then the table's columns. A `D` row deletes its key (given in
/// the table's key columns); a `U` row replaces it, except that a column whose `fill` character
/// is `1` keeps the value of the target's row under the fill key (an unchanged TOASTed value
/// that no change of the batch carried).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeFile {
    /// Target names of the primary key columns, in key order.
    pub key: Vec<String>,
    /// The batch truncated the table before the changes listed: every target row goes first.
    pub truncated: bool,
    /// Changes captured for this table (each row of the files collapses one or more).
    pub captured: u64,
    /// Target names of the columns some row fills from the target; empty when none.
    pub fill_columns: Vec<String>,
    /// Columns added to the table since the previous batch (target names, in order): the loader
    /// adds them to the Redshift table first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added_columns: Vec<String>,
    /// Those of them whose rows that existed when they were added hold a value (PostgreSQL's
    /// default at ADD COLUMN): one `A` row of the files carries it, for every row already in
    /// Redshift.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backfilled_columns: Vec<String>,
}

/// The leading columns of every change file row: operation (`U`, `D`, or `A` for the values of
/// added columns in rows that existed before, see [`ChangeFile::backfilled_columns`]), the commit LSN of
/// the key's last change (`X/Y`), and one `0`/`1` per table column (`1`: take the target's
/// value), NULL when no column is filled.
pub const CHANGE_META_COLUMNS: [&str; 3] = ["op", "lsn", "fill"];

/// The contents of `bundle.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    pub format_version: u32,
    pub kind: BundleKind,
    pub export_id: String,
    /// RFC 3339, UTC: when the export's snapshot was taken.
    pub exported_at: String,
    /// `pg2redshift <version>` of the extension that wrote the bundle.
    pub producer: String,
    pub source: Source,
    /// Format 1 only: every table of this export, this one included. Format 2 lists them once,
    /// in the export document.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub export: Vec<ExportMember>,
    /// Format 2: the export document that lists every table of this export (the loader swaps
    /// them together).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_document: Option<DocumentRef>,
    /// The Redshift table to create and load.
    pub table: TableDef,
    /// `table` as SQL, for people reading the bundle.
    pub create_table_sql: String,
    pub columns: Vec<ColumnInfo>,
    pub encoding: Encoding,
    pub manifest_key: String,
    pub files: Vec<DataFile>,
    pub totals: Totals,
    pub changes: Changes,
    /// Kind `changes` only: the layout of the change files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_file: Option<ChangeFile>,
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{file} is not valid JSON: {source}")]
    Json {
        file: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("{file} has format version {found}; this program reads {}", versions(reads))]
    UnknownVersion { file: &'static str, found: u64, reads: &'static [u32] },
    #[error("{file} has kind {kind:?}, which this program does not know")]
    UnknownKind { file: &'static str, kind: String },
    #[error("{file} of format version {version} {problem}")]
    Shape { file: &'static str, version: u32, problem: &'static str },
}

fn versions(reads: &[u32]) -> String {
    let list: Vec<String> = reads.iter().map(u32::to_string).collect();
    if list.len() == 1 { format!("version {}", list[0]) } else { format!("versions {}", list.join(" and ")) }
}

/// Reads only `format_version` and `kind`, and refuses what this code does not know, before
/// anything else of the document is looked at.
pub(crate) fn check_header(text: &str, file: &'static str, reads: &'static [u32]) -> Result<u32, BundleError> {
    #[derive(Deserialize)]
    struct Header {
        format_version: u64,
        kind: String,
    }
    let header: Header = serde_json::from_str(text).map_err(|source| BundleError::Json { file, source })?;
    let Some(version) = reads.iter().copied().find(|v| u64::from(*v) == header.format_version) else {
        return Err(BundleError::UnknownVersion { file, found: header.format_version, reads });
    };
    if serde_json::from_value::<BundleKind>(serde_json::Value::String(header.kind.clone())).is_err() {
        return Err(BundleError::UnknownKind { file, kind: header.kind });
    }
    Ok(version)
}

impl Bundle {
    /// Parses bundle.json of any version this code reads, refusing a format version or kind it
    /// does not know before looking at the rest, and a document of the wrong shape for its
    /// version (format 1 lists its export, format 2 names its export document).
    pub fn from_json(text: &str) -> Result<Bundle, BundleError> {
        let version = check_header(text, "bundle.json", &READ_VERSIONS)?;
        let bundle: Bundle = serde_json::from_str(text).map_err(|source| BundleError::Json { file: "bundle.json", source })?;
        let shape = |problem| Err(BundleError::Shape { file: "bundle.json", version, problem });
        match (version, &bundle.export_document, bundle.export.is_empty()) {
            (1, Some(_), _) => return shape("names an export document"),
            (1, None, true) => return shape("lists no table"),
            (2, None, _) => return shape("names no export document"),
            (2, Some(_), false) => return shape("lists tables itself"),
            _ => {}
        }
        match (version, bundle.kind, &bundle.change_file) {
            (1, BundleKind::Changes, _) => shape("has kind changes, which format 1 did not have"),
            (_, BundleKind::Changes, None) => shape("has kind changes but no change_file"),
            (_, BundleKind::Full, Some(_)) => shape("has kind full but a change_file"),
            _ => Ok(bundle),
        }
    }

    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }
}

#[cfg(test)]
pub(crate) mod tests;
