//! `verify`: compares each loaded table with its source, column by column, with aggregates that
//! are computed the same way on both sides: row count, NULL count, min/max and sum where the
//! type orders and adds the same in both systems, and an order-independent checksum (the sum of
//! the first 32 bits of the MD5 of each value's canonical text).

use pg2redshift_bundle::{ColumnInfo, quote_ident, quote_qualified};

use crate::error::{LoadError, describe};
use crate::state;
use crate::store::{Store, split_url};

/// How a column's values are spelled the same on both sides, by source type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Decimal,
    Boolean,
    Date,
    Timestamp,
    Timestamptz,
    Text,
    /// char(n): exported with its padding, which PostgreSQL's cast to VARCHAR drops.
    PaddedText,
    /// Only NULLs are counted (floats, JSON, binary, …).
    Other,
}

fn kind(source_type: &str) -> Kind {
    let t = source_type.to_ascii_lowercase();
    match t.as_str() {
        "smallint" | "integer" | "bigint" => Kind::Integer,
        "boolean" => Kind::Boolean,
        "date" => Kind::Date,
        "timestamp without time zone" => Kind::Timestamp,
        "timestamp with time zone" => Kind::Timestamptz,
        "text" => Kind::Text,
        "bpchar" => Kind::PaddedText,
        _ if t.starts_with("character(") => Kind::PaddedText,
        _ if t.starts_with("numeric(") => Kind::Decimal,
        _ if t.starts_with("character varying") || t.starts_with("character(") || t.starts_with("varchar") => Kind::Text,
        _ => Kind::Other,
    }
}

/// The canonical text of `c` (an already quoted column) on one side.
fn canonical(kind: Kind, c: &str, side: Side) -> Option<String> {
    Some(match (kind, side) {
        // The output function keeps char(n)'s padding; in Redshift the value is a VARCHAR.
        (Kind::PaddedText, Side::Source) => format!("pg_catalog.textin(pg_catalog.bpcharout({c}))"),
        (Kind::PaddedText, Side::Target) => format!("CAST({c} AS VARCHAR)"),
        _ => canonical_same(kind, c)?,
    })
}

/// The canonical text of `c` where both sides spell it with the same SQL.
fn canonical_same(kind: Kind, c: &str) -> Option<String> {
    Some(match kind {
        Kind::Integer | Kind::Decimal | Kind::Text => format!("CAST({c} AS VARCHAR)"),
        Kind::Boolean => format!("CASE WHEN {c} THEN 't' ELSE 'f' END"),
        Kind::Date => format!("to_char({c}, 'YYYY-MM-DD')"),
        Kind::Timestamp => format!("to_char({c}, 'YYYY-MM-DD HH24:MI:SS.US')"),
        Kind::Timestamptz => format!("to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"),
        Kind::PaddedText | Kind::Other => return None,
    })
}

#[derive(Clone, Copy)]
enum Side {
    Source,
    Target,
}

/// The checks of one column: (label, SQL expression).
fn checks(col: &str, k: Kind, side: Side) -> Vec<(String, String)> {
    let mut out = vec![("nulls".to_string(), format!("CAST(count(*) - count({col}) AS VARCHAR)"))];
    match k {
        Kind::Integer | Kind::Decimal => {
            out.push(("min".into(), format!("CAST(min({col}) AS VARCHAR)")));
            out.push(("max".into(), format!("CAST(max({col}) AS VARCHAR)")));
            out.push(("sum".into(), format!("CAST(sum({col}) AS VARCHAR)")));
        }
        Kind::Date | Kind::Timestamp | Kind::Timestamptz => {
            let min = canonical(k, &format!("min({col})"), side).unwrap_or_default();
            let max = canonical(k, &format!("max({col})"), side).unwrap_or_default();
            out.push(("min".into(), min));
            out.push(("max".into(), max));
        }
        _ => {}
    }
    if let Some(text) = canonical(k, col, side) {
        let first32 = format!("substr(md5({text}), 1, 8)");
        let hash = match side {
            Side::Source => format!("('x' || lpad({first32}, 16, '0'))::bit(64)::bigint"),
            // STRTOL is Redshift's way from hex to a number.
            Side::Target => format!("strtol({first32}, 16)"),
        };
        out.push(("checksum".into(), format!("CAST(sum({hash}) AS VARCHAR)")));
    }
    out
}

fn run_checks(db: &mut postgres::Client, table: &str, exprs: &[String]) -> Result<Vec<Option<String>>, String> {
    let sql = format!("SELECT CAST(count(*) AS VARCHAR), {} FROM {table}", exprs.join(", "));
    let rows = db.simple_query(&sql).map_err(|e| describe(&e))?;
    for m in rows {
        if let postgres::SimpleQueryMessage::Row(r) = m {
            return Ok((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect());
        }
    }
    Err("no result".into())
}

pub struct Difference {
    pub table: String,
    pub column: String,
    pub check: String,
    pub source: Option<String>,
    pub target: Option<String>,
}

/// Verifies every table the loader has loaded (optionally only those in `schema`); returns the
/// number of tables checked and the differences.
pub fn verify(
    source: &mut postgres::Client,
    target: &mut postgres::Client,
    store: &Store,
    schema: Option<&str>,
    mut each: impl FnMut(&str, usize, usize),
) -> Result<(usize, Vec<Difference>), LoadError> {
    let loads = state::status(target)?;
    let mut diffs = Vec::new();
    let mut tables = 0;
    for load in loads.iter().filter(|l| schema.is_none_or(|s| l.target.starts_with(&format!("{s}.")))) {
        let (bucket, key) = split_url(&load.bundle_url)?;
        let bundle = store.committed(&bucket, &key)?.bundle;
        let src_table = quote_qualified(&bundle.source.schema, &bundle.source.table);
        let dst_table = quote_qualified(&bundle.table.schema, &bundle.table.name);
        let columns: Vec<&ColumnInfo> = bundle.columns.iter().collect();
        let mut labels = vec![("".to_string(), "rows".to_string())];
        let (mut src_exprs, mut dst_exprs) = (Vec::new(), Vec::new());
        for c in &columns {
            let k = kind(&c.source_type);
            for ((label, s), (_, t)) in checks(&quote_ident(&c.source_name), k, Side::Source)
                .into_iter()
                .zip(checks(&quote_ident(&c.name), k, Side::Target))
            {
                labels.push((c.name.clone(), label));
                src_exprs.push(s);
                dst_exprs.push(t);
            }
        }
        let s = run_checks(source, &src_table, &src_exprs)
            .map_err(|e| LoadError::failed(format!("verify: reading {src_table} at the source: {e}")))?;
        let t = run_checks(target, &dst_table, &dst_exprs)
            .map_err(|e| LoadError::failed(format!("verify: reading {dst_table} in Redshift: {e}")))?;
        let before = diffs.len();
        for (((column, check), sv), tv) in labels.into_iter().zip(s).zip(t) {
            if sv != tv {
                diffs.push(Difference { table: load.target.clone(), column, check, source: sv, target: tv });
            }
        }
        tables += 1;
        each(&load.target, src_exprs.len() + 1, diffs.len() - before);
    }
    Ok((tables, diffs))
}
