//! Starting the export's helper threads so that PostgreSQL's signal handlers only ever run on
//! the backend thread.

use std::thread::JoinHandle;

use crossbeam_channel::RecvTimeoutError;

use super::{POLL, PipelineError};

/// Spawns a thread with all signals blocked, so Postgres's handlers only ever run on the
/// backend thread.
pub(super) fn spawn_without_signals<F>(name: &str, f: F) -> std::io::Result<JoinHandle<()>>
where
    F: FnOnce() + Send + 'static,
{
    // SAFETY: plain libc calls on a local sigset; the old mask is restored before returning.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old);
        let handle = std::thread::Builder::new().name(name.to_string()).spawn(f);
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        handle
    }
}

/// Runs `work` on a helper thread started like the export's, and waits for its result while
/// checking for interrupts, so `pg_cancel_backend` and `statement_timeout` stop the wait. On
/// an interrupt the helper is left to finish on its own: it owns everything it touches.
pub fn run_beside<T, F>(name: &'static str, work: F) -> Result<T, PipelineError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = crossbeam_channel::bounded(1);
    let handle = spawn_without_signals(name, move || {
        let _ = tx.send(work());
    })
    .map_err(PipelineError::Spawn)?;
    loop {
        match rx.recv_timeout(POLL) {
            Ok(value) => {
                let _ = handle.join();
                return Ok(value);
            }
            Err(RecvTimeoutError::Timeout) => {
                pgrx::check_for_interrupts!();
            }
            Err(RecvTimeoutError::Disconnected) => return Err(PipelineError::ThreadLost(name)),
        }
    }
}
