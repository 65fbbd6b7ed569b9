//! Change streams (CDC): `redshift_cdc_start()`, `redshift_cdc_export()` and
//! `redshift_cdc_stop()` (`redshift_cdc_status()` is SQL, in `sql/streams.sql`).
//!
//! A stream is a logical replication slot (pgoutput) and a publication of its tables. Its first
//! export is a full one, the base ([`base`]); every later one a batch of the changes since
//! ([`batch`]), read without consuming them from the slot ([`slot`]), which moves only once the
//! batch is committed in S3. Slots and publications need a superuser's rights: the functions
//! check the caller's own, then act as the extension's owner ([`owner`]).

mod base;
mod batch;
mod catalog;
mod owner;
mod slot;
mod snapshot;

use pg2redshift_core::changes::{ColumnSpec, TableSpec};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

use crate::catalog::{Relation, select_one};
use crate::ddl_api::table_options;
use crate::destination::{self, LocationArgs};
use crate::error::ExportError;
use crate::export::TableResult;
use crate::export_api::{CodecArgs, export_settings};
use crate::regclass::RegClass;
use owner::Owner;

/// Messages read from the slot per batch unless the call says otherwise; a transaction is never
/// split, so a batch holds at least one whole transaction.
const DEFAULT_MAX_CHANGES: i32 = 100_000;

/// What may keep a table from being captured.
const CAPTURE_SQL: &str = "
SELECT c.relkind::pg_catalog.text, c.relpersistence::pg_catalog.text, c.relreplident::pg_catalog.text,
       c.relrowsecurity AND NOT EXISTS (SELECT FROM pg_catalog.pg_roles r
                                        WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER AND (r.rolsuper OR r.rolbypassrls)),
       pg_catalog.has_table_privilege(c.oid, 'SELECT')
FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) $1";

fn check_name(name: &str) -> Result<(), ExportError> {
    let ok = !name.is_empty()
        && name.len() <= 40
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok { Ok(()) } else { Err(ExportError::InvalidStreamName(name.to_string())) }
}

/// Starting and stopping streams is for superusers and members of pg2redshift_stream_admin.
fn check_admin(action: &'static str) -> Result<(), ExportError> {
    let member = select_one::<bool>("SELECT pg_catalog.pg_has_role('pg2redshift_stream_admin', 'MEMBER')", &[])?.unwrap_or(false);
    if member { Ok(()) } else { Err(ExportError::NotStreamAdmin(action)) }
}

/// Whether a table can be captured by the calling role, and how logical decoding will describe
/// it; with its catalog entry.
fn capture_spec(oid: pgrx::pg_sys::Oid) -> Result<(TableSpec, Relation), ExportError> {
    let relation = crate::catalog::read_relation(oid)?;
    let table = pg2redshift_bundle::quote_qualified(&relation.schema, &relation.name);
    let refuse = |why: &'static str| ExportError::NotCapturable { table: table.clone(), why };
    let (relkind, persistence, identity, hidden_rows, readable) = Spi::connect(|client| {
        let rows = client.select(CAPTURE_SQL, Some(1), &[oid.into()])?;
        let r = rows.first();
        Ok::<_, pgrx::spi::SpiError>((
            r.get::<String>(1)?.unwrap_or_default(),
            r.get::<String>(2)?.unwrap_or_default(),
            r.get::<String>(3)?.unwrap_or_default(),
            r.get::<bool>(4)?.unwrap_or(false),
            r.get::<bool>(5)?.unwrap_or(false),
        ))
    })?;
    if !matches!(relkind.as_str(), "r" | "p") {
        return Err(refuse("it is not a table or partitioned table (only their changes are decoded)"));
    }
    if persistence != "p" {
        return Err(refuse("it is unlogged or temporary, and logical decoding sees no changes to it"));
    }
    if !readable {
        return Err(refuse("you may not SELECT from it"));
    }
    if hidden_rows {
        return Err(refuse("it has row-level security, which its changes would bypass"));
    }
    if relation.primary_key.is_empty() {
        return Err(refuse("it has no primary key (Redshift enforces none, so rows could not be told apart)"));
    }
    if !matches!(identity.as_str(), "d" | "f") {
        return Err(refuse("its REPLICA IDENTITY is not DEFAULT or FULL, so changes would not carry its primary key"));
    }
    if relation.attributes.iter().any(|a| a.generated) {
        return Err(refuse("it has generated columns, which logical decoding in PostgreSQL 15 does not send"));
    }
    let columns: Vec<ColumnSpec> = relation
        .columns
        .iter()
        .zip(&relation.attributes)
        .map(|(c, a)| ColumnSpec { name: c.name.clone(), type_oid: a.type_oid, typmod: a.typmod })
        .collect();
    let key = relation
        .primary_key
        .iter()
        .map(|k| columns.iter().position(|c| &c.name == k).ok_or_else(|| ExportError::Internal(format!("key column {k} not found"))))
        .collect::<Result<Vec<_>, _>>()?;
    let spec = TableSpec { oid: oid.to_u32(), schema: relation.schema.clone(), name: relation.name.clone(), columns, key };
    Ok((spec, relation))
}

/// Starts a change stream of `tables` to `destination`: creates its replication slot (from which
/// point changes are kept) and publication. Its first `redshift_cdc_export` exports the tables
/// in full; later ones export the changes since. Must be the first statement of its transaction
/// that writes (PostgreSQL creates slots only there).
#[pg_extern(volatile, parallel_unsafe)]
#[allow(clippy::type_complexity)]
fn redshift_cdc_start(
    name: Option<&str>,
    tables: Option<Vec<Option<RegClass>>>,
    destination: default!(Option<&str>, "NULL"),
    target_schema: default!(Option<&str>, "NULL"),
    on_unrepresentable: default!(Option<&str>, "NULL"),
    numeric_scale: default!(Option<i32>, 10),
) -> Result<TableIterator<'static, (name!(stream, String), name!(slot_name, String), name!(publication, String), name!(tables, i32))>, ErrorReport> {
    let name = name.ok_or(ExportError::NullArgument("name"))?;
    let tables = tables.ok_or(ExportError::NullArgument("tables"))?;
    let oids: Vec<RegClass> =
        tables.into_iter().map(|r| r.ok_or(ExportError::NullArgument("an element of tables"))).collect::<Result<_, _>>()?;
    Ok(start(name, oids, destination, target_schema, on_unrepresentable, numeric_scale)?)
}

/// The same for the tables and partitioned tables of a schema whose names are LIKE `include` and
/// NOT LIKE `exclude` (partitions through their parent), as they are now: tables created later
/// are not added.
#[pg_extern(volatile, parallel_unsafe)]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn redshift_cdc_start_schema(
    name: Option<&str>,
    schema: Option<&str>,
    include: default!(Option<&str>, "'%'"),
    exclude: default!(Option<&str>, "NULL"),
    destination: default!(Option<&str>, "NULL"),
    target_schema: default!(Option<&str>, "NULL"),
    on_unrepresentable: default!(Option<&str>, "NULL"),
    numeric_scale: default!(Option<i32>, 10),
) -> Result<TableIterator<'static, (name!(stream, String), name!(slot_name, String), name!(publication, String), name!(tables, i32))>, ErrorReport> {
    let name = name.ok_or(ExportError::NullArgument("name"))?;
    let schema = schema.ok_or(ExportError::NullArgument("schema"))?;
    let include = include.unwrap_or("%");
    let oids = crate::catalog::schema_tables(schema, include, exclude)?;
    if oids.is_empty() {
        let exclude = exclude.unwrap_or("").into();
        return Err(ExportError::NoTables { schema: schema.into(), include: include.into(), exclude }.into());
    }
    Ok(start(name, oids, destination, target_schema, on_unrepresentable, numeric_scale)?)
}

type StartRow = (String, String, String, i32);

fn start(
    name: &str,
    oids: Vec<RegClass>,
    destination: Option<&str>,
    target_schema: Option<&str>,
    on_unrepresentable: Option<&str>,
    numeric_scale: Option<i32>,
) -> Result<TableIterator<'static, StartRow>, ExportError> {
    check_name(name)?;
    check_admin("start a change stream")?;
    let owner = Owner::find()?;
    if catalog::exists(&owner, name)? {
        return Err(ExportError::StreamExists(name.to_string()));
    }
    let mut unique = std::collections::HashSet::new();
    let oids: Vec<pgrx::pg_sys::Oid> = oids.into_iter().map(|o| o.0).filter(|o| unique.insert(*o)).collect();
    // Everything that can be checked is, before the slot exists.
    let settings = export_settings(
        LocationArgs { destination, bucket: None, prefix: None, region: None, endpoint: None, force_path_style: None },
        None,
        CodecArgs::default(),
        on_unrepresentable,
    )?;
    let mut specs = Vec::with_capacity(oids.len());
    let mut names = Vec::with_capacity(oids.len());
    for &oid in &oids {
        let (spec, relation) = capture_spec(oid)?;
        let options = table_options(target_schema, None, None, None, None, None, numeric_scale)?;
        let plan = pg2redshift_core::plan_table(&relation.schema, &relation.name, &relation.columns, &relation.primary_key, &options)?;
        if let Some(destination) = &settings.destination
            && let Some(allowed) = &settings.target_schemas
            && !allowed.iter().any(|s| s == "*" || *s == plan.table.schema)
        {
            return Err(pg2redshift_core::commit::TargetSchemaNotAllowed {
                destination: destination.clone(),
                schema: plan.table.schema.clone(),
                table: spec.qualified(),
            }
            .into());
        }
        names.push(spec.qualified());
        specs.push(spec);
    }
    // SAFETY: reads the backend's own transaction id.
    if unsafe { pgrx::pg_sys::GetTopTransactionIdIfAny() } != pgrx::pg_sys::TransactionId::INVALID {
        return Err(ExportError::StartAfterWrites);
    }
    let object = slot::object_name(name);
    // A slot of this name without a stream is what a start that failed after creating it left.
    slot::drop_slot(&owner, &object)?;
    slot::create(&owner, &object)?;
    slot::unpublish(&owner, &object)?;
    slot::publish(&owner, &object, &names)?;
    let spec = catalog::spec_to_json(&specs)?;
    let sql = format!(
        "INSERT INTO {}.redshift_cdc_stream
             (name, tables, spec, destination, target_schema, on_unrepresentable, numeric_scale, slot_name, publication, created_by)
         VALUES ($1, $2::pg_catalog.int8[]::pg_catalog.oid[], $3::pg_catalog.jsonb, $4, $5, $6, $7, $8, $8, $9)",
        owner.schema
    );
    let oids_i64: Vec<i64> = oids.iter().map(|o| i64::from(o.to_u32())).collect();
    // SAFETY: reads the session user on the backend thread.
    let session_user = unsafe { pgrx::pg_sys::GetSessionUserId() };
    let creator = select_one::<String>("SELECT $1::pg_catalog.regrole::pg_catalog.text", &[session_user.into()])?
        .unwrap_or_default();
    let args = [
        name.into(),
        oids_i64.into(),
        spec.into(),
        destination::given(destination).into(),
        destination::given(target_schema).into(),
        destination::given(on_unrepresentable).into(),
        numeric_scale.unwrap_or(10).into(),
        object.clone().into(),
        creator.into(),
    ];
    owner.execute(&sql, &args)?;
    let count = i32::try_from(oids.len()).unwrap_or(i32::MAX);
    Ok(TableIterator::new(std::iter::once((name.to_string(), object.clone(), object, count))))
}

/// Stops a change stream: drops its slot (releasing the WAL it held) and publication and forgets
/// it. What it exported stays in S3 and Redshift.
#[pg_extern(volatile, parallel_unsafe)]
fn redshift_cdc_stop(name: Option<&str>) -> Result<(), ErrorReport> {
    let name = name.ok_or(ExportError::NullArgument("name"))?;
    check_name(name)?;
    check_admin("stop a change stream")?;
    let owner = Owner::find()?;
    let stream = catalog::read(&owner, name)?;
    slot::drop_slot(&owner, &stream.slot)?;
    slot::unpublish(&owner, &stream.publication)?;
    let sql = format!("DELETE FROM {}.redshift_cdc_stream WHERE name OPERATOR(pg_catalog.=) $1", owner.schema);
    owner.execute(&sql, &[name.into()])?;
    Ok(())
}

type ExportRow = (String, String, String, String, i64, i64, i64, i64, f64, i64);

/// Exports a stream: the first call its tables in full (the base), every later one the changes
/// committed since the previous call, as one batch (at most about `max_changes` messages, whole
/// transactions). Returns a row per table exported; none when nothing changed.
#[pg_extern(volatile, parallel_unsafe)]
#[allow(clippy::type_complexity)]
fn redshift_cdc_export(
    name: Option<&str>,
    max_changes: default!(Option<i32>, "NULL"),
) -> Result<
    TableIterator<
        'static,
        (
            name!(export_id, String),
            name!(kind, String),
            name!(table_name, String),
            name!(bundle_url, String),
            name!(rows, i64),
            name!(files, i64),
            name!(bytes, i64),
            name!(bytes_gzip, i64),
            name!(seconds, f64),
            name!(changed_values, i64),
        ),
    >,
    ErrorReport,
> {
    let name = name.ok_or(ExportError::NullArgument("name"))?;
    check_name(name)?;
    let owner = Owner::find()?;
    let stream = catalog::read(&owner, name)?;
    let max_changes = max_changes.unwrap_or(DEFAULT_MAX_CHANGES);
    if max_changes < 1 {
        return Err(ExportError::Definition(pg2redshift_core::DefinitionError::InvalidOption {
            option: "max_changes",
            value: max_changes.to_string(),
            expected: "a positive number of messages",
        })
        .into());
    }
    let outcome = export_stream(&owner, &stream, max_changes).and_then(|(kind, results)| {
        crate::history::record(&results)?;
        Ok((kind, results))
    });
    let (kind, results) = match outcome {
        Ok(done) => done,
        Err(err) => {
            crate::history::record_failure_as(&format!("cdc-{name}-failed"), &stream.tables, &err);
            return Err(err.into());
        }
    };
    let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let rows: Vec<ExportRow> = results
        .into_iter()
        .map(|r| {
            (
                r.export_id,
                kind.to_string(),
                r.table,
                r.bundle_url,
                clamp(r.rows),
                clamp(r.files),
                clamp(r.raw_bytes),
                clamp(r.compressed_bytes),
                r.seconds,
                clamp(r.changed_values),
            )
        })
        .collect();
    Ok(TableIterator::new(rows))
}

fn export_stream(owner: &Owner, stream: &catalog::Stream, max_changes: i32) -> Result<(&'static str, Vec<TableResult>), ExportError> {
    let locked = select_one::<bool>(
        "SELECT pg_catalog.pg_try_advisory_xact_lock(1886548595, pg_catalog.hashtext($1))",
        &[stream.name.as_str().into()],
    )?
    .unwrap_or(false);
    if !locked {
        return Err(ExportError::StreamBusy(stream.name.clone()));
    }
    for &oid in &stream.tables {
        // The same rights as a full export of the table, checked again at every run.
        capture_spec(oid)?;
    }
    let location = LocationArgs {
        destination: stream.destination.as_deref(),
        bucket: None,
        prefix: None,
        region: None,
        endpoint: None,
        force_path_style: None,
    };
    let settings = export_settings(location, None, CodecArgs::default(), stream.on_unrepresentable.as_deref())?;
    slot::confirmed(&stream.slot)?;
    if stream.base_export_id.is_none() {
        return Ok(("full", base::export_base(owner, stream, &settings)?));
    }
    let database = select_one::<String>("SELECT pg_catalog.current_database()::pg_catalog.text", &[])?.unwrap_or_default();
    match batch::export_changes(owner, stream, &settings, &database, max_changes)? {
        batch::Outcome::Exported(results) => Ok(("changes", results)),
        batch::Outcome::Idle { to } => {
            pgrx::notice!("pg2redshift: stream {}: no changes to its tables; its slot moved on to {to}", stream.name);
            Ok(("changes", Vec::new()))
        }
    }
}
