//! Startup: TLS when the client asks for it (and the emulator has a certificate), GSS requests
//! declined, cancel requests passed on to the backing server, plaintext refused under
//! `require_ssl`, the MD5 password exchange against the configured users, then the session.

use std::collections::HashMap;
use std::sync::Arc;

use md5::{Digest, Md5};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::backend::{ClientRead, ClientWrite, connect, io_error};
use crate::sql::rewrite::Context;
use crate::wire::{self, Message, MessageReader, MessageWriter, error_response, read_cstr};
use crate::{Shared, User};

use super::Session;

const SSL_REQUEST: u32 = 80_877_103;
const GSS_REQUEST: u32 = 80_877_104;
const CANCEL_REQUEST: u32 = 80_877_102;
const PROTOCOL_3: u32 = 196_608;

/// One untagged startup-phase packet (length, then body), read straight off the socket with no
/// read-ahead: after an SSLRequest nothing the client sent before the handshake may be taken as
/// part of the encrypted session (the buffering flaw of CVE-2021-23214).
async fn packet(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if !(8..=10_000).contains(&len) {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "invalid startup packet length"));
    }
    let mut body = vec![0u8; len - 4];
    stream.read_exact(&mut body).await?;
    Ok(body)
}

fn code(packet: &[u8]) -> std::io::Result<u32> {
    Ok(u32::from_be_bytes(packet.get(..4).and_then(|b| b.try_into().ok()).ok_or_else(|| io_error("short startup packet"))?))
}

/// The client's cancel request, handed to the backing server as it is (the client holds the
/// backing server's key).
async fn pass_cancel(shared: &Shared, packet: &[u8]) -> std::io::Result<()> {
    let mut s = TcpStream::connect(&shared.config.backing_addr).await?;
    let mut p = ((packet.len() + 4) as u32).to_be_bytes().to_vec();
    p.extend_from_slice(packet);
    wire::write_all(&mut s, &p).await
}

pub async fn serve(mut stream: TcpStream, shared: Arc<Shared>) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let peer = stream.peer_addr()?.ip().to_string();
    // "To configure your cluster to require an SSL connection, set the require_SSL parameter to
    // true": SSL when asked for, plaintext refused under require_ssl.
    // https://docs.aws.amazon.com/redshift/latest/mgmt/connecting-ssl-support.html
    let (r, w, first, encrypted): (ClientRead, ClientWrite, Option<Vec<u8>>, bool) = loop {
        let p = packet(&mut stream).await?;
        match code(&p)? {
            SSL_REQUEST => match &shared.config.tls {
                Some(tls) => {
                    stream.write_all(b"S").await?;
                    let tls = tokio_rustls::TlsAcceptor::from(tls.clone()).accept(stream).await?;
                    let (r, w) = tokio::io::split(tls);
                    break (Box::new(r), Box::new(w), None, true);
                }
                None => stream.write_all(b"N").await?,
            },
            GSS_REQUEST => stream.write_all(b"N").await?,
            CANCEL_REQUEST => return pass_cancel(&shared, &p).await,
            _ => {
                let (r, w) = stream.into_split();
                break (Box::new(r), Box::new(w), Some(p), false);
            }
        }
    };
    let mut client_r = MessageReader::new(r);
    let mut client_w = MessageWriter::new(w);
    let startup = match first {
        Some(p) => p,
        None => client_r.startup().await?,
    };
    match code(&startup)? {
        PROTOCOL_3 => {}
        CANCEL_REQUEST => return pass_cancel(&shared, &startup).await,
        _ => {
            client_w.send(&error_response("FATAL", "0A000", "unsupported frontend protocol", None)).await?;
            return client_w.flush().await;
        }
    }
    let mut params = Vec::new();
    let mut at = 4;
    while let Some(k) = read_cstr(&startup, &mut at) {
        if k.is_empty() {
            break;
        }
        let v = read_cstr(&startup, &mut at).unwrap_or_default();
        params.push((k, v));
    }
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let user_name = get("user").unwrap_or_default();
    let database = get("database").unwrap_or_else(|| user_name.clone());

    let fatal = |code: &str, msg: String| error_response("FATAL", code, &msg, None);
    if shared.config.require_ssl && !encrypted {
        // As a server whose host-based rules accept only SSL answers a plaintext client.
        client_w
            .send(&fatal(
                "28000",
                format!("no pg_hba.conf entry for host \"{peer}\", user \"{user_name}\", database \"{database}\", SSL off"),
            ))
            .await?;
        return client_w.flush().await;
    }
    let user = shared.config.users.iter().find(|u| u.name == user_name).cloned();
    // Redshift's default password exchange is MD5 (the PostgreSQL v3 scheme).
    let salt: [u8; 4] = {
        let mut s = [0u8; 4];
        getrandom::getrandom(&mut s).map_err(|e| io_error(e.to_string()))?;
        s
    };
    client_w.send(&wire::auth_request(5, &salt)).await?;
    client_w.flush().await?;
    let Some(reply) = client_r.next().await? else { return Ok(()) };
    let mut at = 0;
    let given = if reply.tag == b'p' { read_cstr(&reply.body, &mut at).unwrap_or_default() } else { String::new() };
    // A temporary login the credential stand-in issued (IAM:…): the client proves its password
    // under the name it logs in with, and the session runs as the database user.
    let temp = if user.is_none() { shared.temp_logins.valid(&user_name) } else { None };
    let login = user
        .clone()
        .or_else(|| temp.as_ref().map(|t| User { name: user_name.clone(), password: t.password.clone(), superuser: false }));
    let ok = login.as_ref().is_some_and(|u| given == md5_password(u, &salt));
    let user = match (user, temp) {
        (Some(u), _) => Some(u),
        (None, Some(t)) => Some(User {
            superuser: shared.config.users.iter().any(|u| u.name == t.db_user && u.superuser),
            name: t.db_user,
            password: t.password,
        }),
        (None, None) => None,
    };
    let Some(user) = user.filter(|_| ok) else {
        client_w
            .send(&fatal("28P01", format!("password authentication failed for user \"{user_name}\"")))
            .await?;
        return client_w.flush().await;
    };
    if database != shared.config.database {
        client_w.send(&fatal("3D000", format!("database \"{database}\" does not exist"))).await?;
        return client_w.flush().await;
    }

    // The backing connection: same user, the backing database, Redshift's session defaults
    // (UTC) unless the client asked otherwise.
    let mut backend_params: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| {
            !matches!(k.as_str(), "user" | "database" | "replication") && !REDSHIFT_DRIVER_PARAMS.contains(&k.as_str())
        })
        .cloned()
        .collect();
    backend_params.push(("user".into(), user.name.clone()));
    backend_params.push(("database".into(), shared.config.backing_db.clone()));
    if get("TimeZone").is_none() && get("timezone").is_none() {
        backend_params.push(("TimeZone".into(), "UTC".into()));
    }
    // Transaction blocks run at the configured level (BEGIN is rewritten to name it). A
    // statement outside one runs READ COMMITTED: its snapshot is then taken once the tables it
    // reads are locked, as in Redshift's PostgreSQL 8.0 base, so a reader queued behind a
    // loader's swap reads the new table rather than an empty one.
    backend_params.push(("rs_emulator.isolation".into(), shared.config.isolation.name().into()));
    // What CURRENT_DATABASE() answers: the database the client connected to.
    backend_params.push(("rs_emulator.database".into(), shared.config.database.clone()));
    let (backend, greeting) = match connect(&shared.config.backing_addr, &backend_params).await? {
        Ok(x) => x,
        Err(e) => {
            client_w.send(&e).await?;
            return client_w.flush().await;
        }
    };
    client_w.send(&wire::auth_request(0, &[])).await?;
    let mut pid = 0;
    for m in &greeting {
        if m.tag == b'K' && m.body.len() >= 4 {
            pid = i32::from_be_bytes([m.body[0], m.body[1], m.body[2], m.body[3]]);
        }
        client_w.send(&client_parameter(m)).await?;
    }
    let shared_isolation = shared.config.isolation.backing_level();
    let mut s = Session {
        shared,
        user,
        user_oid: 0,
        pid,
        client_r,
        client_w,
        be: backend,
        pending_z: 0,
        swallow_last_z: false,
        error_in_drain: false,
        unsynced: false,
        skip_until_sync: false,
        special_statements: HashMap::new(),
        special_portals: HashMap::new(),
        ctx: Context { last_copy_id: -1, isolation: shared_isolation, ..Context::default() },
    };
    let oid = s.be.query("SELECT oid::int4 FROM pg_roles WHERE rolname = current_user", None).await?;
    s.user_oid = oid.first().and_then(|v| v.parse().ok()).unwrap_or(0);
    s.client_w.send(&wire::ready(b'I')).await?;
    s.client_w.flush().await?;
    s.run().await
}

/// Startup parameters Redshift's own drivers send (redshift_connector, the JDBC and ODBC
/// drivers) that describe the driver, not the session: Redshift takes them, PostgreSQL would
/// refuse them as unknown settings, so they are not passed on.
const REDSHIFT_DRIVER_PARAMS: &[&str] = &[
    "client_protocol_version",
    "driver_version",
    "driver_discovery_version",
    "os_version",
    "plugin_name",
    "idp_type",
    "provider_name",
    "token_type",
    "identity_namespace",
    "compression",
];

/// Redshift reports itself as PostgreSQL 8.0.2 ("Amazon Redshift is based on PostgreSQL 8.0.2"),
/// and drivers parse the version they are told.
/// https://docs.aws.amazon.com/redshift/latest/dg/c_redshift-and-postgres-sql.html
pub const SERVER_VERSION: &str = "8.0.2";

/// A greeting message as the client sees it: the backing server's version is Redshift's.
fn client_parameter(m: &Message) -> Message {
    if m.tag == b'S' {
        let mut at = 0;
        if read_cstr(&m.body, &mut at).as_deref() == Some("server_version") {
            return wire::parameter_status("server_version", SERVER_VERSION);
        }
    }
    m.clone()
}

/// `md5` + md5(md5(password + user) + salt), as the client sends it.
fn md5_password(user: &User, salt: &[u8; 4]) -> String {
    let inner = hex(&Md5::digest(format!("{}{}", user.password, user.name).as_bytes()));
    let mut h = Md5::new();
    h.update(inner.as_bytes());
    h.update(salt);
    format!("md5{}", hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_matches_libpq() {
        // libpq: "md5" + md5(md5(password || user) || salt)
        let u = User { name: "awsuser".into(), password: "secret".into(), superuser: false };
        let inner = hex(&Md5::digest(b"secretawsuser"));
        let mut h = Md5::new();
        h.update(inner.as_bytes());
        h.update([1, 2, 3, 4]);
        assert_eq!(md5_password(&u, &[1, 2, 3, 4]), format!("md5{}", hex(&h.finalize())));
    }
}

