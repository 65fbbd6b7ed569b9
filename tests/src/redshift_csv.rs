//! Reads CSV the way Redshift's COPY … CSV NULL AS '\0' documents it (copy-parameters-data-format,
//! copy-parameters-data-conversion), written independently of the extension's encoder so the
//! tests check the files against the documented rules, not against the code that wrote them:
//! fields separated by `,`; a field starting with `"` runs to the next `"` not doubled, and may
//! hold `,` CR LF; `""` inside is one `"`; no escape character; an unquoted field that is one NUL
//! byte is NULL; rows end at LF outside quotes.

/// One CSV field as COPY sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Null,
    /// An unquoted empty field: '' for CHAR/VARCHAR, NULL for other types.
    Empty,
    Text(String),
}

impl Field {
    /// The value loaded into a VARCHAR column.
    pub fn as_varchar(&self) -> Option<&str> {
        match self {
            Field::Null => None,
            Field::Empty => Some(""),
            Field::Text(t) => Some(t),
        }
    }
}

pub fn parse(data: &[u8]) -> Result<Vec<Vec<Field>>, String> {
    let text = std::str::from_utf8(data).map_err(|e| format!("not UTF-8: {e}"))?;
    let bytes = text.as_bytes();
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        // At the start of a field.
        let (field, next) = if bytes[i] == b'"' {
            let mut value = String::new();
            let mut j = i + 1;
            loop {
                let Some(offset) = text[j..].find('"') else {
                    return Err(format!("unterminated quoted field at byte {i}"));
                };
                value.push_str(&text[j..j + offset]);
                j += offset + 1;
                if bytes.get(j) == Some(&b'"') {
                    value.push('"');
                    j += 1;
                } else {
                    break;
                }
            }
            (Field::Text(value), j)
        } else {
            let end = text[i..].find([',', '\n']).map_or(bytes.len(), |o| i + o);
            let raw = &text[i..end];
            if raw.contains('"') {
                return Err(format!("quote inside an unquoted field at byte {i}"));
            }
            let field = match raw {
                "\0" => Field::Null,
                "" => Field::Empty,
                _ => Field::Text(raw.to_string()),
            };
            (field, end)
        };
        row.push(field);
        match bytes.get(next) {
            Some(b',') => {
                i = next + 1;
                if i == bytes.len() || bytes[i] == b'\n' {
                    return Err(format!("row ends in a delimiter at byte {next}"));
                }
            }
            Some(b'\n') => {
                rows.push(std::mem::take(&mut row));
                i = next + 1;
            }
            None => return Err("the last row has no line end".into()),
            Some(other) => return Err(format!("unexpected byte {other:#x} after a field at byte {next}")),
        }
    }
    if !row.is_empty() {
        return Err("the last row has no line end".into());
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_rules() {
        let rows = parse(b"1,\"a,\"\"b\"\"\r\nc\",\0,,x\\N\n").unwrap();
        assert_eq!(
            rows,
            vec![vec![
                Field::Text("1".into()),
                Field::Text("a,\"b\"\r\nc".into()),
                Field::Null,
                Field::Empty,
                Field::Text("x\\N".into()),
            ]]
        );
        assert!(parse(b"1,2").is_err());
        assert!(parse(b"\"open\n").is_err());
    }
}
