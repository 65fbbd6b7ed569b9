//! The statements that apply one table's part of a change batch (bundle kind `changes`), built
//! once with their purposes like a full load's ([`crate::steps`]). Each file row is already the
//! final state of one primary key after the batch (collapsed by the exporter in commit order,
//! `pg2redshift_core::collapse`), so no key appears twice and a plain delete-and-insert applies
//! it: stage the rows, fill the columns the batch left unchanged (TOASTed values not sent) from
//! the target's row under the key the row had before the batch, delete every key the batch
//! touched (after a TRUNCATE in the batch, every row), insert the `U` rows, record the load.
//! Columns the source table gained come first (ALTER TABLE ADD COLUMN, and the value the rows
//! that existed then have). Statements as documented in r_CREATE_TABLE_NEW, r_COPY, r_ALTER_TABLE,
//! r_UPDATE (FROM), r_DELETE (USING),
//! r_INSERT_30 (INSERT … SELECT) and SUBSTRING; no TRUNCATE, which commits in Redshift.

use pg2redshift_bundle::{Bundle, ChangeFile, quote_ident, quote_qualified};

use crate::error::LoadError;
use crate::sql::{CopyAuth, changes_name, copy_into};
use crate::steps::{Action, Step, record, run};
use crate::store::Committed;

/// The staging table's leading columns: operation, LSN, fill mask (the change file's).
const META: [(&str, &str); 3] = [("pg2rs_op", "CHAR(1)"), ("pg2rs_lsn", "VARCHAR(20)"), ("pg2rs_fill", "VARCHAR(1600)")];

fn fill_key_column(i: usize) -> String {
    format!("pg2rs_fill_{}", i + 1)
}

/// The batch's layout of this table's files, and the names the staging table uses.
struct Layout<'a> {
    bundle: &'a Bundle,
    change: &'a ChangeFile,
    target: String,
    staging: String,
}

fn layout(c: &Committed) -> Result<Layout<'_>, LoadError> {
    let b = &c.bundle;
    let change = b.change_file.as_ref().ok_or_else(|| LoadError::Refused(format!("{}: refused: a change bundle without its layout", c.url())))?;
    let t = &b.table;
    for reserved in META.iter().map(|m| m.0.to_string()).chain((0..change.key.len()).map(fill_key_column)) {
        if t.columns.iter().any(|col| col.name == reserved) {
            return Err(LoadError::Refused(format!("{}: refused: column {reserved} of {}.{} is a name the loader stages with", c.url(), t.schema, t.name)));
        }
    }
    for k in change.key.iter().chain(&change.fill_columns).chain(&change.added_columns).chain(&change.backfilled_columns) {
        if !t.columns.iter().any(|col| &col.name == k) {
            return Err(LoadError::Refused(format!("{}: refused: it names column {k}, which {}.{} does not have", c.url(), t.schema, t.name)));
        }
    }
    if change.key.is_empty() {
        return Err(LoadError::Refused(format!("{}: refused: a change bundle without a key", c.url())));
    }
    Ok(Layout {
        bundle: b,
        change,
        target: quote_qualified(&t.schema, &t.name),
        staging: quote_qualified(&t.schema, &changes_name(&t.name)),
    })
}

impl Layout<'_> {
    fn data_type(&self, column: &str) -> String {
        self.bundle.table.columns.iter().find(|c| c.name == column).map(|c| c.data_type.to_string()).unwrap_or_default()
    }

    /// `t.k = s.<key columns>` for every key column.
    fn key_match(&self, t: &str, s: &str, fill_key: bool) -> String {
        let parts: Vec<String> = self
            .change
            .key
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let right = if fill_key { quote_ident(&fill_key_column(i)) } else { quote_ident(k) };
                format!("{t}.{} = {s}.{right}", quote_ident(k))
            })
            .collect();
        parts.join(" AND ")
    }
}

/// Stage the table's rows: a fresh staging table, COPYed from the batch's manifest.
pub fn stage(c: &Committed, auth: &CopyAuth) -> Result<Vec<Step>, LoadError> {
    let l = layout(c)?;
    let t = &l.bundle.table;
    let mut columns: Vec<(String, String)> = META.iter().map(|(n, ty)| (n.to_string(), ty.to_string())).collect();
    for (i, k) in l.change.key.iter().enumerate() {
        columns.push((fill_key_column(i), l.data_type(k)));
    }
    columns.extend(t.columns.iter().map(|col| (col.name.clone(), col.data_type.to_string())));
    let defs: Vec<String> = columns.iter().map(|(n, ty)| format!("{} {ty}", quote_ident(n))).collect();
    let names: Vec<String> = columns.iter().map(|(n, _)| quote_ident(n)).collect();
    let copy = |redact| copy_into(l.bundle, &l.staging, &names, &c.bucket, auth, redact);
    Ok(vec![
        run("dropping a leftover staging table", format!("DROP TABLE IF EXISTS {}", l.staging)),
        run(format!("creating {}", l.staging), format!("CREATE TABLE {} ({})", l.staging, defs.join(", "))),
        Step {
            purpose: format!("loading {} from {} ({} rows)", l.staging, l.bundle.manifest_key, l.bundle.totals.rows),
            sql: copy(false)?,
            shown: copy(true)?,
            action: Action::Copy { table: format!("{}.{}", t.schema, t.name), rows: l.bundle.totals.rows },
            note: None,
        },
    ])
}

/// Add the columns the source table gained, and give the rows already in Redshift the value
/// PostgreSQL gave the rows that existed then (the batch's `A` row). r_ALTER_TABLE: one column
/// per ADD COLUMN, allowed in a transaction block (only external tables are not).
pub fn add_columns(c: &Committed) -> Result<Vec<Step>, LoadError> {
    let l = layout(c)?;
    let mut steps = Vec::new();
    for name in &l.change.added_columns {
        steps.push(run(
            format!("adding column {name} to {}", l.target),
            format!("ALTER TABLE {} ADD COLUMN {} {}", l.target, quote_ident(name), l.data_type(name)),
        ));
    }
    if !l.change.backfilled_columns.is_empty() {
        let sets: Vec<String> = l.change.backfilled_columns.iter().map(|n| format!("{0} = s.{0}", quote_ident(n))).collect();
        steps.push(run(
            format!("giving the rows already in {} the new columns' values", l.target),
            format!("UPDATE {} SET {} FROM {} s WHERE s.pg2rs_op = 'A'", l.target, sets.join(", "), l.staging),
        ));
    }
    Ok(steps)
}

/// Fill the columns left unchanged from the target's rows: by the key each row had before the
/// batch, or (`by_own_key`, only where the batch may overlap the base snapshot) by its own key.
/// A row is marked filled (its mask cleared) once a target row was found for it.
pub fn fill(c: &Committed, by_own_key: bool) -> Result<Vec<Step>, LoadError> {
    let l = layout(c)?;
    if l.change.fill_columns.is_empty() {
        return Ok(Vec::new());
    }
    let join = l.key_match("t", "s", !by_own_key);
    let mut steps = Vec::new();
    for name in &l.change.fill_columns {
        let position = l.bundle.table.columns.iter().position(|col| &col.name == name).unwrap_or_default() + 1;
        let column = quote_ident(name);
        steps.push(run(
            format!("filling {name} from the rows already in {}", l.target),
            format!(
                "UPDATE {} s SET {column} = t.{column} FROM {} t WHERE s.pg2rs_fill IS NOT NULL AND SUBSTRING(s.pg2rs_fill, {position}, 1) = '1' AND {join}",
                l.staging, l.target
            ),
        ));
    }
    steps.push(run(
        "marking the filled rows",
        format!("UPDATE {} s SET pg2rs_fill = NULL FROM {} t WHERE s.pg2rs_fill IS NOT NULL AND {join}", l.staging, l.target),
    ));
    Ok(steps)
}

/// How many rows still lack a value the target was to give.
pub fn unfilled_sql(c: &Committed) -> Result<String, LoadError> {
    let l = layout(c)?;
    Ok(format!("SELECT count(*) FROM {} WHERE pg2rs_fill IS NOT NULL", l.staging))
}

/// Leaves out rows nothing could be filled from (only where the batch may overlap the base).
pub fn drop_unfilled(c: &Committed) -> Result<Step, LoadError> {
    let l = layout(c)?;
    Ok(run("leaving out rows whose unchanged values are in no row of the target", format!("DELETE FROM {} WHERE pg2rs_fill IS NOT NULL", l.staging)))
}

/// Delete what the batch replaces or removes, insert the final rows, record the load.
pub fn apply(c: &Committed) -> Result<Vec<Step>, LoadError> {
    let l = layout(c)?;
    let mut steps = Vec::new();
    if l.change.truncated {
        steps.push(run(format!("emptying {} (TRUNCATE in the source)", l.target), format!("DELETE FROM {}", l.target)));
    }
    // r_DELETE's USING takes table names, no aliases: columns are qualified by the bare names
    // (both tables are in one schema, under different names).
    let t = &l.bundle.table;
    let matched = l.key_match(&quote_ident(&t.name), &quote_ident(&changes_name(&t.name)), false);
    steps.push(run(
        format!("deleting the rows the batch replaces or removes from {}", l.target),
        format!("DELETE FROM {} USING {} WHERE {matched}", l.target, l.staging),
    ));
    let columns: Vec<String> = l.bundle.table.columns.iter().map(|col| quote_ident(&col.name)).collect();
    let list = columns.join(", ");
    steps.push(run(
        format!("inserting the batch's rows into {}", l.target),
        format!("INSERT INTO {} ({list}) SELECT {list} FROM {} WHERE pg2rs_op = 'U'", l.target, l.staging),
    ));
    steps.push(run("dropping the staging table", format!("DROP TABLE {}", l.staging)));
    steps.push(record(c));
    Ok(steps)
}

#[cfg(test)]
mod tests;
