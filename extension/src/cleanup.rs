//! `redshift_export_cleanup()`: lists, and on request removes, what exports that never finished
//! left in S3 under this database's folder: open multipart uploads and export folders without a
//! bundle.json, older than a given age. A failed export cleans up after itself; this is for a
//! terminated backend (FATAL does not unwind), a crash or a postmaster restart. What counts as a
//! leftover is decided in `pg2redshift_core::leftovers`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pg2redshift_core::leftovers::{Leftover, leftovers};
use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

use crate::error::ExportError;
use crate::destination::{self, LocationArgs};
use crate::pipeline::run_beside;
use crate::s3::{Bucket, S3Config, S3Error, client, runtime};

/// How long removing one leftover keeps trying while S3 does not answer.
const REMOVE_DEADLINE: Duration = Duration::from_secs(60);
/// Roles other than superusers cannot remove anything younger: an export of another role
/// may still be writing it.
const MIN_AGE_US_FOR_OTHERS: i64 = 3_600_000_000;
/// Microseconds between 1970-01-01 and PostgreSQL's epoch, 2000-01-01.
const POSTGRES_EPOCH_US: i64 = 946_684_800_000_000;

/// One leftover and what became of it.
struct Found {
    leftover: Leftover,
    removed: bool,
}

/// Lists (and removes unless `dry_run`) the leftovers under `folder`, on a helper thread.
fn sweep(s3: S3Config, folder: String, cutoff_us: i64, dry_run: bool) -> Result<Vec<Found>, S3Error> {
    let runtime = runtime("clean-up", &s3.bucket, &folder)?;
    runtime.block_on(async {
        let bucket = Bucket::new(client(&s3).await, &s3);
        let objects = bucket.list_objects(&folder).await?;
        let uploads = bucket.list_uploads(&folder).await?;
        let mut found = Vec::new();
        for leftover in leftovers(&objects, &uploads, cutoff_us) {
            if !dry_run {
                let deadline = Instant::now() + REMOVE_DEADLINE;
                match &leftover {
                    Leftover::Upload(u) => bucket.abort_upload(&u.key, &u.upload_id, deadline).await?,
                    Leftover::Object(o) => bucket.delete(&o.key, deadline).await?,
                }
            }
            found.push(Found { leftover, removed: !dry_run });
        }
        Ok(found)
    })
}

/// Leftovers of unfinished exports of this database: open multipart uploads started more than
/// `older_than` ago, and export folders with no bundle.json whose every file is older than that.
/// With `dry_run` (the default) nothing is removed. Bucket and prefix work as for
/// `redshift_export` (the settings by default).
#[pg_extern(volatile, parallel_unsafe)]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn redshift_export_cleanup(
    older_than: default!(Option<Interval>, "'1 day'"),
    dry_run: default!(Option<bool>, true),
    bucket: default!(Option<&str>, "NULL"),
    prefix: default!(Option<&str>, "NULL"),
    region: default!(Option<&str>, "NULL"),
    endpoint: default!(Option<&str>, "NULL"),
    force_path_style: default!(Option<bool>, "NULL"),
    destination: default!(Option<&str>, "NULL"),
) -> Result<
    TableIterator<
        'static,
        (
            name!(kind, String),
            name!(key, String),
            name!(since, Option<TimestampWithTimeZone>),
            name!(removed, bool),
        ),
    >,
    ErrorReport,
> {
    let older_than = older_than.ok_or(ExportError::NullArgument("older_than"))?;
    let dry_run = dry_run.ok_or(ExportError::NullArgument("dry_run"))?;
    let age_us = i64::try_from(older_than.as_micros()).ok().filter(|us| *us >= 0).ok_or_else(|| {
        ExportError::Definition(pg2redshift_core::DefinitionError::InvalidOption {
            option: "older_than",
            value: older_than.to_string(),
            expected: "an interval of zero or more",
        })
    })?;
    // SAFETY: superuser() reads the session's current role; backend thread.
    if age_us < MIN_AGE_US_FOR_OTHERS && !unsafe { pg_sys::superuser() } {
        return Err(ExportError::from(pg2redshift_core::DefinitionError::InvalidOption {
            option: "older_than",
            value: older_than.to_string(),
            expected: "at least 1 hour (a younger folder may belong to another role's running export; superusers may go lower)",
        })
        .into());
    }
    // Only where to look: the export's other settings (chunk size, gzip, policy, signing key)
    // play no part in a clean-up.
    let location = destination::resolve(LocationArgs { destination, bucket, prefix, region, endpoint, force_path_style })?;
    let database = Spi::get_one::<String>("SELECT pg_catalog.current_database()::pg_catalog.text")
        .map_err(ExportError::from)?
        .unwrap_or_default();
    let folder = pg2redshift_bundle::database_folder_key(&location.prefix, &database);
    let now_us = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0);
    let cutoff_us = now_us.saturating_sub(age_us);
    let s3 = location.s3;
    let found = run_beside("pg2redshift cleanup", move || sweep(s3, folder, cutoff_us, dry_run))
        .map_err(ExportError::from)?
        .map_err(|e| ExportError::from(crate::pipeline::PipelineError::from(e)))?;
    let rows: Vec<_> = found
        .into_iter()
        .map(|f| {
            let since = TimestampWithTimeZone::try_from(f.leftover.time_us().saturating_sub(POSTGRES_EPOCH_US)).ok();
            (f.leftover.kind().to_string(), f.leftover.key().to_string(), since, f.removed)
        })
        .collect();
    Ok(TableIterator::new(rows))
}
