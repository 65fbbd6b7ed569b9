//! The C entry points of 0.1.0's SQL functions. Installing a new library (a package upgrade)
//! does not change the SQL of the databases that already have the extension: until their owner
//! runs `ALTER EXTENSION pg2redshift UPDATE`, their `redshift_export*` functions still call these
//! symbols with 0.1.0's arguments, and pg_cron jobs keep running meanwhile. They export as 0.1.0
//! did (gzip by default while the database's extension is 0.1.0: `default_compression` in
//! export_api). No SQL is generated for them; the SQL that calls them is
//! `extension/releases/pg2redshift--0.1.0.sql`.

use pgrx::PgRelation;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

use crate::export_api::{
    redshift_export_many_v2, redshift_export_named_v2, redshift_export_one_v2, redshift_export_schema_v2,
};
use crate::regclass::RegClass;

#[pg_extern(sql = false)]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn redshift_export_one(
    rel: Option<PgRelation>,
    bucket: Option<&str>,
    prefix: Option<&str>,
    region: Option<&str>,
    endpoint: Option<&str>,
    force_path_style: Option<bool>,
    chunk_size: Option<i64>,
    gzip_level: Option<i32>,
    on_unrepresentable: Option<&str>,
    target_schema: Option<&str>,
    target_table: Option<&str>,
    diststyle: Option<&str>,
    distkey: Option<&str>,
    sortkey: Option<Vec<Option<String>>>,
    sortkey_style: Option<&str>,
    numeric_scale: Option<i32>,
    destination: Option<&str>,
) -> Result<TableIterator<
    'static,
    (
        name!(export_id, String),
        name!(table_name, String),
        name!(bundle_url, String),
        name!(rows, i64),
        name!(files, i64),
        name!(bytes, i64),
        name!(bytes_gzip, i64),
        name!(seconds, f64),
        name!(changed_values, i64),
    ),
>, ErrorReport> {
    redshift_export_one_v2(
        rel,
        bucket,
        prefix,
        region,
        endpoint,
        force_path_style,
        chunk_size,
        gzip_level,
        on_unrepresentable,
        target_schema,
        target_table,
        diststyle,
        distkey,
        sortkey,
        sortkey_style,
        numeric_scale,
        destination,
        None,
        None,
    )
}

#[pg_extern(sql = false)]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn redshift_export_named(
    rel: Option<&str>,
    bucket: Option<&str>,
    prefix: Option<&str>,
    region: Option<&str>,
    endpoint: Option<&str>,
    force_path_style: Option<bool>,
    chunk_size: Option<i64>,
    gzip_level: Option<i32>,
    on_unrepresentable: Option<&str>,
    target_schema: Option<&str>,
    target_table: Option<&str>,
    diststyle: Option<&str>,
    distkey: Option<&str>,
    sortkey: Option<Vec<Option<String>>>,
    sortkey_style: Option<&str>,
    numeric_scale: Option<i32>,
    destination: Option<&str>,
) -> Result<TableIterator<
    'static,
    (
        name!(export_id, String),
        name!(table_name, String),
        name!(bundle_url, String),
        name!(rows, i64),
        name!(files, i64),
        name!(bytes, i64),
        name!(bytes_gzip, i64),
        name!(seconds, f64),
        name!(changed_values, i64),
    ),
>, ErrorReport> {
    redshift_export_named_v2(
        rel,
        bucket,
        prefix,
        region,
        endpoint,
        force_path_style,
        chunk_size,
        gzip_level,
        on_unrepresentable,
        target_schema,
        target_table,
        diststyle,
        distkey,
        sortkey,
        sortkey_style,
        numeric_scale,
        destination,
        None,
        None,
    )
}

#[pg_extern(sql = false)]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn redshift_export_many(
    rels: Option<Vec<Option<RegClass>>>,
    bucket: Option<&str>,
    prefix: Option<&str>,
    region: Option<&str>,
    endpoint: Option<&str>,
    force_path_style: Option<bool>,
    chunk_size: Option<i64>,
    gzip_level: Option<i32>,
    on_unrepresentable: Option<&str>,
    target_schema: Option<&str>,
    diststyle: Option<&str>,
    numeric_scale: Option<i32>,
    destination: Option<&str>,
) -> Result<TableIterator<
    'static,
    (
        name!(export_id, String),
        name!(table_name, String),
        name!(bundle_url, String),
        name!(rows, i64),
        name!(files, i64),
        name!(bytes, i64),
        name!(bytes_gzip, i64),
        name!(seconds, f64),
        name!(changed_values, i64),
    ),
>, ErrorReport> {
    redshift_export_many_v2(
        rels,
        bucket,
        prefix,
        region,
        endpoint,
        force_path_style,
        chunk_size,
        gzip_level,
        on_unrepresentable,
        target_schema,
        diststyle,
        numeric_scale,
        destination,
        None,
        None,
    )
}

#[pg_extern(sql = false)]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn redshift_export_schema(
    schema: Option<&str>,
    include: Option<&str>,
    exclude: Option<&str>,
    bucket: Option<&str>,
    prefix: Option<&str>,
    region: Option<&str>,
    endpoint: Option<&str>,
    force_path_style: Option<bool>,
    chunk_size: Option<i64>,
    gzip_level: Option<i32>,
    on_unrepresentable: Option<&str>,
    target_schema: Option<&str>,
    diststyle: Option<&str>,
    numeric_scale: Option<i32>,
    destination: Option<&str>,
) -> Result<TableIterator<
    'static,
    (
        name!(export_id, String),
        name!(table_name, String),
        name!(bundle_url, String),
        name!(rows, i64),
        name!(files, i64),
        name!(bytes, i64),
        name!(bytes_gzip, i64),
        name!(seconds, f64),
        name!(changed_values, i64),
    ),
>, ErrorReport> {
    redshift_export_schema_v2(
        schema,
        include,
        exclude,
        bucket,
        prefix,
        region,
        endpoint,
        force_path_style,
        chunk_size,
        gzip_level,
        on_unrepresentable,
        target_schema,
        diststyle,
        numeric_scale,
        destination,
        None,
        None,
    )
}
