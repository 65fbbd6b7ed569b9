//! `pg2redshift.*` settings: defaults for every export option, and the superuser-only S3
//! credentials. Secrets are `SUPERUSER_ONLY` + `NO_SHOW_ALL`, so SHOW and pg_settings hide them
//! from other roles, and they never reach an error message or bundle.json.

use std::ffi::CString;

use pg2redshift_bundle::signature::SigningKey;
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

use crate::error::ExportError;

/// Default destination of exports (redshift_destinations).
pub static DESTINATION: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static BUCKET: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static PREFIX: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static REGION: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static ENDPOINT: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static FORCE_PATH_STYLE: GucSetting<bool> = GucSetting::<bool>::new(false);
/// Uncompressed bytes per data file, in kB.
pub static CHUNK_SIZE_KB: GucSetting<i32> = GucSetting::<i32>::new(DEFAULT_CHUNK_SIZE_KB);
/// 3: within about 10% of level 6's size at well under its CPU cost (bench/run).
pub static GZIP_LEVEL: GucSetting<i32> = GucSetting::<i32>::new(3);
/// gzip or zstd; unset: [`DEFAULT_COMPRESSION`].
pub static COMPRESSION: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
/// zstd: at level 3 smaller files than gzip's level 3 for about half its CPU, so an export
/// costs about what COPY TO /dev/null does (bench/results, 2026-12-07); Redshift's COPY reads
/// both.
pub const DEFAULT_COMPRESSION: pg2redshift_bundle::Compression = pg2redshift_bundle::Compression::Zstd;
/// Extension SQL versions whose exports default to gzip (they had no other codec).
pub const GZIP_DEFAULT_VERSIONS: &[&str] = &["0.1.0"];
/// 3: libzstd's own default.
pub static ZSTD_LEVEL: GucSetting<i32> = GucSetting::<i32>::new(3);
/// Threads that compress, besides the backend that formats rows.
pub static GZIP_THREADS: GucSetting<i32> = GucSetting::<i32>::new(2);
pub const MAX_GZIP_THREADS: i32 = 16;
pub static ON_UNREPRESENTABLE: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"error"));
pub static ACCESS_KEY_ID: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static SECRET_ACCESS_KEY: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
/// Key of the HMAC-SHA256 signatures of bundles; unset: exports are not signed.
pub static SIGNING_KEY: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static SESSION_TOKEN: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
/// Server-side encryption of exported objects (exports without a destination).
pub static SSE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static SSE_KMS_KEY_ID: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

/// 256 MiB of CSV gzips to roughly 25–80 MB: inside Redshift's recommended 1 MB–1 GB per file.
pub const DEFAULT_CHUNK_SIZE_KB: i32 = 256 * 1024;
/// Files smaller than this would make Redshift's COPY slower, not faster.
pub const MIN_CHUNK_SIZE_KB: i32 = 1024;
/// S3 allows 10,000 parts per upload: 8 MiB parts hold 78 GiB of gzip, and gzip never grows
/// data by more than a fraction of a percent, so 64 GiB of CSV always fits.
pub const MAX_CHUNK_SIZE_KB: i32 = 64 * 1024 * 1024;

pub fn register() {
    GucRegistry::define_string_guc(
        c"pg2redshift.destination",
        c"Destination that exports go to when they name none.",
        c"A destination a superuser created and granted (SELECT * FROM redshift_destinations). Roles other than superusers always export to a destination.",
        &DESTINATION,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"pg2redshift.bucket",
        c"S3 bucket that exports are written to.",
        c"Default of the bucket option of redshift_export().",
        &BUCKET,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"pg2redshift.prefix",
        c"Key prefix inside the bucket.",
        c"Exports go to PREFIX/<database>/<schema>.<table>/<export id>/.",
        &PREFIX,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"pg2redshift.region",
        c"AWS region of the bucket.",
        c"Empty means the region of the AWS configuration of the server's OS user (AWS_REGION, ~/.aws/config).",
        &REGION,
        GucContext::Userset,
        GucFlags::default(),
    );
    // Superuser-only: a role that could point the server at its own host would receive signed
    // requests made with the server's credentials.
    GucRegistry::define_string_guc(
        c"pg2redshift.endpoint",
        c"URL of an S3-compatible endpoint instead of AWS S3.",
        c"For S3-compatible servers, e.g. http://127.0.0.1:9455. Empty means AWS S3.",
        &ENDPOINT,
        GucContext::Suset,
        GucFlags::default(),
    );
    // Superuser-only, as the bucket's other settings that protect data.
    GucRegistry::define_string_guc(
        c"pg2redshift.sse",
        c"Server-side encryption of exported objects: AES256 (SSE-S3) or aws:kms (SSE-KMS).",
        c"Empty: none asked for (the bucket's default encryption applies). Destinations carry their own.",
        &SSE,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"pg2redshift.sse_kms_key_id",
        c"KMS key (id, alias or ARN) for pg2redshift.sse = aws:kms.",
        c"Empty: the account's default aws/s3 key.",
        &SSE_KMS_KEY_ID,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"pg2redshift.force_path_style",
        c"Address the bucket as ENDPOINT/BUCKET/KEY instead of BUCKET.ENDPOINT/KEY.",
        c"Most S3-compatible servers need this.",
        &FORCE_PATH_STYLE,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg2redshift.chunk_size",
        c"Uncompressed CSV bytes per data file.",
        c"A new data file starts once this many bytes were written to the current one.",
        &CHUNK_SIZE_KB,
        MIN_CHUNK_SIZE_KB,
        MAX_CHUNK_SIZE_KB,
        GucContext::Userset,
        GucFlags::UNIT_KB,
    );
    GucRegistry::define_int_guc(
        c"pg2redshift.gzip_level",
        c"gzip compression level of the data files (1 fastest, 9 smallest).",
        c"",
        &GZIP_LEVEL,
        1,
        9,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"pg2redshift.compression",
        c"Compression of the data files: gzip or zstd (both read by Redshift's COPY).",
        c"Unset: zstd.",
        &COMPRESSION,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg2redshift.zstd_level",
        c"zstd compression level of the data files (1 fastest, 19 smallest).",
        c"",
        &ZSTD_LEVEL,
        *pg2redshift_core::compress::zstd_file::LEVELS.start(),
        *pg2redshift_core::compress::zstd_file::LEVELS.end(),
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg2redshift.gzip_threads",
        c"Threads that compress an export's data (gzip or zstd) beside the backend that formats the rows.",
        c"gzip: each compresses 1 MiB blocks of the same file; zstd: libzstd's workers. More threads help at higher levels when cores are free.",
        &GZIP_THREADS,
        1,
        MAX_GZIP_THREADS,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"pg2redshift.on_unrepresentable",
        c"What to do with a value Redshift cannot hold unchanged: error, null or truncate.",
        c"error stops the export naming table, column and row; null and truncate change the value and count it in bundle.json.",
        &ON_UNREPRESENTABLE,
        GucContext::Userset,
        GucFlags::default(),
    );
    let secret = GucFlags::SUPERUSER_ONLY | GucFlags::NO_SHOW_ALL;
    GucRegistry::define_string_guc(
        c"pg2redshift.s3_access_key_id",
        c"AWS access key id for exports (instead of the server's AWS credential chain).",
        c"",
        &ACCESS_KEY_ID,
        GucContext::Suset,
        secret,
    );
    GucRegistry::define_string_guc(
        c"pg2redshift.s3_secret_access_key",
        c"AWS secret access key for exports.",
        c"",
        &SECRET_ACCESS_KEY,
        GucContext::Suset,
        secret,
    );
    GucRegistry::define_string_guc(
        c"pg2redshift.s3_session_token",
        c"AWS session token for exports with temporary credentials.",
        c"",
        &SESSION_TOKEN,
        GucContext::Suset,
        secret,
    );
    // Only the server and the loader may know it: whoever has it can forge a load.
    GucRegistry::define_string_guc(
        c"pg2redshift.signing_key",
        c"Key that signs every export (HMAC-SHA256 of bundle.json and manifest.json), at least 32 bytes.",
        c"The loader checks the signatures with the same key (--signing-key-file). Empty: exports are not signed.",
        &SIGNING_KEY,
        GucContext::Suset,
        secret,
    );
    // Refuse unknown pg2redshift.* settings (typos) instead of keeping them (PostgreSQL 15+,
    // the only version this crate declares).
    // SAFETY: called from _PG_init on the backend thread with a NUL-terminated static string,
    // which PostgreSQL copies.
    unsafe {
        pgrx::pg_sys::MarkGUCPrefixReserved(c"pg2redshift".as_ptr())
    };
}

/// The signing key, if one is set; a short key is an error rather than a weak signature.
pub fn signing_key() -> Result<Option<SigningKey>, ExportError> {
    // Read as bytes, not through text(): a key is used exactly as set.
    let Some(key) = SIGNING_KEY.get().filter(|k| !k.is_empty()) else { return Ok(None) };
    SigningKey::new(key.as_bytes()).map(Some).map_err(|_| ExportError::ShortSigningKey)
}

/// A string setting, with the empty string meaning unset.
pub fn text(setting: &GucSetting<Option<CString>>) -> Option<String> {
    setting
        .get()
        .map(|v| v.to_string_lossy().trim().to_string())
        .filter(|v| !v.is_empty())
}
