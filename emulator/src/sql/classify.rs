//! Splits a query string into statements and decides, per statement, what the emulator does
//! with it: pass it on (rewritten), or carry it out itself. A statement Redshift does not have,
//! or that the emulator does not implement, is an error, never a silent pass.

use super::copy_command::{CopyCommand, parse_copy};
use super::create_table::{CreateTable, parse_column_def, parse_create_table};
use super::cursor::{Cursor, QualifiedName};
use super::lexer::{Kind, Token, tokenize};
use super::rewrite::{Context, rewrite};
use super::{SqlError, quote_ident};

#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// Passed on as rewritten.
    Pass(String),
    /// DDL that may change what a late-binding view resolves to: unbind the late-binding views
    /// on `relations` (all of them when None), run `sql`, rebind.
    Ddl { sql: String, relations: Option<Vec<QualifiedName>>, dropped_views: Vec<QualifiedName> },
    CreateTable(Box<CreateTable>),
    /// `add_column` is an ALTER TABLE … ADD COLUMN with its Redshift attributes.
    AddColumn { table: QualifiedName, column: Box<super::create_table::ColumnDef> },
    CreateView { sql: String, name: QualifiedName, late_binding: Option<String> },
    Copy(Box<CopyCommand>),
    Truncate(String),
    AppendTable { target: QualifiedName, source: QualifiedName, mode: AppendMode },
    SetCaseSensitive(bool),
    ShowCaseSensitive,
    /// `LOCK [TABLE] name, …`: tables only. https://docs.aws.amazon.com/redshift/latest/dg/r_LOCK.html
    Lock { sql: String, tables: Vec<QualifiedName> },
    /// `DROP SCHEMA`: only the late-binding views on its relations are unbound around it.
    DropSchema { sql: String, schemas: Vec<String> },
    /// `SELECT … INTO table`: the new table gets Redshift's default attributes.
    /// https://docs.aws.amazon.com/redshift/latest/dg/r_SELECT_INTO.html
    SelectInto { sql: String, table: QualifiedName },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendMode {
    Exact,
    IgnoreExtra,
    FillTarget,
}

/// The statements of a query string, each with its own tokens; empty statements dropped.
pub fn split(sql: &str) -> Result<Vec<Vec<Token<'_>>>, SqlError> {
    let tokens = tokenize(sql)?;
    let mut out = Vec::new();
    let mut current = Vec::new();
    for t in tokens {
        if t.kind == Kind::Semicolon {
            if current.iter().any(|t: &Token<'_>| !t.is_trivia()) {
                out.push(std::mem::take(&mut current));
            } else {
                current.clear();
            }
        } else {
            current.push(t);
        }
    }
    if current.iter().any(|t| !t.is_trivia()) {
        out.push(current);
    }
    Ok(out)
}

/// Words that start statements passed on after rewriting.
const PASS: &[&str] = &[
    "select", "with", "values", "insert", "update", "delete", "begin", "start", "commit", "end", "rollback", "abort",
    "set", "reset", "show", "grant", "revoke", "analyze", "vacuum", "explain", "prepare", "execute",
    "deallocate", "comment", "declare", "fetch", "close", "move",
];

pub fn classify(tokens: &[Token<'_>], ctx: &Context) -> Result<Statement, SqlError> {
    let mut c = Cursor::new(tokens, ctx.case_sensitive);
    let Some(first) = c.peek() else {
        return Ok(Statement::Pass(String::new()));
    };
    if first.kind == Kind::LParen {
        return Ok(Statement::Pass(rewrite(tokens, ctx)?));
    }
    if first.kind != Kind::Word {
        return Err(c.unexpected("a statement"));
    }
    let word = first.text.to_ascii_lowercase();
    if word != "copy" {
        super::dialect::check(tokens)?;
    }
    match word.as_str() {
        "copy" => Ok(Statement::Copy(Box::new(parse_copy(&mut c, ctx)?))),
        "lock" => classify_lock(&mut c, tokens, ctx),
        "create" => classify_create(&mut c, tokens, ctx),
        "drop" => classify_drop(&mut c, tokens, ctx),
        "alter" => classify_alter(&mut c, tokens, ctx),
        "truncate" => Ok(Statement::Truncate(rewrite(tokens, ctx)?)),
        "merge" => {
            check_merge(&mut c)?;
            Ok(Statement::Pass(rewrite(tokens, ctx)?))
        }
        "savepoint" | "release" => Err(SqlError::unsupported(format!("{} is not supported", word.to_uppercase()))),
        "rollback" if c.peek_at(1).is_some_and(|t| t.is_word("to")) => {
            Err(SqlError::unsupported("ROLLBACK TO SAVEPOINT is not supported"))
        }
        "set" | "reset" | "show" if mentions_case_sensitivity(&c) => classify_case_sensitivity(&mut c),
        "show" if c.peek_at(1).is_some_and(|t| t.is_word("view")) => classify_show_view(&mut c),
        // "Amazon Redshift doesn't support the RULE and TRIGGER permissions."
        // https://docs.aws.amazon.com/redshift/latest/dg/r_GRANT.html
        "grant" | "revoke"
            if tokens
                .iter()
                .filter(|t| !t.is_trivia())
                .take_while(|t| !t.is_word("on"))
                .any(|t| t.is_word("trigger") || t.is_word("rule")) =>
        {
            Err(SqlError::unsupported("Amazon Redshift doesn't support the RULE and TRIGGER permissions"))
        }
        "set" | "reset" | "show" if (1..3).any(|k| c.peek_at(k).is_some_and(|t| t.is_word("query_group"))) => {
            classify_query_group(&mut c)
        }
        "begin" | "start" => classify_begin(&mut c, ctx),
        "select" | "with" if selects_into(tokens).is_some() => {
            let at = selects_into(tokens).unwrap_or_default();
            let mut target = Cursor::new(&tokens[at..], ctx.case_sensitive);
            for w in ["temporary", "temp", "unlogged", "table"] {
                target.accept_word(w);
            }
            Ok(Statement::SelectInto { sql: rewrite(tokens, ctx)?, table: target.qualified_name()? })
        }
        w if PASS.contains(&w) => Ok(Statement::Pass(rewrite(tokens, ctx)?)),
        _ => Err(SqlError::unsupported(format!(
            "{} statements are not supported by the Redshift emulator",
            word.to_uppercase()
        ))),
    }
}

/// `LOCK [ TABLE ] table_name [, ...]`: no lock mode and no NOWAIT in Redshift.
/// https://docs.aws.amazon.com/redshift/latest/dg/r_LOCK.html
fn classify_lock(c: &mut Cursor<'_, '_>, tokens: &[Token<'_>], ctx: &Context) -> Result<Statement, SqlError> {
    c.expect_word("lock")?;
    c.accept_word("table");
    let mut tables = vec![c.qualified_name()?];
    while c.accept_kind(Kind::Comma) {
        tables.push(c.qualified_name()?);
    }
    c.expect_end()?;
    Ok(Statement::Lock { sql: rewrite(tokens, ctx)?, tables })
}

/// `BEGIN [WORK | TRANSACTION] [ISOLATION LEVEL …] [READ WRITE | READ ONLY]` or `START
/// TRANSACTION …`: "the isolation level … is accepted but ignored"; every transaction block runs
/// at the database's level. https://docs.aws.amazon.com/redshift/latest/dg/r_BEGIN.html
fn classify_begin(c: &mut Cursor<'_, '_>, ctx: &Context) -> Result<Statement, SqlError> {
    if c.accept_word("start") {
        c.expect_word("transaction")?;
    } else {
        c.expect_word("begin")?;
        if !c.accept_word("work") {
            c.accept_word("transaction");
        }
    }
    let mut access = "";
    while !c.at_end() {
        if c.accept_words(&["isolation", "level"]) {
            let level_ok = c.accept_word("serializable")
                || c.accept_words(&["repeatable", "read"])
                || c.accept_words(&["read", "committed"])
                || c.accept_words(&["read", "uncommitted"]);
            if !level_ok {
                return Err(c.unexpected("an isolation level"));
            }
        } else if c.accept_words(&["read", "write"]) {
            access = " READ WRITE";
        } else if c.accept_words(&["read", "only"]) {
            access = " READ ONLY";
        } else {
            return Err(c.unexpected("ISOLATION LEVEL, READ WRITE or READ ONLY"));
        }
        c.accept_kind(Kind::Comma);
    }
    let level = if ctx.isolation.is_empty() { "SERIALIZABLE" } else { ctx.isolation };
    Ok(Statement::Pass(format!("BEGIN ISOLATION LEVEL {level}{access}")))
}

/// `SELECT … INTO table …` (an INTO outside parentheses that no INSERT introduces): the index
/// of the token after INTO.
fn selects_into(tokens: &[Token<'_>]) -> Option<usize> {
    let mut depth = 0i32;
    let mut prev: Option<Token<'_>> = None;
    for (i, t) in tokens.iter().enumerate().filter(|(_, t)| !t.is_trivia()) {
        match t.kind {
            Kind::LParen => depth += 1,
            Kind::RParen => depth -= 1,
            _ if depth == 0 && t.is_word("into") && !prev.is_some_and(|p| p.is_word("insert")) => return Some(i + 1),
            _ => {}
        }
        prev = Some(*t);
    }
    None
}

fn mentions_case_sensitivity(c: &Cursor<'_, '_>) -> bool {
    (1..4).any(|k| c.peek_at(k).is_some_and(|t| t.is_word("enable_case_sensitive_identifier")))
}

/// `SHOW VIEW [schema.]view`: "the definition of a view, including for … late-binding views. You
/// can use the output … to recreate the view": the SELECT, ending in a semicolon, one row.
/// https://docs.aws.amazon.com/redshift/latest/dg/r_SHOW_VIEW.html
fn classify_show_view(c: &mut Cursor<'_, '_>) -> Result<Statement, SqlError> {
    c.expect_word("show")?;
    c.expect_word("view")?;
    let view = c.qualified_name()?;
    c.expect_end()?;
    let name = super::quote_literal(&view.name);
    // Unqualified: the first schema of the search_path that holds a view of that name.
    let schema = match &view.schema {
        Some(s) => super::quote_literal(s),
        None => format!(
            "(SELECT n.nspname::text FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
              WHERE c.relkind = 'v' AND c.relname = {name} AND pg_catalog.pg_table_is_visible(c.oid) LIMIT 1)"
        ),
    };
    let missing = super::quote_literal(&format!("relation \"{}\" does not exist", view.name));
    // A late-binding view is kept as its text; an ordinary one is printed from the catalog.
    Ok(Statement::Pass(format!(
        "SELECT coalesce(\
           (SELECT rtrim(btrim(lv.definition), ';') || ';' FROM rs_emulator.late_views lv WHERE lv.schemaname = {schema} AND lv.viewname = {name}), \
           (SELECT rtrim(btrim(pg_catalog.pg_get_viewdef(c.oid)), ';') || ';' FROM pg_catalog.pg_class c \
              JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind = 'v' AND n.nspname = {schema} AND c.relname = {name}), \
           rs_emulator.raise_text('42P01', {missing})) AS \"Show View DDL statement\""
    )))
}

/// `SET query_group TO 'label'`, `RESET query_group`, `SHOW query_group`: a WLM label, kept in
/// a setting of the emulator's own (PostgreSQL has no query_group).
/// https://docs.aws.amazon.com/redshift/latest/dg/r_query_group.html
fn classify_query_group(c: &mut Cursor<'_, '_>) -> Result<Statement, SqlError> {
    const SETTING: &str = "rs_emulator.query_group";
    if c.accept_word("show") {
        c.expect_word("query_group")?;
        c.expect_end()?;
        return Ok(Statement::Pass(format!("SELECT coalesce(nullif(current_setting('{SETTING}', true), ''), 'default') AS query_group")));
    }
    if c.accept_word("reset") {
        c.expect_word("query_group")?;
        c.expect_end()?;
        return Ok(Statement::Pass(format!("RESET {SETTING}")));
    }
    c.expect_word("set")?;
    c.accept_word("session");
    c.expect_word("query_group")?;
    if !c.accept_word("to") {
        c.expect_kind(Kind::Op, "TO or =")?;
    }
    let value = match c.advance() {
        Some(t) if t.kind == Kind::String || t.kind == Kind::Word => t.text.to_string(),
        _ => return Err(SqlError::invalid("query_group takes a label")),
    };
    c.expect_end()?;
    let value = if value.starts_with('\'') { value } else { super::quote_literal(&value) };
    Ok(Statement::Pass(format!("SET {SETTING} TO {value}")))
}

/// `SET enable_case_sensitive_identifier TO true|false`, `RESET …`, `SHOW …`.
/// https://docs.aws.amazon.com/redshift/latest/dg/r_enable_case_sensitive_identifier.html
fn classify_case_sensitivity(c: &mut Cursor<'_, '_>) -> Result<Statement, SqlError> {
    if c.accept_word("show") {
        c.expect_word("enable_case_sensitive_identifier")?;
        c.expect_end()?;
        return Ok(Statement::ShowCaseSensitive);
    }
    if c.accept_word("reset") {
        c.expect_word("enable_case_sensitive_identifier")?;
        c.expect_end()?;
        return Ok(Statement::SetCaseSensitive(false));
    }
    c.expect_word("set")?;
    c.accept_word("session");
    c.expect_word("enable_case_sensitive_identifier")?;
    if !c.accept_word("to") {
        c.expect_kind(Kind::Op, "TO or =")?;
    }
    let value = match c.advance() {
        Some(t) if t.is_word("true") || t.is_word("on") => true,
        Some(t) if t.is_word("false") || t.is_word("off") => false,
        Some(t) if t.kind == Kind::String && matches!(t.text, "'true'" | "'on'") => true,
        Some(t) if t.kind == Kind::String && matches!(t.text, "'false'" | "'off'") => false,
        _ => return Err(SqlError::invalid("enable_case_sensitive_identifier takes true or false")),
    };
    c.expect_end()?;
    Ok(Statement::SetCaseSensitive(value))
}

fn classify_create(c: &mut Cursor<'_, '_>, tokens: &[Token<'_>], ctx: &Context) -> Result<Statement, SqlError> {
    let start = c.position();
    c.expect_word("create")?;
    let or_replace = c.accept_words(&["or", "replace"]);
    if c.peek_word("view") {
        return classify_create_view(c, ctx, or_replace);
    }
    if or_replace {
        return Err(c.unexpected("VIEW"));
    }
    // CREATE GROUP name [ [ WITH ] USER username [, …] ]: PostgreSQL's own form.
    // https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_GROUP.html
    if c.peek_word("schema") || c.peek_word("group") {
        return Ok(Statement::Pass(rewrite(tokens, ctx)?));
    }
    c.set_position(start);
    if ["table", "temp", "temporary", "local"].iter().any(|w| c.peek_at(1).is_some_and(|t| t.is_word(w))) {
        return Ok(Statement::CreateTable(Box::new(parse_create_table(c, ctx)?)));
    }
    let what = c.peek_at(1).map(|t| t.text.to_uppercase()).unwrap_or_default();
    Err(SqlError::unsupported(format!("CREATE {what} is not supported by the Redshift emulator")))
}

/// `CREATE [OR REPLACE] VIEW name [(cols)] AS query [WITH NO SCHEMA BINDING]`.
/// Late-binding views: "tables and views referenced in the SELECT statement must be qualified
/// with a schema name"; "If you drop underlying objects, queries to the late-binding view will
/// fail." https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_VIEW.html
fn classify_create_view(c: &mut Cursor<'_, '_>, ctx: &Context, or_replace: bool) -> Result<Statement, SqlError> {
    c.expect_word("view")?;
    let name = c.qualified_name()?;
    let cols_start = c.position();
    if c.accept_kind(Kind::LParen) {
        loop {
            c.ident()?;
            if !c.accept_kind(Kind::Comma) {
                break;
            }
        }
        c.expect_kind(Kind::RParen, ")")?;
    }
    let cols = c.rewritten(cols_start, c.position(), ctx)?;
    c.expect_word("as")?;
    let query_start = c.position();
    let end = c.end();
    let late = end >= 4 && {
        c.set_position(end - 4);
        c.accept_words(&["with", "no", "schema", "binding"])
    };
    let query_end = if late { end - 4 } else { end };
    if query_start >= query_end {
        c.set_position(query_start);
        return Err(c.unexpected("a query"));
    }
    let query = c.rewritten(query_start, query_end, ctx)?;
    let head = if or_replace { "CREATE OR REPLACE VIEW" } else { "CREATE VIEW" };
    let sql = format!("{head} {} {cols} AS {query}", name.sql());
    if late {
        check_qualified_relations(&query)?;
    }
    Ok(Statement::CreateView {
        sql,
        name,
        late_binding: late.then(|| format!("{cols} AS {query}")),
    })
}

/// Every relation after FROM or JOIN in a late-binding view's query must be schema-qualified.
fn check_qualified_relations(query: &str) -> Result<(), SqlError> {
    let tokens = tokenize(query)?;
    let sig: Vec<Token<'_>> = tokens.into_iter().filter(|t| !t.is_trivia()).collect();
    for (k, t) in sig.iter().enumerate() {
        if !(t.is_word("from") || t.is_word("join")) {
            continue;
        }
        let Some(next) = sig.get(k + 1) else { continue };
        if !matches!(next.kind, Kind::Word | Kind::QuotedIdent) || next.is_word("lateral") {
            continue;
        }
        if !sig.get(k + 2).is_some_and(|d| d.kind == Kind::Dot) {
            return Err(SqlError {
                code: "42P01",
                message: format!(
                    "All the relations in late binding view should be qualified with a schema name: {}",
                    next.text
                ),
            });
        }
    }
    Ok(())
}

fn classify_drop(c: &mut Cursor<'_, '_>, tokens: &[Token<'_>], ctx: &Context) -> Result<Statement, SqlError> {
    c.expect_word("drop")?;
    let kind = c.advance().map(|t| t.text.to_ascii_lowercase()).unwrap_or_default();
    match kind.as_str() {
        "table" | "view" => {
            let names = drop_targets(c, |c| c.qualified_name())?;
            let dropped_views = if kind == "view" { names.clone() } else { Vec::new() };
            Ok(Statement::Ddl { sql: rewrite(tokens, ctx)?, relations: Some(names), dropped_views })
        }
        "schema" => {
            let schemas = drop_targets(c, |c| c.ident())?;
            Ok(Statement::DropSchema { sql: rewrite(tokens, ctx)?, schemas })
        }
        // https://docs.aws.amazon.com/redshift/latest/dg/r_DROP_GROUP.html
        "group" => Ok(Statement::Pass(rewrite(tokens, ctx)?)),
        other => Err(SqlError::unsupported(format!(
            "DROP {} is not supported by the Redshift emulator",
            other.to_uppercase()
        ))),
    }
}

/// The rest of `DROP <kind> [IF EXISTS] name [, …] [CASCADE | RESTRICT]`: the names.
fn drop_targets<'t, 'a, T>(
    c: &mut Cursor<'t, 'a>,
    mut name: impl FnMut(&mut Cursor<'t, 'a>) -> Result<T, SqlError>,
) -> Result<Vec<T>, SqlError> {
    c.accept_words(&["if", "exists"]);
    let mut names = vec![name(c)?];
    while c.accept_kind(Kind::Comma) {
        names.push(name(c)?);
    }
    if !(c.accept_word("cascade") || c.accept_word("restrict")) {
        c.expect_end()?;
    }
    c.expect_end()?;
    Ok(names)
}

fn classify_alter(c: &mut Cursor<'_, '_>, tokens: &[Token<'_>], ctx: &Context) -> Result<Statement, SqlError> {
    c.expect_word("alter")?;
    if c.accept_word("schema") || c.accept_word("view") {
        return Ok(Statement::Ddl { sql: rewrite(tokens, ctx)?, relations: None, dropped_views: Vec::new() });
    }
    if !c.accept_word("table") {
        let what = c.peek().map(|t| t.text.to_uppercase()).unwrap_or_default();
        return Err(SqlError::unsupported(format!("ALTER {what} is not supported by the Redshift emulator")));
    }
    let table = c.qualified_name()?;
    if c.accept_word("append") {
        // https://docs.aws.amazon.com/redshift/latest/dg/r_ALTER_TABLE_APPEND.html
        c.expect_word("from")?;
        let source = c.qualified_name()?;
        let mode = if c.accept_word("ignoreextra") {
            AppendMode::IgnoreExtra
        } else if c.accept_word("filltarget") {
            AppendMode::FillTarget
        } else {
            AppendMode::Exact
        };
        c.expect_end()?;
        return Ok(Statement::AppendTable { target: table, source, mode });
    }
    let ddl = |c: &Cursor<'_, '_>| -> Result<Statement, SqlError> {
        c.expect_end()?;
        Ok(Statement::Ddl { sql: rewrite(tokens, ctx)?, relations: Some(vec![table.clone()]), dropped_views: Vec::new() })
    };
    if c.accept_word("rename") {
        if c.accept_word("to") {
            c.ident()?;
        } else {
            c.accept_word("column");
            c.ident()?;
            c.expect_word("to")?;
            c.ident()?;
        }
        return ddl(c);
    }
    if c.accept_words(&["owner", "to"]) {
        c.ident()?;
        return ddl(c);
    }
    if c.accept_word("drop") {
        c.accept_word("column");
        c.ident()?;
        if !c.accept_word("cascade") {
            c.accept_word("restrict");
        }
        return ddl(c);
    }
    if c.accept_word("add") {
        c.accept_word("column");
        let column = parse_column_def(c, ctx)?;
        c.expect_end()?;
        return Ok(Statement::AddColumn { table, column: Box::new(column) });
    }
    Err(SqlError::unsupported(format!(
        "this ALTER TABLE form is not supported by the Redshift emulator (supported: RENAME, OWNER TO, ADD COLUMN, DROP COLUMN, APPEND FROM){}",
        c.peek().map(|t| format!(", near \"{}\"", t.text)).unwrap_or_default()
    )))
}

/// Redshift's MERGE: `MERGE INTO target USING source [[AS] alias] ON cond WHEN MATCHED THEN
/// {UPDATE SET … | DELETE} WHEN NOT MATCHED THEN INSERT …`, exactly one of each clause and no
/// extra conditions, or `REMOVE DUPLICATES` (not implemented here).
/// https://docs.aws.amazon.com/redshift/latest/dg/r_MERGE.html
fn check_merge(c: &mut Cursor<'_, '_>) -> Result<(), SqlError> {
    c.expect_word("merge")?;
    c.expect_word("into")?;
    let mut depth = 0i32;
    let (mut matched, mut not_matched) = (0, 0);
    while let Some(t) = c.advance() {
        match t.kind {
            Kind::LParen => depth += 1,
            Kind::RParen => depth -= 1,
            Kind::Word if depth == 0 && t.is_word("remove") && c.peek_word("duplicates") => {
                return Err(SqlError::unsupported("MERGE … REMOVE DUPLICATES is not supported by the Redshift emulator"));
            }
            Kind::Word if depth == 0 && t.is_word("when") => {
                if c.accept_words(&["matched", "then"]) {
                    matched += 1;
                    if !(c.peek_word("update") || c.peek_word("delete")) {
                        return Err(c.unexpected("UPDATE or DELETE"));
                    }
                } else if c.accept_words(&["not", "matched", "then"]) {
                    not_matched += 1;
                    if !c.peek_word("insert") {
                        return Err(c.unexpected("INSERT"));
                    }
                } else {
                    return Err(SqlError::syntax(
                        "MERGE allows only WHEN MATCHED THEN and WHEN NOT MATCHED THEN, without further conditions",
                    ));
                }
            }
            _ => {}
        }
    }
    if matched != 1 || not_matched != 1 {
        return Err(SqlError::syntax(
            "MERGE needs exactly one WHEN MATCHED THEN clause and one WHEN NOT MATCHED THEN INSERT clause",
        ));
    }
    Ok(())
}

/// `schema.name` quoted, for catalog lookups (`to_regclass`).
pub fn regclass_literal(name: &QualifiedName) -> String {
    let text = match &name.schema {
        Some(s) => format!("{}.{}", quote_ident(s), quote_ident(&name.name)),
        None => quote_ident(&name.name),
    };
    super::quote_literal(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(sql: &str) -> Result<Statement, SqlError> {
        let stmts = split(sql)?;
        classify(&stmts[0], &Context::default())
    }

    #[test]
    fn splits_on_semicolons_outside_literals() {
        let s = split("select ';'; ; select 2;").unwrap();
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn begin_runs_at_the_databases_isolation_level() {
        assert_eq!(one("begin").unwrap(), Statement::Pass("BEGIN ISOLATION LEVEL SERIALIZABLE".into()));
        assert_eq!(
            one("BEGIN TRANSACTION ISOLATION LEVEL READ COMMITTED, READ ONLY").unwrap(),
            Statement::Pass("BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY".into())
        );
        assert_eq!(one("start transaction").unwrap(), Statement::Pass("BEGIN ISOLATION LEVEL SERIALIZABLE".into()));
        assert!(one("begin nonsense").is_err());
    }

    #[test]
    fn unknown_statements_are_errors() {
        assert_eq!(one("CREATE FUNCTION f() …").unwrap_err().code, "0A000");
        assert_eq!(one("savepoint a").unwrap_err().code, "0A000");
        assert_eq!(one("listen x").unwrap_err().code, "0A000");
        assert_eq!(one("alter table t set logged").unwrap_err().code, "0A000");
    }

    #[test]
    fn late_binding_views() {
        let s = one("create view V as select * from Public.T with no schema binding").unwrap();
        let Statement::CreateView { sql, late_binding, name } = s else { panic!() };
        assert_eq!(name.name, "v");
        assert_eq!(sql, "CREATE VIEW \"v\"  AS select * from public.t");
        assert_eq!(late_binding.as_deref(), Some(" AS select * from public.t"));
        assert_eq!(
            one("create view v as select * from t with no schema binding").unwrap_err().code,
            "42P01"
        );
    }

    #[test]
    fn merge_limits() {
        assert!(one("merge into t using s on t.id = s.id when matched then update set a = s.a when not matched then insert values (s.id, s.a)").is_ok());
        assert!(one("merge into t using s on t.id = s.id when matched and s.a > 1 then delete when not matched then insert values (1)").is_err());
        assert!(one("merge into t using s on t.id = s.id when matched then delete").is_err());
    }

    #[test]
    fn alter_table_forms() {
        assert!(matches!(one("alter table a append from b").unwrap(), Statement::AppendTable { mode: AppendMode::Exact, .. }));
        assert!(matches!(one("alter table a rename to b").unwrap(), Statement::Ddl { .. }));
        assert!(matches!(one("alter table a add column c varchar(10) encode zstd").unwrap(), Statement::AddColumn { .. }));
    }
}
