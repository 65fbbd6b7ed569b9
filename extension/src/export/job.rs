//! What an export is asked to do and what it prepares before any data moves: for each table,
//! its catalog entry, Redshift plan, export query, value rules and S3 location.

use std::collections::BTreeMap;
use std::ffi::CStr;

use pg2redshift_bundle::signature::SigningKey;
use pg2redshift_bundle::{BundleLocation, ChangeFile, OnUnrepresentable};
use pg2redshift_core::commit::TableSource;
use pg2redshift_core::compress::Codec;
use pg2redshift_core::select::{ExportQuery, RowIdentity, export_query};
use pg2redshift_core::values::ValueRule;
use pg2redshift_core::{TableOptions, TablePlan, plan_table};
use pgrx::pg_sys;
use pgrx::spi::SpiClient;

use crate::catalog::{Relation, read_relation_with};
use crate::error::ExportError;
use crate::s3::S3Config;

/// Redshift's COPY refuses rows longer than 4 MB.
pub const MAX_ROW_BYTES: usize = 4 * 1024 * 1024;

pub struct ExportSettings {
    pub s3: S3Config,
    /// Key prefix without surrounding `/`.
    pub prefix: String,
    /// The destination's name; None for a superuser's raw location.
    pub destination: Option<String>,
    /// Redshift schemas the destination allows (folded); None: any.
    pub target_schemas: Option<Vec<String>>,
    /// Signs each table's bundle.json and manifest.json (pg2redshift.signing_key).
    pub signing_key: Option<SigningKey>,
    /// Uncompressed CSV bytes per data file.
    pub chunk_bytes: u64,
    pub codec: Codec,
    /// Threads that compress beside the backend (gzip's workers or libzstd's).
    pub compression_threads: usize,
    pub policy: OnUnrepresentable,
}

pub struct TableRequest {
    pub oid: pg_sys::Oid,
    pub options: TableOptions,
}

/// One row of redshift_export()'s result.
pub struct TableResult {
    pub export_id: String,
    pub table: String,
    pub bundle_url: String,
    pub rows: u64,
    pub files: u64,
    pub raw_bytes: u64,
    pub compressed_bytes: u64,
    pub seconds: f64,
    pub changed_values: u64,
}

/// Everything about one table of the export, prepared before any data moves.
pub struct Job {
    pub oid: pg_sys::Oid,
    pub relation: Relation,
    /// The Redshift table (bundle.json's `table` and `columns`).
    pub plan: TablePlan,
    pub query: ExportQuery,
    /// The data files' columns, one per value column of the query: the table's columns, or for
    /// a change batch the change file's.
    pub fields: Vec<Field>,
    pub location: BundleLocation,
    /// A change batch's layout of its files; None for a full export.
    pub change_file: Option<ChangeFile>,
}

/// One column of the data files: how messages name it and what its values must satisfy.
pub struct Field {
    pub name: String,
    pub rule: ValueRule,
    pub not_null: bool,
}

impl Field {
    /// The fields of a table's own columns.
    pub fn of_plan(plan: &TablePlan) -> Vec<Field> {
        plan.columns
            .iter()
            .map(|c| Field { name: c.source_name.clone(), rule: ValueRule::for_type(c.mapping.redshift), not_null: c.not_null })
            .collect()
    }
}

impl Job {
    /// Prepares one table: reads its catalog entry and plans its Redshift table and query.
    pub fn prepare(
        client: &SpiClient<'_>,
        request: &TableRequest,
        settings: &ExportSettings,
        database: &str,
        export_id: &str,
    ) -> Result<Job, ExportError> {
        let relation = read_relation_with(client, request.oid)?;
        let plan = plan_table(&relation.schema, &relation.name, &relation.columns, &relation.primary_key, &request.options)?;
        let identity = RowIdentity::for_relation(&relation.relkind, &relation.primary_key);
        let query = export_query(&relation.schema, &relation.name, &relation.columns, identity);
        let fields = Field::of_plan(&plan);
        let location = location(settings, database, &relation, export_id);
        Ok(Job { oid: request.oid, relation, plan, query, fields, location, change_file: None })
    }

    /// `"schema"."table"` of the source, as messages name it.
    pub fn qualified(&self) -> String {
        pg2redshift_bundle::quote_qualified(&self.relation.schema, &self.relation.name)
    }

    /// The view of this table that the commit documents are built from.
    pub fn source(&self) -> TableSource<'_> {
        TableSource {
            schema: &self.relation.schema,
            name: &self.relation.name,
            relkind: &self.relation.relkind,
            plan: &self.plan,
            location: &self.location,
        }
    }
}

/// Where a table's files of an export go.
pub fn location(settings: &ExportSettings, database: &str, relation: &Relation, export_id: &str) -> BundleLocation {
    BundleLocation {
        bucket: settings.s3.bucket.clone(),
        prefix: settings.prefix.clone(),
        database: database.to_string(),
        schema: relation.schema.clone(),
        table: relation.name.clone(),
        export_id: export_id.to_string(),
    }
}

/// What streaming one table produced.
#[derive(Default)]
pub struct Streamed {
    pub keys: Vec<String>,
    pub rows: u64,
    pub raw_bytes: u64,
    pub changes: BTreeMap<String, u64>,
}

/// Text comes out of the cursors in the database encoding; bundles are UTF-8.
pub fn check_encoding() -> Result<(), ExportError> {
    // SAFETY: reads a backend global; called on the backend thread.
    let encoding = unsafe { pg_sys::GetDatabaseEncoding() };
    if encoding == pg_sys::pg_enc::PG_UTF8 as i32 {
        return Ok(());
    }
    // SAFETY: the backend's encoding name is a static NUL-terminated string.
    let name = unsafe { CStr::from_ptr(pg_sys::GetDatabaseEncodingName()) }.to_string_lossy().into_owned();
    Err(ExportError::NotUtf8 { encoding: name })
}

/// The settings under which values are printed from their datums (`pg2redshift_core::print`):
/// what the exporting functions' SET clauses fix (finalize.sql). Checked, so that a changed
/// clause stops the export instead of printing dates or floats other than PostgreSQL would.
pub fn check_output_settings() -> Result<(), ExportError> {
    // SAFETY: reads backend globals on the backend thread; the zone name is a NUL-terminated
    // string owned by the time zone cache.
    let (date_style, date_order, float_digits, zone) = unsafe {
        let zone = pg_sys::pg_get_timezone_name(pg_sys::session_timezone);
        let zone = if zone.is_null() { String::new() } else { CStr::from_ptr(zone).to_string_lossy().into_owned() };
        (pg_sys::DateStyle, pg_sys::DateOrder, pg_sys::extra_float_digits, zone)
    };
    let iso = date_style == pg_sys::USE_ISO_DATES as i32 && date_order == pg_sys::DATEORDER_YMD as i32;
    if iso && float_digits > 0 && zone == "UTC" {
        return Ok(());
    }
    Err(ExportError::Settings(format!(
        "DateStyle {} (order {date_order}), TimeZone {zone}, extra_float_digits {float_digits}",
        if date_style == pg_sys::USE_ISO_DATES as i32 { "ISO".to_string() } else { date_style.to_string() }
    )))
}
