//! A stream's base snapshot: its first `redshift_cdc_export` exports every table in full, from a
//! snapshot that sees every transaction committed before the point its changes start from.
//!
//! SQL cannot give us the slot's own snapshot, so the stream starts at `start`, the WAL insert
//! position read first, and the snapshot is taken after every transaction that could have
//! committed before `start` without being visible yet has ended: those running when a snapshot
//! taken after `start` was taken are waited for (`wait_for_running`), then the export's
//! snapshot is taken. Changes
//! committed between `start` and that snapshot are then both in it and in the stream, up to
//! `overlap_until` (read after the snapshot); applying them again reaches the same rows
//! (full-row upserts and key deletes in commit order, see `pg2redshift_core::collapse`).

use pg2redshift_bundle::{BundleKind, StreamPosition};

use super::catalog::{Progress, Stream, record_progress};
use super::owner::Owner;
use super::slot;
use super::snapshot::{FreshSnapshot, wait_for_running};
use crate::ddl_api::table_options;
use crate::error::ExportError;
use crate::export::{ExportSettings, Identity, Job, TableRequest, TableResult, run};

pub fn export_base(owner: &Owner, stream: &Stream, settings: &ExportSettings) -> Result<Vec<TableResult>, ExportError> {
    let start = slot::inserted()?;
    {
        let _after_start = FreshSnapshot::push();
        wait_for_running()?;
    }
    let _snapshot = FreshSnapshot::push();
    let overlap_until = slot::inserted()?;
    let position = StreamPosition {
        stream: stream.name.clone(),
        slot: stream.slot.clone(),
        base_export_id: String::new(),
        from_lsn: start.to_string(),
        to_lsn: start.to_string(),
        overlap_until_lsn: overlap_until.to_string(),
    };
    let identity = Identity { export_id: None, kind: BundleKind::Full, stream: Some(position) };
    let results = run(settings, identity, |client, head| {
        let mut jobs = Vec::with_capacity(stream.tables.len());
        for &oid in &stream.tables {
            let options = table_options(stream.target_schema.as_deref(), None, None, None, None, None, Some(stream.numeric_scale))?;
            jobs.push(Job::prepare(client, &TableRequest { oid, options }, settings, &head.database, &head.export_id)?);
        }
        Ok(jobs)
    })?;
    let export_id = results.first().map(|r| r.export_id.clone()).unwrap_or_default();
    // Committed in S3: the changes before `start` are in the snapshot.
    slot::advance(owner, &stream.slot, start)?;
    let progress = Progress { base: Some((&export_id, overlap_until)), position: start, export_id: &export_id, last_commit_us: None, changes: 0, spec: None };
    record_progress(owner, &stream.name, &progress)?;
    Ok(results)
}
