//! One export run on the backend thread: read the catalog, open every table's cursor on the
//! statement's snapshot, format rows as CSV blocks for the pipeline, then commit (manifests,
//! then bundle.json files) once every data file is in S3.

use std::collections::{BTreeMap, HashMap};
use std::ffi::CStr;
use std::time::Instant;

use pg2redshift_bundle::{
    Bundle, BundleKind, BundleLocation, Changes, ColumnInfo, DataFile, Encoding, ExportMember, FORMAT_VERSION,
    Manifest, OnUnrepresentable, Source, Totals,
};
use pg2redshift_core::select::{ExportQuery, RowIdentity, export_query};
use pg2redshift_core::values::ValueRule;
use pg2redshift_core::{TableOptions, TablePlan, plan_table};
use pgrx::pg_sys;

use crate::catalog::{Relation, read_relation_with};
use crate::error::ExportError;
use crate::pipeline::Pipeline;
use crate::progress;
use crate::s3::S3Config;
use crate::table_stream::{SnapshotCursor, stream_table};

/// Redshift's COPY refuses rows longer than 4 MB.
pub const MAX_ROW_BYTES: usize = 4 * 1024 * 1024;

pub struct ExportSettings {
    pub s3: S3Config,
    /// Key prefix without surrounding `/`.
    pub prefix: String,
    /// Uncompressed CSV bytes per data file.
    pub chunk_bytes: u64,
    pub gzip_level: u32,
    pub gzip_threads: usize,
    pub policy: OnUnrepresentable,
}

pub struct TableRequest {
    pub oid: pg_sys::Oid,
    pub options: TableOptions,
}

/// One row of redshift_export()'s result.
pub struct TableResult {
    pub export_id: String,
    pub table: String,
    pub bundle_url: String,
    pub rows: u64,
    pub files: u64,
    pub raw_bytes: u64,
    pub compressed_bytes: u64,
    pub seconds: f64,
    pub changed_values: u64,
}

/// Everything about one table of the export, prepared before any data moves.
pub(crate) struct Job {
    pub oid: pg_sys::Oid,
    pub relation: Relation,
    pub plan: TablePlan,
    pub query: ExportQuery,
    pub rules: Vec<ValueRule>,
    pub location: BundleLocation,
}

/// What streaming one table produced.
#[derive(Default)]
pub(crate) struct Streamed {
    pub keys: Vec<String>,
    pub rows: u64,
    pub raw_bytes: u64,
    pub changes: BTreeMap<String, u64>,
}

const HEAD_SQL: &str = "
SELECT pg_catalog.to_char(pg_catalog.statement_timestamp() AT TIME ZONE 'UTC', 'YYYYMMDD\"T\"HH24MISS\"Z\"')
         || '-' || pg_catalog.left(pg_catalog.md5(pg_catalog.gen_random_uuid()::pg_catalog.text), 8),
       pg_catalog.to_char(pg_catalog.statement_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
       pg_catalog.pg_current_snapshot()::pg_catalog.text,
       pg_catalog.current_database()::pg_catalog.text";

pub fn export(requests: Vec<TableRequest>, settings: &ExportSettings) -> Result<Vec<TableResult>, ExportError> {
    check_encoding()?;
    let started = Instant::now();
    pgrx::spi::Spi::connect(|client| {
        let head = client.select(HEAD_SQL, Some(1), &[])?.first();
        let export_id: String = head.get(1)?.unwrap_or_default();
        let exported_at: String = head.get(2)?.unwrap_or_default();
        let snapshot: String = head.get(3)?.unwrap_or_default();
        let database: String = head.get(4)?.unwrap_or_default();

        let mut jobs = Vec::with_capacity(requests.len());
        for request in &requests {
            let relation = read_relation_with(client, request.oid)?;
            let plan = plan_table(
                &relation.schema,
                &relation.name,
                &relation.columns,
                &relation.primary_key,
                &request.options,
            )?;
            let identity = RowIdentity::for_relation(&relation.relkind, &relation.primary_key);
            let query = export_query(&relation.schema, &relation.name, &relation.columns, identity);
            let rules = plan.columns.iter().map(|c| ValueRule::for_type(c.mapping.redshift)).collect();
            let location = BundleLocation {
                bucket: settings.s3.bucket.clone(),
                prefix: settings.prefix.clone(),
                database: database.clone(),
                schema: relation.schema.clone(),
                table: relation.name.clone(),
                export_id: export_id.clone(),
            };
            jobs.push(Job { oid: request.oid, relation, plan, query, rules, location });
        }
        check_distinct_targets(&jobs)?;

        // Every cursor is opened before any data moves: privileges and row-level security are
        // checked up front, and all tables read the calling statement's snapshot.
        let mut cursors = Vec::with_capacity(jobs.len());
        for job in &jobs {
            cursors.push(SnapshotCursor::open(&job.query.sql)?);
        }

        let mut pipeline = Pipeline::start(settings.s3.clone(), settings.gzip_level, settings.gzip_threads)?;
        let mut streamed = Vec::with_capacity(jobs.len());
        for (i, (job, cursor)) in jobs.iter().zip(&cursors).enumerate() {
            progress::start_table(job.oid, i + 1, jobs.len());
            let result = stream_table(&mut pipeline, cursor, job, settings);
            let table = match result {
                Ok(table) => table,
                Err(err) => return Err(fail(pipeline, err)),
            };
            pgrx::notice!(
                "pg2redshift: {} exported: {} rows, {} bytes of CSV in {} files",
                qualified(&job.relation),
                table.rows,
                table.raw_bytes,
                table.keys.len()
            );
            streamed.push(table);
        }

        progress::phase(progress::Phase::Committing);
        let total_files = streamed.iter().map(|t| t.keys.len()).sum();
        if let Err(err) = pipeline.wait_for_files(total_files) {
            return Err(fail(pipeline, err.into()));
        }
        let uploaded: HashMap<String, crate::pipeline::UploadedFile> =
            pipeline.files.iter().map(|f| (f.key.clone(), f.clone())).collect();
        let members: Vec<ExportMember> = jobs
            .iter()
            .map(|j| ExportMember {
                schema: j.relation.schema.clone(),
                table: j.relation.name.clone(),
                bundle_key: j.location.bundle_key(),
            })
            .collect();
        let head = Head { export_id: &export_id, exported_at: &exported_at, snapshot: &snapshot, database: &database };
        let bundles: Vec<Bundle> = jobs
            .iter()
            .zip(&streamed)
            .map(|(job, table)| bundle_for(&head, job, table, &uploaded, &members, settings.policy))
            .collect();

        // Commit: every manifest, then every bundle.json, so that each committed bundle's
        // siblings already have their data and manifests in place.
        for (bundle, job) in bundles.iter().zip(&jobs) {
            let urls: Vec<(String, u64)> =
                bundle.files.iter().map(|f| (job.location.url(&f.key), f.compressed_bytes)).collect();
            let manifest = Manifest::of_files(urls.iter().map(|(url, size)| (url.as_str(), *size)));
            let body = match serde_json::to_vec(&manifest) {
                Ok(body) => body,
                Err(err) => return Err(fail(pipeline, ExportError::Serialize(err))),
            };
            if let Err(err) = pipeline.put(bundle.manifest_key.clone(), body, "application/json") {
                return Err(fail(pipeline, err.into()));
            }
        }
        for (bundle, job) in bundles.iter().zip(&jobs) {
            let body = match bundle.to_json() {
                Ok(json) => json.into_bytes(),
                Err(err) => return Err(fail(pipeline, ExportError::Serialize(err))),
            };
            if let Err(err) = pipeline.put(job.location.bundle_key(), body, "application/json") {
                return Err(fail(pipeline, err.into()));
            }
        }
        if let Err(err) = pipeline.finish() {
            return Err(fail(pipeline, err.into()));
        }
        progress::end();

        let seconds = started.elapsed().as_secs_f64();
        Ok(bundles
            .iter()
            .zip(&jobs)
            .map(|(b, job)| TableResult {
                export_id: export_id.clone(),
                table: qualified(&job.relation),
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

pub(crate) fn qualified(relation: &Relation) -> String {
    pg2redshift_bundle::quote_qualified(&relation.schema, &relation.name)
}

/// Text comes out of the cursors in the database encoding; bundles are UTF-8.
fn check_encoding() -> Result<(), ExportError> {
    // SAFETY: reads a backend global.
    let encoding = unsafe { pg_sys::GetDatabaseEncoding() };
    if encoding == pg_sys::pg_enc::PG_UTF8 as i32 {
        return Ok(());
    }
    let name = unsafe { CStr::from_ptr(pg_sys::GetDatabaseEncodingName()) }.to_string_lossy().into_owned();
    Err(ExportError::NotUtf8 { encoding: name })
}

fn check_distinct_targets(jobs: &[Job]) -> Result<(), ExportError> {
    let mut seen = HashMap::new();
    for job in jobs {
        let target = (job.plan.table.schema.clone(), job.plan.table.name.clone());
        if let Some(other) = seen.insert(target, qualified(&job.relation)) {
            return Err(ExportError::DuplicateTarget {
                first: other,
                second: qualified(&job.relation),
                target: pg2redshift_bundle::quote_qualified(&job.plan.table.schema, &job.plan.table.name),
            });
        }
    }
    Ok(())
}

struct Head<'a> {
    export_id: &'a str,
    exported_at: &'a str,
    snapshot: &'a str,
    database: &'a str,
}

fn bundle_for(
    head: &Head<'_>,
    job: &Job,
    table: &Streamed,
    uploaded: &HashMap<String, crate::pipeline::UploadedFile>,
    members: &[ExportMember],
    policy: OnUnrepresentable,
) -> Bundle {
    let files: Vec<DataFile> = table
        .keys
        .iter()
        .filter_map(|key| uploaded.get(key))
        .map(|f| DataFile { key: f.key.clone(), rows: f.rows, raw_bytes: f.raw_bytes, compressed_bytes: f.compressed_bytes })
        .collect();
    let totals = Totals {
        rows: files.iter().map(|f| f.rows).sum(),
        files: files.len() as u64,
        raw_bytes: files.iter().map(|f| f.raw_bytes).sum(),
        compressed_bytes: files.iter().map(|f| f.compressed_bytes).sum(),
    };
    let columns = job
        .plan
        .columns
        .iter()
        .map(|c| ColumnInfo {
            source_name: c.source_name.clone(),
            source_type: c.declared_type.clone(),
            name: c.target_name.clone(),
            data_type: c.mapping.redshift,
            nullable: !c.not_null,
            note: c.mapping.note.clone(),
        })
        .collect();
    Bundle {
        format_version: FORMAT_VERSION,
        kind: BundleKind::Full,
        export_id: head.export_id.to_string(),
        exported_at: head.exported_at.to_string(),
        producer: format!("pg2redshift {}", env!("CARGO_PKG_VERSION")),
        source: Source {
            database: head.database.to_string(),
            schema: job.relation.schema.clone(),
            table: job.relation.name.clone(),
            relkind: job.relation.relkind.clone(),
            snapshot: head.snapshot.to_string(),
        },
        export: members.to_vec(),
        table: job.plan.table.clone(),
        create_table_sql: job.plan.table.create_table_sql(),
        columns,
        encoding: Encoding::current(),
        manifest_key: job.location.manifest_key(),
        files,
        totals,
        changes: Changes { policy, total: table.changes.values().sum(), columns: table.changes.clone() },
    }
}
