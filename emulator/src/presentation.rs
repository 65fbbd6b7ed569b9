//! What the client sees of the backing server's results, where Redshift shows them differently:
//! errors in Redshift's form (see [`crate::errors`]) and VARBYTE values as bare hexadecimal.

use crate::errors;
use crate::wire::{Message, described_columns, read_cstr};

/// PostgreSQL's `bytea`, which backs VARBYTE (RowDescription names a domain's base type).
const BYTEA_OID: u32 = 17;

#[derive(Debug, Default)]
pub struct Presenter {
    /// Per column of the rows being sent: a VARBYTE value in text format.
    hex_columns: Vec<bool>,
    /// Result format codes of the client's last Bind (empty: all text).
    bind_formats: Vec<i16>,
}

impl Presenter {
    /// The client starts a simple query: its results are all text.
    pub fn simple_query(&mut self) {
        self.bind_formats.clear();
    }

    /// The client binds a portal: `body` is the Bind message's, whose tail holds the result
    /// format codes.
    pub fn bind(&mut self, body: &[u8]) {
        self.bind_formats = result_formats(body).unwrap_or_default();
    }

    /// The message for the client.
    pub fn present(&mut self, m: &Message) -> Message {
        match m.tag {
            b'E' => errors::for_client(m),
            b'T' => {
                self.hex_columns = bytea_text_columns(&m.body, &self.bind_formats);
                m.clone()
            }
            b'D' if self.hex_columns.iter().any(|&h| h) => strip_hex_prefixes(m, &self.hex_columns),
            _ => m.clone(),
        }
    }
}

/// "Amazon Redshift uses the hex format to print VARBYTE values": `616263`, where PostgreSQL's
/// bytea prints `\x616263`. https://docs.aws.amazon.com/redshift/latest/dg/r_VARBYTE_type.html
fn strip_hex_prefixes(m: &Message, hex: &[bool]) -> Message {
    let body = &m.body;
    if body.len() < 2 {
        return m.clone();
    }
    let n = u16::from_be_bytes([body[0], body[1]]) as usize;
    let mut out = Vec::with_capacity(body.len());
    out.extend_from_slice(&body[..2]);
    let mut at = 2;
    for col in 0..n {
        let Some(len) = body.get(at..at + 4) else { return m.clone() };
        let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
        at += 4;
        if len < 0 {
            out.extend_from_slice(&len.to_be_bytes());
            continue;
        }
        let Some(value) = body.get(at..at + len as usize) else { return m.clone() };
        at += len as usize;
        let value = match value.strip_prefix(b"\\x") {
            Some(hex_digits) if hex.get(col).copied().unwrap_or(false) => hex_digits,
            _ => value,
        };
        out.extend_from_slice(&(value.len() as i32).to_be_bytes());
        out.extend_from_slice(value);
    }
    Message::new(b'D', out)
}

/// Which columns of a RowDescription are bytea in text format, given the Bind's result formats
/// (a Describe of a statement reports format 0 before any Bind decided it).
fn bytea_text_columns(body: &[u8], bind_formats: &[i16]) -> Vec<bool> {
    let Some(columns) = described_columns(body) else { return Vec::new() };
    columns
        .iter()
        .enumerate()
        .map(|(col, c)| {
            let bound = match bind_formats.len() {
                0 => 0,
                1 => bind_formats[0],
                _ => bind_formats.get(col).copied().unwrap_or(0),
            };
            c.type_oid == BYTEA_OID && c.format == 0 && bound == 0
        })
        .collect()
}

/// The result format codes at the end of a Bind message.
fn result_formats(body: &[u8]) -> Option<Vec<i16>> {
    let mut at = 0;
    read_cstr(body, &mut at)?;
    read_cstr(body, &mut at)?;
    let get16 = |at: usize| body.get(at..at + 2).map(|b| i16::from_be_bytes([b[0], b[1]]));
    let nformats = get16(at)? as usize;
    at += 2 + 2 * nformats;
    let nparams = get16(at)? as usize;
    at += 2;
    for _ in 0..nparams {
        let len = body.get(at..at + 4).map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))?;
        at += 4 + len.max(0) as usize;
    }
    let nresults = get16(at)? as usize;
    at += 2;
    (0..nresults).map(|k| get16(at + 2 * k)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row_description(columns: &[(&str, u32)]) -> Message {
        let mut b = (columns.len() as u16).to_be_bytes().to_vec();
        for (name, oid) in columns {
            b.extend_from_slice(name.as_bytes());
            b.push(0);
            b.extend_from_slice(&0u32.to_be_bytes());
            b.extend_from_slice(&0i16.to_be_bytes());
            b.extend_from_slice(&oid.to_be_bytes());
            b.extend_from_slice(&(-1i16).to_be_bytes());
            b.extend_from_slice(&(-1i32).to_be_bytes());
            b.extend_from_slice(&0i16.to_be_bytes());
        }
        Message::new(b'T', b)
    }

    fn data_row(values: &[Option<&[u8]>]) -> Message {
        let mut b = (values.len() as u16).to_be_bytes().to_vec();
        for v in values {
            match v {
                Some(v) => {
                    b.extend_from_slice(&(v.len() as i32).to_be_bytes());
                    b.extend_from_slice(v);
                }
                None => b.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        Message::new(b'D', b)
    }

    #[test]
    fn varbyte_prints_as_bare_hex() {
        let mut p = Presenter::default();
        p.present(&row_description(&[("t", 25), ("b", BYTEA_OID), ("n", BYTEA_OID)]));
        let shown = p.present(&data_row(&[Some(b"\\x00"), Some(b"\\x616263"), None]));
        assert_eq!(shown.body, data_row(&[Some(b"\\x00"), Some(b"616263"), None]).body);
    }

    #[test]
    fn binary_results_stay_as_they_are() {
        let mut p = Presenter::default();
        // Bind: portal "", statement "", no parameter formats, no parameters, one result format: binary.
        p.bind(&[0, 0, 0, 0, 0, 0, 0, 1, 0, 1]);
        p.present(&row_description(&[("b", BYTEA_OID)]));
        let row = data_row(&[Some(b"\\x41")]);
        assert_eq!(p.present(&row).body, row.body);
        p.simple_query();
        p.present(&row_description(&[("b", BYTEA_OID)]));
        assert_eq!(p.present(&row).body, data_row(&[Some(b"41")]).body);
    }
}
