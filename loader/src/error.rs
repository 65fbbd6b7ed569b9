//! What can go wrong, and the exit code each failure gives (documented in the README).

use thiserror::Error;

use pg2redshift_loader::connection::ConnectError;

/// The underlying error of a failure, kept as its `source()`.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, Error)]
pub enum LoadError {
    /// Bad arguments or configuration.
    #[error("{0}")]
    Usage(String),
    /// S3 could not be read.
    #[error("S3: {message}")]
    S3 { message: String, source: Option<Cause> },
    /// The target could not be reached or a statement failed outside a load.
    #[error("Redshift: {message}")]
    Target { message: String, source: Option<Cause> },
    /// A bundle this loader must not load (unknown format, missing siblings, older than loaded).
    #[error("{0}")]
    Refused(String),
    /// Connecting to Redshift (or the source) failed; TLS failures have an exit code of their own.
    #[error("{0}")]
    Connect(#[from] ConnectError),
    /// The load ran and failed; the transaction was rolled back and nothing changed.
    #[error("{message}")]
    Failed { message: String, source: Option<Cause> },
}

impl LoadError {
    pub fn exit_code(&self) -> i32 {
        match self {
            LoadError::Failed { .. } => 1,
            LoadError::Usage(_) => 2,
            LoadError::Refused(_) => 3,
            LoadError::S3 { .. } => 4,
            LoadError::Target { .. } => 5,
            LoadError::Connect(ConnectError::Usage(_)) => 2,
            LoadError::Connect(ConnectError::Connect { .. }) => 5,
            LoadError::Connect(ConnectError::Tls { .. }) => 6,
            LoadError::Connect(ConnectError::Credentials { .. }) => 7,
        }
    }

    /// The connection to Redshift broke (or the server shut down) while a statement ran: the
    /// transaction may or may not have committed.
    pub fn connection_lost(&self) -> bool {
        let (LoadError::Failed { source: Some(s), .. } | LoadError::Target { source: Some(s), .. }) = self else {
            return false;
        };
        s.downcast_ref::<postgres::Error>().is_some_and(|e| match e.as_db_error() {
            Some(db) => matches!(db.code().code(), "57P01" | "57P02" | "57P03"),
            None => true,
        })
    }

    /// A failed load with no underlying error (a count mismatch, differences found).
    pub fn failed(message: impl Into<String>) -> LoadError {
        LoadError::Failed { message: message.into(), source: None }
    }

    /// A statement of the load failed: `context` and the server's words, the error kept.
    pub fn failed_sql(context: &str, err: postgres::Error) -> LoadError {
        LoadError::Failed { message: format!("{context}: {}", describe(&err)), source: Some(Box::new(err)) }
    }

    /// Redshift could not be reached, or a statement outside the load failed.
    pub fn target_sql(context: &str, err: postgres::Error) -> LoadError {
        LoadError::Target { message: format!("{context}: {}", describe(&err)), source: Some(Box::new(err)) }
    }

    /// S3 could not be read: `message` says what and why, the error is kept.
    pub fn s3(message: String, err: impl std::error::Error + Send + Sync + 'static) -> LoadError {
        LoadError::S3 { message, source: Some(Box::new(err)) }
    }
}

/// The server's message and SQLSTATE (and detail) where there is one, else the causes: the
/// wording connection failures use too.
pub fn describe(err: &postgres::Error) -> String {
    pg2redshift_loader::connection::server_words(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_keeps_its_cause_and_its_exit_code() {
        let e = LoadError::s3("reading s3://b/k: refused".into(), std::io::Error::other("connection refused"));
        assert_eq!(e.to_string(), "S3: reading s3://b/k: refused");
        assert_eq!(std::error::Error::source(&e).map(|s| s.to_string()).as_deref(), Some("connection refused"));
        assert_eq!(e.exit_code(), 4);
        assert_eq!(LoadError::failed("3 differences").exit_code(), 1);
        assert!(std::error::Error::source(&LoadError::failed("x")).is_none());
    }
}
