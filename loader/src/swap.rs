//! One export into Redshift in one transaction: every table is created under a staging name and
//! COPYed from its manifest (the loaded count checked against the bundle) before any old table
//! is touched; then each old table's owner, grants and dependent ordinary views are carried over
//! to the new one, the names are swapped, the old table is dropped, the load is recorded, and
//! the transaction commits. Any failure rolls back: the old tables stand as they were.
//! Late-binding views (WITH NO SCHEMA BINDING) follow the name and need nothing; ordinary views
//! bind to the table itself, so they are re-created on the new one in the same transaction.
//! TRUNCATE and ALTER TABLE APPEND commit implicitly in Redshift and are never used here.

use std::time::{Duration, Instant};

use postgres::{Client, Transaction};

use crate::error::{LoadError, describe};
use crate::report::Reporter;
use crate::sql::CopyAuth;
use crate::state;
use crate::steps::{self, Action, Step};
use crate::target::read_target;
use crate::store::Committed;

/// What became of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    Loaded,
    AlreadyLoaded,
}

/// How many times a transaction that lost a serialization conflict is run again.
const ATTEMPTS: u32 = 5;

/// `drop_missing`: tables loaded earlier from the same source schema that this export no longer
/// contains are dropped in the same transaction (off by default: they are left alone).
pub fn load_export(
    db: &mut Client,
    export: &[Committed],
    auth: &CopyAuth,
    drop_missing: bool,
    report: &Reporter,
) -> Result<Done, LoadError> {
    retrying(db, report, |db| try_load(db, export, auth, drop_missing, report))
}

/// Runs `attempt` (one whole load transaction) after creating the load history, again after a
/// serialization conflict, up to [`ATTEMPTS`] times.
pub fn retrying(db: &mut Client, report: &Reporter, mut attempt: impl FnMut(&mut Client) -> Result<Done, Attempt>) -> Result<Done, LoadError> {
    // Two loaders starting together may race to create it: the loser tries again.
    let mut tries = 0;
    while let Err(e) = report.timed("history", || db.batch_execute(state::CREATE)) {
        tries += 1;
        if tries >= 3 {
            return Err(LoadError::target_sql("creating the load history table", e));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut n = 1;
    loop {
        match attempt(db) {
            Err(Attempt::Conflict(msg)) if n < ATTEMPTS => {
                let wait = Duration::from_millis(500 << n);
                report.line("retry", &format!("serialization conflict ({msg}); retrying in {:.1}s", wait.as_secs_f64()));
                std::thread::sleep(wait);
                n += 1;
            }
            Err(Attempt::Conflict(msg)) => return Err(LoadError::failed(format!("gave up after {ATTEMPTS} serialization conflicts: {msg}"))),
            Err(Attempt::Error(e)) => return Err(e),
            Ok(done) => return Ok(done),
        }
    }
}

pub enum Attempt {
    /// Redshift's ERROR 1023 / SQLSTATE 40001: run the whole transaction again.
    Conflict(String),
    Error(LoadError),
}

impl From<LoadError> for Attempt {
    fn from(e: LoadError) -> Self {
        Attempt::Error(e)
    }
}

/// Serialization conflicts (Redshift's ERROR 1023, SQLSTATE 40001) and deadlocks where the
/// loader was the one cancelled (40P01): the whole transaction runs again.
pub(crate) fn is_conflict(e: &postgres::Error) -> bool {
    let Some(db) = e.as_db_error() else { return false };
    matches!(db.code().code(), "40001" | "40P01") || is_redshift_1023(db.message(), db.detail())
}

/// Redshift reports a serialization conflict as `ERROR: 1023` with the DETAIL `Serializable
/// isolation violation on table …`
/// (https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation.html): the error number
/// is the message itself, not a substring of some other message.
fn is_redshift_1023(message: &str, detail: Option<&str>) -> bool {
    let rest = match message.trim().strip_prefix("1023") {
        Some(rest) if rest.is_empty() || rest.starts_with([' ', ':']) => rest,
        _ => return false,
    };
    let violation = "Serializable isolation violation";
    rest.contains(violation) || detail.is_some_and(|d| d.contains(violation))
}

/// Runs a statement of the load; a failure becomes Failed (or Conflict).
pub(crate) fn exec(tx: &mut Transaction<'_>, sql: &str, what: &str) -> Result<(), Attempt> {
    tx.batch_execute(sql).map_err(|e| {
        if is_conflict(&e) {
            Attempt::Conflict(describe(&e))
        } else {
            Attempt::Error(LoadError::failed_sql(what, e))
        }
    })
}

/// Whether the export is loaded already, or must be refused because a newer one is in place.
pub fn history_check(tx: &mut Transaction<'_>, export: &[Committed]) -> Result<Option<Done>, LoadError> {
    let mut loaded = 0;
    let tables: Vec<(&str, &str)> = export.iter().map(|c| (c.bundle.table.schema.as_str(), c.bundle.table.name.as_str())).collect();
    let last = state::last_loaded_all(tx, &tables)?;
    for c in export {
        let t = &c.bundle.table;
        match last.get(&(t.schema.clone(), t.name.clone())) {
            Some((id, _)) if *id == c.bundle.export_id => loaded += 1,
            Some((id, at)) if *at > c.bundle.exported_at => {
                return Err(LoadError::Refused(format!(
                    "{}.{} already holds export {id} (taken {at}), newer than {} (taken {}): refusing to load an older export over it",
                    t.schema, t.name, c.bundle.export_id, c.bundle.exported_at
                )));
            }
            _ => {}
        }
    }
    if loaded == export.len() {
        return Ok(Some(Done::AlreadyLoaded));
    }
    if loaded > 0 {
        return Err(LoadError::Refused(format!(
            "export {} is recorded as loaded for only some of its tables; refusing to guess",
            export[0].bundle.export_id
        )));
    }
    Ok(None)
}

/// The steps `load` would run now, read in a transaction that is rolled back: `Some(done)`
/// when it would do nothing (already loaded), with the one step it would still run.
pub fn plan(db: &mut Client, export: &[Committed], auth: &CopyAuth, drop_missing: bool) -> Result<(Option<Done>, Vec<Step>), LoadError> {
    let mut tx = db.transaction().map_err(|e| LoadError::target_sql("starting a transaction", e))?;
    let history: i64 = tx
        .query_one("SELECT count(*) FROM pg_tables WHERE schemaname = 'pg2redshift_loader' AND tablename = 'loads'", &[])
        .map_err(|e| LoadError::target_sql("looking for the load history", e))?
        .get(0);
    let mut planned = vec![steps::lock_history()];
    if history > 0
        && let Some(done) = history_check(&mut tx, export)?
    {
        return Ok((Some(done), planned));
    }
    planned.extend(steps::stage(export, auth)?);
    let target = read_target(&mut tx, export, drop_missing && history > 0)?;
    planned.extend(steps::swap(export, &target));
    tx.rollback().map_err(|e| LoadError::target_sql("ending the transaction", e))?;
    Ok((None, planned))
}

fn try_load(
    db: &mut Client,
    export: &[Committed],
    auth: &CopyAuth,
    drop_missing: bool,
    report: &Reporter,
) -> Result<Done, Attempt> {
    let mut tx = db.transaction().map_err(|e| LoadError::target_sql("starting the load transaction", e))?;
    // One loader at a time; the second sees what the first committed.
    run_step(&mut tx, &steps::lock_history(), report)?;
    if let Some(done) = history_check(&mut tx, export)? {
        return Ok(done);
    }

    // 1. Every table staged and loaded, before any old table is touched.
    for step in steps::stage(export, auth)? {
        let Action::Copy { table, rows } = &step.action else {
            run_step(&mut tx, &step, report)?;
            continue;
        };
        if let Err(e) = copy(&mut tx, &step, table, *rows, report) {
            drop(tx);
            return Err(e.explained(db, table));
        }
    }

    // 2. The swap, built from what the target holds. Its first steps drop the dependent views
    // (outermost first, the order in which a query on a view locks it and then its tables;
    // Redshift cannot LOCK a view), then one LOCK takes the tables in export order. Once they
    // are held, the target must still be what the steps were built from; if a view or grant
    // changed meanwhile, the whole load runs again.
    let target = report.timed("read target", || read_target(&mut tx, export, drop_missing))?;
    for step in steps::swap(export, &target) {
        run_step(&mut tx, &step, report)?;
        if step.action == Action::Lock
            && report.timed("read target", || read_target(&mut tx, export, drop_missing))? != target.without_views()
        {
            return Err(Attempt::Conflict("the tables to swap changed while the load waited for its locks".into()));
        }
    }
    report.timed("commit", || tx.commit()).map_err(|e| {
        if is_conflict(&e) {
            Attempt::Conflict(describe(&e))
        } else {
            Attempt::Error(LoadError::failed_sql("COMMIT", e))
        }
    })?;
    Ok(Done::Loaded)
}

/// How a COPY step failed.
pub(crate) enum CopyFailure {
    Attempt(Attempt),
    /// Redshift refused it: explained from stl_load_errors once the transaction has ended.
    Refused(postgres::Error),
}

impl CopyFailure {
    pub(crate) fn explained(self, db: &mut Client, table: &str) -> Attempt {
        match self {
            CopyFailure::Attempt(a) => a,
            CopyFailure::Refused(e) => {
                let message = format!("COPY into {table} failed: {}{}", describe(&e), explain_copy_error(db));
                LoadError::Failed { message, source: Some(Box::new(e)) }.into()
            }
        }
    }
}

/// Runs a COPY step, checks the count it loaded against the bundle's, and reports it.
pub(crate) fn copy(tx: &mut Transaction<'_>, step: &Step, table: &str, rows: u64, report: &Reporter) -> Result<(), CopyFailure> {
    report.statement(&step.purpose, &step.shown);
    let started = Instant::now();
    let bar = report.copy_started(table, &format!("{table}: {}", step.purpose));
    let result = tx.execute(step.sql.as_str(), &[]);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let n = match result {
        Ok(n) => n,
        Err(e) if is_conflict(&e) => return Err(CopyFailure::Attempt(Attempt::Conflict(describe(&e)))),
        Err(e) => return Err(CopyFailure::Refused(e)),
    };
    if n != rows {
        let e = LoadError::failed(format!("{table}: COPY loaded {n} rows but the export holds {rows}; nothing was changed"));
        return Err(CopyFailure::Attempt(e.into()));
    }
    let (schema, name) = table.split_once('.').unwrap_or(("", table));
    report.add_time("copy", started.elapsed());
    report.table_loaded(schema, name, n, started.elapsed());
    Ok(())
}

/// Runs one step of the load and reports it.
pub(crate) fn run_step(tx: &mut Transaction<'_>, step: &Step, report: &Reporter) -> Result<(), Attempt> {
    report.statement(&step.purpose, &step.shown);
    report.timed(step.phase(), || exec(tx, &step.sql, &step.purpose))?;
    if let Some((event, message)) = &step.note {
        report.line(event, message);
    }
    Ok(())
}

/// The rejected rows of the failed COPY, in plain words (after the rollback, where Redshift keeps
/// them).
pub(crate) fn explain_copy_error(db: &mut Client) -> String {
    let rows = db.query(
        "SELECT trim(filename), line_number, trim(colname), trim(type), trim(col_length), trim(raw_field_value), err_code, trim(err_reason) \
         FROM stl_load_errors WHERE query = pg_last_copy_id() ORDER BY line_number LIMIT 20",
        &[],
    );
    match rows {
        Ok(rows) if !rows.is_empty() => {
            let mut s = String::from("\nrejected rows (stl_load_errors):");
            for r in rows {
                let (file, line, col, ty, len, value, code, reason): (String, i64, String, String, String, String, i32, String) =
                    (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6), r.get(7));
                let column = if col.is_empty() { String::from("the whole line") } else { format!("column {col} ({ty}({len}))") };
                s.push_str(&format!("\n  {file}, line {line}, {column}: value '{value}': {reason} (error {code})"));
            }
            s
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::is_redshift_1023;

    #[test]
    fn serialization_conflicts_are_recognised_by_their_shape() {
        let detail = Some("Serializable isolation violation on table - 100282, transactions forming the cycle are: 1, 2");
        assert!(is_redshift_1023("1023", detail));
        assert!(is_redshift_1023(" 1023 ", detail));
        assert!(is_redshift_1023("1023: Serializable isolation violation on table", None));
        assert!(!is_redshift_1023("1023", None));
        assert!(!is_redshift_1023("column \"c1023\" does not exist", detail));
        assert!(!is_redshift_1023("10234", detail));
        assert!(!is_redshift_1023("value 1023 is out of range", detail));
    }
}
