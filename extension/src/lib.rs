//! pg2redshift: SQL functions that turn PostgreSQL tables into Redshift-ready bundles in S3.
//!
//! This crate wires the SQL API, reads the catalog and the rows, and runs the upload threads;
//! the pure logic lives in the `pg2redshift-core` and `pg2redshift-bundle` crates.

// SQL functions return `Result<_, ErrorReport>`: pgrx raises an `Err` with its SQLSTATE only
// when the error is an `ErrorReport` itself (it downcasts by type), so it cannot be boxed.
#![allow(clippy::result_large_err)]

use pgrx::prelude::*;

mod catalog;
mod cleanup;
mod compat_0_1;
mod ddl_api;
mod destination;
mod error;
mod export;
mod export_api;
mod history;
mod pipeline;
mod progress;
mod regclass;
mod s3;
mod settings;
mod stream;

::pgrx::pg_module_magic!(name, version);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    settings::register();
}

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

// The extension's own SQL lives in extension/sql/, where a reader of a pgrx project looks for it.
extension_sql_file!("../sql/objects.sql", name = "objects", bootstrap);

extension_sql_file!("../sql/destinations.sql", name = "destinations", requires = ["objects"]);

extension_sql_file!("../sql/streams.sql", name = "streams", requires = ["destinations"]);

extension_sql_file!("../sql/finalize.sql", name = "export_function_settings", finalize);
