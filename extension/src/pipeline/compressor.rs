//! The compressor thread: takes the backend's CSV blocks in order, has them compressed by the
//! codec's workers (parallel gzip, or libzstd's own threads, which this thread starts and which
//! inherit its blocked signals) into one gzip member or zstd frame per data file, and hands
//! S3-part-sized pieces of it to the uploader.

use bytes::Bytes;
use crossbeam_channel::Receiver;
use pg2redshift_core::compress::FileCompressor;
use tokio::sync::mpsc;

use super::{BLOCK_BYTES, Command, PART_BYTES, Upload};

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

pub(super) fn run_compressor(
    commands: Receiver<Command>,
    uploads: mpsc::Sender<Upload>,
    mut codec: FileCompressor,
    content_type: &'static str,
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
                if codec.start_file(&mut part).is_err() {
                    return;
                }
                file = Some(OpenFile { key, rows: 0, raw_bytes: 0 });
                None
            }
            Command::Rows { data, rows } => {
                let Some(f) = file.as_mut() else { return };
                f.rows += rows;
                f.raw_bytes += data.len() as u64;
                if codec.write(data, &mut part).is_err() {
                    return;
                }
                (part.len() >= PART_BYTES).then(|| Upload::Part { key: f.key.clone(), data: seal_part(&mut part), content_type })
            }
            Command::EndFile => {
                let Some(f) = file.take() else { return };
                if codec.finish_file(&mut part).is_err() {
                    return;
                }
                Some(Upload::Last { key: f.key, data: seal_part(&mut part), rows: f.rows, raw_bytes: f.raw_bytes, content_type })
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
