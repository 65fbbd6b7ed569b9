//! The compression engine: the one part of this crate that runs threads of its own. It holds
//! no PostgreSQL state and gets only owned bytes, so the extension can run it beside the
//! backend (with every signal blocked in the threads it starts).

pub mod buffer_pool;
pub mod parallel_gzip;
pub mod zstd_file;

use std::io;
use std::thread::JoinHandle;

pub use buffer_pool::BufferPool;
use pg2redshift_bundle::Compression;
pub use parallel_gzip::ParallelGzip;
pub use zstd_file::ZstdFile;

/// A codec with its level, as an export asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// Levels 1–9.
    Gzip(u32),
    /// Levels [`zstd_file::LEVELS`].
    Zstd(i32),
}

impl Codec {
    pub fn compression(self) -> Compression {
        match self {
            Codec::Gzip(_) => Compression::Gzip,
            Codec::Zstd(_) => Compression::Zstd,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CompressError {
    #[error(transparent)]
    Gzip(#[from] parallel_gzip::GzipError),
    #[error(transparent)]
    Zstd(#[from] zstd_file::ZstdError),
}

/// Compresses the files of an export one after another, each as one gzip member or one zstd
/// frame, on `threads` workers.
pub enum FileCompressor {
    Gzip(ParallelGzip),
    Zstd(ZstdFile),
}

impl FileCompressor {
    /// Starts the gzip workers through `spawn` now; zstd's start from the thread that first
    /// compresses (see [`zstd_file`]). Blocks written are given back to `blocks`.
    pub fn new<S>(codec: Codec, threads: usize, blocks: BufferPool, spawn: S) -> io::Result<FileCompressor>
    where
        S: Fn(String, Box<dyn FnOnce() + Send>) -> io::Result<JoinHandle<()>>,
    {
        Ok(match codec {
            Codec::Gzip(level) => {
                FileCompressor::Gzip(ParallelGzip::new(threads, flate2::Compression::new(level.clamp(1, 9)), blocks, spawn)?)
            }
            Codec::Zstd(level) => FileCompressor::Zstd(ZstdFile::new(threads, level, blocks)),
        })
    }

    pub fn start_file(&mut self, out: &mut Vec<u8>) -> Result<(), CompressError> {
        match self {
            FileCompressor::Gzip(gzip) => {
                gzip.start_file(out);
                Ok(())
            }
            FileCompressor::Zstd(zstd) => Ok(zstd.start_file(out)?),
        }
    }

    pub fn write(&mut self, data: Vec<u8>, out: &mut Vec<u8>) -> Result<(), CompressError> {
        match self {
            FileCompressor::Gzip(gzip) => Ok(gzip.write(data, out)?),
            FileCompressor::Zstd(zstd) => Ok(zstd.write(data, out)?),
        }
    }

    pub fn finish_file(&mut self, out: &mut Vec<u8>) -> Result<(), CompressError> {
        match self {
            FileCompressor::Gzip(gzip) => Ok(gzip.finish_file(out)?),
            FileCompressor::Zstd(zstd) => Ok(zstd.finish_file(out)?),
        }
    }
}

/// Deterministic CSV-like text with repeats across block boundaries, for the codecs' tests.
#[cfg(test)]
pub(crate) fn sample(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        out.extend_from_slice(format!("{},row {},\"text ü {}\"\n", x >> 60, x >> 52, x % 97).as_bytes());
    }
    out.truncate(len);
    out
}
