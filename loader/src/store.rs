//! Reading committed exports from S3: a bundle.json is the commit marker of one table's export,
//! and lists its siblings (the other tables of the same export).

use aws_sdk_s3::config::{BehaviorVersion, Region};
use pg2redshift_bundle::signature::{self, SIGNATURE_FILE, SigningKey};
use pg2redshift_bundle::{Bundle, Manifest, integrity};

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
}

impl Committed {
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
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

    /// Every key under `prefix` that ends in `/bundle.json`.
    pub fn bundle_keys(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, LoadError> {
        self.runtime.block_on(async {
            let mut keys = Vec::new();
            let mut pages = self.client.list_objects_v2().bucket(bucket).prefix(prefix).into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| {
                    let message = format!("listing s3://{bucket}/{prefix}: {}", aws_error::describe(&e));
                    LoadError::s3(message, e)
                })?;
                keys.extend(page.contents().iter().filter_map(|o| o.key()).filter(|k| k.ends_with("/bundle.json")).map(str::to_string));
            }
            Ok(keys)
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
        Ok(Committed { bucket: bucket.to_string(), key: key.to_string(), bundle, raw })
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

    /// Every table of the export that `first` belongs to, `first` included, in the export's
    /// order. A sibling without bundle.json means the export is not complete: refused.
    pub fn export_of(&self, first: Committed) -> Result<Vec<Committed>, LoadError> {
        let out = self.members_of(first)?;
        for c in &out {
            self.check_objects(c)?;
        }
        Ok(out)
    }

    fn members_of(&self, first: Committed) -> Result<Vec<Committed>, LoadError> {
        let mut out = Vec::new();
        for member in &first.bundle.export {
            if member.bundle_key == first.key {
                out.push(first.clone());
                continue;
            }
            let c = self.committed(&first.bucket, &member.bundle_key)?;
            if c.bundle.export_id != first.bundle.export_id {
                return Err(LoadError::Refused(format!(
                    "{} belongs to export {}, not {}",
                    c.url(),
                    c.bundle.export_id,
                    first.bundle.export_id
                )));
            }
            out.push(c);
        }
        if out.is_empty() {
            out.push(first);
        }
        Ok(out)
    }
}
