//! The SELECT that reads a relation for export: one column per exported column, as it is where
//! the exporter prints it from the datum, else as text in the form Redshift's COPY reads (the
//! session settings it relies on are fixed by the extension), followed by the columns that
//! identify a row in error messages.

use pg2redshift_bundle::{quote_ident, quote_qualified};

use crate::source::{SourceColumn, TypeKind};
use crate::values::ARRAY_BOUNDS_MARKER;

/// How a row is named in an error message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowIdentity {
    /// By its primary key values (column names in key order).
    PrimaryKey(Vec<String>),
    /// By `ctid` (tables and materialized views without a primary key).
    Ctid,
    /// By partition and `ctid` (partitioned tables without a primary key).
    PartitionCtid,
    /// By position in the scan (views and foreign tables have no row address).
    Ordinal,
    /// A change batch's row: by the commit LSN of its last change (the column named here) and
    /// the primary key's values.
    Change { lsn_column: String, key: Vec<String> },
}

impl RowIdentity {
    pub fn for_relation(relkind: &str, primary_key: &[String]) -> RowIdentity {
        match relkind {
            _ if !primary_key.is_empty() => RowIdentity::PrimaryKey(primary_key.to_vec()),
            "r" | "m" => RowIdentity::Ctid,
            "p" => RowIdentity::PartitionCtid,
            _ => RowIdentity::Ordinal,
        }
    }

    /// Extra SELECT expressions this identity needs, read as they are: the exporter prints them
    /// (by their output functions) only for a message.
    fn expressions(&self) -> Vec<String> {
        match self {
            RowIdentity::PrimaryKey(columns) => columns.iter().map(|c| quote_ident(c)).collect(),
            RowIdentity::Ctid => vec!["ctid".into()],
            RowIdentity::PartitionCtid => vec!["tableoid::pg_catalog.regclass".into(), "ctid".into()],
            RowIdentity::Ordinal => Vec::new(),
            RowIdentity::Change { lsn_column, key } => std::iter::once(lsn_column).chain(key).map(|c| quote_ident(c)).collect(),
        }
    }

    /// How many identity columns follow the value columns.
    pub fn column_count(&self) -> usize {
        self.expressions().len()
    }

    /// Names the row from the identity columns' values (`values` in `expressions()` order)
    /// and its 1-based position in the scan.
    pub fn describe(&self, values: &[Option<String>], ordinal: u64) -> String {
        let text = |i: usize| values.get(i).cloned().flatten().unwrap_or_else(|| "NULL".into());
        match self {
            RowIdentity::PrimaryKey(columns) => {
                let vals: Vec<String> = (0..columns.len()).map(text).collect();
                format!("with primary key ({})=({})", columns.join(", "), vals.join(", "))
            }
            RowIdentity::Ctid => format!("at ctid {}", text(0)),
            RowIdentity::PartitionCtid => format!("at ctid {} of partition {}", text(1), text(0)),
            RowIdentity::Ordinal => format!("number {ordinal} of the scan"),
            RowIdentity::Change { key, .. } => {
                let vals: Vec<String> = (1..=key.len()).map(text).collect();
                format!("changed at LSN {} with primary key ({})=({})", text(0), key.join(", "), vals.join(", "))
            }
        }
    }
}

/// How the exporter reads one value column of the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueForm {
    /// A `text` value: the query computes the text form.
    Text,
    /// The column itself, which the exporter prints exactly as PostgreSQL's cast to text does
    /// (decimal integers; `true` / `false`). Saves the server a text value per field, the bulk
    /// of most tables' columns.
    Int2,
    Int4,
    Int8,
    Bool,
    /// Read as they are and printed from the datum by [`crate::print`], byte for byte as
    /// their output functions print them under the export's fixed settings: no text value
    /// per field, no copy.
    Date,
    Timestamp,
    TimestampTz,
    Time,
    TimeTz,
    Float4,
    Float8,
    Numeric,
    /// Printed from the binary form without the blanks `jsonb_out` puts after `:` and `,`.
    Jsonb,
}

impl ValueForm {
    /// Whether every value of this form is printed without `,` `"` CR LF, blanks at either end
    /// or emptiness (ISO dates and times, digits, `true`/`false`, `NaN`, `-infinity`), so its
    /// CSV field needs no quotes.
    pub fn never_quoted(self) -> bool {
        !matches!(self, ValueForm::Text | ValueForm::Jsonb)
    }
}

/// A relation's export query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportQuery {
    pub sql: String,
    /// Number of leading value columns; the identity columns (text) follow.
    pub value_columns: usize,
    /// How to read each value column.
    pub forms: Vec<ValueForm>,
    pub identity: RowIdentity,
}

impl ExportQuery {
    pub fn identity_columns(&self) -> usize {
        self.identity.column_count()
    }
}

pub fn export_query(schema: &str, table: &str, columns: &[SourceColumn], identity: RowIdentity) -> ExportQuery {
    let forms: Vec<ValueForm> = columns.iter().map(value_form).collect();
    let mut select: Vec<String> = columns
        .iter()
        .zip(&forms)
        .map(|(column, form)| match form {
            ValueForm::Text => text_expression(column),
            _ => quote_ident(&column.name),
        })
        .collect();
    select.extend(identity.expressions());
    let sql = format!("SELECT {} FROM {}", select.join(", "), quote_qualified(schema, table));
    ExportQuery { sql, value_columns: forms.len(), forms, identity }
}

/// Built-in integers, booleans, dates and times, floats, numerics and jsonb are read as they
/// are (also through a domain, whose values are the base type's); everything else as text.
pub fn value_form(column: &SourceColumn) -> ValueForm {
    if column.ty.kind != TypeKind::Base || !column.ty.is_builtin() {
        return ValueForm::Text;
    }
    match column.ty.name.as_str() {
        "int2" => ValueForm::Int2,
        "int4" => ValueForm::Int4,
        "int8" => ValueForm::Int8,
        "bool" => ValueForm::Bool,
        "date" => ValueForm::Date,
        "timestamp" => ValueForm::Timestamp,
        "timestamptz" => ValueForm::TimestampTz,
        "time" => ValueForm::Time,
        "timetz" => ValueForm::TimeTz,
        "float4" => ValueForm::Float4,
        "float8" => ValueForm::Float8,
        "numeric" => ValueForm::Numeric,
        "jsonb" => ValueForm::Jsonb,
        _ => ValueForm::Text,
    }
}

/// The text form COPY reads for one column.
pub fn text_expression(column: &SourceColumn) -> String {
    let c = quote_ident(&column.name);
    match column.ty.kind {
        // JSON arrays start at index 0 and cannot keep PostgreSQL's lower bounds: an array with
        // a lower bound other than 1 becomes a marker the value check refuses (values.rs).
        TypeKind::Array => format!(
            "CASE WHEN pg_catalog.array_dims({c}) ~ '[[](?!1:)' THEN '{ARRAY_BOUNDS_MARKER}' || pg_catalog.array_dims({c}) \
             ELSE pg_catalog.to_json({c})::pg_catalog.text END"
        ),
        TypeKind::Composite => format!("pg_catalog.to_json({c})::pg_catalog.text"),
        TypeKind::Range => format!("{}::pg_catalog.text", range_json(&c)),
        TypeKind::Multirange => format!(
            "CASE WHEN {c} IS NULL THEN NULL ELSE COALESCE((SELECT pg_catalog.json_agg({}) \
             FROM pg_catalog.unnest({c}) AS r(v)), '[]'::pg_catalog.json)::pg_catalog.text END",
            range_json("r.v")
        ),
        TypeKind::Enum { .. } => format!("{c}::pg_catalog.text"),
        TypeKind::Base => match (column.ty.is_builtin(), column.ty.name.as_str()) {
            (true, "bytea") => format!("pg_catalog.encode({c}, 'hex')"),
            // Via numeric: no currency symbol or group separators, whatever lc_monetary says.
            (true, "money") => format!("{c}::pg_catalog.numeric::pg_catalog.text"),
            // The cast to text drops char(n)'s padding; its output function keeps it.
            (true, "bpchar") => format!("pg_catalog.textin(pg_catalog.bpcharout({c}))"),
            // The cast to text always shows the netmask (`::1/128`); the output function shows
            // it only where it is not the full length, as psql does.
            (true, "inet") => format!("pg_catalog.textin(pg_catalog.inet_out({c}))"),
            (false, "hstore") => format!("pg_catalog.to_json({c})::pg_catalog.text"),
            _ => format!("{c}::pg_catalog.text"),
        },
    }
}

/// A range as `{"lower":…,"upper":…,"lower_inc":…,"upper_inc":…}` (an unbounded side is null),
/// or `{"empty":true}`; NULL stays NULL (`isempty(NULL)` is NULL, which would otherwise fall
/// through to an object of NULL bounds).
fn range_json(r: &str) -> String {
    format!(
        "CASE WHEN {r} IS NULL THEN NULL WHEN pg_catalog.isempty({r}) THEN '{{\"empty\":true}}'::pg_catalog.json \
         ELSE pg_catalog.json_build_object('lower', pg_catalog.lower({r}), 'upper', pg_catalog.upper({r}), \
         'lower_inc', pg_catalog.lower_inc({r}), 'upper_inc', pg_catalog.upper_inc({r})) END"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceType;

    fn col(name: &str, ty: &str, kind: TypeKind) -> SourceColumn {
        SourceColumn {
            name: name.into(),
            ty: SourceType { kind, ..SourceType::builtin(ty, -1) },
            declared_type: ty.into(),
            not_null: false,
        }
    }

    #[test]
    fn query_reads_text_then_identity() {
        let cols = [
            col("Id", "int4", TypeKind::Base),
            col("b", "bytea", TypeKind::Base),
            col("tags", "_text", TypeKind::Array),
        ];
        let q = export_query("s", "t\"x", &cols, RowIdentity::for_relation("r", &["Id".into()]));
        assert_eq!(
            q.sql,
            "SELECT \"Id\", pg_catalog.encode(\"b\", 'hex'), CASE WHEN pg_catalog.array_dims(\"tags\") ~ '[[](?!1:)' \
             THEN '\u{1}array_dims:' || pg_catalog.array_dims(\"tags\") ELSE pg_catalog.to_json(\"tags\")::pg_catalog.text END, \
             \"Id\" FROM \"s\".\"t\"\"x\""
        );
        assert_eq!(q.value_columns, 3);
        assert_eq!(q.forms, [ValueForm::Int4, ValueForm::Text, ValueForm::Text]);
    }

    #[test]
    fn only_builtin_scalars_are_read_as_they_are() {
        let form = |ty: &str, kind| value_form(&col("c", ty, kind));
        assert_eq!(form("int2", TypeKind::Base), ValueForm::Int2);
        assert_eq!(form("int8", TypeKind::Base), ValueForm::Int8);
        assert_eq!(form("bool", TypeKind::Base), ValueForm::Bool);
        assert_eq!(form("_int4", TypeKind::Array), ValueForm::Text);
        assert_eq!(form("numeric", TypeKind::Base), ValueForm::Numeric);
        assert_eq!(form("timestamptz", TypeKind::Base), ValueForm::TimestampTz);
        assert_eq!(form("jsonb", TypeKind::Base), ValueForm::Jsonb);
        assert_eq!(form("json", TypeKind::Base), ValueForm::Text);
        assert_eq!(form("money", TypeKind::Base), ValueForm::Text);
        assert_eq!(form("interval", TypeKind::Base), ValueForm::Text);
        let mut custom = col("c", "int4", TypeKind::Base);
        custom.ty.schema = "public".into();
        assert_eq!(value_form(&custom), ValueForm::Text);
    }

    #[test]
    fn null_ranges_stay_null_and_inet_prints_as_its_output() {
        let text = |ty: &str, kind| text_expression(&col("c", ty, kind));
        assert!(text("int4range", TypeKind::Range).starts_with("CASE WHEN \"c\" IS NULL THEN NULL WHEN pg_catalog.isempty"));
        let multi = text("int4multirange", TypeKind::Multirange);
        assert!(multi.starts_with("CASE WHEN \"c\" IS NULL THEN NULL"), "{multi}");
        assert!(multi.contains("'[]'::pg_catalog.json"), "{multi}");
        assert_eq!(text("inet", TypeKind::Base), "pg_catalog.textin(pg_catalog.inet_out(\"c\"))");
    }

    #[test]
    fn identities_by_relation_kind() {
        assert_eq!(RowIdentity::for_relation("r", &[]), RowIdentity::Ctid);
        assert_eq!(RowIdentity::for_relation("p", &[]), RowIdentity::PartitionCtid);
        assert_eq!(RowIdentity::for_relation("v", &[]), RowIdentity::Ordinal);
        let pk = RowIdentity::PrimaryKey(vec!["a".into(), "b".into()]);
        assert_eq!(pk.describe(&[Some("1".into()), None], 5), "with primary key (a, b)=(1, NULL)");
        assert_eq!(RowIdentity::Ordinal.describe(&[], 5), "number 5 of the scan");
        let change = RowIdentity::Change { lsn_column: "op lsn".into(), key: vec!["id".into()] };
        assert_eq!(change.column_count(), 2);
        assert_eq!(change.describe(&[Some("0/16B3748".into()), Some("7".into())], 1), "changed at LSN 0/16B3748 with primary key (id)=(7)");
        assert_eq!(
            RowIdentity::PartitionCtid.describe(&[Some("t_1".into()), Some("(0,3)".into())], 1),
            "at ctid (0,3) of partition t_1"
        );
    }
}
