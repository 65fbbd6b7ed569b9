//! The messages of PostgreSQL's built-in logical decoding plugin `pgoutput` (protocol version 1),
//! as `pg_logical_slot_peek_binary_changes` returns them, one message per row: parsed into
//! owned values, and anything malformed or unknown refused rather than skipped, so a change can
//! never be lost to a message this code misreads.
//! https://www.postgresql.org/docs/15/protocol-logicalrep-message-formats.html
//!
//! Values arrive as their type's output text (`t`), NULL (`n`), or "unchanged TOASTed value"
//! (`u`: an UPDATE under REPLICA IDENTITY DEFAULT that did not touch a stored-out-of-line value;
//! the value is not sent, and must never become NULL or a placeholder downstream).

use std::fmt;

/// A WAL position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(pub u64);

impl fmt::Display for Lsn {
    /// PostgreSQL's `pg_lsn` text: `X/Y` in upper-case hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xffff_ffff)
    }
}

impl std::str::FromStr for Lsn {
    type Err = DecodeError;
    fn from_str(s: &str) -> Result<Lsn, DecodeError> {
        let bad = || DecodeError::BadLsn(s.to_string());
        let (hi, lo) = s.split_once('/').ok_or_else(bad)?;
        let hi = u32::from_str_radix(hi, 16).map_err(|_| bad())?;
        let lo = u32::from_str_radix(lo, 16).map_err(|_| bad())?;
        Ok(Lsn((u64::from(hi) << 32) | u64::from(lo)))
    }
}

/// One column's value in a tuple.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    /// An unchanged TOASTed value: not sent; the target keeps what it has.
    Unchanged,
    /// The type's output text.
    Text(Vec<u8>),
    /// The type's binary send format (only with the `binary` option, which we do not ask for).
    Binary(Vec<u8>),
}

/// The old row an UPDATE or DELETE carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OldTuple {
    /// The replica identity's columns (the primary key by default); other columns are NULL.
    Key(Vec<Value>),
    /// The whole old row (REPLICA IDENTITY FULL).
    Full(Vec<Value>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationColumn {
    /// Part of the replica identity.
    pub key: bool,
    pub name: String,
    pub type_oid: u32,
    pub typmod: i32,
}

/// Sent before the first change of a relation in a session, and again when it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub oid: u32,
    /// Empty for pg_catalog.
    pub schema: String,
    pub name: String,
    /// `pg_class.relreplident`: `d` default, `n` nothing, `f` full, `i` index.
    pub replica_identity: char,
    pub columns: Vec<RelationColumn>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Begin { final_lsn: Lsn, commit_time_us: i64, xid: u32 },
    Commit { commit_lsn: Lsn, end_lsn: Lsn, commit_time_us: i64 },
    Origin { lsn: Lsn, name: String },
    Relation(Relation),
    Type { oid: u32, schema: String, name: String },
    Insert { relation: u32, new: Vec<Value> },
    Update { relation: u32, old: Option<OldTuple>, new: Vec<Value> },
    Delete { relation: u32, old: OldTuple },
    Truncate { relations: Vec<u32>, cascade: bool, restart_identity: bool },
    /// `pg_logical_emit_message` (only with the `messages` option).
    Message { transactional: bool, lsn: Lsn, prefix: String, content: Vec<u8> },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("a pgoutput message ended inside its {0}")]
    Truncated(&'static str),
    #[error("a pgoutput message has {0} bytes after its end")]
    Trailing(usize),
    #[error("unknown pgoutput message type {0:?}")]
    UnknownMessage(char),
    #[error("unknown pgoutput tuple value kind {0:?}")]
    UnknownValue(char),
    #[error("a pgoutput {message} message has {found:?} where {expected} belongs")]
    UnexpectedTag { message: &'static str, found: char, expected: &'static str },
    #[error("a pgoutput string is not UTF-8")]
    NotUtf8,
    #[error("a pgoutput length is negative: {0}")]
    NegativeLength(i64),
    #[error("{0:?} is not an LSN")]
    BadLsn(String),
}

/// A length or count as sent (a signed integer), refused when negative.
fn count(n: i64) -> Result<usize, DecodeError> {
    usize::try_from(n).map_err(|_| DecodeError::NegativeLength(n))
}

/// Reads the big-endian fields of one message.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.bytes.len() < n {
            return Err(DecodeError::Truncated(what));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }

    fn i16(&mut self, what: &'static str) -> Result<i16, DecodeError> {
        let b = self.take(2, what)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self, what: &'static str) -> Result<i32, DecodeError> {
        let b = self.take(4, what)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(self.i32(what)? as u32)
    }

    fn i64(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    fn lsn(&mut self, what: &'static str) -> Result<Lsn, DecodeError> {
        Ok(Lsn(self.i64(what)? as u64))
    }

    /// A NUL-terminated string.
    fn string(&mut self, what: &'static str) -> Result<String, DecodeError> {
        let end = self.bytes.iter().position(|b| *b == 0).ok_or(DecodeError::Truncated(what))?;
        let s = std::str::from_utf8(&self.bytes[..end]).map_err(|_| DecodeError::NotUtf8)?.to_string();
        self.bytes = &self.bytes[end + 1..];
        Ok(s)
    }

    fn tuple(&mut self) -> Result<Vec<Value>, DecodeError> {
        let n = self.i16("tuple's column count")?;
        let n = count(i64::from(n))?;
        let mut values = Vec::with_capacity(n);
        for _ in 0..n {
            values.push(match self.u8("value's kind")? {
                b'n' => Value::Null,
                b'u' => Value::Unchanged,
                kind @ (b't' | b'b') => {
                    let len = self.i32("value's length")?;
                    let len = count(i64::from(len))?;
                    let data = self.take(len, "value")?.to_vec();
                    if kind == b't' { Value::Text(data) } else { Value::Binary(data) }
                }
                other => return Err(DecodeError::UnknownValue(other as char)),
            });
        }
        Ok(values)
    }

    fn tag(&mut self, message: &'static str, expected: &'static str, allowed: &[u8]) -> Result<u8, DecodeError> {
        let found = self.u8("tuple tag")?;
        if allowed.contains(&found) { Ok(found) } else { Err(DecodeError::UnexpectedTag { message, found: found as char, expected }) }
    }

    fn old(&mut self, tag: u8) -> Result<OldTuple, DecodeError> {
        let tuple = self.tuple()?;
        Ok(if tag == b'K' { OldTuple::Key(tuple) } else { OldTuple::Full(tuple) })
    }
}

/// Parses one message; every byte must belong to it.
pub fn parse(bytes: &[u8]) -> Result<Message, DecodeError> {
    let mut r = Reader { bytes };
    let message = match r.u8("type")? {
        b'B' => Message::Begin { final_lsn: r.lsn("final LSN")?, commit_time_us: r.i64("commit time")?, xid: r.u32("xid")? },
        b'C' => {
            let _flags = r.u8("flags")?;
            Message::Commit { commit_lsn: r.lsn("commit LSN")?, end_lsn: r.lsn("end LSN")?, commit_time_us: r.i64("commit time")? }
        }
        b'O' => Message::Origin { lsn: r.lsn("origin LSN")?, name: r.string("origin name")? },
        b'R' => {
            let oid = r.u32("relation id")?;
            let schema = r.string("namespace")?;
            let name = r.string("relation name")?;
            let replica_identity = r.u8("replica identity")? as char;
            let n = r.i16("column count")?;
            let n = count(i64::from(n))?;
            let mut columns = Vec::with_capacity(n);
            for _ in 0..n {
                columns.push(RelationColumn {
                    key: r.u8("column flags")? & 1 == 1,
                    name: r.string("column name")?,
                    type_oid: r.u32("column type")?,
                    typmod: r.i32("column typmod")?,
                });
            }
            Message::Relation(Relation { oid, schema, name, replica_identity, columns })
        }
        b'Y' => Message::Type { oid: r.u32("type id")?, schema: r.string("type namespace")?, name: r.string("type name")? },
        b'I' => {
            let relation = r.u32("relation id")?;
            r.tag("insert", "'N'", b"N")?;
            Message::Insert { relation, new: r.tuple()? }
        }
        b'U' => {
            let relation = r.u32("relation id")?;
            let old = match r.tag("update", "'K', 'O' or 'N'", b"KON")? {
                b'N' => None,
                tag => {
                    let old = r.old(tag)?;
                    r.tag("update", "'N'", b"N")?;
                    Some(old)
                }
            };
            Message::Update { relation, old, new: r.tuple()? }
        }
        b'D' => {
            let relation = r.u32("relation id")?;
            let tag = r.tag("delete", "'K' or 'O'", b"KO")?;
            Message::Delete { relation, old: r.old(tag)? }
        }
        b'T' => {
            let n = r.i32("relation count")?;
            let n = count(i64::from(n))?;
            let options = r.u8("truncate options")?;
            let mut relations = Vec::with_capacity(n.min(bytes.len()));
            for _ in 0..n {
                relations.push(r.u32("relation id")?);
            }
            Message::Truncate { relations, cascade: options & 1 != 0, restart_identity: options & 2 != 0 }
        }
        b'M' => {
            let transactional = r.u8("message flags")? & 1 == 1;
            let lsn = r.lsn("message LSN")?;
            let prefix = r.string("message prefix")?;
            let len = r.i32("message length")?;
            let len = count(i64::from(len))?;
            Message::Message { transactional, lsn, prefix, content: r.take(len, "message content")?.to_vec() }
        }
        other => return Err(DecodeError::UnknownMessage(other as char)),
    };
    if !r.bytes.is_empty() {
        return Err(DecodeError::Trailing(r.bytes.len()));
    }
    Ok(message)
}

#[cfg(test)]
pub(crate) mod tests;
