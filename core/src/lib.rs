//! The extension's logic that needs no server: what the catalog says about a relation
//! ([`source`]), how each PostgreSQL type maps to Redshift ([`mapping`]), Redshift's identifier
//! rules ([`names`]), and the table definition built from them ([`table`]). The extension reads
//! the catalog and calls in here; everything here is unit-tested without PostgreSQL.

pub mod mapping;
pub mod names;
pub mod source;
pub mod table;

pub use mapping::{MappingOptions, TypeMapping, map_type};
pub use source::{SourceColumn, SourceType, TypeKind};
pub use table::{ColumnPlan, DefinitionError, TableOptions, TablePlan, plan_table};
