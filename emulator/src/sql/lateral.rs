//! Lateral column alias references: "The alias is recognized right after it is defined in the
//! target list. You can use an alias in other expressions defined after it in the same target
//! list", and Redshift's own drivers also use one in WHERE (redshift_connector's metadata
//! queries). "If there is a column with the same name defined in the FROM clause as the
//! previously aliased expression, the column in the FROM clause takes priority."
//! https://docs.aws.amazon.com/redshift/latest/dg/r_SELECT_list.html
//!
//! PostgreSQL has no such references, so each referenced alias becomes a column of a LATERAL
//! subquery joined at the end of the FROM clause: references then resolve by PostgreSQL's own
//! name lookup. Where a FROM table has a column of that name as well, PostgreSQL reports the
//! reference as ambiguous (an error, never a silent difference). Aliases of aggregates or
//! window functions cannot be lateral: a reference to one stays an error.

use std::collections::HashSet;

use super::lexer::{Kind, Token};
use super::name_key;

/// A LATERAL join to insert before token `at` (an index into the statement's tokens): the
/// token ranges of the aliased expressions, each with its alias, in definition order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lateral {
    pub at: usize,
    pub aliases: Vec<(String, std::ops::Range<usize>)>,
    /// The tokens of the FROM clause's items (without FROM), whose columns take priority.
    pub from: std::ops::Range<usize>,
}

const CLAUSE_ENDS: &[&str] = &[
    "where", "group", "having", "order", "limit", "offset", "union", "intersect", "except", "window", "qualify",
];
const AGGREGATES: &[&str] = &[
    "count", "sum", "avg", "min", "max", "listagg", "median", "stddev", "stddev_samp", "stddev_pop", "variance",
    "var_samp", "var_pop", "bool_and", "bool_or", "bit_and", "bit_or", "percentile_cont", "percentile_disc",
    "approximate", "over",
];

/// The lateral joins a statement needs, one per SELECT that refers to its own aliases; names in
/// `columns` are columns of the FROM clauses (see `Context::from_columns`), which take priority.
pub fn plan(tokens: &[Token<'_>], columns: Option<&HashSet<String>>) -> Vec<Lateral> {
    let sig: Vec<usize> = (0..tokens.len()).filter(|&i| !tokens[i].is_trivia()).collect();
    let depths = depths(tokens, &sig);
    let mut out = Vec::new();
    for (p, &i) in sig.iter().enumerate() {
        if tokens[i].is_word("select")
            && let Some(l) = plan_select(tokens, &sig, &depths, p, columns)
        {
            out.push(l);
        }
    }
    out
}

/// The token ranges of every SELECT's FROM items (without FROM), for describing them.
pub fn from_clauses(tokens: &[Token<'_>]) -> Vec<std::ops::Range<usize>> {
    let sig: Vec<usize> = (0..tokens.len()).filter(|&i| !tokens[i].is_trivia()).collect();
    let depths = depths(tokens, &sig);
    let mut out = Vec::new();
    for (p, &i) in sig.iter().enumerate() {
        if tokens[i].is_word("select")
            && let Some(c) = clauses(tokens, &sig, &depths, p)
        {
            let at = if c.from_end < sig.len() { sig[c.from_end] } else { tokens.len() };
            if let Some(&first) = sig.get(c.from + 1).filter(|&&f| f < at) {
                out.push(first..at);
            }
        }
    }
    out
}

/// Paren depth before each significant token.
fn depths(tokens: &[Token<'_>], sig: &[usize]) -> Vec<i32> {
    let mut out = Vec::with_capacity(sig.len());
    let mut depth = 0i32;
    for &i in sig {
        if tokens[i].kind == Kind::RParen {
            depth -= 1;
        }
        out.push(depth);
        if tokens[i].kind == Kind::LParen {
            depth += 1;
        }
    }
    out
}

/// Where a SELECT's clauses are, as significant positions.
struct Clauses {
    /// FROM.
    from: usize,
    /// The first token after the FROM items.
    from_end: usize,
    /// The first token after the WHERE clause (`from_end` when there is none).
    where_end: usize,
}

fn clauses(tokens: &[Token<'_>], sig: &[usize], depths: &[i32], start: usize) -> Option<Clauses> {
    let d = depths[start];
    let tok = |p: usize| tokens[sig[p]];
    // The end of this SELECT: a closing paren of its level, a semicolon, or the end.
    let end = (start + 1..sig.len()).find(|&p| depths[p] < d || tok(p).kind == Kind::Semicolon).unwrap_or(sig.len());
    let at_level = |p: usize| depths[p] == d;
    let from = (start + 1..end).find(|&p| at_level(p) && tok(p).is_word("from"))?;
    let from_end = (from + 1..end)
        .find(|&p| at_level(p) && CLAUSE_ENDS.iter().any(|w| tok(p).is_word(w)))
        .unwrap_or(end);
    let where_end = if from_end < end && tok(from_end).is_word("where") {
        (from_end + 1..end)
            .find(|&p| at_level(p) && CLAUSE_ENDS.iter().any(|w| !w.eq(&"where") && tok(p).is_word(w)))
            .unwrap_or(end)
    } else {
        from_end
    };
    Some(Clauses { from, from_end, where_end })
}

/// The SELECT at significant position `start`.
fn plan_select(
    tokens: &[Token<'_>],
    sig: &[usize],
    depths: &[i32],
    start: usize,
    columns: Option<&HashSet<String>>,
) -> Option<Lateral> {
    let d = depths[start];
    let tok = |p: usize| tokens[sig[p]];
    let at_level = |p: usize| depths[p] == d;
    let Clauses { from, from_end, where_end } = clauses(tokens, sig, depths, start)?;
    // The select list's items, split at commas of this level.
    let mut items: Vec<(usize, usize)> = Vec::new();
    let mut item_start = start + 1;
    for p in start + 1..=from {
        if p == from || (at_level(p) && tok(p).kind == Kind::Comma) {
            items.push((item_start, p));
            item_start = p + 1;
        }
    }
    // `expr AS alias` items, with the first item of each alias's later uses.
    let mut defined: Vec<(String, usize, usize, usize)> = Vec::new(); // alias, expr start, expr end, item index
    for (k, &(s, e)) in items.iter().enumerate() {
        if e >= s + 3 && tok(e - 2).is_word("as") && matches!(tok(e - 1).kind, Kind::Word | Kind::QuotedIdent) {
            defined.push((name_key(&tok(e - 1)), s, e - 2, k));
        }
    }
    if defined.is_empty() {
        return None;
    }
    let referenced = |alias: &str, from_p: usize, to_p: usize| {
        (from_p..to_p).any(|p| {
            let t = tok(p);
            t.kind == Kind::Word
                && name_key(&t) == alias
                && !(p > 0 && tok(p - 1).kind == Kind::Dot)
                && !(p + 1 < sig.len() && matches!(tok(p + 1).kind, Kind::Dot | Kind::LParen))
        })
    };
    let mut aliases = Vec::new();
    for (alias, s, e, k) in &defined {
        let later_items = items.get(k + 1).map(|&(ls, _)| ls).unwrap_or(from);
        let used = referenced(alias, later_items, from) || (where_end > from_end && referenced(alias, from_end + 1, where_end));
        // `x AS x` is the column itself; an aggregate cannot be computed laterally.
        let same_column = *e == s + 1 && name_key(&tok(*s)) == *alias;
        let aggregate = (*s..*e).any(|p| AGGREGATES.iter().any(|w| tok(p).is_word(w)));
        let a_column = columns.is_some_and(|c| c.contains(alias));
        if used && !same_column && !aggregate && !a_column {
            aliases.push((alias.clone(), sig[*s]..sig[*e - 1] + 1));
        }
    }
    if aliases.is_empty() {
        return None;
    }
    let at = if from_end < sig.len() { sig[from_end] } else { tokens.len() };
    let from_tokens = sig.get(from + 1).copied().unwrap_or(at)..at;
    Some(Lateral { at, aliases, from: from_tokens })
}


#[cfg(test)]
mod tests {
    use super::super::lexer::tokenize;
    use super::*;

    fn aliases(sql: &str) -> Vec<Vec<String>> {
        let tokens = tokenize(sql).expect("lexes");
        plan(&tokens, None)
            .into_iter()
            .map(|l| {
                l.aliases
                    .iter()
                    .map(|(a, r)| format!("{a}={}", tokens[r.clone()].iter().map(|t| t.text).collect::<String>()))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn referenced_aliases_only() {
        assert_eq!(
            aliases("select clicks / impressions as probability, round(100 * probability, 1) as percentage from raw_data"),
            vec![vec!["probability=clicks / impressions".to_string()]]
        );
        assert_eq!(aliases("select a as b, c from t where b > 1"), vec![vec!["b=a".to_string()]]);
        assert!(aliases("select a as a, a + 1 as b from t").is_empty());
        assert!(aliases("select count(*) as n, n + 1 from t").is_empty());
        assert!(aliases("select a as b from t where c = 1 order by b").is_empty());
        assert!(aliases("select t.b as x from t where t.x = 1").is_empty());
    }

    #[test]
    fn the_lateral_goes_at_the_end_of_from() {
        let sql = "select x as y, y + 1 from a join b on true where y > 0";
        let tokens = tokenize(sql).expect("lexes");
        let l = plan(&tokens, None);
        assert_eq!(tokens[l[0].at].text, "where");
        let from: String = tokens[l[0].from.clone()].iter().map(|t| t.text).collect();
        assert_eq!(from.trim(), "a join b on true");
        let columns: HashSet<String> = ["y".to_string()].into();
        assert!(plan(&tokens, Some(&columns)).is_empty(), "a column of the FROM clause takes priority");
        let sql = "select * from (select x as y, y + 1 as z from a) s";
        let tokens = tokenize(sql).expect("lexes");
        let l = plan(&tokens, None);
        assert_eq!(tokens[l[0].at].text, ")");
    }
}
