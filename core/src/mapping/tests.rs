use super::*;
use crate::source::SourceType;

/// Every non-array base, range and multirange type in PostgreSQL 15's pg_catalog
/// (`typtype IN ('b','r','m') AND typrelid = 0`), plus the two vector types.
/// The e2e tests check the same against the live catalog.
const PG15_BUILTIN_TYPES: &[&str] = &[
    "bool", "date", "time", "timestamp", "timestamptz", "timetz", "box", "circle", "line", "lseg",
    "path", "point", "polygon", "cidr", "inet", "float4", "float8", "int2", "int4", "int8", "money",
    "numeric", "oid", "regclass", "regcollation", "regconfig", "regdictionary", "regnamespace",
    "regoper", "regoperator", "regproc", "regprocedure", "regrole", "regtype", "bpchar", "name",
    "text", "varchar", "interval", "aclitem", "bytea", "cid", "gtsvector", "json", "jsonb",
    "jsonpath", "macaddr", "macaddr8", "pg_lsn", "pg_snapshot", "refcursor", "tid", "tsquery",
    "tsvector", "txid_snapshot", "uuid", "xid", "xid8", "xml", "bit", "varbit", "char",
    "pg_brin_bloom_summary", "pg_brin_minmax_multi_summary", "pg_dependencies", "pg_mcv_list",
    "pg_ndistinct", "pg_node_tree", "int2vector", "oidvector",
];

fn map(name: &str, typmod: i32) -> TypeMapping {
    map_type(&SourceType::builtin(name, typmod), &MappingOptions::default())
}

fn rs(text: &str) -> RedshiftType {
    text.parse().expect("valid Redshift type")
}

#[test]
fn every_builtin_type_is_mapped_on_purpose() {
    for name in PG15_BUILTIN_TYPES {
        let mapping = map(name, -1);
        assert!(mapping.known, "{name} fell through to the unknown-type fallback");
    }
}

#[test]
fn unknown_types_are_flagged_and_kept_as_text() {
    let odd = SourceType { schema: "public".into(), name: "mytype".into(), typmod: -1, kind: TypeKind::Base };
    let mapping = map_type(&odd, &MappingOptions::default());
    assert!(!mapping.known);
    assert_eq!(mapping.redshift, rs("VARCHAR(65535)"));
    assert!(mapping.note.as_deref().is_some_and(|n| n.contains("public.mytype")));
}

#[test]
fn integers_floats_and_bool_map_one_to_one() {
    assert_eq!(map("int2", -1), exact(rs("SMALLINT")));
    assert_eq!(map("int4", -1), exact(rs("INTEGER")));
    assert_eq!(map("int8", -1), exact(rs("BIGINT")));
    assert_eq!(map("bool", -1), exact(rs("BOOLEAN")));
    assert_eq!(map("float4", -1).redshift, rs("REAL"));
    assert_eq!(map("float8", -1).redshift, rs("DOUBLE PRECISION"));
}

fn numeric_typmod(p: i32, s: i32) -> i32 {
    ((p << 16) | (s & 0x7ff)) + 4
}

#[test]
fn numeric_keeps_precision_and_scale_up_to_38() {
    assert_eq!(map("numeric", numeric_typmod(12, 2)).redshift, rs("DECIMAL(12,2)"));
    assert_eq!(map("numeric", numeric_typmod(38, 0)).redshift, rs("DECIMAL(38,0)"));
    assert_eq!(map("numeric", numeric_typmod(38, 37)).redshift, rs("DECIMAL(38,37)"));
}

#[test]
fn numeric_never_becomes_redshifts_default_decimal_18_0() {
    let unconstrained = map("numeric", -1);
    assert_eq!(unconstrained.redshift, rs("DECIMAL(38,10)"));
    assert!(unconstrained.note.as_deref().is_some_and(|n| n.contains("refused")));
    let wide = map("numeric", numeric_typmod(50, 4));
    assert_eq!(wide.redshift, rs("DECIMAL(38,4)"));
    assert!(wide.note.as_deref().is_some_and(|n| n.contains("numeric(50,4)")));
    let opts = MappingOptions { numeric_scale: 4 };
    assert_eq!(map_type(&SourceType::builtin("numeric", -1), &opts).redshift, rs("DECIMAL(38,4)"));
    let opts = MappingOptions { numeric_scale: 99 };
    assert_eq!(map_type(&SourceType::builtin("numeric", -1), &opts).redshift, rs("DECIMAL(38,37)"));
}

#[test]
fn numeric_with_negative_or_oversized_scale_is_widened_to_hold_every_value() {
    // numeric(5,-2) holds multiples of 100 up to 9999900: seven digits, no fraction.
    assert_eq!(map("numeric", numeric_typmod(5, -2)).redshift, rs("DECIMAL(7,0)"));
    // numeric(3,5) holds values below 0.001 with five fractional digits.
    assert_eq!(map("numeric", numeric_typmod(3, 5)).redshift, rs("DECIMAL(5,5)"));
    // numeric(38,-5) would need 43 digits: capped and flagged.
    let capped = map("numeric", numeric_typmod(38, -5));
    assert_eq!(capped.redshift, rs("DECIMAL(38,0)"));
    assert!(capped.note.as_deref().is_some_and(|n| n.contains("refused")));
}

#[test]
fn character_lengths_become_byte_lengths() {
    assert_eq!(map("varchar", 100 + 4).redshift, rs("VARCHAR(400)"));
    assert_eq!(map("varchar", 16383 + 4).redshift, rs("VARCHAR(65532)"));
    assert_eq!(map("varchar", 16384 + 4).redshift, rs("VARCHAR(65535)"));
    assert_eq!(map("varchar", -1).redshift, rs("VARCHAR(65535)"));
    assert_eq!(map("text", -1).redshift, rs("VARCHAR(65535)"));
    assert_eq!(map("bpchar", 10 + 4).redshift, rs("VARCHAR(40)"));
    assert_eq!(map("bpchar", -1).redshift, rs("VARCHAR(65535)"));
    assert_eq!(map("name", -1).redshift, rs("VARCHAR(63)"));
}

#[test]
fn special_types_follow_the_design() {
    assert_eq!(map("bytea", -1).redshift, rs("VARBYTE(1024000)"));
    assert_eq!(map("uuid", -1), exact(rs("CHAR(36)")));
    assert_eq!(map("json", -1).redshift, rs("SUPER"));
    assert_eq!(map("jsonb", -1).redshift, rs("SUPER"));
    assert_eq!(map("money", -1).redshift, rs("DECIMAL(19,2)"));
    assert_eq!(map("timestamptz", 6).redshift, rs("TIMESTAMPTZ"));
    assert_eq!(map("timestamp", 3).redshift, rs("TIMESTAMP"));
    assert_eq!(map("date", -1).redshift, rs("DATE"));
    assert_eq!(map("time", -1), exact(rs("TIME")));
    assert_eq!(map("timetz", -1).redshift, rs("TIMETZ"));
    assert_eq!(map("interval", -1).redshift, rs("VARCHAR(64)"));
    assert_eq!(map("bit", 8).redshift, rs("CHAR(8)"));
    assert_eq!(map("bit", 5000).redshift, rs("VARCHAR(5000)"));
    assert_eq!(map("varbit", 20).redshift, rs("VARCHAR(20)"));
    assert_eq!(map("varbit", -1).redshift, rs("VARCHAR(65535)"));
    assert_eq!(map("xid8", -1).redshift, rs("DECIMAL(20,0)"));
    assert_eq!(map("oid", -1).redshift, rs("BIGINT"));
}

#[test]
fn containers_become_super_and_enums_sized_varchar() {
    let of = |kind| map_type(&SourceType { kind, ..SourceType::builtin("x", -1) }, &MappingOptions::default());
    assert_eq!(of(TypeKind::Array).redshift, rs("SUPER"));
    assert_eq!(of(TypeKind::Composite).redshift, rs("SUPER"));
    assert_eq!(of(TypeKind::Range).redshift, rs("SUPER"));
    assert_eq!(of(TypeKind::Multirange).redshift, rs("SUPER"));
    assert_eq!(of(TypeKind::Enum { longest_label_bytes: 13 }).redshift, rs("VARCHAR(13)"));
}

#[test]
fn extension_types_are_recognised_in_any_schema() {
    let ext = |name: &str| {
        map_type(
            &SourceType { schema: "extensions".into(), name: name.into(), typmod: -1, kind: TypeKind::Base },
            &MappingOptions::default(),
        )
    };
    assert_eq!(ext("citext").redshift, rs("VARCHAR(65535)"));
    assert_eq!(ext("hstore").redshift, rs("SUPER"));
    assert_eq!(ext("geometry").redshift, rs("GEOMETRY"));
    assert!(ext("citext").known && ext("hstore").known);
}
