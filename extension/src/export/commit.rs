//! The commit of an export, once every data file is in S3: every manifest.json, then (with a
//! signing key) every signature.json, then the export's one export.json, then every bundle.json
//! (each the commit marker of its table), so that a committed bundle's siblings and its export
//! document are already in place. The documents are built in
//! `pg2redshift_core::commit`; this writes them through the pipeline, in order.

use std::collections::HashMap;

use pg2redshift_bundle::signature::SigningKey;
use pg2redshift_bundle::{Bundle, DataFile, ExportDocument};
use pg2redshift_core::commit::{ExportHead, TableOutput, bundle, document, manifest};

use super::job::{Job, Streamed};
use crate::error::ExportError;
use crate::pipeline::Pipeline;

/// Builds and writes the export's manifests and bundles; returns the bundles, in job order.
pub fn commit(
    pipeline: &mut Pipeline,
    head: &ExportHead,
    jobs: &[Job],
    streamed: &[Streamed],
    signing_key: Option<&SigningKey>,
) -> Result<Vec<Bundle>, ExportError> {
    let uploaded: HashMap<&str, DataFile> = pipeline
        .files
        .iter()
        .map(|f| {
            let file = DataFile { key: f.key.clone(), rows: f.rows, raw_bytes: f.raw_bytes, compressed_bytes: f.compressed_bytes };
            (f.key.as_str(), file)
        })
        .collect();
    let sources: Vec<_> = jobs.iter().map(Job::source).collect();
    let Some(first) = sources.first() else {
        return Err(ExportError::Internal("an export without tables reached its commit".into()));
    };
    let document_key = first.location.document_key();
    let document = document(head, &sources);
    let document_body = document.to_json().map_err(ExportError::Serialize)?.into_bytes();
    let reference = ExportDocument::reference(&document_key, &document_body, document.tables.len());
    drop(document);
    let mut outputs = Vec::with_capacity(jobs.len());
    for (job, table) in jobs.iter().zip(streamed) {
        let mut files = Vec::with_capacity(table.keys.len());
        for key in &table.keys {
            let file = uploaded.get(key.as_str()).ok_or_else(|| {
                ExportError::Internal(format!("data file {key} of {} was never reported as uploaded", job.qualified()))
            })?;
            files.push(file.clone());
        }
        outputs.push(TableOutput { files, changes: table.changes.clone(), change_file: job.change_file.clone() });
    }
    let mut manifests = Vec::with_capacity(jobs.len());
    for (source, output) in sources.iter().zip(&outputs) {
        let body = serde_json::to_vec(&manifest(source, output)).map_err(ExportError::Serialize)?;
        pipeline.put(source.location.manifest_key(), body.clone(), "application/json")?;
        manifests.push(body);
    }
    let mut bundles = Vec::with_capacity(jobs.len());
    let mut bodies = Vec::with_capacity(jobs.len());
    for (source, output) in sources.iter().zip(&outputs) {
        let bundle = bundle(head, source, output, &reference);
        bodies.push(bundle.to_json().map_err(ExportError::Serialize)?.into_bytes());
        bundles.push(bundle);
    }
    // Every signature before the first bundle.json: a committed table's siblings are signed.
    if let Some(key) = signing_key {
        for ((source, body), manifest) in sources.iter().zip(&bodies).zip(&manifests) {
            let signature = key.sign(body, manifest).to_json().map_err(ExportError::Serialize)?.into_bytes();
            pipeline.put(source.location.signature_key(), signature, "application/json")?;
        }
    }
    pipeline.put(document_key, document_body, "application/json")?;
    for (source, body) in sources.iter().zip(bodies) {
        pipeline.put(source.location.bundle_key(), body, "application/json")?;
    }
    Ok(bundles)
}
