//! Errors of the backing PostgreSQL as Redshift reports them, where the two differ: the
//! serialization failure (Redshift's error 1023) and the byte rules the emulator enforces with
//! CHECK constraints (see `ColumnDef::byte_check`). Every other error passes unchanged.

use crate::sql::create_table::CHECK_PREFIX;
use crate::wire::{Message, error_response};

/// The ErrorResponse the client sees for `m` from the backend.
pub fn for_client(m: &Message) -> Message {
    let code = m.field(b'C').unwrap_or_default();
    match code.as_str() {
        // "ERROR: 1023 DETAIL: Serializable isolation violation on table - 156810, transactions
        // forming the cycle are: 1388(Q8), 1390(Q9) (pid:5678)". PostgreSQL does not say which
        // table or transactions, so the DETAIL says what it knows.
        // https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation.html
        "40001" => {
            let why = m.field(b'M').unwrap_or_default();
            let detail = format!("Serializable isolation violation on table ({why})");
            error_response("ERROR", "40001", "1023", Some(&detail))
        }
        "23514" => match m.field(b'n').as_deref().and_then(|n| n.strip_prefix(CHECK_PREFIX)) {
            Some(rule) => byte_rule(rule),
            None => m.clone(),
        },
        _ => m.clone(),
    }
}

/// `rule` is `<type>:<column>` from a byte-rule constraint's name.
fn byte_rule(rule: &str) -> Message {
    let type_name = rule.split(':').next().unwrap_or(rule);
    if type_name.starts_with("character(") {
        // "A CHAR column can only contain single-byte characters"; INSERT's error text is not
        // documented, so it is COPY's (error 1220) for the same rule.
        // https://docs.aws.amazon.com/redshift/latest/dg/r_Character_types.html
        // https://docs.aws.amazon.com/redshift/latest/dg/multi-byte-character-load-errors.html
        error_response("ERROR", "22001", "Multibyte character not supported for CHAR (Hint: Try using VARCHAR)", None)
    } else {
        // "An attempt to store a longer string into a column of these types results in an
        // error"; lengths count bytes. The text is the documented one for CHAR(20).
        // https://docs.aws.amazon.com/redshift/latest/dg/r_Examples_with_character_types.html
        error_response("ERROR", "22001", &format!("value too long for type {type_name}"), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg_error(code: &str, message: &str, constraint: Option<&str>) -> Message {
        let mut body = Vec::new();
        for (k, v) in [(b'S', "ERROR"), (b'C', code), (b'M', message)] {
            body.push(k);
            body.extend_from_slice(v.as_bytes());
            body.push(0);
        }
        if let Some(c) = constraint {
            body.push(b'n');
            body.extend_from_slice(c.as_bytes());
            body.push(0);
        }
        body.push(0);
        Message::new(b'E', body)
    }

    #[test]
    fn serialization_failure_is_1023() {
        let m = for_client(&pg_error("40001", "could not serialize access due to read/write dependencies", None));
        assert_eq!(m.field(b'M').as_deref(), Some("1023"));
        assert_eq!(m.field(b'C').as_deref(), Some("40001"));
        assert!(m.field(b'D').unwrap_or_default().starts_with("Serializable isolation violation on table"));
    }

    #[test]
    fn byte_rules() {
        let m = for_client(&pg_error("23514", "violates", Some("rs_check:character varying(3):name")));
        assert_eq!(m.field(b'M').as_deref(), Some("value too long for type character varying(3)"));
        assert_eq!(m.field(b'C').as_deref(), Some("22001"));
        let m = for_client(&pg_error("23514", "violates", Some("rs_check:varbyte(4):b")));
        assert_eq!(m.field(b'M').as_deref(), Some("value too long for type varbyte(4)"));
        let other = pg_error("23514", "violates", Some("my_check"));
        assert_eq!(for_client(&other).body, other.body);
    }
}
