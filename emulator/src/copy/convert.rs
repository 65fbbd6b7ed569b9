//! Redshift's rules for turning one input field into a column value, and the text PostgreSQL's
//! COPY reads for it. A rejected value becomes a load error with Redshift's error code
//! (https://docs.aws.amazon.com/redshift/latest/dg/r_Load_Error_Reference.html).

use super::datetime::{Format, parse_date, parse_time, parse_timestamp};
use super::records::Field;
use crate::sql::create_table::RsType;

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub ty: RsType,
    pub not_null: bool,
}

impl Column {
    /// The `type` / `col_length` columns of stl_load_errors.
    pub fn type_name(&self) -> (&'static str, String) {
        match self.ty {
            RsType::SmallInt => ("int2", "0".into()),
            RsType::Integer => ("int4", "0".into()),
            RsType::BigInt => ("int8", "0".into()),
            RsType::Decimal(p, s) => ("numeric", format!("{p},{s}")),
            RsType::Real => ("float4", "0".into()),
            RsType::Double => ("float8", "0".into()),
            RsType::Boolean => ("bool", "0".into()),
            RsType::Char(n) => ("char", n.to_string()),
            RsType::Varchar(n) => ("varchar", n.to_string()),
            RsType::Date => ("date", "0".into()),
            RsType::Timestamp => ("timestamp", "0".into()),
            RsType::Timestamptz => ("timestamptz", "0".into()),
            RsType::Time => ("time", "0".into()),
            RsType::Timetz => ("timetz", "0".into()),
            RsType::Super => ("super", "0".into()),
            RsType::Varbyte(n) => ("varbyte", n.to_string()),
        }
    }

    fn is_character(&self) -> bool {
        matches!(self.ty, RsType::Char(_) | RsType::Varchar(_))
    }
}

#[derive(Debug, Clone)]
pub struct Rules {
    pub null_as: Vec<u8>,
    pub empty_as_null: bool,
    pub blanks_as_null: bool,
    pub truncate_columns: bool,
    pub accept_inv_chars: Option<u8>,
    pub dateformat: Format,
    pub timeformat: Format,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub code: i32,
    pub reason: String,
    /// Position of the error in the field.
    pub position: i32,
}

fn reject(code: i32, reason: impl Into<String>) -> Reject {
    Reject { code, reason: reason.into(), position: 0 }
}

/// The value for PostgreSQL's text COPY, or None for NULL.
pub fn convert(col: &Column, field: &Field, rules: &Rules) -> Result<Option<String>, Reject> {
    let value = convert_value(col, field, rules)?;
    if value.is_none() && col.not_null {
        // 1213: "A field specified as NOT NULL contained no data."
        return Err(reject(1213, "Missing data for not-null field"));
    }
    Ok(value)
}

fn convert_value(col: &Column, field: &Field, rules: &Rules) -> Result<Option<String>, Reject> {
    // NULL AS: compared with the field as written ('\N' by default; '\0' is one NUL byte).
    // https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-conversion.html#copy-null-as
    if !field.quoted && (field.raw == rules.null_as || field.value == rules.null_as) {
        return Ok(None);
    }
    let bytes = &field.value;
    if bytes.contains(&0) {
        // 1218: "When using NULL AS '\0', a field containing a null terminator (NUL, or UTF-8
        // 0000) contained more than one byte." PostgreSQL cannot store NUL either way.
        // Without NULL AS '\0' no NULL AS rule is involved, and the message does not name one.
        let why = if rules.null_as == b"\0" {
            "When using NULL AS '\\0', a field containing a null terminator (NUL, or UTF-8 0000) contained more than one byte"
        } else {
            "Field contains a null terminator (NUL, or UTF-8 0000), which no column type can hold"
        };
        return Err(reject(1218, why));
    }
    let text: String = match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => match (rules.accept_inv_chars, &col.ty) {
            // ACCEPTINVCHARS "replaces each invalid UTF-8 character with a string of equal
            // length consisting of the character specified"; "valid only for VARCHAR columns".
            (Some(rep), RsType::Varchar(_)) => replace_invalid(bytes, rep),
            _ => {
                let bad = first_invalid(bytes);
                return Err(reject(
                    1220,
                    format!("String contains invalid or unsupported UTF8 codepoints. Bad UTF-8 hex sequence: {bad}"),
                ));
            }
        },
    };

    // "EMPTYASNULL … load empty CHAR and VARCHAR fields as NULL. Empty fields for other data
    // types, such as INT, are always loaded with NULL." BLANKSASNULL likewise for fields of
    // white space only. https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-conversion.html
    let blank = text.chars().all(|c| c == ' ' || c == '\t');
    if col.is_character() {
        if text.is_empty() && rules.empty_as_null {
            return Ok(None);
        }
        if !text.is_empty() && blank && rules.blanks_as_null {
            return Ok(None);
        }
    } else if text.is_empty() || blank {
        return Ok(None);
    }

    let v = match col.ty {
        RsType::Varchar(n) => {
            // Lengths are in bytes. https://docs.aws.amazon.com/redshift/latest/dg/r_Character_types.html
            if text.len() > n as usize {
                if !rules.truncate_columns {
                    return Err(reject(1204, "String length exceeds DDL length"));
                }
                truncate_bytes(&text, n as usize).to_string()
            } else {
                text
            }
        }
        RsType::Char(n) => {
            // "A CHAR column can only contain single-byte characters"; load error 1220
            // (https://docs.aws.amazon.com/redshift/latest/dg/multi-byte-character-load-errors.html).
            if let Some(c) = text.chars().find(|c| !c.is_ascii()) {
                let mut buf = [0u8; 4];
                let hex: Vec<String> = c.encode_utf8(&mut buf).bytes().map(|b| format!("{b:02x}")).collect();
                return Err(reject(
                    1220,
                    format!("Multibyte character not supported for CHAR (Hint: Try using VARCHAR). Invalid char: {}", hex.join(" ")),
                ));
            }
            // Longer strings are an error "unless the extra characters are all spaces".
            let trimmed = if text.len() > n as usize && text[n as usize..].bytes().all(|b| b == b' ') {
                text[..n as usize].to_string()
            } else {
                text
            };
            if trimmed.len() > n as usize {
                if !rules.truncate_columns {
                    return Err(reject(1204, "Char length exceeds DDL length"));
                }
                trimmed[..n as usize].to_string()
            } else {
                trimmed
            }
        }
        RsType::SmallInt => integer(&text, i16::MIN as i128, i16::MAX as i128, "Short")?,
        RsType::Integer => integer(&text, i32::MIN as i128, i32::MAX as i128, "Integer")?,
        RsType::BigInt => integer(&text, i64::MIN as i128, i64::MAX as i128, "Long")?,
        RsType::Decimal(p, s) => decimal(&text, p, s)?,
        RsType::Real | RsType::Double => float(&text, col.ty == RsType::Real)?,
        RsType::Boolean => boolean(&text)?,
        RsType::Date => match parse_date(text.as_bytes(), &rules.dateformat) {
            Some(d) => d.date_text(),
            // 1205: "Date format is not valid. See DATEFORMAT and TIMEFORMAT strings for valid
            // formats." https://docs.aws.amazon.com/redshift/latest/dg/r_Load_Error_Reference.html
            None if text.chars().count() < 10 => {
                return Err(reject(1205, format!("Invalid Date Format - length must be 10 or more: '{text}'")));
            }
            None => {
                return Err(reject(
                    1205,
                    format!("Date format is not valid. See DATEFORMAT and TIMEFORMAT strings for valid formats: '{text}'"),
                ));
            }
        },
        RsType::Timestamp | RsType::Timestamptz => {
            match parse_timestamp(text.as_bytes(), &rules.timeformat, col.ty == RsType::Timestamptz) {
                Some(t) => t.timestamp_text(),
                None => return Err(reject(1206, format!("Invalid timestamp format or value: '{text}'"))),
            }
        }
        RsType::Time | RsType::Timetz => match parse_time(text.as_bytes(), col.ty == RsType::Timetz) {
            Some(t) => t.time_text(),
            None => return Err(reject(1206, format!("Invalid time format or value: '{text}'"))),
        },
        RsType::Super => {
            // "Valid JSON formatting is required for SUPER columns"; 1224: "Input data not well
            // formed JSON format for super data type."
            // https://docs.aws.amazon.com/redshift/latest/dg/ingest-super.html
            if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&text) {
                return Err(reject(1224, format!("Invalid JSON for SUPER: {e}")));
            }
            text
        }
        RsType::Varbyte(n) => {
            // "For CSV, the data is loaded from a file in hexadecimal representation."
            // https://docs.aws.amazon.com/redshift/latest/dg/copy-usage-varbyte.html
            if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(reject(1219, "Invalid hexadecimal representation for VARBYTE"));
            }
            if text.len() / 2 > n as usize {
                return Err(reject(1204, "Varbyte length exceeds DDL length"));
            }
            format!("\\x{}", text.to_ascii_lowercase())
        }
    };
    Ok(Some(v))
}

fn truncate_bytes(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn first_invalid(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(_) => String::new(),
        Err(e) => {
            let start = e.valid_up_to();
            let len = e.error_len().unwrap_or(bytes.len() - start);
            bytes[start..start + len].iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
        }
    }
}

fn replace_invalid(mut bytes: &[u8], rep: u8) -> String {
    let mut out = String::new();
    loop {
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                out.push_str(s);
                return out;
            }
            Err(e) => {
                let good = e.valid_up_to();
                out.push_str(std::str::from_utf8(&bytes[..good]).unwrap_or_default());
                let bad = e.error_len().unwrap_or(bytes.len() - good);
                for _ in 0..bad {
                    out.push(rep as char);
                }
                bytes = &bytes[good + bad..];
            }
        }
    }
}

/// 1207: "Data contained a value outside of the expected range of 0-9."
fn integer(text: &str, min: i128, max: i128, type_name: &str) -> Result<String, Reject> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if let Some(pos) = digits.bytes().position(|b| !b.is_ascii_digit()) {
        let pos = pos + (text.len() - digits.len());
        return Err(Reject {
            code: 1207,
            reason: format!("Invalid digit, Value '{}', Pos {pos}, Type: {type_name}", &text[pos..pos + 1]),
            position: pos as i32,
        });
    }
    if digits.is_empty() {
        return Err(reject(1207, format!("Invalid digit, Value '{text}', Pos 0, Type: {type_name}")));
    }
    match text.parse::<i128>() {
        Ok(v) if v >= min && v <= max => Ok(v.to_string()),
        // 1222: "Integer value overflow error."
        _ => Err(reject(1222, format!("Overflow, Value '{text}', Type: {type_name}"))),
    }
}

/// DECIMAL(p,s): "By default, COPY truncates values when necessary to fit the scale of the
/// column" (ROUNDEC rounds instead; not offered here); "If the number of digits to the left of
/// the decimal point in an input value exceeds the precision of the column minus its scale,
/// the value cannot be copied into the column".
/// https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-conversion.html#copy-roundec
/// https://docs.aws.amazon.com/redshift/latest/dg/r_Numeric_types201.html
fn decimal(text: &str, p: u8, s: u8) -> Result<String, Reject> {
    let (sign, body) = match text.as_bytes().first() {
        Some(b'-') => ("-", &text[1..]),
        Some(b'+') => ("", &text[1..]),
        _ => ("", text),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let bad = int.bytes().chain(frac.bytes()).position(|b| !b.is_ascii_digit());
    if let Some(pos) = bad.or(if int.is_empty() && frac.is_empty() { Some(0) } else { None }) {
        return Err(Reject {
            code: 1207,
            reason: format!("Invalid digit, Value '{text}', Pos {pos}, Type: Decimal"),
            position: pos as i32,
        });
    }
    let int = int.trim_start_matches('0');
    if int.len() > (p - s) as usize {
        return Err(reject(1204, format!("Numeric data overflow: '{text}' does not fit DECIMAL({p},{s})")));
    }
    let frac: String = frac.chars().take(s as usize).collect();
    let int = if int.is_empty() { "0" } else { int };
    Ok(if frac.is_empty() { format!("{sign}{int}") } else { format!("{sign}{int}.{frac}") })
}

/// REAL / DOUBLE PRECISION in decimal or exponent notation; NaN and infinities are not values
/// Redshift loads (1208: "FLOAT data type format error").
fn float(text: &str, real: bool) -> Result<String, Reject> {
    let ok_chars = text.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
    let parsed = if ok_chars { text.parse::<f64>().ok() } else { None };
    match parsed {
        Some(v) if v.is_finite() && (!real || (v as f32).is_finite()) => Ok(text.to_string()),
        Some(_) => Err(reject(1204, format!("Overflow, Value '{text}', Type: {}", if real { "Real" } else { "Double" }))),
        None => Err(reject(1208, format!("Invalid float value '{text}'"))),
    }
}

/// https://docs.aws.amazon.com/redshift/latest/dg/r_Boolean_type.html: true is TRUE 't' 'true'
/// 'y' 'yes' '1'; false is FALSE 'f' 'false' 'n' 'no' '0'.
fn boolean(text: &str) -> Result<String, Reject> {
    match text.to_ascii_lowercase().as_str() {
        "t" | "true" | "y" | "yes" | "1" => Ok("t".into()),
        "f" | "false" | "n" | "no" | "0" => Ok("f".into()),
        _ => Err(reject(1210, format!("Unknown boolean format: '{text}'"))),
    }
}

/// Appends a value in PostgreSQL's text COPY format.
pub fn push_copy_text(out: &mut Vec<u8>, value: Option<&str>) {
    let Some(v) = value else {
        out.extend_from_slice(b"\\N");
        return;
    };
    for b in v.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules {
            null_as: vec![0],
            empty_as_null: false,
            blanks_as_null: false,
            truncate_columns: false,
            accept_inv_chars: None,
            dateformat: Format::Default,
            timeformat: Format::Default,
        }
    }

    fn col(ty: RsType) -> Column {
        Column { name: "c".into(), ty, not_null: false }
    }

    fn field(v: &[u8]) -> Field {
        Field { value: v.to_vec(), raw: v.to_vec(), quoted: false }
    }

    fn quoted(v: &[u8]) -> Field {
        Field { value: v.to_vec(), raw: v.to_vec(), quoted: true }
    }

    #[test]
    fn null_and_empty() {
        let r = rules();
        assert_eq!(convert(&col(RsType::Varchar(5)), &field(b"\0"), &r), Ok(None));
        assert_eq!(convert(&col(RsType::Varchar(5)), &field(b""), &r), Ok(Some(String::new())));
        assert_eq!(convert(&col(RsType::Varchar(5)), &quoted(b""), &r), Ok(Some(String::new())));
        assert_eq!(convert(&col(RsType::Integer), &field(b""), &r), Ok(None));
        assert_eq!(convert(&col(RsType::Varchar(5)), &field(b"\\N"), &r), Ok(Some("\\N".into())));
        assert_eq!(convert(&col(RsType::Varchar(5)), &field(b"a\0b"), &r).unwrap_err().code, 1218);
        let mut r2 = rules();
        r2.empty_as_null = true;
        assert_eq!(convert(&col(RsType::Varchar(5)), &field(b""), &r2), Ok(None));
        let nn = Column { name: "c".into(), ty: RsType::Integer, not_null: true };
        assert_eq!(convert(&nn, &field(b""), &r).unwrap_err().code, 1213);
    }

    #[test]
    fn lengths_are_bytes() {
        let r = rules();
        let c = col(RsType::Varchar(4));
        assert!(convert(&c, &field("éé".as_bytes()), &r).is_ok());
        let e = convert(&c, &field("ééé".as_bytes()), &r).unwrap_err();
        assert_eq!((e.code, e.reason.as_str()), (1204, "String length exceeds DDL length"));
        let mut t = rules();
        t.truncate_columns = true;
        assert_eq!(convert(&c, &field("ééé".as_bytes()), &t), Ok(Some("éé".into())));
        let e = convert(&col(RsType::Char(4)), &field("é".as_bytes()), &r).unwrap_err();
        assert_eq!(e.code, 1220);
        assert!(e.reason.contains("c3 a9"), "{}", e.reason);
        assert_eq!(convert(&col(RsType::Char(2)), &field(b"ab   "), &r), Ok(Some("ab".into())));
    }

    #[test]
    fn invalid_utf8() {
        let r = rules();
        let e = convert(&col(RsType::Varchar(9)), &field(b"a\xa4b"), &r).unwrap_err();
        assert_eq!(e.code, 1220);
        let mut a = rules();
        a.accept_inv_chars = Some(b'^');
        assert_eq!(convert(&col(RsType::Varchar(9)), &field(b"a\xa4b"), &a), Ok(Some("a^b".into())));
    }

    #[test]
    fn numbers_and_booleans() {
        let r = rules();
        assert_eq!(convert(&col(RsType::Integer), &field(b"-42"), &r), Ok(Some("-42".into())));
        assert_eq!(convert(&col(RsType::Integer), &field(b"4x"), &r).unwrap_err().reason, "Invalid digit, Value 'x', Pos 1, Type: Integer");
        assert_eq!(convert(&col(RsType::SmallInt), &field(b"40000"), &r).unwrap_err().code, 1222);
        assert_eq!(convert(&col(RsType::Decimal(8, 2)), &field(b"20.259"), &r), Ok(Some("20.25".into())));
        assert_eq!(convert(&col(RsType::Decimal(4, 2)), &field(b"123.4"), &r).unwrap_err().code, 1204);
        assert_eq!(convert(&col(RsType::Double), &field(b"NaN"), &r).unwrap_err().code, 1208);
        assert_eq!(convert(&col(RsType::Real), &field(b"1e39"), &r).unwrap_err().code, 1204);
        assert_eq!(convert(&col(RsType::Boolean), &field(b"Yes"), &r), Ok(Some("t".into())));
        assert_eq!(convert(&col(RsType::Boolean), &field(b"maybe"), &r).unwrap_err().code, 1210);
        assert_eq!(convert(&col(RsType::Super), &field(b"{\"a\":1}"), &r), Ok(Some("{\"a\":1}".into())));
        assert_eq!(convert(&col(RsType::Super), &field(b"{a:1}"), &r).unwrap_err().code, 1224);
        assert_eq!(convert(&col(RsType::Varbyte(2)), &field(b"0aFF"), &r), Ok(Some("\\x0aff".into())));
        assert_eq!(convert(&col(RsType::Varbyte(1)), &field(b"0aFF"), &r).unwrap_err().code, 1204);
    }

    #[test]
    fn copy_text_escaping() {
        let mut out = Vec::new();
        push_copy_text(&mut out, Some("a\\b\nc\td\re"));
        out.push(b'\t');
        push_copy_text(&mut out, None);
        assert_eq!(out, b"a\\\\b\\nc\\td\\re\t\\N");
    }
}
