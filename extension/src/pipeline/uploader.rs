//! The uploader thread: a small tokio runtime that uploads the compressor's parts as S3
//! multipart uploads (a few in flight), writes the small commit files, and on failure or drop
//! aborts the open upload and deletes everything this export wrote.

use aws_sdk_s3::types::CompletedPart;
use bytes::Bytes;
use crossbeam_channel::Sender;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use std::time::{Duration, Instant};

use super::{CLEANUP_DEADLINE, Event, PARTS_IN_FLIGHT, Upload, UploadedFile};
use crate::s3::{Bucket, S3Config, S3Error};

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

pub(super) fn run_uploader(
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
    let bucket = std::sync::Arc::new(Bucket::new(client, &s3));
    let mut up = Uploader { bucket, current: None, in_flight: JoinSet::new(), written: Vec::new(), events: events.clone() };
    loop {
        let Some(upload) = uploads.recv().await else { break };
        if *cancelled.borrow() {
            break;
        }
        let work = async {
            match upload {
                Upload::Part { key, data, content_type } => up.part(key, data, content_type).await.map(|()| false),
                Upload::Last { key, data, rows, raw_bytes, content_type } => {
                    up.last(key, data, rows, raw_bytes, content_type).await.map(|()| false)
                }
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
    async fn part(&mut self, key: String, data: Bytes, content_type: &'static str) -> Result<(), S3Error> {
        let open = match self.current.take() {
            Some(open) => open,
            None => {
                let upload_id = self.bucket.start_upload(&key, content_type).await?;
                OpenUpload { key, upload_id, next_part: 1, parts: Vec::new(), compressed_bytes: 0 }
            }
        };
        let current = self.current.insert(open);
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
        let bucket = self.bucket.name.clone();
        let current = self.current.as_mut().ok_or_else(|| internal(bucket, "", "a part finished with no upload open"))?;
        current.parts.push(part);
        Ok(())
    }

    async fn last(&mut self, key: String, data: Bytes, rows: u64, raw_bytes: u64, content_type: &'static str) -> Result<(), S3Error> {
        let compressed_bytes = if self.current.is_none() {
            // The whole file fit in one part: a single PUT.
            let size = data.len() as u64;
            self.written.push(key.clone());
            self.bucket.put(&key, data, content_type).await?;
            size
        } else {
            self.part(key.clone(), data, content_type).await?;
            while !self.in_flight.is_empty() {
                self.collect_one().await?;
            }
            let bucket = self.bucket.name.clone();
            let current = self.current.as_ref().ok_or_else(|| internal(bucket, &key, "the last part of a file with no upload open"))?;
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

/// A state the uploader believes impossible, reported as a failure of the upload rather than
/// ignored (which would leave the backend waiting until cancelled).
fn internal(bucket: String, key: &str, what: &str) -> S3Error {
    S3Error { operation: "upload", bucket, key: key.to_string(), detail: format!("internal error: {what}"), transient: false }
}
