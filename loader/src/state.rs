//! The loader's record in Redshift of what it loaded: one row per table per load, written in the
//! load's own transaction, so it is true exactly when the swap committed. A second loader waits
//! on the lock of this table, then sees the first one's rows.

use postgres::GenericClient;

use crate::error::LoadError;

/// The schema of the load history, which no bundle may load into.
pub const SCHEMA: &str = "pg2redshift_loader";

pub const CREATE: &str = "CREATE SCHEMA IF NOT EXISTS pg2redshift_loader;
CREATE TABLE IF NOT EXISTS pg2redshift_loader.loads (
    target_schema VARCHAR(512) NOT NULL,
    target_table VARCHAR(512) NOT NULL,
    export_id VARCHAR(64) NOT NULL,
    exported_at VARCHAR(40) NOT NULL,
    source_database VARCHAR(512) NOT NULL,
    source_schema VARCHAR(512) NOT NULL,
    source_table VARCHAR(512) NOT NULL,
    row_count BIGINT NOT NULL,
    file_count INTEGER NOT NULL,
    bundle_url VARCHAR(2048) NOT NULL,
    loaded_at TIMESTAMP NOT NULL
)";

pub const LOCK: &str = "LOCK pg2redshift_loader.loads";

/// The export last loaded into `schema.table`: (export_id, exported_at). Exports are ordered by
/// their snapshot time (`exported_at`, fixed-width RFC 3339 with microseconds, so text order is
/// time order): loads never go backwards, so the newest export is the one in place.
pub fn last_loaded(db: &mut impl GenericClient, schema: &str, table: &str) -> Result<Option<(String, String)>, LoadError> {
    let rows = db
        .query(
            "SELECT export_id, exported_at FROM pg2redshift_loader.loads \
             WHERE target_schema = $1 AND target_table = $2 ORDER BY exported_at DESC LIMIT 1",
            &[&schema, &table],
        )
        .map_err(|e| LoadError::target_sql("reading the load history", e))?;
    Ok(rows.first().map(|r| (r.get(0), r.get(1))))
}

#[derive(Debug, Clone)]
pub struct LoadRow {
    pub target: String,
    pub export_id: String,
    pub exported_at: String,
    pub source: String,
    pub rows: i64,
    pub files: i32,
    pub bundle_url: String,
    pub loaded_at: String,
}

/// The newest load of every table.
pub fn status(db: &mut postgres::Client) -> Result<Vec<LoadRow>, LoadError> {
    let exists = db
        .query_one("SELECT count(*) FROM pg_tables WHERE schemaname = 'pg2redshift_loader' AND tablename = 'loads'", &[])
        .map_err(|e| LoadError::target_sql("reading the load history", e))?;
    if exists.get::<_, i64>(0) == 0 {
        return Ok(Vec::new());
    }
    let rows = db
        .query(
            "SELECT l.target_schema || '.' || l.target_table, l.export_id, l.exported_at,
                    l.source_database || '/' || l.source_schema || '.' || l.source_table, l.row_count, l.file_count,
                    l.bundle_url, CAST(l.loaded_at AS VARCHAR)
             FROM pg2redshift_loader.loads l
             WHERE l.exported_at = (SELECT max(x.exported_at) FROM pg2redshift_loader.loads x
                                  WHERE x.target_schema = l.target_schema AND x.target_table = l.target_table)
             ORDER BY 1",
            &[],
        )
        .map_err(|e| LoadError::target_sql("reading the load history", e))?;
    Ok(rows
        .iter()
        .map(|r| LoadRow {
            target: r.get(0),
            export_id: r.get(1),
            exported_at: r.get(2),
            source: r.get(3),
            rows: r.get(4),
            files: r.get(5),
            bundle_url: r.get(6),
            loaded_at: r.get(7),
        })
        .collect())
}
