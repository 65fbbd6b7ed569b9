//! Redshift SQL → the backing PostgreSQL: lexing, identifier folding, function rewrites, and
//! the parsers of the statements the emulator carries out itself.

pub mod classify;
pub mod copy_command;
pub mod create_table;
pub mod cursor;
pub mod dialect;
pub mod lateral;
pub mod lexer;
pub mod navigation;
pub mod rewrite;
pub mod super_literals;

use thiserror::Error;

/// An error in the client's SQL, reported with a SQLSTATE like the server would.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("{message}")]
pub struct SqlError {
    pub code: &'static str,
    pub message: String,
}

impl SqlError {
    pub fn syntax(message: impl Into<String>) -> Self {
        SqlError { code: "42601", message: message.into() }
    }

    pub fn unsupported(message: impl Into<String>) -> Self {
        SqlError { code: "0A000", message: message.into() }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        SqlError { code: "22023", message: message.into() }
    }

    /// A function the server does not have (PostgreSQL's 42883).
    pub fn undefined_function(message: impl Into<String>) -> Self {
        SqlError { code: "42883", message: message.into() }
    }
}

/// Redshift's limit on identifiers: "between 1 and 127 bytes in length"; longer table and column
/// names "are truncated to 127 bytes".
/// https://docs.aws.amazon.com/redshift/latest/dg/r_names.html
/// https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_NEW.html
pub const MAX_IDENTIFIER_BYTES: usize = 127;

/// The backing PostgreSQL keeps names of at most NAMEDATALEN-1 bytes.
pub const BACKING_IDENTIFIER_BYTES: usize = 63;

/// Folds an identifier the way Redshift does with `enable_case_sensitive_identifier` off (the
/// default): "ASCII letters in standard and delimited identifiers are case-insensitive and are
/// folded to lowercase"; then truncates to 127 bytes.
/// https://docs.aws.amazon.com/redshift/latest/dg/r_names.html
/// https://docs.aws.amazon.com/redshift/latest/dg/r_enable_case_sensitive_identifier.html
pub fn fold_identifier(name: &str, case_sensitive: bool) -> Result<String, SqlError> {
    let mut folded = if case_sensitive { name.to_string() } else { name.to_ascii_lowercase() };
    if folded.len() > MAX_IDENTIFIER_BYTES {
        let mut end = MAX_IDENTIFIER_BYTES;
        while !folded.is_char_boundary(end) {
            end -= 1;
        }
        folded.truncate(end);
    }
    if folded.len() > BACKING_IDENTIFIER_BYTES {
        return Err(SqlError {
            code: "42622",
            message: format!(
                "identifier \"{folded}\" is {} bytes: Redshift allows 127, but this emulator's backing PostgreSQL holds at most {BACKING_IDENTIFIER_BYTES}",
                folded.len()
            ),
        });
    }
    Ok(folded)
}

/// `"name"` with embedded quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'` with embedded quotes doubled (standard_conforming_strings is on in the backing
/// database).
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// An identifier token's name as names compare with case sensitivity off: lowercased, a quoted
/// one unquoted first.
pub fn name_key(token: &lexer::Token<'_>) -> String {
    match token.kind {
        lexer::Kind::QuotedIdent => identifier_text(token).unwrap_or_default().to_ascii_lowercase(),
        _ => token.text.to_ascii_lowercase(),
    }
}

/// The name inside an identifier token: an unquoted word as written, a quoted one unescaped.
pub fn identifier_text(token: &lexer::Token<'_>) -> Option<String> {
    match token.kind {
        lexer::Kind::Word => Some(token.text.to_string()),
        lexer::Kind::QuotedIdent if token.text.starts_with('"') => {
            Some(token.text[1..token.text.len() - 1].replace("\"\"", "\""))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_and_truncation() {
        assert_eq!(fold_identifier("MyTable", false).unwrap(), "mytable");
        assert_eq!(fold_identifier("MyTable", true).unwrap(), "MyTable");
        assert_eq!(fold_identifier("Straße", false).unwrap(), "straße");
        let long = "a".repeat(130);
        let err = fold_identifier(&long, false).unwrap_err();
        // Truncated to 127 bytes first, then refused by the backing store's limit.
        assert!(err.message.contains(&"a".repeat(127)) && !err.message.contains(&"a".repeat(128)));
        assert_eq!(err.code, "42622");
        assert_eq!(fold_identifier(&"b".repeat(63), false).unwrap().len(), 63);
    }
}
