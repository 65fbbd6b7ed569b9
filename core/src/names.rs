//! Redshift's identifier rules (r_names): 1–127 bytes, printable UTF-8, ASCII letters folded to
//! lowercase even inside double quotes (unless the cluster enables case-sensitive identifiers,
//! which we do not assume), and a few column names reserved for system columns.

use pg2redshift_bundle::redshift::IDENTIFIER_MAX_BYTES;

/// Column names Redshift reserves for system columns (r_names).
const RESERVED_COLUMN_NAMES: &[&str] = &["oid", "tableoid", "xmin", "cmin", "xmax", "cmax", "ctid"];

/// The name as Redshift will store it.
pub fn fold(name: &str) -> String {
    name.to_ascii_lowercase()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameProblem {
    #[error("is empty")]
    Empty,
    #[error("is {0} bytes long; Redshift allows at most 127")]
    TooLong(usize),
    #[error("contains a control character, which Redshift identifiers cannot hold")]
    NotPrintable,
    #[error("is reserved by Redshift for a system column")]
    ReservedColumn,
}

/// Checks a name that will be used for a Redshift schema or table.
pub fn check_relation_name(name: &str) -> Result<(), NameProblem> {
    if name.is_empty() {
        return Err(NameProblem::Empty);
    }
    if name.len() > IDENTIFIER_MAX_BYTES {
        return Err(NameProblem::TooLong(name.len()));
    }
    if name.chars().any(char::is_control) {
        return Err(NameProblem::NotPrintable);
    }
    Ok(())
}

/// Checks a name that will be used for a Redshift column.
pub fn check_column_name(name: &str) -> Result<(), NameProblem> {
    check_relation_name(name)?;
    if RESERVED_COLUMN_NAMES.contains(&fold(name).as_str()) {
        return Err(NameProblem::ReservedColumn);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_lowercases_ascii_only() {
        assert_eq!(fold("UserId"), "userid");
        assert_eq!(fold("ÄBC"), "Äbc");
    }

    #[test]
    fn lengths_count_bytes() {
        assert_eq!(check_relation_name(&"a".repeat(127)), Ok(()));
        assert_eq!(check_relation_name(&"a".repeat(128)), Err(NameProblem::TooLong(128)));
        // 64 two-byte characters: 128 bytes although PostgreSQL counts 64 characters.
        assert_eq!(check_relation_name(&"é".repeat(64)), Err(NameProblem::TooLong(128)));
        assert_eq!(check_relation_name(""), Err(NameProblem::Empty));
        assert_eq!(check_relation_name("a\tb"), Err(NameProblem::NotPrintable));
        assert_eq!(check_relation_name("with \"quote\" and space"), Ok(()));
    }

    #[test]
    fn system_column_names_are_reserved_for_columns_only() {
        assert_eq!(check_column_name("CTID"), Err(NameProblem::ReservedColumn));
        assert_eq!(check_column_name("xmin"), Err(NameProblem::ReservedColumn));
        assert_eq!(check_relation_name("oid"), Ok(()));
        assert_eq!(check_column_name("oids"), Ok(()));
    }
}
