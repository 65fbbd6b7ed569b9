//! A lexer for the SQL the emulator receives. It keeps every token's exact source text, so that
//! a statement passed on to the backing PostgreSQL is the client's text with only the rewritten
//! tokens changed (a parser's round trip could alter literals, spacing or comments).

use super::SqlError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An unquoted identifier or keyword.
    Word,
    /// `"…"` (text includes the quotes; `U&"…"` included).
    QuotedIdent,
    /// `'…'`, `E'…'`, `B'…'`, `X'…'`, `N'…'`, `U&'…'`.
    String,
    /// `$tag$…$tag$`.
    DollarString,
    Number,
    /// `$1`.
    Param,
    LParen,
    RParen,
    Comma,
    Semicolon,
    Dot,
    /// Operators and other punctuation (`::`, `=`, `[`, …).
    Op,
    Space,
    Comment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    pub kind: Kind,
    pub text: &'a str,
}

impl Token<'_> {
    pub fn is_trivia(&self) -> bool {
        matches!(self.kind, Kind::Space | Kind::Comment)
    }

    /// True for the unquoted word `kw` in any case.
    pub fn is_word(&self, kw: &str) -> bool {
        self.kind == Kind::Word && self.text.eq_ignore_ascii_case(kw)
    }
}

fn is_op_char(c: char) -> bool {
    matches!(
        c,
        '+' | '-' | '*' | '/' | '<' | '>' | '=' | '~' | '!' | '@' | '#' | '%' | '^' | '&' | '|' | '`' | '?'
    )
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || !c.is_ascii()
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$' || !c.is_ascii()
}

pub fn tokenize(sql: &str) -> Result<Vec<Token<'_>>, SqlError> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < sql.len() {
        let rest = &sql[i..];
        let c = rest.chars().next().unwrap_or(' ');
        let (kind, len) = if c.is_whitespace() {
            let n = rest.find(|ch: char| !ch.is_whitespace()).unwrap_or(rest.len());
            (Kind::Space, n)
        } else if rest.starts_with("--") {
            (Kind::Comment, rest.find('\n').unwrap_or(rest.len()))
        } else if rest.starts_with("/*") {
            (Kind::Comment, block_comment(rest)?)
        } else if c == '\'' {
            (Kind::String, quoted(rest, 0, '\'', false)?)
        } else if c == '"' {
            (Kind::QuotedIdent, quoted(rest, 0, '"', false)?)
        } else if (c == 'E' || c == 'e') && rest[1..].starts_with('\'') {
            (Kind::String, quoted(rest, 1, '\'', true)?)
        } else if matches!(c, 'B' | 'b' | 'X' | 'x' | 'N' | 'n') && rest[1..].starts_with('\'') {
            (Kind::String, quoted(rest, 1, '\'', false)?)
        } else if (c == 'U' || c == 'u') && rest[1..].starts_with("&'") {
            (Kind::String, quoted(rest, 2, '\'', false)?)
        } else if (c == 'U' || c == 'u') && rest[1..].starts_with("&\"") {
            (Kind::QuotedIdent, quoted(rest, 2, '"', false)?)
        } else if c == '$' {
            dollar(rest)?
        } else if c.is_ascii_digit() || (c == '.' && rest[1..].starts_with(|d: char| d.is_ascii_digit())) {
            (Kind::Number, number(rest))
        } else if is_ident_start(c) {
            let n = rest.find(|ch: char| !is_ident_char(ch)).unwrap_or(rest.len());
            (Kind::Word, n)
        } else {
            match c {
                '(' => (Kind::LParen, 1),
                ')' => (Kind::RParen, 1),
                ',' => (Kind::Comma, 1),
                ';' => (Kind::Semicolon, 1),
                '.' => (Kind::Dot, 1),
                ':' if rest.starts_with("::") => (Kind::Op, 2),
                c if is_op_char(c) => {
                    // An operator ends where a comment starts.
                    let mut n = 0;
                    for (at, ch) in rest.char_indices() {
                        if !is_op_char(ch) || (at > 0 && (rest[at..].starts_with("--") || rest[at..].starts_with("/*")))
                        {
                            break;
                        }
                        n = at + ch.len_utf8();
                    }
                    (Kind::Op, n)
                }
                _ => (Kind::Op, c.len_utf8()),
            }
        };
        debug_assert!(len > 0);
        let len = len.max(1);
        out.push(Token { kind, text: &sql[i..i + len] });
        i += len;
        let _ = bytes;
    }
    Ok(out)
}

fn block_comment(s: &str) -> Result<usize, SqlError> {
    let b = s.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] == b'/' && b[i + 1] == b'*' {
            depth += 1;
            i += 2;
        } else if b[i] == b'*' && b[i + 1] == b'/' {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return Ok(i);
            }
        } else {
            i += 1;
        }
    }
    Err(SqlError::syntax("unterminated /* comment"))
}

/// Length of a quoted token whose opening quote is at `start`; a doubled quote stands for one,
/// and with `backslash` a backslash escapes the next character (E'' strings).
fn quoted(s: &str, start: usize, quote: char, backslash: bool) -> Result<usize, SqlError> {
    let b = s.as_bytes();
    let q = quote as u8;
    let mut i = start + 1;
    while i < b.len() {
        if backslash && b[i] == b'\\' {
            i += 2;
        } else if b[i] == q {
            if b.get(i + 1) == Some(&q) {
                i += 2;
            } else {
                return Ok(i + 1);
            }
        } else {
            i += 1;
        }
    }
    Err(SqlError::syntax(if quote == '"' {
        "unterminated quoted identifier"
    } else {
        "unterminated quoted string"
    }))
}

fn dollar(s: &str) -> Result<(Kind, usize), SqlError> {
    let rest = &s[1..];
    let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    if digits > 0 {
        return Ok((Kind::Param, 1 + digits));
    }
    let tag_len = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
    if rest[tag_len..].starts_with('$') {
        let tag = &s[..tag_len + 2];
        let body = &s[tag.len()..];
        return match body.find(tag) {
            Some(end) => Ok((Kind::DollarString, tag.len() + end + tag.len())),
            None => Err(SqlError::syntax("unterminated dollar-quoted string")),
        };
    }
    Ok((Kind::Op, 1))
}

fn number(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i < b.len() && b[i] == b'.' && !(i + 1 < b.len() && b[i + 1] == b'.') {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            i = j;
        }
    }
    i
}

/// The value of a plain `'…'` string token ('' → '). Escape strings are returned with their
/// backslashes resolved the PostgreSQL way; other prefixed forms are refused by the caller.
pub fn string_value(token: &Token<'_>) -> Option<String> {
    if token.kind != Kind::String {
        return None;
    }
    let t = token.text;
    if let Some(inner) = t.strip_prefix('\'') {
        return Some(inner[..inner.len() - 1].replace("''", "'"));
    }
    if let Some(inner) = t.strip_prefix("E'").or_else(|| t.strip_prefix("e'")) {
        let inner = &inner[..inner.len() - 1];
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some(o) => out.push(o),
                    None => {}
                },
                '\'' => {
                    chars.next();
                    out.push('\'');
                }
                c => out.push(c),
            }
        }
        return Some(out);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(sql: &str) -> Vec<(Kind, &str)> {
        tokenize(sql).unwrap().into_iter().filter(|t| !t.is_trivia()).map(|t| (t.kind, t.text)).collect()
    }

    #[test]
    fn keeps_the_exact_text() {
        let sql = "SELECT 'it''s', E'a\\'b', \"Mixed\"\"Q\", $$x;y$$, $1, 1.5e3, a::int -- c;\n/* n /* e */ d */;";
        let joined: String = tokenize(sql).unwrap().iter().map(|t| t.text).collect();
        assert_eq!(joined, sql);
        let k = kinds(sql);
        assert_eq!(k[1], (Kind::String, "'it''s'"));
        assert_eq!(k[3], (Kind::String, "E'a\\'b'"));
        assert_eq!(k[5], (Kind::QuotedIdent, "\"Mixed\"\"Q\""));
        assert_eq!(k[7], (Kind::DollarString, "$$x;y$$"));
        assert_eq!(k[9], (Kind::Param, "$1"));
        assert_eq!(k[11], (Kind::Number, "1.5e3"));
        assert_eq!(k[14], (Kind::Op, "::"));
        assert_eq!(k.last().unwrap().0, Kind::Semicolon);
    }

    #[test]
    fn unterminated_tokens_are_errors() {
        assert!(tokenize("select 'abc").is_err());
        assert!(tokenize("select \"abc").is_err());
        assert!(tokenize("select /* abc").is_err());
        assert!(tokenize("select $x$ abc").is_err());
    }

    #[test]
    fn string_values() {
        let t = tokenize("'a''b'").unwrap();
        assert_eq!(string_value(&t[0]).unwrap(), "a'b");
        let t = tokenize("E'\\t'").unwrap();
        assert_eq!(string_value(&t[0]).unwrap(), "\t");
    }
}
