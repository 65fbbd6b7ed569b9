//! Starting the export's helper threads so that PostgreSQL's signal handlers only ever run on
//! the backend thread.

use std::thread::JoinHandle;

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
