//! Checks one value's text form against what its Redshift column can hold, and applies the
//! user's policy when it cannot. Nothing here changes a value silently: a value is kept as is,
//! refused with a reason, or changed under an explicit policy and reported as changed.
//!
//! Redshift facts: VARCHAR/CHAR lengths count bytes (r_Character_types); DECIMAL(p,s) and COPY
//! truncating extra scale digits (r_Numeric_types201); DATE/TIMESTAMP range 4713 BC–294276 AD
//! with no era in COPY's date formats (r_Datetime_types); TIMETZ offsets up to 14:59; VARBYTE
//! loads hex from CSV (r_VARBYTE_type); SUPER objects up to 16 MB (r_SUPER_type).

use std::borrow::Cow;
use std::fmt;

use pg2redshift_bundle::{OnUnrepresentable, RedshiftType};

/// Largest SUPER value COPY loads, in bytes.
pub const SUPER_MAX_BYTES: usize = 16 * 1024 * 1024;
/// Last year Redshift's DATE and TIMESTAMP can hold.
pub const MAX_YEAR: u64 = 294_276;
/// Largest absolute TIMETZ offset in hours Redshift documents (up to 14:59).
pub const MAX_OFFSET_HOURS: u32 = 14;

/// What the export query yields instead of JSON for an array whose lower bounds are not all 1,
/// followed by its `array_dims`. No JSON text starts with a control character, so it cannot
/// be mistaken for a value.
pub const ARRAY_BOUNDS_MARKER: &str = "\u{1}array_dims:";

/// What to check for a column, derived from its Redshift type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueRule {
    /// Integers, booleans, times, spatial hex: PostgreSQL's text form always fits.
    Plain,
    /// CHAR / VARCHAR: at most this many bytes.
    Text { max_bytes: usize },
    /// VARBYTE, given as hex text: at most this many bytes once decoded.
    Hex { max_bytes: usize },
    /// SUPER from JSON text: insignificant whitespace removed, at most 16 MB.
    Json,
    /// SUPER from JSON printed without insignificant whitespace (jsonb read from its binary
    /// form): at most 16 MB.
    CompactJson,
    /// REAL / DOUBLE PRECISION: finite values only.
    Float,
    Decimal { precision: u8, scale: u8 },
    /// DATE, TIMESTAMP, TIMESTAMPTZ: AD, finite, year ≤ 294276.
    Datetime,
    TimeTz,
}

impl ValueRule {
    pub fn for_type(ty: RedshiftType) -> ValueRule {
        match ty {
            RedshiftType::Varchar { length } | RedshiftType::Char { length } => {
                ValueRule::Text { max_bytes: length as usize }
            }
            RedshiftType::Varbyte { length } => ValueRule::Hex { max_bytes: length as usize },
            RedshiftType::Super => ValueRule::Json,
            RedshiftType::Real | RedshiftType::DoublePrecision => ValueRule::Float,
            RedshiftType::Decimal { precision, scale } => ValueRule::Decimal { precision, scale },
            RedshiftType::Date | RedshiftType::Timestamp | RedshiftType::TimestampTz => ValueRule::Datetime,
            RedshiftType::TimeTz => ValueRule::TimeTz,
            _ => ValueRule::Plain,
        }
    }
}

/// Why a value cannot go to Redshift unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    TooLong { bytes: usize, max_bytes: usize },
    NotFinite { value: String },
    DoesNotFit { value: String, precision: u8, scale: u8 },
    OutOfRange { value: String },
    Offset { value: String },
    /// An empty bytea: COPY loads an empty field as NULL in every column that is not CHAR or
    /// VARCHAR, so an empty VARBYTE cannot be written in CSV.
    EmptyBinary,
    /// An array with lower bounds other than 1 (`[0:2]={…}`): a JSON array cannot keep them.
    ArrayBounds { dims: String },
}

/// The SQLSTATE class a problem belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemClass {
    /// 22001 string_data_right_truncation
    TooLong,
    /// 22003 numeric_value_out_of_range
    Numeric,
    /// 22008 datetime_field_overflow
    Datetime,
    /// 22000 data_exception: the value has no Redshift spelling at all.
    NoEquivalent,
}

impl Problem {
    pub fn class(&self) -> ProblemClass {
        match self {
            Problem::TooLong { .. } => ProblemClass::TooLong,
            Problem::NotFinite { .. } | Problem::DoesNotFit { .. } => ProblemClass::Numeric,
            Problem::OutOfRange { .. } | Problem::Offset { .. } => ProblemClass::Datetime,
            Problem::EmptyBinary | Problem::ArrayBounds { .. } => ProblemClass::NoEquivalent,
        }
    }
}

/// Values in messages are cut, so an error about a 1 MB text does not become 1 MB long.
fn excerpt(value: &str) -> String {
    const MAX: usize = 64;
    if value.len() <= MAX {
        return value.to_string();
    }
    format!("{}…", &value[..floor_char_boundary(value, MAX)])
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::TooLong { bytes, max_bytes } => {
                write!(f, "the value is {bytes} bytes long; the Redshift column holds at most {max_bytes} bytes")
            }
            Problem::NotFinite { value } => write!(f, "{value} cannot be stored in Redshift"),
            Problem::DoesNotFit { value, precision, scale } => write!(
                f,
                "{} does not fit DECIMAL({precision},{scale}) exactly (Redshift would round or truncate it)",
                excerpt(value)
            ),
            Problem::OutOfRange { value } => write!(
                f,
                "{value} is outside Redshift's date range (4713 BC to 294276 AD, and COPY cannot read BC dates)"
            ),
            Problem::Offset { value } => {
                write!(f, "{value} has a time zone offset Redshift's TIMETZ cannot hold (up to ±14:59, whole minutes)")
            }
            Problem::EmptyBinary => {
                write!(f, "an empty bytea has no Redshift equivalent: COPY loads an empty VARBYTE field as NULL")
            }
            Problem::ArrayBounds { dims } => write!(
                f,
                "the array's bounds are {dims}: a SUPER array starts at 0 and cannot keep lower bounds other than 1"
            ),
        }
    }
}

/// What becomes of one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<'a> {
    /// Exported unchanged (the text may be re-spelled, e.g. JSON without whitespace).
    Keep(Cow<'a, str>),
    /// Changed under the policy: `None` is NULL, `Some` a truncated value.
    Changed(Option<Cow<'a, str>>),
    Refused(Problem),
}

/// Checks a non-NULL value's text form against `rule` and applies `policy` if it does not fit.
pub fn check_value<'a>(rule: ValueRule, value: &'a str, policy: OnUnrepresentable, not_null: bool) -> Outcome<'a> {
    let problem = match inspect(rule, value) {
        Ok(text) => return Outcome::Keep(text),
        Err(problem) => problem,
    };
    match policy {
        OnUnrepresentable::Error => Outcome::Refused(problem),
        OnUnrepresentable::Null if not_null => Outcome::Refused(problem),
        OnUnrepresentable::Null => Outcome::Changed(None),
        OnUnrepresentable::Truncate => match (rule, &problem) {
            (ValueRule::Text { max_bytes }, Problem::TooLong { .. }) => {
                Outcome::Changed(Some(Cow::Borrowed(&value[..floor_char_boundary(value, max_bytes)])))
            }
            (ValueRule::Hex { max_bytes }, Problem::TooLong { .. }) => {
                Outcome::Changed(Some(Cow::Borrowed(&value[..max_bytes * 2])))
            }
            _ => Outcome::Refused(problem),
        },
    }
}

/// The largest index ≤ `max` that is a char boundary of `s`.
fn floor_char_boundary(s: &str, max: usize) -> usize {
    if max >= s.len() {
        return s.len();
    }
    let mut i = max;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn inspect(rule: ValueRule, value: &str) -> Result<Cow<'_, str>, Problem> {
    match rule {
        ValueRule::Plain => Ok(Cow::Borrowed(value)),
        ValueRule::Text { max_bytes } => {
            if value.len() > max_bytes {
                return Err(Problem::TooLong { bytes: value.len(), max_bytes });
            }
            Ok(Cow::Borrowed(value))
        }
        ValueRule::Hex { max_bytes } => {
            if value.is_empty() {
                return Err(Problem::EmptyBinary);
            }
            let bytes = value.len() / 2;
            if bytes > max_bytes {
                return Err(Problem::TooLong { bytes, max_bytes });
            }
            Ok(Cow::Borrowed(value))
        }
        ValueRule::Json => {
            if let Some(dims) = value.strip_prefix(ARRAY_BOUNDS_MARKER) {
                return Err(Problem::ArrayBounds { dims: dims.to_string() });
            }
            let compact = minify_json(value);
            if compact.len() > SUPER_MAX_BYTES {
                return Err(Problem::TooLong { bytes: compact.len(), max_bytes: SUPER_MAX_BYTES });
            }
            Ok(compact)
        }
        ValueRule::CompactJson => {
            if value.len() > SUPER_MAX_BYTES {
                return Err(Problem::TooLong { bytes: value.len(), max_bytes: SUPER_MAX_BYTES });
            }
            Ok(Cow::Borrowed(value))
        }
        ValueRule::Float => match value {
            "NaN" | "Infinity" | "-Infinity" => Err(Problem::NotFinite { value: value.to_string() }),
            _ => Ok(Cow::Borrowed(value)),
        },
        ValueRule::Decimal { precision, scale } => check_decimal(value, precision, scale),
        ValueRule::Datetime => check_datetime(value).map(|_| Cow::Borrowed(value)),
        ValueRule::TimeTz => check_timetz(value).map(|_| Cow::Borrowed(value)),
    }
}

/// PostgreSQL prints numerics as `-123.4500` (never with an exponent), or NaN / ±Infinity.
fn check_decimal(value: &str, precision: u8, scale: u8) -> Result<Cow<'_, str>, Problem> {
    let does_not_fit = || Problem::DoesNotFit { value: value.to_string(), precision, scale };
    if matches!(value, "NaN" | "Infinity" | "-Infinity") {
        return Err(Problem::NotFinite { value: value.to_string() });
    }
    let unsigned = value.strip_prefix('-').unwrap_or(value);
    let (int_part, frac_part) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    if int_part.is_empty() && frac_part.is_empty()
        || !int_part.bytes().chain(frac_part.bytes()).all(|b| b.is_ascii_digit())
    {
        return Err(does_not_fit());
    }
    let int_digits = int_part.trim_start_matches('0').len();
    let frac_digits = frac_part.trim_end_matches('0').len();
    if int_digits > usize::from(precision - scale) || frac_digits > usize::from(scale) {
        return Err(does_not_fit());
    }
    if frac_part.len() <= usize::from(scale) {
        return Ok(Cow::Borrowed(value));
    }
    // Only zeros lie beyond the scale: drop them, so COPY has nothing to truncate.
    let keep = value.len() - (frac_part.len() - usize::from(scale));
    let keep = if scale == 0 { keep - 1 } else { keep };
    Ok(Cow::Owned(value[..keep].to_string()))
}

/// `2024-01-31`, `2024-01-31 12:00:00.5`, `…+00`; refuses BC, ±infinity and years past 294276.
fn check_datetime(value: &str) -> Result<(), Problem> {
    let out_of_range = || Problem::OutOfRange { value: value.to_string() };
    if value.ends_with(" BC") || value.ends_with("infinity") {
        return Err(out_of_range());
    }
    let year = &value[..value.bytes().position(|b| b == b'-').unwrap_or(value.len())];
    match year.parse::<u64>() {
        Ok(year) if year <= MAX_YEAR => Ok(()),
        _ => Err(out_of_range()),
    }
}

/// `12:34:56.789+05:30`: the offset follows the last `+` or `-`.
fn check_timetz(value: &str) -> Result<(), Problem> {
    let offset_problem = || Problem::Offset { value: value.to_string() };
    let Some(at) = value.rfind(['+', '-']) else {
        return Err(offset_problem());
    };
    let mut parts = value[at + 1..].split(':');
    let hours: u32 = parts.next().and_then(|h| h.parse().ok()).ok_or_else(offset_problem)?;
    let _minutes = parts.next();
    if hours > MAX_OFFSET_HOURS || parts.next().is_some_and(|s| s != "00") {
        return Err(offset_problem());
    }
    Ok(())
}

/// Removes whitespace outside strings. Keys, their order and duplicates, and number spellings
/// stay exactly as PostgreSQL printed them. Works on bytes: every byte it looks at (whitespace,
/// `"`, `\\`) is ASCII, which never occurs inside a multi-byte UTF-8 character, and runs of kept
/// bytes are copied whole.
pub fn minify_json(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut out: Option<Vec<u8>> = None;
    let mut run_start = 0;
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b' ' | b'\t' | b'\n' | b'\r' => {
                    let kept = out.get_or_insert_with(|| Vec::with_capacity(bytes.len()));
                    kept.extend_from_slice(&bytes[run_start..i]);
                    run_start = i + 1;
                }
                _ => {}
            }
        }
        i += 1;
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut kept) => {
            kept.extend_from_slice(&bytes[run_start.min(bytes.len())..]);
            // Only ASCII bytes outside strings were left out, so the rest is still UTF-8 (were it
            // not, the text goes out as PostgreSQL printed it, which is the same JSON).
            String::from_utf8(kept).map(Cow::Owned).unwrap_or(Cow::Borrowed(text))
        }
    }
}

#[cfg(test)]
mod tests;
