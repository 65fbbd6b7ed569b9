//! PostgreSQL v3 protocol framing: reading whole messages (cancel-safe, so a session can wait on
//! its client and its backend at once) and building the messages the emulator writes itself.
//! https://www.postgresql.org/docs/15/protocol-message-formats.html

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Refuse absurd lengths instead of allocating them (a COPY row is at most 4 MB in Redshift;
/// query texts are far smaller).
const MAX_MESSAGE: usize = 256 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Message {
    pub tag: u8,
    pub body: Vec<u8>,
}

impl Message {
    pub fn new(tag: u8, body: Vec<u8>) -> Self {
        Message { tag, body }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.tag);
        out.extend_from_slice(&((self.body.len() + 4) as u32).to_be_bytes());
        out.extend_from_slice(&self.body);
    }

    /// The fields of an ErrorResponse / NoticeResponse.
    pub fn fields(&self) -> Vec<(u8, String)> {
        let mut out = Vec::new();
        let mut rest = &self.body[..];
        while let Some((&code, tail)) = rest.split_first() {
            if code == 0 {
                break;
            }
            let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
            out.push((code, String::from_utf8_lossy(&tail[..end]).into_owned()));
            rest = tail.get(end + 1..).unwrap_or(&[]);
        }
        out
    }

    pub fn field(&self, code: u8) -> Option<String> {
        self.fields().into_iter().find(|(c, _)| *c == code).map(|(_, v)| v)
    }
}

pub struct MessageReader<R> {
    inner: R,
    buf: BytesMut,
}

impl<R: AsyncRead + Unpin> MessageReader<R> {
    pub fn new(inner: R) -> Self {
        MessageReader { inner, buf: BytesMut::with_capacity(64 * 1024) }
    }

    /// A complete message already in the buffer.
    pub fn buffered(&mut self) -> std::io::Result<Option<Message>> {
        if self.buf.len() < 5 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if !(4..=MAX_MESSAGE).contains(&len) {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("invalid message length {len}")));
        }
        if self.buf.len() < len + 1 {
            self.buf.reserve(len + 1 - self.buf.len());
            return Ok(None);
        }
        let tag = self.buf[0];
        self.buf.advance(5);
        let body = self.buf.split_to(len - 4).to_vec();
        Ok(Some(Message { tag, body }))
    }

    /// The next message; None at a clean end of stream. Cancel-safe.
    pub async fn next(&mut self) -> std::io::Result<Option<Message>> {
        loop {
            if let Some(m) = self.buffered()? {
                return Ok(Some(m));
            }
            if self.inner.read_buf(&mut self.buf).await? == 0 {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// The untagged startup packet (length, then body).
    pub async fn startup(&mut self) -> std::io::Result<Vec<u8>> {
        loop {
            if self.buf.len() >= 4 {
                let len = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize;
                if !(8..=10_000).contains(&len) {
                    return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "invalid startup packet length"));
                }
                if self.buf.len() >= len {
                    self.buf.advance(4);
                    return Ok(self.buf.split_to(len - 4).to_vec());
                }
            }
            if self.inner.read_buf(&mut self.buf).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    pub fn has_buffered_message(&self) -> bool {
        self.buf.len() >= 5
            && self.buf.len() > u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize
    }
}

/// Buffered writer of messages.
pub struct MessageWriter<W> {
    inner: W,
    buf: Vec<u8>,
}

impl<W: AsyncWrite + Unpin> MessageWriter<W> {
    pub fn new(inner: W) -> Self {
        MessageWriter { inner, buf: Vec::with_capacity(64 * 1024) }
    }

    pub async fn send(&mut self, m: &Message) -> std::io::Result<()> {
        m.encode(&mut self.buf);
        if self.buf.len() >= 256 * 1024 {
            self.flush().await?;
        }
        Ok(())
    }

    pub async fn raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.buf.extend_from_slice(bytes);
        self.flush().await
    }

    pub async fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            self.inner.write_all(&self.buf).await?;
            self.buf.clear();
        }
        self.inner.flush().await
    }
}

pub fn cstr(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
    out.push(0);
}

/// Reads a NUL-terminated string at `*at`.
pub fn read_cstr(body: &[u8], at: &mut usize) -> Option<String> {
    let rest = body.get(*at..)?;
    let end = rest.iter().position(|&b| b == 0)?;
    let s = String::from_utf8_lossy(&rest[..end]).into_owned();
    *at += end + 1;
    Some(s)
}

pub fn error_response(severity: &str, code: &str, message: &str, detail: Option<&str>) -> Message {
    let mut b = Vec::new();
    for (tag, v) in [(b'S', severity), (b'V', severity), (b'C', code), (b'M', message)] {
        b.push(tag);
        cstr(&mut b, v);
    }
    if let Some(d) = detail {
        b.push(b'D');
        cstr(&mut b, d);
    }
    b.push(0);
    Message::new(b'E', b)
}

pub fn notice(severity: &str, message: &str) -> Message {
    let mut m = error_response(severity, "00000", message, None);
    m.tag = b'N';
    m
}

pub fn command_complete(tag: &str) -> Message {
    let mut b = Vec::new();
    cstr(&mut b, tag);
    Message::new(b'C', b)
}

pub fn ready(status: u8) -> Message {
    Message::new(b'Z', vec![status])
}

pub fn auth_request(code: u32, extra: &[u8]) -> Message {
    let mut b = code.to_be_bytes().to_vec();
    b.extend_from_slice(extra);
    Message::new(b'R', b)
}

pub fn parameter_status(name: &str, value: &str) -> Message {
    let mut b = Vec::new();
    cstr(&mut b, name);
    cstr(&mut b, value);
    Message::new(b'S', b)
}

/// A one-column text result.
pub fn row_description(name: &str) -> Message {
    let mut b = 1u16.to_be_bytes().to_vec();
    cstr(&mut b, name);
    b.extend_from_slice(&0u32.to_be_bytes()); // table oid
    b.extend_from_slice(&0u16.to_be_bytes()); // column
    b.extend_from_slice(&25u32.to_be_bytes()); // text
    b.extend_from_slice(&(-1i16).to_be_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes());
    b.extend_from_slice(&0u16.to_be_bytes());
    Message::new(b'T', b)
}

/// One column of a RowDescription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDescription {
    pub name: String,
    /// For a domain, its base type's.
    pub type_oid: u32,
    /// 0 text, 1 binary (0 as well where a Describe of a statement does not know yet).
    pub format: i16,
}

/// The columns a RowDescription's body describes; None when it is malformed.
pub fn described_columns(body: &[u8]) -> Option<Vec<ColumnDescription>> {
    let n = body.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)?;
    let mut at = 2;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let name = read_cstr(body, &mut at)?;
        // table OID (4), column number (2), type OID (4), size (2), modifier (4), format (2)
        let f = body.get(at..at + 18)?;
        out.push(ColumnDescription {
            name,
            type_oid: u32::from_be_bytes([f[6], f[7], f[8], f[9]]),
            format: i16::from_be_bytes([f[16], f[17]]),
        });
        at += 18;
    }
    Some(out)
}

pub fn data_row(value: &str) -> Message {
    let mut b = 1u16.to_be_bytes().to_vec();
    b.extend_from_slice(&(value.len() as i32).to_be_bytes());
    b.extend_from_slice(value.as_bytes());
    Message::new(b'D', b)
}

pub async fn write_all<W: AsyncWrite + Unpin>(w: &mut W, bytes: &[u8]) -> std::io::Result<()> {
    w.write_all(bytes).await
}

pub async fn read_exact_n<R: AsyncRead + Unpin>(r: &mut R, n: usize) -> std::io::Result<Vec<u8>> {
    let mut v = vec![0; n];
    r.read_exact(&mut v).await?;
    Ok(v)
}
