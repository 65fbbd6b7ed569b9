//! The statements of one load, built once, each with its purpose: `load` runs this list in
//! order and `plan` prints it (secrets redacted), so the two cannot drift apart. Pure: what
//! the target holds comes in as a [`TargetState`] read by the caller.

use pg2redshift_bundle::{quote_ident, quote_qualified};

use crate::error::LoadError;
use crate::sql::{CopyAuth, Privilege, copy_statement, grant_statements, quote_literal, retired_name, staging_name};
use crate::state;
use crate::store::Committed;

/// How the loader runs a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run it; any error fails the load.
    Run,
    /// A COPY whose loaded row count must equal the bundle's.
    Copy { table: String, rows: u64 },
    /// The LOCK of the swap: once it is held, what the target holds is read again and must be
    /// what these steps were built from.
    Lock,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub purpose: String,
    /// What runs.
    pub sql: String,
    /// What is printed: `sql` with secrets redacted.
    pub shown: String,
    pub action: Action,
    /// A line for the report once the step succeeded: (event, message).
    pub note: Option<(&'static str, String)>,
}

impl Step {
    /// The part of a load this step belongs to, for the loader's timings.
    pub fn phase(&self) -> &'static str {
        let p = self.purpose.as_str();
        match self.action {
            Action::Copy { .. } => "copy",
            Action::Lock => "lock",
            Action::Run if p.contains("history") || p.starts_with("recording") => "history",
            Action::Run if p.contains("view") => "views",
            Action::Run if p.starts_with("carrying over") => "grants and owners",
            Action::Run if p.contains("staging") || p.starts_with("creating") || p.starts_with("staging") => "staging DDL",
            Action::Run => "swap",
        }
    }
}

pub(crate) fn run(purpose: impl Into<String>, sql: String) -> Step {
    Step { purpose: purpose.into(), shown: sql.clone(), sql, action: Action::Run, note: None }
}

/// An ordinary view on a table being replaced, or on such a view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependentView {
    /// Its OID: a view is created after the views it reads, so OID order is an order in which
    /// they can be created again.
    pub oid: u32,
    pub schema: String,
    pub name: String,
    pub definition: String,
    pub owner: String,
    /// The privileges granted on it (SVV_RELATION_PRIVILEGES).
    pub grants: Vec<Privilege>,
}

/// The table a new one replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OldTable {
    pub owner: String,
    /// The privileges granted on it (SVV_RELATION_PRIVILEGES).
    pub grants: Vec<Privilege>,
    /// Ordinary views to drop and re-create, in creation order.
    pub views: Vec<DependentView>,
}

/// What the target holds that the swap depends on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetState {
    /// One entry per table of the export, in export order: the table it replaces, if any.
    pub old: Vec<Option<OldTable>>,
    /// Tables loaded earlier from the export's source schemas that it no longer holds (only
    /// with `--drop-missing`).
    pub gone: Vec<(String, String)>,
}

/// The first step of every load: one loader at a time.
pub fn lock_history() -> Step {
    run("locking the load history", state::LOCK.to_string())
}

/// Every table created under its staging name and COPYed, before any old table is touched.
/// Statements as documented in r_CREATE_SCHEMA (IF NOT EXISTS), r_DROP_TABLE (IF EXISTS),
/// r_CREATE_TABLE_NEW and r_COPY (see `sql::copy_statement`); the audit is in DESIGN.md §6.
pub fn stage(export: &[Committed], auth: &CopyAuth) -> Result<Vec<Step>, LoadError> {
    let mut steps = Vec::new();
    let mut schemas = std::collections::HashSet::new();
    for c in export {
        let t = &c.bundle.table;
        let staging = quote_qualified(&t.schema, &staging_name(&t.name));
        // Once per schema: an export of thousands of tables in one schema needs it once.
        if schemas.insert(t.schema.as_str()) {
            steps.push(run("creating the schema", format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(&t.schema))));
        }
        steps.push(run("dropping a leftover staging table", format!("DROP TABLE IF EXISTS {staging}")));
        steps.push(run(format!("creating {staging}"), t.create_table_sql_as(&t.schema, &staging_name(&t.name))));
        steps.push(Step {
            purpose: format!("loading {staging} from {} ({} files, {} rows)", c.bundle.manifest_key, c.bundle.totals.files, c.bundle.totals.rows),
            sql: copy_statement(&c.bundle, &c.bucket, auth, false)?,
            shown: copy_statement(&c.bundle, &c.bucket, auth, true)?,
            action: Action::Copy { table: format!("{}.{}", t.schema, t.name), rows: c.bundle.totals.rows },
            note: None,
        });
    }
    Ok(steps)
}

impl TargetState {
    /// Every ordinary view on the old tables once, in an order they can be created in.
    pub fn views(&self) -> Vec<&DependentView> {
        let mut views: Vec<&DependentView> = Vec::new();
        for v in self.old.iter().flatten().flat_map(|old| &old.views) {
            if !views.iter().any(|w| w.oid == v.oid) {
                views.push(v);
            }
        }
        views.sort_by_key(|v| v.oid);
        views
    }

    /// What the target holds once the swap's first steps dropped the views.
    pub fn without_views(&self) -> TargetState {
        let mut state = self.clone();
        for old in state.old.iter_mut().flatten() {
            old.views.clear();
        }
        state
    }
}

/// The swap, given what the target holds: the ordinary views on the old tables dropped
/// (outermost first: a reader locks a view before its tables, and Redshift cannot LOCK a view,
/// so dropping them first takes their locks in a reader's order); one LOCK of the old tables;
/// per table the names swapped, owner and grants carried over, the old table dropped and the
/// load recorded; the views re-created with their owners and grants; then the gone tables
/// dropped. Documented forms only: r_DROP_VIEW, r_LOCK (tables only), r_ALTER_TABLE (RENAME TO,
/// and OWNER TO for tables and views alike), r_GRANT, r_CREATE_VIEW, r_INSERT_30, r_DELETE.
pub fn swap(export: &[Committed], target: &TargetState) -> Vec<Step> {
    let mut steps = Vec::new();
    let views = target.views();
    for v in views.iter().rev() {
        steps.push(run("dropping a dependent view", format!("DROP VIEW {}", quote_qualified(&v.schema, &v.name))));
    }
    let old_tables: Vec<String> = export
        .iter()
        .zip(&target.old)
        .filter(|(_, old)| old.is_some())
        .map(|(c, _)| quote_qualified(&c.bundle.table.schema, &c.bundle.table.name))
        .collect();
    if !old_tables.is_empty() {
        let sql = format!("LOCK {}", old_tables.join(", "));
        steps.push(Step { purpose: "locking the tables to swap".into(), shown: sql.clone(), sql, action: Action::Lock, note: None });
    }
    for (c, old) in export.iter().zip(&target.old) {
        let t = &c.bundle.table;
        let target_name = quote_qualified(&t.schema, &t.name);
        let rename_new = run(
            "renaming the new table",
            format!("ALTER TABLE {} RENAME TO {}", quote_qualified(&t.schema, &staging_name(&t.name)), quote_ident(&t.name)),
        );
        match old {
            None => steps.push(rename_new),
            Some(old) => {
                steps.push(run(
                    "renaming the old table",
                    format!("ALTER TABLE {target_name} RENAME TO {}", quote_ident(&retired_name(&t.name))),
                ));
                steps.push(rename_new);
                steps.push(run("carrying over the owner", format!("ALTER TABLE {target_name} OWNER TO {}", quote_ident(&old.owner))));
                for g in grant_statements(&old.grants, &old.owner, &target_name) {
                    steps.push(run("carrying over a grant", g));
                }
                steps.push(run("dropping the old table", format!("DROP TABLE {}", quote_qualified(&t.schema, &retired_name(&t.name)))));
            }
        }
        steps.push(record(c));
    }
    for v in &views {
        let name = quote_qualified(&v.schema, &v.name);
        let def = v.definition.trim().trim_end_matches(';');
        steps.push(run(format!("re-creating the view {name}"), format!("CREATE VIEW {name} AS {def}")));
        steps.push(run("carrying over a view's owner", format!("ALTER TABLE {name} OWNER TO {}", quote_ident(&v.owner))));
        for g in grant_statements(&v.grants, &v.owner, &name) {
            steps.push(run("carrying over a view's grant", g));
        }
    }
    if let (Some(last), false) = (steps.last_mut(), views.is_empty()) {
        last.note = Some(("views", format!("re-created {} dependent view(s) on the new tables", views.len())));
    }
    // A change stream's base: its batches apply from here.
    if let Some(position) = export.first().and_then(|c| c.stream.as_ref()) {
        let b = &export[0].bundle;
        for sql in state::record_stream(&b.source.database, &position.stream, &b.export_id, &position.to_lsn, &b.export_id) {
            steps.push(run(format!("recording the base of change stream {}", position.stream), sql));
        }
    }
    for (schema, table) in &target.gone {
        let name = quote_qualified(schema, table);
        steps.push(run(format!("dropping {name}, gone from the source"), format!("DROP TABLE IF EXISTS {name}")));
        let mut forget = run(
            "updating the load history",
            format!(
                "DELETE FROM pg2redshift_loader.loads WHERE target_schema = {} AND target_table = {}",
                quote_literal(schema),
                quote_literal(table)
            ),
        );
        forget.note = Some(("dropped", format!("{schema}.{table}: dropped (no longer in its source schema)")));
        steps.push(forget);
    }
    steps
}

/// The row of the load history for one table, in the load's own transaction.
pub(crate) fn record(c: &Committed) -> Step {
    let b = &c.bundle;
    let values = [
        quote_literal(&b.table.schema),
        quote_literal(&b.table.name),
        quote_literal(&b.export_id),
        quote_literal(&b.exported_at),
        quote_literal(&b.source.database),
        quote_literal(&b.source.schema),
        quote_literal(&b.source.table),
        b.totals.rows.to_string(),
        b.totals.files.to_string(),
        quote_literal(&c.url()),
        "getdate()".to_string(),
    ];
    run("recording the load", format!("INSERT INTO pg2redshift_loader.loads VALUES ({})", values.join(", ")))
}

#[cfg(test)]
pub(crate) mod tests;
