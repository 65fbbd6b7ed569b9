//! Prints values from their binary form exactly as PostgreSQL's output functions print them
//! under the export's fixed settings (DateStyle ISO, YMD; TimeZone UTC; extra_float_digits 1),
//! so the backend does not cast each value to text and copy it. Byte for byte the same as
//! `value::text` (and, for jsonb, as its text with insignificant whitespace removed): the
//! end-to-end test `printed_values_equal_postgres_output` compares both over generated values.
//!
//! Sources of each format: `EncodeDateOnly`, `EncodeDateTime`, `EncodeTimeOnly`,
//! `AppendSeconds` and `EncodeTimezone` (src/backend/utils/adt/datetime.c); `get_str_from_var`
//! (numeric.c); `jsonb_out` (jsonb.c, `escape_json` in json.c) and the on-disk jsonb layout
//! (jsonb.h). Floats are not here: the extension calls PostgreSQL's own Ryu (src/common/d2s.c),
//! whose digits differ from the reference Ryu's where a value lies exactly on a rounding
//! boundary (PostgreSQL builds it without STRICTLY_SHORTEST: 1e23 prints as
//! 9.999999999999999e+22).

use std::fmt;

/// The stored bytes do not have the shape of their type (a damaged datum).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed {} value", self.0)
    }
}

impl std::error::Error for Malformed {}

const USECS_PER_SEC: i64 = 1_000_000;
const USECS_PER_DAY: i64 = 86_400 * USECS_PER_SEC;
/// Days from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const UNIX_TO_PG_EPOCH_DAYS: i64 = 10_957;

/// `0042`, `2024`, `294276`: at least `width` digits.
fn zero_padded(out: &mut Vec<u8>, value: u64, width: usize) {
    let mut digits = itoa::Buffer::new();
    let text = digits.format(value);
    out.extend(std::iter::repeat_n(b'0', width.saturating_sub(text.len())));
    out.extend_from_slice(text.as_bytes());
}

/// Proleptic Gregorian (year, month, day) of a day count from 1970-01-01; year 0 is 1 BC
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097) as u64;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe as i64 + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `YYYY-MM-DD`, returning whether the year is BC (the caller appends ` BC` where PostgreSQL
/// does, after everything else).
fn ymd(out: &mut Vec<u8>, pg_days: i64) -> bool {
    let (year, month, day) = civil_from_days(pg_days + UNIX_TO_PG_EPOCH_DAYS);
    let bc = year <= 0;
    zero_padded(out, if bc { (1 - year) as u64 } else { year as u64 }, 4);
    out.push(b'-');
    zero_padded(out, u64::from(month), 2);
    out.push(b'-');
    zero_padded(out, u64::from(day), 2);
    bc
}

/// `HH:MM:SS[.ffffff]` of microseconds into the day (up to 24:00:00), trailing zeros of the
/// fraction dropped.
fn hms(out: &mut Vec<u8>, us: i64) {
    let us = us.max(0) as u64;
    let secs = us / USECS_PER_SEC as u64;
    zero_padded(out, secs / 3600, 2);
    out.push(b':');
    zero_padded(out, secs / 60 % 60, 2);
    out.push(b':');
    zero_padded(out, secs % 60, 2);
    let mut fraction = us % USECS_PER_SEC as u64;
    if fraction != 0 {
        let mut width = 6;
        while fraction.is_multiple_of(10) {
            fraction /= 10;
            width -= 1;
        }
        out.push(b'.');
        zero_padded(out, fraction, width);
    }
}

/// `+05:30`, `-08`, `+00`: PostgreSQL keeps the zone as seconds west of UTC.
fn zone(out: &mut Vec<u8>, seconds_west: i32) {
    let total = seconds_west.unsigned_abs();
    let (hours, minutes, seconds) = (total / 3600, total / 60 % 60, total % 60);
    out.push(if seconds_west <= 0 { b'+' } else { b'-' });
    zero_padded(out, u64::from(hours), 2);
    if seconds != 0 || minutes != 0 {
        out.push(b':');
        zero_padded(out, u64::from(minutes), 2);
    }
    if seconds != 0 {
        out.push(b':');
        zero_padded(out, u64::from(seconds), 2);
    }
}

/// A `date` (days from 2000-01-01; the extremes of i32 are ∓infinity).
pub fn date(out: &mut Vec<u8>, days: i32) {
    match days {
        i32::MIN => out.extend_from_slice(b"-infinity"),
        i32::MAX => out.extend_from_slice(b"infinity"),
        _ => {
            if ymd(out, i64::from(days)) {
                out.extend_from_slice(b" BC");
            }
        }
    }
}

/// A `timestamp`, or with `utc_zone` a `timestamptz` shown in UTC (microseconds from
/// 2000-01-01 00:00 UTC; the extremes of i64 are ∓infinity).
pub fn timestamp(out: &mut Vec<u8>, us: i64, utc_zone: bool) {
    match us {
        i64::MIN => out.extend_from_slice(b"-infinity"),
        i64::MAX => out.extend_from_slice(b"infinity"),
        _ => {
            let bc = ymd(out, us.div_euclid(USECS_PER_DAY));
            out.push(b' ');
            hms(out, us.rem_euclid(USECS_PER_DAY));
            if utc_zone {
                out.extend_from_slice(b"+00");
            }
            if bc {
                out.extend_from_slice(b" BC");
            }
        }
    }
}

/// A `time` (microseconds from midnight).
pub fn time(out: &mut Vec<u8>, us: i64) {
    hms(out, us);
}

/// A `timetz`: time of day and the zone in seconds west of UTC.
pub fn timetz(out: &mut Vec<u8>, us: i64, seconds_west: i32) {
    hms(out, us);
    zone(out, seconds_west);
}

const NUMERIC_SIGN_MASK: u16 = 0xC000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_SHORT: u16 = 0x8000;
const NUMERIC_SPECIAL: u16 = 0xC000;
const NUMERIC_EXT_SIGN_MASK: u16 = 0xF000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;
const NUMERIC_SHORT_SIGN_MASK: u16 = 0x2000;
const NUMERIC_SHORT_DSCALE_MASK: u16 = 0x1F80;
const NUMERIC_SHORT_DSCALE_SHIFT: u16 = 7;
const NUMERIC_SHORT_WEIGHT_SIGN_MASK: u16 = 0x0040;
const NUMERIC_SHORT_WEIGHT_MASK: u16 = 0x003F;
const NUMERIC_DSCALE_MASK: u16 = 0x3FFF;

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    bytes.get(at..at + 2).map(|b| u16::from_ne_bytes([b[0], b[1]]))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    bytes.get(at..at + 4).map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

/// A `numeric` from the bytes after its varlena header: base-10000 digits, weight and display
/// scale, printed like `get_str_from_var` (never with an exponent).
pub fn numeric(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), Malformed> {
    const BAD: Malformed = Malformed("numeric");
    let header = u16_at(bytes, 0).ok_or(BAD)?;
    let (negative, weight, dscale, digits_at) = match header & NUMERIC_SIGN_MASK {
        NUMERIC_SPECIAL => {
            out.extend_from_slice(match header & NUMERIC_EXT_SIGN_MASK {
                NUMERIC_NAN => b"NaN".as_slice(),
                NUMERIC_PINF => b"Infinity",
                NUMERIC_NINF => b"-Infinity",
                _ => return Err(BAD),
            });
            return Ok(());
        }
        NUMERIC_SHORT => {
            let weight = if header & NUMERIC_SHORT_WEIGHT_SIGN_MASK != 0 {
                (header | !NUMERIC_SHORT_WEIGHT_MASK) as i16
            } else {
                (header & NUMERIC_SHORT_WEIGHT_MASK) as i16
            };
            let dscale = (header & NUMERIC_SHORT_DSCALE_MASK) >> NUMERIC_SHORT_DSCALE_SHIFT;
            (header & NUMERIC_SHORT_SIGN_MASK != 0, weight, dscale, 2)
        }
        sign => {
            let weight = u16_at(bytes, 2).ok_or(BAD)? as i16;
            (sign == NUMERIC_NEG, weight, header & NUMERIC_DSCALE_MASK, 4)
        }
    };
    let data = bytes.get(digits_at..).ok_or(BAD)?;
    if !data.len().is_multiple_of(2) {
        return Err(BAD);
    }
    let ndigits = (data.len() / 2) as i32;
    let digit = |d: i32| -> u16 {
        if (0..ndigits).contains(&d) { u16_at(data, d as usize * 2).unwrap_or(0) } else { 0 }
    };
    if negative {
        out.push(b'-');
    }
    let weight = i32::from(weight);
    let mut d = 0;
    if weight < 0 {
        d = weight + 1;
        out.push(b'0');
    } else {
        while d <= weight {
            let dig = digit(d);
            if dig > 9999 {
                return Err(BAD);
            }
            if d == 0 {
                let mut n = itoa::Buffer::new();
                out.extend_from_slice(n.format(dig).as_bytes());
            } else {
                zero_padded(out, u64::from(dig), 4);
            }
            d += 1;
        }
    }
    if dscale > 0 {
        out.push(b'.');
        let end = out.len() + usize::from(dscale);
        let mut written = 0;
        while written < usize::from(dscale) {
            let dig = digit(d);
            if dig > 9999 {
                return Err(BAD);
            }
            zero_padded(out, u64::from(dig), 4);
            d += 1;
            written += 4;
        }
        out.truncate(end);
    }
    Ok(())
}

/// A varlena stored inside jsonb (a numeric): its bytes after the 1- or 4-byte header.
fn varlena_data(bytes: &[u8]) -> Option<&[u8]> {
    let first = *bytes.first()?;
    if first & 0x01 == 0x01 {
        // 1-byte header (little-endian layout: length in the upper seven bits).
        let len = usize::from(first >> 1);
        bytes.get(1..len)
    } else {
        let len = (u32_at(bytes, 0)? >> 2) as usize & 0x3FFF_FFFF;
        bytes.get(4..len)
    }
}

const JB_CMASK: u32 = 0x0FFF_FFFF;
const JB_FSCALAR: u32 = 0x1000_0000;
const JB_FOBJECT: u32 = 0x2000_0000;
const JB_FARRAY: u32 = 0x4000_0000;
const JENTRY_OFFLENMASK: u32 = 0x0FFF_FFFF;
const JENTRY_TYPEMASK: u32 = 0x7000_0000;
const JENTRY_HAS_OFF: u32 = 0x8000_0000;
const JENTRY_ISSTRING: u32 = 0x0000_0000;
const JENTRY_ISNUMERIC: u32 = 0x1000_0000;
const JENTRY_ISBOOL_FALSE: u32 = 0x2000_0000;
const JENTRY_ISBOOL_TRUE: u32 = 0x3000_0000;
const JENTRY_ISNULL: u32 = 0x4000_0000;
const JENTRY_ISCONTAINER: u32 = 0x5000_0000;

const BAD_JSONB: Malformed = Malformed("jsonb");

/// One container (object or array) being printed.
#[derive(Debug, Clone, Copy)]
pub struct JsonbFrame {
    /// Where the container starts in the jsonb's bytes.
    at: usize,
    object: bool,
    count: usize,
    /// Next member to print.
    next: usize,
    /// Offsets (from the container's data start) of the next key and the next value; arrays
    /// use `value_offset` only.
    key_offset: usize,
    value_offset: usize,
}

/// Prints jsonb from its binary form (the bytes after the varlena header) as `jsonb_out`
/// prints it, without the blanks after `:` and `,` (what the export wrote before: `jsonb_out`'s
/// text with insignificant whitespace removed). Nesting costs no recursion: open containers
/// are kept in `stack`, scratch space reused between calls.
pub fn jsonb(out: &mut Vec<u8>, bytes: &[u8], stack: &mut Vec<JsonbFrame>) -> Result<(), Malformed> {
    stack.clear();
    let header = u32_at(bytes, 0).ok_or(BAD_JSONB)?;
    if header & JB_FSCALAR != 0 {
        let entry = u32_at(bytes, 4).ok_or(BAD_JSONB)?;
        return scalar_or_open(out, bytes, entry, 8, 8 + entry_end(entry, 0), stack);
    }
    open(out, bytes, 0, stack)?;
    while let Some(mut frame) = stack.last().copied() {
        if frame.next == frame.count {
            out.push(if frame.object { b'}' } else { b']' });
            stack.pop();
            continue;
        }
        if frame.next > 0 {
            out.push(b',');
        }
        let entries = if frame.object { 2 * frame.count } else { frame.count };
        let data = frame.at + 4 + 4 * entries;
        if frame.object {
            let entry = u32_at(bytes, frame.at + 4 + 4 * frame.next).ok_or(BAD_JSONB)?;
            let end = entry_end(entry, frame.key_offset);
            if entry & JENTRY_TYPEMASK != JENTRY_ISSTRING {
                return Err(BAD_JSONB);
            }
            string(out, bytes.get(data + frame.key_offset..data + end).ok_or(BAD_JSONB)?)?;
            out.push(b':');
            frame.key_offset = end;
        }
        let index = if frame.object { frame.count + frame.next } else { frame.next };
        let entry = u32_at(bytes, frame.at + 4 + 4 * index).ok_or(BAD_JSONB)?;
        let start = frame.value_offset;
        let end = entry_end(entry, start);
        frame.value_offset = end;
        frame.next += 1;
        if let Some(slot) = stack.last_mut() {
            *slot = frame;
        }
        scalar_or_open(out, bytes, entry, data + start, data + end, stack)?;
    }
    Ok(())
}

/// Where an entry's data ends, from where it starts (entries hold a length, or every 32nd an
/// end offset).
fn entry_end(entry: u32, start: usize) -> usize {
    let offlen = (entry & JENTRY_OFFLENMASK) as usize;
    if entry & JENTRY_HAS_OFF != 0 { offlen } else { start + offlen }
}

fn scalar_or_open(
    out: &mut Vec<u8>,
    bytes: &[u8],
    entry: u32,
    start: usize,
    end: usize,
    stack: &mut Vec<JsonbFrame>,
) -> Result<(), Malformed> {
    match entry & JENTRY_TYPEMASK {
        JENTRY_ISSTRING => string(out, bytes.get(start..end).ok_or(BAD_JSONB)?),
        JENTRY_ISNUMERIC => {
            let aligned = align4(start);
            let value = bytes.get(aligned..end).and_then(varlena_data).ok_or(BAD_JSONB)?;
            numeric(out, value).map_err(|_| BAD_JSONB)
        }
        JENTRY_ISBOOL_FALSE => {
            out.extend_from_slice(b"false");
            Ok(())
        }
        JENTRY_ISBOOL_TRUE => {
            out.extend_from_slice(b"true");
            Ok(())
        }
        JENTRY_ISNULL => {
            out.extend_from_slice(b"null");
            Ok(())
        }
        JENTRY_ISCONTAINER => open(out, bytes, align4(start), stack),
        _ => Err(BAD_JSONB),
    }
}

/// Positions in the jsonb's bytes are relative to the varlena data, which starts 4 bytes after
/// a 4-byte-aligned varlena header: aligned to 4 there, as PostgreSQL pads them.
fn align4(at: usize) -> usize {
    at.div_ceil(4) * 4
}

/// Writes a container's opening bracket and pushes its frame.
fn open(out: &mut Vec<u8>, bytes: &[u8], at: usize, stack: &mut Vec<JsonbFrame>) -> Result<(), Malformed> {
    let header = u32_at(bytes, at).ok_or(BAD_JSONB)?;
    let count = (header & JB_CMASK) as usize;
    let object = match (header & JB_FOBJECT != 0, header & JB_FARRAY != 0) {
        (true, false) => true,
        (false, true) => false,
        _ => return Err(BAD_JSONB),
    };
    out.push(if object { b'{' } else { b'[' });
    // An object's values start after its keys: the end of the last key.
    let mut value_offset = 0;
    if object {
        for i in 0..count {
            let entry = u32_at(bytes, at + 4 + 4 * i).ok_or(BAD_JSONB)?;
            value_offset = entry_end(entry, value_offset);
        }
    }
    stack.push(JsonbFrame { at, object, count, next: 0, key_offset: 0, value_offset });
    Ok(())
}

/// A JSON string as `escape_json` writes it.
fn string(out: &mut Vec<u8>, text: &[u8]) -> Result<(), Malformed> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let mut run = 0;
    for (i, &b) in text.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0 => return Err(BAD_JSONB),
            b if b < 0x20 => &[b'\\', b'u', b'0', b'0', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]],
            _ => continue,
        };
        out.extend_from_slice(&text[run..i]);
        out.extend_from_slice(escaped);
        run = i + 1;
    }
    out.extend_from_slice(&text[run..]);
    out.push(b'"');
    Ok(())
}

#[cfg(test)]
mod tests;
