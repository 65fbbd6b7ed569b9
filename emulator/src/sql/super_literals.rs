//! Literals written into SUPER columns: "If the JSON_PARSE function is missing in the query,
//! Amazon Redshift treats the value as a single string instead of a JSON-formatted string that
//! must be parsed." https://docs.aws.amazon.com/redshift/latest/dg/parse_json.html
//!
//! The emulator's SUPER is a domain over jsonb, whose input would parse the literal, so a lone
//! literal in `INSERT … VALUES` or `UPDATE … SET col =` aimed at a SUPER column becomes the JSON
//! scalar it is in Redshift (`to_jsonb('…'::text)`). Which columns are SUPER comes from the
//! backing server (the session describes the target table first).

use std::collections::HashSet;

use super::lexer::{Kind, Token};
use super::name_key;

/// The target of an INSERT or UPDATE: its (possibly qualified) name as tokens, and the columns
/// an INSERT names.
pub struct Target<'t, 'a> {
    pub name: &'t [Token<'a>],
    pub columns: Option<Vec<String>>,
}

/// The table an `INSERT INTO t [(cols)] VALUES …` or `UPDATE t … SET` writes, when the
/// statement has a literal that might go into a SUPER column.
pub fn target<'t, 'a>(tokens: &'t [Token<'a>]) -> Option<Target<'t, 'a>> {
    let sig: Vec<usize> = (0..tokens.len()).filter(|&i| !tokens[i].is_trivia()).collect();
    let tok = |p: usize| sig.get(p).map(|&i| tokens[i]);
    let has_literal = sig.iter().any(|&i| matches!(tokens[i].kind, Kind::String | Kind::Number));
    if !has_literal {
        return None;
    }
    let name_start = if tok(0)?.is_word("insert") && tok(1)?.is_word("into") {
        2
    } else if tok(0)?.is_word("update") {
        1
    } else {
        return None;
    };
    let mut end = name_start + 1;
    while tok(end).is_some_and(|t| t.kind == Kind::Dot) {
        end += 2;
    }
    let name = &tokens[sig[name_start]..=sig[end - 1]];
    let mut columns = None;
    if name_start == 2 && tok(end).is_some_and(|t| t.kind == Kind::LParen) {
        let mut cols = Vec::new();
        let mut p = end + 1;
        while let Some(t) = tok(p) {
            match t.kind {
                Kind::RParen => break,
                Kind::Comma => {}
                _ => cols.push(name_key(&t)),
            }
            p += 1;
        }
        columns = Some(cols);
    }
    Some(Target { name, columns })
}

/// The literals (identified by where their text lies in the statement) that go into the SUPER
/// columns among `table_columns` (in table order, `true` where SUPER).
pub fn super_literals(tokens: &[Token<'_>], target: &Target<'_, '_>, table_columns: &[(String, bool)]) -> HashSet<usize> {
    let supers: HashSet<&str> = table_columns.iter().filter(|c| c.1).map(|c| c.0.as_str()).collect();
    let mut out = HashSet::new();
    if supers.is_empty() {
        return out;
    }
    let sig: Vec<Token<'_>> = tokens.iter().copied().filter(|t| !t.is_trivia()).collect();
    let literal = |t: &Token<'_>| matches!(t.kind, Kind::String | Kind::Number) || t.is_word("true") || t.is_word("false");
    // Lone literals between `(`/`,` and `,`/`)` at depth 1 of each VALUES tuple.
    if let Some(values) = sig.iter().position(|t| t.is_word("values")) {
        let names: Vec<String> = target.columns.clone().unwrap_or_else(|| table_columns.iter().map(|c| c.0.clone()).collect());
        let mut depth = 0;
        let mut position = 0;
        for i in values + 1..sig.len() {
            let t = sig[i];
            match t.kind {
                Kind::LParen => {
                    depth += 1;
                    if depth == 1 {
                        position = 0;
                    }
                }
                Kind::RParen => depth -= 1,
                Kind::Comma if depth == 1 => position += 1,
                _ if depth == 1
                    && literal(&t)
                    && matches!(sig[i - 1].kind, Kind::LParen | Kind::Comma)
                    && matches!(sig.get(i + 1).map(|n| n.kind), Some(Kind::Comma | Kind::RParen))
                    && names.get(position).is_some_and(|n| supers.contains(n.as_str())) =>
                {
                    out.insert(t.text.as_ptr() as usize);
                }
                _ => {}
            }
        }
    }
    // `SET col = literal` followed by `,`, WHERE, FROM or the end.
    if let Some(set) = sig.iter().position(|t| t.is_word("set")) {
        for i in set + 1..sig.len().saturating_sub(2) {
            let (c, eq, v) = (sig[i], sig[i + 1], sig[i + 2]);
            let after = sig.get(i + 3);
            if matches!(c.kind, Kind::Word | Kind::QuotedIdent)
                && eq.text == "="
                && literal(&v)
                && (sig[i - 1].kind == Kind::Comma || sig[i - 1].is_word("set"))
                && after.is_none_or(|a| a.kind == Kind::Comma || a.is_word("where") || a.is_word("from"))
                && supers.contains(name_key(&c).as_str())
            {
                out.insert(v.text.as_ptr() as usize);
            }
        }
    }
    out
}


#[cfg(test)]
mod tests {
    use super::super::lexer::tokenize;
    use super::*;

    fn wrapped(sql: &str, columns: &[(&str, bool)]) -> Vec<String> {
        let tokens = tokenize(sql).expect("lexes");
        let t = target(&tokens).expect("a target");
        let cols: Vec<(String, bool)> = columns.iter().map(|(n, s)| (n.to_string(), *s)).collect();
        let set = super_literals(&tokens, &t, &cols);
        let mut out: Vec<String> =
            tokens.iter().filter(|t| set.contains(&(t.text.as_ptr() as usize))).map(|t| t.text.to_string()).collect();
        out.sort();
        out
    }

    #[test]
    fn lone_literals_aimed_at_super_columns() {
        let cols = [("id", false), ("s", true)];
        assert_eq!(wrapped("insert into t values (1, '{\"a\":1}'), (2, 5)", &cols), vec!["'{\"a\":1}'", "5"]);
        assert_eq!(wrapped("insert into t (s, id) values ('x', 'y')", &cols), vec!["'x'"]);
        assert!(wrapped("insert into t values (1, json_parse('{}'))", &cols).is_empty());
        assert_eq!(wrapped("update t set s = 'str', id = 3 where id = 1", &cols), vec!["'str'"]);
        assert!(wrapped("insert into t values (1, '1' || '2')", &cols).is_empty());
    }
}
