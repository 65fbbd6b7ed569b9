//! Redshift column types and table definitions, and the CREATE TABLE text built from them.
//! Limits cite Redshift's documentation:
//! r_Character_types, r_Numeric_types201, r_VARBYTE_type, r_names, r_CREATE_TABLE_NEW.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// VARCHAR holds at most 65535 bytes (r_Character_types).
pub const VARCHAR_MAX_BYTES: u32 = 65535;
/// CHAR holds at most 4096 bytes, single-byte characters only (r_Character_types).
pub const CHAR_MAX_BYTES: u32 = 4096;
/// DECIMAL precision is at most 38, scale at most 37 (r_Numeric_types201).
pub const DECIMAL_MAX_PRECISION: u8 = 38;
pub const DECIMAL_MAX_SCALE: u8 = 37;
/// VARBYTE length we declare for bytea: the largest every documented Redshift version accepts
/// (1,024,000 until 2024; later releases allow more). Rows are limited to 4 MB anyway.
pub const VARBYTE_EXPORT_BYTES: u32 = 1_024_000;
/// Identifiers are 1 to 127 bytes (r_names).
pub const IDENTIFIER_MAX_BYTES: usize = 127;
/// A table has at most 1600 columns (r_CREATE_TABLE_NEW).
pub const MAX_COLUMNS: usize = 1600;
/// Sort key limits: 400 compound or 8 interleaved columns (r_CREATE_TABLE_NEW).
pub const MAX_COMPOUND_SORTKEY_COLUMNS: usize = 400;
pub const MAX_INTERLEAVED_SORTKEY_COLUMNS: usize = 8;

/// A Redshift column type, written in bundle.json as its SQL spelling (`"DECIMAL(12,2)"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum RedshiftType {
    SmallInt,
    Integer,
    BigInt,
    Decimal { precision: u8, scale: u8 },
    Real,
    DoublePrecision,
    Boolean,
    Char { length: u32 },
    Varchar { length: u32 },
    Date,
    Time,
    TimeTz,
    Timestamp,
    TimestampTz,
    Varbyte { length: u32 },
    Super,
    Geometry,
    Geography,
}

impl RedshiftType {
    /// Whether the type may be a DISTKEY or SORTKEY column (r_CREATE_TABLE_NEW lists BOOLEAN,
    /// REAL, DOUBLE PRECISION, SMALLINT, INTEGER, BIGINT, DECIMAL, DATE, TIME, TIMETZ,
    /// TIMESTAMP, TIMESTAMPTZ, CHAR, VARCHAR).
    pub fn can_be_key(self) -> bool {
        !matches!(
            self,
            RedshiftType::Varbyte { .. }
                | RedshiftType::Super
                | RedshiftType::Geometry
                | RedshiftType::Geography
        )
    }
}

impl fmt::Display for RedshiftType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedshiftType::SmallInt => f.write_str("SMALLINT"),
            RedshiftType::Integer => f.write_str("INTEGER"),
            RedshiftType::BigInt => f.write_str("BIGINT"),
            RedshiftType::Decimal { precision, scale } => write!(f, "DECIMAL({precision},{scale})"),
            RedshiftType::Real => f.write_str("REAL"),
            RedshiftType::DoublePrecision => f.write_str("DOUBLE PRECISION"),
            RedshiftType::Boolean => f.write_str("BOOLEAN"),
            RedshiftType::Char { length } => write!(f, "CHAR({length})"),
            RedshiftType::Varchar { length } => write!(f, "VARCHAR({length})"),
            RedshiftType::Date => f.write_str("DATE"),
            RedshiftType::Time => f.write_str("TIME"),
            RedshiftType::TimeTz => f.write_str("TIMETZ"),
            RedshiftType::Timestamp => f.write_str("TIMESTAMP"),
            RedshiftType::TimestampTz => f.write_str("TIMESTAMPTZ"),
            RedshiftType::Varbyte { length } => write!(f, "VARBYTE({length})"),
            RedshiftType::Super => f.write_str("SUPER"),
            RedshiftType::Geometry => f.write_str("GEOMETRY"),
            RedshiftType::Geography => f.write_str("GEOGRAPHY"),
        }
    }
}

impl From<RedshiftType> for String {
    fn from(value: RedshiftType) -> String {
        value.to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a Redshift column type this tool writes: {reason}")]
pub struct ParseTypeError {
    pub text: String,
    pub reason: &'static str,
}

impl FromStr for RedshiftType {
    type Err = ParseTypeError;

    /// Reads the spelling that Display writes (case-insensitive, spaces around arguments
    /// allowed), checking Redshift's limits.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = |reason| ParseTypeError { text: text.to_string(), reason };
        let normalized = text.trim().to_ascii_uppercase().replace(' ', "");
        let (head, args) = match normalized.split_once('(') {
            Some((head, rest)) => {
                let inner = rest.strip_suffix(')').ok_or_else(|| err("unbalanced parenthesis"))?;
                let args = inner
                    .split(',')
                    .map(|a| a.parse::<u32>().map_err(|_| err("arguments must be whole numbers")))
                    .collect::<Result<Vec<u32>, _>>()?;
                (head.to_string(), args)
            }
            None => (normalized, Vec::new()),
        };
        let length = |max: u32| match args.as_slice() {
            [n] if (1..=max).contains(n) => Ok(*n),
            [_] => Err(err("length out of range")),
            _ => Err(err("expects one length")),
        };
        let bare = |ty| if args.is_empty() { Ok(ty) } else { Err(err("takes no arguments")) };
        match head.as_str() {
            "SMALLINT" => bare(RedshiftType::SmallInt),
            "INTEGER" => bare(RedshiftType::Integer),
            "BIGINT" => bare(RedshiftType::BigInt),
            "REAL" => bare(RedshiftType::Real),
            "DOUBLEPRECISION" => bare(RedshiftType::DoublePrecision),
            "BOOLEAN" => bare(RedshiftType::Boolean),
            "DATE" => bare(RedshiftType::Date),
            "TIME" => bare(RedshiftType::Time),
            "TIMETZ" => bare(RedshiftType::TimeTz),
            "TIMESTAMP" => bare(RedshiftType::Timestamp),
            "TIMESTAMPTZ" => bare(RedshiftType::TimestampTz),
            "SUPER" => bare(RedshiftType::Super),
            "GEOMETRY" => bare(RedshiftType::Geometry),
            "GEOGRAPHY" => bare(RedshiftType::Geography),
            "CHAR" => Ok(RedshiftType::Char { length: length(CHAR_MAX_BYTES)? }),
            "VARCHAR" => Ok(RedshiftType::Varchar { length: length(VARCHAR_MAX_BYTES)? }),
            "VARBYTE" => Ok(RedshiftType::Varbyte { length: length(16_777_216)? }),
            "DECIMAL" => match args.as_slice() {
                [p, s] if (1..=u32::from(DECIMAL_MAX_PRECISION)).contains(p)
                    && *s <= u32::from(DECIMAL_MAX_SCALE)
                    && s <= p =>
                {
                    Ok(RedshiftType::Decimal { precision: *p as u8, scale: *s as u8 })
                }
                [_, _] => Err(err("needs 1 <= precision <= 38 and scale <= min(precision, 37)")),
                _ => Err(err("expects DECIMAL(precision,scale)")),
            },
            _ => Err(err("unknown type name")),
        }
    }
}

impl TryFrom<String> for RedshiftType {
    type Error = ParseTypeError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

/// One column of a Redshift table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnDef {
    /// The name as Redshift will hold it (already folded to lowercase).
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: RedshiftType,
    pub not_null: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "style", content = "column")]
pub enum DistStyle {
    Auto,
    Even,
    All,
    Key(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "style", content = "columns")]
pub enum SortKey {
    Auto,
    Compound(Vec<String>),
    Interleaved(Vec<String>),
}

/// Everything CREATE TABLE needs, kept structured so the loader can create the table under
/// another name (`<t>__new`) from the same definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDef {
    pub schema: String,
    pub name: String,
    pub columns: Vec<ColumnDef>,
    /// Informational in Redshift (not enforced) but used by its planner.
    pub primary_key: Vec<String>,
    pub dist_style: DistStyle,
    pub sort_key: SortKey,
}

/// `"name"` with inner quotes doubled: every identifier we write is quoted.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `"schema"."name"`.
pub fn quote_qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}

fn quote_list(names: &[String]) -> String {
    names.iter().map(|n| quote_ident(n)).collect::<Vec<_>>().join(", ")
}

impl TableDef {
    /// The CREATE TABLE statement for this definition under its own name.
    pub fn create_table_sql(&self) -> String {
        self.create_table_sql_as(&self.schema, &self.name)
    }

    /// The same statement creating the table as `schema.name` instead.
    pub fn create_table_sql_as(&self, schema: &str, name: &str) -> String {
        let mut lines: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                let null = if c.not_null { " NOT NULL" } else { "" };
                format!("    {} {}{null}", quote_ident(&c.name), c.data_type)
            })
            .collect();
        if !self.primary_key.is_empty() {
            lines.push(format!("    PRIMARY KEY ({})", quote_list(&self.primary_key)));
        }
        let dist = match &self.dist_style {
            DistStyle::Auto => "DISTSTYLE AUTO".to_string(),
            DistStyle::Even => "DISTSTYLE EVEN".to_string(),
            DistStyle::All => "DISTSTYLE ALL".to_string(),
            DistStyle::Key(column) => format!("DISTSTYLE KEY DISTKEY ({})", quote_ident(column)),
        };
        let sort = match &self.sort_key {
            SortKey::Auto => "SORTKEY AUTO".to_string(),
            SortKey::Compound(columns) => format!("COMPOUND SORTKEY ({})", quote_list(columns)),
            SortKey::Interleaved(columns) => {
                format!("INTERLEAVED SORTKEY ({})", quote_list(columns))
            }
        };
        format!(
            "CREATE TABLE {} (\n{}\n)\n{dist}\n{sort}",
            quote_qualified(schema, name),
            lines.join(",\n")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::RedshiftSqlDialect;
    use sqlparser::parser::Parser;

    fn every_type() -> Vec<RedshiftType> {
        vec![
            RedshiftType::SmallInt,
            RedshiftType::Integer,
            RedshiftType::BigInt,
            RedshiftType::Decimal { precision: 38, scale: 37 },
            RedshiftType::Decimal { precision: 1, scale: 0 },
            RedshiftType::Real,
            RedshiftType::DoublePrecision,
            RedshiftType::Boolean,
            RedshiftType::Char { length: 36 },
            RedshiftType::Varchar { length: VARCHAR_MAX_BYTES },
            RedshiftType::Date,
            RedshiftType::Time,
            RedshiftType::TimeTz,
            RedshiftType::Timestamp,
            RedshiftType::TimestampTz,
            RedshiftType::Varbyte { length: VARBYTE_EXPORT_BYTES },
            RedshiftType::Super,
            RedshiftType::Geometry,
            RedshiftType::Geography,
        ]
    }

    #[test]
    fn types_read_back_what_they_write() {
        for ty in every_type() {
            assert_eq!(ty.to_string().parse::<RedshiftType>(), Ok(ty));
        }
        assert_eq!(
            " decimal( 12 , 2 ) ".parse(),
            Ok(RedshiftType::Decimal { precision: 12, scale: 2 })
        );
    }

    #[test]
    fn types_outside_redshift_limits_are_refused() {
        for text in [
            "VARCHAR(65536)",
            "VARCHAR(0)",
            "CHAR(4097)",
            "DECIMAL(39,0)",
            "DECIMAL(10,11)",
            "DECIMAL(38,38)",
            "DECIMAL",
            "TEXT",
            "INTEGER(4)",
            "VARCHAR(10",
            "VARCHAR(-1)",
        ] {
            assert!(text.parse::<RedshiftType>().is_err(), "{text} should be refused");
        }
    }

    #[test]
    fn types_serialize_as_their_sql_spelling() {
        let json = serde_json::to_string(&RedshiftType::Decimal { precision: 12, scale: 2 })
            .expect("serialize");
        assert_eq!(json, "\"DECIMAL(12,2)\"");
        let back: RedshiftType = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, RedshiftType::Decimal { precision: 12, scale: 2 });
        assert!(serde_json::from_str::<RedshiftType>("\"TEXT\"").is_err());
    }

    fn sample_table() -> TableDef {
        TableDef {
            schema: "analytics".into(),
            name: "odd \"name\"".into(),
            columns: every_type()
                .into_iter()
                .enumerate()
                .map(|(i, ty)| ColumnDef { name: format!("c{i}"), data_type: ty, not_null: i == 0 })
                .collect(),
            primary_key: vec!["c0".into()],
            dist_style: DistStyle::Auto,
            sort_key: SortKey::Auto,
        }
    }

    #[test]
    fn create_table_text_is_exact() {
        let mut table = sample_table();
        table.columns.truncate(3);
        assert_eq!(
            table.create_table_sql(),
            "CREATE TABLE \"analytics\".\"odd \"\"name\"\"\" (\n    \"c0\" SMALLINT NOT NULL,\n    \
             \"c1\" INTEGER,\n    \"c2\" BIGINT,\n    PRIMARY KEY (\"c0\")\n)\nDISTSTYLE AUTO\nSORTKEY AUTO"
        );
        assert!(table.create_table_sql_as("analytics", "t__new").starts_with(
            "CREATE TABLE \"analytics\".\"t__new\" ("
        ));
    }

    /// The generated text is checked by a third-party parser of Redshift's dialect. Its
    /// grammar lacks `SORTKEY AUTO` and the COMPOUND/INTERLEAVED prefixes, so those are checked
    /// as text and taken out before parsing; everything else is parsed and compared.
    #[test]
    fn create_table_parses_as_redshift_sql() {
        use sqlparser::ast::Statement;
        let mut table = sample_table();
        for (dist, sort, prefix) in [
            (DistStyle::Auto, SortKey::Auto, "SORTKEY AUTO"),
            (DistStyle::Even, SortKey::Compound(vec!["c0".into(), "c1".into()]), "COMPOUND SORTKEY"),
            (DistStyle::All, SortKey::Interleaved(vec!["c2".into()]), "INTERLEAVED SORTKEY"),
            (DistStyle::Key("c3".into()), SortKey::Auto, "SORTKEY AUTO"),
        ] {
            table.dist_style = dist.clone();
            table.sort_key = sort.clone();
            let sql = table.create_table_sql();
            assert!(sql.contains(prefix), "{sql}");
            let parseable = sql
                .replace("\nSORTKEY AUTO", "")
                .replace("COMPOUND SORTKEY", "SORTKEY")
                .replace("INTERLEAVED SORTKEY", "SORTKEY");
            let statements = Parser::parse_sql(&RedshiftSqlDialect {}, &parseable)
                .unwrap_or_else(|e| panic!("sqlparser rejects\n{parseable}\n: {e}"));
            let [Statement::CreateTable(parsed)] = statements.as_slice() else {
                panic!("not one CREATE TABLE: {statements:?}");
            };
            assert_eq!(parsed.name.to_string(), "\"analytics\".\"odd \"\"name\"\"\"");
            let names: Vec<String> = parsed.columns.iter().map(|c| c.name.value.clone()).collect();
            let expected: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
            assert_eq!(names, expected);
            for (parsed, ours) in parsed.columns.iter().zip(&table.columns) {
                let spelled = parsed.data_type.to_string().to_ascii_uppercase();
                assert_eq!(spelled.parse::<RedshiftType>(), Ok(ours.data_type), "{spelled}");
            }
            let diststyle = parsed.diststyle.as_ref().map(|d| d.to_string());
            let expected_style = match &dist {
                DistStyle::Auto => "AUTO",
                DistStyle::Even => "EVEN",
                DistStyle::All => "ALL",
                DistStyle::Key(_) => "KEY",
            };
            assert_eq!(diststyle.as_deref(), Some(expected_style));
            let distkey = parsed.distkey.as_ref().map(|e| e.to_string());
            match &dist {
                DistStyle::Key(column) => assert_eq!(distkey, Some(quote_ident(column))),
                _ => assert_eq!(distkey, None),
            }
            let sortkey: Option<Vec<String>> =
                parsed.sortkey.as_ref().map(|cols| cols.iter().map(|e| e.to_string()).collect());
            match &sort {
                SortKey::Auto => assert_eq!(sortkey, None),
                SortKey::Compound(cols) | SortKey::Interleaved(cols) => {
                    assert_eq!(sortkey, Some(cols.iter().map(|c| quote_ident(c)).collect()))
                }
            }
        }
    }
}
