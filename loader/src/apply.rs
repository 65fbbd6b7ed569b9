//! One change batch of a stream into Redshift, in one transaction: the batch must start exactly
//! where the stream's last applied batch (or its base snapshot) ended; every table's rows are
//! staged, filled and applied ([`crate::changes`]); the stream's new position and the load are
//! recorded; the transaction commits. Any failure rolls back: readers never see half a batch,
//! and a killed loader leaves the target as it was. A batch applied already is skipped; a gap or
//! an overlap with what was applied is refused, naming both ranges.

use pg2redshift_bundle::StreamPosition;
use pg2redshift_core::pgoutput::Lsn;
use postgres::Client;

use crate::changes;
use crate::error::LoadError;
use crate::report::Reporter;
use crate::sql::{CopyAuth, quote_literal};
use crate::state;
use crate::steps::{self, Action, Step, run};
use crate::store::Committed;
use crate::swap::{Attempt, Done, copy, exec, run_step};

fn lsn(text: &str, what: &str) -> Result<Lsn, LoadError> {
    text.parse().map_err(|_| LoadError::Refused(format!("the batch's {what} {text:?} is not an LSN")))
}

/// The batch's stream position, checked: its range, and whether it may overlap the base.
fn position(batch: &[Committed]) -> Result<(&StreamPosition, Lsn, Lsn, bool), LoadError> {
    let first = batch.first().ok_or_else(|| LoadError::Refused("an empty change batch".into()))?;
    let p = first.stream.as_ref().ok_or_else(|| LoadError::Refused(format!("{}: refused: a change batch that names no stream", first.url())))?;
    let (from, to, overlap) = (lsn(&p.from_lsn, "start")?, lsn(&p.to_lsn, "end")?, lsn(&p.overlap_until_lsn, "overlap end")?);
    if to <= from {
        return Err(LoadError::Refused(format!("{}: refused: its range [{from}, {to}) is empty or reversed", first.url())));
    }
    Ok((p, from, to, from < overlap))
}

/// Every statement the batch runs when nothing needs leaving out (`plan` prints these).
pub fn plan(batch: &[Committed], auth: &CopyAuth) -> Result<Vec<Step>, LoadError> {
    let (p, _, _, overlap) = position(batch)?;
    let mut planned = vec![steps::lock_history()];
    for c in batch {
        planned.extend(changes::stage(c, auth)?);
        planned.extend(changes::add_columns(c)?);
        planned.extend(changes::fill(c, false)?);
        if overlap {
            planned.extend(changes::fill(c, true)?);
        }
        planned.extend(changes::apply(c)?);
    }
    planned.extend(record(batch, p));
    Ok(planned)
}

fn record(batch: &[Committed], p: &StreamPosition) -> Vec<Step> {
    let b = &batch[0].bundle;
    state::record_stream(&b.source.database, &p.stream, &p.base_export_id, &p.to_lsn, &b.export_id)
        .into_iter()
        .map(|sql| run(format!("recording change stream {} at {}", p.stream, p.to_lsn), sql))
        .collect()
}

pub fn try_apply(db: &mut Client, batch: &[Committed], auth: &CopyAuth, report: &Reporter) -> Result<Done, Attempt> {
    let (p, from, to, overlap) = position(batch)?;
    let id = &batch[0].bundle.export_id;
    let database = &batch[0].bundle.source.database;
    let mut tx = db.transaction().map_err(|e| LoadError::target_sql("starting the load transaction", e))?;
    run_step(&mut tx, &steps::lock_history(), report)?;
    let applied: i64 = tx
        .query_one(&format!("SELECT count(*) FROM pg2redshift_loader.loads WHERE export_id = {}", quote_literal(id)), &[])
        .map_err(|e| LoadError::target_sql("reading the load history", e))?
        .get(0);
    if applied > 0 {
        return Ok(Done::AlreadyLoaded);
    }
    let Some((base, next)) = state::stream_position(&mut tx, database, &p.stream)? else {
        return Err(LoadError::Refused(format!(
            "change batch {id} of stream {} follows base export {}, which is not loaded here: load the base first",
            p.stream, p.base_export_id
        ))
        .into());
    };
    if base != p.base_export_id {
        return Err(LoadError::Refused(format!(
            "change batch {id} of stream {} follows base export {}, but Redshift holds base {base} of that stream",
            p.stream, p.base_export_id
        ))
        .into());
    }
    let next = lsn(&next, "stream position")?;
    if to <= next {
        return Ok(Done::AlreadyLoaded);
    }
    if from != next {
        let what = if from > next { "a gap: the changes between are missing" } else { "an overlap" };
        return Err(LoadError::Refused(format!(
            "change batch {id} of stream {} covers [{from}, {to}) but the changes applied so far end at {next}: {what}",
            p.stream
        ))
        .into());
    }

    // Each table must still hold the stream's rows: a full export loaded over it since (not the
    // stream's base) may be newer than this batch, which would then take rows back in time.
    let tables: Vec<(&str, &str)> = batch.iter().map(|c| (c.bundle.table.schema.as_str(), c.bundle.table.name.as_str())).collect();
    let last = state::last_loaded_all(&mut tx, &tables)?;
    let ours = |export_id: &str| export_id == base || export_id.starts_with(&format!("cdc-{}-", p.stream));
    for (schema, name) in &tables {
        if let Some((other, _)) = last.get(&(schema.to_string(), name.to_string())).filter(|(id, _)| !ours(id)) {
            return Err(LoadError::Refused(format!(
                "change batch {id} of stream {}: {schema}.{name} was replaced by export {other} after the stream's base; \
                 applying older changes over it could take rows back in time (start the stream again for a new base)",
                p.stream
            ))
            .into());
        }
    }

    for c in batch {
        let table = format!("{}.{}", c.bundle.table.schema, c.bundle.table.name);
        for step in changes::stage(c, auth)? {
            let Action::Copy { rows, .. } = step.action else {
                run_step(&mut tx, &step, report)?;
                continue;
            };
            if let Err(e) = copy(&mut tx, &step, &table, rows, report) {
                drop(tx);
                return Err(e.explained(db, &table));
            }
        }
        for step in changes::add_columns(c)?.into_iter().chain(changes::fill(c, false)?) {
            run_step(&mut tx, &step, report)?;
        }
        if overlap {
            for step in changes::fill(c, true)? {
                run_step(&mut tx, &step, report)?;
            }
        }
        let sql = changes::unfilled_sql(c)?;
        let unfilled: i64 =
            tx.query_one(sql.as_str(), &[]).map_err(|e| LoadError::target_sql("counting the rows left unfilled", e))?.get(0);
        if unfilled > 0 && !overlap {
            return Err(LoadError::failed(format!(
                "{table}: {unfilled} row(s) of change batch {id} keep values of rows that Redshift does not hold: \
                 the table no longer matches its source; nothing was changed (re-snapshot the stream)"
            ))
            .into());
        }
        if unfilled > 0 {
            let mut step = changes::drop_unfilled(c)?;
            step.note = Some((
                "overlap",
                format!("{table}: left out {unfilled} row(s) changed before the base snapshot and gone from it since"),
            ));
            run_step(&mut tx, &step, report)?;
        }
        for step in changes::apply(c)? {
            run_step(&mut tx, &step, report)?;
        }
    }
    for step in record(batch, p) {
        exec(&mut tx, &step.sql, &step.purpose)?;
    }
    report.timed("commit", || tx.commit()).map_err(|e| LoadError::failed_sql("COMMIT", e))?;
    Ok(Done::Loaded)
}
