//! What can go wrong, and the exit code each failure gives (documented in the README).

use thiserror::Error;

#[derive(Debug, Error)]
pub enum LoadError {
    /// Bad arguments or configuration.
    #[error("{0}")]
    Usage(String),
    /// S3 could not be read.
    #[error("S3: {0}")]
    S3(String),
    /// The target could not be reached or a statement failed outside a load.
    #[error("Redshift: {0}")]
    Target(String),
    /// A bundle this loader must not load (unknown format, missing siblings, older than loaded).
    #[error("{0}")]
    Refused(String),
    /// The load ran and failed; the transaction was rolled back and nothing changed.
    #[error("{0}")]
    Failed(String),
}

impl LoadError {
    pub fn exit_code(&self) -> i32 {
        match self {
            LoadError::Failed(_) => 1,
            LoadError::Usage(_) => 2,
            LoadError::Refused(_) => 3,
            LoadError::S3(_) => 4,
            LoadError::Target(_) => 5,
        }
    }
}

/// The server's message and SQLSTATE where there is one.
pub fn describe(err: &postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => {
            let mut s = format!("{} ({})", db.message(), db.code().code());
            if let Some(d) = db.detail() {
                s.push_str(&format!("; {d}"));
            }
            s
        }
        None => err.to_string(),
    }
}
