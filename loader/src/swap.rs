//! One export into Redshift in one transaction: every table is created under a staging name and
//! COPYed from its manifest (the loaded count checked against the bundle) before any old table
//! is touched; then each old table's owner, grants and dependent ordinary views are carried over
//! to the new one, the names are swapped, the old table is dropped, the load is recorded, and
//! the transaction commits. Any failure rolls back: the old tables stand as they were.
//! Late-binding views (WITH NO SCHEMA BINDING) follow the name and need nothing; ordinary views
//! bind to the table itself, so they are re-created on the new one in the same transaction.
//! TRUNCATE and ALTER TABLE APPEND commit implicitly in Redshift and are never used here.

use std::time::{Duration, Instant};

use pg2redshift_bundle::{quote_ident, quote_qualified};
use postgres::{Client, Transaction};

use crate::error::{LoadError, describe};
use crate::report::Reporter;
use crate::sql::{CopyAuth, copy_statement, grants_from_acl, retired_name, staging_name};
use crate::state;
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

struct DependentView {
    schema: String,
    name: String,
    definition: String,
    owner: String,
    acl: Option<String>,
}

fn try_load(
    db: &mut Client,
    export: &[Committed],
    auth: &CopyAuth,
    drop_missing: bool,
    report: &Reporter,
) -> Result<Done, Attempt> {
    let first = &export[0].bundle;
    let mut tx = db.transaction().map_err(|e| LoadError::target_sql("starting the load transaction", e))?;
    // One loader at a time; the second sees what the first committed.
    exec(&mut tx, state::LOCK, "locking the load history")?;
    let mut loaded = 0;
    for c in export {
        let t = &c.bundle.table;
        match state::last_loaded(&mut tx, &t.schema, &t.name)? {
            Some((id, _)) if id == c.bundle.export_id => loaded += 1,
            Some((id, at)) if at > c.bundle.exported_at => {
                return Err(LoadError::Refused(format!(
                    "{}.{} already holds export {id} (taken {at}), newer than {} (taken {}): refusing to load an older export over it",
                    t.schema, t.name, c.bundle.export_id, c.bundle.exported_at
                ))
                .into());
            }
            _ => {}
        }
    }
    if loaded == export.len() {
        return Ok(Done::AlreadyLoaded);
    }
    if loaded > 0 {
        return Err(LoadError::Refused(format!(
            "export {} is recorded as loaded for only some of its tables; refusing to guess",
            first.export_id
        ))
        .into());
    }

    // 1. Every table staged and loaded, before any old table is touched.
    for c in export {
        let b = &c.bundle;
        let t = &b.table;
        let started = Instant::now();
        exec(&mut tx, &format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(&t.schema)), "creating the schema")?;
        let staging = quote_qualified(&t.schema, &staging_name(&t.name));
        exec(&mut tx, &format!("DROP TABLE IF EXISTS {staging}"), "dropping a leftover staging table")?;
        exec(&mut tx, &t.create_table_sql_as(&t.schema, &staging_name(&t.name)), &format!("creating {staging}"))?;
        let copy = copy_statement(b, &c.bucket, auth, false)?;
        let bar = report.copy_started(
            &format!("{}.{}", t.schema, t.name),
            &format!("{}.{}: COPY from {} ({} files, {} rows)", t.schema, t.name, b.manifest_key, b.totals.files, b.totals.rows),
        );
        let result = tx.execute(copy.as_str(), &[]);
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
                let message = format!("COPY into {}.{} failed: {msg}{explained}", t.schema, t.name);
                return Err(LoadError::Failed { message, source: Some(Box::new(e)) }.into());
            }
        };
        if n != b.totals.rows {
            return Err(LoadError::failed(format!(
                "{}.{}: COPY loaded {n} rows but the export holds {}; nothing was changed",
                t.schema, t.name, b.totals.rows
            ))
            .into());
        }
        report.table_loaded(&t.schema, &t.name, n, started.elapsed());
    }

    // 2. Every lock the swap needs, in one statement, before any is used: views (outermost
    // first, as a query on a view locks it before its tables), then the tables in export order.
    // Readers hold nothing the loader waits for while it holds something they need, unless one
    // statement reads these tables in another order.
    let mut tables = Vec::new();
    let mut views = Vec::new();
    for c in export {
        let t = &c.bundle.table;
        let found = tx
            .query(
                "SELECT c.oid::int8 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'r'",
                &[&t.schema, &t.name],
            )
            .map_err(|e| LoadError::failed_sql(&format!("reading {}.{}", t.schema, t.name), e))?;
        if let Some(r) = found.first() {
            tables.push(quote_qualified(&t.schema, &t.name));
            for v in dependents(&mut tx, r.get(0), false)? {
                let name = quote_qualified(&v.schema, &v.name);
                if !views.contains(&name) {
                    views.push(name);
                }
            }
        }
    }
    if !tables.is_empty() {
        views.reverse();
        let all: Vec<String> = views.into_iter().chain(tables).collect();
        exec(&mut tx, &format!("LOCK {}", all.join(", ")), "locking the tables to swap")?;
    }

    // 3. The swap, table by table, in the same transaction.
    for c in export {
        let t = &c.bundle.table;
        let target = quote_qualified(&t.schema, &t.name);
        let old = tx
            .query(
                "SELECT c.oid::int8, pg_get_userbyid(c.relowner)::text, c.relacl::text FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'r'",
                &[&t.schema, &t.name],
            )
            .map_err(|e| LoadError::failed_sql(&format!("reading {target}"), e))?;
        if let Some(row) = old.first() {
            let (oid, owner, acl): (i64, String, Option<String>) = (row.get(0), row.get(1), row.get(2));
            let views = dependent_views(&mut tx, oid)?;
            for v in views.iter().rev() {
                exec(&mut tx, &format!("DROP VIEW {}", quote_qualified(&v.schema, &v.name)), "dropping a dependent view")?;
            }
            exec(
                &mut tx,
                &format!("ALTER TABLE {target} RENAME TO {}", quote_ident(&retired_name(&t.name))),
                "renaming the old table",
            )?;
            exec(
                &mut tx,
                &format!(
                    "ALTER TABLE {} RENAME TO {}",
                    quote_qualified(&t.schema, &staging_name(&t.name)),
                    quote_ident(&t.name)
                ),
                "renaming the new table",
            )?;
            exec(&mut tx, &format!("ALTER TABLE {target} OWNER TO {}", quote_ident(&owner)), "carrying over the owner")?;
            for g in grants_from_acl(acl.as_deref().unwrap_or("{}"), &owner, &target) {
                exec(&mut tx, &g, "carrying over a grant")?;
            }
            exec(
                &mut tx,
                &format!("DROP TABLE {}", quote_qualified(&t.schema, &retired_name(&t.name))),
                "dropping the old table",
            )?;
            for v in &views {
                let name = quote_qualified(&v.schema, &v.name);
                let def = v.definition.trim().trim_end_matches(';');
                exec(&mut tx, &format!("CREATE VIEW {name} AS {def}"), &format!("re-creating the view {name}"))?;
                exec(&mut tx, &format!("ALTER TABLE {name} OWNER TO {}", quote_ident(&v.owner)), "carrying over a view's owner")?;
                for g in grants_from_acl(v.acl.as_deref().unwrap_or("{}"), &v.owner, &name) {
                    exec(&mut tx, &g, "carrying over a view's grant")?;
                }
            }
            if !views.is_empty() {
                report.line("views", &format!("{target}: re-created {} dependent view(s) on the new table", views.len()));
            }
        } else {
            exec(
                &mut tx,
                &format!(
                    "ALTER TABLE {} RENAME TO {}",
                    quote_qualified(&t.schema, &staging_name(&t.name)),
                    quote_ident(&t.name)
                ),
                "renaming the new table",
            )?;
        }
        let b = &c.bundle;
        tx.execute(
            "INSERT INTO pg2redshift_loader.loads VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, getdate())",
            &[
                &t.schema,
                &t.name,
                &b.export_id,
                &b.exported_at,
                &b.source.database,
                &b.source.schema,
                &b.source.table,
                &(b.totals.rows as i64),
                &(b.totals.files as i32),
                &c.url(),
            ],
        )
        .map_err(|e| LoadError::failed_sql("recording the load", e))?;
    }
    if drop_missing {
        drop_gone_tables(&mut tx, export, report)?;
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

/// Drops the tables loaded from the export's source schemas that the export no longer holds.
fn drop_gone_tables(tx: &mut Transaction<'_>, export: &[Committed], report: &Reporter) -> Result<(), Attempt> {
    let present: Vec<(String, String)> =
        export.iter().map(|c| (c.bundle.table.schema.clone(), c.bundle.table.name.clone())).collect();
    let mut sources: Vec<(String, String)> =
        export.iter().map(|c| (c.bundle.source.database.clone(), c.bundle.source.schema.clone())).collect();
    sources.dedup();
    for (database, schema) in sources {
        let rows = tx
            .query(
                "SELECT DISTINCT target_schema, target_table FROM pg2redshift_loader.loads \
                 WHERE source_database = $1 AND source_schema = $2",
                &[&database, &schema],
            )
            .map_err(|e| LoadError::failed_sql("reading the load history", e))?;
        for r in rows {
            let (ts, tt): (String, String) = (r.get(0), r.get(1));
            if present.contains(&(ts.clone(), tt.clone())) {
                continue;
            }
            let name = quote_qualified(&ts, &tt);
            exec(tx, &format!("DROP TABLE IF EXISTS {name}"), &format!("dropping {name}, gone from the source"))?;
            tx.execute("DELETE FROM pg2redshift_loader.loads WHERE target_schema = $1 AND target_table = $2", &[&ts, &tt])
                .map_err(|e| LoadError::failed_sql("updating the load history", e))?;
            report.line("dropped", &format!("{ts}.{tt}: dropped (no longer in {database}/{schema})"));
        }
    }
    Ok(())
}

/// Ordinary views on the table, and views on those, in creation order. Late-binding views are
/// left alone: they follow the name.
fn dependent_views(tx: &mut Transaction<'_>, table_oid: i64) -> Result<Vec<DependentView>, Attempt> {
    dependents(tx, table_oid, true)
}

/// Views on the table and views on those, in creation order; `ordinary_only` leaves out
/// late-binding views.
fn dependents(tx: &mut Transaction<'_>, table_oid: i64, ordinary_only: bool) -> Result<Vec<DependentView>, Attempt> {
    if !ordinary_only {
        return views_on(tx, table_oid, &[]);
    }
    let late: Vec<(String, String)> = tx
        .query(
            "SELECT DISTINCT view_schema::text, view_name::text FROM pg_get_late_binding_view_cols() \
             cols(view_schema name, view_name name, col_name name, col_type varchar, col_num int)",
            &[],
        )
        .map_err(|e| LoadError::failed_sql("listing late-binding views", e))?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    views_on(tx, table_oid, &late)
}

fn views_on(tx: &mut Transaction<'_>, table_oid: i64, late: &[(String, String)]) -> Result<Vec<DependentView>, Attempt> {
    let mut out: Vec<DependentView> = Vec::new();
    let mut queue = vec![table_oid];
    let mut seen = vec![table_oid];
    while let Some(oid) = queue.pop() {
        let rows = tx
            .query(
                "SELECT DISTINCT v.oid::int8, n.nspname::text, v.relname::text, pg_get_viewdef(v.oid)::text, \
                 pg_get_userbyid(v.relowner)::text, v.relacl::text \
                 FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class \
                 JOIN pg_namespace n ON n.oid = v.relnamespace \
                 WHERE d.refobjid = CAST($1 AS int8)::oid AND v.oid <> d.refobjid AND v.relkind = 'v'",
                &[&oid],
            )
            .map_err(|e| LoadError::failed_sql("listing dependent views", e))?;
        for r in rows {
            let voi: i64 = r.get(0);
            let (schema, name): (String, String) = (r.get(1), r.get(2));
            if seen.contains(&voi) || late.iter().any(|(s, n)| s == &schema && n == &name) {
                continue;
            }
            seen.push(voi);
            queue.push(voi);
            out.push(DependentView { schema, name, definition: r.get(3), owner: r.get(4), acl: r.get(5) });
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
