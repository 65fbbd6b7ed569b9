//! SUPER navigation: `col.attr`, `alias.col.attr[0].other` read into a SUPER value's objects
//! and arrays ("Amazon Redshift uses PartiQL to enable navigation into arrays and structures
//! using the […] bracket and dot notation respectively").
//! https://docs.aws.amazon.com/redshift/latest/dg/query-super.html
//!
//! PostgreSQL reads `a.b.c` as schema, table and column, so a dotted path into a SUPER column
//! becomes `(col -> 'attr')`. Which names are SUPER columns comes from the backing server (the
//! session describes the statement's FROM clauses first, see `Context::super_columns`); a name
//! that is also a FROM item or alias stays a table reference. Attribute names fold to lowercase
//! unless quoted, as identifiers do ("enable_case_sensitive_super_attribute" is off by default).
//! A path that reaches no SUPER column is left as it was.

use std::collections::HashSet;

use super::lexer::{Kind, Token};
use super::{SqlError, fold_identifier, identifier_text, name_key, quote_ident, quote_literal};

/// The names a statement's FROM clauses introduce (relations and their aliases), lowercased:
/// a dotted path that starts with one of these is a table reference first.
pub fn from_names(tokens: &[Token<'_>]) -> HashSet<String> {
    let sig: Vec<Token<'_>> = tokens.iter().copied().filter(|t| !t.is_trivia()).collect();
    let mut names = HashSet::new();
    let mut in_from = false;
    for (i, t) in sig.iter().enumerate() {
        if t.is_word("from") || t.is_word("join") || t.is_word("update") || t.is_word("into") {
            in_from = true;
            continue;
        }
        if t.kind == Kind::Word && ["where", "group", "order", "having", "limit", "on", "using", "set", "select", "values"].iter().any(|w| t.is_word(w)) {
            in_from = false;
        }
        if in_from && matches!(t.kind, Kind::Word | Kind::QuotedIdent) && !t.is_word("as") {
            // A relation's last name part or an alias: not followed by a dot.
            if !sig.get(i + 1).is_some_and(|n| n.kind == Kind::Dot) {
                names.insert(name_key(t));
            }
        }
    }
    names
}

/// Whether `tokens` has a dotted path that could go into a SUPER column: one whose first name
/// is not a FROM item (`col.attr`) or that has three or more parts (`alias.col.attr`).
pub fn has_candidates(tokens: &[Token<'_>]) -> bool {
    let sig: Vec<Token<'_>> = tokens.iter().copied().filter(|t| !t.is_trivia()).collect();
    let names = from_names(tokens);
    let mut i = 0;
    while i < sig.len() {
        let parts = path_len(&sig, i);
        if parts >= 2 && !(i > 0 && sig[i - 1].kind == Kind::Dot) {
            let head = name_key(&sig[i]);
            let schema_like = head == "pg_catalog" || head == "rs_emulator" || head == "information_schema";
            if !schema_like && (parts >= 3 || !names.contains(&head)) {
                return true;
            }
        }
        i += parts.max(1) * 2 - 1;
    }
    false
}

/// The number of names in the dotted path starting at significant position `i`.
fn path_len(sig: &[Token<'_>], i: usize) -> usize {
    let mut n = 0;
    let mut at = i;
    while sig.get(at).is_some_and(|t| matches!(t.kind, Kind::Word | Kind::QuotedIdent)) {
        n += 1;
        if sig.get(at + 1).is_some_and(|t| t.kind == Kind::Dot) {
            at += 2;
        } else {
            break;
        }
    }
    n
}

/// The rewritten path starting at significant position `p` when it navigates into a SUPER
/// column: (text, significant position after the path).
pub fn rewrite_path(
    tokens: &[Token<'_>],
    significant: &[usize],
    p: usize,
    super_columns: &HashSet<String>,
    from_names: &HashSet<String>,
    case_sensitive: bool,
) -> Result<Option<(String, usize)>, SqlError> {
    let sig: Vec<Token<'_>> = significant.iter().map(|&i| tokens[i]).collect();
    let parts = path_len(&sig, p);
    if parts < 2 || sig.get(p + 2 * parts - 1).is_some_and(|t| t.kind == Kind::LParen) {
        return Ok(None);
    }
    let names: Vec<Token<'_>> = (0..parts).map(|k| sig[p + 2 * k]).collect();
    // The SUPER column: the first name, or the one after a FROM name (alias.col), or after a
    // schema and a table (schema.table.col).
    let column_at = (0..parts.min(3) - 1).find(|&k| {
        let is_super = super_columns.contains(&name_key(&names[k]));
        let qualifier_ok = match k {
            0 => !from_names.contains(&name_key(&names[0])),
            _ => true,
        };
        is_super && qualifier_ok
    });
    let Some(column_at) = column_at else { return Ok(None) };
    let mut text = names[..=column_at]
        .iter()
        .map(|t| ident(*t, case_sensitive))
        .collect::<Result<Vec<_>, _>>()?
        .join(".");
    for attr in &names[column_at + 1..] {
        let key = match attr.kind {
            Kind::QuotedIdent => identifier_text(attr).unwrap_or_default(),
            _ => attr.text.to_ascii_lowercase(),
        };
        text = format!("({text} -> {})", quote_literal(&key));
    }
    Ok(Some((text, p + 2 * parts - 1)))
}

fn ident(t: Token<'_>, case_sensitive: bool) -> Result<String, SqlError> {
    let raw = match t.kind {
        Kind::QuotedIdent => identifier_text(&t).unwrap_or_default(),
        _ => t.text.to_string(),
    };
    let folded = fold_identifier(&raw, t.kind == Kind::QuotedIdent && case_sensitive)?;
    Ok(quote_ident(&folded))
}


#[cfg(test)]
mod tests {
    use super::super::lexer::tokenize;
    use super::*;

    #[test]
    fn candidates() {
        let c = |sql: &str| has_candidates(&tokenize(sql).expect("lexes"));
        assert!(c("select s.a from t"));
        assert!(c("select t.s.a[0] from t"));
        assert!(!c("select t.a, x.b from t join u x on true"));
        assert!(!c("select c.relname from pg_catalog.pg_class c"));
    }

    #[test]
    fn paths_into_super_columns() {
        let sql = "select s.a.b, t.s.c, t.x, s[0].d from t";
        let tokens = tokenize(sql).expect("lexes");
        let significant: Vec<usize> = (0..tokens.len()).filter(|&i| !tokens[i].is_trivia()).collect();
        let supers: HashSet<String> = ["s".to_string()].into();
        let froms = from_names(&tokens);
        let at = |text: &str, nth: usize| significant.iter().position(|&i| tokens[i].text == text).map(|p| p + nth).expect("token");
        let rw = |p| rewrite_path(&tokens, &significant, p, &supers, &froms, false).expect("rewrites");
        assert_eq!(rw(at("s", 0)).map(|r| r.0), Some("((\"s\" -> 'a') -> 'b')".to_string()));
        let t = significant.iter().position(|&i| tokens[i].text == "t").expect("t");
        assert_eq!(rw(t).map(|r| r.0), Some("(\"t\".\"s\" -> 'c')".to_string()));
        assert_eq!(rw(t + 6), None, "t.x is a column of t");
    }
}
