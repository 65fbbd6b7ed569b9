//! PostgreSQL features that Redshift does not have, refused before a statement reaches the
//! backing PostgreSQL (which would otherwise answer them).
//!
//! Redshift sends a query to its compute nodes whenever it references user tables or system
//! tables (STL/STV/SVV/SYS); there, "Specified types or functions (one per INFO message) not
//! supported on Redshift tables." A query on the catalog alone (pg_*, information_schema) runs
//! on the leader node, which answers more (and which psql and drivers rely on): such statements
//! are left alone, a documented limit of the emulator.
//! https://docs.aws.amazon.com/redshift/latest/dg/c_sql-functions-leader-node.html
//! https://docs.aws.amazon.com/redshift/latest/dg/c_unsupported-postgresql-features.html
//! https://docs.aws.amazon.com/redshift/latest/dg/c_unsupported-postgresql-functions.html

use super::{SqlError, name_key};
use super::lexer::{Kind, Token};

/// Functions Redshift lists as unsupported (aggregate, array, date/time, math, string and set
/// returning functions). https://docs.aws.amazon.com/redshift/latest/dg/c_unsupported-postgresql-functions.html
const UNSUPPORTED_FUNCTIONS: &[&str] = &[
    "string_agg",
    "array_agg",
    "every",
    "xmlagg",
    "clock_timestamp",
    "transaction_timestamp",
    "justify_days",
    "justify_hours",
    "justify_interval",
    "pg_sleep",
    "div",
    "setseed",
    "width_bucket",
    "generate_series",
    "generate_subscripts",
    "overlay",
    "bit_length",
    "format",
    "quote_nullable",
    "regexp_matches",
    "regexp_split_to_array",
    "regexp_split_to_table",
    "convert_from",
    "convert_to",
    // "Array functions and operators"
    "array_append",
    "array_cat",
    "array_dims",
    "array_fill",
    "array_length",
    "array_lower",
    "array_ndims",
    "array_position",
    "array_positions",
    "array_prepend",
    "array_remove",
    "array_replace",
    "array_to_string",
    "array_upper",
    "cardinality",
    "string_to_array",
    "unnest",
];

/// Catalog functions PostgreSQL gained after 8.0.2, the version Redshift's leader node answers
/// catalog queries with, and that Redshift does not document: refused even in catalog queries.
/// https://docs.aws.amazon.com/redshift/latest/dg/c_redshift-and-postgres-sql.html
const NEWER_CATALOG_FUNCTIONS: &[&str] = &[
    "to_regclass",
    "to_regcollation",
    "to_regnamespace",
    "to_regoper",
    "to_regoperator",
    "to_regproc",
    "to_regprocedure",
    "to_regrole",
    "to_regtype",
];

/// "the following PostgreSQL system column names cannot be used as names of user-defined
/// columns": Redshift tables have no such columns to select either.
const SYSTEM_COLUMNS: &[&str] = &["oid", "tableoid", "xmin", "cmin", "xmax", "cmax", "ctid"];

/// Refuses `tokens` (one statement) when it uses a PostgreSQL-only feature on Redshift tables.
pub fn check(tokens: &[Token<'_>]) -> Result<(), SqlError> {
    let sig: Vec<Token<'_>> = tokens.iter().copied().filter(|t| !t.is_trivia()).collect();
    for (i, t) in sig.iter().enumerate() {
        let lower = t.text.to_ascii_lowercase();
        if t.kind == Kind::Word
            && NEWER_CATALOG_FUNCTIONS.contains(&lower.as_str())
            && sig.get(i + 1).is_some_and(|x| x.kind == Kind::LParen)
        {
            return Err(SqlError::undefined_function(format!("function {lower}(text) does not exist")));
        }
    }
    let reach = reach(&sig);
    if reach == Reach::Catalog {
        return Ok(());
    }
    let at = |i: usize| sig.get(i).copied();
    if at(0).is_some_and(|t| t.is_word("values")) {
        return Err(refused("VALUES lists used as constant tables are not supported"));
    }
    for (i, &t) in sig.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(at);
        let next = at(i + 1);
        let qualified = prev.is_some_and(|x| x.kind == Kind::Dot);
        if t.kind == Kind::Word {
            let lower = t.text.to_ascii_lowercase();
            let called = next.is_some_and(|x| x.kind == Kind::LParen);
            // GENERATE_SERIES runs on the leader node, as long as no table is involved.
            let leader_only = lower == "generate_series" && reach == Reach::Nothing;
            if called && !qualified && !leader_only && UNSUPPORTED_FUNCTIONS.contains(&lower.as_str()) {
                return Err(refused(format!("Function \"{lower}()\" not supported")));
            }
            if lower == "array" && next.is_some_and(|x| x.kind == Kind::LParen || x.text == "[") {
                return Err(refused("Array constructors are not supported"));
            }
            if lower == "values" && prev.is_some_and(|x| x.kind == Kind::LParen) {
                return Err(refused("VALUES lists used as constant tables are not supported"));
            }
            if lower == "is"
                && (next.is_some_and(|x| x.is_word("distinct"))
                    || next.is_some_and(|x| x.is_word("not")) && at(i + 2).is_some_and(|x| x.is_word("distinct")))
            {
                return Err(refused("IS DISTINCT FROM is not supported"));
            }
            let cast = prev.is_some_and(|x| x.kind == Kind::Op && x.text == "::");
            if !called && !cast && SYSTEM_COLUMNS.contains(&lower.as_str()) {
                return Err(refused(format!("Column \"{lower}\" does not exist: Redshift tables have no system columns")));
            }
        }
        if t.text == "[" && next.is_some_and(|x| x.text == "]") {
            return Err(refused("Array types are not supported"));
        }
    }
    Ok(())
}

fn refused(what: impl Into<String>) -> SqlError {
    SqlError::unsupported(format!(
        "Specified types or functions (one per INFO message) not supported on Redshift tables. ({})",
        what.into()
    ))
}

/// What a statement reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// No relation at all: the leader node answers, whose PostgreSQL 8.0.2 lacks the newer
    /// functions too (GENERATE_SERIES it has).
    Nothing,
    /// Only the catalog (pg_*, information_schema): the leader node, left alone.
    Catalog,
    /// A user table, or a system table or view: the compute nodes.
    Tables,
}

/// The relations a statement names (names a WITH clause defines are not relations).
fn reach(sig: &[Token<'_>]) -> Reach {
    let mut ctes: Vec<String> = Vec::new();
    let mut relations: Vec<(Option<String>, String)> = Vec::new();
    let mut i = 0;
    while i < sig.len() {
        let t = sig[i];
        // `name AS (` defines a common table expression.
        if matches!(t.kind, Kind::Word | Kind::QuotedIdent)
            && sig.get(i + 1).is_some_and(|x| x.is_word("as"))
            && sig.get(i + 2).is_some_and(|x| x.kind == Kind::LParen)
        {
            ctes.push(name_key(&t));
        }
        let introduces = t.is_word("from") || t.is_word("join") || t.is_word("into") || t.is_word("update");
        if introduces {
            let mut j = i + 1;
            while let Some(first) = sig.get(j) {
                if !matches!(first.kind, Kind::Word | Kind::QuotedIdent) || is_keyword(first) {
                    break;
                }
                let (schema, name, after) = if sig.get(j + 1).is_some_and(|x| x.kind == Kind::Dot) {
                    match sig.get(j + 2) {
                        Some(n) => (Some(name_key(first)), name_key(n), j + 3),
                        None => break,
                    }
                } else {
                    (None, name_key(first), j + 1)
                };
                // A function in FROM is not a relation.
                if sig.get(after).is_some_and(|x| x.kind == Kind::LParen) {
                    break;
                }
                relations.push((schema, name));
                // `FROM a, b`: skip an alias, then continue after a comma.
                let mut k = after;
                while sig.get(k).is_some_and(|x| x.kind != Kind::Comma && !is_keyword(x) && x.kind != Kind::RParen && x.kind != Kind::Semicolon) {
                    k += 1;
                }
                if sig.get(k).is_some_and(|x| x.kind == Kind::Comma) {
                    j = k + 1;
                } else {
                    break;
                }
            }
        }
        i += 1;
    }
    let catalog = |(schema, name): &(Option<String>, String)| match schema {
        Some(s) => s == "pg_catalog" || s == "information_schema",
        None => name.starts_with("pg_") || ctes.contains(name),
    };
    let named: Vec<&(Option<String>, String)> = relations.iter().filter(|r| !(r.0.is_none() && ctes.contains(&r.1))).collect();
    if named.is_empty() {
        Reach::Nothing
    } else if named.iter().all(|r| catalog(r)) {
        Reach::Catalog
    } else {
        Reach::Tables
    }
}


fn is_keyword(t: &Token<'_>) -> bool {
    const KEYWORDS: &[&str] = &[
        "select", "where", "group", "order", "limit", "offset", "union", "intersect", "except", "join", "inner", "left",
        "right", "full", "cross", "natural", "on", "having", "window", "lateral", "only", "set", "values", "using",
        "returning", "as",
    ];
    t.kind == Kind::Word && KEYWORDS.iter().any(|k| t.is_word(k))
}

#[cfg(test)]
mod tests {
    use super::super::lexer::tokenize;
    use super::*;

    fn checked(sql: &str) -> Result<(), SqlError> {
        check(&tokenize(sql).expect("lexes"))
    }

    #[test]
    fn postgresql_features_on_user_tables_are_refused() {
        for sql in [
            "select string_agg(a, ',') from t",
            "select array_agg(a) from s.t",
            "select generate_series(1, 3), a from t",
            "select * from t where a is distinct from 1",
            "select * from t where a is not distinct from 1",
            "select * from (values (1), (2)) v(a) join t on true",
            "select ctid, xmin from t",
            "select array[1, 2] from t",
            "select a[1] from t join u on true where '{1}'::int[] is null",
            "select clock_timestamp(), transaction_timestamp() from t",
            "select overlay(a placing 'x' from 1) from t",
            "select div(7, 2), width_bucket(1, 0, 10, 5) from t",
            "insert into t select unnest(x) from u",
            "values (1), (2)",
            "select array[1, 2]",
            "with c as (select 1 as a) select string_agg(a::text, ',') from c",
        ] {
            let e = checked(sql).expect_err(sql);
            assert_eq!(e.code, "0A000", "{sql}");
            assert!(e.message.starts_with("Specified types or functions"), "{sql}: {}", e.message);
        }
    }

    #[test]
    fn catalog_queries_and_redshift_sql_pass() {
        for sql in [
            "select array_agg(relname) from pg_class",
            "select c.oid, generate_series(1, 2) from pg_catalog.pg_class c join pg_namespace n on n.oid = c.relnamespace",
            "select generate_series(1, 3) from pg_class",
            "select a, count(*) from t group by a",
            "select listagg(a, ',') within group (order by a) from t",
            "select * from t where a is not null",
            "insert into t values (1), (2)",
            "select s.x[0] from t s",
            "select 1::oid from t",
            "select x from rs_emulator.current_database() x",
            "select generate_series(1, 3)",
        ] {
            assert_eq!(checked(sql), Ok(()), "{sql}");
        }
    }
}
