//! A stream's replication slot and publication, and reading its changes. Changes are only ever
//! peeked (`pg_logical_slot_peek_binary_changes`), never consumed: the slot moves
//! (`pg_replication_slot_advance`) once the batch holding them is committed in S3, so a failure
//! in between exports the same changes again. (`pg_logical_slot_get_changes` would consume them
//! even when the calling transaction rolls back.)

use pg2redshift_core::changes::{Decoder, Flow};
use pg2redshift_core::pgoutput::Lsn;
use pgrx::prelude::*;

use super::owner::Owner;
use crate::error::ExportError;

/// Messages fetched from the peek's result at a time.
const FETCH: i64 = 1000;

/// `pg2redshift_<stream>`: the stream's name is checked to be lowercase letters, digits and `_`.
pub fn object_name(stream: &str) -> String {
    format!("pg2redshift_{stream}")
}

/// Creates the slot; must run before the transaction writes anything (PostgreSQL's rule).
pub fn create(owner: &Owner, slot: &str) -> Result<(), ExportError> {
    let elsewhere = crate::catalog::select_one::<String>(
        "SELECT s.database::pg_catalog.text FROM pg_catalog.pg_replication_slots s WHERE s.slot_name OPERATOR(pg_catalog.=) $1",
        &[slot.into()],
    )?;
    if let Some(database) = elsewhere {
        return Err(ExportError::SlotTaken { slot: slot.to_string(), database });
    }
    // A read-only query: a write would give the transaction an id, and then PostgreSQL refuses
    // to create the slot.
    owner.query("SELECT pg_catalog.pg_create_logical_replication_slot($1, 'pgoutput')", &[slot.into()])
}

/// Drops the slot if it exists in this database (refused by PostgreSQL while a session uses it).
/// Slot names are the server's: one of another database is never touched.
pub fn drop_slot(owner: &Owner, slot: &str) -> Result<(), ExportError> {
    owner.query(
        "SELECT pg_catalog.pg_drop_replication_slot(s.slot_name) FROM pg_catalog.pg_replication_slots s
         WHERE s.slot_name OPERATOR(pg_catalog.=) $1
           AND s.database OPERATOR(pg_catalog.=) pg_catalog.current_database()",
        &[slot.into()],
    )
}

/// Creates the publication of the stream's tables (`tables`: qualified, quoted names). Changes to
/// partitions arrive as changes to their partitioned table, which is what is exported.
pub fn publish(owner: &Owner, publication: &str, tables: &[String]) -> Result<(), ExportError> {
    let sql = format!(
        "CREATE PUBLICATION {} FOR TABLE {} WITH (publish_via_partition_root = true)",
        pg2redshift_bundle::quote_ident(publication),
        tables.join(", ")
    );
    owner.execute(&sql, &[])
}

pub fn unpublish(owner: &Owner, publication: &str) -> Result<(), ExportError> {
    let sql = format!("DROP PUBLICATION IF EXISTS {}", pg2redshift_bundle::quote_ident(publication));
    owner.execute(&sql, &[])
}

/// The slot as `pg_replication_slots` shows it: how far it has confirmed, or why it is unusable.
pub fn confirmed(slot: &str) -> Result<Lsn, ExportError> {
    let row = Spi::connect(|client| {
        let rows = client.select(
            "SELECT s.wal_status, s.confirmed_flush_lsn::pg_catalog.text FROM pg_catalog.pg_replication_slots s
             WHERE s.slot_name OPERATOR(pg_catalog.=) $1",
            Some(1),
            &[slot.into()],
        )?;
        if rows.is_empty() {
            return Ok(None);
        }
        let r = rows.first();
        Ok::<_, pgrx::spi::SpiError>(Some((r.get::<String>(1)?, r.get::<String>(2)?)))
    })?;
    match row {
        None => Err(ExportError::SlotGone { slot: slot.to_string(), why: "does not exist" }),
        Some((Some(status), _)) if status == "lost" => {
            Err(ExportError::SlotGone { slot: slot.to_string(), why: "was invalidated (the WAL it needed is gone, max_slot_wal_keep_size)" })
        }
        Some((_, Some(lsn))) => lsn.parse().map_err(|e: pg2redshift_core::pgoutput::DecodeError| ExportError::Internal(e.to_string())),
        Some((_, None)) => Err(ExportError::SlotGone { slot: slot.to_string(), why: "has no confirmed position" }),
    }
}

/// Moves the slot to `to` unless it is there already: the changes before it are never read again.
pub fn advance(owner: &Owner, slot: &str, to: Lsn) -> Result<(), ExportError> {
    if confirmed(slot)? >= to {
        return Ok(());
    }
    owner.execute("SELECT pg_catalog.pg_replication_slot_advance($1, $2::pg_catalog.text::pg_catalog.pg_lsn)", &[
        slot.into(),
        to.to_string().into(),
    ])
}

/// The current WAL flush position: decoding can read up to here.
pub fn flushed() -> Result<Lsn, ExportError> {
    lsn_of("SELECT pg_catalog.pg_current_wal_flush_lsn()::pg_catalog.text")
}

/// The current WAL insert position.
pub fn inserted() -> Result<Lsn, ExportError> {
    lsn_of("SELECT pg_catalog.pg_current_wal_insert_lsn()::pg_catalog.text")
}

fn lsn_of(sql: &str) -> Result<Lsn, ExportError> {
    let text = crate::catalog::select_one::<String>(sql, &[])?.unwrap_or_default();
    text.parse().map_err(|e: pg2redshift_core::pgoutput::DecodeError| ExportError::Internal(e.to_string()))
}

/// Feeds `decoder` the stream's changes of the transactions that commit before `upto` (and the
/// one whose commit straddles it), stopping after the transaction that reaches `limit`
/// messages. Returns how many messages came.
pub fn peek(owner: &Owner, slot: &str, publication: &str, upto: Lsn, limit: Option<i32>, decoder: &mut Decoder) -> Result<u64, ExportError> {
    owner.run(|| {
        Spi::connect(|client| {
            let mut cursor = client.try_open_cursor(
                "SELECT data FROM pg_catalog.pg_logical_slot_peek_binary_changes($1, $2::pg_catalog.text::pg_catalog.pg_lsn, $3,
                     'proto_version', '1', 'publication_names', $4)",
                &[slot.into(), upto.to_string().into(), limit.into(), publication.into()],
            )?;
            let mut count = 0u64;
            loop {
                let rows = cursor.fetch(FETCH as _)?;
                if rows.is_empty() {
                    break;
                }
                let mut stop = false;
                for row in rows {
                    let data: Vec<u8> = row.get(1)?.unwrap_or_default();
                    count += 1;
                    if decoder.read(&data)? == Flow::Stop {
                        stop = true;
                        break;
                    }
                }
                // SAFETY: the fetch's rows were read and are not referred to any more; without
                // this, every fetched message would stay in SPI's memory until the end.
                unsafe { pgrx::pg_sys::SPI_freetuptable(pgrx::pg_sys::SPI_tuptable) };
                if stop {
                    return Ok(count);
                }
                pgrx::check_for_interrupts!();
            }
            Ok(count)
        })
    })
}
