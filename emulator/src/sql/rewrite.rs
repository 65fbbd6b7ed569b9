//! Token-level rewriting of Redshift SQL into the backing PostgreSQL's dialect: identifiers
//! folded, Redshift functions and system views pointed at the emulator's own implementations
//! (schema `rs_emulator`, see `catalog.sql`). Everything else is passed on byte for byte.

use super::lexer::{Kind, Token};
use super::{SqlError, fold_identifier, identifier_text, quote_ident};

/// Session values substituted into the text.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub case_sensitive: bool,
    /// PG_LAST_COPY_COUNT: 0 when no COPY ran in the session or the last one failed.
    /// https://docs.aws.amazon.com/redshift/latest/dg/PG_LAST_COPY_COUNT.html
    pub last_copy_count: i64,
    /// PG_LAST_COPY_ID: -1 when no COPY ran in the session.
    /// https://docs.aws.amazon.com/redshift/latest/dg/PG_LAST_COPY_ID.html
    pub last_copy_id: i64,
    /// The columns of the FROM clauses of the statement being rewritten, where it refers to
    /// select-list aliases (the session asks the backing server): these take priority.
    pub from_columns: Option<std::collections::HashSet<String>>,
    /// The SUPER columns among them (see `navigation`).
    pub super_columns: std::collections::HashSet<String>,
    /// Literals that go into SUPER columns, by the address of their text (see `super_literals`).
    pub super_literals: std::collections::HashSet<usize>,
    /// What BEGIN runs as: `SERIALIZABLE` or `REPEATABLE READ` (snapshot isolation).
    pub isolation: &'static str,
}

/// Redshift system views the emulator provides.
const SYSTEM_VIEWS: &[&str] = &[
    "stl_load_errors",
    "stl_load_commits",
    "sys_load_error_detail",
    "svv_table_info",
    "pg_table_def",
    "stv_db_isolation_level",
    "svv_tables",
    "svv_columns",
    "svv_all_tables",
    "svv_all_columns",
    "svv_external_schemas",
    "svv_external_tables",
    "svv_external_columns",
    "pg_proc_info",
    "svv_relation_privileges",
];

/// Redshift functions that differ from PostgreSQL's and are implemented in `rs_emulator`.
const FUNCTIONS: &[&str] = &[
    "getdate",
    "len",
    "datediff",
    "dateadd",
    "strtol",
    "pg_get_late_binding_view_cols",
    "version",
    "current_database",
    "avg",
    "concat",
    "json_parse",
    "json_serialize",
    "is_valid_json",
    "is_valid_json_array",
    "can_json_parse",
    "json_typeof",
    "is_array",
    "is_object",
    "is_scalar",
    "json_extract_path_text",
    "regexp_replace",
    "regexp_substr",
    "charindex",
];

/// Words that end a FROM item: after a parenthesised subquery, one of these means it has no
/// alias. Redshift accepts `FROM (SELECT …)` without one (drivers send it); PostgreSQL 15 does
/// not, so the emulator names it.
const AFTER_FROM_ITEM: &[&str] = &[
    "where", "group", "order", "limit", "offset", "union", "intersect", "except", "join", "inner", "left", "right",
    "full", "cross", "natural", "on", "having", "window", "qualify",
];

/// Functions whose first argument is a date part written as a bare word (`datediff(day, …)`).
const DATEPART_FUNCTIONS: &[&str] = &["datediff", "dateadd"];

pub fn rewrite(tokens: &[Token<'_>], ctx: &Context) -> Result<String, SqlError> {
    let mut out = String::new();
    let significant: Vec<usize> = (0..tokens.len()).filter(|&i| !tokens[i].is_trivia()).collect();
    // Position in `significant` of each token index, for look-around.
    let mut pos_of = vec![usize::MAX; tokens.len()];
    for (p, &i) in significant.iter().enumerate() {
        pos_of[i] = p;
    }
    let sig = |p: usize| significant.get(p).map(|&i| tokens[i]);
    let mut depth = 0usize;
    // Paren depths of open CAST( … ) calls, and of open subqueries in FROM.
    let mut casts: Vec<usize> = Vec::new();
    let mut subqueries: Vec<usize> = Vec::new();
    let mut aliases = 0;
    let mut laterals = super::lateral::plan(tokens, ctx.from_columns.as_ref()).into_iter().peekable();
    let mut lateral_names = 0;
    let mut column_list: Option<usize> = None;
    let from_names = if ctx.super_columns.is_empty() { Default::default() } else { super::navigation::from_names(tokens) };
    let mut i = 0;
    while i < tokens.len() {
        while let Some(l) = laterals.next_if(|l| l.at <= i) {
            push_lateral(tokens, &l, ctx, &mut lateral_names, &mut out)?;
        }
        let t = tokens[i];
        if ctx.super_literals.contains(&(t.text.as_ptr() as usize)) {
            // A literal written into SUPER is the JSON scalar it spells, a string unless it is a
            // number or a boolean. https://docs.aws.amazon.com/redshift/latest/dg/parse_json.html
            match t.kind {
                Kind::String => out.push_str(&format!("pg_catalog.to_jsonb(CAST({} AS text))", t.text)),
                _ => out.push_str(&format!("pg_catalog.to_jsonb({})", t.text)),
            }
            i += 1;
            continue;
        }
        let p = pos_of[i];
        let prev = if p == usize::MAX || p == 0 { None } else { sig(p - 1) };
        let next = if p == usize::MAX { None } else { sig(p + 1) };
        let qualified = prev.is_some_and(|x| x.kind == Kind::Dot);
        let called = next.is_some_and(|x| x.kind == Kind::LParen);
        match t.kind {
            Kind::LParen => {
                depth += 1;
                if prev.is_some_and(|x| x.is_word("cast")) {
                    casts.push(depth);
                }
                // `pg_get_late_binding_view_cols() cols(… col_type text …)`: a column
                // definition list, where Redshift's TEXT is VARCHAR(256).
                if p >= 4
                    && sig(p - 4).is_some_and(|x| x.is_word("pg_get_late_binding_view_cols"))
                    && sig(p - 2).is_some_and(|x| x.kind == Kind::RParen)
                {
                    column_list = Some(depth);
                }
                if prev.is_some_and(|x| x.is_word("from") || x.is_word("join") || x.kind == Kind::Comma && !subqueries.is_empty())
                    && next.is_some_and(|x| x.is_word("select") || x.is_word("with"))
                {
                    subqueries.push(depth);
                }
                out.push_str(t.text);
                i += 1;
                continue;
            }
            Kind::RParen => {
                out.push_str(t.text);
                if casts.last() == Some(&depth) {
                    casts.pop();
                }
                if column_list == Some(depth) {
                    column_list = None;
                }
                if subqueries.last() == Some(&depth) {
                    subqueries.pop();
                    let unnamed = match next {
                        None => true,
                        Some(x) => {
                            matches!(x.kind, Kind::RParen | Kind::Comma | Kind::Semicolon)
                                || AFTER_FROM_ITEM.iter().any(|w| x.is_word(w))
                        }
                    };
                    if unnamed {
                        aliases += 1;
                        out.push_str(&format!(" AS rs_subquery_{aliases}"));
                    }
                }
                depth = depth.saturating_sub(1);
                i += 1;
                continue;
            }
            Kind::Word | Kind::QuotedIdent
                if !qualified
                    && !ctx.super_columns.is_empty()
                    && let Some((text, after)) = super::navigation::rewrite_path(
                        tokens,
                        &significant,
                        p,
                        &ctx.super_columns,
                        &from_names,
                        ctx.case_sensitive,
                    )? =>
            {
                out.push_str(&text);
                i = significant[after - 1] + 1;
                continue;
            }
            Kind::Word => {
                let lower = t.text.to_ascii_lowercase();
                // A type name where a cast names one (`x::varbyte`, `CAST(x AS decimal)`).
                let type_position = !qualified
                    && prev.is_some_and(|x| (x.kind == Kind::Op && x.text == "::") || (x.is_word("as") && casts.last() == Some(&depth)));
                // pg_class.relhasoids is in Redshift's catalog (PostgreSQL 8.0) and not in
                // PostgreSQL 15's; psql asks for it from a server that reports version 8.0.2.
                if next.is_some_and(|x| x.kind == Kind::Dot) && sig(p + 2).is_some_and(|x| x.is_word("relhasoids")) {
                    out.push_str("false");
                    i = significant[p + 2] + 1;
                    continue;
                }
                if !qualified && lower == "relhasoids" {
                    out.push_str("false");
                    i += 1;
                    continue;
                }
                if column_list.is_some() && lower == "text" {
                    out.push_str("character varying");
                    i += 1;
                    continue;
                }
                if type_position && let Some(pg) = cast_type(&lower, called) {
                    out.push_str(pg);
                    i += 1;
                    continue;
                }
                if !qualified
                    && called
                    && lower == "extract"
                    && let Some(consumed) = rewrite_extract(tokens, &significant, p, ctx, &mut out)?
                {
                    i = consumed;
                    continue;
                }
                if !qualified
                    && called
                    && lower == "listagg"
                    && let Some(consumed) = rewrite_listagg(tokens, &significant, p, ctx, &mut out)?
                {
                    i = consumed;
                    continue;
                }
                if !qualified && called && (lower == "pg_last_copy_count" || lower == "pg_last_copy_id") {
                    // Replace `name ( )` with the session's value.
                    let close = sig(p + 2);
                    if close.is_some_and(|x| x.kind == Kind::RParen) {
                        if lower == "pg_last_copy_count" {
                            out.push_str(&format!("CAST({} AS BIGINT)", ctx.last_copy_count));
                        } else {
                            out.push_str(&format!("CAST({} AS INTEGER)", ctx.last_copy_id));
                        }
                        i = significant[p + 2] + 1;
                        continue;
                    }
                    return Err(SqlError::syntax(format!("function {lower}() takes no arguments")));
                }
                if !qualified && called && FUNCTIONS.contains(&lower.as_str()) {
                    out.push_str("rs_emulator.");
                    out.push_str(&lower);
                    if DATEPART_FUNCTIONS.contains(&lower.as_str()) {
                        // `datediff ( day ,` → `datediff ( 'day' ,`
                        let part = sig(p + 2);
                        let comma = sig(p + 3);
                        if let (Some(part), Some(comma)) = (part, comma)
                            && part.kind == Kind::Word
                            && comma.kind == Kind::Comma
                        {
                            let (lparen, word) = (significant[p + 1], significant[p + 2]);
                            push_between(tokens, i + 1, lparen, &mut out);
                            out.push('(');
                            push_between(tokens, lparen + 1, word, &mut out);
                            out.push_str(&format!("'{}'", part.text.to_ascii_lowercase()));
                            i = significant[p + 2] + 1;
                            continue;
                        }
                    }
                    i += 1;
                    continue;
                }
                if !qualified && !called && lower == "sysdate" {
                    out.push_str("rs_emulator.sysdate()");
                    i += 1;
                    continue;
                }
                if !called && SYSTEM_VIEWS.contains(&lower.as_str()) {
                    if !qualified {
                        out.push_str("rs_emulator.");
                    }
                    out.push_str(&lower);
                    i += 1;
                    continue;
                }
                if lower == "pg_catalog"
                    && next.is_some_and(|x| x.kind == Kind::Dot)
                    && sig(p + 2).is_some_and(|x| {
                        x.kind == Kind::Word && SYSTEM_VIEWS.contains(&x.text.to_ascii_lowercase().as_str())
                    })
                {
                    out.push_str("rs_emulator");
                    i += 1;
                    continue;
                }
                if lower == "nvl" && called && !qualified {
                    out.push_str("coalesce");
                    i += 1;
                    continue;
                }
                out.push_str(&fold_identifier(t.text, false)?);
            }
            Kind::QuotedIdent => {
                let name = identifier_text(&t)
                    .ok_or_else(|| SqlError::unsupported("U&\"…\" identifiers are not supported by the emulator"))?;
                out.push_str(&quote_ident(&fold_identifier(&name, ctx.case_sensitive)?));
            }
            Kind::Number => {
                out.push_str(t.text);
                // `THEN 4when`: PostgreSQL 15 refuses a number run into a word, Redshift (and
                // PostgreSQL before 15) reads two tokens; AWS's own driver sends such text.
                if tokens.get(i + 1).is_some_and(|n| n.kind == Kind::Word) {
                    out.push(' ');
                }
            }
            _ => out.push_str(t.text),
        }
        i += 1;
    }
    for l in laterals {
        push_lateral(tokens, &l, ctx, &mut lateral_names, &mut out)?;
    }
    Ok(out)
}

/// The LATERAL joins that give a SELECT's referenced aliases as columns (see `lateral`).
fn push_lateral(
    tokens: &[Token<'_>],
    l: &super::lateral::Lateral,
    ctx: &Context,
    counter: &mut usize,
    out: &mut String,
) -> Result<(), SqlError> {
    for (alias, range) in &l.aliases {
        *counter += 1;
        let expr = rewrite(&tokens[range.clone()], ctx)?;
        out.push_str(&format!(" CROSS JOIN LATERAL (SELECT {expr} AS {}) AS rs_lateral_{counter} ", quote_ident(alias)));
    }
    Ok(())
}

/// `LISTAGG( [DISTINCT] expr [, 'delimiter'] ) [WITHIN GROUP (ORDER BY …)]` →
/// `rs_emulator.listagg_limit(string_agg([DISTINCT] CAST(expr AS VARCHAR), delimiter [ORDER BY …]))`:
/// the values concatenated as VARCHAR, and "If the result set is larger than the maximum VARCHAR
/// size (64K – 1, or 65535), then LISTAGG returns the following error".
/// https://docs.aws.amazon.com/redshift/latest/dg/r_LISTAGG.html
/// Returns the token index after the call, or None when its shape is not this one.
fn rewrite_listagg(
    tokens: &[Token<'_>],
    significant: &[usize],
    p: usize,
    ctx: &Context,
    out: &mut String,
) -> Result<Option<usize>, SqlError> {
    let get = |q: usize| significant.get(q).map(|&i| tokens[i]);
    // The arguments: from the opening parenthesis at p + 1 to its match.
    let mut depth = 0;
    let mut commas = Vec::new();
    let mut close = None;
    for q in p + 1..significant.len() {
        let Some(t) = get(q) else { break };
        match t.kind {
            Kind::LParen => depth += 1,
            Kind::RParen => {
                depth -= 1;
                if depth == 0 {
                    close = Some(q);
                    break;
                }
            }
            Kind::Comma if depth == 1 => commas.push(q),
            _ => {}
        }
    }
    let Some(close) = close else { return Ok(None) };
    if commas.len() > 1 {
        return Ok(None);
    }
    let mut expr_start = p + 2;
    let distinct = get(expr_start).is_some_and(|t| t.is_word("distinct"));
    if distinct {
        expr_start += 1;
    }
    let expr_end = commas.first().copied().unwrap_or(close);
    if expr_start >= expr_end {
        return Ok(None);
    }
    let text = |from: usize, to: usize| -> Result<String, SqlError> {
        rewrite(&tokens[significant[from]..significant[to - 1] + 1], ctx)
    };
    let expr = text(expr_start, expr_end)?;
    let delimiter = match commas.first() {
        Some(&c) if c + 1 < close => text(c + 1, close)?,
        _ => "''".to_string(),
    };
    // WITHIN GROUP ( ORDER BY … )
    let mut end = close + 1;
    let mut order = String::new();
    if get(close + 1).is_some_and(|t| t.is_word("within"))
        && get(close + 2).is_some_and(|t| t.is_word("group"))
        && get(close + 3).is_some_and(|t| t.kind == Kind::LParen)
        && get(close + 4).is_some_and(|t| t.is_word("order"))
    {
        let mut depth = 0;
        let mut group_close = None;
        for q in close + 3..significant.len() {
            match get(q).map(|t| t.kind) {
                Some(Kind::LParen) => depth += 1,
                Some(Kind::RParen) => {
                    depth -= 1;
                    if depth == 0 {
                        group_close = Some(q);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(group_close) = group_close else { return Ok(None) };
        order = format!(" {}", text(close + 4, group_close)?);
        end = group_close + 1;
    }
    let distinct = if distinct { "DISTINCT " } else { "" };
    out.push_str(&format!(
        "rs_emulator.listagg_limit(string_agg({distinct}CAST({expr} AS VARCHAR), {delimiter}{order}))"
    ));
    Ok(Some(significant[end - 1] + 1))
}

/// The backing type for a Redshift type name in a cast, when it differs.
fn cast_type(name: &str, has_typmod: bool) -> Option<&'static str> {
    match name {
        // https://docs.aws.amazon.com/redshift/latest/dg/r_VARBYTE_type.html (VARBINARY and
        // BINARY VARYING are its aliases)
        "varbyte" | "varbinary" => Some("rs_emulator.varbyte"),
        "super" => Some("rs_emulator.super"),
        // "The default precision, if not specified, is 18"; "The default scale, if not
        // specified, is 0." https://docs.aws.amazon.com/redshift/latest/dg/r_Numeric_types201.html
        "decimal" | "numeric" if !has_typmod => Some("numeric(18,0)"),
        _ => None,
    }
}

/// Copies the trivia between token index `from` (inclusive) and `to` (exclusive).
fn push_between(tokens: &[Token<'_>], from: usize, to: usize, out: &mut String) {
    for t in &tokens[from..to] {
        out.push_str(t.text);
    }
}

/// `EXTRACT ( field FROM expr )` → `rs_emulator.extract_epoch(expr)` or
/// `rs_emulator.extract_part('field', expr)`: Redshift's EXTRACT returns "INTEGER if the source
/// value evaluates to data type TIMESTAMP, TIME, TIMETZ, INTERVAL …; DOUBLE PRECISION if the
/// source value evaluates to data type TIMESTAMPTZ" (PostgreSQL returns numeric).
/// https://docs.aws.amazon.com/redshift/latest/dg/r_EXTRACT_function.html
/// Returns the token index after the field and FROM, with the call opened, or None when the
/// shape is not `extract(word from …)`.
fn rewrite_extract(
    tokens: &[Token<'_>],
    significant: &[usize],
    p: usize,
    _ctx: &Context,
    out: &mut String,
) -> Result<Option<usize>, SqlError> {
    let get = |q: usize| significant.get(q).map(|&i| tokens[i]);
    let (Some(field), Some(from)) = (get(p + 2), get(p + 3)) else {
        return Ok(None);
    };
    if !(matches!(field.kind, Kind::Word | Kind::String) && from.is_word("from")) {
        return Ok(None);
    }
    let name = match field.kind {
        Kind::String => field.text.trim_matches('\'').to_ascii_lowercase(),
        _ => field.text.to_ascii_lowercase(),
    };
    if name == "epoch" {
        out.push_str("rs_emulator.extract_epoch(");
    } else {
        out.push_str(&format!("rs_emulator.extract_part('{}', ", name.replace('\'', "")));
    }
    Ok(Some(significant[p + 3] + 1))
}

#[cfg(test)]
mod tests {
    use super::super::lexer::tokenize;
    use super::*;

    fn rw(sql: &str) -> String {
        rewrite(&tokenize(sql).unwrap(), &Context { last_copy_id: -1, ..Context::default() }).unwrap()
    }

    #[test]
    fn identifiers_fold_even_when_quoted() {
        assert_eq!(rw("SELECT \"MyCol\" FROM Public.\"T\" -- Keep\n"), "select \"mycol\" from public.\"t\" -- Keep\n");
        assert_eq!(rw("select 'Keep Me', $$Also$$"), "select 'Keep Me', $$Also$$");
    }

    #[test]
    fn functions_and_views() {
        assert_eq!(rw("select getdate(), len(x), nvl(a, 1)"), "select rs_emulator.getdate(), rs_emulator.len(x), coalesce(a, 1)");
        assert_eq!(rw("select datediff(day, a, b)"), "select rs_emulator.datediff('day', a, b)");
        assert_eq!(rw("select datediff( Day , a, b)"), "select rs_emulator.datediff( 'day' , a, b)");
        assert_eq!(
            rw("select extract(epoch from t), EXTRACT(year FROM t) from x"),
            "select rs_emulator.extract_epoch( t), rs_emulator.extract_part('year',  t) from x"
        );
        assert_eq!(rw("select pg_last_copy_count(), pg_last_copy_id()"), "select CAST(0 AS BIGINT), CAST(-1 AS INTEGER)");
        assert_eq!(
            rw("select * from stl_load_errors, pg_catalog.svv_table_info"),
            "select * from rs_emulator.stl_load_errors, rs_emulator.svv_table_info"
        );
        assert_eq!(rw("select sysdate, s.len(x)"), "select rs_emulator.sysdate(), s.len(x)");
        assert_eq!(rw("select version(), current_database()"), "select rs_emulator.version(), rs_emulator.current_database()");
    }

    #[test]
    fn cast_types() {
        assert_eq!(rw("select 'abc'::varbyte, cast(x as decimal), y::numeric(5,2)"),
            "select 'abc'::rs_emulator.varbyte, cast(x as numeric(18,0)), y::numeric(5,2)");
        assert_eq!(rw("select x as decimal from t"), "select x as decimal from t");
    }

    #[test]
    fn late_binding_view_columns_take_text_as_varchar() {
        assert_eq!(
            rw("select * from pg_get_late_binding_view_cols() c(s name, t text, n int) where t::text = 'x'"),
            "select * from rs_emulator.pg_get_late_binding_view_cols() c(s name, t character varying, n int) where t::text = 'x'"
        );
    }

    #[test]
    fn listagg_is_string_agg_within_its_limit() {
        assert_eq!(
            rw("select listagg(name, ', ') within group (order by name desc) from t"),
            "select rs_emulator.listagg_limit(string_agg(CAST(name AS VARCHAR), ', ' order by name desc)) from t"
        );
        assert_eq!(
            rw("select listagg(distinct x) from t"),
            "select rs_emulator.listagg_limit(string_agg(DISTINCT CAST(x AS VARCHAR), '')) from t"
        );
    }

    #[test]
    fn a_number_run_into_a_word_is_two_tokens() {
        assert_eq!(rw("select case when a then 4else 5end from t"), "select case when a then 4 else 5 end from t");
    }

    #[test]
    fn lateral_alias_references() {
        assert_eq!(
            rw("select a + 1 as b, b * 2 as c from t where c > 1"),
            "select a + 1 as b, b * 2 as c from t  CROSS JOIN LATERAL (SELECT a + 1 AS \"b\") AS rs_lateral_1  \
             CROSS JOIN LATERAL (SELECT b * 2 AS \"c\") AS rs_lateral_2 where c > 1"
        );
        assert_eq!(
            rw("select x as y, y from t"),
            "select x as y, y from t CROSS JOIN LATERAL (SELECT x AS \"y\") AS rs_lateral_1 "
        );
    }

    #[test]
    fn subqueries_in_from_get_a_name() {
        assert_eq!(rw("select * from (select 1) where true"), "select * from (select 1) AS rs_subquery_1 where true");
        assert_eq!(rw("select * from (select 1) s"), "select * from (select 1) s");
        assert_eq!(rw("select * from (select 1)"), "select * from (select 1) AS rs_subquery_1");
        assert_eq!(rw("select * from (a join b on true)"), "select * from (a join b on true)");
        assert_eq!(rw("select (select 1) from t"), "select (select 1) from t");
    }
}
