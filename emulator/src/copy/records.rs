//! Splits a COPY input stream into records and fields, fed chunk by chunk so a file of any size
//! is read in constant memory. Two modes, as Redshift documents them:
//! - CSV (https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-format.html#copy-csv):
//!   fields separated by the delimiter; a field may be enclosed in the quote character, inside
//!   which delimiters and newlines are data and a doubled quote stands for one.
//! - delimited text: fields separated by the delimiter, records by newlines; with ESCAPE "the
//!   character that immediately follows the backslash character is loaded into the table as part
//!   of the current column value, even if it is a character that normally serves a special
//!   purpose", and "doesn't interpret octal, hex, Unicode"
//!   (https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-conversion.html#copy-escape).

/// "The maximum size of a single input row from any source is 4 MB."
/// https://docs.aws.amazon.com/redshift/latest/dg/r_COPY.html
pub const MAX_ROW_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The value after unquoting / unescaping.
    pub value: Vec<u8>,
    /// The field as it stood in the file (for NULL AS and for stl_load_errors).
    pub raw: Vec<u8>,
    pub quoted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// 1-based line of the file on which the record starts.
    pub line: u64,
    pub fields: Vec<Field>,
    /// The record's raw bytes, without its final newline.
    pub raw: Vec<u8>,
    /// A malformed record (bad quoting, over 4 MB): (error code, reason).
    pub error: Option<(i32, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    FieldStart,
    Unquoted,
    Quoted,
    /// Just after a quote inside a quoted field.
    QuoteInQuoted,
    /// After an ESCAPE backslash.
    Escaped,
    /// Skipping the rest of a malformed record.
    Skipping,
}

pub struct RecordParser {
    delimiter: u8,
    quote: Option<u8>,
    escape: bool,
    state: State,
    field: Field,
    fields: Vec<Field>,
    raw: Vec<u8>,
    line: u64,
    record_line: u64,
    error: Option<(i32, String)>,
}

impl RecordParser {
    pub fn new(delimiter: u8, quote: Option<u8>, escape: bool) -> Self {
        RecordParser {
            delimiter,
            quote,
            escape,
            state: State::FieldStart,
            field: Field { value: Vec::new(), raw: Vec::new(), quoted: false },
            fields: Vec::new(),
            raw: Vec::new(),
            line: 1,
            record_line: 1,
            error: None,
        }
    }

    fn end_field(&mut self) {
        let f = std::mem::replace(&mut self.field, Field { value: Vec::new(), raw: Vec::new(), quoted: false });
        self.fields.push(f);
    }

    fn end_record(&mut self, out: &mut Vec<Record>) {
        if self.state != State::Skipping {
            self.end_field();
        }
        out.push(Record {
            line: self.record_line,
            fields: std::mem::take(&mut self.fields),
            raw: std::mem::take(&mut self.raw),
            error: self.error.take(),
        });
        self.field = Field { value: Vec::new(), raw: Vec::new(), quoted: false };
        self.state = State::FieldStart;
        self.record_line = self.line;
    }

    fn fail(&mut self, code: i32, reason: String) {
        if self.error.is_none() {
            self.error = Some((code, reason));
        }
        self.state = State::Skipping;
    }

    /// Feeds the next bytes of the file; complete records are appended to `out`.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<Record>) {
        for &b in data {
            if b == b'\n' {
                self.line += 1;
            }
            let ends_record = b == b'\n'
                && matches!(self.state, State::FieldStart | State::Unquoted | State::QuoteInQuoted | State::Skipping);
            if ends_record {
                self.end_record(out);
                continue;
            }
            if self.raw.len() < MAX_ROW_BYTES {
                self.raw.push(b);
            } else if self.state != State::Skipping {
                self.fail(1216, format!("Row size exceeds the maximum of {MAX_ROW_BYTES} bytes"));
            }
            match self.state {
                State::Skipping => {}
                State::FieldStart if Some(b) == self.quote => {
                    self.field.quoted = true;
                    self.field.raw.push(b);
                    self.state = State::Quoted;
                }
                State::FieldStart | State::Unquoted => {
                    if b == self.delimiter {
                        self.end_field();
                        self.state = State::FieldStart;
                    } else if self.escape && b == b'\\' {
                        self.field.raw.push(b);
                        self.state = State::Escaped;
                    } else {
                        self.field.raw.push(b);
                        self.field.value.push(b);
                        self.state = State::Unquoted;
                    }
                }
                State::Escaped => {
                    self.field.raw.push(b);
                    self.field.value.push(b);
                    self.state = State::Unquoted;
                }
                State::Quoted => {
                    self.field.raw.push(b);
                    if Some(b) == self.quote {
                        self.state = State::QuoteInQuoted;
                    } else {
                        self.field.value.push(b);
                    }
                }
                State::QuoteInQuoted => {
                    if Some(b) == self.quote {
                        self.field.raw.push(b);
                        self.field.value.push(b);
                        self.state = State::Quoted;
                    } else if b == self.delimiter {
                        self.end_field();
                        self.state = State::FieldStart;
                    } else {
                        self.fail(1216, "Invalid quote formatting for CSV".into());
                    }
                }
            }
        }
    }

    /// The end of the file: a last record without a newline, or an unterminated quote.
    pub fn finish(&mut self, out: &mut Vec<Record>) {
        match self.state {
            State::Quoted => {
                self.fail(1216, "Unterminated quoted field at end of file".into());
                self.end_record(out);
            }
            State::Escaped => {
                self.fail(1216, "Escape character at end of file".into());
                self.end_record(out);
            }
            State::FieldStart if self.fields.is_empty() && self.raw.is_empty() => {}
            _ => self.end_record(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &[u8], delimiter: u8, quote: Option<u8>, escape: bool, chunk: usize) -> Vec<Record> {
        let mut p = RecordParser::new(delimiter, quote, escape);
        let mut out = Vec::new();
        for c in input.chunks(chunk) {
            p.feed(c, &mut out);
        }
        p.finish(&mut out);
        out
    }

    fn values(r: &Record) -> Vec<String> {
        r.fields.iter().map(|f| String::from_utf8_lossy(&f.value).into_owned()).collect()
    }

    #[test]
    fn csv_quoting_across_chunks() {
        let input = b"1,\"a,b\",\"say \"\"hi\"\"\"\n2,\"multi\nline\",\0\n3,,\"\"";
        for chunk in [1, 2, 5, 100] {
            let r = parse(input, b',', Some(b'"'), false, chunk);
            assert_eq!(r.len(), 3);
            assert_eq!(values(&r[0]), vec!["1", "a,b", "say \"hi\""]);
            assert_eq!(values(&r[1]), vec!["2", "multi\nline", "\0"]);
            assert_eq!(r[1].line, 2);
            assert_eq!(r[2].line, 4);
            assert_eq!(values(&r[2]), vec!["3", "", ""]);
            assert!(!r[2].fields[1].quoted && r[2].fields[2].quoted);
        }
    }

    #[test]
    fn csv_bad_quote_is_a_record_error() {
        let r = parse(b"1,\"a\"b,c\n2,x\n", b',', Some(b'"'), false, 3);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].error.as_ref().unwrap().0, 1216);
        assert_eq!(values(&r[1]), vec!["2", "x"]);
    }

    /// The ESCAPE example of copy-parameters-data-conversion.html (pipe-delimited).
    #[test]
    fn the_documented_escape_example() {
        let input = b"1|The quick brown fox\\\njumped over the lazy dog.\n2| A\\\\B\\\\C\n3| A \\| B \\| C\n";
        let r = parse(input, b'|', None, true, 4);
        assert_eq!(r.len(), 3);
        assert_eq!(values(&r[0]), vec!["1", "The quick brown fox\njumped over the lazy dog."]);
        assert_eq!(values(&r[1]), vec!["2", " A\\B\\C"]);
        assert_eq!(values(&r[2]), vec!["3", " A | B | C"]);
        assert_eq!(r[1].line, 3);
        // Without ESCAPE a backslash is data.
        let r = parse(b"a\\|b\n", b'|', None, false, 10);
        assert_eq!(values(&r[0]), vec!["a\\", "b"]);
        // The raw field keeps the backslash, for NULL AS '\N'.
        let r = parse(b"\\N|x\n", b'|', None, true, 10);
        assert_eq!(r[0].fields[0].raw, b"\\N");
        assert_eq!(r[0].fields[0].value, b"N");
    }

    #[test]
    fn oversized_rows_are_errors() {
        let mut input = vec![b'x'; MAX_ROW_BYTES + 10];
        input.extend_from_slice(b"\nok\n");
        let r = parse(&input, b',', Some(b'"'), false, 1 << 16);
        assert_eq!(r.len(), 2);
        assert!(r[0].error.is_some());
        assert!(r[0].raw.len() <= MAX_ROW_BYTES);
        assert_eq!(values(&r[1]), vec!["ok"]);
    }
}
