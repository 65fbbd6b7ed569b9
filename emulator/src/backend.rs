//! One connection to the backing PostgreSQL, opened as the client's user, over which the
//! session's statements run (so transactions, locks and privileges are PostgreSQL's own).

use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::presentation::Presenter;
use crate::wire::{Message, MessageReader, MessageWriter, cstr, described_columns, read_cstr};

/// The client's side of a session, plain TCP or TLS.
pub type ClientRead = Box<dyn tokio::io::AsyncRead + Send + Unpin>;
pub type ClientWrite = Box<dyn tokio::io::AsyncWrite + Send + Unpin>;
pub type ClientWriter = MessageWriter<ClientWrite>;

pub struct Backend {
    pub r: MessageReader<OwnedReadHalf>,
    pub w: MessageWriter<OwnedWriteHalf>,
    /// Transaction status from the last ReadyForQuery: I, T or E.
    pub status: u8,
    /// How its results and errors are shown to the client.
    pub presenter: Presenter,
}

#[derive(Debug, Default)]
pub struct QueryResult {
    /// The column names and type OIDs of the (last) result.
    pub columns: Vec<(String, u32)>,
    pub rows: Vec<Vec<Option<String>>>,
    pub tags: Vec<String>,
    pub error: Option<Message>,
}

impl QueryResult {
    pub fn first(&self) -> Option<&str> {
        self.rows.first().and_then(|r| r.first()).and_then(|v| v.as_deref())
    }
}

pub fn io_error(message: impl Into<String>) -> std::io::Error {
    std::io::Error::other(message.into())
}

/// The startup exchange with the backing server. Returns the backend and the messages the
/// client should see (ParameterStatus, BackendKeyData), or the backend's error.
pub async fn connect(
    addr: &str,
    params: &[(String, String)],
) -> std::io::Result<Result<(Backend, Vec<Message>), Message>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (r, w) = stream.into_split();
    let mut be = Backend { r: MessageReader::new(r), w: MessageWriter::new(w), status: b'I', presenter: Presenter::default() };
    let mut body = 196_608u32.to_be_bytes().to_vec();
    for (k, v) in params {
        cstr(&mut body, k);
        cstr(&mut body, v);
    }
    body.push(0);
    let mut packet = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    packet.extend_from_slice(&body);
    be.w.raw(&packet).await?;
    let mut for_client = Vec::new();
    loop {
        let m = be.next().await?;
        match m.tag {
            b'R' => {
                let code = u32::from_be_bytes(m.body.get(..4).and_then(|b| b.try_into().ok()).unwrap_or([0xff; 4]));
                if code != 0 {
                    return Err(io_error(
                        "the backing PostgreSQL asks for a password; the emulator needs trust authentication on its backing database",
                    ));
                }
            }
            b'S' | b'K' | b'N' => for_client.push(m),
            b'Z' => return Ok(Ok((be, for_client))),
            b'E' => return Ok(Err(m)),
            _ => {}
        }
    }
}

impl Backend {
    pub async fn next(&mut self) -> std::io::Result<Message> {
        self.r.next().await?.ok_or_else(|| io_error("the backing PostgreSQL closed the connection"))
    }

    pub async fn send(&mut self, m: &Message) -> std::io::Result<()> {
        self.w.send(m).await?;
        self.w.flush().await
    }

    /// Runs `sql` with the simple protocol and waits for ReadyForQuery. With `relay`, every
    /// message but ReadyForQuery also goes to the client as it arrives.
    pub async fn query(&mut self, sql: &str, mut relay: Option<&mut ClientWriter>) -> std::io::Result<QueryResult> {
        let mut body = Vec::with_capacity(sql.len() + 1);
        cstr(&mut body, sql);
        self.send(&Message::new(b'Q', body)).await?;
        let mut out = QueryResult::default();
        loop {
            let m = self.next().await?;
            match m.tag {
                b'Z' => {
                    self.status = m.body.first().copied().unwrap_or(b'I');
                    return Ok(out);
                }
                b'D' => out.rows.push(decode_row(&m.body)),
                b'T' => {
                    out.columns = described_columns(&m.body)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|c| (c.name, c.type_oid))
                        .collect();
                }
                b'C' => {
                    let mut at = 0;
                    out.tags.push(read_cstr(&m.body, &mut at).unwrap_or_default());
                }
                b'E' if out.error.is_none() => out.error = Some(m.clone()),
                // The backend wants COPY data we did not offer: refuse it.
                b'G' => {
                    let mut b = Vec::new();
                    cstr(&mut b, "unexpected COPY");
                    self.send(&Message::new(b'f', b)).await?;
                }
                _ => {}
            }
            if let Some(c) = relay.as_deref_mut()
                && m.tag != b'Z'
            {
                c.send(&self.presenter.present(&m)).await?;
            }
        }
    }
}

fn decode_row(body: &[u8]) -> Vec<Option<String>> {
    let mut out = Vec::new();
    if body.len() < 2 {
        return out;
    }
    let n = u16::from_be_bytes([body[0], body[1]]) as usize;
    let mut at = 2;
    for _ in 0..n {
        let Some(len) = body.get(at..at + 4) else { break };
        let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
        at += 4;
        if len < 0 {
            out.push(None);
        } else {
            let end = (at + len as usize).min(body.len());
            out.push(Some(String::from_utf8_lossy(&body[at..end]).into_owned()));
            at = end;
        }
    }
    out
}
