//! DATEFORMAT / TIMEFORMAT for COPY.
//! https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-conversion.html:
//! "If no DATEFORMAT is specified, the default format is 'YYYY-MM-DD'"; the default TIMEFORMAT
//! is "YYYY-MM-DD HH:MI:SS for TIMESTAMP columns or YYYY-MM-DD HH:MI:SSOF for TIMESTAMPTZ
//! columns"; 'auto', 'epochsecs' and 'epochmillisecs' are case-sensitive keywords.
//! https://docs.aws.amazon.com/redshift/latest/dg/r_DATEFORMAT_and_TIMEFORMAT_strings.html
//! https://docs.aws.amazon.com/redshift/latest/dg/automatic-recognition.html
//! Ranges (https://docs.aws.amazon.com/redshift/latest/dg/r_Datetime_types.html): DATE and
//! TIMESTAMP "4713 BC to 294276 AD", 1 microsecond resolution; this emulator does not read BC
//! input and says so with a load error.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    Default,
    Auto,
    EpochSecs,
    EpochMillis,
    Pattern(Vec<Piece>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Year4,
    Year2,
    Month,
    MonthName,
    Day,
    Hour24,
    Hour12,
    Minute,
    Second,
    AmPm,
    Offset,
    Literal(u8),
}

impl Format {
    pub fn parse(spec: Option<&str>) -> Result<Format, String> {
        let Some(spec) = spec else { return Ok(Format::Default) };
        match spec {
            "auto" => return Ok(Format::Auto),
            "epochsecs" => return Ok(Format::EpochSecs),
            "epochmillisecs" => return Ok(Format::EpochMillis),
            _ => {}
        }
        let upper = spec.to_ascii_uppercase();
        let s = upper.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        let tokens: &[(&str, Piece)] = &[
            ("YYYY", Piece::Year4),
            ("YY", Piece::Year2),
            ("MONTH", Piece::MonthName),
            ("MON", Piece::MonthName),
            ("MM", Piece::Month),
            ("DD", Piece::Day),
            ("HH24", Piece::Hour24),
            ("HH12", Piece::Hour12),
            ("HH", Piece::Hour24),
            ("MI", Piece::Minute),
            ("SS", Piece::Second),
            ("AM", Piece::AmPm),
            ("PM", Piece::AmPm),
            ("OF", Piece::Offset),
        ];
        'outer: while i < s.len() {
            for (t, p) in tokens {
                if upper[i..].starts_with(t) {
                    out.push(p.clone());
                    i += t.len();
                    continue 'outer;
                }
            }
            if s[i].is_ascii_alphabetic() {
                return Err(format!("invalid date/time format string '{spec}'"));
            }
            out.push(Piece::Literal(s[i]));
            i += 1;
        }
        Ok(Format::Pattern(out))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DateTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub micros: u32,
    /// Seconds east of UTC, when the input had an offset.
    pub offset: Option<i32>,
}

const MONTHS: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

struct Scan<'a> {
    s: &'a [u8],
    i: usize,
}

impl Scan<'_> {
    fn digits(&mut self, min: usize, max: usize) -> Option<i64> {
        let start = self.i;
        while self.i < self.s.len() && self.i - start < max && self.s[self.i].is_ascii_digit() {
            self.i += 1;
        }
        if self.i - start < min {
            return None;
        }
        std::str::from_utf8(&self.s[start..self.i]).ok()?.parse().ok()
    }

    fn byte(&mut self, b: u8) -> bool {
        if self.s.get(self.i) == Some(&b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn rest(&self) -> &[u8] {
        &self.s[self.i..]
    }

    /// `.ffffff` after seconds: up to 6 digits kept (microsecond resolution), more digits read
    /// and dropped.
    fn fraction(&mut self) -> Option<u32> {
        if !self.byte(b'.') {
            return Some(0);
        }
        let start = self.i;
        while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
            self.i += 1;
        }
        let digits = &self.s[start..self.i];
        if digits.is_empty() {
            return None;
        }
        let mut v: u32 = 0;
        for k in 0..6 {
            v = v * 10 + digits.get(k).map(|d| (d - b'0') as u32).unwrap_or(0);
        }
        Some(v)
    }

    /// `Z`, `+HH`, `+HHMM`, `+HH:MM`.
    fn offset(&mut self) -> Option<i32> {
        if self.byte(b'Z') || self.byte(b'z') {
            return Some(0);
        }
        let sign = if self.byte(b'+') {
            1
        } else if self.byte(b'-') {
            -1
        } else {
            return None;
        };
        let h = self.digits(2, 2)?;
        self.byte(b':');
        let m = self.digits(0, 2).unwrap_or(0);
        if h > 15 || m > 59 {
            return None;
        }
        Some(sign * (h as i32 * 3600 + m as i32 * 60))
    }
}

fn apply(pattern: &[Piece], s: &[u8], dt: &mut DateTime) -> Option<usize> {
    let mut sc = Scan { s, i: 0 };
    let mut pm: Option<bool> = None;
    let mut hour12 = false;
    for p in pattern {
        match p {
            Piece::Year4 => dt.year = sc.digits(4, 6)?,
            Piece::Year2 => {
                let y = sc.digits(2, 2)?;
                dt.year = if y < 70 { 2000 + y } else { 1900 + y };
            }
            Piece::Month => dt.month = sc.digits(1, 2)? as u32,
            Piece::MonthName => {
                let r = sc.rest();
                let idx = MONTHS.iter().position(|m| r.len() >= 3 && r[..3].eq_ignore_ascii_case(m.as_bytes()))?;
                dt.month = idx as u32 + 1;
                sc.i += 3;
            }
            Piece::Day => dt.day = sc.digits(1, 2)? as u32,
            Piece::Hour24 => dt.hour = sc.digits(1, 2)? as u32,
            Piece::Hour12 => {
                dt.hour = sc.digits(1, 2)? as u32;
                hour12 = true;
            }
            Piece::Minute => dt.minute = sc.digits(1, 2)? as u32,
            Piece::Second => {
                dt.second = sc.digits(1, 2)? as u32;
                dt.micros = sc.fraction()?;
            }
            Piece::AmPm => {
                let r = sc.rest();
                if r.len() >= 2 && r[..2].eq_ignore_ascii_case(b"AM") {
                    pm = Some(false);
                } else if r.len() >= 2 && r[..2].eq_ignore_ascii_case(b"PM") {
                    pm = Some(true);
                } else {
                    return None;
                }
                sc.i += 2;
            }
            Piece::Offset => dt.offset = Some(sc.offset()?),
            Piece::Literal(b) => {
                if !sc.byte(*b) {
                    return None;
                }
            }
        }
    }
    if hour12 || pm.is_some() {
        if dt.hour == 0 || dt.hour > 12 {
            return None;
        }
        dt.hour %= 12;
        if pm == Some(true) {
            dt.hour += 12;
        }
    }
    Some(sc.i)
}

use Piece::*;

fn iso_date() -> Vec<Piece> {
    vec![Year4, Literal(b'-'), Month, Literal(b'-'), Day]
}

fn iso_time() -> Vec<Piece> {
    vec![Hour24, Literal(b':'), Minute, Literal(b':'), Second]
}

/// What may follow a matched pattern: nothing, or (`tail_offset`) a time zone offset.
fn finish(s: &[u8], used: usize, dt: &mut DateTime, tail: Tail) -> bool {
    let rest = &s[used..];
    if rest.is_empty() {
        return true;
    }
    match tail {
        Tail::Nothing => false,
        Tail::IgnoreTime => rest[0] == b' ' || rest[0] == b'T',
        Tail::Offset => {
            let mut sc = Scan { s: rest, i: 0 };
            sc.byte(b' ');
            match sc.offset() {
                Some(o) if sc.i == rest.len() => {
                    dt.offset = Some(o);
                    true
                }
                _ => false,
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Tail {
    Nothing,
    IgnoreTime,
    Offset,
}

fn valid(dt: &DateTime) -> bool {
    (1..=294_276).contains(&dt.year)
        && (1..=12).contains(&dt.month)
        && dt.day >= 1
        && dt.day <= days_in_month(dt.year, dt.month)
        && dt.hour < 24
        && dt.minute < 60
        && dt.second < 60
}

fn auto_patterns(with_time: bool) -> Vec<Vec<Piece>> {
    let mut dates = vec![
        iso_date(),
        vec![Year4, Literal(b'/'), Month, Literal(b'/'), Day],
        vec![Month, Literal(b'/'), Day, Literal(b'/'), Year4],
        vec![Month, Literal(b'.'), Day, Literal(b'.'), Year4],
        vec![Day, Literal(b'-'), MonthName, Literal(b'-'), Year4],
        vec![MonthName, Literal(b'-'), Day, Literal(b'-'), Year4],
        vec![Day, Literal(b' '), MonthName, Literal(b' '), Year4],
        vec![MonthName, Literal(b' '), Day, Literal(b','), Literal(b' '), Year4],
    ];
    if !with_time {
        return dates;
    }
    let mut out = Vec::new();
    for d in &dates {
        for sep in [b' ', b'T'] {
            let mut p = d.clone();
            p.push(Literal(sep));
            p.extend(iso_time());
            out.push(p);
        }
    }
    out.push(vec![Year4, Month, Day, Literal(b' '), Hour24, Minute, Second]);
    out.append(&mut dates);
    out
}

/// Parses a DATE field.
pub fn parse_date(s: &[u8], format: &Format) -> Option<DateTime> {
    let mut dt = DateTime::default();
    let ok = match format {
        Format::Default => apply(&iso_date(), s, &mut dt).is_some_and(|n| finish(s, n, &mut dt, Tail::IgnoreTime)),
        Format::Pattern(p) => apply(p, s, &mut dt).is_some_and(|n| finish(s, n, &mut dt, Tail::IgnoreTime)),
        Format::Auto => auto_patterns(false).iter().any(|p| {
            dt = DateTime::default();
            apply(p, s, &mut dt).is_some_and(|n| finish(s, n, &mut dt, Tail::IgnoreTime))
        }),
        Format::EpochSecs | Format::EpochMillis => false,
    };
    (ok && valid(&dt)).then_some(dt)
}

/// Parses a TIMESTAMP / TIMESTAMPTZ field. For TIMESTAMP "time zone values in input strings
/// are ignored"; for TIMESTAMPTZ an offset converts to UTC and its absence means UTC.
pub fn parse_timestamp(s: &[u8], format: &Format, with_tz: bool) -> Option<DateTime> {
    let mut dt = DateTime::default();
    let ok = match format {
        Format::Default => {
            let mut p = iso_date();
            p.push(Literal(b' '));
            p.extend(iso_time());
            apply(&p, s, &mut dt).is_some_and(|n| finish(s, n, &mut dt, Tail::Offset))
        }
        Format::Pattern(p) => apply(p, s, &mut dt).is_some_and(|n| finish(s, n, &mut dt, Tail::Offset)),
        Format::Auto => auto_patterns(true).iter().any(|p| {
            dt = DateTime::default();
            apply(p, s, &mut dt).is_some_and(|n| finish(s, n, &mut dt, Tail::Offset))
        }),
        Format::EpochSecs | Format::EpochMillis => {
            let text = std::str::from_utf8(s).ok()?;
            let v: i64 = text.parse().ok()?;
            let (secs, micros) = if *format == Format::EpochSecs {
                (v, 0)
            } else {
                (v.div_euclid(1000), (v.rem_euclid(1000) * 1000) as u32)
            };
            dt = from_unix(secs, micros)?;
            true
        }
    };
    if !ok || !valid(&dt) {
        return None;
    }
    if !with_tz {
        dt.offset = None;
    }
    Some(dt)
}

fn from_unix(secs: i64, micros: u32) -> Option<DateTime> {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    Some(DateTime {
        year,
        month,
        day,
        hour: (rem / 3600) as u32,
        minute: (rem % 3600 / 60) as u32,
        second: (rem % 60) as u32,
        micros,
        offset: Some(0),
    })
}

/// TIME / TIMETZ: `HH:MI:SS[.ffffff][offset]`; TIME runs "00:00:00 to 24:00:00", TIMETZ offsets
/// up to 14:59.
pub fn parse_time(s: &[u8], with_tz: bool) -> Option<DateTime> {
    let mut dt = DateTime::default();
    let n = apply(&iso_time(), s, &mut dt)?;
    if !finish(s, n, &mut dt, if with_tz { Tail::Offset } else { Tail::Nothing }) {
        return None;
    }
    let end_of_day = dt.hour == 24 && dt.minute == 0 && dt.second == 0 && dt.micros == 0;
    if !(end_of_day || (dt.hour < 24 && dt.minute < 60 && dt.second < 60)) {
        return None;
    }
    if dt.offset.is_some_and(|o| o.abs() > 14 * 3600 + 59 * 60) {
        return None;
    }
    Some(dt)
}

fn offset_text(o: i32) -> String {
    let sign = if o < 0 { '-' } else { '+' };
    let o = o.abs();
    format!("{sign}{:02}:{:02}", o / 3600, o % 3600 / 60)
}

impl DateTime {
    pub fn date_text(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    pub fn time_text(&self) -> String {
        let mut s = format!("{:02}:{:02}:{:02}", self.hour, self.minute, self.second);
        if self.micros > 0 {
            s.push_str(&format!(".{:06}", self.micros));
        }
        if let Some(o) = self.offset {
            s.push_str(&offset_text(o));
        }
        s
    }

    pub fn timestamp_text(&self) -> String {
        format!("{} {}", self.date_text(), self.time_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let f = Format::Default;
        assert_eq!(parse_date(b"2024-02-29", &f).unwrap().date_text(), "2024-02-29");
        assert!(parse_date(b"2023-02-29", &f).is_none());
        assert!(parse_date(b"02/03/2024", &f).is_none());
        assert!(parse_date(b"0000-01-01", &f).is_none());
        let t = parse_timestamp(b"2024-01-02 03:04:05.123456", &f, false).unwrap();
        assert_eq!(t.timestamp_text(), "2024-01-02 03:04:05.123456");
        let t = parse_timestamp(b"2024-01-02 03:04:05+02", &f, true).unwrap();
        assert_eq!(t.timestamp_text(), "2024-01-02 03:04:05+02:00");
        // TIMESTAMP ignores an offset.
        let t = parse_timestamp(b"2024-01-02 03:04:05-08:00", &f, false).unwrap();
        assert_eq!(t.timestamp_text(), "2024-01-02 03:04:05");
        assert!(parse_timestamp(b"2024-01-02T03:04:05", &f, false).is_none());
        assert!(parse_timestamp(b"2024-01-02 25:04:05", &f, false).is_none());
    }

    #[test]
    fn auto_and_patterns() {
        let a = Format::Auto;
        assert_eq!(parse_timestamp(b"2019-02-11T05:09:12.195Z", &a, true).unwrap().timestamp_text(), "2019-02-11 05:09:12.195000+00:00");
        assert_eq!(parse_date(b"12/17/1997", &a).unwrap().date_text(), "1997-12-17");
        assert_eq!(parse_timestamp(b"1997-12-17", &a, false).unwrap().timestamp_text(), "1997-12-17 00:00:00");
        let p = Format::parse(Some("MM/DD/YYYY HH12:MI:SS AM")).unwrap();
        assert_eq!(parse_timestamp(b"03/04/2020 01:02:03 PM", &p, false).unwrap().timestamp_text(), "2020-03-04 13:02:03");
        let e = Format::parse(Some("epochsecs")).unwrap();
        assert_eq!(parse_timestamp(b"86400", &e, false).unwrap().timestamp_text(), "1970-01-02 00:00:00");
        assert!(Format::parse(Some("YYYY-QQ")).is_err());
    }

    #[test]
    fn times() {
        assert_eq!(parse_time(b"24:00:00", false).unwrap().time_text(), "24:00:00");
        assert_eq!(parse_time(b"10:00:00.5+14:59", true).unwrap().time_text(), "10:00:00.500000+14:59");
        assert!(parse_time(b"10:00:00+15:00", true).is_none());
        assert!(parse_time(b"10:00:00+01", false).is_none());
    }
}
