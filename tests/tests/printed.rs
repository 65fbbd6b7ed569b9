//! Dates, times, floats, numerics and jsonb are printed from their binary form in the backend
//! (pg2redshift_core::print) instead of through a cast to text. Every printed value must be
//! byte for byte what the export printed before: PostgreSQL's own output under the export's
//! settings (DateStyle ISO, YMD; TimeZone UTC; extra_float_digits 1), and for jsonb that text
//! with insignificant whitespace removed. Compared here over seeded random values of each type
//! (random float bit patterns, dates across the whole range Redshift holds, deep and escaped
//! JSON with numbers of up to 1000 decimals) and their edge cases.

use std::collections::HashMap;

use e2e::corpus::{Rng, decimal};
use e2e::redshift_csv::Field;
use e2e::{S3, describe, export, export_database, expect_sqlstate, unique_prefix};

const ROWS: usize = 60_000;

/// One generated row: what the test inserts (binary floats, text for the rest).
struct Row {
    f4: f32,
    f8: f64,
    d: String,
    ts: String,
    tstz: String,
    t: String,
    ttz: String,
    n: String,
    n37: String,
    jb: String,
}

fn two(r: &mut Rng, below: u64) -> String {
    format!("{:02}", r.below(below))
}

fn date(r: &mut Rng) -> String {
    // Leap days and year ends are over-represented; years up to 294276, Redshift's last.
    let year = match r.below(4) {
        0 => r.between(1, 294_276),
        1 => *r.pick(&[1, 4, 100, 400, 1582, 1900, 1999, 2000, 2024, 9999, 10_000, 294_276]),
        _ => r.between(1900, 2100),
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let (month, day) = match r.below(6) {
        0 if leap => (2, 29),
        1 => (12, 31),
        2 => (1, 1),
        _ => {
            let month = r.between(1, 12);
            let days = match month {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            (month, r.between(1, days))
        }
    };
    format!("{year:04}-{month:02}-{day:02}")
}

fn time(r: &mut Rng) -> String {
    match r.below(20) {
        0 => "24:00:00".into(),
        1 => "23:59:59.999999".into(),
        2 => "00:00:00".into(),
        _ => {
            let fraction = match r.below(4) {
                0 => String::new(),
                1 => format!(".{}", r.below(10)),
                _ => format!(".{:06}", r.below(1_000_000)),
            };
            format!("{}:{}:{}{fraction}", two(r, 24), two(r, 60), two(r, 60))
        }
    }
}

/// Offsets Redshift's TIMETZ holds: whole minutes, up to ±14:59.
fn offset(r: &mut Rng) -> String {
    let sign = if r.chance(50) { '+' } else { '-' };
    match r.below(3) {
        0 => format!("{sign}{}", two(r, 15)),
        _ => format!("{sign}{}:{}", two(r, 15), two(r, 60)),
    }
}

fn float8(r: &mut Rng) -> f64 {
    const EDGES: &[f64] = &[
        0.0, -0.0, 1.0, -1.0, 0.1, 1e15, 1e14, 999_999_999_999_999.0, 123_456_789_012_345.6, 1e-4, 1e-5, 0.000_123,
        f64::MAX, f64::MIN, f64::MIN_POSITIVE, 5e-324, -5e-324, 9_007_199_254_740_993.0, 4_503_599_627_370_497.0, 1e100,
        1e-100, 1e22, 1e23, 2.5, 0.3,
    ];
    loop {
        let v = match r.below(4) {
            0 => *r.pick(EDGES),
            1 => (r.between(-1_000_000_000, 1_000_000_000) as f64) / 10f64.powi(r.between(0, 9) as i32),
            _ => f64::from_bits(r.next_u64()),
        };
        if v.is_finite() {
            return v;
        }
    }
}

fn float4(r: &mut Rng) -> f32 {
    const EDGES: &[f32] = &[
        0.0, -0.0, 1.0, 0.1, 1e6, 999_999.0, 123_456.7, 1e-4, 1e-5, 16_777_216.0, 16_777_215.0, f32::MAX, f32::MIN_POSITIVE,
        1e-45, 3.4e38, 100.0,
    ];
    loop {
        let v = match r.below(4) {
            0 => *r.pick(EDGES),
            1 => (r.between(-10_000_000, 10_000_000) as f32) / 10f32.powi(r.between(0, 7) as i32),
            _ => f32::from_bits(r.next_u64() as u32),
        };
        if v.is_finite() {
            return v;
        }
    }
}

/// A JSON string with what escape_json handles: quotes, backslashes, control characters, and
/// non-ASCII (which jsonb keeps as UTF-8, also when written as \u escapes).
fn json_string(r: &mut Rng) -> String {
    const POOL: &[&str] = &[
        "a", "Z", "0", " ", "\\\"", "\\\\", "\\n", "\\r", "\\t", "\\b", "\\f", "\\u0001", "\\u001f", "\\u00e9", "\\u20ac",
        "\\ud83d\\ude00", "é", "中", "😀", "/", "\\/", ",", ":", "{", "]",
    ];
    let n = r.below(12);
    format!("\"{}\"", (0..n).map(|_| *r.pick(POOL)).collect::<String>())
}

fn json_number(r: &mut Rng) -> String {
    // JSON numbers have no leading zeros.
    let json_decimal = |r: &mut Rng, int_digits, frac_digits| {
        let d = decimal(r, int_digits, frac_digits);
        let (sign, rest) = d.split_at(usize::from(d.starts_with('-')));
        let trimmed = rest.trim_start_matches('0');
        let rest = if trimmed.is_empty() || trimmed.starts_with('.') { format!("0{trimmed}") } else { trimmed.to_string() };
        format!("{sign}{rest}")
    };
    match r.below(6) {
        0 => json_decimal(r, 3, 1000),
        1 => format!("{}e{}", json_decimal(r, 2, 5), r.between(-400, 400)),
        2 => (*r.pick(&["0", "-0", "0.0", "-0.000", "1e0", "1E+2", "123.4500", "1e-7"])).to_string(),
        _ => json_decimal(r, 12, 6),
    }
}

/// Random JSON, nested up to `depth`, written with blanks jsonb does not keep.
fn json(r: &mut Rng, depth: u32) -> String {
    let leaf = depth == 0 || r.chance(35);
    if leaf {
        return match r.below(5) {
            0 => json_string(r),
            1 => json_number(r),
            2 => "true".into(),
            3 => "false".into(),
            _ => "null".into(),
        };
    }
    let most = if r.chance(5) { 40 } else { 5 };
    let n = r.below(most);
    if r.chance(50) {
        let members: Vec<String> = (0..n).map(|_| format!("{} : {}", json_string(r), json(r, depth - 1))).collect();
        format!("{{ {} }}", members.join(" ,\n "))
    } else {
        let items: Vec<String> = (0..n).map(|_| json(r, depth - 1)).collect();
        format!("[{}]", items.join(", "))
    }
}

fn generate(r: &mut Rng) -> Row {
    let ts = format!("{} {}", date(r), if r.chance(5) { "00:00:00".to_string() } else { time(r).replace("24:00:00", "23:59:59") });
    // In UTC the value must stay within years 1 to 294276: offsets that would leave it do not.
    let zone = match &ts[..ts.find('-').unwrap_or(0)] {
        "0001" => format!("-{}", two(r, 15)),
        "294276" => format!("+{}", two(r, 15)),
        _ => offset(r),
    };
    let jb = match r.below(50) {
        0 => format!("{}{}", "[".repeat(150), "]".repeat(150)),
        1 => format!("{}1{}", "{\"k\": [".repeat(60), "]}".repeat(60)),
        _ => json(r, 6),
    };
    Row {
        f4: float4(r),
        f8: float8(r),
        d: date(r),
        tstz: format!("{ts}{zone}"),
        ts,
        t: time(r),
        ttz: format!("{}{}", time(r), offset(r)),
        n: decimal(r, 28, 10),
        n37: decimal(r, 1, 37),
        jb,
    }
}

#[test]
fn printed_values_equal_postgres_output() {
    let mut db = export_database("e2e_printed");
    db.batch_execute(
        "CREATE TABLE p (id int PRIMARY KEY, f4 real, f8 double precision, d date, ts timestamp, tstz timestamptz,
             t time, ttz timetz, n numeric(38,10), n37 numeric(38,37), jb jsonb)",
    )
    .unwrap();
    let mut r = Rng::new(0x5eed_0022);
    let rows: Vec<Row> = (0..ROWS).map(|_| generate(&mut r)).collect();
    let insert = "INSERT INTO p SELECT * FROM unnest($1::int[], $2::real[], $3::float8[], $4::text[]::date[], $5::text[]::timestamp[],
        $6::text[]::timestamptz[], $7::text[]::time[], $8::text[]::timetz[], $9::text[]::numeric[], $10::text[]::numeric[], $11::text[]::jsonb[])";
    for (chunk_no, chunk) in rows.chunks(5_000).enumerate() {
        let ids: Vec<i32> = (0..chunk.len()).map(|i| (chunk_no * 5_000 + i) as i32).collect();
        let col = |f: &dyn Fn(&Row) -> String| chunk.iter().map(f).collect::<Vec<String>>();
        let f4: Vec<f32> = chunk.iter().map(|x| x.f4).collect();
        let f8: Vec<f64> = chunk.iter().map(|x| x.f8).collect();
        let (d, ts, tstz) = (col(&|x| x.d.clone()), col(&|x| x.ts.clone()), col(&|x| x.tstz.clone()));
        let (t, ttz, n) = (col(&|x| x.t.clone()), col(&|x| x.ttz.clone()), col(&|x| x.n.clone()));
        let (n37, jb) = (col(&|x| x.n37.clone()), col(&|x| x.jb.clone()));
        db.execute(insert, &[&ids, &f4, &f8, &d, &ts, &tstz, &t, &ttz, &n, &n37, &jb])
            .unwrap_or_else(|e| panic!("insert: {}", describe(&e)));
    }
    // NULLs in every column, and a row of the extremes of each type Redshift holds.
    db.batch_execute(
        "INSERT INTO p (id) VALUES (-1);
         INSERT INTO p VALUES (-2, '-0', '-0', '294276-12-31', '294276-12-31 23:59:59.999999', '0001-01-01 00:00:00+00',
             '24:00:00', '24:00:00-14:59', '-9999999999999999999999999999.9999999999', '9.9999999999999999999999999999999999999',
             '[1e400, -1e-400, 0.1e-5, {\"\": \"\\u00e9\\u0007\"}]');",
    )
    .unwrap_or_else(|e| panic!("{}", describe(&e)));

    let prefix = unique_prefix("printed");
    let out = export(&mut db, &format!("redshift_export('p', prefix => '{prefix}', numeric_scale => 10)"));
    assert_eq!(out[0].rows as usize, ROWS + 2);
    let s3 = S3::stack();
    let exported = s3.rows(&s3.bundle(&out[0].bundle_url));

    // What the export printed before: each type's output function under the same settings.
    db.batch_execute("SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'; SET extra_float_digits = 1").unwrap();
    let columns = ["f4", "f8", "d", "ts", "tstz", "t", "ttz", "n", "n37", "jb"];
    let select = format!("SELECT id, {} FROM p", columns.map(|c| format!("{c}::text")).join(", "));
    let mut expected: HashMap<i32, Vec<Option<String>>> = HashMap::new();
    for row in db.query(&select, &[]).unwrap() {
        let mut values: Vec<Option<String>> = (1..=columns.len()).map(|i| row.get(i)).collect();
        if let Some(jb) = values[columns.len() - 1].as_mut() {
            *jb = pg2redshift_core::values::minify_json(jb).into_owned();
        }
        expected.insert(row.get(0), values);
    }

    let mut differences = Vec::new();
    let mut compared = 0;
    for fields in &exported {
        let Field::Text(id) = &fields[0] else { panic!("id is never NULL") };
        let id: i32 = id.parse().expect("an integer id");
        let want = &expected[&id];
        for (i, column) in columns.iter().enumerate() {
            let got = match &fields[i + 1] {
                Field::Null => None,
                Field::Empty => Some(String::new()),
                Field::Text(t) => Some(t.clone()),
            };
            compared += 1;
            if got != want[i] {
                differences.push(format!("id {id}, {column}: exported {got:?}, PostgreSQL prints {:?}", want[i]));
            }
        }
    }
    assert_eq!(exported.len(), ROWS + 2);
    assert!(
        differences.is_empty(),
        "{} of {compared} values differ; the first:\n{}",
        differences.len(),
        differences.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn refused_values_are_named_as_postgres_prints_them() {
    let mut db = export_database("e2e_printed_refusals");
    let cases = [
        ("timestamp", "'0044-03-15 12:00:00.25 BC'", "22008", "0044-03-15 12:00:00.25 BC"),
        ("timestamptz", "'0001-01-01 00:00:00+00 BC'", "22008", "0001-01-01 00:00:00+00 BC"),
        ("date", "'infinity'", "22008", "infinity"),
        ("date", "'300000-01-01'", "22008", "300000-01-01"),
        ("float4", "'-Infinity'", "22003", "-Infinity"),
        ("float8", "'NaN'", "22003", "NaN"),
        ("numeric", "'-Infinity'", "22003", "-Infinity"),
        ("numeric", "0.1234567890123", "22003", "0.1234567890123"),
        ("timetz", "'10:00:00+15:30'", "22008", "10:00:00+15:30"),
    ];
    for (i, (ty, literal, code, printed)) in cases.iter().enumerate() {
        let table = format!("r{i}");
        db.batch_execute(&format!("CREATE TABLE {table} (id int PRIMARY KEY, v {ty}); INSERT INTO {table} VALUES (1, {literal})"))
            .unwrap_or_else(|e| panic!("{ty} {literal}: {}", describe(&e)));
        let prefix = unique_prefix("printed-refusals");
        let message = expect_sqlstate(&mut db, &format!("SELECT * FROM redshift_export('{table}', prefix => '{prefix}')"), code);
        assert!(message.contains(printed), "{ty} {literal}: {message}");
    }

    // An exporting function whose fixed settings were changed stops rather than print values
    // other than PostgreSQL would.
    db.batch_execute(
        "CREATE TABLE fine (id int PRIMARY KEY, at timestamptz); INSERT INTO fine VALUES (1, now());
         DO $$ DECLARE f regprocedure; BEGIN
           FOR f IN SELECT oid FROM pg_proc WHERE proname = 'redshift_export' LOOP
             EXECUTE format('ALTER FUNCTION %s SET TimeZone = %L', f, 'Europe/Berlin');
           END LOOP; END $$;",
    )
    .unwrap();
    let prefix = unique_prefix("printed-settings");
    let message = expect_sqlstate(&mut db, &format!("SELECT * FROM redshift_export('fine', prefix => '{prefix}')"), "55000");
    assert!(message.contains("TimeZone Europe/Berlin"), "{message}");
}
