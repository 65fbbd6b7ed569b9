//! Progress of a running export, published through PostgreSQL's COPY progress slots: it shows
//! in `pg_stat_progress_copy` (as COPY TO, type CALLBACK) and, with the extra counters below, in
//! the extension's `redshift_export_progress` view.

use pgrx::pg_sys;

// Slots of pg_stat_progress_copy (commands/progress.h).
const BYTES_PROCESSED: i32 = 0;
const TUPLES_PROCESSED: i32 = 2;
const COMMAND: i32 = 4;
const TYPE: i32 = 5;
const COMMAND_COPY_TO: i64 = 2;
const TYPE_CALLBACK: i64 = 4;
// Our own slots, unused by COPY (the view reads them as param7…param11).
const FILES: i32 = 6;
const BYTES_GZIP: i32 = 7;
const TABLE_NUMBER: i32 = 8;
const TABLES: i32 = 9;
const PHASE: i32 = 10;

#[derive(Debug, Clone, Copy)]
pub enum Phase {
    Exporting = 1,
    Committing = 2,
    CleaningUp = 3,
}

/// Starts reporting for table `number` (1-based) of `tables`. PostgreSQL ends the report by
/// itself when the transaction aborts.
pub fn start_table(relid: pg_sys::Oid, number: usize, tables: usize) {
    // SAFETY: backend-local shared-memory writes; no ERROR possible.
    unsafe {
        pg_sys::pgstat_progress_start_command(pg_sys::ProgressCommandType::PROGRESS_COMMAND_COPY, relid);
        update(COMMAND, COMMAND_COPY_TO);
        update(TYPE, TYPE_CALLBACK);
        update(TABLE_NUMBER, number as i64);
        update(TABLES, tables as i64);
        update(PHASE, Phase::Exporting as i64);
    }
}

pub fn rows(rows: u64, bytes: u64) {
    // SAFETY: see `update`; called on the backend thread during the export.
    unsafe {
        update(TUPLES_PROCESSED, rows as i64);
        update(BYTES_PROCESSED, bytes as i64);
    }
}

pub fn files(files: usize, bytes_gzip: u64) {
    // SAFETY: see `update`; called on the backend thread during the export.
    unsafe {
        update(FILES, files as i64);
        update(BYTES_GZIP, bytes_gzip as i64);
    }
}

pub fn phase(phase: Phase) {
    // SAFETY: see `update`; called on the backend thread during the export.
    unsafe { update(PHASE, phase as i64) }
}

pub fn end() {
    // SAFETY: ends this backend's own progress report (a no-op when none is running); backend
    // thread only.
    unsafe { pg_sys::pgstat_progress_end_command() }
}

/// # Safety
/// Backend thread only; `slot` is one of the parameter slots above (all below
/// PGSTAT_NUM_PROGRESS_PARAM). PostgreSQL ignores the update when no command is being reported.
unsafe fn update(slot: i32, value: i64) {
    // SAFETY: per this function's contract.
    unsafe { pg_sys::pgstat_progress_update_param(slot, value) }
}
