//! The loader's record in Redshift of what it loaded: one row per table per load, written in the
//! load's own transaction, so it is true exactly when the swap committed. A second loader waits
//! on the lock of this table, then sees the first one's rows.

use std::collections::{BTreeSet, HashMap, HashSet};

use postgres::GenericClient;

use crate::error::LoadError;
use crate::sql::quote_literal;

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
);
CREATE TABLE IF NOT EXISTS pg2redshift_loader.streams (
    source_database VARCHAR(512) NOT NULL,
    stream VARCHAR(64) NOT NULL,
    base_export_id VARCHAR(64) NOT NULL,
    next_lsn VARCHAR(20) NOT NULL,
    last_export_id VARCHAR(64) NOT NULL,
    applied_at TIMESTAMP NOT NULL
)";

pub const LOCK: &str = "LOCK pg2redshift_loader.loads";

/// Where a change stream stands in Redshift: its base loaded, and the LSN its next batch must
/// start at. None when its base was never loaded here.
pub fn stream_position(db: &mut impl GenericClient, database: &str, stream: &str) -> Result<Option<(String, String)>, LoadError> {
    let rows = db
        .query(
            &format!(
                "SELECT base_export_id, next_lsn FROM pg2redshift_loader.streams WHERE source_database = {} AND stream = {}",
                quote_literal(database),
                quote_literal(stream)
            ),
            &[],
        )
        .map_err(|e| LoadError::target_sql("reading the stream positions", e))?;
    Ok(rows.first().map(|r| (r.get(0), r.get(1))))
}

/// Records a stream's position: its base (a full export) or a batch applied on top of it.
pub fn record_stream(database: &str, stream: &str, base_export_id: &str, next_lsn: &str, export_id: &str) -> [String; 2] {
    let (db, st) = (quote_literal(database), quote_literal(stream));
    [
        format!("DELETE FROM pg2redshift_loader.streams WHERE source_database = {db} AND stream = {st}"),
        format!(
            "INSERT INTO pg2redshift_loader.streams VALUES ({db}, {st}, {}, {}, {}, getdate())",
            quote_literal(base_export_id),
            quote_literal(next_lsn),
            quote_literal(export_id)
        ),
    ]
}

/// Keeps, of the history's rows `l`, the newest load of each table: a join with the grouped
/// maximum, not a correlated subquery, which a planner that does not decorrelate runs once per
/// row (quadratic in a history that gains a row per table per load).
const NEWEST: &str = "JOIN (SELECT target_schema, target_table, max(exported_at) AS newest FROM pg2redshift_loader.loads \
     GROUP BY target_schema, target_table) m \
     ON m.target_schema = l.target_schema AND m.target_table = l.target_table AND m.newest = l.exported_at";

/// (schema, table) of a target table.
pub type Table = (String, String);
/// (export_id, exported_at) of a load.
pub type Loaded = (String, String);

/// Every export id in the load history (empty before the first load): `watch` reads no
/// export whose id is here.
pub fn loaded_exports(db: &mut postgres::Client) -> Result<HashSet<String>, LoadError> {
    if !history_exists(db)? {
        return Ok(HashSet::new());
    }
    let rows = db
        .query("SELECT DISTINCT export_id FROM pg2redshift_loader.loads", &[])
        .map_err(|e| LoadError::target_sql("reading the load history", e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The newest export loaded into each of `tables` (schema, table) that has one: (export_id,
/// exported_at), in one query however many tables. Exports are ordered by their snapshot time
/// (`exported_at`, fixed-width RFC 3339 with microseconds, so text order is time order): loads
/// never go backwards, so the newest export is the one in place.
pub fn last_loaded_all(db: &mut impl GenericClient, tables: &[(&str, &str)]) -> Result<HashMap<Table, Loaded>, LoadError> {
    let wanted: HashSet<(&str, &str)> = tables.iter().copied().collect();
    let schemas: BTreeSet<&str> = tables.iter().map(|t| t.0).collect();
    if schemas.is_empty() {
        return Ok(HashMap::new());
    }
    let list: Vec<String> = schemas.iter().map(|s| quote_literal(s)).collect();
    let rows = db
        .query(
            &format!(
                "SELECT l.target_schema, l.target_table, l.export_id, l.exported_at FROM pg2redshift_loader.loads l {NEWEST} \
                 WHERE l.target_schema IN ({})",
                list.join(", ")
            ),
            &[],
        )
        .map_err(|e| LoadError::target_sql("reading the load history", e))?;
    Ok(rows
        .iter()
        .map(|r| ((r.get::<_, String>(0), r.get::<_, String>(1)), (r.get::<_, String>(2), r.get::<_, String>(3))))
        .filter(|((s, t), _)| wanted.contains(&(s.as_str(), t.as_str())))
        .collect())
}

fn history_exists(db: &mut impl GenericClient) -> Result<bool, LoadError> {
    let row = db
        .query_one("SELECT count(*) FROM pg_tables WHERE schemaname = 'pg2redshift_loader' AND tablename = 'loads'", &[])
        .map_err(|e| LoadError::target_sql("reading the load history", e))?;
    Ok(row.get::<_, i64>(0) > 0)
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
    if !history_exists(db)? {
        return Ok(Vec::new());
    }
    let rows = db
        .query(
            &format!(
                "SELECT l.target_schema || '.' || l.target_table, l.export_id, l.exported_at,
                    l.source_database || '/' || l.source_schema || '.' || l.source_table, l.row_count, l.file_count,
                    l.bundle_url, CAST(l.loaded_at AS VARCHAR)
             FROM pg2redshift_loader.loads l {NEWEST}
             ORDER BY 1"
            ),
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
