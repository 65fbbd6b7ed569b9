//! `COPY table [(columns)] FROM 's3://…' <authorization> [options]`, Redshift's syntax.
//! https://docs.aws.amazon.com/redshift/latest/dg/r_COPY.html
//! Any option not listed here is a syntax error: the emulator must not pretend to honour it.

use super::SqlError;
use super::cursor::{Cursor, QualifiedName};
use super::lexer::Kind;
use super::rewrite::Context;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// `IAM_ROLE 'arn…'` or `IAM_ROLE default` (None).
    IamRole(Option<String>),
    Keys { access_key_id: String, secret_access_key: String, session_token: Option<String> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    Bzip2,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyCommand {
    pub table: QualifiedName,
    pub columns: Option<Vec<String>>,
    /// `s3://bucket/key-or-prefix`.
    pub source: String,
    pub auth: Auth,
    pub manifest: bool,
    /// `Some(quote)` for CSV; None for delimited text.
    pub csv_quote: Option<u8>,
    pub delimiter: u8,
    pub null_as: Vec<u8>,
    pub escape: bool,
    pub compression: Compression,
    pub region: Option<String>,
    pub dateformat: Option<String>,
    pub timeformat: Option<String>,
    pub empty_as_null: bool,
    pub blanks_as_null: bool,
    pub truncate_columns: bool,
    pub accept_inv_chars: Option<u8>,
    pub max_error: u32,
    pub ignore_header: u64,
}

/// https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-load.html: "The MAXERROR
/// default value is 0 and the limit is 100000."
pub const MAX_ERROR_LIMIT: i64 = 100_000;

pub fn parse_copy(c: &mut Cursor<'_, '_>, _ctx: &Context) -> Result<CopyCommand, SqlError> {
    c.expect_word("copy")?;
    let table = c.qualified_name()?;
    let columns = if c.accept_kind(Kind::LParen) {
        let mut cols = Vec::new();
        loop {
            cols.push(c.ident()?);
            if !c.accept_kind(Kind::Comma) {
                break;
            }
        }
        c.expect_kind(Kind::RParen, ")")?;
        Some(cols)
    } else {
        None
    };
    if c.accept_word("to") {
        return Err(SqlError::unsupported("COPY … TO is not supported by Redshift (use UNLOAD)"));
    }
    c.expect_word("from")?;
    if c.peek_word("stdin") {
        return Err(SqlError::unsupported("COPY … FROM STDIN is not supported by Redshift"));
    }
    let source = c.string()?;
    if !source.starts_with("s3://") {
        return Err(SqlError::unsupported(format!(
            "COPY from '{source}' is not supported by the Redshift emulator (only s3:// sources)"
        )));
    }

    let mut seen: Vec<&'static str> = Vec::new();
    let mut once = |name: &'static str| -> Result<(), SqlError> {
        if seen.contains(&name) {
            return Err(SqlError::syntax(format!("conflicting or redundant options: {name}")));
        }
        seen.push(name);
        Ok(())
    };
    let mut iam_role: Option<Option<String>> = None;
    let (mut key_id, mut secret, mut token, mut credentials) = (None, None, None, None);
    let mut cmd = CopyCommand {
        table,
        columns,
        source,
        auth: Auth::IamRole(None),
        manifest: false,
        csv_quote: None,
        delimiter: b'|',
        null_as: b"\\N".to_vec(),
        escape: false,
        compression: Compression::None,
        region: None,
        dateformat: None,
        timeformat: None,
        empty_as_null: false,
        blanks_as_null: false,
        truncate_columns: false,
        accept_inv_chars: None,
        max_error: 0,
        ignore_header: 0,
    };
    let mut delimiter = None;
    let mut quote = None;
    while let Some(t) = c.peek() {
        if t.kind != Kind::Word {
            return Err(c.unexpected("a COPY option"));
        }
        let word = t.text.to_ascii_lowercase();
        c.advance();
        match word.as_str() {
            "iam_role" => {
                once("IAM_ROLE")?;
                iam_role = Some(if c.accept_word("default") { None } else { Some(c.string()?) });
            }
            "access_key_id" => {
                once("ACCESS_KEY_ID")?;
                key_id = Some(c.string()?);
            }
            "secret_access_key" => {
                once("SECRET_ACCESS_KEY")?;
                secret = Some(c.string()?);
            }
            "session_token" => {
                once("SESSION_TOKEN")?;
                token = Some(c.string()?);
            }
            "with" if c.peek_word("credentials") => {}
            "credentials" => {
                once("CREDENTIALS")?;
                c.accept_word("as");
                credentials = Some(c.string()?);
            }
            "manifest" => {
                once("MANIFEST")?;
                cmd.manifest = true;
            }
            "format" => {
                c.accept_word("as");
                let f = c.advance().map(|t| t.text.to_ascii_lowercase()).unwrap_or_default();
                if f != "csv" {
                    return Err(SqlError::unsupported(format!(
                        "FORMAT {} is not supported by the Redshift emulator (CSV or delimited text only)",
                        f.to_uppercase()
                    )));
                }
                once("CSV")?;
                cmd.csv_quote = Some(b'"');
            }
            "csv" => {
                once("CSV")?;
                cmd.csv_quote = Some(b'"');
            }
            "quote" => {
                once("QUOTE")?;
                c.accept_word("as");
                quote = Some(single_byte(&c.string()?, "QUOTE")?);
            }
            "delimiter" => {
                once("DELIMITER")?;
                c.accept_word("as");
                delimiter = Some(single_byte(&decode_escapes(&c.string()?), "DELIMITER")?);
            }
            "null" => {
                once("NULL")?;
                c.accept_word("as");
                cmd.null_as = null_string(&c.string()?);
            }
            "escape" => {
                once("ESCAPE")?;
                cmd.escape = true;
            }
            "gzip" | "zstd" | "bzip2" => {
                once("compression")?;
                cmd.compression = match word.as_str() {
                    "gzip" => Compression::Gzip,
                    "zstd" => Compression::Zstd,
                    _ => Compression::Bzip2,
                };
            }
            "region" => {
                once("REGION")?;
                c.accept_word("as");
                cmd.region = Some(c.string()?);
            }
            "dateformat" => {
                once("DATEFORMAT")?;
                c.accept_word("as");
                cmd.dateformat = Some(c.string()?);
            }
            "timeformat" => {
                once("TIMEFORMAT")?;
                c.accept_word("as");
                cmd.timeformat = Some(c.string()?);
            }
            "emptyasnull" => {
                once("EMPTYASNULL")?;
                cmd.empty_as_null = true;
            }
            "blanksasnull" => {
                once("BLANKSASNULL")?;
                cmd.blanks_as_null = true;
            }
            "truncatecolumns" => {
                once("TRUNCATECOLUMNS")?;
                cmd.truncate_columns = true;
            }
            "acceptinvchars" => {
                once("ACCEPTINVCHARS")?;
                c.accept_word("as");
                let replacement = if c.peek().is_some_and(|t| t.kind == Kind::String) {
                    let r = single_byte(&c.string()?, "ACCEPTINVCHARS")?;
                    if r == 0 {
                        return Err(SqlError::invalid("ACCEPTINVCHARS replacement must not be NUL"));
                    }
                    r
                } else {
                    b'?'
                };
                cmd.accept_inv_chars = Some(replacement);
            }
            "maxerror" => {
                once("MAXERROR")?;
                c.accept_word("as");
                let n = c.integer()?;
                if !(0..=MAX_ERROR_LIMIT).contains(&n) {
                    return Err(SqlError::invalid(format!("MAXERROR must be between 0 and {MAX_ERROR_LIMIT}")));
                }
                cmd.max_error = n as u32;
            }
            "ignoreheader" => {
                once("IGNOREHEADER")?;
                c.accept_word("as");
                let n = c.integer()?;
                cmd.ignore_header = u64::try_from(n).map_err(|_| SqlError::invalid("IGNOREHEADER must not be negative"))?;
            }
            "compupdate" | "statupdate" => {
                once(if word == "compupdate" { "COMPUPDATE" } else { "STATUPDATE" })?;
                for v in ["on", "off", "true", "false"] {
                    if c.accept_word(v) {
                        break;
                    }
                }
                if word == "compupdate" {
                    c.accept_word("preset");
                }
            }
            other => {
                return Err(SqlError::syntax(format!(
                    "COPY option {} is not supported by the Redshift emulator",
                    other.to_uppercase()
                )));
            }
        }
    }

    // https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-format.html:
    // "CSV can't be used with FIXEDWIDTH, REMOVEQUOTES, or ESCAPE."
    if cmd.csv_quote.is_some() && cmd.escape {
        return Err(SqlError::syntax("CSV can't be used with ESCAPE"));
    }
    match (cmd.csv_quote.is_some(), quote) {
        (true, Some(q)) => cmd.csv_quote = Some(q),
        (false, Some(_)) => return Err(SqlError::syntax("QUOTE AS requires CSV")),
        _ => {}
    }
    cmd.delimiter = delimiter.unwrap_or(if cmd.csv_quote.is_some() { b',' } else { b'|' });
    if Some(cmd.delimiter) == cmd.csv_quote {
        return Err(SqlError::syntax("the delimiter and the quote character must differ"));
    }

    // https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-authorization.html
    cmd.auth = match (iam_role, key_id, secret, token, credentials) {
        (Some(role), None, None, None, None) => Auth::IamRole(role),
        (None, Some(k), Some(s), t, None) => Auth::Keys { access_key_id: k, secret_access_key: s, session_token: t },
        (None, None, None, None, Some(creds)) => parse_credentials(&creds)?,
        (None, None, None, None, None) => {
            return Err(SqlError {
                code: "28000",
                message: "COPY from S3 needs authorization: IAM_ROLE, ACCESS_KEY_ID and SECRET_ACCESS_KEY, or CREDENTIALS".into(),
            });
        }
        _ => {
            return Err(SqlError::syntax(
                "conflicting authorization: use one of IAM_ROLE, ACCESS_KEY_ID + SECRET_ACCESS_KEY [+ SESSION_TOKEN], or CREDENTIALS",
            ));
        }
    };
    Ok(cmd)
}

/// `'aws_iam_role=arn…'` or `'aws_access_key_id=…;aws_secret_access_key=…[;token=…]'`; "case-
/// sensitive and must not contain spaces".
fn parse_credentials(creds: &str) -> Result<Auth, SqlError> {
    let bad = || SqlError::invalid("invalid CREDENTIALS string (expected aws_iam_role=… or aws_access_key_id=…;aws_secret_access_key=…[;token=…])");
    if creds.contains(' ') {
        return Err(bad());
    }
    let mut role = None;
    let (mut key, mut secret, mut token) = (None, None, None);
    for part in creds.split(';') {
        let (k, v) = part.split_once('=').ok_or_else(bad)?;
        match k {
            "aws_iam_role" => role = Some(v.to_string()),
            "aws_access_key_id" => key = Some(v.to_string()),
            "aws_secret_access_key" => secret = Some(v.to_string()),
            "token" => token = Some(v.to_string()),
            _ => return Err(bad()),
        }
    }
    match (role, key, secret) {
        (Some(r), None, None) if token.is_none() => Ok(Auth::IamRole(Some(r))),
        (None, Some(k), Some(s)) => Ok(Auth::Keys { access_key_id: k, secret_access_key: s, session_token: token }),
        _ => Err(bad()),
    }
}

/// `'\t'` and friends in DELIMITER.
fn decode_escapes(s: &str) -> String {
    match s {
        "\\t" => "\t".into(),
        "\\|" => "|".into(),
        _ => s.to_string(),
    }
}

/// NULL AS: "If a field contains only NUL, you can use NULL AS to replace the null terminator
/// with NULL by specifying '\0' or '\000'"; other strings are taken as written (the default is
/// `\N`). https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-conversion.html
fn null_string(s: &str) -> Vec<u8> {
    match s {
        "\\0" | "\\000" => vec![0],
        _ => s.as_bytes().to_vec(),
    }
}

fn single_byte(s: &str, option: &str) -> Result<u8, SqlError> {
    match s.as_bytes() {
        [b] if b.is_ascii() => Ok(*b),
        _ => Err(SqlError::invalid(format!("{option} must be a single ASCII character"))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::classify::{Statement, classify, split};
    use super::*;

    fn parse(sql: &str) -> Result<CopyCommand, SqlError> {
        let s = split(sql)?;
        match classify(&s[0], &Context::default())? {
            Statement::Copy(c) => Ok(*c),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_loaders_copy() {
        let c = parse(
            "COPY \"Public\".\"T\" (\"A\", b) FROM 's3://bkt/x/manifest.json' IAM_ROLE 'arn:aws:iam::1:role/r' \
             MANIFEST FORMAT AS CSV NULL AS '\\0' GZIP REGION 'us-east-1' COMPUPDATE OFF STATUPDATE OFF",
        )
        .unwrap();
        assert_eq!(c.table.to_string(), "public.t");
        assert_eq!(c.columns, Some(vec!["a".into(), "b".into()]));
        assert_eq!(c.null_as, vec![0]);
        assert_eq!(c.delimiter, b',');
        assert_eq!(c.csv_quote, Some(b'"'));
        assert_eq!(c.compression, Compression::Gzip);
        assert!(c.manifest);
        assert_eq!(c.auth, Auth::IamRole(Some("arn:aws:iam::1:role/r".into())));
    }

    #[test]
    fn text_defaults_and_credentials() {
        let c = parse("copy t from 's3://b/p' credentials 'aws_access_key_id=K;aws_secret_access_key=S;token=T' escape")
            .unwrap();
        assert_eq!(c.delimiter, b'|');
        assert_eq!(c.null_as, b"\\N");
        assert!(c.escape);
        assert_eq!(
            c.auth,
            Auth::Keys { access_key_id: "K".into(), secret_access_key: "S".into(), session_token: Some("T".into()) }
        );
        let c = parse("copy t from 's3://b/p' access_key_id 'K' secret_access_key 'S' delimiter '\\t'").unwrap();
        assert_eq!(c.delimiter, b'\t');
    }

    #[test]
    fn refusals() {
        assert!(parse("copy t from 's3://b/p' iam_role default csv escape").is_err());
        assert!(parse("copy t from 's3://b/p' iam_role default removequotes").is_err());
        assert!(parse("copy t from 's3://b/p' iam_role default format as json").is_err());
        assert!(parse("copy t from 's3://b/p'").is_err());
        assert!(parse("copy t from 's3://b/p' iam_role default access_key_id 'k' secret_access_key 's'").is_err());
        assert!(parse("copy t from 's3://b/p' iam_role default gzip gzip").is_err());
        assert!(parse("copy t from 's3://b/p' iam_role default maxerror 100001").is_err());
        assert!(parse("copy t from stdin").is_err());
    }
}
