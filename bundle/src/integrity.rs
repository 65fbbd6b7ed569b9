//! What a bundle must agree with before a loader acts on it. Anyone who can write to the
//! export prefix can put a bundle.json there; these checks make sure a bundle can only load its
//! own files: its key is the one its content implies (database, schema.table, export id), its
//! manifest and data files lie in its own folder of its own bucket, and the sizes it declares
//! are the ones its manifest declares (the loader then compares them with S3's).

use std::collections::HashSet;

use crate::descriptor::DocumentRef;
use crate::document::{ExportDocument, sha256_hex};
use crate::layout::{BundleLocation, document_key};
use crate::manifest::Manifest;
use crate::{BUNDLE_FILE, Bundle, MANIFEST_FILE};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntegrityError {
    #[error("its key does not end in /{BUNDLE_FILE}")]
    NotABundleKey,
    #[error("its key does not match its content: a bundle of {what} belongs in a folder ending {expected}")]
    KeyMismatch { what: String, expected: String },
    #[error("its manifest key {found} is not {expected}")]
    ManifestKey { found: String, expected: String },
    #[error("its data file {key} is outside its own folder {folder}")]
    FileOutside { key: String, folder: String },
    #[error("its totals ({field}) disagree with its list of files")]
    Totals { field: &'static str },
    #[error("its export lists {key}, which is not a bundle of export {export_id} under the same prefix")]
    Sibling { key: String, export_id: String },
    #[error("its export document is {found}, not {expected}, the one of its own export")]
    DocumentKey { found: String, expected: String },
    #[error("its export document {key} is not the one it names: {what}")]
    Document { key: String, what: String },
    #[error("its export document lists {key} as {table}, which is not where that table's bundle of export {export_id} belongs")]
    Member { key: String, table: String, export_id: String },
    #[error("its manifest lists {found} file(s) where the bundle lists {expected}")]
    ManifestCount { found: usize, expected: usize },
    #[error("its manifest lists {url}, which is not the bundle's file s3://{bucket}/{key}")]
    ManifestEntry { url: String, bucket: String, key: String },
    #[error("its manifest gives {url} {found} bytes where the bundle says {expected}")]
    ManifestSize { url: String, found: u64, expected: u64 },
    #[error("its manifest marks {url} optional; every file of a bundle is mandatory")]
    Optional { url: String },
}

/// Checks a bundle against the key it was read from; returns its folder (ending in `/`).
pub fn check_bundle(key: &str, bundle: &Bundle) -> Result<String, IntegrityError> {
    let folder = key.strip_suffix(BUNDLE_FILE).filter(|f| f.is_empty() || f.ends_with('/')).ok_or(IntegrityError::NotABundleKey)?;
    let own = BundleLocation {
        bucket: String::new(),
        prefix: String::new(),
        database: bundle.source.database.clone(),
        schema: bundle.source.schema.clone(),
        table: bundle.source.table.clone(),
        export_id: bundle.export_id.clone(),
    }
    .folder_key();
    if !(folder == own || folder.ends_with(&format!("/{own}"))) {
        return Err(IntegrityError::KeyMismatch {
            what: format!("{}.{}.{} (export {})", bundle.source.database, bundle.source.schema, bundle.source.table, bundle.export_id),
            expected: own,
        });
    }
    let expected = format!("{folder}{MANIFEST_FILE}");
    if bundle.manifest_key != expected {
        return Err(IntegrityError::ManifestKey { found: bundle.manifest_key.clone(), expected });
    }
    for f in &bundle.files {
        let inside = f.key.strip_prefix(folder).is_some_and(|name| !name.is_empty() && !name.contains('/'));
        if !inside {
            return Err(IntegrityError::FileOutside { key: f.key.clone(), folder: folder.to_string() });
        }
    }
    let t = &bundle.totals;
    if t.files != bundle.files.len() as u64 {
        return Err(IntegrityError::Totals { field: "files" });
    }
    if t.rows != bundle.files.iter().map(|f| f.rows).sum::<u64>() {
        return Err(IntegrityError::Totals { field: "rows" });
    }
    if t.compressed_bytes != bundle.files.iter().map(|f| f.compressed_bytes).sum::<u64>() {
        return Err(IntegrityError::Totals { field: "compressed_bytes" });
    }
    let prefix = &folder[..folder.len() - own.len()];
    if let Some(doc) = &bundle.export_document {
        let expected = document_key(prefix, &bundle.source.database, &bundle.export_id);
        if doc.key != expected {
            return Err(IntegrityError::DocumentKey { found: doc.key.clone(), expected });
        }
    }
    // Format 1's siblings: bundles of the same export under the same prefix.
    let sibling_end = format!("/{}/{BUNDLE_FILE}", crate::layout::escape_key_component(&bundle.export_id));
    for m in &bundle.export {
        if !(m.bundle_key.starts_with(prefix) && m.bundle_key.ends_with(&sibling_end)) {
            return Err(IntegrityError::Sibling { key: m.bundle_key.clone(), export_id: bundle.export_id.clone() });
        }
    }
    Ok(folder.to_string())
}

/// Checks an export document read from `reference.key` against the reference a bundle.json
/// made (its bytes' SHA-256, its table count), and every table it lists against the layout: each
/// bundle key is exactly where that table's bundle of this export lies under the same prefix,
/// and none is listed twice. Then a signed bundle vouches for the whole list.
pub fn check_document(reference: &DocumentRef, bytes: &[u8], doc: &ExportDocument) -> Result<(), IntegrityError> {
    let wrong = |what: String| IntegrityError::Document { key: reference.key.clone(), what };
    let found = sha256_hex(bytes);
    if found != reference.sha256 {
        return Err(wrong(format!("its SHA-256 is {found}, not {}", reference.sha256)));
    }
    if doc.tables.len() as u64 != reference.tables {
        return Err(wrong(format!("it lists {} table(s), not {}", doc.tables.len(), reference.tables)));
    }
    let own = document_key("", &doc.database, &doc.export_id);
    let Some(prefix) = reference.key.strip_suffix(&own).filter(|p| p.is_empty() || p.ends_with('/')) else {
        return Err(wrong(format!("it is the document of export {} of database {}", doc.export_id, doc.database)));
    };
    let mut seen = HashSet::with_capacity(doc.tables.len());
    for m in &doc.tables {
        let location = BundleLocation {
            bucket: String::new(),
            prefix: prefix.trim_end_matches('/').to_string(),
            database: doc.database.clone(),
            schema: m.schema.clone(),
            table: m.table.clone(),
            export_id: doc.export_id.clone(),
        };
        if m.bundle_key != location.bundle_key() || !seen.insert(m.bundle_key.as_str()) {
            return Err(IntegrityError::Member {
                key: m.bundle_key.clone(),
                table: format!("{}.{}", m.schema, m.table),
                export_id: doc.export_id.clone(),
            });
        }
    }
    Ok(())
}

/// Checks the manifest the bundle's COPY will read: exactly the bundle's files, in its bucket,
/// with the sizes the bundle declares, every one mandatory.
pub fn check_manifest(bucket: &str, bundle: &Bundle, manifest: &Manifest) -> Result<(), IntegrityError> {
    if manifest.entries.len() != bundle.files.len() {
        return Err(IntegrityError::ManifestCount { found: manifest.entries.len(), expected: bundle.files.len() });
    }
    for (entry, file) in manifest.entries.iter().zip(&bundle.files) {
        if entry.url != format!("s3://{bucket}/{}", file.key) {
            return Err(IntegrityError::ManifestEntry { url: entry.url.clone(), bucket: bucket.to_string(), key: file.key.clone() });
        }
        if entry.meta.content_length != file.compressed_bytes {
            return Err(IntegrityError::ManifestSize {
                url: entry.url.clone(),
                found: entry.meta.content_length,
                expected: file.compressed_bytes,
            });
        }
        if !entry.mandatory {
            return Err(IntegrityError::Optional { url: entry.url.clone() });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
