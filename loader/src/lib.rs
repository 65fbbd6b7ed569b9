//! The parts of `redshift-load` other programs may use: how it connects to Redshift. The
//! command itself is `src/main.rs`.

pub mod connection;
