//! S3 key layout of a bundle:
//! `PREFIX/<db>/<schema>.<table>/<export_id>/{part-NNNNN.csv.gz (or .csv.zst), manifest.json, bundle.json}`,
//! and once per export `PREFIX/<db>/_exports/<export_id>/export.json`.

use std::fmt::Write;

use crate::{BUNDLE_FILE, Compression, EXPORT_FILE, EXPORTS_FOLDER, MANIFEST_FILE};

/// Where one table of one export lives in S3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleLocation {
    pub bucket: String,
    /// Key prefix without leading or trailing `/`; may be empty.
    pub prefix: String,
    pub database: String,
    pub schema: String,
    pub table: String,
    pub export_id: String,
}

impl BundleLocation {
    /// The folder (ending in `/`) that holds every file of this table's export.
    pub fn folder_key(&self) -> String {
        let mut key = String::new();
        let prefix = self.prefix.trim_matches('/');
        if !prefix.is_empty() {
            key.push_str(prefix);
            key.push('/');
        }
        let _ = write!(
            key,
            "{}/{}.{}/{}/",
            escape_key_component(&self.database),
            escape_key_component(&self.schema),
            escape_key_component(&self.table),
            escape_key_component(&self.export_id),
        );
        key
    }

    /// Key of data file number `index` (0-based), named for its compression.
    pub fn part_key(&self, index: u32, compression: Compression) -> String {
        format!("{}part-{index:05}{}", self.folder_key(), compression.file_suffix())
    }

    pub fn manifest_key(&self) -> String {
        format!("{}{MANIFEST_FILE}", self.folder_key())
    }

    pub fn signature_key(&self) -> String {
        format!("{}{}", self.folder_key(), crate::signature::SIGNATURE_FILE)
    }

    pub fn bundle_key(&self) -> String {
        format!("{}{BUNDLE_FILE}", self.folder_key())
    }

    /// The export document of this table's export, shared by every table of it.
    pub fn document_key(&self) -> String {
        document_key(&self.prefix, &self.database, &self.export_id)
    }

    /// `s3://bucket/key` form, as Redshift's COPY and manifests want it.
    pub fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
}

/// `PREFIX/<database>/_exports/<export_id>/export.json`.
pub fn document_key(prefix: &str, database: &str, export_id: &str) -> String {
    format!("{}{EXPORTS_FOLDER}/{}/{EXPORT_FILE}", database_folder_key(prefix, database), escape_key_component(export_id))
}

/// The folder (ending in `/`) under which every export of `database` lives.
pub fn database_folder_key(prefix: &str, database: &str) -> String {
    let prefix = prefix.trim_matches('/');
    let database = escape_key_component(database);
    if prefix.is_empty() { format!("{database}/") } else { format!("{prefix}/{database}/") }
}

/// What a listed key says about the export it belongs to, without reading it: `watch` decides
/// from a listing which exports are new. `database_folder` ends in `/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListedKey<'a> {
    /// `…/<database>/<schema>.<table>/<export_id>/bundle.json`: one table committed.
    Bundle { database_folder: &'a str, export_id: &'a str },
    /// `…/<database>/_exports/<export_id>/export.json`: the export's document.
    Document { database_folder: &'a str, export_id: &'a str },
}

impl<'a> ListedKey<'a> {
    pub fn parse(key: &'a str) -> Option<ListedKey<'a>> {
        let mut parts = key.rsplitn(4, '/');
        let (name, export_id, folder) = (parts.next()?, parts.next()?, parts.next()?);
        let database_folder = &key[..key.len() - name.len() - export_id.len() - folder.len() - 2];
        if export_id.is_empty() || database_folder.is_empty() {
            return None;
        }
        match name {
            BUNDLE_FILE if folder.contains('.') => Some(ListedKey::Bundle { database_folder, export_id }),
            EXPORT_FILE if folder == EXPORTS_FOLDER => Some(ListedKey::Document { database_folder, export_id }),
            _ => None,
        }
    }

    /// The export: (database folder, export id).
    pub fn export(&self) -> (&'a str, &'a str) {
        match *self {
            ListedKey::Bundle { database_folder, export_id } | ListedKey::Document { database_folder, export_id } => {
                (database_folder, export_id)
            }
        }
    }
}

/// The export document's key, from the database folder (ending in `/`) and the escaped id.
pub fn listed_document_key(database_folder: &str, export_id: &str) -> String {
    format!("{database_folder}{EXPORTS_FOLDER}/{export_id}/{EXPORT_FILE}")
}

/// Why a key prefix was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    #[error("it has an empty segment ('//')")]
    EmptySegment,
    #[error("it has a '.' or '..' segment")]
    DotSegment,
    #[error("it has a control character")]
    ControlCharacter,
    /// Redshift reads a backslash in a string literal as an escape, and COPY's source is one.
    #[error("it has a backslash")]
    Backslash,
    #[error("it is longer than {MAX_PREFIX_BYTES} bytes")]
    TooLong,
}

/// Room for the rest of a key within S3's 1,024 bytes: names escape to up to three bytes each.
pub const MAX_PREFIX_BYTES: usize = 256;

/// A key prefix as given in an option or setting, checked so that every key built on it stays
/// inside it: `/`-separated segments, none empty, `.` or `..`, no control characters. Returned
/// without leading or trailing `/`; empty means the bucket's root.
pub fn checked_prefix(prefix: &str) -> Result<String, PrefixError> {
    let trimmed = prefix.trim_matches('/');
    if trimmed.len() > MAX_PREFIX_BYTES {
        return Err(PrefixError::TooLong);
    }
    if trimmed.chars().any(char::is_control) {
        return Err(PrefixError::ControlCharacter);
    }
    if trimmed.contains('\\') {
        return Err(PrefixError::Backslash);
    }
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    for segment in trimmed.split('/') {
        match segment {
            "" => return Err(PrefixError::EmptySegment),
            "." | ".." => return Err(PrefixError::DotSegment),
            _ => {}
        }
    }
    Ok(trimmed.to_string())
}

/// Makes a database, schema or table name safe as one S3 key component: bytes outside
/// `[A-Za-z0-9_-]` become `%XX`, so `.` and `/` inside names cannot make two different tables
/// share a folder, and the mapping can be undone.
pub fn escape_key_component(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// `s3://bucket/key` → `(bucket, key)`; `None` when it is not an `s3://` URL with a bucket.
/// The key may be empty (`s3://bucket` or `s3://bucket/`).
pub fn split_s3_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then_some((bucket, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_folder_holds_every_table_folder() {
        let l = location("p/", "s", "t");
        assert!(l.folder_key().starts_with(&database_folder_key("p/", "app")));
        assert_eq!(database_folder_key("", "my db"), "my%20db/");
    }

    #[test]
    fn s3_urls_split_into_bucket_and_key() {
        assert_eq!(split_s3_url("s3://b/k/x.json"), Some(("b", "k/x.json")));
        assert_eq!(split_s3_url("s3://b"), Some(("b", "")));
        assert_eq!(split_s3_url("s3:///k"), None);
        assert_eq!(split_s3_url("https://b/k"), None);
    }

    fn location(prefix: &str, schema: &str, table: &str) -> BundleLocation {
        BundleLocation {
            bucket: "b".into(),
            prefix: prefix.into(),
            database: "app".into(),
            schema: schema.into(),
            table: table.into(),
            export_id: "20261122T003000Z-1a2b".into(),
        }
    }

    #[test]
    fn keys_follow_the_documented_layout() {
        let loc = location("exports/", "analytics", "action");
        assert_eq!(
            loc.folder_key(),
            "exports/app/analytics.action/20261122T003000Z-1a2b/"
        );
        assert_eq!(
            loc.part_key(7, Compression::Gzip),
            "exports/app/analytics.action/20261122T003000Z-1a2b/part-00007.csv.gz"
        );
        assert!(loc.part_key(0, Compression::Zstd).ends_with("/part-00000.csv.zst"));
        assert!(loc.manifest_key().ends_with("/manifest.json"));
        assert!(loc.bundle_key().ends_with("/bundle.json"));
        assert_eq!(loc.document_key(), "exports/app/_exports/20261122T003000Z-1a2b/export.json");
        assert_eq!(
            loc.url(&loc.bundle_key()),
            "s3://b/exports/app/analytics.action/20261122T003000Z-1a2b/bundle.json"
        );
    }

    #[test]
    fn listed_keys_name_their_export() {
        let loc = location("exports", "analytics", "action");
        let bundle_key = loc.bundle_key();
        let document_key = loc.document_key();
        let expected = ("exports/app/", "20261122T003000Z-1a2b");
        assert_eq!(ListedKey::parse(&bundle_key).map(|k| k.export()), Some(expected));
        assert!(matches!(ListedKey::parse(&document_key), Some(ListedKey::Document { .. })));
        assert_eq!(ListedKey::parse(&document_key).map(|k| k.export()), Some(expected));
        assert_eq!(listed_document_key(expected.0, expected.1), document_key);
        let bare = location("", "s", "t");
        assert_eq!(ListedKey::parse(&bare.bundle_key()).map(|k| k.export()), Some(("app/", "20261122T003000Z-1a2b")));
        for other in [
            loc.manifest_key(),
            "exports/app/_exports/x/bundle.json".to_string(),
            "exports/app/s.t/x/export.json".to_string(),
            "s.t/x/bundle.json".to_string(),
            "bundle.json".to_string(),
        ] {
            assert_eq!(ListedKey::parse(&other), None, "{other}");
        }
    }

    #[test]
    fn empty_prefix_has_no_leading_slash() {
        assert!(location("", "s", "t").folder_key().starts_with("app/s.t/"));
        assert!(location("/", "s", "t").folder_key().starts_with("app/s.t/"));
    }

    #[test]
    fn prefixes_are_checked_segment_by_segment() {
        assert_eq!(checked_prefix("/exports/daily/"), Ok("exports/daily".to_string()));
        assert_eq!(checked_prefix(""), Ok(String::new()));
        assert_eq!(checked_prefix("a//b"), Err(PrefixError::EmptySegment));
        assert_eq!(checked_prefix("a/../b"), Err(PrefixError::DotSegment));
        assert_eq!(checked_prefix(".."), Err(PrefixError::DotSegment));
        assert_eq!(checked_prefix("a/./b"), Err(PrefixError::DotSegment));
        assert_eq!(checked_prefix("a\u{7}b"), Err(PrefixError::ControlCharacter));
        assert_eq!(checked_prefix("a\nb"), Err(PrefixError::ControlCharacter));
        assert_eq!(checked_prefix("a\\b"), Err(PrefixError::Backslash));
        assert_eq!(checked_prefix(&"x".repeat(MAX_PREFIX_BYTES + 1)), Err(PrefixError::TooLong));
        assert_eq!(checked_prefix("..a/b.c/d..").map(|p| p.len()), Ok(11));
    }

    #[test]
    fn dots_and_slashes_in_names_cannot_collide() {
        let a = location("", "a.b", "c").folder_key();
        let b = location("", "a", "b.c").folder_key();
        assert_ne!(a, b);
        assert_eq!(escape_key_component("x/y"), "x%2Fy");
        assert_eq!(escape_key_component("Ünï"), "%C3%9Cn%C3%AF");
    }
}
