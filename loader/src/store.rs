//! Reading committed exports from S3: a bundle.json is the commit marker of one table's export;
//! the export's tables are listed once in its export document (format 1: in every bundle.json).
//! A listing alone tells which exports a prefix holds ([`Store::list_exports`]), so `watch`
//! reads only the exports it has not loaded, one table at a time.

use std::collections::BTreeMap;

use aws_sdk_s3::config::{BehaviorVersion, Region};
use pg2redshift_bundle::signature::{self, SIGNATURE_FILE, SigningKey};
use pg2redshift_bundle::{Bundle, DocumentRef, StreamPosition, ExportDocument, ExportMember, ListedKey, Manifest, integrity, listed_document_key};

use pg2redshift_core::aws_error;
use crate::error::LoadError;

pub struct Store {
    runtime: tokio::runtime::Runtime,
    client: aws_sdk_s3::Client,
    /// With keys, every bundle must carry a signature made with one of them.
    keys: Vec<SigningKey>,
}

/// `s3://bucket/key` → (bucket, key).
pub fn split_url(url: &str) -> Result<(String, String), LoadError> {
    let (bucket, key) = pg2redshift_bundle::split_s3_url(url)
        .ok_or_else(|| LoadError::Usage(format!("not an s3://bucket/… URL: {url}")))?;
    Ok((bucket.to_string(), key.to_string()))
}

/// One committed table export.
#[derive(Debug, Clone)]
pub struct Committed {
    pub bucket: String,
    pub key: String,
    pub bundle: Bundle,
    /// bundle.json exactly as read, for its signature (empty when the loader has no keys).
    pub raw: Vec<u8>,
    /// The change stream its export belongs to, from the export document (set once the whole
    /// export is read).
    pub stream: Option<StreamPosition>,
}

impl Committed {
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// An export as a listing shows it, before any of it is read.
#[derive(Debug, Clone)]
pub struct Listed {
    /// `…/<database>/`.
    pub database_folder: String,
    pub export_id: String,
    /// The first bundle.json of it listed.
    pub sample: String,
    /// How many of its bundle.json the listing holds.
    pub bundles: usize,
    /// Whether the listing holds its export document.
    pub document: bool,
}

impl Listed {
    pub fn document_key(&self) -> String {
        listed_document_key(&self.database_folder, &self.export_id)
    }
}

/// What lists an export's tables: its export document (format 2), checked against the bundle
/// that named it, or the bundle.json of one of its tables (format 1).
#[derive(Debug, Clone)]
pub struct Head {
    pub export_id: String,
    pub tables: Vec<ExportMember>,
    /// Format 2: the reference every table's bundle.json must carry.
    pub reference: Option<DocumentRef>,
    /// The change stream the export belongs to.
    pub stream: Option<StreamPosition>,
}

impl Store {
    /// Credentials from the standard AWS chain; `endpoint` for S3-compatible servers.
    pub fn new(endpoint: Option<&str>, region: &str, keys: Vec<SigningKey>) -> Result<Store, LoadError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| LoadError::Usage(format!("cannot start the S3 runtime: {e}")))?;
        let client = runtime.block_on(async {
            let shared = aws_config::defaults(BehaviorVersion::latest())
                .region(Region::new(region.to_string()))
                .load()
                .await;
            let mut conf = aws_sdk_s3::config::Builder::from(&shared);
            if let Some(e) = endpoint {
                conf = conf.endpoint_url(e).force_path_style(true);
            }
            aws_sdk_s3::Client::from_conf(conf.build())
        });
        Ok(Store { runtime, client, keys })
    }

    pub fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, LoadError> {
        self.runtime.block_on(async {
            match self.client.get_object().bucket(bucket).key(key).send().await {
                Ok(out) => {
                    let bytes = out
                        .body
                        .collect()
                        .await
                        .map_err(|e| LoadError::s3(format!("reading s3://{bucket}/{key}: the transfer broke off ({e})"), e))?;
                    Ok(Some(bytes.into_bytes().to_vec()))
                }
                // No such key; a bucket that does not exist is an error, not a missing export.
                Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) && !aws_error::no_such_bucket(&e) => Ok(None),
                Err(e) => {
                    let message = format!("reading s3://{bucket}/{key}: {}", aws_error::describe(&e));
                    Err(LoadError::s3(message, e))
                }
            }
        })
    }

    /// A committed table export; Refused when bundle.json is missing or of an unknown format.
    pub fn committed(&self, bucket: &str, key: &str) -> Result<Committed, LoadError> {
        let body = self
            .get(bucket, key)?
            .ok_or_else(|| LoadError::Refused(format!("s3://{bucket}/{key} does not exist (not a committed export)")))?;
        let text = std::str::from_utf8(&body).map_err(|_| LoadError::Refused(format!("s3://{bucket}/{key} is not UTF-8")))?;
        let bundle = Bundle::from_json(text).map_err(|e| LoadError::Refused(format!("s3://{bucket}/{key}: refused: {e}")))?;
        integrity::check_bundle(key, &bundle).map_err(|e| LoadError::Refused(format!("s3://{bucket}/{key}: refused: {e}")))?;
        // The exact bytes are needed only to check a signature: without keys they are not kept
        // (a prefix's listing holds every bundle it read).
        let raw = if self.keys.is_empty() { Vec::new() } else { body };
        Ok(Committed { bucket: bucket.to_string(), key: key.to_string(), bundle, raw, stream: None })
    }

    /// The objects a committed table's COPY will read: its manifest must list exactly its own
    /// files with the sizes it declares, and S3 must hold them at those sizes. Checked before any
    /// statement runs, so a forged manifest cannot make the load read another export's files.
    pub fn check_objects(&self, c: &Committed) -> Result<(), LoadError> {
        let manifest_url = format!("s3://{}/{}", c.bucket, c.bundle.manifest_key);
        let body = self
            .get(&c.bucket, &c.bundle.manifest_key)?
            .ok_or_else(|| LoadError::Refused(format!("{}: refused: its manifest {manifest_url} does not exist", c.url())))?;
        let manifest: Manifest = serde_json::from_slice(&body)
            .map_err(|e| LoadError::Refused(format!("{}: refused: its manifest {manifest_url} is not a manifest: {e}", c.url())))?;
        integrity::check_manifest(&c.bucket, &c.bundle, &manifest)
            .map_err(|e| LoadError::Refused(format!("{}: refused: {e}", c.url())))?;
        if !self.keys.is_empty() {
            let folder = c.key.strip_suffix(pg2redshift_bundle::BUNDLE_FILE).unwrap_or_default();
            let signature = self.get(&c.bucket, &format!("{folder}{SIGNATURE_FILE}"))?;
            signature::verify(&self.keys, signature.as_deref(), &c.raw, &body)
                .map_err(|e| LoadError::Refused(format!("{}: refused: {e}", c.url())))?;
        }
        for f in &c.bundle.files {
            match self.size(&c.bucket, &f.key)? {
                Some(size) if size == f.compressed_bytes => {}
                Some(size) => {
                    return Err(LoadError::Refused(format!(
                        "{}: refused: s3://{}/{} holds {size} bytes where the bundle says {}",
                        c.url(),
                        c.bucket,
                        f.key,
                        f.compressed_bytes
                    )));
                }
                None => {
                    return Err(LoadError::Refused(format!("{}: refused: its data file s3://{}/{} does not exist", c.url(), c.bucket, f.key)));
                }
            }
        }
        Ok(())
    }

    /// The size of an object, None when there is none.
    fn size(&self, bucket: &str, key: &str) -> Result<Option<u64>, LoadError> {
        self.runtime.block_on(async {
            match self.client.head_object().bucket(bucket).key(key).send().await {
                Ok(out) => Ok(Some(out.content_length().unwrap_or(0).max(0) as u64)),
                Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(None),
                Err(e) => {
                    let message = format!("reading s3://{bucket}/{key}: {}", aws_error::describe(&e));
                    Err(LoadError::s3(message, e))
                }
            }
        })
    }

    /// Every export under `prefix`, from one listing, ordered by export id: bundle.json keys
    /// grouped by export (database folder and id), and whether each has its export document.
    /// Nothing is read; the memory is a few keys per export, not per table.
    pub fn list_exports(&self, bucket: &str, prefix: &str) -> Result<Vec<Listed>, LoadError> {
        self.runtime.block_on(async {
            let mut exports: BTreeMap<(String, String), Listed> = BTreeMap::new();
            let mut pages = self.client.list_objects_v2().bucket(bucket).prefix(prefix).into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| {
                    let message = format!("listing s3://{bucket}/{prefix}: {}", aws_error::describe(&e));
                    LoadError::s3(message, e)
                })?;
                for key in page.contents().iter().filter_map(|o| o.key()) {
                    let Some(listed) = ListedKey::parse(key) else { continue };
                    let (folder, id) = listed.export();
                    let entry = exports.entry((id.to_string(), folder.to_string())).or_insert_with(|| Listed {
                        database_folder: folder.to_string(),
                        export_id: id.to_string(),
                        sample: String::new(),
                        bundles: 0,
                        document: false,
                    });
                    match listed {
                        ListedKey::Bundle { .. } => {
                            if entry.sample.is_empty() {
                                entry.sample = key.to_string();
                            }
                            entry.bundles += 1;
                        }
                        ListedKey::Document { .. } => entry.document = true,
                    }
                }
            }
            // A document without any committed table is an export still committing (or one
            // that never will): nothing to load yet.
            Ok(exports.into_values().filter(|e| e.bundles > 0).collect())
        })
    }

    /// The export document a listing holds, parsed but not yet checked against any bundle (that
    /// happens in [`Store::export_of`]): enough to order exports and to see that one is still
    /// committing. None when it does not exist.
    pub fn peek_document(&self, bucket: &str, listed: &Listed) -> Result<Option<ExportDocument>, LoadError> {
        Ok(self.document(bucket, &listed.document_key())?.map(|(_, doc)| doc))
    }

    /// An export document with its exact bytes (for its hash); None when it does not exist,
    /// Refused when it is not one this loader reads.
    fn document(&self, bucket: &str, key: &str) -> Result<Option<(Vec<u8>, ExportDocument)>, LoadError> {
        let Some(body) = self.get(bucket, key)? else { return Ok(None) };
        let text = std::str::from_utf8(&body).map_err(|_| LoadError::Refused(format!("s3://{bucket}/{key} is not UTF-8")))?;
        let doc = ExportDocument::from_json(text).map_err(|e| LoadError::Refused(format!("s3://{bucket}/{key}: refused: {e}")))?;
        Ok(Some((body, doc)))
    }

    /// What lists the tables of the export `first` belongs to. Format 2: its export document,
    /// which must be the one `first` names (key, SHA-256, count), list only bundles of this
    /// export under the same prefix, and list `first`.
    pub fn head_of(&self, first: &Committed) -> Result<Head, LoadError> {
        let b = &first.bundle;
        let Some(reference) = &b.export_document else {
            return Ok(Head { export_id: b.export_id.clone(), tables: b.export.clone(), reference: None, stream: None });
        };
        let url = format!("s3://{}/{}", first.bucket, reference.key);
        let (body, doc) = self
            .document(&first.bucket, &reference.key)?
            .ok_or_else(|| LoadError::Refused(format!("{}: refused: its export document {url} does not exist", first.url())))?;
        integrity::check_document(reference, &body, &doc).map_err(|e| LoadError::Refused(format!("{}: refused: {e}", first.url())))?;
        if !doc.tables.iter().any(|m| m.bundle_key == first.key) {
            return Err(LoadError::Refused(format!("{}: refused: its export document {url} does not list it", first.url())));
        }
        if doc.kind != b.kind {
            return Err(LoadError::Refused(format!("{}: refused: its export document {url} is of another kind", first.url())));
        }
        Ok(Head { export_id: doc.export_id, tables: doc.tables, reference: Some(reference.clone()), stream: doc.stream })
    }

    /// Every table of the export that `first` belongs to, `first` included, in the export's
    /// order, each checked with its objects. A table without bundle.json means the export is
    /// still committing (or never will): refused as incomplete.
    pub fn export_of(&self, first: Committed) -> Result<Vec<Committed>, LoadError> {
        let head = self.head_of(&first)?;
        let bucket = first.bucket.clone();
        let mut out = Vec::with_capacity(head.tables.len());
        let mut first = Some(first);
        for member in &head.tables {
            let c = match first.take_if(|f| f.key == member.bundle_key) {
                Some(f) => f,
                None => self.member(&bucket, member, &head)?,
            };
            self.check_objects(&c)?;
            // Its signature is checked: the exact bytes are not needed any more, and an export
            // of thousands of tables would otherwise keep every bundle.json twice.
            let c = Committed { raw: Vec::new(), stream: head.stream.clone(), ..c };
            out.push(c);
        }
        if let Some(first) = first {
            return Err(LoadError::Refused(format!("{}: refused: its export does not list it", first.url())));
        }
        Ok(out)
    }

    /// One more table of an export: committed, of the same export, naming the same document.
    fn member(&self, bucket: &str, member: &ExportMember, head: &Head) -> Result<Committed, LoadError> {
        let c = match self.committed(bucket, &member.bundle_key) {
            Err(LoadError::Refused(m)) if m.ends_with("(not a committed export)") => {
                return Err(LoadError::Refused(format!(
                    "export {} is incomplete: s3://{bucket}/{} has no bundle.json yet (or its export failed)",
                    head.export_id,
                    member.bundle_key.trim_end_matches(pg2redshift_bundle::BUNDLE_FILE)
                )));
            }
            other => other?,
        };
        if c.bundle.export_id != head.export_id {
            return Err(LoadError::Refused(format!("{} belongs to export {}, not {}", c.url(), c.bundle.export_id, head.export_id)));
        }
        if c.bundle.export_document != head.reference {
            return Err(LoadError::Refused(format!("{}: refused: it names another export document than its export's", c.url())));
        }
        Ok(c)
    }
}
