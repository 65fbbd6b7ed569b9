//! The SQL the loader runs, built from a bundle: pure, so `plan` prints exactly what `load` does.

use pg2redshift_bundle::{Bundle, quote_ident, quote_qualified};

use crate::error::LoadError;

/// How Redshift's COPY authenticates to S3.
#[derive(Debug, Clone)]
pub enum CopyAuth {
    IamRole(String),
    Keys { access_key_id: String, secret_access_key: String, session_token: Option<String> },
}

impl CopyAuth {
    /// The authorization clause; with `redact`, secrets are replaced (for printing).
    pub fn clause(&self, redact: bool) -> String {
        let secret = |s: &str| if redact { "'***'".to_string() } else { quote_literal(s) };
        match self {
            CopyAuth::IamRole(arn) => format!("IAM_ROLE {}", quote_literal(arn)),
            CopyAuth::Keys { access_key_id, secret_access_key, session_token } => {
                let mut s = format!(
                    "ACCESS_KEY_ID {} SECRET_ACCESS_KEY {}",
                    secret(access_key_id),
                    secret(secret_access_key)
                );
                if let Some(t) = session_token {
                    s.push_str(&format!(" SESSION_TOKEN {}", secret(t)));
                }
                s
            }
        }
    }
}

pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The staging and retired names of a table during the swap.
pub fn staging_name(table: &str) -> String {
    format!("{table}__pg2rs_new")
}

pub fn retired_name(table: &str) -> String {
    format!("{table}__pg2rs_old")
}

/// COPY with exactly the format the bundle declares; anything else is refused rather than
/// guessed.
pub fn copy_statement(bundle: &Bundle, bucket: &str, auth: &CopyAuth, redact: bool) -> Result<String, LoadError> {
    let e = &bundle.encoding;
    if e.format != "csv" || e.compression != "gzip" || e.null_as != "\0" {
        return Err(LoadError::Refused(format!(
            "the bundle's encoding (format {}, compression {}, null_as {:?}) is not one this loader reads",
            e.format, e.compression, e.null_as
        )));
    }
    let columns: Vec<String> = bundle.table.columns.iter().map(|c| quote_ident(&c.name)).collect();
    Ok(format!(
        "COPY {} ({}) FROM {} {} MANIFEST FORMAT AS CSV DELIMITER {} QUOTE AS {} NULL AS '\\0' GZIP COMPUPDATE OFF STATUPDATE OFF",
        quote_qualified(&bundle.table.schema, &staging_name(&bundle.table.name)),
        columns.join(", "),
        quote_literal(&format!("s3://{bucket}/{}", bundle.manifest_key)),
        auth.clause(redact),
        quote_literal(&e.delimiter),
        quote_literal(&e.quote),
    ))
}

/// GRANTs found in an ACL (`{grantee=privs/grantor,…}`, the format of `pg_class.relacl` in
/// PostgreSQL and Redshift), re-stated for `target`. The owner's own entry is left out.
pub fn grants_from_acl(acl: &str, owner: &str, target: &str) -> Vec<String> {
    let inner = acl.trim().trim_start_matches('{').trim_end_matches('}');
    let mut out = Vec::new();
    for item in split_acl(inner) {
        let Some((grantee, rest)) = acl_grantee(&item) else { continue };
        let privs = rest.split('/').next().unwrap_or("");
        let grantee = grantee.as_str();
        if grantee == owner {
            continue;
        }
        let names: Vec<&str> = privs
            .chars()
            .filter_map(|c| match c {
                'r' => Some("SELECT"),
                'a' => Some("INSERT"),
                'w' => Some("UPDATE"),
                'd' => Some("DELETE"),
                'x' => Some("REFERENCES"),
                'D' => Some("TRUNCATE"),
                't' => Some("TRIGGER"),
                _ => None,
            })
            .collect();
        if names.is_empty() {
            continue;
        }
        let to = if grantee.is_empty() {
            "PUBLIC".to_string()
        } else if let Some(g) = grantee.strip_prefix("group ") {
            format!("GROUP {}", quote_ident(g))
        } else {
            quote_ident(grantee)
        };
        out.push(format!("GRANT {} ON {target} TO {to}", names.join(", ")));
    }
    out
}

/// The grantee of one ACL item (unquoted) and the text after its `=`.
fn acl_grantee(item: &str) -> Option<(String, &str)> {
    let Some(quoted) = item.strip_prefix('"') else {
        let (g, rest) = item.split_once('=')?;
        return Some((g.to_string(), rest));
    };
    let mut name = String::new();
    let mut chars = quoted.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '"' {
            name.push(c);
        } else if chars.peek().is_some_and(|&(_, n)| n == '"') {
            name.push('"');
            chars.next();
        } else {
            return Some((name, quoted[i + 1..].strip_prefix('=')?));
        }
    }
    None
}

/// Splits an ACL's items on commas outside double quotes.
fn split_acl(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acl_to_grants() {
        let g = grants_from_acl("{awsuser=arwdDxt/awsuser,analyst=r/awsuser,=r/awsuser,\"odd \"\"name\"=aw/awsuser}", "awsuser", "\"s\".\"t\"");
        assert_eq!(
            g,
            vec![
                "GRANT SELECT ON \"s\".\"t\" TO \"analyst\"",
                "GRANT SELECT ON \"s\".\"t\" TO PUBLIC",
                "GRANT INSERT, UPDATE ON \"s\".\"t\" TO \"odd \"\"name\"",
            ]
        );
    }

    #[test]
    fn secrets_are_redacted() {
        let a = CopyAuth::Keys { access_key_id: "AKIA".into(), secret_access_key: "s3cr3t".into(), session_token: Some("tok".into()) };
        let shown = a.clause(true);
        assert!(!shown.contains("s3cr3t") && !shown.contains("tok") && !shown.contains("AKIA"));
        assert!(a.clause(false).contains("'s3cr3t'"));
    }
}
