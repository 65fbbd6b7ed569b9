//! `redshift_ddl()` and `redshift_columns()`: review what a relation becomes in Redshift
//! before any data moves.

use pg2redshift_core::{DefinitionError, MappingOptions, TableOptions, TablePlan, plan_table};
use pgrx::PgRelation;
use pgrx::prelude::*;

use crate::catalog::read_relation;
use crate::error::ExportError;
use pgrx::pg_sys::panic::ErrorReport;

/// Builds the options shared by the DDL functions (and, later, the export functions).
#[allow(clippy::too_many_arguments)]
pub fn table_options(
    target_schema: Option<&str>,
    target_table: Option<&str>,
    diststyle: Option<&str>,
    distkey: Option<&str>,
    sortkey: Option<Vec<Option<String>>>,
    sortkey_style: Option<&str>,
    numeric_scale: Option<i32>,
) -> Result<TableOptions, ExportError> {
    let default_scale = i32::from(MappingOptions::default().numeric_scale);
    let numeric_scale = numeric_scale.unwrap_or(default_scale);
    let numeric_scale = u8::try_from(numeric_scale)
        .ok()
        .filter(|s| *s <= pg2redshift_bundle::redshift::DECIMAL_MAX_SCALE)
        .ok_or_else(|| DefinitionError::InvalidOption {
            option: "numeric_scale",
            value: numeric_scale.to_string(),
            expected: "a scale from 0 to 37",
        })?;
    let sortkey = match sortkey {
        None => None,
        Some(names) => Some(
            names
                .into_iter()
                .map(|n| {
                    n.ok_or(DefinitionError::InvalidOption {
                        option: "sortkey",
                        value: "NULL".into(),
                        expected: "column names, none of them NULL",
                    })
                })
                .collect::<Result<Vec<String>, _>>()?,
        ),
    };
    Ok(TableOptions {
        target_schema: target_schema.map(str::to_string),
        target_table: target_table.map(str::to_string),
        diststyle: diststyle.map(str::to_string),
        distkey: distkey.map(str::to_string),
        sortkey,
        sortkey_style: sortkey_style.map(str::to_string),
        mapping: MappingOptions { numeric_scale },
    })
}

fn plan(rel: &PgRelation, options: Result<TableOptions, ExportError>) -> Result<TablePlan, ExportError> {
    let options = options?;
    let relation = read_relation(rel.oid())?;
    Ok(plan_table(&relation.schema, &relation.name, &relation.columns, &relation.primary_key, &options)?)
}

/// The exact CREATE TABLE the loader runs in Redshift for this relation.
#[pg_extern(stable, parallel_safe)]
#[allow(clippy::too_many_arguments)]
fn redshift_ddl(
    rel: Option<PgRelation>,
    target_schema: default!(Option<&str>, "NULL"),
    target_table: default!(Option<&str>, "NULL"),
    diststyle: default!(Option<&str>, "NULL"),
    distkey: default!(Option<&str>, "NULL"),
    sortkey: default!(Option<Vec<Option<String>>>, "NULL"),
    sortkey_style: default!(Option<&str>, "NULL"),
    numeric_scale: default!(Option<i32>, 10),
) -> Result<Option<String>, ErrorReport> {
    // NULL in, NULL out, as a STRICT function would (the options make it non-strict).
    let Some(rel) = rel else { return Ok(None) };
    let options = table_options(target_schema, target_table, diststyle, distkey, sortkey, sortkey_style, numeric_scale);
    Ok(Some(plan(&rel, options)?.table.create_table_sql()))
}

/// One row per exported column: its name and type on both sides, and why where they differ.
#[pg_extern(stable, parallel_safe)]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn redshift_columns(
    rel: Option<PgRelation>,
    target_schema: default!(Option<&str>, "NULL"),
    target_table: default!(Option<&str>, "NULL"),
    diststyle: default!(Option<&str>, "NULL"),
    distkey: default!(Option<&str>, "NULL"),
    sortkey: default!(Option<Vec<Option<String>>>, "NULL"),
    sortkey_style: default!(Option<&str>, "NULL"),
    numeric_scale: default!(Option<i32>, 10),
) -> Result<TableIterator<
    'static,
    (
        name!(position, i32),
        name!(source_name, String),
        name!(source_type, String),
        name!(redshift_name, String),
        name!(redshift_type, String),
        name!(nullable, bool),
        name!(note, Option<String>),
    ),
>, ErrorReport> {
    let Some(rel) = rel else {
        return Ok(TableIterator::new(Vec::new()));
    };
    let options = table_options(target_schema, target_table, diststyle, distkey, sortkey, sortkey_style, numeric_scale);
    let plan = plan(&rel, options)?;
    let rows: Vec<_> = plan
        .columns
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            (
                i as i32 + 1,
                c.source_name,
                c.declared_type,
                c.target_name,
                c.mapping.redshift.to_string(),
                !c.not_null,
                c.mapping.note,
            )
        })
        .collect();
    Ok(TableIterator::new(rows))
}
