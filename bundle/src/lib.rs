//! The contract between the two halves: where an export lives in S3 and what its files are
//! called. No database client and no pgrx here, so both the extension and the loader use it.

mod descriptor;
mod document;
pub mod integrity;
mod layout;
mod manifest;
pub mod redshift;
pub mod signature;

pub use descriptor::{
    Bundle, BundleError, BundleKind, CHANGE_META_COLUMNS, ChangeFile, Changes, ColumnInfo, Compression, DataFile, DocumentRef, Encoding, ExportMember, OnUnrepresentable,
    Source, Totals,
};
pub use document::{EXPORT_FILE, EXPORTS_FOLDER, ExportDocument, StreamPosition, sha256_hex};
pub use layout::{
    BundleLocation, ListedKey, MAX_PREFIX_BYTES, PrefixError, listed_document_key, checked_prefix, database_folder_key, document_key, escape_key_component, split_s3_url,
};
pub use manifest::{Manifest, ManifestEntry, ManifestMeta};
pub use redshift::{ColumnDef, DistStyle, RedshiftType, SortKey, TableDef, quote_ident, quote_qualified};

/// Version of the bundle.json and export.json format this code writes. Format 2 replaced the
/// table list in every bundle.json (size quadratic in tables) with one export document.
pub const FORMAT_VERSION: u32 = 2;

/// The versions the loader reads; it refuses any other.
pub const READ_VERSIONS: [u32; 2] = [1, 2];

/// Redshift COPY manifest of one table's data files.
pub const MANIFEST_FILE: &str = "manifest.json";

/// Written last: its presence is what makes an export committed.
pub const BUNDLE_FILE: &str = "bundle.json";
