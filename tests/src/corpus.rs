//! The generated type corpus: for every type the export maps, SQL expressions for the type's
//! edge values and for seeded random values, each with what the README's mapping says becomes
//! of it in Redshift (kept, or refused with a SQLSTATE). The expected Redshift value is computed
//! by the tests on the source side from the documented form ([`Form`]), never by the exporter.

/// A small seeded generator (splitmix64): the same seed gives the same corpus on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `lo..=hi`.
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        let span = (hi as i128 - lo as i128 + 1) as u128;
        (lo as i128 + (u128::from(self.next_u64()) % span) as i128) as i64
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Text of `0..=max_chars` characters mixing what CSV and UTF-8 make hard: delimiters,
    /// quotes, line breaks, backslashes, `\N`, blanks at the ends, 2-, 3- and 4-byte characters.
    pub fn text(&mut self, max_chars: u64) -> String {
        const POOL: &[&str] = &[
            "a", "b", "Z", "0", "7", " ", ",", "\"", "'", "\n", "\r", "\r\n", "\t", "\\", "\\N", "|", "é", "ß", "€",
            "中", "😀", "🇩🇪", "\u{7f}", "x", "y", "word ",
        ];
        let n = self.below(max_chars + 1);
        (0..n).map(|_| *self.pick(POOL)).collect()
    }

    fn hex(&mut self, bytes: u64) -> String {
        (0..bytes).map(|_| format!("{:02x}", self.below(256))).collect()
    }
}

/// How the README says a column's values appear in Redshift, and so how the tests compute the
/// expected value on the source side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// The type's output text, as psql shows it with the export's fixed settings.
    Text,
    /// A number in DECIMAL(p,s): the same value (Redshift prints the scale's digits).
    Decimal,
    /// money: its numeric value.
    Money,
    /// json, jsonb: the same JSON value.
    Json,
    /// Arrays, composites, hstore: the JSON PostgreSQL's `to_jsonb` makes of them.
    ToJson,
    /// `{"lower","upper","lower_inc","upper_inc"}` or `{"empty":true}`.
    Range,
    /// A JSON array of ranges in that form.
    Multirange,
}

/// What the documented mapping says becomes of one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Kept,
    /// The default policy stops the export with `sqlstate`; `'null'` exports NULL; `'truncate'`
    /// cuts the value to the column's limit when `truncates`, and refuses it otherwise.
    Refused { sqlstate: &'static str, truncates: bool },
}

#[derive(Debug, Clone)]
pub struct Value {
    /// An SQL expression of the column's type.
    pub sql: String,
    pub expect: Expect,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    /// The column's declared type in CREATE TABLE.
    pub decl: String,
    pub form: Form,
    pub values: Vec<Value>,
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `'text'::type`.
pub fn lit(text: &str, ty: &str) -> String {
    format!("{}::{ty}", quote(text))
}

fn kept(sql: String) -> Value {
    Value { sql, expect: Expect::Kept }
}

fn refused(sql: String, sqlstate: &'static str) -> Value {
    Value { sql, expect: Expect::Refused { sqlstate, truncates: false } }
}

fn too_long(sql: String) -> Value {
    Value { sql, expect: Expect::Refused { sqlstate: "22001", truncates: true } }
}

/// Makes one random value (an SQL expression) of a column's type.
pub type Generator = Box<dyn Fn(&mut Rng) -> String>;

/// A scalar type's documented form, its edge and refused values, and its generator.
pub type Scalar = (Form, Vec<Value>, Generator);

/// Values generated per column.
pub const GENERATED: usize = 300;

/// Built-in types that have no input function and no value a test can make outside an index's
/// pages: their columns get NULLs only.
pub const NO_VALUES: &[&str] = &["gtsvector", "pg_brin_bloom_summary", "pg_brin_minmax_multi_summary"];

/// Edge values, the refused values and a generator of random values for the built-in (or
/// well-known extension) scalar type `name`, declared as `ty`. `None` for a type the corpus does
/// not know, which the test reports: every type the catalog has must be covered.
pub fn scalar(name: &str, ty: &str) -> Option<Scalar> {
    let l = |s: &str| kept(lit(s, ty));
    let t = ty.to_string();
    let g = move |f: Generator| -> Generator {
        let t = t.clone();
        Box::new(move |rng| lit(&f(rng), &t))
    };
    let text_edges = |max_bytes: usize| {
        vec![
            l(""),
            l(" "),
            l("  padded  "),
            l("comma, \"quote\"\nnew line\r\ncrlf \\N back\\slash\ttab"),
            l("\\N"),
            l("ünïcødé 中文 😀"),
            kept(format!("pg_catalog.repeat('a', {max_bytes})::{ty}")),
            // Three-byte characters right up to the byte limit.
            kept(format!("pg_catalog.repeat('€', {})::{ty}", max_bytes / 3)),
        ]
    };
    let (form, values, generator): Scalar = match name {
        "bool" => (Form::Text, vec![l("true"), l("false")], g(Box::new(|r| (if r.chance(50) { "t" } else { "f" }).into()))),
        "int2" => (
            Form::Text,
            vec![l("-32768"), l("32767"), l("0")],
            g(Box::new(|r| r.between(-32768, 32767).to_string())),
        ),
        "int4" => (
            Form::Text,
            vec![l("-2147483648"), l("2147483647"), l("0")],
            g(Box::new(|r| r.between(i32::MIN.into(), i32::MAX.into()).to_string())),
        ),
        "int8" => (
            Form::Text,
            vec![l("-9223372036854775808"), l("9223372036854775807"), l("0")],
            g(Box::new(|r| (r.next_u64() as i64 >> r.below(63)).to_string())),
        ),
        "float4" | "float8" => {
            let (max, min_normal, min) = if name == "float4" {
                ("3.4028235e38", "1.1754944e-38", "1e-45")
            } else {
                ("1.7976931348623157e308", "2.2250738585072014e-308", "5e-324")
            };
            let mut values = vec![l("0"), l("-0"), l(max), l(&format!("-{max}")), l(min_normal), l(min), l("0.1")];
            values.extend(["NaN", "Infinity", "-Infinity"].map(|v| refused(lit(v, ty), "22003")));
            let single = name == "float4";
            (Form::Text, values, g(Box::new(move |r| finite_float(r, single))))
        }
        // Unconstrained numeric: DECIMAL(38,10) by default.
        "numeric" => (
            Form::Decimal,
            vec![
                l("0"),
                l("9999999999999999999999999999.9999999999"),
                l("-9999999999999999999999999999.9999999999"),
                l("0.0000000001"),
                l("1.50000000000000000000"),
                refused(lit("NaN", ty), "22003"),
                refused(lit("Infinity", ty), "22003"),
                refused(lit("-Infinity", ty), "22003"),
                refused(lit("10000000000000000000000000000", ty), "22003"),
                refused(lit("0.00000000001", ty), "22003"),
            ],
            g(Box::new(|r| decimal(r, 28, 10))),
        ),
        "money" => (
            Form::Money,
            vec![l("0"), l("92233720368547758.07"), l("-92233720368547758.08"), l("0.01")],
            g(Box::new(|r| format!("{}.{:02}", r.between(-1_000_000_000, 1_000_000_000), r.below(100)))),
        ),
        "text" | "varchar" | "citext" => {
            let mut values = text_edges(65535);
            values.push(too_long(format!("pg_catalog.repeat('a', 65536)::{ty}")));
            // One byte over, made of characters that cannot be cut in half.
            values.push(too_long(format!("('a' || pg_catalog.repeat('€', 21845))::{ty}")));
            (Form::Text, values, g(Box::new(|r| r.text(40))))
        }
        "bpchar" => {
            let mut values = text_edges(65535);
            values.push(too_long(format!("pg_catalog.repeat('b', 65536)::{ty}")));
            (Form::Text, values, g(Box::new(|r| r.text(20))))
        }
        "name" => (
            Form::Text,
            vec![l(""), l(&"n".repeat(63)), l(&"€".repeat(21)), l("with space, \"quote\"")],
            g(Box::new(|r| {
                let mut s = r.text(15);
                while s.len() > 63 {
                    s.pop();
                }
                s
            })),
        ),
        "char" => (
            Form::Text,
            vec![l("a"), l(""), l("\\377"), l("\\001"), l(","), l("\"")],
            g(Box::new(|r| {
                let b = r.between(1, 255);
                if (32..127).contains(&b) && b != i64::from(b'\\') {
                    (b as u8 as char).to_string()
                } else {
                    format!("\\{b:03o}")
                }
            })),
        ),
        "bytea" => (
            Form::Text,
            vec![
                l("\\x00"),
                l("\\xff"),
                l("\\x5c4e2c22"),
                kept(format!("pg_catalog.decode(pg_catalog.repeat('a5', 1024000), 'hex')::{ty}")),
                refused(lit("", ty), "22000"),
                too_long(format!("pg_catalog.decode(pg_catalog.repeat('5a', 1024001), 'hex')::{ty}")),
            ],
            g(Box::new(|r| {
                let n = r.between(1, 64) as u64;
                format!("\\x{}", r.hex(n))
            })),
        ),
        "uuid" => (
            Form::Text,
            vec![l("00000000-0000-0000-0000-000000000000"), l("ffffffff-ffff-ffff-ffff-ffffffffffff")],
            g(Box::new(|r| {
                let h = r.hex(16);
                format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
            })),
        ),
        "json" | "jsonb" => (
            Form::Json,
            vec![
                l("{}"),
                l("[]"),
                l("null"),
                l("\"\""),
                l("0"),
                l("-1.5e-7"),
                l("{\"a\": 1, \"a\": 2}"),
                l("  {\n \"spaced\" : [ 1 , 2 ] ,\t\"s\": \" keep  these \" }  "),
                l("\"\\u00e9\\ud83d\\ude00 \\\"q\\\" \\\\ \\n\""),
                l("{\"ü\": \"中文😀\", \"nested\": {\"deeper\": [true, false, null]}}"),
                l(&format!("{}1{}", "[".repeat(100), "]".repeat(100))),
                refused(format!("pg_catalog.json_build_array(pg_catalog.repeat('x', 16777216))::{ty}"), "22001"),
            ],
            g(Box::new(json)),
        ),
        "jsonpath" => (
            Form::Text,
            vec![l("$"), l("$.a[*] ? (@ > 1)"), l("strict $.\"k y\"[last]")],
            g(Box::new(|r| format!("$.k{}[{}]", r.below(100), r.below(10)))),
        ),
        "xml" => {
            let mut values = vec![l("<a>b</a>"), l(""), l("<x y=\"1\">é &amp; 😀</x>text")];
            values.push(kept(format!("('<a>' || pg_catalog.repeat('x', 65528) || '</a>')::{ty}")));
            values.push(too_long(format!("('<a>' || pg_catalog.repeat('x', 65529) || '</a>')::{ty}")));
            (Form::Text, values, g(Box::new(|r| format!("<t n=\"{}\">{}</t>", r.below(1000), xml_text(r)))))
        }
        "date" => (
            Form::Text,
            vec![
                l("0001-01-01"),
                l("294276-12-31"),
                l("2024-02-29"),
                l("2000-02-29"),
                l("1970-01-01"),
                refused(lit("0001-12-31 BC", ty), "22008"),
                refused(lit("infinity", ty), "22008"),
                refused(lit("-infinity", ty), "22008"),
                refused(lit("294277-01-01", ty), "22008"),
            ],
            g(Box::new(date)),
        ),
        "time" => (
            Form::Text,
            vec![l("00:00:00"), l("23:59:59.999999"), l("24:00:00"), l("12:00:00.5")],
            g(Box::new(time)),
        ),
        "timetz" => (
            Form::Text,
            vec![
                l("00:00:00+14:59"),
                l("23:59:59.999999-14:59"),
                l("24:00:00+00"),
                l("12:00:00+05:30"),
                refused(lit("12:00:00+15:00", ty), "22008"),
                refused(lit("12:00:00-15:59", ty), "22008"),
            ],
            g(Box::new(|r| {
                let sign = if r.chance(50) { '+' } else { '-' };
                format!("{}{sign}{:02}:{:02}", time(r), r.below(15), r.below(60))
            })),
        ),
        "timestamp" => (
            Form::Text,
            vec![
                l("0001-01-01 00:00:00"),
                l("294276-12-31 23:59:59.999999"),
                l("2024-02-29 12:34:56.789012"),
                l("1970-01-01 00:00:00"),
                refused(lit("0044-03-15 12:00 BC", ty), "22008"),
                refused(lit("infinity", ty), "22008"),
                refused(lit("-infinity", ty), "22008"),
            ],
            g(Box::new(|r| format!("{} {}", date(r), time_below_24(r)))),
        ),
        "timestamptz" => (
            Form::Text,
            vec![
                l("0001-01-01 00:00:00+00"),
                l("294276-12-31 23:59:59.999999+00"),
                l("2024-02-29 23:30:00-05:00"),
                l("1970-01-01 00:00:00+00"),
                refused(lit("0044-03-15 12:00+00 BC", ty), "22008"),
                refused(lit("infinity", ty), "22008"),
                refused(lit("-infinity", ty), "22008"),
            ],
            g(Box::new(|r| {
                format!("{} {}{:+03}", date(r), time_below_24(r), r.between(-12, 14))
            })),
        ),
        "interval" => (
            Form::Text,
            vec![
                l("0"),
                l("1 year 2 mons 3 days 04:05:06.789"),
                l("-1 days"),
                l("178000000 years"),
                l("-178000000 years"),
                l("1 microsecond"),
                l("-178000000 years -2147483648 days -2562047788:00:54.775807"),
                l("2147483647 days 2562047788:00:54.775807"),
            ],
            g(Box::new(|r| {
                format!(
                    "{} years {} mons {} days {}:{:02}:{:02}.{:06}",
                    r.between(-100, 100),
                    r.between(-11, 11),
                    r.between(-40, 40),
                    r.between(-100, 100),
                    r.below(60),
                    r.below(60),
                    r.below(1_000_000)
                )
            })),
        ),
        "inet" => (
            Form::Text,
            vec![
                l("127.0.0.1"),
                l("::1"),
                l("0.0.0.0/0"),
                l("10.0.0.0/8"),
                l("192.168.1.5/24"),
                l("::ffff:1.2.3.4"),
                l("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128"),
                l("2001:db8::1/64"),
            ],
            g(Box::new(|r| address(r, false))),
        ),
        "cidr" => (
            Form::Text,
            vec![l("10.0.0.0/8"), l("::/0"), l("192.168.1.0/24"), l("2001:db8::/32"), l("1.2.3.4/32"), l("::1/128")],
            g(Box::new(|r| address(r, true))),
        ),
        "macaddr" => (
            Form::Text,
            vec![l("00:00:00:00:00:00"), l("ff:ff:ff:ff:ff:ff"), l("08-00-2B-01-02-03")],
            g(Box::new(|r| mac(r, 6))),
        ),
        "macaddr8" => (
            Form::Text,
            vec![l("00:00:00:00:00:00:00:00"), l("ff:ff:ff:ff:ff:ff:ff:ff"), l("08:00:2b:01:02:03")],
            g(Box::new(|r| mac(r, 8))),
        ),
        "bit" | "varbit" => (
            Form::Text,
            vec![
                l(""),
                l("0"),
                l("1"),
                kept(format!("pg_catalog.repeat('1', 65535)::{ty}")),
                too_long(format!("pg_catalog.repeat('10', 32768)::{ty}")),
            ],
            g(Box::new(|r| bits(r, 64))),
        ),
        "tsvector" => (
            Form::Text,
            vec![l(""), l("a fat cat"), l("'with space':1A,2B 'quote''s' é:3")],
            g(Box::new(|r| format!("w{} x{}:{}", r.below(100), r.below(100), r.between(1, 100)))),
        ),
        "tsquery" => (
            Form::Text,
            vec![l("fat & rat"), l("!a | (b <-> c)"), l("'x y':* & z:AB")],
            g(Box::new(|r| format!("w{} & !x{}", r.below(100), r.below(100)))),
        ),
        "point" => (
            Form::Text,
            vec![l("(0,0)"), l("(-1.7976931348623157e308,1.7976931348623157e308)"), l("(NaN,1)")],
            g(Box::new(|r| format!("({},{})", coord(r), coord(r)))),
        ),
        "line" => (
            Form::Text,
            vec![l("{1,2,3}"), l("{-1.7976931348623157e308,1.7976931348623157e308,-1.7976931348623157e308}")],
            g(Box::new(|r| format!("{{{},{},{}}}", 1 + r.below(9), coord(r), coord(r)))),
        ),
        "circle" => (
            Form::Text,
            vec![l("<(0,0),0>"), l("<(-1.7976931348623157e308,-1.7976931348623157e308),1.7976931348623157e308>")],
            g(Box::new(|r| format!("<({},{}),{}>", coord(r), coord(r), r.below(1000)))),
        ),
        "lseg" | "box" => (
            Form::Text,
            vec![
                l("(0,0),(1,1)"),
                l("(-1.7976931348623157e308,-1.7976931348623157e308),(-1.7976931348623157e308,-1.7976931348623157e308)"),
            ],
            g(Box::new(|r| format!("({},{}),({},{})", coord(r), coord(r), coord(r), coord(r)))),
        ),
        "path" | "polygon" => (
            Form::Text,
            vec![l("((0,0),(1,1),(2,0))"), l("((0,0))")],
            g(Box::new(|r| {
                let n = r.between(1, 8);
                let points: Vec<String> = (0..n).map(|_| format!("({},{})", coord(r), coord(r))).collect();
                format!("({})", points.join(","))
            })),
        ),
        "oid" | "xid" | "cid" => (
            Form::Text,
            vec![l("0"), l("4294967295"), l("1")],
            g(Box::new(|r| r.below(1 << 32).to_string())),
        ),
        "xid8" => (
            Form::Decimal,
            vec![l("0"), l("18446744073709551615")],
            g(Box::new(|r| r.next_u64().to_string())),
        ),
        "tid" => (
            Form::Text,
            vec![l("(0,0)"), l("(4294967295,65535)")],
            g(Box::new(|r| format!("({},{})", r.below(1 << 32), r.below(1 << 16)))),
        ),
        "pg_lsn" => (
            Form::Text,
            vec![l("0/0"), l("FFFFFFFF/FFFFFFFF")],
            g(Box::new(|r| format!("{:X}/{:X}", r.below(1 << 32), r.below(1 << 32)))),
        ),
        "pg_snapshot" | "txid_snapshot" => (
            Form::Text,
            vec![l("10:20:10,14,15"), l("1:1:")],
            g(Box::new(|r| {
                let xmin = r.between(1, 1000);
                format!("{xmin}:{}:", xmin + r.between(0, 1000))
            })),
        ),
        "int2vector" | "oidvector" => (
            Form::Text,
            vec![l(""), l("1 2 3"), l("32767")],
            g(Box::new(|r| {
                let n = r.below(5);
                (0..n).map(|_| r.below(30000).to_string()).collect::<Vec<_>>().join(" ")
            })),
        ),
        "aclitem" => (
            Form::Text,
            vec![l("postgres=arwdDxt/postgres"), l("=r/postgres")],
            g(Box::new(|r| {
                let privs = ["r", "a", "w", "d", "D", "x", "t", "U", "C", "T", "c", "X"];
                let n = r.between(1, 4);
                let p: String = (0..n).map(|_| *r.pick(&privs)).collect();
                format!("{}={p}/postgres", r.pick(&["", "postgres"]))
            })),
        ),
        "refcursor" => (Form::Text, vec![l("c1"), l("")], g(Box::new(|r| format!("cursor_{}", r.below(1000))))),
        "regclass" => pick_from(ty, &["pg_class", "pg_catalog.pg_type", "information_schema.tables", "-"]),
        "regtype" => pick_from(ty, &["integer", "character varying", "timestamp with time zone", "int4[]", "-"]),
        "regproc" => pick_from(ty, &["now", "pg_catalog.pg_backend_pid", "-"]),
        "regprocedure" => pick_from(ty, &["now()", "abs(integer)", "-"]),
        "regoper" => pick_from(ty, &["|/", "||/", "0"]),
        "regoperator" => pick_from(ty, &["+(integer,integer)", "-(NONE,integer)", "0"]),
        "regcollation" => pick_from(ty, &["\"C\"", "\"POSIX\"", "-"]),
        "regconfig" => pick_from(ty, &["english", "simple", "-"]),
        "regdictionary" => pick_from(ty, &["simple", "english_stem", "-"]),
        "regnamespace" => pick_from(ty, &["pg_catalog", "public", "-"]),
        "regrole" => pick_from(ty, &["postgres", "pg_read_all_data", "-"]),
        // No input function: values only from the catalogs that hold them (see `catalog_values`).
        "pg_node_tree" | "pg_ndistinct" | "pg_dependencies" | "pg_mcv_list" => {
            let sql = catalog_value(name)?;
            (Form::Text, vec![kept(sql.to_string())], Box::new(move |_| sql.to_string()))
        }
        n if NO_VALUES.contains(&n) => (Form::Text, Vec::new(), Box::new(|_| String::new())),
        "hstore" => (
            Form::ToJson,
            vec![l(""), l("a=>1, b=>NULL"), l("\"k,\\\"q\"=>\"v é\", \"\"=>\"\"")],
            g(Box::new(|r| {
                let n = r.below(4);
                (0..n)
                    .map(|i| format!("\"k{i}\"=>{}", if r.chance(20) { "NULL".into() } else { format!("\"{}\"", r.below(1000)) }))
                    .collect::<Vec<_>>()
                    .join(", ")
            })),
        ),
        "ltree" => (Form::Text, vec![l(""), l("a.b.c"), l("Top.Science_1.Astronomy")], g(Box::new(|r| format!("a{}.b{}", r.below(99), r.below(99))))),
        "lquery" => (Form::Text, vec![l("*.b.*"), l("a.*{1,2}.c|d")], g(Box::new(|r| format!("*.x{}.*", r.below(99))))),
        _ => return None,
    };
    Some((form, values, generator))
}

/// The catalog query that yields a value of a type without an input function. The statistics
/// ones need `CREATE STATISTICS` and `ANALYZE` first (see the test).
pub fn catalog_value(name: &str) -> Option<&'static str> {
    Some(match name {
        "pg_node_tree" => "(SELECT adbin FROM pg_catalog.pg_attrdef ORDER BY oid LIMIT 1)",
        "pg_ndistinct" => "(SELECT stxdndistinct FROM pg_catalog.pg_statistic_ext_data WHERE stxdndistinct IS NOT NULL LIMIT 1)",
        "pg_dependencies" => {
            "(SELECT stxddependencies FROM pg_catalog.pg_statistic_ext_data WHERE stxddependencies IS NOT NULL LIMIT 1)"
        }
        "pg_mcv_list" => "(SELECT stxdmcv FROM pg_catalog.pg_statistic_ext_data WHERE stxdmcv IS NOT NULL LIMIT 1)",
        _ => return None,
    })
}

fn pick_from(ty: &str, names: &'static [&'static str]) -> Scalar {
    let values = names.iter().map(|n| kept(lit(n, ty))).collect();
    let ty = ty.to_string();
    (Form::Text, values, Box::new(move |r: &mut Rng| lit(r.pick::<&str>(names), &ty)))
}

/// A decimal with up to `int_digits` integer and `frac_digits` fraction digits.
pub fn decimal(r: &mut Rng, int_digits: u64, frac_digits: u64) -> String {
    let digits = |r: &mut Rng, n: u64| (0..n).map(|_| char::from(b'0' + r.below(10) as u8)).collect::<String>();
    let i = r.below(int_digits + 1);
    let f = r.below(frac_digits + 1);
    let sign = if r.chance(40) { "-" } else { "" };
    let int = digits(r, i);
    let int = if int.is_empty() { "0".to_string() } else { int };
    if f == 0 { format!("{sign}{int}") } else { format!("{sign}{int}.{}", digits(r, f)) }
}

fn date(r: &mut Rng) -> String {
    let year = if r.chance(10) { r.between(1, 294_276) } else { r.between(1, 2200) };
    let month = r.between(1, 12);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    format!("{year:04}-{month:02}-{:02}", r.between(1, days))
}

fn time_below_24(r: &mut Rng) -> String {
    let frac = if r.chance(50) { format!(".{:06}", r.below(1_000_000)) } else { String::new() };
    format!("{:02}:{:02}:{:02}{frac}", r.below(24), r.below(60), r.below(60))
}

fn time(r: &mut Rng) -> String {
    if r.chance(3) { "24:00:00".into() } else { time_below_24(r) }
}

/// A finite float from random bits (any exponent, subnormals included), in Rust's shortest
/// exact spelling, which PostgreSQL reads back to the same value.
fn finite_float(r: &mut Rng, single: bool) -> String {
    loop {
        if single {
            let v = f32::from_bits(r.next_u64() as u32);
            if v.is_finite() {
                return format!("{v:e}");
            }
        } else {
            let v = f64::from_bits(r.next_u64());
            if v.is_finite() {
                return format!("{v:e}");
            }
        }
    }
}

fn coord(r: &mut Rng) -> String {
    match r.below(4) {
        0 => r.between(-1000, 1000).to_string(),
        1 => format!("{}.{}", r.between(-1000, 1000), r.below(1000)),
        _ => finite_float(r, false),
    }
}

fn address(r: &mut Rng, network: bool) -> String {
    if r.chance(50) {
        let bits = r.between(0, 32) as u32;
        let mut a = r.next_u64() as u32;
        if network {
            a = if bits == 0 { 0 } else { a & (u32::MAX << (32 - bits)) };
        }
        let ip = std::net::Ipv4Addr::from(a);
        if !network && r.chance(50) { ip.to_string() } else { format!("{ip}/{bits}") }
    } else {
        let bits = r.between(0, 128) as u32;
        let mut a = (u128::from(r.next_u64()) << 64) | u128::from(r.next_u64());
        if r.chance(30) {
            a &= 0xffff_ffff; // leading zeros: compressed forms
        }
        if network {
            a = if bits == 0 { 0 } else { a & (u128::MAX << (128 - bits)) };
        }
        let ip = std::net::Ipv6Addr::from(a);
        if !network && r.chance(50) { ip.to_string() } else { format!("{ip}/{bits}") }
    }
}

fn mac(r: &mut Rng, bytes: u64) -> String {
    (0..bytes).map(|_| format!("{:02x}", r.below(256))).collect::<Vec<_>>().join(":")
}

fn bits(r: &mut Rng, max: u64) -> String {
    let n = r.below(max + 1);
    (0..n).map(|_| if r.chance(50) { '1' } else { '0' }).collect()
}

fn xml_text(r: &mut Rng) -> String {
    r.text(20).replace('&', "&amp;").replace('<', "&lt;").replace('\r', "")
}

fn json_string(r: &mut Rng) -> String {
    serde_json::Value::String(r.text(12)).to_string()
}

fn json_value(r: &mut Rng, depth: u32) -> String {
    match if depth > 3 { r.below(4) } else { r.below(6) } {
        0 => json_string(r),
        // JSON numbers have no leading zeros.
        1 => canonical_decimal(&decimal(r, 12, 6)),
        2 => r.pick(&["true", "false", "null"]).to_string(),
        3 => format!("{}e{}", r.between(-99, 99), r.between(-30, 30)),
        4 => {
            let n = r.below(4);
            format!("[{}]", (0..n).map(|_| json_value(r, depth + 1)).collect::<Vec<_>>().join(", "))
        }
        _ => {
            let n = r.below(4);
            let members: Vec<String> = (0..n).map(|_| format!("{} : {}", json_string(r), json_value(r, depth + 1))).collect();
            format!("{{ {} }}", members.join(" ,\n"))
        }
    }
}

fn json(r: &mut Rng) -> String {
    json_value(r, 0)
}

/// Scalar element types the containers (arrays, composites) are built from.
pub const ELEMENTS: &[(&str, &str)] = &[
    ("int4", "pg_catalog.int4"),
    ("text", "pg_catalog.text"),
    ("numeric", "pg_catalog.numeric"),
    ("float8", "pg_catalog.float8"),
    ("bool", "pg_catalog.bool"),
    ("timestamptz", "pg_catalog.timestamptz"),
    ("timestamp", "pg_catalog.timestamp"),
    ("date", "pg_catalog.date"),
    ("bytea", "pg_catalog.bytea"),
    ("jsonb", "pg_catalog.jsonb"),
    ("uuid", "pg_catalog.uuid"),
    ("inet", "pg_catalog.inet"),
    ("interval", "pg_catalog.interval"),
];

/// A random element of scalar `name` (an SQL expression), or NULL now and then. Only values
/// the scalar's generator makes: containers are SUPER and hold what PostgreSQL's JSON holds.
pub fn element(r: &mut Rng, name: &str, ty: &str) -> String {
    if r.chance(15) {
        return format!("NULL::{ty}");
    }
    let (_, _, generator) = scalar(name, ty).expect("element types are in the corpus");
    generator(r)
}

/// A range expression of range type `range` over `subtype` (one of the built-in subtypes).
pub fn range(r: &mut Rng, range: &str, subtype: &str) -> String {
    if r.chance(8) {
        return lit("empty", range);
    }
    let mut bounds: Vec<String> = (0..2).map(|_| bound(r, subtype)).collect();
    // Constructors refuse lower > upper: let PostgreSQL order them.
    let (lo, hi) = (bounds.remove(0), bounds.remove(0));
    let sub = format!("pg_catalog.{subtype}");
    let lo_sql = format!("LEAST({lo}::{sub}, {hi}::{sub})");
    let hi_sql = format!("GREATEST({lo}::{sub}, {hi}::{sub})");
    let lo_sql = if r.chance(10) { format!("NULL::{sub}") } else { lo_sql };
    let hi_sql = if r.chance(10) { format!("NULL::{sub}") } else { hi_sql };
    let flags = r.pick(&["[)", "[]", "(]", "()"]);
    format!("pg_catalog.{range}({lo_sql}, {hi_sql}, '{flags}')")
}

fn bound(r: &mut Rng, subtype: &str) -> String {
    match subtype {
        "int4" => r.between(-1000, 1000).to_string(),
        "int8" => (r.next_u64() as i64 >> r.below(63)).to_string(),
        "numeric" => quote(&decimal(r, 10, 5)),
        "date" => quote(&date(r)),
        "timestamp" => quote(&format!("{} {}", date(r), time_below_24(r))),
        "timestamptz" => quote(&format!("{} {}+00", date(r), time_below_24(r))),
        other => panic!("no range bounds for subtype {other}"),
    }
}

/// Truncation as the README documents it: text cut to at most `max_bytes` bytes, never inside
/// a UTF-8 character; bytea (as hex, the way Redshift shows VARBYTE) cut to `max_bytes` bytes.
pub fn truncated(text: &str, max_bytes: usize, bytea: bool) -> String {
    if bytea {
        return text[..(2 * max_bytes).min(text.len())].to_string();
    }
    let mut end = max_bytes.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// A decimal's value as canonical text: no leading zeros, no trailing fraction zeros, no `-0`.
pub fn canonical_decimal(text: &str) -> String {
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let body = if frac.is_empty() { int.to_string() } else { format!("{int}.{frac}") };
    if body == "0" { body } else { format!("{sign}{body}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_reproducible() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        assert_eq!((0..5).map(|_| a.text(20)).collect::<Vec<_>>(), (0..5).map(|_| b.text(20)).collect::<Vec<_>>());
    }

    #[test]
    fn truncation_and_decimals() {
        assert_eq!(truncated("a€€", 5, false), "a€");
        assert_eq!(truncated("0102", 1, true), "01");
        assert_eq!(canonical_decimal("-0.000"), "0");
        assert_eq!(canonical_decimal("001.2300"), "1.23");
        assert_eq!(canonical_decimal("-12"), "-12");
    }
}
