//! One gzip file compressed on several threads, the way pigz does it: the data arrives in
//! blocks; each block is deflated on its own by a worker, primed with the last 32 KiB of the
//! block before it (so matches across the boundary are still found) and ended with a sync flush
//! (so it ends on a byte boundary); the last block of a file is finished instead. Concatenated in
//! order, the pieces are ONE deflate stream, wrapped in one gzip member whose CRC-32 is combined
//! from the blocks' own. Any gzip reader reads it; nothing depends on multi-member support.

use std::collections::BTreeMap;
use std::io;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use flate2::{Compress, Compression, Crc, FlushCompress, Status};

use super::buffer_pool::BufferPool;

/// Deflate's window: a block can refer this far back into the block before it.
const WINDOW: usize = 32 * 1024;
/// gzip header: magic, deflate, no flags, no mtime, no extra flags, OS unknown (RFC 1952).
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
/// Initial size of a worker's output buffer (half a 1 MiB block; it grows if needed).
const OUTPUT_BYTES: usize = 512 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum GzipError {
    #[error("compression failed: {0}")]
    Deflate(#[from] flate2::CompressError),
    #[error("a compression thread stopped unexpectedly")]
    WorkerLost,
}

struct Job {
    seq: u64,
    data: Vec<u8>,
    dictionary: Vec<u8>,
    last: bool,
}

struct Done {
    seq: u64,
    result: Result<Vec<u8>, flate2::CompressError>,
    crc: Crc,
}

/// Compresses files block by block on `threads` workers. Blocks of a file must be written in
/// order; compressed output is appended to the caller's buffer in order, as it becomes ready.
pub struct ParallelGzip {
    jobs: Option<Sender<Job>>,
    done: Receiver<Done>,
    workers: Vec<JoinHandle<()>>,
    /// Jobs handed out and not yet appended.
    in_flight: usize,
    max_in_flight: usize,
    next_seq: u64,
    next_out: u64,
    /// Results that arrived before their predecessors.
    early: BTreeMap<u64, Done>,
    /// The newest block, held back until it is known whether it is the file's last.
    held: Option<Vec<u8>>,
    /// The tail of the block handed out before `held`.
    dictionary: Vec<u8>,
    crc: Crc,
    /// The workers' output buffers, handed back once appended.
    outputs: BufferPool,
}

impl ParallelGzip {
    /// Starts `threads` (at least one) workers through `spawn`, which names and starts a thread
    /// (the caller decides e.g. its signal mask). Blocks written are given back to `blocks`
    /// once compressed, for the writer to fill again.
    pub fn new<S>(threads: usize, level: Compression, blocks: BufferPool, spawn: S) -> io::Result<ParallelGzip>
    where
        S: Fn(String, Box<dyn FnOnce() + Send>) -> io::Result<JoinHandle<()>>,
    {
        let threads = threads.max(1);
        let (jobs, job_rx) = crossbeam_channel::bounded::<Job>(threads);
        let (done_tx, done) = crossbeam_channel::unbounded::<Done>();
        let mut gzip = ParallelGzip {
            jobs: Some(jobs),
            done,
            workers: Vec::with_capacity(threads),
            in_flight: 0,
            // Every worker busy and as many queued: no worker waits for the next block.
            max_in_flight: 2 * threads,
            next_seq: 0,
            next_out: 0,
            early: BTreeMap::new(),
            held: None,
            dictionary: Vec::new(),
            crc: Crc::new(),
            // Every block in flight holds one, plus the one being appended.
            outputs: BufferPool::new(2 * threads + 1, OUTPUT_BYTES),
        };
        for n in 0..threads {
            let (jobs, done) = (job_rx.clone(), done_tx.clone());
            let (blocks, outputs) = (blocks.clone(), gzip.outputs.clone());
            let work = Box::new(move || run_worker(jobs, done, level, blocks, outputs));
            let worker = spawn(format!("pg2redshift gzip {n}"), work)?;
            gzip.workers.push(worker);
        }
        Ok(gzip)
    }

    /// Begins a file: appends the gzip header.
    pub fn start_file(&mut self, out: &mut Vec<u8>) {
        self.crc.reset();
        self.dictionary.clear();
        self.held = None;
        out.extend_from_slice(&HEADER);
    }

    /// Adds a block of the current file; appends whatever compressed output is ready.
    pub fn write(&mut self, data: Vec<u8>, out: &mut Vec<u8>) -> Result<(), GzipError> {
        if data.is_empty() {
            return Ok(());
        }
        if let Some(previous) = self.held.replace(data) {
            self.dispatch(previous, false, out)?;
        }
        self.collect_ready(out)
    }

    /// Ends the current file: compresses what is left, waits for every block and appends the
    /// rest of the stream and the gzip trailer.
    pub fn finish_file(&mut self, out: &mut Vec<u8>) -> Result<(), GzipError> {
        let last = self.held.take().unwrap_or_default();
        self.dispatch(last, true, out)?;
        while self.in_flight > 0 {
            self.wait_one(out)?;
        }
        out.extend_from_slice(&self.crc.sum().to_le_bytes());
        out.extend_from_slice(&self.crc.amount().to_le_bytes());
        Ok(())
    }

    fn dispatch(&mut self, data: Vec<u8>, last: bool, out: &mut Vec<u8>) -> Result<(), GzipError> {
        while self.in_flight >= self.max_in_flight {
            self.wait_one(out)?;
        }
        let dictionary = std::mem::replace(&mut self.dictionary, data[data.len().saturating_sub(WINDOW)..].to_vec());
        let job = Job { seq: self.next_seq, data, dictionary, last };
        self.next_seq += 1;
        let jobs = self.jobs.as_ref().ok_or(GzipError::WorkerLost)?;
        jobs.send(job).map_err(|_| GzipError::WorkerLost)?;
        self.in_flight += 1;
        Ok(())
    }

    fn collect_ready(&mut self, out: &mut Vec<u8>) -> Result<(), GzipError> {
        while let Ok(done) = self.done.try_recv() {
            self.accept(done, out)?;
        }
        Ok(())
    }

    fn wait_one(&mut self, out: &mut Vec<u8>) -> Result<(), GzipError> {
        let done = self.done.recv().map_err(|_| GzipError::WorkerLost)?;
        self.accept(done, out)
    }

    /// Appends results in sequence order.
    fn accept(&mut self, done: Done, out: &mut Vec<u8>) -> Result<(), GzipError> {
        self.early.insert(done.seq, done);
        while let Some(done) = self.early.remove(&self.next_out) {
            let compressed = done.result?;
            out.extend_from_slice(&compressed);
            self.outputs.give(compressed);
            self.crc.combine(&done.crc);
            self.next_out += 1;
            self.in_flight -= 1;
        }
        Ok(())
    }
}

impl Drop for ParallelGzip {
    fn drop(&mut self) {
        // Closing the queue ends the workers once they finish their current block.
        self.jobs = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

fn run_worker(jobs: Receiver<Job>, done: Sender<Done>, level: Compression, blocks: BufferPool, outputs: BufferPool) {
    let mut deflate = Compress::new(level, false);
    while let Ok(job) = jobs.recv() {
        let mut crc = Crc::new();
        crc.update(&job.data);
        deflate.reset();
        let result = deflate_block(&mut deflate, &job, outputs.take());
        blocks.give(job.data);
        if done.send(Done { seq: job.seq, result, crc }).is_err() {
            return;
        }
    }
}

/// Raw deflate of one block, primed with its dictionary; sync-flushed, or finished if last.
fn deflate_block(deflate: &mut Compress, job: &Job, mut out: Vec<u8>) -> Result<Vec<u8>, flate2::CompressError> {
    if !job.dictionary.is_empty() {
        deflate.set_dictionary(&job.dictionary)?;
    }
    let flush = if job.last { FlushCompress::Finish } else { FlushCompress::Sync };
    out.reserve(job.data.len() / 2 + 1024);
    loop {
        if out.capacity() - out.len() < 1024 {
            out.reserve(out.capacity().max(64 * 1024));
        }
        let consumed = deflate.total_in() as usize;
        let status = deflate.compress_vec(&job.data[consumed..], &mut out, flush)?;
        let all_in = deflate.total_in() as usize == job.data.len();
        match status {
            Status::StreamEnd => return Ok(out),
            // A sync flush is complete once all input is taken and output space is left over.
            _ if !job.last && all_in && out.len() < out.capacity() => return Ok(out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compress::sample;
    use flate2::read::GzDecoder;
    use std::io::Read;

    fn spawn(name: String, f: Box<dyn FnOnce() + Send>) -> io::Result<JoinHandle<()>> {
        std::thread::Builder::new().name(name).spawn(f)
    }

    /// Compresses `blocks` as files split at `None`, returning each file's bytes.
    fn compress(threads: usize, level: u32, files: &[Vec<Vec<u8>>]) -> Vec<Vec<u8>> {
        let pool = BufferPool::new(4, 1024);
        let mut gzip = ParallelGzip::new(threads, Compression::new(level), pool, spawn).expect("threads start");
        files
            .iter()
            .map(|blocks| {
                let mut out = Vec::new();
                gzip.start_file(&mut out);
                for block in blocks {
                    gzip.write(block.clone(), &mut out).expect("write");
                }
                gzip.finish_file(&mut out).expect("finish");
                out
            })
            .collect()
    }

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut decoder = GzDecoder::new(bytes);
        let mut out = Vec::new();
        decoder.read_to_end(&mut out).expect("valid gzip with matching CRC and length");
        // One member: nothing may follow it.
        assert!(decoder.into_inner().is_empty(), "trailing bytes after the gzip member");
        out
    }


    #[test]
    fn round_trips_through_a_standard_reader() {
        for threads in [1, 3] {
            for level in [1, 3, 6, 9] {
                let blocks: Vec<Vec<u8>> = (0..7).map(|i| sample(i, 100_000 + i as usize * 1234)).collect();
                let files = compress(threads, level, &[blocks.clone(), vec![b"x".to_vec()], vec![]]);
                assert_eq!(gunzip(&files[0]), blocks.concat(), "threads {threads} level {level}");
                assert_eq!(gunzip(&files[1]), b"x");
                assert_eq!(gunzip(&files[2]), b"");
            }
        }
    }

    #[test]
    fn blocks_see_the_previous_block() {
        // The same 20 KB block over and over: primed with the previous block, every block after
        // the first is a few long matches.
        let block = sample(42, 20_000);
        let file = compress(2, 6, &[vec![block.clone(); 50]]).remove(0);
        assert_eq!(gunzip(&file), block.repeat(50));
        let single = compress(1, 6, &[vec![block.clone()]]).remove(0);
        // Without the priming each copy would cost as much as the first (50×).
        assert!(file.len() < single.len() * 5, "{} bytes for 50 copies, {} for one", file.len(), single.len());
    }
}
