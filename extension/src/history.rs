//! Records a committed export in `redshift_export_history`, in the caller's transaction.

use pgrx::prelude::*;

use crate::error::ExportError;
use crate::export::TableResult;

const EXTENSION_SCHEMA_SQL: &str = "
SELECT n.nspname::pg_catalog.text
FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'pg2redshift'";

pub fn record(results: &[TableResult]) -> Result<(), ExportError> {
    let Some(first) = results.first() else { return Ok(()) };
    let sum = |f: fn(&TableResult) -> u64| i64::try_from(results.iter().map(f).sum::<u64>()).unwrap_or(i64::MAX);
    let tables: Vec<String> = results.iter().map(|r| r.table.clone()).collect();
    let urls: Vec<String> = results.iter().map(|r| r.bundle_url.clone()).collect();
    Spi::connect_mut(|client| {
        let schema: Option<String> = client.select(EXTENSION_SCHEMA_SQL, Some(1), &[])?.first().get(1)?;
        let Some(schema) = schema else { return Ok(()) };
        let sql = format!(
            "SELECT {}._redshift_export_record($1, pg_catalog.statement_timestamp(), $2, $3, $4, $5, $6, $7, $8, 'committed', NULL)",
            pg2redshift_bundle::quote_ident(&schema)
        );
        client.update(
            &sql,
            None,
            &[
                first.export_id.clone().into(),
                tables.into(),
                urls.into(),
                sum(|r| r.rows).into(),
                sum(|r| r.files).into(),
                sum(|r| r.raw_bytes).into(),
                sum(|r| r.compressed_bytes).into(),
                sum(|r| r.changed_values).into(),
            ],
        )?;
        Ok(())
    })
}
