//! pg2redshift: SQL functions that turn PostgreSQL tables into Redshift-ready bundles in S3.
//!
//! This crate only wires the SQL API and reads the catalog; the logic lives in the
//! `pg2redshift-core` and `pg2redshift-bundle` crates, which do not touch Postgres.

use pgrx::prelude::*;

mod catalog;
mod ddl_api;
mod error;

::pgrx::pg_module_magic!(name, version);

/// Version of the extension and of the bundle format it writes, so a DBA can check what is
/// installed (`SELECT redshift_export_version()`) before pairing it with a loader.
#[pg_extern(immutable, parallel_safe)]
fn redshift_export_version() -> String {
    format!(
        "pg2redshift {} (bundle format {})",
        env!("CARGO_PKG_VERSION"),
        pg2redshift_bundle::FORMAT_VERSION
    )
}
