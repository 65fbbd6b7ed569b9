//! CSV exactly as Redshift's COPY … CSV reads it (copy-parameters-data-format): fields separated
//! by `,`, a field holding `,` `"` CR or LF quoted with `"` doubled inside, backslashes plain
//! data; a lone NUL byte is NULL (`NULL AS '\0'`) and the empty string is written `""`.

/// The NULL marker: PostgreSQL text cannot contain NUL, so no value can be mistaken for it.
pub const NULL_FIELD: u8 = 0;
pub const DELIMITER: u8 = b',';
pub const QUOTE: u8 = b'"';
pub const ROW_END: u8 = b'\n';

/// Appends one field (without delimiter) to `out`.
pub fn push_field(out: &mut Vec<u8>, value: Option<&str>) {
    let Some(value) = value else {
        out.push(NULL_FIELD);
        return;
    };
    let bytes = value.as_bytes();
    if !needs_quotes(bytes) {
        out.extend_from_slice(bytes);
        return;
    }
    out.reserve(bytes.len() + 2);
    out.push(QUOTE);
    for chunk in bytes.split_inclusive(|&b| b == QUOTE) {
        out.extend_from_slice(chunk);
        if chunk.last() == Some(&QUOTE) {
            out.push(QUOTE);
        }
    }
    out.push(QUOTE);
}

/// Empty fields are quoted so they load as '' rather than NULL; fields with leading or trailing
/// blanks are quoted so no reader can trim them.
fn needs_quotes(bytes: &[u8]) -> bool {
    match (bytes.first(), bytes.last()) {
        (None, _) => true,
        (Some(b' ' | b'\t'), _) | (_, Some(b' ' | b'\t')) => true,
        _ => has_special(bytes),
    }
}

/// Whether any byte is `,` `"` CR or LF. Looks at 16 bytes at a time without branching inside a
/// group, which the compiler turns into vector compares: most fields need no quotes, and this
/// scan touches every byte of the export.
fn has_special(bytes: &[u8]) -> bool {
    let special = |b: u8| matches!(b, b',' | b'"' | b'\r' | b'\n');
    let mut groups = bytes.chunks_exact(16);
    for group in &mut groups {
        if group.iter().fold(false, |found, &b| found | special(b)) {
            return true;
        }
    }
    groups.remainder().iter().any(|&b| special(b))
}

/// Appends a whole row: fields separated by `,`, ended by LF.
pub fn push_row<'a>(out: &mut Vec<u8>, fields: impl IntoIterator<Item = Option<&'a str>>) {
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(DELIMITER);
        }
        push_field(out, field);
    }
    out.push(ROW_END);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(fields: &[Option<&str>]) -> Vec<u8> {
        let mut out = Vec::new();
        push_row(&mut out, fields.iter().copied());
        out
    }

    #[test]
    fn null_empty_and_plain_fields() {
        assert_eq!(row(&[None, Some(""), Some("abc")]), b"\0,\"\",abc\n");
    }

    #[test]
    fn quotes_only_what_needs_quoting() {
        assert_eq!(row(&[Some("a,b")]), b"\"a,b\"\n");
        assert_eq!(row(&[Some("say \"hi\"")]), b"\"say \"\"hi\"\"\"\n");
        assert_eq!(row(&[Some("l1\nl2\r\nl3\r")]), b"\"l1\nl2\r\nl3\r\"\n");
        assert_eq!(row(&[Some("back\\slash \\N NULL")]), b"back\\slash \\N NULL\n");
        assert_eq!(row(&[Some(" pad ")]), b"\" pad \"\n");
        assert_eq!(row(&[Some("\"")]), b"\"\"\"\"\n");
        assert_eq!(row(&[Some("😀")]), "😀\n".as_bytes());
        let long = "x".repeat(40);
        for special in [",", "\"", "\r", "\n"] {
            for at in [0, 15, 16, 31, 39] {
                let mut value = long.clone();
                value.replace_range(at..at + 1, special);
                assert_eq!(row(&[Some(&value)])[0], b'"', "{special:?} at {at}");
            }
        }
        assert_eq!(row(&[Some(&long)]), format!("{long}\n").as_bytes());
    }
}
