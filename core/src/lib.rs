//! The extension's logic that needs no server. Pure, unit-tested without PostgreSQL: what the
//! catalog says about a relation ([`source`]), how each PostgreSQL type maps to Redshift
//! ([`mapping`]), Redshift's identifier rules ([`names`]), the table definition built from them
//! ([`table`]), the export query ([`select`]), values printed from their binary form ([`print`]),
//! value checks ([`values`]), CSV ([`csv`]) and what
//! an export commits ([`commit`]), what an unfinished one leaves behind ([`leftovers`]), AWS
//! errors in one line ([`aws_error`]), logical decoding's messages ([`pgoutput`]), what a batch of them does to a table
//! ([`collapse`]) and the change files' rows they come to ([`changes`]). Beside that, the compression engine ([`compress`]): threads
//! of its own, still no PostgreSQL.

pub mod aws_error;
pub mod changes;
pub mod collapse;
pub mod commit;
pub mod compress;
pub mod csv;
pub mod leftovers;
pub mod mapping;
pub mod names;
pub mod pgoutput;
pub mod print;
pub mod select;
pub mod source;
pub mod table;
pub mod values;

pub use mapping::{MappingOptions, TypeMapping, map_type};
pub use source::{SourceColumn, SourceType, TypeKind};
pub use table::{ColumnPlan, DefinitionError, TableOptions, TablePlan, plan_table};
