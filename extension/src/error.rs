//! The extension's errors, each raised as a PostgreSQL ERROR with a fitting SQLSTATE.

use pg2redshift_core::DefinitionError;
use pg2redshift_core::values::{Problem, ProblemClass};

use crate::pipeline::PipelineError;
use pg2redshift_bundle::quote_ident;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::PgSqlErrorCode;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{relation} is {kind}: only tables, partitioned tables, views, materialized views and foreign tables can be exported")]
    UnsupportedRelation { relation: String, kind: &'static str },
    #[error(transparent)]
    Definition(#[from] DefinitionError),
    #[error("a query the export runs through SPI failed: {0}")]
    Spi(#[from] pgrx::spi::SpiError),
    #[error("column {} of table {table}, row {row}: {problem}", quote_ident(column))]
    Unrepresentable { table: String, column: String, row: String, problem: Problem },
    #[error("table {table}, row {row}: the row is {bytes} bytes as CSV; Redshift's COPY loads rows of at most 4 MB")]
    RowTooLarge { table: String, row: String, bytes: usize },
    #[error("column {} of table {table}, row {row}: the value is not valid UTF-8", quote_ident(column))]
    InvalidText { table: String, column: String, row: String },
    #[error("export to S3 failed, nothing was committed: {0}")]
    Upload(#[from] PipelineError),
    #[error("the database encoding is {encoding}; pg2redshift exports from UTF8 databases only")]
    NotUtf8 { encoding: String },
    #[error(
        "the export runs with {0}, not the DateStyle ISO, YMD, TimeZone UTC and extra_float_digits 1 its function's SET clause fixes; re-create the extension's functions (ALTER EXTENSION pg2redshift UPDATE or DROP and CREATE EXTENSION)"
    )]
    Settings(String),
    #[error(transparent)]
    DuplicateTarget(#[from] pg2redshift_core::commit::DuplicateTarget),
    #[error("schema {} has no tables, partitioned tables or materialized views matching include {} and exclude {}", quote_ident(schema), quote_literal(include), quote_literal(exclude))]
    NoTables { schema: String, include: String, exclude: String },
    #[error("{0} must not be NULL")]
    NullArgument(&'static str),
    #[error(
        "this export reads {tables} relation(s) in one transaction and needs about {needed} locks for them (tables, partitions, indexes, TOAST), \
         but the lock table holds {capacity} (max_locks_per_transaction = {max_locks} × {slots} backend and prepared-transaction slots) and {in_use} are in use"
    )]
    LockTableTooSmall { tables: usize, needed: i64, capacity: i64, in_use: i64, max_locks: i64, slots: i64 },
    #[error("only a superuser may pass {option}: other roles export to a destination")]
    LocationOptionNotAllowed { option: &'static str },
    #[error("only a superuser may export without a destination: pass destination => 'name' or set pg2redshift.destination")]
    DestinationRequired,
    #[error("pass either destination or {option}, not both: the destination fixes where the export goes")]
    DestinationWithLocation { option: &'static str },
    #[error("destination {} does not exist", quote_literal(.0))]
    UnknownDestination(String),
    #[error("permission denied for destination {}", quote_literal(.0))]
    DestinationNotGranted(String),
    #[error(transparent)]
    TargetSchemaNotAllowed(#[from] pg2redshift_core::commit::TargetSchemaNotAllowed),
    #[error("pg2redshift.signing_key is shorter than {} bytes", pg2redshift_bundle::signature::MIN_KEY_BYTES)]
    ShortSigningKey,
    #[error("{0} is set but {1} is not")]
    IncompleteCredentials(&'static str, &'static str),
    #[error("could not write bundle metadata: {0}")]
    Serialize(serde_json::Error),
    #[error("internal error: {0}")]
    Internal(String),
    #[error("the owner of extension pg2redshift is not a superuser, and change streams need a superuser's rights to manage replication slots")]
    OwnerNotSuperuser,
    #[error("change stream {} does not exist", quote_literal(.0))]
    UnknownStream(String),
    #[error("change stream {} already exists", quote_literal(.0))]
    StreamExists(String),
    #[error("{} is not a valid stream name: 1 to 40 lowercase letters, digits and _, starting with a letter", quote_literal(.0))]
    InvalidStreamName(String),
    #[error("only superusers and members of pg2redshift_stream_admin may {0}")]
    NotStreamAdmin(&'static str),
    #[error("table {table} cannot be captured: {why}")]
    NotCapturable { table: String, why: &'static str },
    #[error("redshift_cdc_start must run before its transaction writes anything: PostgreSQL creates replication slots only there")]
    StartAfterWrites,
    #[error("change stream {} is being exported by another session", quote_literal(.0))]
    StreamBusy(String),
    #[error("replication slot {slot} exists already, for database {}: stream names are unique in the server, as slot names are", quote_literal(database))]
    SlotTaken { slot: String, database: String },
    #[error("replication slot {slot} of the stream {why}")]
    SlotGone { slot: String, why: &'static str },
    #[error(transparent)]
    Change(#[from] pg2redshift_core::changes::ChangeError),
}

/// A string as an SQL literal, as messages show patterns.
fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl ExportError {
    /// The five-character SQLSTATE, as messages and the history show it.
    pub fn sqlstate_code(&self) -> String {
        let code = self.sqlstate() as i32;
        // PostgreSQL packs the five characters six bits each, lowest first (MAKE_SQLSTATE).
        (0..5).map(|i| char::from(b'0' + ((code >> (6 * i)) & 0x3f) as u8)).collect()
    }

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
            ExportError::Unrepresentable { problem, .. } => match problem.class() {
                ProblemClass::TooLong => ERRCODE_STRING_DATA_RIGHT_TRUNCATION,
                ProblemClass::Numeric => ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
                ProblemClass::Datetime => ERRCODE_DATETIME_FIELD_OVERFLOW,
                ProblemClass::NoEquivalent => ERRCODE_DATA_EXCEPTION,
            },
            ExportError::RowTooLarge { .. } => ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            ExportError::InvalidText { .. } => ERRCODE_CHARACTER_NOT_IN_REPERTOIRE,
            ExportError::Upload(_) => ERRCODE_IO_ERROR,
            ExportError::NotUtf8 { .. } => ERRCODE_FEATURE_NOT_SUPPORTED,
            ExportError::Settings(_) => ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            ExportError::DuplicateTarget(_) => ERRCODE_DUPLICATE_OBJECT,
            ExportError::NoTables { .. } => ERRCODE_UNDEFINED_TABLE,
            ExportError::NullArgument(_) => ERRCODE_NULL_VALUE_NOT_ALLOWED,
            // PostgreSQL's own code for a full lock table ("out of shared memory").
            ExportError::LockTableTooSmall { .. } => ERRCODE_OUT_OF_MEMORY,
            ExportError::LocationOptionNotAllowed { .. }
            | ExportError::DestinationRequired
            | ExportError::DestinationNotGranted(_)
            | ExportError::TargetSchemaNotAllowed(_) => ERRCODE_INSUFFICIENT_PRIVILEGE,
            ExportError::DestinationWithLocation { .. } => ERRCODE_INVALID_PARAMETER_VALUE,
            ExportError::UnknownDestination(_) => ERRCODE_UNDEFINED_OBJECT,
            ExportError::IncompleteCredentials(..) | ExportError::ShortSigningKey => ERRCODE_CONFIG_FILE_ERROR,
            ExportError::Serialize(_) | ExportError::Internal(_) => ERRCODE_INTERNAL_ERROR,
            ExportError::OwnerNotSuperuser | ExportError::NotCapturable { .. } | ExportError::SlotGone { .. } => {
                ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE
            }
            ExportError::UnknownStream(_) => ERRCODE_UNDEFINED_OBJECT,
            ExportError::StreamExists(_) | ExportError::SlotTaken { .. } => ERRCODE_DUPLICATE_OBJECT,
            ExportError::InvalidStreamName(_) => ERRCODE_INVALID_NAME,
            ExportError::NotStreamAdmin(_) => ERRCODE_INSUFFICIENT_PRIVILEGE,
            ExportError::StartAfterWrites => ERRCODE_ACTIVE_SQL_TRANSACTION,
            ExportError::StreamBusy(_) => ERRCODE_OBJECT_IN_USE,
            ExportError::Change(err) => match err {
                pg2redshift_core::changes::ChangeError::SchemaChanged { .. } => ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                _ => ERRCODE_DATA_CORRUPTED,
            },
        }
    }

    fn hint(&self) -> Option<&'static str> {
        match self {
            ExportError::UnsupportedRelation { .. } => {
                Some("Export the table the object belongs to, or a view over it.")
            }
            ExportError::Definition(err) => err.hint(),
            ExportError::Unrepresentable { .. } => Some(
                "Fix the value, or pass on_unrepresentable => 'null' (export it as NULL) or 'truncate' (cut over-long text); changed values are counted in bundle.json.",
            ),
            ExportError::RowTooLarge { .. } => Some("Export a view that leaves out or shortens the widest columns."),
            ExportError::Upload(_) => {
                Some("Check the bucket, region and endpoint settings and the server's AWS credentials; the export can simply be run again.")
            }
            ExportError::DuplicateTarget(_) => Some("Export them separately, or give one a different target_schema."),
            ExportError::LocationOptionNotAllowed { .. } | ExportError::DestinationRequired => {
                Some("A superuser creates destinations (redshift_destination_create) and grants them (redshift_destination_grant); SELECT * FROM redshift_destinations shows yours.")
            }
            ExportError::DestinationNotGranted(_) => {
                Some("SELECT * FROM redshift_destinations shows the destinations you may use; a superuser grants others.")
            }
            ExportError::TargetSchemaNotAllowed(_) => {
                Some("Pass a target_schema the destination allows (redshift_destinations.target_schemas), or ask a superuser to allow this one.")
            }
            ExportError::LockTableTooSmall { .. } => Some(
                "Raise max_locks_per_transaction (a server restart) to at least the number needed divided by the slots, or export the schema in parts (include/exclude, or redshift_export_many with fewer tables).",
            ),
            ExportError::Change(pg2redshift_core::changes::ChangeError::SchemaChanged { .. }) | ExportError::SlotGone { .. } => Some(
                "The stream cannot go on from here: stop it (redshift_cdc_stop) and start it again (redshift_cdc_start); its next export exports the tables in full.",
            ),
            ExportError::StartAfterWrites => Some("Call redshift_cdc_start on its own, or first in its transaction."),
            ExportError::NotStreamAdmin(_) => Some("A superuser grants the right: GRANT pg2redshift_stream_admin TO role."),
            _ => None,
        }
    }
}

/// pgrx raises the report of an `Err` a `#[pg_extern]` function returns, with its SQLSTATE,
/// message and hint; `#[track_caller]` makes its location the `?` that returned it.
impl From<ExportError> for ErrorReport {
    #[track_caller]
    fn from(err: ExportError) -> ErrorReport {
        let report = ErrorReport::new(err.sqlstate(), err.to_string(), "pg2redshift");
        match err.hint() {
            Some(hint) => report.set_hint(hint),
            None => report,
        }
    }
}
