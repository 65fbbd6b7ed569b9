//! What this loader may touch: the Redshift schemas its operator allowed (`--schemas`), never
//! its own history schema, and, with signing keys, only bundles signed with one of them (that
//! check reads S3 and lives in `store`). Checked before any statement runs.

use pg2redshift_bundle::signature::SigningKey;

use crate::error::LoadError;
use crate::state::SCHEMA;
use crate::store::Committed;

/// Refuses an export with a table outside `allowed` (None: any schema but the loader's own).
pub fn check_schemas(export: &[Committed], allowed: Option<&[String]>) -> Result<(), LoadError> {
    for c in export {
        let schema = c.bundle.table.schema.as_str();
        // Redshift folds ASCII letters in names, as the bundle's names already are.
        let own = schema.eq_ignore_ascii_case(SCHEMA);
        let outside = allowed.is_some_and(|list| !list.iter().any(|a| a.eq_ignore_ascii_case(schema)));
        if own || outside {
            let why = if own {
                "the loader's own history schema".to_string()
            } else {
                format!("not one of --schemas {}", allowed.unwrap_or_default().join(","))
            };
            return Err(LoadError::Refused(format!(
                "{}: refused: it loads into Redshift schema {} ({why})",
                c.url(),
                pg2redshift_bundle::quote_ident(schema)
            )));
        }
    }
    Ok(())
}

/// The signing keys of `--signing-key-file` (one per line; blank lines and `#` comments
/// skipped) and of `REDSHIFT_LOAD_SIGNING_KEY`; several keys allow a rotation.
pub fn signing_keys(file: Option<&std::path::Path>, env: Option<&str>) -> Result<Vec<SigningKey>, LoadError> {
    let mut lines: Vec<String> = env.into_iter().map(str::to_string).collect();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| LoadError::Usage(format!("cannot read the signing key file {}: {e}", path.display())))?;
        lines.extend(text.lines().map(str::to_string));
    }
    lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| SigningKey::new(l.as_bytes()).map_err(|e| LoadError::Usage(format!("signing key: {e}"))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_one_per_line_and_short_ones_are_refused() {
        let dir = std::env::temp_dir().join(format!("pg2rs-keys-{}", std::process::id()));
        std::fs::write(&dir, format!("# rotated in December\n{}\n\n{}\n", "a".repeat(32), "b".repeat(40))).unwrap();
        let keys = signing_keys(Some(&dir), Some(&"c".repeat(32))).unwrap();
        assert_eq!(keys.len(), 3);
        assert!(matches!(signing_keys(None, Some("short")), Err(LoadError::Usage(_))));
        assert!(signing_keys(None, None).unwrap().is_empty());
        std::fs::remove_file(&dir).unwrap();
    }
}
