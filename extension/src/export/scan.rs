//! Streams one table's rows from its cursor into CSV blocks for the pipeline. The executor hands
//! each row to a DestReceiver of ours, which formats it in place: rows are never copied into
//! SPI's tuple tables (which pgrx does not free until the call ends) and never wrapped one by one.
//! Memory stays flat: whatever reading a row allocates (detoasted values) lives in a context that
//! is reset before the next row.

use std::cell::Cell;
use std::ffi::CString;
use std::marker::PhantomData;
use std::ptr::NonNull;

use pg2redshift_core::csv;
use pg2redshift_core::print::{self, JsonbFrame, Malformed};
use pg2redshift_core::select::ValueForm;
use pg2redshift_core::values::{Outcome, ValueRule, check_value};
use pgrx::PgMemoryContexts;
use pgrx::pg_sys;
use pgrx::prelude::*;

use super::floats;
use super::job::{ExportSettings, Job, MAX_ROW_BYTES, Streamed};
use crate::error::ExportError;
use crate::pipeline::{BLOCK_BYTES, Pipeline};
use crate::progress;

/// Rows the executor produces per fetch; between fetches progress is published.
const FETCH_ROWS: std::ffi::c_long = 10_000;

/// A read-only SPI cursor, which runs on the active snapshot (the calling statement's) rather
/// than taking a new one as a read-write cursor would in READ COMMITTED.
pub struct SnapshotCursor {
    portal: NonNull<pg_sys::PortalData>,
}

impl SnapshotCursor {
    /// Opens the cursor; must run inside `Spi::connect`. Privileges and row-level security are
    /// checked here, before any row is read.
    pub fn open(sql: &str) -> Result<SnapshotCursor, ExportError> {
        let sql = CString::new(sql).map_err(|_| ExportError::Internal("the export query contains a NUL byte".into()))?;
        // SAFETY: valid C string, no parameters; SPI raises an ERROR rather than returning NULL.
        let portal = unsafe {
            pg_sys::SPI_cursor_open_with_args(
                std::ptr::null(),
                sql.as_ptr(),
                0,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null(),
                true,
                0,
            )
        };
        NonNull::new(portal)
            .map(|portal| SnapshotCursor { portal })
            .ok_or_else(|| ExportError::Internal("SPI returned no cursor".into()))
    }
}

impl Drop for SnapshotCursor {
    fn drop(&mut self) {
        // While an ERROR unwinds, the aborting transaction drops the portal itself; calling into
        // PostgreSQL then is not safe.
        if !std::thread::panicking() {
            // SAFETY: the portal was opened by SPI in this still-connected SPI session.
            unsafe { pg_sys::SPI_cursor_close(self.portal.as_ptr()) }
        }
    }
}

/// The executor's view of our receiver: a plain DestReceiver followed by our state. It is
/// handed to PostgreSQL as a pointer to the whole struct (`repr(C)`, `base` first, so it is
/// also a valid `DestReceiver *`), and the callback casts it back to the whole struct.
#[repr(C)]
struct CsvReceiver<'s, 'a> {
    base: pg_sys::DestReceiver,
    sink: &'s mut RowSink<'a>,
}

/// Where the detoasted values of one row live: reset before the next row once used.
struct RowMemory {
    cx: pg_sys::MemoryContext,
    used: Cell<bool>,
}

impl RowMemory {
    /// Frees the previous row's allocations. Taking `&mut self` means no [`Row`] (whose text
    /// borrows from this memory) can still be alive.
    fn reset(&mut self) {
        if self.used.replace(false) {
            // SAFETY: the context belongs to this export call, and nothing refers to what it
            // holds: every `Row` borrowing it is gone (we hold `&mut self`).
            unsafe { pg_sys::MemoryContextReset(self.cx) };
        }
    }
}

/// The executor's current row. Text read from it borrows from the row (`'r`), so it cannot
/// outlive the row: the slot's values and the row memory are only valid until the next row.
struct Row<'r> {
    values: &'r [pg_sys::Datum],
    nulls: &'r [bool],
    /// The query's row type, for the identity columns' output functions.
    desc: pg_sys::TupleDesc,
    memory: &'r RowMemory,
    _row: PhantomData<&'r pg_sys::TupleTableSlot>,
}

impl<'r> Row<'r> {
    /// The first `columns` attributes of `slot`, deformed.
    ///
    /// # Safety
    /// `slot` is the executor's current row with at least `columns` attributes, and stays
    /// unchanged for `'r`.
    unsafe fn from_slot(slot: *mut pg_sys::TupleTableSlot, columns: usize, memory: &'r RowMemory) -> Row<'r> {
        // SAFETY: per the caller; `slot_getsomeattrs_int` fills tts_values/tts_isnull up to
        // `columns`, which then hold that many initialised entries.
        unsafe {
            let natts = columns as i32;
            if i32::from((*slot).tts_nvalid) < natts {
                pg_sys::slot_getsomeattrs_int(slot, natts);
            }
            Row {
                values: std::slice::from_raw_parts((*slot).tts_values, columns),
                nulls: std::slice::from_raw_parts((*slot).tts_isnull, columns),
                desc: (*slot).tts_tupleDescriptor,
                memory,
                _row: PhantomData,
            }
        }
    }

    /// The text of column `i`, a non-NULL `text` datum, or `None` if it is not valid UTF-8.
    ///
    /// # Safety
    /// Column `i` is of type `text` and not NULL.
    unsafe fn text(&self, i: usize) -> Option<&'r str> {
        // SAFETY: per the caller, a non-NULL varlena.
        let bytes = unsafe { self.bytes(i) };
        if bytes.is_ascii() {
            // SAFETY: ASCII is valid UTF-8 (and checking this first is much cheaper for the
            // short values that make up most rows).
            Some(unsafe { std::str::from_utf8_unchecked(bytes) })
        } else {
            std::str::from_utf8(bytes).ok()
        }
    }

    /// The bytes of column `i`, a non-NULL varlena (text, numeric, jsonb), after its header.
    /// The common case (a value stored inline, uncompressed) is read in place without calling
    /// into PostgreSQL; others are detoasted into the row memory.
    ///
    /// # Safety
    /// Column `i` is of a varlena type and not NULL.
    unsafe fn bytes(&self, i: usize) -> &'r [u8] {
        use pgrx::varlena::{varatt_is_1b, varatt_is_1b_e, varatt_is_4b_u, varlena_to_byte_slice};
        // SAFETY: per the caller the datum points to a varlena of the current row, valid for
        // `'r`; a detoasted copy lives in the row memory, which is not reset during `'r`.
        unsafe {
            let mut ptr = self.values[i].cast_mut_ptr::<pg_sys::varlena>();
            if !(varatt_is_4b_u(ptr) || (varatt_is_1b(ptr) && !varatt_is_1b_e(ptr))) {
                let previous = pg_sys::MemoryContextSwitchTo(self.memory.cx);
                self.memory.used.set(true);
                ptr = pg_sys::pg_detoast_datum_packed(ptr);
                pg_sys::MemoryContextSwitchTo(previous);
            }
            varlena_to_byte_slice(ptr)
        }
    }

    /// Prints column `i`, a non-NULL value of `form` (not `Text`), into `out`, as its output
    /// function would under the export's settings (see `pg2redshift_core::print`).
    ///
    /// # Safety
    /// Column `i` is of the type `form` names and not NULL.
    unsafe fn print(&self, i: usize, form: ValueForm, out: &mut Vec<u8>, jsonb: &mut Vec<JsonbFrame>) -> Result<(), Malformed> {
        let datum = self.values[i];
        let bits = datum.value();
        match form {
            ValueForm::Int2 | ValueForm::Int4 | ValueForm::Int8 | ValueForm::Bool | ValueForm::Text => {
                return Err(Malformed("unexpected"));
            }
            ValueForm::Date => print::date(out, bits as i32),
            ValueForm::Timestamp => print::timestamp(out, bits as i64, false),
            ValueForm::TimestampTz => print::timestamp(out, bits as i64, true),
            ValueForm::Time => print::time(out, bits as i64),
            ValueForm::TimeTz => {
                // SAFETY: a timetz datum points to a TimeTzADT (int64 time, int32 zone) of the
                // current row; read unaligned, without assuming more.
                let (time, zone) = unsafe {
                    let p = datum.cast_mut_ptr::<u8>();
                    (std::ptr::read_unaligned(p.cast::<i64>()), std::ptr::read_unaligned(p.add(8).cast::<i32>()))
                };
                print::timetz(out, time, zone);
            }
            ValueForm::Float4 => floats::float4(out, f32::from_bits(bits as u32)),
            ValueForm::Float8 => floats::float8(out, f64::from_bits(bits as u64)),
            // SAFETY: numeric and jsonb are varlenas; NULL was checked by the caller.
            ValueForm::Numeric => print::numeric(out, unsafe { self.bytes(i) })?,
            ValueForm::Jsonb => print::jsonb(out, unsafe { self.bytes(i) }, jsonb)?,
        }
        Ok(())
    }

    /// Names the row for an error message from the identity columns after the value columns.
    /// They are read as they are (no text per row for a message rarely written) and printed by
    /// their output functions only here.
    fn describe(&self, job: &Job, ordinal: u64) -> String {
        let query = &job.query;
        let identity: Vec<Option<String>> = (query.value_columns..self.values.len())
            .map(|i| {
                // SAFETY: on the backend thread, for a non-NULL column of the current row:
                // its type comes from the slot's own descriptor, whose output function prints
                // it (into the row memory, reset before the next row).
                (!self.nulls[i]).then(|| unsafe {
                    let attribute = (*self.desc).attrs.as_slice(self.values.len())[i];
                    let (mut output, mut varlena) = (pg_sys::Oid::INVALID, false);
                    pg_sys::getTypeOutputInfo(attribute.atttypid, &mut output, &mut varlena);
                    let previous = pg_sys::MemoryContextSwitchTo(self.memory.cx);
                    self.memory.used.set(true);
                    let text = pg_sys::OidOutputFunctionCall(output, self.values[i]);
                    pg_sys::MemoryContextSwitchTo(previous);
                    std::ffi::CStr::from_ptr(text).to_string_lossy().into_owned()
                })
            })
            .collect();
        query.identity.describe(&identity, ordinal)
    }
}

/// Everything the per-row callback works on.
struct RowSink<'a> {
    pipeline: &'a mut Pipeline,
    job: &'a Job,
    settings: &'a ExportSettings,
    /// Value columns, then the identity columns that name a row in messages.
    columns: usize,
    out: Streamed,
    block: Vec<u8>,
    block_rows: u64,
    file_bytes: u64,
    changes: Vec<u64>,
    memory: RowMemory,
    /// A value printed from its datum, before it is checked and written.
    printed: Vec<u8>,
    /// Scratch space of the jsonb printer.
    jsonb: Vec<JsonbFrame>,
    /// The first failure; the callback stops the executor when it sets it.
    error: Option<ExportError>,
}

pub fn stream_table(
    pipeline: &mut Pipeline,
    cursor: &SnapshotCursor,
    job: &Job,
    settings: &ExportSettings,
) -> Result<Streamed, ExportError> {
    let first_key = job.location.part_key(0, settings.codec.compression());
    pipeline.start_file(first_key.clone())?;
    let row_cx = PgMemoryContexts::new("pg2redshift export row");
    let block = pipeline.block();
    let mut sink = RowSink {
        pipeline,
        job,
        settings,
        columns: job.query.value_columns + job.query.identity_columns(),
        out: Streamed { keys: vec![first_key], ..Streamed::default() },
        block,
        block_rows: 0,
        file_bytes: 0,
        changes: vec![0; job.query.value_columns],
        memory: RowMemory { cx: row_cx.value(), used: Cell::new(false) },
        printed: Vec::with_capacity(256),
        jsonb: Vec::new(),
        error: None,
    };
    loop {
        let mut receiver = CsvReceiver {
            base: pg_sys::DestReceiver {
                receiveSlot: Some(receive_slot),
                rStartup: Some(startup),
                rShutdown: Some(shutdown),
                rDestroy: Some(shutdown),
                mydest: pg_sys::CommandDest::DestNone,
            },
            sink: &mut sink,
        };
        // SAFETY: the portal is open and ready; `receiver` outlives the call and is passed as
        // a pointer to the whole (repr(C)) struct, whose first field is the DestReceiver.
        let fetched = unsafe {
            pg_sys::PortalRunFetch(
                cursor.portal.as_ptr(),
                pg_sys::FetchDirection::FETCH_FORWARD,
                FETCH_ROWS,
                (&raw mut receiver).cast::<pg_sys::DestReceiver>(),
            )
        };
        if let Some(err) = sink.error.take() {
            return Err(err);
        }
        if fetched == 0 {
            break;
        }
        progress::rows(sink.out.rows, sink.out.raw_bytes + sink.block.len() as u64);
        progress::files(sink.pipeline.files.len(), sink.pipeline.uploaded_bytes);
        pgrx::check_for_interrupts!();
    }
    sink.flush()?;
    sink.pipeline.end_file()?;
    let mut out = sink.out;
    for (column, count) in job.fields.iter().zip(sink.changes) {
        if count > 0 {
            out.changes.insert(column.name.clone(), count);
        }
    }
    Ok(out)
}

/// The executor's per-row callback.
///
/// # Safety
/// Called by PostgreSQL only, with the receiver stream_table passed to PortalRunFetch.
#[pg_guard]
unsafe extern "C-unwind" fn receive_slot(slot: *mut pg_sys::TupleTableSlot, dest: *mut pg_sys::DestReceiver) -> bool {
    // SAFETY: `dest` is the pointer to a whole CsvReceiver that stream_table passed to
    // PortalRunFetch, alive and not otherwise used for the whole call; `slot` holds the
    // executor's current row, unchanged until we return.
    unsafe {
        let receiver = &mut *dest.cast::<CsvReceiver<'_, '_>>();
        let sink = &mut *receiver.sink;
        if sink.error.is_some() {
            return false;
        }
        match sink.row(slot) {
            Ok(()) => true,
            Err(err) => {
                sink.error = Some(err);
                false
            }
        }
    }
}

// Nothing to set up or tear down per fetch (and nothing here can fail, so no guard is needed).
// SAFETY: both ignore their arguments, so any pointers PostgreSQL passes are fine.
unsafe extern "C-unwind" fn startup(_dest: *mut pg_sys::DestReceiver, _operation: std::ffi::c_int, _desc: pg_sys::TupleDesc) {}

unsafe extern "C-unwind" fn shutdown(_dest: *mut pg_sys::DestReceiver) {}

impl RowSink<'_> {
    /// Formats one row as CSV into the current block.
    ///
    /// # Safety
    /// `slot` is the executor's current row of the export query, unchanged until we return.
    unsafe fn row(&mut self, slot: *mut pg_sys::TupleTableSlot) -> Result<(), ExportError> {
        self.memory.reset();
        if self.block.is_empty() && self.file_bytes >= self.settings.chunk_bytes {
            // Start the next file only when there is a row for it.
            self.pipeline.end_file()?;
            let key = self.job.location.part_key(self.out.keys.len() as u32, self.settings.codec.compression());
            self.out.keys.push(key.clone());
            self.pipeline.start_file(key)?;
            self.file_bytes = 0;
        }
        self.out.rows += 1;
        let ordinal = self.out.rows;
        let job = self.job;
        // SAFETY: per the caller; the query's target list has `columns` attributes.
        let row = unsafe { Row::from_slot(slot, self.columns, &self.memory) };
        let row_start = self.block.len();
        let mut numbers = itoa::Buffer::new();
        for i in 0..job.query.value_columns {
            let field = if row.nulls[i] {
                None
            } else {
                let datum = row.values[i];
                let form = job.query.forms[i];
                let column = &job.fields[i];
                let mut rule = column.rule;
                self.printed.clear();
                // Integers and booleans are printed here as their cast to text would print them,
                // dates, times, floats, numerics and jsonb from the datum (core::print).
                let text = match form {
                    ValueForm::Int2 => numbers.format(datum.value() as i16),
                    ValueForm::Int4 => numbers.format(datum.value() as i32),
                    ValueForm::Int8 => numbers.format(datum.value() as i64),
                    ValueForm::Bool => if datum.value() != 0 { "true" } else { "false" },
                    // SAFETY: the query gives every other value column as text; NULL was checked.
                    ValueForm::Text => unsafe { row.text(i) }.ok_or_else(|| ExportError::InvalidText {
                        table: job.qualified(),
                        column: column.name.clone(),
                        row: row.describe(job, ordinal),
                    })?,
                    _ => {
                        // SAFETY: the query reads this column as it is, of the type `form`
                        // names (select::value_form); NULL was checked.
                        unsafe { row.print(i, form, &mut self.printed, &mut self.jsonb) }.map_err(|e| ExportError::Internal(format!(
                            "{}, column {}, row {}: {e}",
                            job.qualified(),
                            column.name,
                            row.describe(job, ordinal)
                        )))?;
                        if form == ValueForm::Jsonb && rule == ValueRule::Json {
                            rule = ValueRule::CompactJson;
                        }
                        // Printed digits and ISO dates are ASCII; jsonb strings are the
                        // database's UTF-8 (checked, like text).
                        std::str::from_utf8(&self.printed).map_err(|_| ExportError::InvalidText {
                            table: job.qualified(),
                            column: column.name.clone(),
                            row: row.describe(job, ordinal),
                        })?
                    }
                };
                match check_value(rule, text, self.settings.policy, column.not_null) {
                    Outcome::Keep(text) => Some(text),
                    Outcome::Changed(text) => {
                        self.changes[i] += 1;
                        text
                    }
                    Outcome::Refused(problem) => {
                        return Err(ExportError::Unrepresentable {
                            table: job.qualified(),
                            column: column.name.clone(),
                            row: row.describe(job, ordinal),
                            problem,
                        });
                    }
                }
            };
            if i > 0 {
                self.block.push(csv::DELIMITER);
            }
            match field.as_deref() {
                // Numbers, booleans, dates and times never need quotes: no scan for them.
                Some(text) if job.query.forms[i].never_quoted() => self.block.extend_from_slice(text.as_bytes()),
                other => csv::push_field(&mut self.block, other),
            }
        }
        self.block.push(csv::ROW_END);
        let row_bytes = self.block.len() - row_start;
        if row_bytes > MAX_ROW_BYTES {
            return Err(ExportError::RowTooLarge { table: job.qualified(), row: row.describe(job, ordinal), bytes: row_bytes });
        }
        self.block_rows += 1;
        if self.block.len() >= BLOCK_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// Hands the current block to the pipeline.
    fn flush(&mut self) -> Result<(), ExportError> {
        if self.block.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.block, self.pipeline.block());
        self.file_bytes += full.len() as u64;
        self.out.raw_bytes += full.len() as u64;
        self.pipeline.rows(full, self.block_rows)?;
        self.block_rows = 0;
        Ok(())
    }
}
