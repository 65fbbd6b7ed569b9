//! The export's helper threads. The backend thread formats CSV blocks and hands them over; the
//! compressor thread has them gzipped by `gzip_threads` workers (one gzip stream per file, see
//! `pg2redshift_core::gzip`) into S3-part-sized buffers; the uploader thread (a small tokio
//! runtime) uploads those as multipart parts and writes the small commit files. Helper threads
//! touch no Postgres state: they own the bytes they get, and they run with every signal blocked,
//! so the backend alone handles cancel and termination.
//!
//! Memory held outside Postgres is bounded, whatever the table size:
//! `(QUEUE_BLOCKS + 1) × BLOCK_BYTES` of CSV waiting or being filled, up to
//! `2 × gzip_threads + 1` blocks (with their compressed output) in the compressors' hands, plus
//! `(1 + PART_QUEUE + PARTS_IN_FLIGHT) × PART_BYTES` of gzip output being filled, queued or
//! uploaded: about 5 + 10 + 32 MiB with two threads (a single row larger than a block enlarges
//! that block). CSV blocks and compressed buffers are reused and parts have pages of their own
//! ([`seal_part`]), so a long export stays at that bound instead of creeping up in glibc's arenas.
//!
//! If the backend drops the [`Pipeline`] without finishing it (an ERROR, a cancel, a timeout),
//! the uploader aborts its open multipart upload and deletes every object this export wrote, and
//! the drop waits for that (up to [`CLEANUP_DEADLINE`]).

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use aws_sdk_s3::types::CompletedPart;
use bytes::Bytes;
use crossbeam_channel::{Receiver, RecvTimeoutError, SendTimeoutError, Sender};
use flate2::Compression;
use pg2redshift_core::buffer_pool::BufferPool;
use pg2redshift_core::gzip::ParallelGzip;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::s3::{Bucket, S3Config, S3Error};

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

const GZIP_CONTENT_TYPE: &str = "application/gzip";

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
    Part { key: String, data: Bytes },
    Last { key: String, data: Bytes, rows: u64, raw_bytes: u64 },
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

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    S3(#[from] S3Error),
    #[error("the export's {0} thread stopped unexpectedly")]
    ThreadLost(&'static str),
    #[error("could not start an export thread: {0}")]
    Spawn(std::io::Error),
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
    pub fn start(s3: S3Config, gzip_level: u32, gzip_threads: usize) -> Result<Pipeline, PipelineError> {
        let (command_tx, command_rx) = crossbeam_channel::bounded(QUEUE_BLOCKS);
        let (upload_tx, upload_rx) = mpsc::channel(PART_QUEUE);
        let (event_tx, event_rx) = crossbeam_channel::unbounded();
        let (cancel, cancelled) = tokio::sync::watch::channel(false);
        // As many blocks as can be queued, compressed or held at once, and the one being filled.
        let blocks = BufferPool::new(QUEUE_BLOCKS + 2 * gzip_threads.max(1) + 2, BLOCK_BYTES + BLOCK_BYTES / 8);
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
        let level = Compression::new(gzip_level.clamp(1, 9));
        let gzip = ParallelGzip::new(gzip_threads, level, blocks, |name, work| spawn_without_signals(&name, work))
            .map_err(PipelineError::Spawn)?;
        pipeline.threads.push(
            spawn_without_signals("pg2redshift gzip", move || run_compressor(command_rx, upload_tx, gzip, cancelled))
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
            self.wait_event()?;
        }
        Ok(())
    }

    /// Writes one small object and waits until it is in S3.
    pub fn put(&mut self, key: String, body: Vec<u8>, content_type: &'static str) -> Result<(), PipelineError> {
        self.send(Command::Put { key, body, content_type })?;
        loop {
            if let Some(Event::Written) = self.wait_event()? {
                return Ok(());
            }
        }
    }

    /// Ends the export successfully: nothing is removed any more.
    pub fn finish(&mut self) -> Result<(), PipelineError> {
        self.send(Command::Finish)?;
        loop {
            if let Some(Event::Finished) = self.wait_event()? {
                break;
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
                return Err(PipelineError::ThreadLost("gzip"));
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

/// Spawns a thread with all signals blocked, so Postgres's handlers only ever run on the
/// backend thread.
fn spawn_without_signals<F>(name: &str, f: F) -> std::io::Result<JoinHandle<()>>
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

struct OpenFile {
    key: String,
    rows: u64,
    raw_bytes: u64,
}

/// A copy of `part` for the uploader, which `part` is emptied for reuse. A part is 8 MiB that is
/// freed on another thread when its upload ends: allocated with malloc, such buffers pile up in
/// glibc's per-thread arenas (a 10M-row export's private memory crept from 20 to 54 MiB), so
/// large parts get pages of their own, returned to the system when the upload drops them. The
/// copy costs about a millisecond per part. Small ones (and any that cannot be mapped) are
/// copied to the heap.
fn seal_part(part: &mut Vec<u8>) -> Bytes {
    let own_pages = || {
        let mut pages = memmap2::MmapMut::map_anon(part.len()).ok()?;
        pages.copy_from_slice(part);
        Some(Bytes::from_owner(pages))
    };
    let sealed = (part.len() >= BLOCK_BYTES).then(own_pages).flatten().unwrap_or_else(|| Bytes::copy_from_slice(part));
    part.clear();
    sealed
}

fn run_compressor(
    commands: Receiver<Command>,
    uploads: mpsc::Sender<Upload>,
    mut gzip: ParallelGzip,
    cancelled: tokio::sync::watch::Receiver<bool>,
) {
    let mut file: Option<OpenFile> = None;
    // Compressed bytes of the open file not yet handed to the uploader; one buffer for the
    // whole export.
    let mut part = Vec::with_capacity(PART_BYTES + 2 * BLOCK_BYTES);
    // A closed command channel without Finish means the backend gave up: dropping `uploads`
    // without Finish tells the uploader to clean up. Queued work is dropped once cancelled. A
    // compression failure (which deflate into memory does not have) ends the same way.
    while let Ok(command) = commands.recv() {
        if *cancelled.borrow() {
            return;
        }
        let upload = match command {
            Command::StartFile { key } => {
                part.clear();
                gzip.start_file(&mut part);
                file = Some(OpenFile { key, rows: 0, raw_bytes: 0 });
                None
            }
            Command::Rows { data, rows } => {
                let Some(f) = file.as_mut() else { return };
                f.rows += rows;
                f.raw_bytes += data.len() as u64;
                if gzip.write(data, &mut part).is_err() {
                    return;
                }
                (part.len() >= PART_BYTES).then(|| Upload::Part { key: f.key.clone(), data: seal_part(&mut part) })
            }
            Command::EndFile => {
                let Some(f) = file.take() else { return };
                if gzip.finish_file(&mut part).is_err() {
                    return;
                }
                Some(Upload::Last { key: f.key, data: seal_part(&mut part), rows: f.rows, raw_bytes: f.raw_bytes })
            }
            Command::Put { key, body, content_type } => Some(Upload::Put { key, body: Bytes::from(body), content_type }),
            Command::Finish => Some(Upload::Finish),
        };
        if let Some(upload) = upload
            && uploads.blocking_send(upload).is_err()
        {
            return;
        }
    }
}

/// The multipart upload of the data file being written.
struct OpenUpload {
    key: String,
    upload_id: String,
    next_part: i32,
    parts: Vec<CompletedPart>,
    compressed_bytes: u64,
}

struct Uploader {
    bucket: std::sync::Arc<Bucket>,
    current: Option<OpenUpload>,
    in_flight: JoinSet<Result<CompletedPart, S3Error>>,
    /// Objects this export completed: removed again if the export fails.
    written: Vec<String>,
    events: Sender<Event>,
}

fn run_uploader(
    s3: S3Config,
    uploads: mpsc::Receiver<Upload>,
    events: Sender<Event>,
    cancelled: tokio::sync::watch::Receiver<bool>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(err) => {
            let _ = events.send(Event::Failed(S3Error {
                operation: "setup",
                bucket: s3.bucket.clone(),
                key: String::new(),
                detail: format!("could not start the I/O runtime: {err}"),
                transient: false,
            }));
            let _ = events.send(Event::CleanedUp(Vec::new()));
            return;
        }
    };
    runtime.block_on(upload_loop(s3, uploads, events, cancelled));
    // Do not wait on stray blocking work (e.g. a DNS lookup) of a stalled endpoint.
    runtime.shutdown_timeout(Duration::from_secs(1));
}

async fn upload_loop(
    s3: S3Config,
    mut uploads: mpsc::Receiver<Upload>,
    events: Sender<Event>,
    mut cancelled: tokio::sync::watch::Receiver<bool>,
) {
    let client = crate::s3::client(&s3).await;
    let bucket = std::sync::Arc::new(Bucket { client, name: s3.bucket.clone() });
    let mut up = Uploader { bucket, current: None, in_flight: JoinSet::new(), written: Vec::new(), events: events.clone() };
    loop {
        let Some(upload) = uploads.recv().await else { break };
        if *cancelled.borrow() {
            break;
        }
        let work = async {
            match upload {
                Upload::Part { key, data } => up.part(key, data).await.map(|()| false),
                Upload::Last { key, data, rows, raw_bytes } => up.last(key, data, rows, raw_bytes).await.map(|()| false),
                Upload::Put { key, body, content_type } => up.put(key, body, content_type).await.map(|()| false),
                Upload::Finish => Ok(true),
            }
        };
        // An abort interrupts the request in progress rather than waiting for its retries.
        let result = tokio::select! {
            result = work => result,
            _ = cancelled.wait_for(|c| *c) => break,
        };
        match result {
            Ok(true) => {
                let _ = events.send(Event::Finished);
                return;
            }
            Ok(false) => {}
            Err(err) => {
                let _ = events.send(Event::Failed(err));
                break;
            }
        }
    }
    drop(uploads);
    let leftovers = up.clean_up().await;
    let _ = events.send(Event::CleanedUp(leftovers));
}

impl Uploader {
    async fn part(&mut self, key: String, data: Bytes) -> Result<(), S3Error> {
        if self.current.is_none() {
            let upload_id = self.bucket.start_upload(&key, GZIP_CONTENT_TYPE).await?;
            self.current = Some(OpenUpload { key, upload_id, next_part: 1, parts: Vec::new(), compressed_bytes: 0 });
        }
        let Some(current) = self.current.as_mut() else { return Ok(()) };
        let number = current.next_part;
        current.next_part += 1;
        current.compressed_bytes += data.len() as u64;
        let (bucket, key, upload_id) = (self.bucket.clone(), current.key.clone(), current.upload_id.clone());
        self.in_flight.spawn(async move { bucket.upload_part(&key, &upload_id, number, data).await });
        while self.in_flight.len() >= PARTS_IN_FLIGHT {
            self.collect_one().await?;
        }
        Ok(())
    }

    async fn collect_one(&mut self) -> Result<(), S3Error> {
        let Some(joined) = self.in_flight.join_next().await else { return Ok(()) };
        let part = joined.map_err(|err| S3Error {
            operation: "UploadPart",
            bucket: self.bucket.name.clone(),
            key: self.current.as_ref().map(|c| c.key.clone()).unwrap_or_default(),
            detail: format!("the upload task failed: {err}"),
            transient: false,
        })??;
        if let Some(current) = self.current.as_mut() {
            current.parts.push(part);
        }
        Ok(())
    }

    async fn last(&mut self, key: String, data: Bytes, rows: u64, raw_bytes: u64) -> Result<(), S3Error> {
        let compressed_bytes = if self.current.is_none() {
            // The whole file fit in one part: a single PUT.
            let size = data.len() as u64;
            self.written.push(key.clone());
            self.bucket.put(&key, data, GZIP_CONTENT_TYPE).await?;
            size
        } else {
            self.part(key.clone(), data).await?;
            while !self.in_flight.is_empty() {
                self.collect_one().await?;
            }
            let Some(current) = self.current.as_ref() else { return Ok(()) };
            let (parts, id) = (current.parts.clone(), current.upload_id.clone());
            // `current` stays set until completed, so a failure still aborts the upload; and the
            // object may exist even if the answer is lost, so cleanup also deletes the key.
            self.written.push(key.clone());
            self.bucket.complete_upload(&key, &id, parts).await?;
            self.current.take().map(|c| c.compressed_bytes).unwrap_or_default()
        };
        let _ = self.events.send(Event::FileDone(UploadedFile { key, rows, raw_bytes, compressed_bytes }));
        Ok(())
    }

    async fn put(&mut self, key: String, body: Bytes, content_type: &'static str) -> Result<(), S3Error> {
        self.written.push(key.clone());
        self.bucket.put(&key, body, content_type).await?;
        let _ = self.events.send(Event::Written);
        Ok(())
    }

    /// Aborts the open upload and deletes what was written, newest first (bundle.json before
    /// data), so a partly removed export never looks committed.
    async fn clean_up(&mut self) -> Vec<String> {
        let deadline = Instant::now() + CLEANUP_DEADLINE;
        self.in_flight.abort_all();
        while self.in_flight.join_next().await.is_some() {}
        let mut leftovers = Vec::new();
        if let Some(open) = self.current.take()
            && self.bucket.abort_upload(&open.key, &open.upload_id, deadline).await.is_err()
        {
            leftovers.push(format!("s3://{}/{} (multipart upload {})", self.bucket.name, open.key, open.upload_id));
        }
        // Newest first, stopping at the first failure: a bundle.json is never left pointing at
        // data that is gone.
        let mut written = std::mem::take(&mut self.written);
        written.dedup();
        while let Some(key) = written.pop() {
            if self.bucket.delete(&key, deadline).await.is_err() {
                leftovers.push(format!("s3://{}/{key}", self.bucket.name));
                leftovers.extend(written.drain(..).rev().map(|k| format!("s3://{}/{k}", self.bucket.name)));
            }
        }
        leftovers
    }
}
