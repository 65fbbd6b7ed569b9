//! Which exports a URL names, and in which order they load: decided from one listing of the
//! prefix (bundle.json and export.json keys grouped by export), the load history's export ids,
//! and one small document per export not loaded yet. No export already loaded is read, and an
//! export is read table by table only when it is loaded, so a `watch` pass over thousands of
//! exports of thousands of tables costs a listing, not a read of every bundle.json.

use std::collections::HashSet;

use pg2redshift_bundle::ListedKey;

use crate::error::LoadError;
use crate::store::{Committed, Listed, Store, split_url};

/// An export not loaded yet that looks complete.
pub struct Candidate {
    pub listed: Listed,
    /// Orders exports: their snapshot time.
    pub exported_at: String,
    /// Where to start reading it: the first table its export document lists (so that a bundle
    /// someone added beside the export cannot be the one that decides), or the bundle.json
    /// already read when there is no document in the listing.
    first: First,
}

enum First {
    Key(String),
    Read(Box<Committed>),
}

impl Candidate {
    /// Every table of it, read and checked.
    pub fn read(self, store: &Store, bucket: &str) -> Result<Vec<Committed>, LoadError> {
        let first = match self.first {
            First::Read(first) => *first,
            First::Key(key) => store.committed(bucket, &key)?,
        };
        let export = store.export_of(first)?;
        // The export read is the one the listing showed, whatever led to it.
        if export.iter().any(|c| c.bundle.export_id != self.listed.export_id) {
            return Err(LoadError::Refused(format!("export {} led to another export; refused", self.listed.export_id)));
        }
        Ok(export)
    }
}

/// The exports under `prefix` whose id is not in `loaded`, oldest first; an export refused
/// already (its document or bundle unreadable, or still committing) is there as its refusal,
/// first, so that one forged or unfinished export cannot stop the others.
pub fn pending(store: &Store, bucket: &str, prefix: &str, loaded: &HashSet<String>) -> Result<Vec<Result<Candidate, LoadError>>, LoadError> {
    let mut refused = Vec::new();
    let mut candidates = Vec::new();
    for listed in store.list_exports(bucket, prefix)? {
        if loaded.contains(&listed.export_id) {
            continue;
        }
        match candidate(store, bucket, prefix, listed) {
            Ok(Some(c)) => candidates.push(c),
            Ok(None) => {}
            Err(e @ LoadError::Refused(_)) => refused.push(Err(e)),
            Err(e) => return Err(e),
        }
    }
    candidates.sort_by(|a, b| (&a.exported_at, &a.listed.export_id).cmp(&(&b.exported_at, &b.listed.export_id)));
    refused.extend(candidates.into_iter().map(Ok));
    Ok(refused)
}

fn candidate(store: &Store, bucket: &str, prefix: &str, listed: Listed) -> Result<Option<Candidate>, LoadError> {
    if listed.document {
        let Some(doc) = store.peek_document(bucket, &listed)? else { return Ok(None) };
        // Not yet checked against any bundle, so it may only point inside its own export: every
        // table it lists a bundle of this export id in this database folder (else a document
        // added to the prefix could make watch load another export, from anywhere in the bucket).
        let own = |key: &str| {
            matches!(ListedKey::parse(key), Some(ListedKey::Bundle { database_folder, export_id })
                if database_folder == listed.database_folder && export_id == listed.export_id)
        };
        if doc.export_id != listed.export_id || !doc.tables.iter().all(|m| own(&m.bundle_key)) {
            return Err(LoadError::Refused(format!(
                "s3://{bucket}/{}: refused: it lists tables of another export than {}",
                listed.document_key(),
                listed.export_id
            )));
        }
        // Every table under the listed prefix and fewer committed than listed: still committing.
        let all_listed = doc.tables.iter().all(|m| m.bundle_key.starts_with(prefix));
        if all_listed && listed.bundles < doc.tables.len() {
            return Err(LoadError::Refused(format!(
                "export {} is incomplete: {} of its {} tables committed so far",
                listed.export_id,
                listed.bundles,
                doc.tables.len()
            )));
        }
        let Some(first) = doc.tables.into_iter().next() else {
            return Err(LoadError::Refused(format!("s3://{bucket}/{}: refused: it lists no table", listed.document_key())));
        };
        return Ok(Some(Candidate { listed, exported_at: doc.exported_at, first: First::Key(first.bundle_key) }));
    }
    let first = store.committed(bucket, &listed.sample)?;
    Ok(Some(Candidate { exported_at: first.bundle.exported_at.clone(), listed, first: First::Read(Box::new(first)) }))
}

/// The export a URL names: a bundle.json, or the one (or, with `latest`, the newest) export
/// under a prefix. A prefix's refused exports are not candidates; naming one bundle.json gives
/// its reason.
pub fn resolve(store: &Store, url: &str, latest: bool) -> Result<Vec<Committed>, LoadError> {
    let (bucket, key) = split_url(url)?;
    if key.ends_with("/bundle.json") {
        return store.export_of(store.committed(&bucket, &key)?);
    }
    let candidates: Vec<Candidate> = pending(store, &bucket, &key, &HashSet::new())?.into_iter().filter_map(Result::ok).collect();
    let mut readable = Vec::new();
    let mut last_error = None;
    // Newest first: with --latest the first readable one wins.
    for c in candidates.into_iter().rev() {
        match c.read(store, &bucket) {
            Ok(export) if latest => return Ok(export),
            Ok(export) => readable.push(export),
            Err(e @ LoadError::Refused(_)) => last_error = Some(e),
            Err(e) => return Err(e),
        }
    }
    match readable.len() {
        1 => Ok(readable.pop().unwrap_or_default()),
        0 => Err(last_error.unwrap_or_else(|| LoadError::Refused(format!("no committed export (bundle.json) under {url}")))),
        n => Err(LoadError::Usage(format!("{n} exports under {url}: name one bundle.json, or pass --latest for the newest"))),
    }
}
