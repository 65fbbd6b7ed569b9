//! One export into Redshift in one transaction: every table is created under a staging name and
//! COPYed from its manifest (the loaded count checked against the bundle) before any old table
//! is touched; then each old table's owner, grants and dependent ordinary views are carried over
//! to the new one, the names are swapped, the old table is dropped, the load is recorded, and
//! the transaction commits. Any failure rolls back: the old tables stand as they were.
//! Late-binding views (WITH NO SCHEMA BINDING) follow the name and need nothing; ordinary views
//! bind to the table itself, so they are re-created on the new one in the same transaction.
//! TRUNCATE and ALTER TABLE APPEND commit implicitly in Redshift and are never used here.

use std::time::{Duration, Instant};

use pg2redshift_bundle::quote_qualified;
use postgres::{Client, Transaction};

use crate::error::{LoadError, describe};
use crate::report::Reporter;
use crate::sql::{CopyAuth, Privilege};
use crate::state;
use crate::steps::{self, Action, DependentView, OldTable, Step, TargetState};
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
    // Two loaders starting together may race to create it: the loser tries again.
    let mut tries = 0;
    while let Err(e) = db.batch_execute(state::CREATE) {
        tries += 1;
        if tries >= 3 {
            return Err(LoadError::target_sql("creating the load history table", e));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut attempt = 1;
    loop {
        match try_load(db, export, auth, drop_missing, report) {
            Err(Attempt::Conflict(msg)) if attempt < ATTEMPTS => {
                let wait = Duration::from_millis(500 << attempt);
                report.line("retry", &format!("serialization conflict ({msg}); retrying in {:.1}s", wait.as_secs_f64()));
                std::thread::sleep(wait);
                attempt += 1;
            }
            Err(Attempt::Conflict(msg)) => return Err(LoadError::failed(format!("gave up after {ATTEMPTS} serialization conflicts: {msg}"))),
            Err(Attempt::Error(e)) => return Err(e),
            Ok(done) => return Ok(done),
        }
    }
}

enum Attempt {
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
fn is_conflict(e: &postgres::Error) -> bool {
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
fn exec(tx: &mut Transaction<'_>, sql: &str, what: &str) -> Result<(), Attempt> {
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
    for c in export {
        let t = &c.bundle.table;
        match state::last_loaded(tx, &t.schema, &t.name)? {
            Some((id, _)) if id == c.bundle.export_id => loaded += 1,
            Some((id, at)) if at > c.bundle.exported_at => {
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
        report.statement(&step.purpose, &step.shown);
        let started = Instant::now();
        let bar = report.copy_started(table, &format!("{table}: {}", step.purpose));
        let result = tx.execute(step.sql.as_str(), &[]);
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let n = match result {
            Ok(n) => n,
            Err(e) if is_conflict(&e) => return Err(Attempt::Conflict(describe(&e))),
            Err(e) => {
                let msg = describe(&e);
                drop(tx);
                let explained = explain_copy_error(db);
                let message = format!("COPY into {table} failed: {msg}{explained}");
                return Err(LoadError::Failed { message, source: Some(Box::new(e)) }.into());
            }
        };
        if n != *rows {
            return Err(LoadError::failed(format!("{table}: COPY loaded {n} rows but the export holds {rows}; nothing was changed")).into());
        }
        let (schema, name) = table.split_once('.').unwrap_or(("", table));
        report.table_loaded(schema, name, n, started.elapsed());
    }

    // 2. The swap, built from what the target holds. Its first steps drop the dependent views
    // (outermost first, the order in which a query on a view locks it and then its tables;
    // Redshift cannot LOCK a view), then one LOCK takes the tables in export order. Once they
    // are held, the target must still be what the steps were built from; if a view or grant
    // changed meanwhile, the whole load runs again.
    let target = read_target(&mut tx, export, drop_missing)?;
    for step in steps::swap(export, &target) {
        run_step(&mut tx, &step, report)?;
        if step.action == Action::Lock && read_target(&mut tx, export, drop_missing)? != target.without_views() {
            return Err(Attempt::Conflict("the tables to swap changed while the load waited for its locks".into()));
        }
    }
    tx.commit().map_err(|e| {
        if is_conflict(&e) {
            Attempt::Conflict(describe(&e))
        } else {
            Attempt::Error(LoadError::failed_sql("COMMIT", e))
        }
    })?;
    Ok(Done::Loaded)
}

/// Runs one step of the load and reports it.
fn run_step(tx: &mut Transaction<'_>, step: &Step, report: &Reporter) -> Result<(), Attempt> {
    report.statement(&step.purpose, &step.shown);
    exec(tx, &step.sql, &step.purpose)?;
    if let Some((event, message)) = &step.note {
        report.line(event, message);
    }
    Ok(())
}

/// What the swap depends on: each table's predecessor (owner, grants, ordinary views), and with
/// `drop_missing` the tables gone from the source schemas.
///
/// Only what Redshift documents: pg_class, pg_namespace and pg_user (c_join_PG: "partially
/// accessible"), the owner as pg_user's name (no pg_get_userbyid), the grants from
/// SVV_RELATION_PRIVILEGES (relacl's letters mean other things in Redshift: D is DROP, P is
/// TRUNCATE, A is ALTER; r_PG_DEFAULT_ACL).
/// https://docs.aws.amazon.com/redshift/latest/dg/c_join_PG.html
/// https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_RELATION_PRIVILEGES.html
pub fn read_target(tx: &mut Transaction<'_>, export: &[Committed], drop_missing: bool) -> Result<TargetState, LoadError> {
    let mut target = TargetState::default();
    let late = late_binding_views(tx)?;
    for c in export {
        let t = &c.bundle.table;
        let found = tx
            .query(
                "SELECT c.oid, u.usename FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 JOIN pg_user u ON u.usesysid = c.relowner WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'r'",
                &[&t.schema, &t.name],
            )
            .map_err(|e| LoadError::failed_sql(&format!("reading {}.{}", t.schema, t.name), e))?;
        let Some(row) = found.first() else {
            target.old.push(None);
            continue;
        };
        let (oid, owner): (u32, String) = (row.get(0), row.get(1));
        let grants = privileges(tx, &t.schema, &t.name)?;
        target.old.push(Some(OldTable { owner, grants, views: views_on(tx, oid, &late)? }));
    }
    if drop_missing {
        target.gone = gone_tables(tx, export)?;
    }
    Ok(target)
}

/// The privileges granted on a table or view.
fn privileges(tx: &mut Transaction<'_>, schema: &str, name: &str) -> Result<Vec<Privilege>, LoadError> {
    let rows = tx
        .query(
            "SELECT privilege_type, identity_name, identity_type, admin_option FROM svv_relation_privileges \
             WHERE namespace_name = $1 AND relation_name = $2 ORDER BY identity_type, identity_name, privilege_type",
            &[&schema, &name],
        )
        .map_err(|e| LoadError::failed_sql(&format!("reading the grants on {schema}.{name}"), e))?;
    Ok(rows
        .iter()
        .map(|r| Privilege { privilege: r.get(0), identity: r.get(1), identity_type: r.get(2), admin: r.get(3) })
        .collect())
}

/// Tables loaded earlier from the export's source schemas that the export no longer holds.
fn gone_tables(tx: &mut Transaction<'_>, export: &[Committed]) -> Result<Vec<(String, String)>, LoadError> {
    let present: Vec<(String, String)> =
        export.iter().map(|c| (c.bundle.table.schema.clone(), c.bundle.table.name.clone())).collect();
    let mut sources: Vec<(String, String)> =
        export.iter().map(|c| (c.bundle.source.database.clone(), c.bundle.source.schema.clone())).collect();
    sources.sort();
    sources.dedup();
    // Only in the schemas this export loads into: a bundle cannot make the loader drop tables
    // elsewhere by naming another source.
    let schemas: Vec<&str> = present.iter().map(|(s, _)| s.as_str()).collect();
    let mut gone = Vec::new();
    for (database, schema) in sources {
        let rows = tx
            .query(
                "SELECT DISTINCT target_schema, target_table FROM pg2redshift_loader.loads \
                 WHERE source_database = $1 AND source_schema = $2 ORDER BY 1, 2",
                &[&database, &schema],
            )
            .map_err(|e| LoadError::failed_sql("reading the load history", e))?;
        for r in rows {
            let table: (String, String) = (r.get(0), r.get(1));
            if schemas.contains(&table.0.as_str()) && !present.contains(&table) && !gone.contains(&table) {
                gone.push(table);
            }
        }
    }
    Ok(gone)
}

/// Late-binding views, which follow the name and need nothing.
/// https://docs.aws.amazon.com/redshift/latest/dg/PG_GET_LATE_BINDING_VIEW_COLS.html
fn late_binding_views(tx: &mut Transaction<'_>) -> Result<Vec<(String, String)>, LoadError> {
    Ok(tx
        .query(
            "SELECT DISTINCT view_schema, view_name FROM pg_get_late_binding_view_cols() \
             cols(view_schema name, view_name name, col_name name, col_type varchar, col_num int)",
            &[],
        )
        .map_err(|e| LoadError::failed_sql("listing late-binding views", e))?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// Ordinary views on the table and views on those, late-binding views left out. A view's rule
/// depends on what it reads and, internally, on the view: pg_depend joined with itself on the
/// rule finds them, as r_DROP_TABLE's FIND_DEPEND view does (pg_rewrite is not among the
/// catalog tables Redshift documents). The definitions come from SHOW VIEW (r_SHOW_VIEW: "You
/// can use the output … to recreate the view").
/// https://docs.aws.amazon.com/redshift/latest/dg/r_DROP_TABLE.html
/// https://docs.aws.amazon.com/redshift/latest/dg/r_SHOW_VIEW.html
fn views_on(tx: &mut Transaction<'_>, table_oid: u32, late: &[(String, String)]) -> Result<Vec<DependentView>, LoadError> {
    let mut out: Vec<DependentView> = Vec::new();
    let mut queue = vec![table_oid];
    let mut seen = vec![table_oid];
    while let Some(oid) = queue.pop() {
        // The OID comes from the catalog, never from a bundle: a number in the text.
        let rows = tx
            .query(
                &format!(
                    "SELECT DISTINCT v.oid, n.nspname, v.relname, u.usename \
                     FROM pg_depend d_p JOIN pg_depend d_c ON d_c.objid = d_p.objid AND d_c.classid = d_p.classid \
                     JOIN pg_class v ON v.oid = d_c.refobjid JOIN pg_namespace n ON n.oid = v.relnamespace \
                     JOIN pg_user u ON u.usesysid = v.relowner \
                     WHERE d_p.refobjid = {oid} AND d_c.deptype = 'i' AND v.relkind = 'v' AND v.oid <> {oid}"
                ),
                &[],
            )
            .map_err(|e| LoadError::failed_sql("listing dependent views", e))?;
        for r in rows {
            let voi: u32 = r.get(0);
            let (schema, name, owner): (String, String, String) = (r.get(1), r.get(2), r.get(3));
            if seen.contains(&voi) || late.iter().any(|(s, n)| s == &schema && n == &name) {
                continue;
            }
            seen.push(voi);
            queue.push(voi);
            let shown = format!("SHOW VIEW {}", quote_qualified(&schema, &name));
            // The simple protocol: SHOW is a utility statement, not documented for Parse/Bind.
            let definition = tx
                .simple_query(&shown)
                .map_err(|e| LoadError::failed_sql(&format!("reading the definition of {schema}.{name}"), e))?
                .into_iter()
                .find_map(|m| match m {
                    postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                    _ => None,
                })
                .ok_or_else(|| LoadError::failed(format!("SHOW VIEW {schema}.{name} printed no definition")))?;
            let grants = privileges(tx, &schema, &name)?;
            out.push(DependentView { oid: voi, schema, name, definition, owner, grants });
        }
    }
    Ok(out)
}

/// The rejected rows of the failed COPY, in plain words (after the rollback, where Redshift keeps
/// them).
fn explain_copy_error(db: &mut Client) -> String {
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
