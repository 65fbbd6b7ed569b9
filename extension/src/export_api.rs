//! `redshift_export()` and `redshift_export_schema()`: the SQL face of an export. Options left
//! NULL take their value from the `pg2redshift.*` settings.
//!
//! The Rust names end in `_v2` because they name the C symbols of the second SQL signature
//! (0.2.0 added `compression` and `zstd_level`); 0.1.0's symbols stay in `compat_0_1`.

use pg2redshift_bundle::{Compression, OnUnrepresentable};
use pg2redshift_core::compress::Codec;
use pgrx::PgRelation;
use pgrx::prelude::*;

use crate::ddl_api::table_options;
use crate::error::ExportError;
use pgrx::pg_sys::panic::ErrorReport;
use crate::export::{ExportSettings, TableRequest, TableResult, export};
use crate::regclass::RegClass;
use crate::destination::{self, LocationArgs};
use crate::settings;

/// pgrx reads each #[pg_extern] signature as written, so they spell this type out again.
type ExportRows = TableIterator<
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
>;

/// Where and how to write: the destination (or a superuser's raw location), and the
/// arguments or else the settings for the rest.
/// The compression options of a call; NULL ones come from the settings.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CodecArgs<'a> {
    pub compression: Option<&'a str>,
    pub gzip_level: Option<i32>,
    pub zstd_level: Option<i32>,
}

impl CodecArgs<'_> {
    /// The codec: `compression`, else the one whose level alone was given (`gzip_level => 6`
    /// still means gzip, whatever the default), else `pg2redshift.compression`, else the
    /// default. A level for the other codec than the one named is an error, not silently ignored.
    fn codec(self) -> Result<Codec, ExportError> {
        use pg2redshift_core::DefinitionError::InvalidOption;
        let implied = match (self.gzip_level, self.zstd_level) {
            (Some(_), None) => Some(Compression::Gzip),
            (None, Some(_)) => Some(Compression::Zstd),
            _ => None,
        };
        let named = destination::given(self.compression)
            .or_else(|| implied.map(|c| c.name().to_string()))
            .or_else(|| settings::text(&settings::COMPRESSION));
        let name = match named {
            Some(name) => name,
            None => default_compression()?.name().into(),
        };
        let compression: Compression =
            name.parse().map_err(|()| InvalidOption { option: "compression", value: name.clone(), expected: "gzip or zstd" })?;
        let other = match compression {
            Compression::Gzip => self.zstd_level.map(|l| ("zstd_level", l)),
            Compression::Zstd => self.gzip_level.map(|l| ("gzip_level", l)),
        };
        if let Some((option, level)) = other {
            let expected = if compression == Compression::Gzip { "no zstd_level with gzip" } else { "no gzip_level with zstd" };
            return Err(InvalidOption { option, value: level.to_string(), expected }.into());
        }
        Ok(match compression {
            Compression::Gzip => {
                let level = self.gzip_level.unwrap_or_else(|| settings::GZIP_LEVEL.get());
                let level = u32::try_from(level)
                    .ok()
                    .filter(|l| (1..=9).contains(l))
                    .ok_or(InvalidOption { option: "gzip_level", value: level.to_string(), expected: "a level from 1 to 9" })?;
                Codec::Gzip(level)
            }
            Compression::Zstd => {
                let level = self.zstd_level.unwrap_or_else(|| settings::ZSTD_LEVEL.get());
                if !pg2redshift_core::compress::zstd_file::LEVELS.contains(&level) {
                    return Err(InvalidOption { option: "zstd_level", value: level.to_string(), expected: "a level from 1 to 19" }.into());
                }
                Codec::Zstd(level)
            }
        })
    }
}

/// zstd; but gzip, 0.1.0's only codec, while this database's extension SQL is still 0.1.0's
/// (a new library installed, `ALTER EXTENSION pg2redshift UPDATE` not run yet): its exports and
/// streams keep writing what they wrote, which a 0.1.0 loader reads.
fn default_compression() -> Result<Compression, ExportError> {
    let sql_version = crate::catalog::select_one::<String>(
        "SELECT extversion::pg_catalog.text FROM pg_catalog.pg_extension
         WHERE extname OPERATOR(pg_catalog.=) 'pg2redshift'",
        &[],
    )?;
    Ok(match sql_version.as_deref() {
        Some(v) if settings::GZIP_DEFAULT_VERSIONS.contains(&v) => Compression::Gzip,
        _ => settings::DEFAULT_COMPRESSION,
    })
}

pub(crate) fn export_settings(
    location: LocationArgs<'_>,
    chunk_size: Option<i64>,
    codec: CodecArgs<'_>,
    on_unrepresentable: Option<&str>,
) -> Result<ExportSettings, ExportError> {
    use pg2redshift_core::DefinitionError::InvalidOption;
    let resolved = destination::resolve(location)?;
    let chunk_bytes = match chunk_size {
        Some(bytes) => u64::try_from(bytes)
            .ok()
            .filter(|b| (settings::MIN_CHUNK_SIZE_KB as u64 * 1024..=settings::MAX_CHUNK_SIZE_KB as u64 * 1024).contains(b))
            .ok_or(InvalidOption {
                option: "chunk_size",
                value: bytes.to_string(),
                expected: "from 1048576 (1 MiB) to 68719476736 (64 GiB) bytes",
            })?,
        None => settings::CHUNK_SIZE_KB.get() as u64 * 1024,
    };
    let codec = codec.codec()?;
    let policy_text = destination::given(on_unrepresentable)
        .or_else(|| settings::text(&settings::ON_UNREPRESENTABLE))
        .unwrap_or_else(|| "error".into());
    let policy: OnUnrepresentable = policy_text.parse().map_err(|()| InvalidOption {
        option: "on_unrepresentable",
        value: policy_text.clone(),
        expected: "error, null or truncate",
    })?;
    Ok(ExportSettings {
        s3: resolved.s3,
        prefix: resolved.prefix,
        destination: resolved.destination,
        target_schemas: resolved.target_schemas,
        signing_key: settings::signing_key()?,
        chunk_bytes,
        codec,
        compression_threads: settings::GZIP_THREADS.get().clamp(1, settings::MAX_GZIP_THREADS) as usize,
        policy,
    })
}

fn rows(results: Vec<TableResult>) -> ExportRows {
    let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    TableIterator::new(results.into_iter().map(move |r| {
        (
            r.export_id,
            r.table,
            r.bundle_url,
            clamp(r.rows),
            clamp(r.files),
            clamp(r.raw_bytes),
            clamp(r.compressed_bytes),
            r.seconds,
            clamp(r.changed_values),
        )
    }))
}

/// Exports one table (also a view, materialized view or foreign table) to S3 as a bundle.
#[pg_extern(name = "redshift_export", volatile, parallel_unsafe)]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub(crate) fn redshift_export_one_v2(
    rel: Option<PgRelation>,
    bucket: default!(Option<&str>, "NULL"),
    prefix: default!(Option<&str>, "NULL"),
    region: default!(Option<&str>, "NULL"),
    endpoint: default!(Option<&str>, "NULL"),
    force_path_style: default!(Option<bool>, "NULL"),
    chunk_size: default!(Option<i64>, "NULL"),
    gzip_level: default!(Option<i32>, "NULL"),
    on_unrepresentable: default!(Option<&str>, "NULL"),
    target_schema: default!(Option<&str>, "NULL"),
    target_table: default!(Option<&str>, "NULL"),
    diststyle: default!(Option<&str>, "NULL"),
    distkey: default!(Option<&str>, "NULL"),
    sortkey: default!(Option<Vec<Option<String>>>, "NULL"),
    sortkey_style: default!(Option<&str>, "NULL"),
    numeric_scale: default!(Option<i32>, 10),
    destination: default!(Option<&str>, "NULL"),
    compression: default!(Option<&str>, "NULL"),
    zstd_level: default!(Option<i32>, "NULL"),
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
    let rel = rel.ok_or(ExportError::NullArgument("rel"))?;
    let oid = rel.oid();
    recorded(&[oid], || {
        let location = LocationArgs { destination, bucket, prefix, region, endpoint, force_path_style };
        let codecs = CodecArgs { compression, gzip_level, zstd_level };
        let settings = export_settings(location, chunk_size, codecs, on_unrepresentable)?;
        let options = table_options(target_schema, target_table, diststyle, distkey, sortkey, sortkey_style, numeric_scale)?;
        export(vec![TableRequest { oid, options }], &settings)
    })
}

/// Runs an export; its result is recorded in the history (a failure too, before it is raised).
#[track_caller]
fn recorded(
    tables: &[pg_sys::Oid],
    run: impl FnOnce() -> Result<Vec<TableResult>, ExportError>,
) -> Result<ExportRows, ErrorReport> {
    match run().and_then(|results| crate::history::record(&results).map(|()| results)) {
        Ok(results) => Ok(rows(results)),
        Err(err) => {
            crate::history::record_failure(tables, &err);
            Err(err.into())
        }
    }
}

/// The same, for a table named by text: `redshift_export('public.t')` would otherwise be
/// ambiguous between the regclass and regclass[] forms. The name is resolved like a regclass
/// literal, with the caller's search_path.
#[pg_extern(name = "redshift_export", volatile, parallel_unsafe)]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub(crate) fn redshift_export_named_v2(
    rel: Option<&str>,
    bucket: default!(Option<&str>, "NULL"),
    prefix: default!(Option<&str>, "NULL"),
    region: default!(Option<&str>, "NULL"),
    endpoint: default!(Option<&str>, "NULL"),
    force_path_style: default!(Option<bool>, "NULL"),
    chunk_size: default!(Option<i64>, "NULL"),
    gzip_level: default!(Option<i32>, "NULL"),
    on_unrepresentable: default!(Option<&str>, "NULL"),
    target_schema: default!(Option<&str>, "NULL"),
    target_table: default!(Option<&str>, "NULL"),
    diststyle: default!(Option<&str>, "NULL"),
    distkey: default!(Option<&str>, "NULL"),
    sortkey: default!(Option<Vec<Option<String>>>, "NULL"),
    sortkey_style: default!(Option<&str>, "NULL"),
    numeric_scale: default!(Option<i32>, 10),
    destination: default!(Option<&str>, "NULL"),
    compression: default!(Option<&str>, "NULL"),
    zstd_level: default!(Option<i32>, "NULL"),
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
    let rel = rel.ok_or(ExportError::NullArgument("rel"))?;
    let oid = RegClass::resolve(rel);
    // The same lock a regclass argument takes: the table cannot be dropped mid-export.
    // SAFETY: the oid comes from a regclass that resolved to an existing relation; with_lock
    // raises an ERROR if it has gone since, and the lock lasts until the transaction ends.
    let rel = unsafe { PgRelation::with_lock(oid.0, pg_sys::AccessShareLock as pg_sys::LOCKMODE) };
    redshift_export_one_v2(
        Some(rel),
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
        compression,
        zstd_level,
    )
}

/// Exports several tables from one snapshot under one export id.
#[pg_extern(name = "redshift_export", volatile, parallel_unsafe)]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub(crate) fn redshift_export_many_v2(
    rels: Option<Vec<Option<RegClass>>>,
    bucket: default!(Option<&str>, "NULL"),
    prefix: default!(Option<&str>, "NULL"),
    region: default!(Option<&str>, "NULL"),
    endpoint: default!(Option<&str>, "NULL"),
    force_path_style: default!(Option<bool>, "NULL"),
    chunk_size: default!(Option<i64>, "NULL"),
    gzip_level: default!(Option<i32>, "NULL"),
    on_unrepresentable: default!(Option<&str>, "NULL"),
    target_schema: default!(Option<&str>, "NULL"),
    diststyle: default!(Option<&str>, "NULL"),
    numeric_scale: default!(Option<i32>, 10),
    destination: default!(Option<&str>, "NULL"),
    compression: default!(Option<&str>, "NULL"),
    zstd_level: default!(Option<i32>, "NULL"),
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
    let rels = rels.ok_or(ExportError::NullArgument("rels"))?;
    let oids: Vec<RegClass> = rels
        .into_iter()
        .map(|r| r.ok_or(ExportError::NullArgument("an element of rels")))
        .collect::<Result<_, _>>()
        ?;
    let location = LocationArgs { destination, bucket, prefix, region, endpoint, force_path_style };
    let codecs = CodecArgs { compression, gzip_level, zstd_level };
    export_many(oids, location, chunk_size, codecs, on_unrepresentable, target_schema, diststyle, numeric_scale)
}

/// Exports the tables, partitioned tables and materialized views of a schema whose names are
/// LIKE `include` and NOT LIKE `exclude` (partitions are exported through their parent).
#[pg_extern(name = "redshift_export_schema", volatile, parallel_unsafe)]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub(crate) fn redshift_export_schema_v2(
    schema: Option<&str>,
    include: default!(Option<&str>, "'%'"),
    exclude: default!(Option<&str>, "NULL"),
    bucket: default!(Option<&str>, "NULL"),
    prefix: default!(Option<&str>, "NULL"),
    region: default!(Option<&str>, "NULL"),
    endpoint: default!(Option<&str>, "NULL"),
    force_path_style: default!(Option<bool>, "NULL"),
    chunk_size: default!(Option<i64>, "NULL"),
    gzip_level: default!(Option<i32>, "NULL"),
    on_unrepresentable: default!(Option<&str>, "NULL"),
    target_schema: default!(Option<&str>, "NULL"),
    diststyle: default!(Option<&str>, "NULL"),
    numeric_scale: default!(Option<i32>, 10),
    destination: default!(Option<&str>, "NULL"),
    compression: default!(Option<&str>, "NULL"),
    zstd_level: default!(Option<i32>, "NULL"),
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
    let schema = schema.ok_or(ExportError::NullArgument("schema"))?;
    let include = include.unwrap_or("%");
    let oids = crate::catalog::schema_tables(schema, include, exclude)?;
    if oids.is_empty() {
        let exclude = exclude.unwrap_or("").into();
        // A scheduled export of an empty selection failed: it is in the history too.
        return recorded(&[], || Err(ExportError::NoTables { schema: schema.into(), include: include.into(), exclude }));
    }
    let location = LocationArgs { destination, bucket, prefix, region, endpoint, force_path_style };
    let codecs = CodecArgs { compression, gzip_level, zstd_level };
    export_many(oids, location, chunk_size, codecs, on_unrepresentable, target_schema, diststyle, numeric_scale)
}

#[allow(clippy::too_many_arguments)]
fn export_many(
    oids: Vec<RegClass>,
    location: LocationArgs<'_>,
    chunk_size: Option<i64>,
    codecs: CodecArgs<'_>,
    on_unrepresentable: Option<&str>,
    target_schema: Option<&str>,
    diststyle: Option<&str>,
    numeric_scale: Option<i32>,
) -> Result<ExportRows, ErrorReport> {
    let mut unique = std::collections::HashSet::new();
    let oids: Vec<pg_sys::Oid> = oids.into_iter().map(|o| o.0).filter(|o| unique.insert(*o)).collect();
    // Opened relations hold their lock until dropped: none is dropped by another session
    // mid-export.
    let mut opened = Vec::with_capacity(oids.len());
    let result = recorded(&oids, || {
        crate::catalog::check_lock_table(&oids)?;
        let settings = export_settings(location, chunk_size, codecs, on_unrepresentable)?;
        let mut requests = Vec::with_capacity(oids.len());
        for &oid in &oids {
            // SAFETY: the oid comes from the catalog in this transaction; with_lock raises an
            // ERROR if the relation has gone since, and the lock lasts until the transaction ends.
            let rel = unsafe { PgRelation::with_lock(oid, pg_sys::AccessShareLock as pg_sys::LOCKMODE) };
            let options = table_options(target_schema, None, diststyle, None, None, None, numeric_scale)?;
            requests.push(TableRequest { oid: rel.oid(), options });
            opened.push(rel);
        }
        export(requests, &settings)
    });
    drop(opened);
    result
}
