use super::*;

fn printed(f: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut out = Vec::new();
    f(&mut out);
    String::from_utf8(out).expect("ASCII")
}

#[test]
fn dates_and_timestamps_as_iso_with_bc_after_everything() {
    assert_eq!(printed(|o| date(o, 0)), "2000-01-01");
    assert_eq!(printed(|o| date(o, 59)), "2000-02-29");
    assert_eq!(printed(|o| date(o, -1)), "1999-12-31");
    assert_eq!(printed(|o| date(o, i32::MIN)), "-infinity");
    assert_eq!(printed(|o| date(o, i32::MAX)), "infinity");
    // 0001-01-01 is 730,119 days before 2000-01-01; the day before it is 1 BC.
    assert_eq!(printed(|o| date(o, -730_119)), "0001-01-01");
    assert_eq!(printed(|o| date(o, -730_120)), "0001-12-31 BC");
    assert_eq!(printed(|o| timestamp(o, 0, false)), "2000-01-01 00:00:00");
    assert_eq!(printed(|o| timestamp(o, 1, true)), "2000-01-01 00:00:00.000001+00");
    assert_eq!(printed(|o| timestamp(o, -1, false)), "1999-12-31 23:59:59.999999");
    assert_eq!(printed(|o| timestamp(o, 500_000, false)), "2000-01-01 00:00:00.5");
    assert_eq!(printed(|o| timestamp(o, -730_120 * USECS_PER_DAY, true)), "0001-12-31 00:00:00+00 BC");
    assert_eq!(printed(|o| timestamp(o, i64::MIN, true)), "-infinity");
}

#[test]
fn times_up_to_midnight_and_zones_west_of_utc() {
    assert_eq!(printed(|o| time(o, 0)), "00:00:00");
    assert_eq!(printed(|o| time(o, USECS_PER_DAY)), "24:00:00");
    assert_eq!(printed(|o| time(o, 3_723_000_450)), "01:02:03.00045");
    assert_eq!(printed(|o| timetz(o, 0, -19_800)), "00:00:00+05:30");
    assert_eq!(printed(|o| timetz(o, 0, 28_800)), "00:00:00-08");
    assert_eq!(printed(|o| timetz(o, 0, 0)), "00:00:00+00");
    assert_eq!(printed(|o| timetz(o, 0, 3_661)), "00:00:00-01:01:01");
}

/// Numeric bytes after the varlena header: short or long header, then base-10000 digits.
fn numeric_bytes(header: u16, weight: Option<i16>, digits: &[u16]) -> Vec<u8> {
    let mut b = header.to_ne_bytes().to_vec();
    if let Some(w) = weight {
        b.extend_from_slice(&w.to_ne_bytes());
    }
    for d in digits {
        b.extend_from_slice(&d.to_ne_bytes());
    }
    b
}

#[test]
fn numerics_from_their_digits() {
    let n = |bytes: Vec<u8>| {
        let mut out = Vec::new();
        numeric(&mut out, &bytes).map(|()| String::from_utf8(out).expect("ASCII"))
    };
    // 12.34: short, dscale 2, weight 0.
    assert_eq!(n(numeric_bytes(0x8000 | (2 << 7), None, &[12, 3400])), Ok("12.34".into()));
    // -0.001: short, negative, weight -1 (0x7F in the 7-bit field), dscale 3.
    assert_eq!(n(numeric_bytes(0x8000 | 0x2000 | (3 << 7) | 0x7F, None, &[10])), Ok("-0.001".into()));
    // 100000000 with scale 0: weight 2, digits 1, 0, 0 (trailing zero digits are not stored).
    assert_eq!(n(numeric_bytes(0x8000 | 2, None, &[1])), Ok("100000000".into()));
    // Long form: scale 6, weight 1: 12345678.900000.
    assert_eq!(n(numeric_bytes(6, Some(1), &[1234, 5678, 9000])), Ok("12345678.900000".into()));
    assert_eq!(n(numeric_bytes(0xC000, None, &[])), Ok("NaN".into()));
    assert_eq!(n(numeric_bytes(0xF000, None, &[])), Ok("-Infinity".into()));
    assert_eq!(n(numeric_bytes(0x8000, None, &[10_000])), Err(Malformed("numeric")));
    assert_eq!(n(vec![1]), Err(Malformed("numeric")));
}

#[test]
fn jsonb_from_its_containers() {
    // {"a": 1, "b": [true, null, "x\n"]} as PostgreSQL lays it out: keys then values, the first
    // entry of each container with its end offset, numerics and containers 4-byte aligned.
    let mut b: Vec<u8> = Vec::new();
    let u32s = |b: &mut Vec<u8>, v: &[u32]| v.iter().for_each(|x| b.extend_from_slice(&x.to_ne_bytes()));
    u32s(&mut b, &[JB_FOBJECT | 2, JENTRY_HAS_OFF | 1, 1, JENTRY_ISNUMERIC | 10, JENTRY_ISCONTAINER | 18]);
    b.extend_from_slice(b"ab\0\0");
    u32s(&mut b, &[8 << 2]);
    b.extend_from_slice(&numeric_bytes(0x8000, None, &[1]));
    u32s(&mut b, &[JB_FARRAY | 3, JENTRY_HAS_OFF | JENTRY_ISBOOL_TRUE, JENTRY_ISNULL, 2]);
    b.extend_from_slice(b"x\n");
    let mut out = Vec::new();
    let mut stack = Vec::new();
    jsonb(&mut out, &b, &mut stack).expect("valid jsonb");
    assert_eq!(String::from_utf8(out).expect("UTF-8"), r#"{"a":1,"b":[true,null,"x\n"]}"#);

    // A top-level scalar: a one-element array flagged scalar, printed bare.
    let mut s: Vec<u8> = Vec::new();
    u32s(&mut s, &[JB_FSCALAR | JB_FARRAY | 1, JENTRY_HAS_OFF | 3]);
    s.extend_from_slice(b"\x01\"\\");
    let mut out = Vec::new();
    jsonb(&mut out, &s, &mut stack).expect("valid scalar");
    assert_eq!(String::from_utf8(out).expect("UTF-8"), r#""\u0001\"\\""#);

    // Cut short: an error, not a panic.
    for len in 0..b.len() {
        let mut out = Vec::new();
        assert!(jsonb(&mut out, &b[..len], &mut stack).is_err(), "{len} bytes");
    }
}
