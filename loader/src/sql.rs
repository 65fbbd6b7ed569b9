//! The SQL the loader runs, built from a bundle: pure, so `plan` prints exactly what `load` does.

use pg2redshift_bundle::{Bundle, Compression, quote_ident, quote_qualified};

use crate::error::LoadError;

/// How Redshift's COPY authenticates to S3.
#[derive(Debug, Clone)]
pub enum CopyAuth {
    IamRole(String),
    Keys { access_key_id: String, secret_access_key: String, session_token: Option<String> },
}

impl CopyAuth {
    /// The authorization clause; with `redact`, secrets are replaced (for printing).
    pub fn clause(&self, redact: bool) -> Result<String, LoadError> {
        let secret = |s: &str| if redact { Ok("'***'".to_string()) } else { plain_literal(s, "a COPY credential") };
        Ok(match self {
            CopyAuth::IamRole(arn) => format!("IAM_ROLE {}", plain_literal(arn, "the IAM role")?),
            CopyAuth::Keys { access_key_id, secret_access_key, session_token } => {
                let mut s = format!(
                    "ACCESS_KEY_ID {} SECRET_ACCESS_KEY {}",
                    secret(access_key_id)?,
                    secret(secret_access_key)?
                );
                if let Some(t) = session_token {
                    s.push_str(&format!(" SESSION_TOKEN {}", secret(t)?));
                }
                s
            }
        })
    }
}

/// A string as a Redshift string expression. Redshift reads a backslash inside a literal as an
/// escape (r_QUOTE_LITERAL doubles it), PostgreSQL does not: so backslashes are spliced in as
/// `CHR(92)`, which both read the same, and nothing in `s` can end the literal early.
pub fn quote_literal(s: &str) -> String {
    s.split('\\').map(|part| format!("'{}'", part.replace('\'', "''"))).collect::<Vec<_>>().join(" || CHR(92) || ")
}

/// A string where Redshift's grammar wants a plain literal (COPY's source, credentials,
/// delimiter): one without a backslash, which could not be spliced in there.
pub fn plain_literal(s: &str, what: &str) -> Result<String, LoadError> {
    if s.contains('\\') {
        return Err(LoadError::Refused(format!("{what} contains a backslash, which Redshift would read as an escape")));
    }
    Ok(format!("'{}'", s.replace('\'', "''")))
}

/// Redshift's longest identifier, in bytes (r_names).
const MAX_NAME_BYTES: usize = 127;

/// The staging and retired names of a table during the swap.
pub fn staging_name(table: &str) -> String {
    swap_name(table, "__pg2rs_new")
}

/// Where a change batch's rows for `table` are staged.
pub fn changes_name(table: &str) -> String {
    swap_name(table, "__pg2rs_chg")
}

pub fn retired_name(table: &str) -> String {
    swap_name(table, "__pg2rs_old")
}

/// `table` + `suffix`, within Redshift's 127 bytes: a long name is cut (at a character
/// boundary) and told apart by a hash of the whole name, so the staging table never ends up
/// as the table itself or as another table's staging table.
fn swap_name(table: &str, suffix: &str) -> String {
    if table.len() + suffix.len() <= MAX_NAME_BYTES {
        return format!("{table}{suffix}");
    }
    use sha2::Digest;
    let hash = hex::encode(&sha2::Sha256::digest(table.as_bytes())[..4]);
    let mut cut = MAX_NAME_BYTES - suffix.len() - hash.len() - 1;
    while !table.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{hash}{suffix}", &table[..cut])
}

/// COPY with exactly the format the bundle declares; anything else is refused rather than
/// guessed.
pub fn copy_statement(bundle: &Bundle, bucket: &str, auth: &CopyAuth, redact: bool) -> Result<String, LoadError> {
    let columns: Vec<String> = bundle.table.columns.iter().map(|c| quote_ident(&c.name)).collect();
    let staging = quote_qualified(&bundle.table.schema, &staging_name(&bundle.table.name));
    copy_into(bundle, &staging, &columns, bucket, auth, redact)
}

/// The same into `table` (quoted), whose `columns` (quoted) take the files' fields in order.
pub fn copy_into(bundle: &Bundle, table: &str, columns: &[String], bucket: &str, auth: &CopyAuth, redact: bool) -> Result<String, LoadError> {
    let e = &bundle.encoding;
    let compression: Option<Compression> = e.compression.parse().ok();
    let Some(compression) = compression.filter(|_| e.format == "csv" && e.null_as == "\0" && e.delimiter == "," && e.quote == "\"")
    else {
        return Err(LoadError::Refused(format!(
            "the bundle's encoding (format {}, compression {}, null_as {:?}, delimiter {:?}, quote {:?}) is not one this loader reads",
            e.format, e.compression, e.null_as, e.delimiter, e.quote
        )));
    };
    Ok(format!(
        "COPY {table} ({}) FROM {} {} MANIFEST FORMAT AS CSV DELIMITER {} QUOTE AS {} NULL AS '\\0' {} COMPUPDATE OFF STATUPDATE OFF",
        columns.join(", "),
        plain_literal(&format!("s3://{bucket}/{}", bundle.manifest_key), "the manifest's URL")?,
        auth.clause(redact)?,
        plain_literal(&e.delimiter, "the delimiter")?,
        plain_literal(&e.quote, "the quote character")?,
        compression.copy_option(),
    ))
}

/// One privilege granted on a table or view, as SVV_RELATION_PRIVILEGES lists it.
/// https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_RELATION_PRIVILEGES.html
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Privilege {
    /// INSERT, SELECT, UPDATE, DELETE, REFERENCES, DROP, ALTER or TRUNCATE.
    pub privilege: String,
    pub identity: String,
    /// user, role, group or public.
    pub identity_type: String,
    /// WITH GRANT OPTION (users only).
    pub admin: bool,
}

/// The GRANT statements that give `target` the privileges another relation had, one per
/// grantee, in r_GRANT's forms (`TO name | ROLE name | GROUP name | PUBLIC`). The owner's own
/// rights come with ownership; a privilege r_GRANT does not list for tables is left out.
/// https://docs.aws.amazon.com/redshift/latest/dg/r_GRANT.html
pub fn grant_statements(privileges: &[Privilege], owner: &str, target: &str) -> Vec<String> {
    const GRANTABLE: &[&str] = &["SELECT", "INSERT", "UPDATE", "DELETE", "REFERENCES", "DROP", "ALTER", "TRUNCATE"];
    let mut grantees: Vec<(&str, &str, bool, Vec<&str>)> = Vec::new();
    for p in privileges {
        let kind = p.identity_type.to_ascii_lowercase();
        if (kind == "user" && p.identity == owner) || !GRANTABLE.contains(&p.privilege.as_str()) {
            continue;
        }
        let kind = match kind.as_str() {
            "user" => "user",
            "role" => "role",
            "group" => "group",
            "public" => "public",
            _ => continue,
        };
        match grantees.iter_mut().find(|(k, i, a, _)| *k == kind && *i == p.identity && *a == p.admin) {
            Some((_, _, _, privs)) if !privs.contains(&p.privilege.as_str()) => privs.push(&p.privilege),
            Some(_) => {}
            None => grantees.push((kind, &p.identity, p.admin, vec![&p.privilege])),
        }
    }
    grantees
        .into_iter()
        .map(|(kind, identity, admin, privs)| {
            let to = match kind {
                "public" => "PUBLIC".to_string(),
                "role" => format!("ROLE {}", quote_ident(identity)),
                "group" => format!("GROUP {}", quote_ident(identity)),
                _ => quote_ident(identity),
            };
            let option = if admin && kind == "user" { " WITH GRANT OPTION" } else { "" };
            format!("GRANT {} ON {target} TO {to}{option}", privs.join(", "))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn privilege(p: &str, identity: &str, identity_type: &str, admin: bool) -> Privilege {
        Privilege { privilege: p.into(), identity: identity.into(), identity_type: identity_type.into(), admin }
    }

    #[test]
    fn privileges_to_grants() {
        let privileges = vec![
            privilege("SELECT", "awsuser", "user", false),
            privilege("SELECT", "analyst", "user", false),
            privilege("SELECT", "public", "public", false),
            privilege("INSERT", "odd \"name", "user", false),
            privilege("UPDATE", "odd \"name", "user", false),
            privilege("DROP", "etl", "group", false),
            privilege("TRUNCATE", "loader", "role", false),
            privilege("SELECT", "lead", "user", true),
            privilege("TRIGGER", "analyst", "user", false),
            privilege("RULE", "analyst", "user", false),
        ];
        assert_eq!(
            grant_statements(&privileges, "awsuser", "\"s\".\"t\""),
            vec![
                "GRANT SELECT ON \"s\".\"t\" TO \"analyst\"",
                "GRANT SELECT ON \"s\".\"t\" TO PUBLIC",
                "GRANT INSERT, UPDATE ON \"s\".\"t\" TO \"odd \"\"name\"",
                "GRANT DROP ON \"s\".\"t\" TO GROUP \"etl\"",
                "GRANT TRUNCATE ON \"s\".\"t\" TO ROLE \"loader\"",
                "GRANT SELECT ON \"s\".\"t\" TO \"lead\" WITH GRANT OPTION",
            ]
        );
    }

    #[test]
    fn secrets_are_redacted() {
        let a = CopyAuth::Keys { access_key_id: "AKIA".into(), secret_access_key: "s3cr3t".into(), session_token: Some("tok".into()) };
        let shown = a.clause(true).unwrap();
        assert!(!shown.contains("s3cr3t") && !shown.contains("tok") && !shown.contains("AKIA"));
        assert!(a.clause(false).unwrap().contains("'s3cr3t'"));
        let odd = CopyAuth::IamRole("arn:aws:iam::1:role/x\\' OR 1=1".into());
        assert!(matches!(odd.clause(false), Err(LoadError::Refused(_))));
    }

    #[test]
    fn swap_names_stay_within_127_bytes() {
        assert_eq!(staging_name("t"), "t__pg2rs_new");
        let long = format!("{}é", "x".repeat(125));
        let (new, old) = (staging_name(&long), retired_name(&long));
        assert!(new.len() <= 127 && old.len() <= 127, "{new}");
        assert!(new.ends_with("__pg2rs_new") && old.ends_with("__pg2rs_old"));
        assert_ne!(&new[..new.len() - 11], long, "never the table's own name");
        let other = format!("{}ü", "x".repeat(125));
        assert_ne!(staging_name(&other), new, "two long names that share a beginning stay apart");
        assert_eq!(staging_name(&"y".repeat(116)).len(), 127);
    }

    #[test]
    fn literals_cannot_be_ended_by_a_backslash() {
        assert_eq!(quote_literal("it's"), "'it''s'");
        // In Redshift '\'' is one quote and the literal would go on: the backslash is spliced.
        assert_eq!(quote_literal("a\\'; DROP TABLE t; --"), "'a' || CHR(92) || '''; DROP TABLE t; --'");
        assert_eq!(quote_literal("\\"), "'' || CHR(92) || ''");
        assert!(plain_literal("s3://b/k\\x", "the URL").is_err());
        assert_eq!(plain_literal("s3://b/it's", "the URL").unwrap(), "'s3://b/it''s'");
    }
}
