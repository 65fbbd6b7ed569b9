//! One export run on the backend thread, in the order the data flows: prepare every table
//! ([`job`]: catalog, plan, query), open every cursor on the statement's snapshot, stream each
//! table's rows as CSV blocks into the pipeline ([`scan`]), then, once every data file is in
//! S3, write the manifests and bundle.json files ([`commit`]).

mod commit;
mod floats;
mod job;
mod scan;

use std::time::Instant;

use pg2redshift_bundle::{BundleKind, StreamPosition};
use pg2redshift_core::commit::{ExportHead, TableSource, check_distinct_targets, check_target_schemas};

use crate::error::ExportError;
use crate::pipeline::Pipeline;
use crate::progress;
pub use job::{ExportSettings, Field, Job, TableRequest, TableResult, location};
use job::{check_encoding, check_output_settings};
use scan::{SnapshotCursor, stream_table};

const HEAD_SQL: &str = "
SELECT pg_catalog.to_char(pg_catalog.statement_timestamp() AT TIME ZONE 'UTC', 'YYYYMMDD\"T\"HH24MISS\"Z\"')
         || '-' || pg_catalog.left(pg_catalog.md5(pg_catalog.gen_random_uuid()::pg_catalog.text), 8),
       pg_catalog.to_char(pg_catalog.statement_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
       pg_catalog.pg_current_snapshot()::pg_catalog.text,
       pg_catalog.current_database()::pg_catalog.text";

pub fn export(requests: Vec<TableRequest>, settings: &ExportSettings) -> Result<Vec<TableResult>, ExportError> {
    let identity = Identity { export_id: None, kind: BundleKind::Full, stream: None };
    run(settings, identity, |client, head| {
        let mut jobs = Vec::with_capacity(requests.len());
        for request in &requests {
            jobs.push(Job::prepare(client, request, settings, &head.database, &head.export_id)?);
        }
        Ok(jobs)
    })
}

/// What an export is, besides its tables.
pub struct Identity {
    /// A change batch's id is derived from its range; None: a new id from the time.
    pub export_id: Option<String>,
    pub kind: BundleKind,
    /// The stream the export belongs to. A base snapshot's `base_export_id` is left empty here
    /// and becomes its own id.
    pub stream: Option<StreamPosition>,
}

/// Runs an export of the jobs `prepare` builds once the head (id, time, snapshot) is known.
pub fn run(
    settings: &ExportSettings,
    identity: Identity,
    prepare: impl FnOnce(&pgrx::spi::SpiClient<'_>, &ExportHead) -> Result<Vec<Job>, ExportError>,
) -> Result<Vec<TableResult>, ExportError> {
    check_encoding()?;
    check_output_settings()?;
    let started = Instant::now();
    pgrx::spi::Spi::connect(|client| {
        let row = client.select(HEAD_SQL, Some(1), &[])?.first();
        let generated: String = row.get(1)?.unwrap_or_default();
        let export_id = identity.export_id.unwrap_or(generated);
        let mut stream = identity.stream;
        if let Some(position) = &mut stream
            && position.base_export_id.is_empty()
        {
            position.base_export_id = export_id.clone();
        }
        let head = ExportHead {
            export_id,
            exported_at: row.get(2)?.unwrap_or_default(),
            snapshot: row.get(3)?.unwrap_or_default(),
            database: row.get(4)?.unwrap_or_default(),
            producer: format!("pg2redshift {}", env!("CARGO_PKG_VERSION")),
            policy: settings.policy,
            kind: identity.kind,
            stream,
            compression: settings.codec.compression(),
        };

        let jobs = prepare(client, &head)?;
        let sources: Vec<TableSource<'_>> = jobs.iter().map(Job::source).collect();
        check_distinct_targets(&sources)?;
        if let Some(destination) = &settings.destination {
            check_target_schemas(&sources, destination, settings.target_schemas.as_deref())?;
        }

        // Every cursor is opened before any data moves: privileges and row-level security are
        // checked up front, and all tables read the calling statement's snapshot.
        let mut cursors = Vec::with_capacity(jobs.len());
        for job in &jobs {
            cursors.push(SnapshotCursor::open(&job.query.sql)?);
        }

        let mut pipeline = Pipeline::start(settings.s3.clone(), settings.codec, settings.compression_threads)?;
        let mut streamed = Vec::with_capacity(jobs.len());
        for (i, (job, cursor)) in jobs.iter().zip(&cursors).enumerate() {
            progress::start_table(job.oid, i + 1, jobs.len());
            let table = match stream_table(&mut pipeline, cursor, job, settings) {
                Ok(table) => table,
                Err(err) => return Err(fail(pipeline, err)),
            };
            pgrx::notice!(
                "pg2redshift: {} exported: {} rows, {} bytes of CSV in {} files",
                job.qualified(),
                table.rows,
                table.raw_bytes,
                table.keys.len()
            );
            streamed.push(table);
        }

        progress::phase(progress::Phase::Committing);
        let total_files = streamed.iter().map(|t| t.keys.len()).sum();
        let committed = pipeline
            .wait_for_files(total_files)
            .map_err(ExportError::from)
            .and_then(|()| commit::commit(&mut pipeline, &head, &jobs, &streamed, settings.signing_key.as_ref()))
            .and_then(|bundles| pipeline.finish().map(|()| bundles).map_err(ExportError::from));
        let bundles = match committed {
            Ok(bundles) => bundles,
            Err(err) => return Err(fail(pipeline, err)),
        };
        progress::end();

        let seconds = started.elapsed().as_secs_f64();
        Ok(bundles
            .iter()
            .zip(&jobs)
            .map(|(b, job)| TableResult {
                export_id: head.export_id.clone(),
                table: job.qualified(),
                bundle_url: job.location.url(&job.location.bundle_key()),
                rows: b.totals.rows,
                files: b.totals.files,
                raw_bytes: b.totals.raw_bytes,
                compressed_bytes: b.totals.compressed_bytes,
                seconds,
                changed_values: b.changes.total,
            })
            .collect())
    })
}

/// Cleans up after a failure before the ERROR is raised, and says what could not be removed.
fn fail(mut pipeline: Pipeline, err: ExportError) -> ExportError {
    progress::phase(progress::Phase::CleaningUp);
    let leftovers = pipeline.abort();
    if !leftovers.is_empty() {
        pgrx::warning!(
            "pg2redshift: could not remove everything the failed export wrote (no bundle.json refers to it): {}",
            leftovers.join(", ")
        );
    }
    err
}
