use super::*;
use OnUnrepresentable::{Error, Null, Truncate};

fn keep(rule: ValueRule, value: &str) -> String {
    match check_value(rule, value, Error, false) {
        Outcome::Keep(v) => v.into_owned(),
        other => panic!("{value:?} under {rule:?}: {other:?}"),
    }
}

fn refused(rule: ValueRule, value: &str) -> Problem {
    match check_value(rule, value, Error, false) {
        Outcome::Refused(p) => p,
        other => panic!("{value:?} under {rule:?} was not refused: {other:?}"),
    }
}

#[test]
fn text_lengths_count_bytes() {
    let rule = ValueRule::Text { max_bytes: 4 };
    assert_eq!(keep(rule, "abcd"), "abcd");
    assert_eq!(keep(rule, "😀"), "😀");
    assert_eq!(refused(rule, "é😀"), Problem::TooLong { bytes: 6, max_bytes: 4 });
    assert_eq!(refused(rule, "é😀").class(), ProblemClass::TooLong);
}

#[test]
fn truncate_cuts_at_a_character_boundary() {
    let rule = ValueRule::Text { max_bytes: 4 };
    assert_eq!(check_value(rule, "aé😀", Truncate, true), Outcome::Changed(Some(Cow::Borrowed("aé"))));
    let hex = ValueRule::Hex { max_bytes: 2 };
    assert_eq!(check_value(hex, "0a0b0c", Truncate, false), Outcome::Changed(Some(Cow::Borrowed("0a0b"))));
    assert_eq!(check_value(hex, "0a0b", Truncate, false), Outcome::Keep(Cow::Borrowed("0a0b")));
    // Truncation only applies to lengths.
    assert!(matches!(check_value(ValueRule::Float, "NaN", Truncate, false), Outcome::Refused(_)));
}

#[test]
fn null_policy_respects_not_null() {
    let rule = ValueRule::Float;
    assert_eq!(check_value(rule, "Infinity", Null, false), Outcome::Changed(None));
    assert!(matches!(check_value(rule, "Infinity", Null, true), Outcome::Refused(Problem::NotFinite { .. })));
}

#[test]
fn floats_must_be_finite() {
    assert_eq!(keep(ValueRule::Float, "1.5e+300"), "1.5e+300");
    for v in ["NaN", "Infinity", "-Infinity"] {
        assert_eq!(refused(ValueRule::Float, v).class(), ProblemClass::Numeric);
    }
}

#[test]
fn decimals_must_fit_exactly() {
    let rule = ValueRule::Decimal { precision: 5, scale: 2 };
    assert_eq!(keep(rule, "-123.45"), "-123.45");
    assert_eq!(keep(rule, "0.1"), "0.1");
    assert_eq!(keep(rule, "00123.4500000"), "00123.45");
    assert!(matches!(refused(rule, "1234.5"), Problem::DoesNotFit { .. }));
    assert!(matches!(refused(rule, "1.234"), Problem::DoesNotFit { .. }));
    assert!(matches!(refused(rule, "NaN"), Problem::NotFinite { .. }));
    assert!(matches!(refused(rule, "-Infinity"), Problem::NotFinite { .. }));
    let whole = ValueRule::Decimal { precision: 3, scale: 0 };
    assert_eq!(keep(whole, "120.000"), "120");
    assert_eq!(keep(whole, "-7"), "-7");
    let wide = ValueRule::Decimal { precision: 38, scale: 10 };
    assert_eq!(keep(wide, "1234567890123456789012345678.0123456789"), "1234567890123456789012345678.0123456789");
    assert!(matches!(refused(wide, "12345678901234567890123456789"), Problem::DoesNotFit { .. }));
    assert!(matches!(refused(wide, "0.00000000001"), Problem::DoesNotFit { .. }));
}

#[test]
fn datetimes_must_be_ad_and_finite() {
    let rule = ValueRule::Datetime;
    assert_eq!(keep(rule, "2024-02-29"), "2024-02-29");
    assert_eq!(keep(rule, "0001-01-01 00:00:00"), "0001-01-01 00:00:00");
    assert_eq!(keep(rule, "294276-12-31"), "294276-12-31");
    assert_eq!(keep(rule, "2024-02-29 12:00:00.123456+00"), "2024-02-29 12:00:00.123456+00");
    for v in ["0044-03-15 BC", "infinity", "-infinity", "294277-01-01", "5874897-12-31"] {
        assert_eq!(refused(rule, v).class(), ProblemClass::Datetime, "{v}");
    }
}

#[test]
fn timetz_offsets_within_14_59() {
    let rule = ValueRule::TimeTz;
    assert_eq!(keep(rule, "12:00:00+14:59"), "12:00:00+14:59");
    assert_eq!(keep(rule, "12:00:00.5-03"), "12:00:00.5-03");
    assert!(matches!(refused(rule, "12:00:00+15"), Problem::Offset { .. }));
    assert!(matches!(refused(rule, "12:00:00-15:59"), Problem::Offset { .. }));
    assert!(matches!(refused(rule, "12:00:00+05:30:15"), Problem::Offset { .. }));
}

#[test]
fn json_loses_only_whitespace() {
    assert_eq!(minify_json(r#"{"a": [1, 2], "b c": " x\" y "}"#), r#"{"a":[1,2],"b c":" x\" y "}"#);
    assert_eq!(minify_json("{\"a\":1,\"a\":2}"), "{\"a\":1,\"a\":2}");
    assert_eq!(minify_json("[\"\\\\\", \"\\\\\" ]"), "[\"\\\\\",\"\\\\\"]");
    assert!(matches!(minify_json("[1,2]"), Cow::Borrowed(_)));
    assert_eq!(minify_json("{\"ключ\": [\"€ \\\" ü\", \t\"😀\"]}\n"), "{\"ключ\":[\"€ \\\" ü\",\"😀\"]}");
    assert_eq!(minify_json(" 1 "), "1");
    assert_eq!(keep(ValueRule::Json, "{\"k\" :\n 1.50}"), "{\"k\":1.50}");
}

#[test]
fn rules_follow_the_redshift_type() {
    assert_eq!(ValueRule::for_type(RedshiftType::Varchar { length: 10 }), ValueRule::Text { max_bytes: 10 });
    assert_eq!(ValueRule::for_type(RedshiftType::TimestampTz), ValueRule::Datetime);
    assert_eq!(ValueRule::for_type(RedshiftType::Integer), ValueRule::Plain);
}

#[test]
fn an_empty_bytea_has_no_redshift_spelling() {
    let rule = ValueRule::Hex { max_bytes: 10 };
    assert_eq!(refused(rule, "").class(), ProblemClass::NoEquivalent);
    assert!(matches!(check_value(rule, "", OnUnrepresentable::Null, false), Outcome::Changed(None)));
}

#[test]
fn arrays_with_other_lower_bounds_have_no_super_spelling() {
    let marked = format!("{ARRAY_BOUNDS_MARKER}[0:2]");
    let problem = refused(ValueRule::Json, &marked);
    assert_eq!(problem, Problem::ArrayBounds { dims: "[0:2]".into() });
    assert_eq!(problem.class(), ProblemClass::NoEquivalent);
    assert!(problem.to_string().contains("[0:2]"));
    assert_eq!(keep(ValueRule::Json, "[1, 2]"), "[1,2]");
}
