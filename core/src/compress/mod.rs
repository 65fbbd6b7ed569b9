//! The compression engine: the one part of this crate that runs threads of its own. It holds
//! no PostgreSQL state and gets only owned bytes, so the extension can run it beside the
//! backend (with every signal blocked in the threads it starts).

pub mod buffer_pool;
pub mod parallel_gzip;

pub use buffer_pool::BufferPool;
pub use parallel_gzip::ParallelGzip;
