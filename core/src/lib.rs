//! The extension's logic that needs no server: what the catalog says about a relation
//! ([`source`]), how each PostgreSQL type maps to Redshift ([`mapping`]), Redshift's identifier
//! rules ([`names`]), and the table definition built from them ([`table`]). The extension reads
//! the catalog and calls in here, and encodes rows with [`select`], [`values`] and [`csv`]; everything here is unit-tested without PostgreSQL.

pub mod buffer_pool;
pub mod csv;
pub mod gzip;
pub mod mapping;
pub mod names;
pub mod select;
pub mod source;
pub mod table;
pub mod values;

pub use mapping::{MappingOptions, TypeMapping, map_type};
pub use source::{SourceColumn, SourceType, TypeKind};
pub use table::{ColumnPlan, DefinitionError, TableOptions, TablePlan, plan_table};
