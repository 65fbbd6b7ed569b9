//! What the target holds that a swap depends on: each table's predecessor (owner, grants,
//! ordinary views), and with `--drop-missing` the tables gone from the source schemas. Read in
//! a constant number of catalog queries per export (plus one SHOW VIEW per dependent view and
//! one query per level of views on views), so the cost per table stays flat at thousands of
//! tables.
//!
//! Only what Redshift documents: pg_class, pg_namespace, pg_user and pg_depend (c_join_PG), the
//! owner as pg_user's name (no pg_get_userbyid), the grants from SVV_RELATION_PRIVILEGES
//! (relacl's letters mean other things in Redshift: D is DROP, P is TRUNCATE, A is ALTER;
//! r_PG_DEFAULT_ACL), view definitions from SHOW VIEW.
//! https://docs.aws.amazon.com/redshift/latest/dg/c_join_PG.html
//! https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_RELATION_PRIVILEGES.html

use std::collections::{BTreeSet, HashMap, HashSet};

use pg2redshift_bundle::quote_qualified;
use postgres::Transaction;

use crate::error::LoadError;
use crate::sql::{Privilege, quote_literal};
use crate::steps::{DependentView, OldTable, TargetState};
use crate::store::Committed;

type Name = (String, String);

/// `IN (…)` of literals (names come from bundles: quoted as values, never spliced as SQL).
fn in_list<'a>(values: impl IntoIterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = values.into_iter().map(quote_literal).collect();
    format!("({})", quoted.join(", "))
}

pub fn read_target(tx: &mut Transaction<'_>, export: &[Committed], drop_missing: bool) -> Result<TargetState, LoadError> {
    let schemas: BTreeSet<&str> = export.iter().map(|c| c.bundle.table.schema.as_str()).collect();
    let tables = tables_in(tx, &schemas)?;
    let mut privileges = privileges_in(tx, &schemas)?;
    let late = late_binding_views(tx)?;
    let roots: Vec<u32> =
        export.iter().filter_map(|c| tables.get(&(c.bundle.table.schema.clone(), c.bundle.table.name.clone()))).map(|t| t.0).collect();
    let mut views = ViewGraph::read(tx, &roots, &late)?;
    let view_schemas: BTreeSet<&str> =
        views.found.values().map(|v| v.schema.as_str()).filter(|s| !schemas.contains(s)).collect();
    privileges.extend(privileges_in(tx, &view_schemas)?);
    views.define(tx, &privileges)?;

    let mut target = TargetState::default();
    for c in export {
        let t = &c.bundle.table;
        target.old.push(tables.get(&(t.schema.clone(), t.name.clone())).map(|(oid, owner)| OldTable {
            owner: owner.clone(),
            grants: privileges.get(&(t.schema.clone(), t.name.clone())).cloned().unwrap_or_default(),
            views: views.on(*oid),
        }));
    }
    if drop_missing {
        target.gone = gone_tables(tx, export)?;
    }
    Ok(target)
}

/// Every ordinary table of the schemas: OID and owner by name.
fn tables_in(tx: &mut Transaction<'_>, schemas: &BTreeSet<&str>) -> Result<HashMap<Name, (u32, String)>, LoadError> {
    let rows = tx
        .query(
            &format!(
                "SELECT n.nspname, c.relname, c.oid, u.usename FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 JOIN pg_user u ON u.usesysid = c.relowner WHERE c.relkind = 'r' AND n.nspname IN {}",
                in_list(schemas.iter().copied())
            ),
            &[],
        )
        .map_err(|e| LoadError::failed_sql("reading the tables to replace", e))?;
    Ok(rows.iter().map(|r| ((r.get(0), r.get(1)), (r.get(2), r.get(3)))).collect())
}

/// The privileges granted on every table and view of the schemas.
fn privileges_in(tx: &mut Transaction<'_>, schemas: &BTreeSet<&str>) -> Result<HashMap<Name, Vec<Privilege>>, LoadError> {
    let mut out: HashMap<Name, Vec<Privilege>> = HashMap::new();
    if schemas.is_empty() {
        return Ok(out);
    }
    let rows = tx
        .query(
            &format!(
                "SELECT namespace_name, relation_name, privilege_type, identity_name, identity_type, admin_option \
                 FROM svv_relation_privileges WHERE namespace_name IN {} ORDER BY identity_type, identity_name, privilege_type",
                in_list(schemas.iter().copied())
            ),
            &[],
        )
        .map_err(|e| LoadError::failed_sql("reading the grants", e))?;
    for r in rows {
        out.entry((r.get(0), r.get(1))).or_default().push(Privilege {
            privilege: r.get(2),
            identity: r.get(3),
            identity_type: r.get(4),
            admin: r.get(5),
        });
    }
    Ok(out)
}

/// Late-binding views, which follow the name and need nothing.
/// https://docs.aws.amazon.com/redshift/latest/dg/PG_GET_LATE_BINDING_VIEW_COLS.html
fn late_binding_views(tx: &mut Transaction<'_>) -> Result<HashSet<Name>, LoadError> {
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

/// Ordinary views on the tables and views on those, late-binding views left out. A view's rule
/// depends on what it reads and, internally, on the view: pg_depend joined with itself on the
/// rule finds them, as r_DROP_TABLE's FIND_DEPEND view does (pg_rewrite is not among the
/// catalog tables Redshift documents); one query per level of views on views.
/// https://docs.aws.amazon.com/redshift/latest/dg/r_DROP_TABLE.html
struct ViewGraph {
    /// The views that read each relation.
    readers: HashMap<u32, Vec<u32>>,
    found: HashMap<u32, DependentView>,
}

impl ViewGraph {
    fn read(tx: &mut Transaction<'_>, roots: &[u32], late: &HashSet<Name>) -> Result<ViewGraph, LoadError> {
        let mut graph = ViewGraph { readers: HashMap::new(), found: HashMap::new() };
        let mut seen: HashSet<u32> = roots.iter().copied().collect();
        let mut level: Vec<u32> = roots.to_vec();
        while !level.is_empty() {
            // OIDs come from the catalog, never from a bundle: numbers in the text.
            let oids: Vec<String> = level.iter().map(u32::to_string).collect();
            let rows = tx
                .query(
                    &format!(
                        "SELECT DISTINCT d_p.refobjid, v.oid, n.nspname, v.relname, u.usename \
                         FROM pg_depend d_p JOIN pg_depend d_c ON d_c.objid = d_p.objid AND d_c.classid = d_p.classid \
                         JOIN pg_class v ON v.oid = d_c.refobjid JOIN pg_namespace n ON n.oid = v.relnamespace \
                         JOIN pg_user u ON u.usesysid = v.relowner \
                         WHERE d_p.refobjid IN ({}) AND d_c.deptype = 'i' AND v.relkind = 'v' AND v.oid <> d_p.refobjid",
                        oids.join(", ")
                    ),
                    &[],
                )
                .map_err(|e| LoadError::failed_sql("listing dependent views", e))?;
            let mut next = Vec::new();
            for r in rows {
                let (on, view): (u32, u32) = (r.get(0), r.get(1));
                let (schema, name, owner): (String, String, String) = (r.get(2), r.get(3), r.get(4));
                if late.contains(&(schema.clone(), name.clone())) {
                    continue;
                }
                let readers = graph.readers.entry(on).or_default();
                if !readers.contains(&view) {
                    readers.push(view);
                }
                if seen.insert(view) {
                    next.push(view);
                    graph.found.insert(
                        view,
                        DependentView { oid: view, schema, name, definition: String::new(), owner, grants: Vec::new() },
                    );
                }
            }
            level = next;
        }
        Ok(graph)
    }

    /// Each view's definition (SHOW VIEW, r_SHOW_VIEW: "You can use the output … to recreate
    /// the view") and grants.
    /// https://docs.aws.amazon.com/redshift/latest/dg/r_SHOW_VIEW.html
    fn define(&mut self, tx: &mut Transaction<'_>, privileges: &HashMap<Name, Vec<Privilege>>) -> Result<(), LoadError> {
        for v in self.found.values_mut() {
            let shown = format!("SHOW VIEW {}", quote_qualified(&v.schema, &v.name));
            // The simple protocol: SHOW is a utility statement, not documented for Parse/Bind.
            v.definition = tx
                .simple_query(&shown)
                .map_err(|e| LoadError::failed_sql(&format!("reading the definition of {}.{}", v.schema, v.name), e))?
                .into_iter()
                .find_map(|m| match m {
                    postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                    _ => None,
                })
                .ok_or_else(|| LoadError::failed(format!("SHOW VIEW {}.{} printed no definition", v.schema, v.name)))?;
            v.grants = privileges.get(&(v.schema.clone(), v.name.clone())).cloned().unwrap_or_default();
        }
        Ok(())
    }

    /// The views on `oid` and on those, each once, nearest first.
    fn on(&self, oid: u32) -> Vec<DependentView> {
        let mut out = Vec::new();
        let mut seen = HashSet::from([oid]);
        let mut queue = std::collections::VecDeque::from([oid]);
        while let Some(o) = queue.pop_front() {
            for v in self.readers.get(&o).into_iter().flatten() {
                if seen.insert(*v) {
                    queue.push_back(*v);
                    if let Some(view) = self.found.get(v) {
                        out.push(view.clone());
                    }
                }
            }
        }
        out
    }
}

/// Tables loaded earlier from the export's source schemas that the export no longer holds.
fn gone_tables(tx: &mut Transaction<'_>, export: &[Committed]) -> Result<Vec<Name>, LoadError> {
    let present: HashSet<Name> = export.iter().map(|c| (c.bundle.table.schema.clone(), c.bundle.table.name.clone())).collect();
    let sources: BTreeSet<Name> = export.iter().map(|c| (c.bundle.source.database.clone(), c.bundle.source.schema.clone())).collect();
    // Only in the schemas this export loads into: a bundle cannot make the loader drop tables
    // elsewhere by naming another source.
    let schemas: HashSet<&str> = present.iter().map(|(s, _)| s.as_str()).collect();
    let mut gone = Vec::new();
    let mut listed = HashSet::new();
    for (database, schema) in sources {
        let rows = tx
            .query(
                "SELECT DISTINCT target_schema, target_table FROM pg2redshift_loader.loads \
                 WHERE source_database = $1 AND source_schema = $2 ORDER BY 1, 2",
                &[&database, &schema],
            )
            .map_err(|e| LoadError::failed_sql("reading the load history", e))?;
        for r in rows {
            let table: Name = (r.get(0), r.get(1));
            if schemas.contains(table.0.as_str()) && !present.contains(&table) && listed.insert(table.clone()) {
                gone.push(table);
            }
        }
    }
    Ok(gone)
}
