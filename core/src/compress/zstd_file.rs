//! One zstd frame per file, compressed by libzstd's own worker threads (ZSTDMT): the data
//! arrives in blocks, libzstd cuts it into jobs and compresses them in parallel, and the frame
//! it writes is one ordinary zstd frame (with a content checksum) that any reader decodes,
//! Redshift's COPY … ZSTD included.
//!
//! libzstd starts its workers from the thread that first compresses with them, and threads
//! inherit their creator's signal mask: created from a thread that blocks every signal, the
//! workers block every signal too. So the encoder is made in [`ZstdFile::start_file`], on the
//! caller's thread, never earlier.

use std::io;

use zstd::stream::raw::{CParameter, Encoder, InBuffer, Operation, OutBuffer};

use super::buffer_pool::BufferPool;

/// zstd levels an export accepts: the fast range and the usual ones. Negative (ultra-fast)
/// levels and long-distance matching are not offered.
pub const LEVELS: std::ops::RangeInclusive<i32> = 1..=19;

/// Input per libzstd job (its minimum is 512 KiB).
const JOB_BYTES: u32 = 2 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
#[error("zstd compression failed: {0}")]
pub struct ZstdError(#[from] io::Error);

pub struct ZstdFile {
    level: i32,
    /// libzstd workers; 0 compresses on the calling thread.
    workers: u32,
    /// Blocks written are given back here once libzstd has taken them in.
    blocks: BufferPool,
    encoder: Option<Encoder<'static>>,
}

impl ZstdFile {
    /// Compresses on `threads` threads at `level` (see [`LEVELS`]); no thread starts yet.
    pub fn new(threads: usize, level: i32, blocks: BufferPool) -> ZstdFile {
        // One thread: the caller's own (no worker, no job buffers); more: that many workers.
        let workers = if threads <= 1 { 0 } else { u32::try_from(threads).unwrap_or(2) };
        ZstdFile { level, workers, blocks, encoder: None }
    }

    /// Begins a file (a new frame; written as output comes). The first file starts libzstd's
    /// workers on this thread.
    pub fn start_file(&mut self, _out: &mut Vec<u8>) -> Result<(), ZstdError> {
        let encoder = match self.encoder.take() {
            Some(mut encoder) => {
                encoder.reinit()?;
                encoder
            }
            None => {
                let mut encoder = Encoder::new(self.level)?;
                encoder.set_parameter(CParameter::ChecksumFlag(true))?;
                encoder.set_parameter(CParameter::NbWorkers(self.workers))?;
                if self.workers > 0 {
                    // Each job holds its input and output while a worker compresses it: the
                    // default (4 windows, 8 MiB at level 3) would double the export's memory.
                    encoder.set_parameter(CParameter::JobSize(JOB_BYTES))?;
                }
                encoder
            }
        };
        self.encoder = Some(encoder);
        Ok(())
    }

    /// Adds a block of the current file; appends whatever compressed output is ready.
    pub fn write(&mut self, data: Vec<u8>, out: &mut Vec<u8>) -> Result<(), ZstdError> {
        let encoder = self.encoder.as_mut().ok_or_else(no_file)?;
        let mut input = InBuffer::around(&data);
        while input.pos() < data.len() {
            reserve(out);
            let mut output = OutBuffer::around_pos(out, out.len());
            encoder.run(&mut input, &mut output)?;
        }
        self.blocks.give(data);
        Ok(())
    }

    /// Ends the current file: waits for the workers and appends the rest of the frame.
    pub fn finish_file(&mut self, out: &mut Vec<u8>) -> Result<(), ZstdError> {
        let encoder = self.encoder.as_mut().ok_or_else(no_file)?;
        loop {
            reserve(out);
            let mut output = OutBuffer::around_pos(out, out.len());
            if encoder.finish(&mut output, true)? == 0 {
                return Ok(());
            }
        }
    }
}

fn no_file() -> ZstdError {
    ZstdError(io::Error::other("no file was started"))
}

/// Room for libzstd to write into (it writes only into spare capacity).
fn reserve(out: &mut Vec<u8>) {
    const ROOM: usize = 128 * 1024;
    if out.capacity() - out.len() < ROOM {
        out.reserve(ROOM.max(out.len() / 2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compress::sample;


    #[test]
    fn each_file_is_one_checked_frame() {
        for threads in [1, 2] {
            for level in [1, 3, 9] {
                let pool = BufferPool::new(4, 1024);
                let mut zstd = ZstdFile::new(threads, level, pool);
                let blocks: Vec<Vec<u8>> = (0..5).map(|i| sample(i, 700_000 + i as usize * 1234)).collect();
                for file in [blocks.clone(), vec![b"x".to_vec()], vec![]] {
                    let mut out = Vec::new();
                    zstd.start_file(&mut out).expect("start");
                    for block in &file {
                        zstd.write(block.clone(), &mut out).expect("write");
                    }
                    zstd.finish_file(&mut out).expect("finish");
                    assert_eq!(zstd::stream::decode_all(&out[..]).expect("valid zstd"), file.concat());
                    // One frame with a checksum: the frame header's descriptor has bit 2 set.
                    assert_eq!(&out[..4], &[0x28, 0xb5, 0x2f, 0xfd]);
                    assert_ne!(out[4] & 0x04, 0, "content checksum flag");
                    let frame = zstd::zstd_safe::find_frame_compressed_size(&out).expect("a frame");
                    assert_eq!(frame, out.len(), "threads {threads} level {level}: one frame, nothing after it");
                }
            }
        }
    }

    #[test]
    fn a_corrupted_frame_is_refused() {
        let mut zstd = ZstdFile::new(1, 3, BufferPool::new(1, 16));
        let mut out = Vec::new();
        zstd.start_file(&mut out).expect("start");
        zstd.write(sample(7, 50_000), &mut out).expect("write");
        zstd.finish_file(&mut out).expect("finish");
        let at = out.len() / 2;
        out[at] ^= 0x40;
        assert!(zstd::stream::decode_all(&out[..]).is_err());
    }
}
