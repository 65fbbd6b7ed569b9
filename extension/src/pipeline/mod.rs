//! The export's helper threads. The backend thread formats CSV blocks and hands them over; the
//! compressor thread has them compressed by `gzip_threads` workers (one gzip stream or zstd frame
//! per file, see `pg2redshift_core::compress`) into S3-part-sized buffers; the uploader thread (a small tokio
//! runtime) uploads those as multipart parts and writes the small commit files. Helper threads
//! touch no Postgres state: they own the bytes they get, and they run with every signal blocked,
//! so the backend alone handles cancel and termination.
//!
//! Memory held outside Postgres is bounded, whatever the table size:
//! `(QUEUE_BLOCKS + 1) × BLOCK_BYTES` of CSV waiting or being filled, up to
//! `2 × gzip_threads + 1` blocks (with their compressed output) in gzip's workers' hands (libzstd
//! holds a few MiB per worker of its own), plus
//! `(1 + PART_QUEUE + PARTS_IN_FLIGHT) × PART_BYTES` of compressed output being filled, queued or
//! uploaded: about 5 + 10 + 32 MiB with two threads (a single row larger than a block enlarges
//! that block). CSV blocks and compressed buffers are reused and parts have pages of their own
//! ([`seal_part`]), so a long export stays at that bound instead of creeping up in glibc's arenas.
//!
//! If the backend drops the [`Pipeline`] without finishing it (an ERROR, a cancel, a timeout),
//! the uploader aborts its open multipart upload and deletes every object this export wrote, and
//! the drop waits for that (up to [`CLEANUP_DEADLINE`]).
//!
//! Modules, in the order the data flows: [`compressor`] (CSV blocks → compressed parts), [`uploader`]
//! (parts → S3 multipart uploads), and [`threads`] (how both are started, signals blocked).

mod compressor;
mod threads;
mod uploader;

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use crossbeam_channel::{Receiver, RecvTimeoutError, SendTimeoutError, Sender};
use pg2redshift_core::compress::{BufferPool, Codec, FileCompressor};
use tokio::sync::mpsc;

use crate::s3::{S3Config, S3Error};
use compressor::run_compressor;
pub use threads::run_beside;
use threads::spawn_without_signals;
use uploader::run_uploader;

/// CSV bytes the backend collects before handing a block over.
pub const BLOCK_BYTES: usize = 1024 * 1024;
/// Blocks that may wait for the compressor.
const QUEUE_BLOCKS: usize = 4;
/// Size of each multipart part (S3 wants at least 5 MiB for all parts but the last).
pub const PART_BYTES: usize = 8 * 1024 * 1024;
const PART_QUEUE: usize = 1;
const PARTS_IN_FLIGHT: usize = 2;
/// How long cleanup after a failure keeps trying to reach S3.
pub const CLEANUP_DEADLINE: Duration = Duration::from_secs(60);
/// How often a waiting backend checks for interrupts.
const POLL: Duration = Duration::from_millis(100);

/// What the backend asks of the helpers, in order.
enum Command {
    StartFile { key: String },
    Rows { data: Vec<u8>, rows: u64 },
    EndFile,
    /// A small object written whole (manifest.json, bundle.json), after everything before it.
    Put { key: String, body: Vec<u8>, content_type: &'static str },
    Finish,
}

enum Upload {
    Part { key: String, data: Bytes, content_type: &'static str },
    Last { key: String, data: Bytes, rows: u64, raw_bytes: u64, content_type: &'static str },
    Put { key: String, body: Bytes, content_type: &'static str },
    Finish,
}

/// A data file that is complete in S3.
#[derive(Debug, Clone)]
pub struct UploadedFile {
    pub key: String,
    pub rows: u64,
    pub raw_bytes: u64,
    pub compressed_bytes: u64,
}

enum Event {
    FileDone(UploadedFile),
    /// A `Put` is done.
    Written,
    Failed(S3Error),
    Finished,
    /// Cleanup after a failure or drop is over; lists what could not be removed.
    CleanedUp(Vec<String>),
}

impl Event {
    fn name(&self) -> &'static str {
        match self {
            Event::FileDone(_) => "a completed data file",
            Event::Written => "a completed write",
            Event::Failed(_) => "a failure",
            Event::Finished => "the end of the export",
            Event::CleanedUp(_) => "the end of a cleanup",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    S3(#[from] S3Error),
    #[error("the export's {0} thread stopped unexpectedly")]
    ThreadLost(&'static str),
    #[error("could not start an export thread: {0}")]
    Spawn(std::io::Error),
    /// The helpers reported something the backend cannot be waiting for: a bug, never a wait
    /// until cancel.
    #[error("internal error: the upload thread reported {got} while the export waited for {waiting_for}")]
    Unexpected { got: &'static str, waiting_for: String },
}

/// The backend's handle on the helper threads.
pub struct Pipeline {
    commands: Option<Sender<Command>>,
    /// CSV blocks, handed back by the compressors once compressed.
    blocks: BufferPool,
    /// Set on abort: the helpers drop queued work and go straight to cleanup.
    cancel: tokio::sync::watch::Sender<bool>,
    events: Receiver<Event>,
    threads: Vec<JoinHandle<()>>,
    /// Files completed so far, in completion order.
    pub files: Vec<UploadedFile>,
    /// Their compressed bytes, summed.
    pub uploaded_bytes: u64,
    done: bool,
}

impl Pipeline {
    pub fn start(s3: S3Config, codec: Codec, threads: usize) -> Result<Pipeline, PipelineError> {
        let (command_tx, command_rx) = crossbeam_channel::bounded(QUEUE_BLOCKS);
        let (upload_tx, upload_rx) = mpsc::channel(PART_QUEUE);
        let (event_tx, event_rx) = crossbeam_channel::unbounded();
        let (cancel, cancelled) = tokio::sync::watch::channel(false);
        // As many blocks as can be queued, compressed or held at once, and the one being filled.
        let blocks = BufferPool::new(QUEUE_BLOCKS + 2 * threads.max(1) + 2, BLOCK_BYTES + BLOCK_BYTES / 8);
        let mut pipeline = Pipeline {
            commands: Some(command_tx),
            blocks: blocks.clone(),
            cancel,
            events: event_rx,
            threads: Vec::new(),
            files: Vec::new(),
            uploaded_bytes: 0,
            done: false,
        };
        let uploader_events = event_tx.clone();
        let uploader_cancelled = cancelled.clone();
        pipeline.threads.push(
            spawn_without_signals("pg2redshift upload", move || {
                run_uploader(s3, upload_rx, uploader_events, uploader_cancelled)
            })
            .map_err(PipelineError::Spawn)?,
        );
        let compressor = FileCompressor::new(codec, threads, blocks, |name, work| spawn_without_signals(&name, work))
            .map_err(PipelineError::Spawn)?;
        let content_type = codec.compression().content_type();
        pipeline.threads.push(
            spawn_without_signals("pg2redshift compress", move || {
                run_compressor(command_rx, upload_tx, compressor, content_type, cancelled)
            })
            .map_err(PipelineError::Spawn)?,
        );
        drop(event_tx);
        Ok(pipeline)
    }

    pub fn start_file(&mut self, key: String) -> Result<(), PipelineError> {
        self.send(Command::StartFile { key })
    }

    /// An empty CSV block to fill (a reused one once the export is under way).
    pub fn block(&self) -> Vec<u8> {
        self.blocks.take()
    }

    pub fn rows(&mut self, data: Vec<u8>, rows: u64) -> Result<(), PipelineError> {
        self.send(Command::Rows { data, rows })
    }

    pub fn end_file(&mut self) -> Result<(), PipelineError> {
        self.send(Command::EndFile)
    }

    /// Waits until `count` data files are complete in S3.
    pub fn wait_for_files(&mut self, count: usize) -> Result<(), PipelineError> {
        while self.files.len() < count {
            if let Some(other) = self.wait_event()? {
                return Err(PipelineError::Unexpected { got: other.name(), waiting_for: format!("{count} data files") });
            }
        }
        Ok(())
    }

    /// Writes one small object and waits until it is in S3.
    pub fn put(&mut self, key: String, body: Vec<u8>, content_type: &'static str) -> Result<(), PipelineError> {
        let waiting_for = format!("{key} to be written");
        self.send(Command::Put { key, body, content_type })?;
        loop {
            match self.wait_event()? {
                Some(Event::Written) => return Ok(()),
                Some(other) => return Err(PipelineError::Unexpected { got: other.name(), waiting_for }),
                None => continue,
            }
        }
    }

    /// Ends the export successfully: nothing is removed any more.
    pub fn finish(&mut self) -> Result<(), PipelineError> {
        self.send(Command::Finish)?;
        loop {
            match self.wait_event()? {
                Some(Event::Finished) => break,
                Some(other) => {
                    return Err(PipelineError::Unexpected { got: other.name(), waiting_for: "the end of the export".into() });
                }
                None => continue,
            }
        }
        self.done = true;
        self.commands = None;
        self.join();
        Ok(())
    }

    /// Stops the helpers, removes what this export wrote, and reports objects that could not be
    /// removed. Does not check for interrupts: it also runs while an ERROR unwinds.
    pub fn abort(&mut self) -> Vec<String> {
        if self.done {
            return Vec::new();
        }
        self.done = true;
        self.commands = None;
        let _ = self.cancel.send(true);
        let deadline = Instant::now() + CLEANUP_DEADLINE + Duration::from_secs(5);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.events.recv_timeout(left) {
                Ok(Event::CleanedUp(leftovers)) => {
                    self.join();
                    return leftovers;
                }
                Ok(_) => continue,
                Err(_) => break,
            }
        }
        // The helpers did not finish in time (S3 hanging): leave them to finish on their own
        // rather than block the backend. They own their data and touch no Postgres state.
        self.threads.clear();
        vec![format!("whatever the export wrote (cleanup did not finish within {} s)", CLEANUP_DEADLINE.as_secs())]
    }

    fn join(&mut self) {
        for handle in self.threads.drain(..) {
            // A helper that panicked has already reported through its channel being closed.
            let _ = handle.join();
        }
    }

    /// Hands a command over, checking for interrupts while the queue is full.
    fn send(&mut self, mut command: Command) -> Result<(), PipelineError> {
        loop {
            self.drain_events()?;
            let Some(tx) = &self.commands else {
                return Err(PipelineError::ThreadLost("compression"));
            };
            match tx.send_timeout(command, POLL) {
                Ok(()) => return Ok(()),
                Err(SendTimeoutError::Timeout(c)) => {
                    command = c;
                    pgrx::check_for_interrupts!();
                }
                Err(SendTimeoutError::Disconnected(_)) => return Err(self.failure()),
            }
        }
    }

    /// Records completed files; returns an upload failure as soon as one is reported.
    fn drain_events(&mut self) -> Result<(), PipelineError> {
        while let Ok(event) = self.events.try_recv() {
            self.note(event)?;
        }
        Ok(())
    }

    /// Records a completed file (`None`), turns a failure into an error, passes the rest on.
    fn note(&mut self, event: Event) -> Result<Option<Event>, PipelineError> {
        match event {
            Event::FileDone(file) => {
                self.uploaded_bytes += file.compressed_bytes;
                self.files.push(file);
                Ok(None)
            }
            Event::Failed(err) => Err(err.into()),
            other => Ok(Some(other)),
        }
    }

    /// Waits for the next event, checking for interrupts; `None` for a completed file.
    fn wait_event(&mut self) -> Result<Option<Event>, PipelineError> {
        loop {
            match self.events.recv_timeout(POLL) {
                Ok(event) => return self.note(event),
                Err(RecvTimeoutError::Timeout) => {
                    pgrx::check_for_interrupts!();
                }
                Err(RecvTimeoutError::Disconnected) => return Err(PipelineError::ThreadLost("upload")),
            }
        }
    }

    /// The reason the helpers stopped: the uploader's error if it sent one.
    fn failure(&mut self) -> PipelineError {
        let deadline = Instant::now() + Duration::from_secs(5);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.events.recv_timeout(left) {
                Ok(Event::Failed(err)) => return err.into(),
                Ok(event @ Event::FileDone(_)) => {
                    let _ = self.note(event);
                }
                Ok(_) => continue,
                Err(_) => break,
            }
        }
        PipelineError::ThreadLost("upload")
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.abort();
    }
}
