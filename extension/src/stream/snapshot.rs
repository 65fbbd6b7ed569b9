//! Snapshots newer than the statement's: a stream's base must see every transaction that
//! committed before its start, and a batch must see the rows it staged itself.

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::error::ExportError;

/// The newest snapshot, made the active one (what the export's queries read) until dropped.
pub struct FreshSnapshot;

impl FreshSnapshot {
    pub fn push() -> FreshSnapshot {
        // SAFETY: backend thread, inside a transaction. The counter increment makes this
        // transaction's own writes so far visible to the new snapshot; PushActiveSnapshot copies
        // the static snapshot GetLatestSnapshot returns.
        unsafe {
            pg_sys::CommandCounterIncrement();
            pg_sys::PushActiveSnapshot(pg_sys::GetLatestSnapshot());
        }
        FreshSnapshot
    }
}

impl Drop for FreshSnapshot {
    fn drop(&mut self) {
        // While an ERROR unwinds, the aborting transaction pops every snapshot itself.
        if !std::thread::panicking() {
            // SAFETY: ours is the top of the active snapshot stack: everything pushed since
            // was popped by whoever pushed it.
            unsafe { pg_sys::PopActiveSnapshot() }
        }
    }
}

/// Waits for every transaction that was running when the active snapshot was taken (except
/// this one) to end: those it lists as in progress, and those whose ids are at or past its xmax
/// (assigned before it but newer than the newest completed one, which a snapshot does not list).
pub fn wait_for_running() -> Result<(), ExportError> {
    let (xip, xmax) = Spi::connect(|client| {
        let mut xip = Vec::new();
        let sql = "SELECT x::pg_catalog.text FROM pg_catalog.pg_snapshot_xip(pg_catalog.pg_current_snapshot()) x";
        for row in client.select(sql, None, &[])? {
            xip.push(row.get::<String>(1)?.unwrap_or_default());
        }
        let xmax: Option<String> =
            client.select("SELECT pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot())::pg_catalog.text", Some(1), &[])?.first().get(1)?;
        Ok::<_, pgrx::spi::SpiError>((xip, xmax.unwrap_or_default()))
    })?;
    // SAFETY: reads the shared next transaction id under its lock, on the backend thread.
    let next = unsafe { pg_sys::ReadNextFullTransactionId() }.value;
    let xmax = xmax.parse::<u64>().map_err(|_| ExportError::Internal(format!("{xmax:?} is not a transaction id")))?;
    let listed = xip.iter().filter_map(|x| x.parse::<u64>().ok());
    // SAFETY: reads the backend's own transaction id.
    let own = unsafe { pg_sys::GetTopTransactionIdIfAny() };
    for full in listed.chain(xmax..next) {
        // A 64-bit xid's low 32 bits are the 32-bit one the lock table knows.
        let xid = pg_sys::TransactionId::from(full as u32);
        // Ids below 3 are PostgreSQL's special ones (invalid, bootstrap, frozen).
        if xid == own || (full as u32) < 3 {
            continue;
        }
        // SAFETY: waits on the transaction's lock, as CREATE INDEX CONCURRENTLY does (returning
        // at once for one that has ended); an interrupt (cancel, statement_timeout) ends the
        // wait with an ERROR.
        unsafe { pg_sys::XactLockTableWait(xid, std::ptr::null_mut(), std::ptr::null_mut(), pg_sys::XLTW_Oper::XLTW_None) };
    }
    Ok(())
}
