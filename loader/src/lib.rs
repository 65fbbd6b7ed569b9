//! The parts of `redshift-load` other programs may use: how it connects to Redshift (TLS,
//! IAM database credentials). The command itself is `src/main.rs`.

pub mod connection;
pub mod iam;
