//! PostgreSQL type → Redshift type. Every built-in type of PostgreSQL 15 is mapped on purpose
//! (the README's type table gives the reasons); a type this module does not know is exported as
//! its text form and flagged, never guessed at.
//!
//! Redshift facts used here: VARCHAR/CHAR lengths count bytes, CHAR is single-byte only,
//! VARCHAR ≤ 65535 bytes (r_Character_types); DECIMAL precision ≤ 38, scale ≤ 37, a bare DECIMAL
//! is DECIMAL(18,0) and COPY truncates extra digits (r_Numeric_types201,
//! copy-parameters-data-conversion); SUPER loads JSON text from CSV (copy_json); VARBYTE loads
//! hex from CSV (copy-usage-varbyte).

use pg2redshift_bundle::RedshiftType;
use pg2redshift_bundle::redshift::{
    DECIMAL_MAX_PRECISION, DECIMAL_MAX_SCALE, VARBYTE_EXPORT_BYTES, VARCHAR_MAX_BYTES,
};

use crate::source::{SourceType, TypeKind, bit_length, char_length, numeric_precision_scale};

/// Choices the user can make about mappings that have no single right answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingOptions {
    /// Scale of the DECIMAL(38, s) that unconstrained `numeric` becomes. Values needing more
    /// fractional or integer digits are refused at export, never rounded.
    pub numeric_scale: u8,
}

impl Default for MappingOptions {
    fn default() -> Self {
        MappingOptions { numeric_scale: 10 }
    }
}

/// The Redshift type of a column, with a note wherever the mapping is not one-to-one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeMapping {
    pub redshift: RedshiftType,
    pub note: Option<String>,
    /// False when the type is not one this module knows (exported as its text form).
    pub known: bool,
}

fn exact(redshift: RedshiftType) -> TypeMapping {
    TypeMapping { redshift, note: None, known: true }
}

fn noted(redshift: RedshiftType, note: impl Into<String>) -> TypeMapping {
    TypeMapping { redshift, note: Some(note.into()), known: true }
}

const fn varchar(length: u32) -> RedshiftType {
    RedshiftType::Varchar { length }
}

const TEXT_MAX: RedshiftType = varchar(VARCHAR_MAX_BYTES);
const LONG_TEXT_NOTE: &str = "Redshift VARCHAR holds at most 65535 bytes: longer values are refused at export";

const BITS_NOTE: &str = "bits as a string of 0 and 1";
const BITS_OVER_NOTE: &str = "bits as a string of 0 and 1; more than 65535 bits are refused at export";

/// `VARCHAR` wide enough for `chars` characters of up to 4 UTF-8 bytes each.
fn varchar_for_chars(chars: u32) -> RedshiftType {
    varchar(chars.saturating_mul(4).clamp(1, VARCHAR_MAX_BYTES))
}

pub fn map_type(ty: &SourceType, options: &MappingOptions) -> TypeMapping {
    match ty.kind {
        TypeKind::Array => {
            return noted(RedshiftType::Super, "array exported as a JSON array");
        }
        TypeKind::Composite => {
            return noted(RedshiftType::Super, "composite exported as a JSON object");
        }
        TypeKind::Range | TypeKind::Multirange => {
            return noted(
                RedshiftType::Super,
                "range exported as JSON: {\"lower\",\"upper\",\"lower_inc\",\"upper_inc\"} or {\"empty\":true} (a multirange as an array of those)",
            );
        }
        TypeKind::Enum { longest_label_bytes } => {
            return noted(
                varchar(longest_label_bytes.clamp(1, VARCHAR_MAX_BYTES)),
                "enum label as text, sized to the longest label in bytes (labels added later need a new export)",
            );
        }
        TypeKind::Base => {}
    }
    if !ty.is_builtin() {
        return map_extension_type(ty);
    }
    match ty.name.as_str() {
        "bool" => exact(RedshiftType::Boolean),
        "int2" => exact(RedshiftType::SmallInt),
        "int4" => exact(RedshiftType::Integer),
        "int8" => exact(RedshiftType::BigInt),
        "float4" => noted(RedshiftType::Real, "NaN and ±Infinity are refused at export"),
        "float8" => noted(RedshiftType::DoublePrecision, "NaN and ±Infinity are refused at export"),
        "numeric" => map_numeric(ty.typmod, options),
        "money" => noted(
            RedshiftType::Decimal { precision: 19, scale: 2 },
            "exported as its numeric value, without currency symbol (assumes lc_monetary with 2 decimals)",
        ),
        "varchar" => match char_length(ty.typmod) {
            Some(n) if n.saturating_mul(4) <= VARCHAR_MAX_BYTES => {
                noted(varchar_for_chars(n), "VARCHAR counts bytes: 4 bytes reserved per character")
            }
            Some(_) => noted(TEXT_MAX, LONG_TEXT_NOTE),
            None => noted(TEXT_MAX, LONG_TEXT_NOTE),
        },
        "bpchar" => match char_length(ty.typmod) {
            Some(n) if n.saturating_mul(4) <= VARCHAR_MAX_BYTES => noted(
                varchar_for_chars(n),
                "Redshift CHAR is single-byte only: VARCHAR with 4 bytes per character, padding spaces kept",
            ),
            _ => noted(TEXT_MAX, LONG_TEXT_NOTE),
        },
        "text" => noted(TEXT_MAX, LONG_TEXT_NOTE),
        // NAMEDATALEN - 1 bytes at most.
        "name" => exact(varchar(63)),
        "char" => noted(varchar(4), "single byte; bytes above 127 arrive as \\ooo octal text"),
        "bytea" => noted(
            RedshiftType::Varbyte { length: VARBYTE_EXPORT_BYTES },
            "exported as hex; values over 1,024,000 bytes are refused at export",
        ),
        "uuid" => exact(RedshiftType::Char { length: 36 }),
        "json" | "jsonb" => noted(
            RedshiftType::Super,
            "JSON text; SUPER strings hold at most 65535 bytes, objects at most 16 MB",
        ),
        "jsonpath" => noted(TEXT_MAX, "jsonpath as text"),
        "xml" => noted(TEXT_MAX, "XML as text; longer than 65535 bytes is refused at export"),
        "date" => noted(RedshiftType::Date, "BC dates and ±infinity are refused at export"),
        "time" => exact(RedshiftType::Time),
        "timetz" => noted(
            RedshiftType::TimeTz,
            "offsets outside Redshift's documented range (up to 14:59) are refused at export",
        ),
        "timestamp" => noted(RedshiftType::Timestamp, "BC values and ±infinity are refused at export"),
        "timestamptz" => noted(
            RedshiftType::TimestampTz,
            "exported in UTC; BC values and ±infinity are refused at export",
        ),
        "interval" => noted(
            varchar(64),
            "ISO 8601 text (P1Y2M3DT4H5M6S): Redshift intervals cannot hold months and days together",
        ),
        // Longest text forms: IPv4-mapped IPv6 with prefix, e.g. ffff:…:255.255.255.255/128.
        "inet" | "cidr" => noted(varchar(64), "address as text"),
        "macaddr" => exact(RedshiftType::Char { length: 17 }),
        "macaddr8" => exact(RedshiftType::Char { length: 23 }),
        "bit" => match bit_length(ty.typmod) {
            // bit(n) values are exactly n characters of 0/1: single-byte, so CHAR fits.
            Some(n) if (1..=4096).contains(&n) => noted(RedshiftType::Char { length: n }, BITS_NOTE),
            Some(n) if n <= VARCHAR_MAX_BYTES => noted(varchar(n.max(1)), BITS_NOTE),
            _ => noted(TEXT_MAX, BITS_OVER_NOTE),
        },
        "varbit" => match bit_length(ty.typmod) {
            Some(n) if n <= VARCHAR_MAX_BYTES => noted(varchar(n.max(1)), BITS_NOTE),
            _ => noted(TEXT_MAX, BITS_OVER_NOTE),
        },
        "tsvector" | "tsquery" => noted(TEXT_MAX, "text search value as its text form"),
        // Geometric types have no Redshift counterpart (GEOMETRY is PostGIS-like, not these).
        "point" => noted(varchar(64), "geometric value as its text form"),
        "line" | "circle" => noted(varchar(96), "geometric value as its text form"),
        "lseg" | "box" => noted(varchar(128), "geometric value as its text form"),
        "path" | "polygon" => noted(TEXT_MAX, "geometric value as its text form"),
        "oid" | "xid" | "cid" => noted(RedshiftType::BigInt, "unsigned 32-bit value"),
        "xid8" => noted(RedshiftType::Decimal { precision: 20, scale: 0 }, "unsigned 64-bit value"),
        "tid" => noted(varchar(24), "(block,offset) as text"),
        "regclass" | "regcollation" | "regconfig" | "regdictionary" | "regnamespace" | "regoper"
        | "regoperator" | "regproc" | "regprocedure" | "regrole" | "regtype" => {
            noted(TEXT_MAX, "object name as text, resolved at export")
        }
        "pg_lsn" => noted(varchar(17), "WAL position as text"),
        "pg_snapshot" | "txid_snapshot" => noted(TEXT_MAX, "snapshot as text"),
        "int2vector" | "oidvector" => noted(TEXT_MAX, "space-separated list as text"),
        "aclitem" => noted(varchar(2048), "privilege item as text"),
        "refcursor" => noted(TEXT_MAX, "cursor name as text"),
        "gtsvector" | "pg_node_tree" | "pg_ndistinct" | "pg_dependencies" | "pg_mcv_list"
        | "pg_brin_bloom_summary" | "pg_brin_minmax_multi_summary" => {
            noted(TEXT_MAX, "internal type as its text form")
        }
        _ => unknown(ty),
    }
}

fn map_numeric(typmod: i32, options: &MappingOptions) -> TypeMapping {
    let max_p = u32::from(DECIMAL_MAX_PRECISION);
    let max_s = i32::from(DECIMAL_MAX_SCALE);
    let Some((p, s)) = numeric_precision_scale(typmod) else {
        let scale = options.numeric_scale.min(DECIMAL_MAX_SCALE);
        return noted(
            RedshiftType::Decimal { precision: DECIMAL_MAX_PRECISION, scale },
            format!(
                "unconstrained numeric: DECIMAL(38,{scale}) (option numeric_scale); values needing more digits, and NaN, are refused at export"
            ),
        );
    };
    // Negative scale rounds to tens/hundreds…: whole numbers of up to p - s digits.
    // A scale above the precision (numeric(3,5)) means values below 10^(p-s): s digits suffice.
    let (precision, scale) = if s < 0 {
        (p + s.unsigned_abs(), 0)
    } else {
        (p.max(s as u32), s)
    };
    if precision <= max_p && scale <= max_s {
        let ty = RedshiftType::Decimal { precision: precision as u8, scale: scale as u8 };
        return if (precision, scale) == (p, s) {
            noted(ty, "NaN is refused at export")
        } else {
            noted(ty, format!("numeric({p},{s}) has no DECIMAL twin: widened to {ty}; NaN is refused at export"))
        };
    }
    let scale = scale.min(max_s) as u8;
    let ty = RedshiftType::Decimal { precision: DECIMAL_MAX_PRECISION, scale };
    noted(
        ty,
        format!("numeric({p},{s}) is wider than DECIMAL(38): values that do not fit {ty} exactly are refused at export"),
    )
}

/// Types from well-known extensions, recognised by name in whatever schema they live.
fn map_extension_type(ty: &SourceType) -> TypeMapping {
    match ty.name.as_str() {
        "citext" => noted(TEXT_MAX, "case-insensitive text as VARCHAR (Redshift compares case-sensitively)"),
        "hstore" => noted(RedshiftType::Super, "hstore exported as a JSON object"),
        "geometry" => noted(RedshiftType::Geometry, "PostGIS geometry as hex EWKB"),
        "geography" => noted(RedshiftType::Geography, "PostGIS geography as hex EWKB"),
        "ltree" | "lquery" => noted(TEXT_MAX, "label path as text"),
        _ => unknown(ty),
    }
}

fn unknown(ty: &SourceType) -> TypeMapping {
    TypeMapping {
        redshift: TEXT_MAX,
        note: Some(format!(
            "type {}.{} is not known to pg2redshift: exported as its text form",
            ty.schema, ty.name
        )),
        known: false,
    }
}

#[cfg(test)]
mod tests;
