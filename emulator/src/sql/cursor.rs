//! A small recursive-descent helper over the significant tokens of one statement.

use super::lexer::{Kind, Token, string_value};
use super::rewrite::{Context, rewrite};
use super::{SqlError, fold_identifier, identifier_text};

pub struct Cursor<'t, 'a> {
    tokens: &'t [Token<'a>],
    /// Indices of the significant (non-trivia) tokens.
    sig: Vec<usize>,
    pos: usize,
    pub case_sensitive: bool,
}

impl<'t, 'a> Cursor<'t, 'a> {
    pub fn new(tokens: &'t [Token<'a>], case_sensitive: bool) -> Self {
        let sig = (0..tokens.len()).filter(|&i| !tokens[i].is_trivia() && tokens[i].kind != Kind::Semicolon).collect();
        Cursor { tokens, sig, pos: 0, case_sensitive }
    }

    pub fn peek(&self) -> Option<Token<'a>> {
        self.peek_at(0)
    }

    pub fn peek_at(&self, ahead: usize) -> Option<Token<'a>> {
        self.sig.get(self.pos + ahead).map(|&i| self.tokens[i])
    }

    pub fn advance(&mut self) -> Option<Token<'a>> {
        let t = self.peek();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.sig.len()
    }

    pub fn peek_word(&self, kw: &str) -> bool {
        self.peek().is_some_and(|t| t.is_word(kw))
    }

    pub fn accept_word(&mut self, kw: &str) -> bool {
        if self.peek_word(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub fn accept_words(&mut self, kws: &[&str]) -> bool {
        if kws.iter().enumerate().all(|(k, kw)| self.peek_at(k).is_some_and(|t| t.is_word(kw))) {
            self.pos += kws.len();
            true
        } else {
            false
        }
    }

    pub fn expect_word(&mut self, kw: &str) -> Result<(), SqlError> {
        if self.accept_word(kw) { Ok(()) } else { Err(self.unexpected(&kw.to_ascii_uppercase())) }
    }

    pub fn accept_kind(&mut self, kind: Kind) -> bool {
        if self.peek().is_some_and(|t| t.kind == kind) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub fn expect_kind(&mut self, kind: Kind, what: &str) -> Result<(), SqlError> {
        if self.accept_kind(kind) { Ok(()) } else { Err(self.unexpected(what)) }
    }

    /// A syntax error at the current token, in PostgreSQL's words.
    pub fn unexpected(&self, expected: &str) -> SqlError {
        match self.peek() {
            Some(t) => SqlError::syntax(format!("syntax error at or near \"{}\" (expected {expected})", t.text)),
            None => SqlError::syntax(format!("syntax error at end of input (expected {expected})")),
        }
    }

    /// An identifier, folded.
    pub fn ident(&mut self) -> Result<String, SqlError> {
        match self.peek() {
            Some(t) if matches!(t.kind, Kind::Word | Kind::QuotedIdent) => {
                let raw = identifier_text(&t).ok_or_else(|| self.unexpected("an identifier"))?;
                self.pos += 1;
                let case_sensitive = self.case_sensitive && t.kind == Kind::QuotedIdent;
                fold_identifier(&raw, case_sensitive)
            }
            _ => Err(self.unexpected("an identifier")),
        }
    }

    /// `[schema.]name`.
    pub fn qualified_name(&mut self) -> Result<QualifiedName, SqlError> {
        let first = self.ident()?;
        if self.accept_kind(Kind::Dot) {
            let name = self.ident()?;
            if self.peek().is_some_and(|t| t.kind == Kind::Dot) {
                return Err(SqlError::unsupported("cross-database references are not supported"));
            }
            Ok(QualifiedName { schema: Some(first), name })
        } else {
            Ok(QualifiedName { schema: None, name: first })
        }
    }

    pub fn string(&mut self) -> Result<String, SqlError> {
        match self.peek() {
            Some(t) if t.kind == Kind::String => {
                let v = string_value(&t).ok_or_else(|| self.unexpected("a quoted string"))?;
                self.pos += 1;
                Ok(v)
            }
            _ => Err(self.unexpected("a quoted string")),
        }
    }

    pub fn integer(&mut self) -> Result<i64, SqlError> {
        let negative = self.peek().is_some_and(|t| t.kind == Kind::Op && t.text == "-");
        if negative {
            self.pos += 1;
        }
        match self.peek() {
            Some(t) if t.kind == Kind::Number => {
                let v: i64 = t.text.parse().map_err(|_| self.unexpected("an integer"))?;
                self.pos += 1;
                Ok(if negative { -v } else { v })
            }
            _ => Err(self.unexpected("an integer")),
        }
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn set_position(&mut self, pos: usize) {
        self.pos = pos;
    }

    /// Skips a balanced expression until one of the stop conditions at depth 0 (a comma, a
    /// closing parenthesis, or a word in `stop_words`); returns the significant positions.
    pub fn skip_expression(&mut self, stop_words: &[&str]) -> (usize, usize) {
        let start = self.pos;
        let mut depth = 0i32;
        while let Some(t) = self.peek() {
            match t.kind {
                Kind::LParen => depth += 1,
                Kind::RParen if depth == 0 => break,
                Kind::RParen => depth -= 1,
                Kind::Comma if depth == 0 => break,
                Kind::Word if depth == 0 && stop_words.iter().any(|w| t.is_word(w)) => break,
                _ => {}
            }
            self.pos += 1;
        }
        (start, self.pos)
    }

    /// The rewritten text of significant positions `start..end` (with the trivia between them).
    pub fn rewritten(&self, start: usize, end: usize, ctx: &Context) -> Result<String, SqlError> {
        if start >= end {
            return Ok(String::new());
        }
        let from = self.sig[start];
        let to = self.sig[end - 1] + 1;
        rewrite(&self.tokens[from..to], ctx)
    }

    /// The rewritten text from `start` to the end of the statement.
    pub fn rewritten_rest(&self, start: usize, ctx: &Context) -> Result<String, SqlError> {
        self.rewritten(start, self.sig.len(), ctx)
    }

    pub fn end(&self) -> usize {
        self.sig.len()
    }

    pub fn expect_end(&self) -> Result<(), SqlError> {
        if self.at_end() { Ok(()) } else { Err(self.unexpected("the end of the statement")) }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QualifiedName {
    pub schema: Option<String>,
    pub name: String,
}

impl QualifiedName {
    /// Quoted for the backing database.
    pub fn sql(&self) -> String {
        match &self.schema {
            Some(s) => format!("{}.{}", super::quote_ident(s), super::quote_ident(&self.name)),
            None => super::quote_ident(&self.name),
        }
    }
}

impl std::fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{s}.{}", self.name),
            None => write!(f, "{}", self.name),
        }
    }
}
