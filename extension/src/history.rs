//! Records exports in `redshift_export_history`: a committed one in the caller's transaction, a
//! failed one through a background worker of its own (the caller's transaction rolls back).

use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, SignalWakeFlags};
use pgrx::prelude::*;

use crate::error::ExportError;
use crate::export::TableResult;

pub(crate) const EXTENSION_SCHEMA_SQL: &str = "
SELECT n.nspname::pg_catalog.text
FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'pg2redshift'";

pub fn record(results: &[TableResult]) -> Result<(), ExportError> {
    let Some(first) = results.first() else { return Ok(()) };
    let sum = |f: fn(&TableResult) -> u64| i64::try_from(results.iter().map(f).sum::<u64>()).unwrap_or(i64::MAX);
    let tables: Vec<String> = results.iter().map(|r| r.table.clone()).collect();
    let urls: Vec<String> = results.iter().map(|r| r.bundle_url.clone()).collect();
    Spi::connect_mut(|client| {
        let schema: Option<String> = client.select(EXTENSION_SCHEMA_SQL, Some(1), &[])?.first().get(1)?;
        let Some(schema) = schema else { return Ok(()) };
        let sql = format!(
            "SELECT {}._redshift_export_record($1, pg_catalog.statement_timestamp(), $2, $3, $4, $5, $6, $7, $8, 'committed', NULL)",
            pg2redshift_bundle::quote_ident(&schema)
        );
        client.update(
            &sql,
            None,
            &[
                first.export_id.clone().into(),
                tables.into(),
                urls.into(),
                sum(|r| r.rows).into(),
                sum(|r| r.files).into(),
                sum(|r| r.raw_bytes).into(),
                sum(|r| r.compressed_bytes).into(),
                sum(|r| r.changed_values).into(),
            ],
        )?;
        Ok(())
    })
}

/// Records a failed export in `redshift_export_history` with its error. The caller's
/// transaction is about to roll back, so the row is written by a background worker of its own
/// (connected to this database as this session's user), which gets the row's text through a
/// dynamic shared memory segment. The backend waits for it, so a scheduled job's failure is in
/// the history when the job ends. A failure to record is a WARNING; the export's own error is
/// what the caller sees.
pub fn record_failure(tables: &[pg_sys::Oid], error: &ExportError) {
    record_failure_as("failed", tables, error)
}

/// The same, with the failure's id starting `id_prefix-` (a stream's failures are found by it).
pub fn record_failure_as(id_prefix: &str, tables: &[pg_sys::Oid], error: &ExportError) {
    if let Err(why) = try_record_failure(id_prefix, tables, error) {
        pgrx::warning!("pg2redshift: the failed export could not be recorded in redshift_export_history: {why}");
    }
}

/// What the worker writes, handed over as JSON.
#[derive(serde::Serialize, serde::Deserialize)]
struct Failure {
    id_prefix: String,
    started_at: String,
    tables: Vec<String>,
    error: String,
}

fn try_record_failure(id_prefix: &str, tables: &[pg_sys::Oid], error: &ExportError) -> Result<(), String> {
    let started_at = Spi::get_one::<String>("SELECT pg_catalog.statement_timestamp()::pg_catalog.text")
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    let names = Spi::get_one_with_args::<Vec<String>>(
        "SELECT pg_catalog.array_agg(o::pg_catalog.regclass::pg_catalog.text) FROM pg_catalog.unnest($1::pg_catalog.oid[]) o",
        &[tables.to_vec().into()],
    )
    .map_err(|e| e.to_string())?
    .unwrap_or_default();
    let failure = Failure { id_prefix: id_prefix.to_string(), started_at, tables: names, error: format!("{} ({})", error, error.sqlstate_code()) };
    let payload = serde_json::to_vec(&failure).map_err(|e| e.to_string())?;
    let len = u32::try_from(payload.len()).map_err(|_| "the error is too long".to_string())?;
    // SAFETY: backend thread, inside a transaction whose resource owner owns the segment; it is
    // `len + 4` bytes and we write exactly that many. It stays mapped until this transaction
    // ends, and the worker has finished reading it before we return.
    let handle = unsafe {
        let segment = pg_sys::dsm_create(payload.len() + 4, 0);
        let base = pg_sys::dsm_segment_address(segment).cast::<u8>();
        std::ptr::copy_nonoverlapping(len.to_ne_bytes().as_ptr(), base, 4);
        std::ptr::copy_nonoverlapping(payload.as_ptr(), base.add(4), payload.len());
        pg_sys::dsm_segment_handle(segment)
    };
    // SAFETY: reads backend globals on the backend thread.
    let (database, role, pid) = unsafe { (pg_sys::MyDatabaseId, pg_sys::GetSessionUserId(), pg_sys::MyProcPid) };
    let worker = BackgroundWorkerBuilder::new("pg2redshift failure record")
        .set_type("pg2redshift failure record")
        .set_library("pg2redshift")
        .set_function("pg2redshift_record_failure")
        .set_argument(pg_sys::Datum::from(handle).into())
        .set_extra(&format!("{} {}", database.to_u32(), role.to_u32()))
        .enable_spi_access()
        .set_notify_pid(pid)
        .load_dynamic()
        .map_err(|_| "no background worker slot is free (max_worker_processes)".to_string())?;
    worker.wait_for_shutdown().map_err(|status| format!("the worker ended as {status:?}"))
}

/// The background worker that writes one failure row (see [`record_failure`]).
#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn pg2redshift_record_failure(arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGTERM);
    let mut ids = BackgroundWorker::get_extra().split(' ').map(|s| s.parse::<u32>().ok());
    let (Some(Some(database)), Some(Some(role))) = (ids.next(), ids.next()) else {
        pgrx::log!("pg2redshift failure record: bad worker arguments");
        return;
    };
    BackgroundWorker::connect_worker_to_spi_by_oid(Some(pg_sys::Oid::from(database)), Some(pg_sys::Oid::from(role)));
    // SAFETY: the handle names the segment the waiting backend created and keeps mapped until
    // this worker has exited; it starts with the payload's length.
    let payload = unsafe {
        let segment = pg_sys::dsm_attach(arg.value() as pg_sys::dsm_handle);
        if segment.is_null() {
            pgrx::log!("pg2redshift failure record: the segment is gone");
            return;
        }
        let base = pg_sys::dsm_segment_address(segment).cast::<u8>();
        let mut len = [0u8; 4];
        std::ptr::copy_nonoverlapping(base, len.as_mut_ptr(), 4);
        let bytes = std::slice::from_raw_parts(base.add(4), u32::from_ne_bytes(len) as usize).to_vec();
        pg_sys::dsm_detach(segment);
        bytes
    };
    let Ok(failure) = serde_json::from_slice::<Failure>(&payload) else {
        pgrx::log!("pg2redshift failure record: unreadable payload");
        return;
    };
    BackgroundWorker::transaction(|| {
        let written = Spi::connect_mut(|client| -> Result<(), pgrx::spi::SpiError> {
            let schema: Option<String> = client.select(EXTENSION_SCHEMA_SQL, Some(1), &[])?.first().get(1)?;
            let Some(schema) = schema else { return Ok(()) };
            let sql = format!(
                "SELECT {}._redshift_export_record($4 || '-' || pg_catalog.to_char(pg_catalog.clock_timestamp() AT TIME ZONE 'UTC', \
                 'YYYYMMDD\"T\"HH24MISS\"Z\"') || '-' || pg_catalog.left(pg_catalog.md5(pg_catalog.gen_random_uuid()::pg_catalog.text), 8), \
                 $1::pg_catalog.timestamptz, $2, '{{}}', 0, 0, 0, 0, 0, 'failed', $3)",
                pg2redshift_bundle::quote_ident(&schema)
            );
            client.update(&sql, None, &[failure.started_at.clone().into(), failure.tables.clone().into(), failure.error.clone().into(), failure.id_prefix.clone().into()])?;
            Ok(())
        });
        if let Err(e) = written {
            pgrx::log!("pg2redshift failure record: {e}");
        }
    });
}
