//! Where an export may write: a destination a superuser configured (and granted to the caller),
//! or, for superusers only, the raw `bucket`/`prefix`/`region`/`endpoint`/`force_path_style`
//! options and settings. Also the server's S3 credentials, which every destination shares.

use pgrx::pg_sys;
use pgrx::spi::{Spi, quote_identifier};

use crate::error::ExportError;
use crate::s3::{Encryption, S3Config, StaticCredentials};
use crate::settings;

/// The location options of an export or clean-up call, as passed (NULL = not passed).
#[derive(Clone, Copy, Default)]
pub struct LocationArgs<'a> {
    pub destination: Option<&'a str>,
    pub bucket: Option<&'a str>,
    pub prefix: Option<&'a str>,
    pub region: Option<&'a str>,
    pub endpoint: Option<&'a str>,
    pub force_path_style: Option<bool>,
}

/// Where the export goes, resolved and checked.
pub struct Resolved {
    pub s3: S3Config,
    /// Key prefix without surrounding `/`, checked by `bundle::checked_prefix`.
    pub prefix: String,
    /// The destination's name; None for a superuser's raw options.
    pub destination: Option<String>,
    /// Redshift schemas the export may name (folded); None: any.
    pub target_schemas: Option<Vec<String>>,
}

/// A text argument, with NULL, empty and blank all meaning "not given".
pub(crate) fn given(v: Option<&str>) -> Option<String> {
    v.map(str::trim).filter(|v| !v.is_empty()).map(str::to_string)
}

impl LocationArgs<'_> {
    /// The first raw location option passed, by its SQL name.
    fn first_raw_option(&self) -> Option<&'static str> {
        [
            ("bucket", given(self.bucket).is_some()),
            ("prefix", given(self.prefix).is_some()),
            ("region", given(self.region).is_some()),
            ("endpoint", given(self.endpoint).is_some()),
            ("force_path_style", self.force_path_style.is_some()),
        ]
        .into_iter()
        .find_map(|(name, passed)| passed.then_some(name))
    }
}

/// Resolves where an export (or a clean-up) of the current role goes.
pub fn resolve(args: LocationArgs<'_>) -> Result<Resolved, ExportError> {
    // SAFETY: superuser() reads the current role of the session; we are on the backend thread.
    let superuser = unsafe { pg_sys::superuser() };
    let explicit = given(args.destination);
    let raw = args.first_raw_option();
    if !superuser {
        if let Some(option) = raw {
            return Err(ExportError::LocationOptionNotAllowed { option });
        }
        let name = explicit.or_else(|| settings::text(&settings::DESTINATION)).ok_or(ExportError::DestinationRequired)?;
        return lookup(&name, false);
    }
    match (explicit, raw) {
        (Some(_), Some(option)) => Err(ExportError::DestinationWithLocation { option }),
        (Some(name), None) => lookup(&name, true),
        // A superuser's raw options win over a default destination from the setting.
        (None, Some(_)) => raw_location(args),
        (None, None) => match settings::text(&settings::DESTINATION) {
            Some(name) => lookup(&name, true),
            None => raw_location(args),
        },
    }
}

/// A superuser's ad-hoc location: the options, else the `pg2redshift.*` settings.
fn raw_location(args: LocationArgs<'_>) -> Result<Resolved, ExportError> {
    use pg2redshift_core::DefinitionError::InvalidOption;
    let bucket = given(args.bucket).or_else(|| settings::text(&settings::BUCKET)).ok_or(InvalidOption {
        option: "bucket",
        value: "NULL".into(),
        expected: "an S3 bucket name (or a destination, or set pg2redshift.bucket)",
    })?;
    let prefix = given(args.prefix).or_else(|| settings::text(&settings::PREFIX)).unwrap_or_default();
    Ok(Resolved {
        s3: S3Config {
            bucket,
            region: given(args.region).or_else(|| settings::text(&settings::REGION)),
            endpoint: given(args.endpoint).or_else(|| settings::text(&settings::ENDPOINT)),
            force_path_style: args.force_path_style.unwrap_or_else(|| settings::FORCE_PATH_STYLE.get()),
            credentials: credentials()?,
            encryption: encryption(settings::text(&settings::SSE).as_deref(), settings::text(&settings::SSE_KMS_KEY_ID).as_deref())?,
        },
        prefix: checked_prefix(&prefix)?,
        destination: None,
        target_schemas: None,
    })
}

/// The destination `name` as the current role sees it through the `redshift_destinations`
/// view, which shows a role only the destinations granted to it (all of them to a superuser).
fn lookup(name: &str, superuser: bool) -> Result<Resolved, ExportError> {
    // The schema comes from the catalog and every operator is qualified: nothing on the
    // caller's search_path takes part in the lookup.
    let schema = crate::catalog::select_one::<String>(
        "SELECT n.nspname::pg_catalog.text FROM pg_catalog.pg_extension e
         JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
         WHERE e.extname OPERATOR(pg_catalog.=) 'pg2redshift'",
        &[],
    )?
    .ok_or_else(|| ExportError::Internal("the pg2redshift extension is not installed in this database".into()))?;
    let sql = format!(
        "SELECT bucket, prefix, region, endpoint, force_path_style, target_schemas, sse, sse_kms_key_id
         FROM {}.redshift_destinations WHERE name OPERATOR(pg_catalog.=) $1",
        quote_identifier(&schema)
    );
    let found = Spi::connect(|client| {
        let rows = client.select(&sql, Some(1), &[name.into()])?;
        let Some(row) = rows.into_iter().next() else { return Ok::<_, pgrx::spi::SpiError>(None) };
        Ok(Some((
            row.get::<String>(1)?.unwrap_or_default(),
            row.get::<String>(2)?.unwrap_or_default(),
            row.get::<String>(3)?,
            row.get::<String>(4)?,
            row.get::<bool>(5)?.unwrap_or(false),
            row.get::<Vec<Option<String>>>(6)?.unwrap_or_default(),
            row.get::<String>(7)?,
            row.get::<String>(8)?,
        )))
    })?;
    let Some((bucket, prefix, region, endpoint, force_path_style, schemas, sse, sse_key)) = found else {
        // Others learn only that they may not use it, not whether it exists.
        return Err(if superuser {
            ExportError::UnknownDestination(name.to_string())
        } else {
            ExportError::DestinationNotGranted(name.to_string())
        });
    };
    let schemas: Vec<String> = schemas.into_iter().flatten().collect();
    let target_schemas = if schemas.iter().any(|s| s == "*") {
        None
    } else {
        Some(schemas.iter().map(|s| s.to_ascii_lowercase()).collect())
    };
    Ok(Resolved {
        s3: S3Config {
            bucket,
            region: given(region.as_deref()),
            endpoint: given(endpoint.as_deref()),
            force_path_style,
            credentials: credentials()?,
            encryption: encryption(sse.as_deref(), sse_key.as_deref())?,
        },
        prefix: checked_prefix(&prefix)?,
        destination: Some(name.to_string()),
        target_schemas,
    })
}

/// Every key is built on the prefix: it must not climb out of it or hide characters.
fn checked_prefix(prefix: &str) -> Result<String, ExportError> {
    pg2redshift_bundle::checked_prefix(prefix).map_err(|_| {
        ExportError::from(pg2redshift_core::DefinitionError::InvalidOption {
            option: "prefix",
            value: prefix.to_string(),
            expected: "'/'-separated segments of at most 256 bytes in all, none empty, '.' or '..', without control characters or backslashes",
        })
    })
}

/// The superuser-only key settings, else None for the server's AWS credential chain.
/// The server-side encryption a destination or the settings ask for.
fn encryption(sse: Option<&str>, kms_key_id: Option<&str>) -> Result<Option<Encryption>, ExportError> {
    Encryption::from_options(sse, kms_key_id).map_err(|expected| {
        ExportError::Definition(pg2redshift_core::DefinitionError::InvalidOption {
            option: "sse",
            value: sse.unwrap_or("NULL").to_string(),
            expected,
        })
    })
}

fn credentials() -> Result<Option<StaticCredentials>, ExportError> {
    match (settings::text(&settings::ACCESS_KEY_ID), settings::text(&settings::SECRET_ACCESS_KEY)) {
        (Some(access_key_id), Some(secret_access_key)) => Ok(Some(StaticCredentials {
            access_key_id,
            secret_access_key,
            session_token: settings::text(&settings::SESSION_TOKEN),
        })),
        (None, None) => Ok(None),
        (Some(_), None) => {
            Err(ExportError::IncompleteCredentials("pg2redshift.s3_access_key_id", "pg2redshift.s3_secret_access_key"))
        }
        (None, Some(_)) => {
            Err(ExportError::IncompleteCredentials("pg2redshift.s3_secret_access_key", "pg2redshift.s3_access_key_id"))
        }
    }
}
