//! One batch of a stream's changes: peek them, collapse each table's to one row per key, stage
//! those rows in temporary tables typed like the source (every value goes back through its
//! type's input function), and export the staged rows with the full export's own query and
//! pipeline, so a change carries every value with the same encoding and the same refusals as a
//! full export. Once the batch is committed in S3 the slot moves past it.
//!
//! A batch's id comes from its LSN range. Before reading anything, a batch already in S3 at the
//! stream's position is looked for: committed (the slot did not move after it), the stream moves
//! past it; incomplete (the export stopped while committing), the same range is exported again
//! under the same id.

use std::time::{Duration, Instant};

use pg2redshift_bundle::{BundleKind, ChangeFile, ExportDocument, StreamPosition, database_folder_key, EXPORTS_FOLDER};
use pg2redshift_core::changes::{ChangeRow, CollapsedTable, Decoder, TableSpec, batch_end, batch_id, batch_id_prefix, collapse_table, range_end};
use pg2redshift_core::pgoutput::Lsn;
use pg2redshift_core::select::{RowIdentity, export_query};
use pg2redshift_core::values::ValueRule;
use pg2redshift_core::{SourceColumn, SourceType, plan_table};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use super::catalog::{Progress, Stream, record_progress, spec_to_json};
use super::owner::Owner;
use super::slot;
use super::snapshot::FreshSnapshot;
use crate::catalog::{Relation, read_relation_with};
use crate::ddl_api::table_options;
use crate::error::ExportError;
use crate::export::{ExportSettings, Field, Identity, Job, TableResult, location, run};
use crate::pipeline::run_beside;
use crate::s3::{Bucket, S3Config, S3Error, client, runtime};

/// Rows staged per INSERT.
const STAGE_ROWS: usize = 1000;
/// How long looking for an earlier batch in S3 may take.
const LOOKUP_DEADLINE: Duration = Duration::from_secs(60);

/// The staged columns before the table's own: operation, LSN, fill mask.
const META: [&str; 3] = ["pg2redshift op", "pg2redshift lsn", "pg2redshift fill"];

/// What a run of `redshift_cdc_export` did.
pub enum Outcome {
    /// A batch was exported (these are its tables).
    Exported(Vec<TableResult>),
    /// Nothing for the stream's tables: the slot moved on to `to`.
    Idle { to: Lsn },
}

/// An earlier batch at the stream's position.
enum Earlier {
    Committed(Lsn),
    Incomplete(Lsn),
}

pub fn export_changes(owner: &Owner, stream: &Stream, settings: &ExportSettings, database: &str, max_changes: i32) -> Result<Outcome, ExportError> {
    let mut from = stream.position.ok_or_else(|| ExportError::Internal("a running stream has no position".into()))?;
    let mut redo = None;
    match earlier_batch(settings, database, &stream.name, from)? {
        Some(Earlier::Committed(to)) => {
            let id = batch_id(&stream.name, from, to);
            pgrx::notice!("pg2redshift: stream {} already exported {id} in an earlier run; moving past it", stream.name);
            slot::advance(owner, &stream.slot, to)?;
            record_progress(owner, &stream.name, &Progress { base: None, position: to, export_id: &id, last_commit_us: None, changes: 0, spec: None })?;
            from = to;
        }
        Some(Earlier::Incomplete(to)) => redo = Some(to),
        None => {}
    }
    let upto = match redo {
        Some(to) => to,
        None => slot::flushed()?,
    };
    let limit = if redo.is_some() { None } else { Some(max_changes) };
    let mut decoder = Decoder::new(&stream.spec);
    let messages = slot::peek(owner, &stream.slot, &stream.publication, upto, limit, &mut decoder)?;
    // A batch that stopped before a column was added ends at its last commit, as one cut at
    // the limit does.
    let limit_reached = limit.is_some_and(|l| messages >= l as u64) || decoder.stopped;
    let to = range_end(upto, decoder.last_commit_end, limit_reached);
    if decoder.changes.is_empty() {
        // Nothing of ours: let the slot release the WAL (the next batch still starts at `from`).
        slot::advance(owner, &stream.slot, to)?;
        return Ok(Outcome::Idle { to });
    }

    let mut staged = Vec::new();
    let mut captured = 0;
    let changed = std::mem::take(&mut decoder.changes);
    for (oid, changes) in changed {
        let Some(spec) = decoder.spec(oid) else { continue };
        let table = collapse_table(spec, changes)?;
        captured += table.captured;
        let added = decoder.added.get(&oid).map(|a| a.len()).unwrap_or(0);
        staged.push(Staged { spec, table, added, backfilled: Vec::new() });
    }
    let export_id = batch_id(&stream.name, from, to);
    let position = StreamPosition {
        stream: stream.name.clone(),
        slot: stream.slot.clone(),
        base_export_id: stream.base_export_id.clone().unwrap_or_default(),
        from_lsn: from.to_string(),
        to_lsn: to.to_string(),
        overlap_until_lsn: stream.overlap_until.unwrap_or_default().to_string(),
    };
    let mut temps = Vec::with_capacity(staged.len());
    for (i, table) in staged.iter_mut().enumerate() {
        temps.push(stage(i, table)?);
    }
    let identity = Identity { export_id: Some(export_id.clone()), kind: BundleKind::Changes, stream: Some(position) };
    let _staged_rows = FreshSnapshot::push();
    // Each table's catalog entry, read once when staging, goes to its job.
    let results = run(settings, identity, |_client, head| {
        let mut jobs = Vec::with_capacity(staged.len());
        for (table, (temp, relation)) in staged.iter().zip(temps) {
            jobs.push(change_job(stream, settings, head, table, &temp, relation)?);
        }
        Ok(jobs)
    })?;
    slot::advance(owner, &stream.slot, to)?;
    let mut progress = Progress { base: None, position: to, export_id: &export_id, last_commit_us: decoder.last_commit_time_us, changes: captured, spec: None };
    // Columns added in this batch are part of the tables from now on.
    let widened;
    if !decoder.added.is_empty() {
        let specs: Vec<TableSpec> = stream.spec.iter().map(|t| decoder.spec(t.oid).cloned().unwrap_or_else(|| t.clone())).collect();
        widened = spec_to_json(&specs)?;
        progress.spec = Some(&widened);
    }
    record_progress(owner, &stream.name, &progress)?;
    Ok(Outcome::Exported(results))
}

/// One table's part of the batch.
struct Staged<'d> {
    /// The table as the batch describes it (with the columns added in it).
    spec: &'d TableSpec,
    table: CollapsedTable,
    /// How many of the spec's columns were added in this batch (its last ones).
    added: usize,
    /// Indexes of the added columns whose existing rows have a value (the `A` row carries it).
    backfilled: Vec<usize>,
}

/// The values that rows existing when a column was added have in it (PostgreSQL keeps them as
/// the column's "missing value"), for the last `added` columns of the relation. A column with a
/// default PostgreSQL computed row by row (which rewrites the table, invisibly to decoding) is
/// refused.
fn backfill(client: &SpiClient<'_>, spec: &TableSpec, relation: &Relation, added: usize) -> Result<Vec<Option<String>>, ExportError> {
    let mut values = Vec::with_capacity(added);
    for i in spec.columns.len() - added..spec.columns.len() {
        let name = &relation.columns[i].name;
        let sql = format!(
            "SELECT a.atthasmissing, a.atthasdef, CASE WHEN a.atthasmissing THEN (a.attmissingval::pg_catalog.text::{}[])[1]::pg_catalog.text END
             FROM pg_catalog.pg_attribute a WHERE a.attrelid OPERATOR(pg_catalog.=) $1 AND a.attname OPERATOR(pg_catalog.=) $2",
            relation.attributes[i].base_type
        );
        let rows = client.select(&sql, Some(1), &[pgrx::pg_sys::Oid::from(spec.oid).into(), name.as_str().into()])?;
        let row = rows.first();
        let (missing, default, value) = (row.get::<bool>(1)?.unwrap_or(false), row.get::<bool>(2)?.unwrap_or(false), row.get::<String>(3)?);
        if default && !missing {
            let detail = format!(
                "column {name} was added with a default PostgreSQL computes for each row (or was given a default later), so the values of the rows that existed then are not in the WAL"
            );
            return Err(pg2redshift_core::changes::ChangeError::SchemaChanged { table: spec.qualified(), detail }.into());
        }
        values.push(value);
    }
    Ok(values)
}

/// Stages one table's collapsed rows in `pg_temp.pg2redshift_changes_<i>` (handing them over:
/// the rows leave memory as they are staged); returns its name and the table's catalog entry
/// (the batch's columns of it).
fn stage(i: usize, staged: &mut Staged<'_>) -> Result<(String, Relation), ExportError> {
    let temp = format!("pg2redshift_changes_{i}");
    let spec = staged.spec;
    let oid = pgrx::pg_sys::Oid::from(spec.oid);
    let keys = spec.key.len();
    let (insert, width, relation) = Spi::connect_mut(|client| {
        let mut relation = read_relation_with(client, oid)?;
        captured_columns(spec, &mut relation)?;
        if staged.added > 0 {
            let values = backfill(client, spec, &relation, staged.added)?;
            let first = spec.columns.len() - staged.added;
            staged.backfilled = values.iter().enumerate().filter(|(_, v)| v.is_some()).map(|(k, _)| first + k).collect();
            if !staged.backfilled.is_empty() {
                let mut row = vec![None; spec.columns.len()];
                row.splice(first.., values);
                staged.table.rows.push(ChangeRow { op: 'A', lsn: Lsn::default(), fill: None, fill_key: None, values: row });
            }
        }
        let mut defs: Vec<String> = META.iter().map(|m| format!("{} pg_catalog.text", quote(m))).collect();
        let mut types: Vec<String> = vec!["pg_catalog.text".to_string(); META.len()];
        for &k in &spec.key {
            defs.push(format!("{} {}", quote(&fill_name(&relation.columns[k].name)), relation.attributes[k].base_type));
            types.push(relation.attributes[k].base_type.clone());
        }
        for (column, attribute) in relation.columns.iter().zip(&relation.attributes) {
            defs.push(format!("{} {}", quote(&column.name), attribute.base_type));
            types.push(attribute.base_type.clone());
        }
        // A second batch in one transaction finds the first one's table.
        let leftover = client.select("SELECT pg_catalog.to_regclass($1) IS NOT NULL", Some(1), &[format!("pg_temp.{}", quote(&temp)).into()])?;
        if leftover.first().get::<bool>(1)?.unwrap_or(false) {
            client.update(&format!("DROP TABLE pg_temp.{}", quote(&temp)), None, &[])?;
        }
        client.update(&format!("CREATE TEMPORARY TABLE {} ({}) ON COMMIT DROP", quote(&temp), defs.join(", ")), None, &[])?;
        let casts: Vec<String> = types.iter().enumerate().map(|(c, ty)| format!("u.c{c}::{ty}")).collect();
        let unnests: Vec<String> = (0..types.len()).map(|c| format!("pg_catalog.unnest(${}::pg_catalog.text[])", c + 1)).collect();
        let names: Vec<String> = (0..types.len()).map(|c| format!("c{c}")).collect();
        let insert = format!(
            "INSERT INTO pg_temp.{} SELECT {} FROM ROWS FROM ({}) AS u({})",
            quote(&temp),
            casts.join(", "),
            unnests.join(", "),
            names.join(", ")
        );
        Ok::<_, ExportError>((insert, types.len(), relation))
    })?;
    let rows = std::mem::take(&mut staged.table.rows);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut columns: Vec<Vec<Option<String>>> = vec![Vec::with_capacity(STAGE_ROWS); width];
        for row in rows.by_ref().take(STAGE_ROWS) {
            columns[0].push(Some(row.op.to_string()));
            columns[1].push(Some(row.lsn.to_string()));
            columns[2].push(row.fill);
            let mut fill_key = row.fill_key.map(Vec::into_iter);
            for column in columns.iter_mut().skip(META.len()).take(keys) {
                column.push(fill_key.as_mut().and_then(Iterator::next).flatten());
            }
            for (column, value) in columns.iter_mut().skip(META.len() + keys).zip(row.values) {
                column.push(value);
            }
        }
        let args: Vec<_> = columns.into_iter().map(Into::into).collect();
        // One SPI connection per chunk: what SPI allocates for it is freed with it.
        Spi::connect_mut(|client| client.update(&insert, None, &args).map(|_| ()))?;
        pgrx::check_for_interrupts!();
    }
    Ok((temp, relation))
}

/// The batch's columns of the table, as the catalog has them now: the columns the batch
/// describes must be the catalog's first ones, unchanged (its rows are typed by the catalog);
/// columns added after the batch's changes are left for the next batch.
fn captured_columns(spec: &TableSpec, relation: &mut Relation) -> Result<(), ExportError> {
    let now: Vec<(&str, u32, i32)> =
        relation.columns.iter().zip(&relation.attributes).map(|(c, a)| (c.name.as_str(), a.type_oid, a.typmod)).collect();
    let then: Vec<(&str, u32, i32)> = spec.columns.iter().map(|c| (c.name.as_str(), c.type_oid, c.typmod)).collect();
    if now.len() >= then.len() && now[..then.len()] == then[..] {
        relation.columns.truncate(then.len());
        relation.attributes.truncate(then.len());
        return Ok(());
    }
    let detail = if now.len() < then.len() {
        format!("column {} was dropped", then[now.len()].0)
    } else {
        "a column was renamed, dropped or changed its type".to_string()
    };
    Err(pg2redshift_core::changes::ChangeError::SchemaChanged { table: spec.qualified(), detail }.into())
}

fn quote(name: &str) -> String {
    pg2redshift_bundle::quote_ident(name)
}

fn fill_name(column: &str) -> String {
    format!("pg2redshift fill {column}")
}

/// The export job of one table's staged rows (`relation`: its batch's columns, from staging).
fn change_job(
    stream: &Stream,
    settings: &ExportSettings,
    head: &pg2redshift_core::commit::ExportHead,
    staged: &Staged<'_>,
    temp: &str,
    relation: Relation,
) -> Result<Job, ExportError> {
    let (spec, table) = (staged.spec, &staged.table);
    let oid = pgrx::pg_sys::Oid::from(spec.oid);
    let options = table_options(stream.target_schema.as_deref(), None, None, None, None, None, Some(stream.numeric_scale))?;
    let plan = plan_table(&relation.schema, &relation.name, &relation.columns, &relation.primary_key, &options)?;
    let text = |name: &str| SourceColumn { name: name.into(), ty: SourceType::builtin("text", -1), declared_type: "text".into(), not_null: false };
    let mut columns: Vec<SourceColumn> = META.iter().map(|m| text(m)).collect();
    let mut fields: Vec<Field> = ["op", "lsn", "fill"]
        .iter()
        .map(|m| Field { name: format!("({m})"), rule: ValueRule::Plain, not_null: false })
        .collect();
    let own = Field::of_plan(&plan);
    for &k in &spec.key {
        let mut column = relation.columns[k].clone();
        column.name = fill_name(&column.name);
        columns.push(column);
        fields.push(Field { name: format!("(fill key {})", relation.columns[k].name), rule: own[k].rule, not_null: false });
    }
    // Domains are staged as their base type (a NULL where a value is filled from the target
    // must not trip a domain's NOT NULL); the source column's description already is the base.
    columns.extend(relation.columns.iter().cloned());
    fields.extend(own.into_iter().map(|f| Field { not_null: false, ..f }));
    let identity = RowIdentity::Change { lsn_column: META[1].to_string(), key: relation.primary_key.clone() };
    let query = export_query("pg_temp", temp, &columns, identity);
    let change_file = ChangeFile {
        key: plan.table.primary_key.clone(),
        truncated: table.truncated,
        captured: table.captured,
        fill_columns: table.fill_columns.iter().map(|&i| plan.columns[i].target_name.clone()).collect(),
        added_columns: plan.columns[spec.columns.len() - staged.added..].iter().map(|c| c.target_name.clone()).collect(),
        backfilled_columns: staged.backfilled.iter().map(|&i| plan.columns[i].target_name.clone()).collect(),
    };
    Ok(Job {
        oid,
        location: location(settings, &head.database, &relation, &head.export_id),
        relation,
        plan,
        query,
        fields,
        change_file: Some(change_file),
    })
}

/// Looks in S3 for a batch of this stream starting at `from` (on a helper thread).
fn earlier_batch(settings: &ExportSettings, database: &str, stream: &str, from: Lsn) -> Result<Option<Earlier>, ExportError> {
    let folder = format!("{}{EXPORTS_FOLDER}/", database_folder_key(&settings.prefix, database));
    let prefix = format!("{folder}{}{:016X}-", batch_id_prefix(stream), from.0);
    let s3 = settings.s3.clone();
    let stream = stream.to_string();
    let found = run_beside("pg2redshift batch lookup", move || lookup(s3, folder, prefix, &stream, from))
        .map_err(ExportError::from)?;
    found.map_err(|e| ExportError::Upload(crate::pipeline::PipelineError::S3(e)))
}

fn lookup(s3: S3Config, folder: String, prefix: String, stream: &str, from: Lsn) -> Result<Option<Earlier>, S3Error> {
    let runtime = runtime("batch lookup", &s3.bucket, &prefix)?;
    let deadline = Instant::now() + LOOKUP_DEADLINE;
    runtime.block_on(async {
        let bucket = Bucket::new(client(&s3).await, &s3);
        let listed = tokio::time::timeout_at(deadline.into(), bucket.list_objects(&prefix)).await.map_err(|_| S3Error {
            operation: "ListObjectsV2",
            bucket: s3.bucket.clone(),
            key: prefix.clone(),
            detail: "no answer in time".into(),
            transient: true,
        })??;
        let Some(document_key) = listed.iter().map(|o| &o.key).find(|k| k.ends_with(pg2redshift_bundle::EXPORT_FILE)) else {
            return Ok(None);
        };
        let id = document_key.strip_prefix(&folder).and_then(|rest| rest.split('/').next()).unwrap_or_default();
        let Some(to) = batch_end(stream, from, id) else { return Ok(None) };
        let Some(bytes) = bucket.get(document_key).await? else { return Ok(Some(Earlier::Incomplete(to))) };
        let document = std::str::from_utf8(&bytes).ok().and_then(|text| ExportDocument::from_json(text).ok());
        let Some(document) = document else { return Ok(Some(Earlier::Incomplete(to))) };
        for member in &document.tables {
            if bucket.get(&member.bundle_key).await?.is_none() {
                return Ok(Some(Earlier::Incomplete(to)));
            }
        }
        Ok(Some(Earlier::Committed(to)))
    })
}
