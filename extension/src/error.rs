//! The extension's errors, each raised as a PostgreSQL ERROR with a fitting SQLSTATE.

use pg2redshift_core::DefinitionError;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{relation} is {kind}: only tables, partitioned tables, views, materialized views and foreign tables can be exported")]
    UnsupportedRelation { relation: String, kind: &'static str },
    #[error(transparent)]
    Definition(#[from] DefinitionError),
    #[error("reading the catalog failed: {0}")]
    Spi(#[from] pgrx::spi::SpiError),
}

impl ExportError {
    fn sqlstate(&self) -> PgSqlErrorCode {
        use PgSqlErrorCode::*;
        match self {
            ExportError::UnsupportedRelation { .. } => ERRCODE_WRONG_OBJECT_TYPE,
            ExportError::Definition(err) => match err {
                DefinitionError::NoColumns { .. } => ERRCODE_FEATURE_NOT_SUPPORTED,
                DefinitionError::TooManyColumns { .. } => ERRCODE_TOO_MANY_COLUMNS,
                DefinitionError::InvalidName { problem, .. } => match problem {
                    pg2redshift_core::names::NameProblem::TooLong(_) => ERRCODE_NAME_TOO_LONG,
                    pg2redshift_core::names::NameProblem::ReservedColumn => ERRCODE_RESERVED_NAME,
                    _ => ERRCODE_INVALID_NAME,
                },
                DefinitionError::NameCollision { .. } => ERRCODE_DUPLICATE_COLUMN,
                DefinitionError::InvalidOption { .. } => ERRCODE_INVALID_PARAMETER_VALUE,
                DefinitionError::UnknownColumn { .. } => ERRCODE_UNDEFINED_COLUMN,
                DefinitionError::KeyColumnType { .. } => ERRCODE_INVALID_PARAMETER_VALUE,
            },
            ExportError::Spi(_) => ERRCODE_INTERNAL_ERROR,
        }
    }

    fn hint(&self) -> Option<&'static str> {
        match self {
            ExportError::UnsupportedRelation { .. } => {
                Some("Export the table the object belongs to, or a view over it.")
            }
            ExportError::Definition(err) => err.hint(),
            ExportError::Spi(_) => None,
        }
    }

    /// Raises this error as a PostgreSQL ERROR; does not return.
    pub fn raise(self, function: &'static str) -> ! {
        let mut report = ErrorReport::new(self.sqlstate(), self.to_string(), function);
        if let Some(hint) = self.hint() {
            report = report.set_hint(hint);
        }
        report.report(PgLogLevel::ERROR);
        unreachable!("an ERROR report does not return")
    }
}

/// Unwraps or raises the error as a PostgreSQL ERROR.
pub trait OrRaise<T> {
    fn or_raise(self, function: &'static str) -> T;
}

impl<T, E: Into<ExportError>> OrRaise<T> for Result<T, E> {
    fn or_raise(self, function: &'static str) -> T {
        self.unwrap_or_else(|err| err.into().raise(function))
    }
}
