//! Reads what pg2redshift needs to know about a relation from pg_catalog (not
//! information_schema, which hides columns from roles without privileges and drops typmods).

use pg2redshift_core::{SourceColumn, SourceType, TypeKind};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use crate::error::ExportError;

/// The first column of the first row of a read-only query. Unlike `Spi::get_one`, which runs
/// every query as a write and so gives the transaction an id, this leaves a transaction that
/// has not written without one (`redshift_cdc_start` needs that to create a slot).
pub fn select_one<T: pgrx::FromDatum + pgrx::IntoDatum>(
    sql: &str,
    args: &[pgrx::datum::DatumWithOid<'_>],
) -> Result<Option<T>, pgrx::spi::SpiError> {
    Spi::connect(|client| {
        let rows = client.select(sql, Some(1), args)?;
        if rows.is_empty() { Ok(None) } else { rows.first().get::<T>(1) }
    })
}

/// A relation that can be exported, with its columns in attnum order.
pub struct Relation {
    pub schema: String,
    pub name: String,
    /// `pg_class.relkind`.
    pub relkind: String,
    pub columns: Vec<SourceColumn>,
    /// Primary key columns in key order; empty when there is none.
    pub primary_key: Vec<String>,
    /// What change capture needs of each column, in the order of `columns`.
    pub attributes: Vec<Attribute>,
}

/// A column as logical decoding describes it, and the type its values are read back into.
pub struct Attribute {
    /// `pg_attribute.atttypid` and `atttypmod`, as logical decoding sends them.
    pub type_oid: u32,
    pub typmod: i32,
    /// The base type (domains resolved) with the effective typmod, as SQL.
    pub base_type: String,
    /// A generated column, which logical decoding does not send.
    pub generated: bool,
}

const RELATION_SQL: &str = "
SELECT n.nspname::text, c.relname::text, c.relkind::text
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = $1";

/// Columns with domains resolved to their base type: a domain's typmod applies when the
/// column has none, and NOT NULL of any domain in the chain makes the column NOT NULL.
const COLUMNS_SQL: &str = "
WITH RECURSIVE chain AS (
    SELECT a.attnum, a.atttypid AS typid, a.atttypmod AS typmod, a.attnotnull AS notnull
    FROM pg_catalog.pg_attribute a
    WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
    SELECT c.attnum, t.typbasetype,
           CASE WHEN c.typmod <> -1 THEN c.typmod ELSE t.typtypmod END,
           c.notnull OR t.typnotnull
    FROM chain c JOIN pg_catalog.pg_type t ON t.oid = c.typid
    WHERE t.typtype = 'd'
)
SELECT a.attname::text,
       pg_catalog.format_type(a.atttypid, a.atttypmod),
       n.nspname::text,
       t.typname::text,
       c.typmod,
       c.notnull,
       t.typtype::text,
       (t.typcategory = 'A' AND t.typelem <> 0
            AND t.typsubscript = 'pg_catalog.array_subscript_handler'::pg_catalog.regproc
            AND t.typname NOT IN ('int2vector', 'oidvector')),
       (SELECT max(pg_catalog.octet_length(e.enumlabel::text))
          FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid),
       pg_catalog.format_type(t.oid, c.typmod),
       a.atttypid::pg_catalog.int8,
       a.atttypmod,
       a.attgenerated <> ''
FROM chain c
JOIN pg_catalog.pg_type t ON t.oid = c.typid AND t.typtype <> 'd'
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = $1 AND a.attnum = c.attnum
ORDER BY c.attnum";

const PRIMARY_KEY_SQL: &str = "
SELECT a.attname::text
FROM pg_catalog.pg_index i
CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = $1 AND i.indisprimary AND k.ord <= i.indnkeyatts  -- not INCLUDE columns
ORDER BY k.ord";

/// Relation kinds that have rows to export, and the words for the ones that do not.
fn check_kind(relkind: &str) -> Result<(), &'static str> {
    match relkind {
        "r" | "p" | "v" | "m" | "f" => Ok(()),
        "i" | "I" => Err("an index"),
        "S" => Err("a sequence"),
        "c" => Err("a composite type"),
        "t" => Err("a TOAST table"),
        _ => Err("a relation of an unsupported kind"),
    }
}

pub fn read_relation(oid: pg_sys::Oid) -> Result<Relation, ExportError> {
    Spi::connect(|client| read_relation_with(client, oid))
}

pub fn read_relation_with(client: &SpiClient<'_>, oid: pg_sys::Oid) -> Result<Relation, ExportError> {
    {
        let head = client.select(RELATION_SQL, Some(1), &[oid.into()])?;
        let row = head.first();
        let schema: String = row.get(1)?.unwrap_or_default();
        let name: String = row.get(2)?.unwrap_or_default();
        let relkind: String = row.get(3)?.unwrap_or_default();
        if let Err(kind) = check_kind(&relkind) {
            return Err(ExportError::UnsupportedRelation {
                relation: pg2redshift_bundle::quote_qualified(&schema, &name),
                kind,
            });
        }
        let (columns, attributes) = read_columns(client, oid)?;
        let mut primary_key = Vec::new();
        for row in client.select(PRIMARY_KEY_SQL, None, &[oid.into()])? {
            primary_key.push(row.get::<String>(1)?.unwrap_or_default());
        }
        Ok(Relation { schema, name, relkind, columns, primary_key, attributes })
    }
}

fn read_columns(client: &SpiClient<'_>, oid: pg_sys::Oid) -> Result<(Vec<SourceColumn>, Vec<Attribute>), ExportError> {
    let mut columns = Vec::new();
    let mut attributes = Vec::new();
    for row in client.select(COLUMNS_SQL, None, &[oid.into()])? {
        let typtype: String = row.get(7)?.unwrap_or_default();
        let is_array: bool = row.get(8)?.unwrap_or(false);
        let kind = match typtype.as_str() {
            _ if is_array => TypeKind::Array,
            "c" => TypeKind::Composite,
            "r" => TypeKind::Range,
            "m" => TypeKind::Multirange,
            "e" => TypeKind::Enum {
                longest_label_bytes: row.get::<i32>(9)?.unwrap_or(1).max(1) as u32,
            },
            _ => TypeKind::Base,
        };
        columns.push(SourceColumn {
            name: row.get(1)?.unwrap_or_default(),
            declared_type: row.get(2)?.unwrap_or_default(),
            ty: SourceType {
                schema: row.get(3)?.unwrap_or_default(),
                name: row.get(4)?.unwrap_or_default(),
                typmod: row.get(5)?.unwrap_or(-1),
                kind,
            },
            not_null: row.get(6)?.unwrap_or(false),
        });
        attributes.push(Attribute {
            base_type: row.get(10)?.unwrap_or_default(),
            type_oid: row.get::<i64>(11)?.unwrap_or(0) as u32,
            typmod: row.get(12)?.unwrap_or(-1),
            generated: row.get(13)?.unwrap_or(false),
        });
    }
    Ok((columns, attributes))
}

/// Tables, partitioned tables and materialized views of a schema (partitions are exported
/// through their parent), by name. An unknown schema raises 3F000 through the regnamespace cast.
// Operators are qualified: nothing on the caller's search_path takes part. Tables that belong
// to an extension (its configuration, such as this extension's own history) are left out.
const SCHEMA_TABLES_SQL: &str = "
SELECT c.oid
FROM pg_catalog.pg_class c
WHERE c.relnamespace OPERATOR(pg_catalog.=) $1::pg_catalog.regnamespace
  AND c.relkind OPERATOR(pg_catalog.=) ANY ('{r,p,m}'::pg_catalog.\"char\"[])
  AND NOT c.relispartition
  AND c.relname::pg_catalog.text OPERATOR(pg_catalog.~~) $2
  AND ($3::pg_catalog.text IS NULL OR c.relname::pg_catalog.text OPERATOR(pg_catalog.!~~) $3)
  AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d
                  WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                    AND d.objid OPERATOR(pg_catalog.=) c.oid
                    AND d.deptype OPERATOR(pg_catalog.=) 'e')
ORDER BY c.relname";

pub fn schema_tables(
    schema: &str,
    include: &str,
    exclude: Option<&str>,
) -> Result<Vec<crate::regclass::RegClass>, ExportError> {
    // Quoted, so the schema is taken as named rather than folded to lower case.
    let schema = pg2redshift_bundle::quote_ident(schema);
    Spi::connect(|client| {
        let mut oids = Vec::new();
        let rows = client.select(SCHEMA_TABLES_SQL, None, &[schema.into(), include.into(), exclude.into()])?;
        for row in rows {
            if let Some(oid) = row.get::<pg_sys::Oid>(1)? {
                oids.push(crate::regclass::RegClass(oid));
            }
        }
        Ok(oids)
    })
}

/// The locks reading `oids` in one transaction takes: each relation, every partition below it,
/// their indexes and TOAST tables with their indexes (all held to the end of the transaction);
/// and max_locks_per_transaction.
const LOCKS_NEEDED_SQL: &str = "
WITH RECURSIVE rels(oid) AS (
  SELECT pg_catalog.unnest($1::pg_catalog.oid[])
  UNION
  SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN rels r ON i.inhparent OPERATOR(pg_catalog.=) r.oid
)
SELECT (SELECT pg_catalog.count(*) FROM rels)
     OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM pg_catalog.pg_index x
                             WHERE x.indrelid OPERATOR(pg_catalog.=) ANY (SELECT oid FROM rels))
     OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) OPERATOR(pg_catalog.*) 2 FROM pg_catalog.pg_class c
                             WHERE c.oid OPERATOR(pg_catalog.=) ANY (SELECT oid FROM rels)
                               AND c.reltoastrelid OPERATOR(pg_catalog.<>) 0),
       pg_catalog.current_setting('max_locks_per_transaction')::pg_catalog.int8";

/// The shared lock table's size and use: max_locks_per_transaction times (MaxBackends plus
/// max_prepared_transactions), MaxBackends being max_connections, autovacuum_max_workers, one,
/// max_worker_processes and max_wal_senders added up (PostgreSQL 15, lock.c and postinit.c);
/// the locks in it now are those pg_locks shows outside the per-backend fast path.
const LOCK_TABLE_SQL: &str = "
SELECT (pg_catalog.current_setting('max_connections')::pg_catalog.int8
        OPERATOR(pg_catalog.+) pg_catalog.current_setting('autovacuum_max_workers')::pg_catalog.int8 OPERATOR(pg_catalog.+) 1
        OPERATOR(pg_catalog.+) pg_catalog.current_setting('max_worker_processes')::pg_catalog.int8
        OPERATOR(pg_catalog.+) pg_catalog.current_setting('max_wal_senders')::pg_catalog.int8
        OPERATOR(pg_catalog.+) pg_catalog.current_setting('max_prepared_transactions')::pg_catalog.int8),
       (SELECT pg_catalog.count(*) FROM pg_catalog.pg_locks WHERE NOT fastpath)";

/// Refuses, before any lock is taken or anything written, an export whose relations would not
/// fit in the lock table: PostgreSQL would stop it midway with "out of shared memory".
pub fn check_lock_table(oids: &[pg_sys::Oid]) -> Result<(), ExportError> {
    let ids: Vec<pg_sys::Oid> = oids.to_vec();
    Spi::connect(|client| {
        let rows = client.select(LOCKS_NEEDED_SQL, Some(1), &[ids.into()])?;
        let row = rows.first();
        let (needed, max_locks) = (row.get::<i64>(1)?.unwrap_or(0), row.get::<i64>(2)?.unwrap_or(64));
        // Within one backend's share there is nothing to check, and pg_locks (which briefly
        // locks every partition of the lock table) is not read.
        if needed <= max_locks {
            return Ok(Ok(()));
        }
        let rows = client.select(LOCK_TABLE_SQL, Some(1), &[])?;
        let row = rows.first();
        let (slots, in_use) = (row.get::<i64>(1)?.unwrap_or(1), row.get::<i64>(2)?.unwrap_or(0));
        let capacity = max_locks.saturating_mul(slots);
        if needed > capacity.saturating_sub(in_use) {
            return Ok(Err(ExportError::LockTableTooSmall { tables: oids.len(), needed, capacity, in_use, max_locks, slots }));
        }
        Ok::<_, pgrx::spi::SpiError>(Ok(()))
    })?
}
