//! A stream's row in `redshift_cdc_stream`: read as the caller (exporters may read it), written
//! as the extension's owner. The tables' columns as captured at the start (`spec`) travel as
//! JSON.

use pg2redshift_core::changes::{ColumnSpec, TableSpec};
use pg2redshift_core::pgoutput::Lsn;
use pgrx::pg_sys;
use pgrx::prelude::*;
use serde::{Deserialize, Serialize};

use super::owner::Owner;
use crate::error::ExportError;

pub struct Stream {
    pub name: String,
    pub tables: Vec<pg_sys::Oid>,
    pub spec: Vec<TableSpec>,
    pub destination: Option<String>,
    pub target_schema: Option<String>,
    pub on_unrepresentable: Option<String>,
    pub numeric_scale: i32,
    pub slot: String,
    pub publication: String,
    pub base_export_id: Option<String>,
    pub overlap_until: Option<Lsn>,
    /// Where the next batch starts.
    pub position: Option<Lsn>,
}

#[derive(Serialize, Deserialize)]
struct SpecJson {
    oid: u32,
    schema: String,
    name: String,
    columns: Vec<(String, u32, i32)>,
    key: Vec<usize>,
}

pub fn spec_to_json(spec: &[TableSpec]) -> Result<String, ExportError> {
    let list: Vec<SpecJson> = spec
        .iter()
        .map(|t| SpecJson {
            oid: t.oid,
            schema: t.schema.clone(),
            name: t.name.clone(),
            columns: t.columns.iter().map(|c| (c.name.clone(), c.type_oid, c.typmod)).collect(),
            key: t.key.clone(),
        })
        .collect();
    serde_json::to_string(&list).map_err(ExportError::Serialize)
}

fn spec_from_json(text: &str) -> Result<Vec<TableSpec>, ExportError> {
    let list: Vec<SpecJson> =
        serde_json::from_str(text).map_err(|e| ExportError::Internal(format!("a stream's table list is unreadable: {e}")))?;
    Ok(list
        .into_iter()
        .map(|t| TableSpec {
            oid: t.oid,
            schema: t.schema,
            name: t.name,
            columns: t.columns.into_iter().map(|(name, type_oid, typmod)| ColumnSpec { name, type_oid, typmod }).collect(),
            key: t.key,
        })
        .collect())
}

fn lsn(text: Option<String>) -> Result<Option<Lsn>, ExportError> {
    text.map(|t| t.parse::<Lsn>().map_err(|e| ExportError::Internal(e.to_string()))).transpose()
}

/// The stream named `name`; an unknown name is an error saying so.
pub fn read(owner: &Owner, name: &str) -> Result<Stream, ExportError> {
    let sql = format!(
        "SELECT name, tables::pg_catalog.int8[], spec::pg_catalog.text, destination, target_schema, on_unrepresentable,
                numeric_scale, slot_name::pg_catalog.text, publication::pg_catalog.text, base_export_id,
                overlap_until::pg_catalog.text, next_lsn::pg_catalog.text
         FROM {}.redshift_cdc_stream WHERE name OPERATOR(pg_catalog.=) $1",
        owner.schema
    );
    let row = Spi::connect(|client| {
        let rows = client.select(&sql, Some(1), &[name.into()])?;
        if rows.is_empty() {
            return Ok(None);
        }
        let r = rows.first();
        Ok::<_, pgrx::spi::SpiError>(Some((
            r.get::<Vec<i64>>(2)?.unwrap_or_default(),
            r.get::<String>(3)?.unwrap_or_default(),
            r.get::<String>(4)?,
            r.get::<String>(5)?,
            r.get::<String>(6)?,
            r.get::<i32>(7)?.unwrap_or(10),
            r.get::<String>(8)?.unwrap_or_default(),
            r.get::<String>(9)?.unwrap_or_default(),
            r.get::<String>(10)?,
            r.get::<String>(11)?,
            r.get::<String>(12)?,
        )))
    })?;
    let Some((tables, spec, destination, target_schema, on_unrepresentable, numeric_scale, slot, publication, base, overlap, position)) =
        row
    else {
        return Err(ExportError::UnknownStream(name.to_string()));
    };
    Ok(Stream {
        name: name.to_string(),
        tables: tables.into_iter().map(|o| pg_sys::Oid::from(o as u32)).collect(),
        spec: spec_from_json(&spec)?,
        destination,
        target_schema,
        on_unrepresentable,
        numeric_scale,
        slot,
        publication,
        base_export_id: base,
        overlap_until: lsn(overlap)?,
        position: lsn(position)?,
    })
}

/// Whether a stream of this name exists.
pub fn exists(owner: &Owner, name: &str) -> Result<bool, ExportError> {
    let sql = format!("SELECT EXISTS (SELECT FROM {}.redshift_cdc_stream WHERE name OPERATOR(pg_catalog.=) $1)", owner.schema);
    Ok(crate::catalog::select_one::<bool>(&sql, &[name.into()])?.unwrap_or(false))
}

/// What a committed export moves forward.
pub struct Progress<'a> {
    pub base: Option<(&'a str, Lsn)>,
    pub position: Lsn,
    pub export_id: &'a str,
    /// Commit time of the newest change, microseconds since 2000-01-01.
    pub last_commit_us: Option<i64>,
    pub changes: u64,
    /// The tables' columns, when a batch added some.
    pub spec: Option<&'a str>,
}

pub fn record_progress(owner: &Owner, name: &str, p: &Progress<'_>) -> Result<(), ExportError> {
    let sql = format!(
        "UPDATE {}.redshift_cdc_stream SET
             base_export_id = coalesce($2, base_export_id),
             overlap_until = coalesce($3::pg_catalog.text::pg_catalog.pg_lsn, overlap_until),
             next_lsn = $4::pg_catalog.text::pg_catalog.pg_lsn,
             last_export_id = $5,
             last_exported_at = pg_catalog.now(),
             last_commit_at = coalesce(pg_catalog.to_timestamp(946684800 OPERATOR(pg_catalog.+) $6::pg_catalog.float8 OPERATOR(pg_catalog./) 1000000), last_commit_at),
             changes_exported = changes_exported OPERATOR(pg_catalog.+) $7,
             spec = coalesce($8::pg_catalog.jsonb, spec)
         WHERE name OPERATOR(pg_catalog.=) $1",
        owner.schema
    );
    let args = [
        name.into(),
        p.base.map(|(id, _)| id.to_string()).into(),
        p.base.map(|(_, lsn)| lsn.to_string()).into(),
        p.position.to_string().into(),
        p.export_id.into(),
        p.last_commit_us.map(|us| us as f64).into(),
        i64::try_from(p.changes).unwrap_or(i64::MAX).into(),
        p.spec.map(str::to_string).into(),
    ];
    owner.execute(&sql, &args)
}
