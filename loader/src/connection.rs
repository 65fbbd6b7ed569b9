//! Connecting to Redshift (and to the source PostgreSQL `verify` reads) the way AWS documents:
//! TLS with libpq's `sslmode` and `sslrootcert`, checked by rustls; a connect timeout, TCP
//! keepalives and an application name; connection attempts retried with backoff. What a URL
//! says wins over the loader's defaults; the options given on the command line win over both.
//! https://docs.aws.amazon.com/redshift/latest/mgmt/connecting-ssl-support.html

use std::net::IpAddr;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use postgres::config::{Host, SslMode as PgSslMode};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// libpq's `sslmode` (https://www.postgresql.org/docs/current/libpq-ssl.html#LIBPQ-SSL-PROTECTION).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS when the server offers it, unchecked; plaintext otherwise.
    Prefer,
    /// TLS, certificate unchecked (checked against `sslrootcert` when one is given, as libpq).
    Require,
    /// TLS, certificate signed by a trusted CA, any host name.
    VerifyCa,
    /// TLS, certificate signed by a trusted CA and issued for the host connected to.
    VerifyFull,
}

impl FromStr for SslMode {
    type Err = ConnectError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "disable" => Ok(SslMode::Disable),
            "prefer" | "allow" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            "verify-ca" => Ok(SslMode::VerifyCa),
            "verify-full" => Ok(SslMode::VerifyFull),
            other => Err(ConnectError::Usage(format!(
                "sslmode '{other}' is not one of disable, prefer, require, verify-ca, verify-full"
            ))),
        }
    }
}

/// How to connect, beyond what the URL says.
#[derive(Debug, Clone)]
pub struct Options {
    /// Overrides the URL's sslmode; without either: verify-full, or prefer for loopback hosts.
    pub sslmode: Option<SslMode>,
    /// Overrides the URL's sslrootcert: a PEM file of trusted CAs, or `system`.
    pub sslrootcert: Option<String>,
    /// Per attempt, when the URL sets no connect_timeout.
    pub connect_timeout: Duration,
    /// Attempts to connect before giving up (at least one).
    pub attempts: u32,
    /// Redshift WLM queue: `SET query_group TO …` after connecting (r_query_group).
    pub query_group: Option<String>,
    /// `SET statement_timeout TO …` after connecting (r_statement_timeout).
    pub statement_timeout: Option<Duration>,
    /// When the URL sets none.
    pub application_name: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sslmode: None,
            sslrootcert: None,
            connect_timeout: Duration::from_secs(10),
            attempts: 5,
            query_group: None,
            statement_timeout: None,
            application_name: "redshift-load".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// A connection string or option that cannot work.
    #[error("{0}")]
    Usage(String),
    /// The server's certificate or the TLS handshake was refused (or TLS was required and the
    /// server does not offer it).
    #[error("TLS to {host} failed: {reason}")]
    Tls { host: String, reason: String, source: Option<postgres::Error> },
    /// Nothing answered, the server refused the login, or a session setting failed.
    #[error("cannot connect to {host}: {reason}")]
    Connect { host: String, reason: String, source: Option<postgres::Error> },
    /// IAM database credentials could not be had.
    #[error("IAM database credentials: {what} failed: {reason}")]
    Credentials { what: String, reason: String },
}

/// Where a connection's user name and password come from when the URL's are not used: asked
/// for anew before every connection attempt.
pub trait Credentials: Send + Sync {
    fn fetch(&self) -> Result<(String, String), ConnectError>;
}

/// A connection string taken apart: what the `postgres` crate reads, and the TLS settings it
/// does not know (it reads sslmode up to `require` and no sslrootcert).
#[derive(Clone)]
pub struct Target {
    pub config: postgres::Config,
    pub sslmode: SslMode,
    pub sslrootcert: Option<String>,
    options: Options,
    credentials: Option<Arc<dyn Credentials>>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target").field("address", &self.address()).field("sslmode", &self.sslmode).finish_non_exhaustive()
    }
}

impl Target {
    pub fn parse(conn: &str, options: &Options) -> Result<Target, ConnectError> {
        let (rest, sslmode, sslrootcert) = take_tls_settings(conn)?;
        let mut config = postgres::Config::from_str(&rest)
            .map_err(|e| ConnectError::Usage(format!("the connection string cannot be read: {e}")))?;
        let sslrootcert = options.sslrootcert.clone().or(sslrootcert);
        let loopback = config.get_hosts().iter().all(|h| match h {
            Host::Tcp(name) => name == "localhost" || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()),
            Host::Unix(_) => true,
        });
        let sslmode = match (options.sslmode, sslmode) {
            (Some(m), _) | (None, Some(m)) => m,
            (None, None) if loopback => SslMode::Prefer,
            (None, None) => SslMode::VerifyFull,
        };
        config.ssl_mode(match sslmode {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Prefer => PgSslMode::Prefer,
            _ => PgSslMode::Require,
        });
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.connect_timeout);
        }
        if config.get_application_name().is_none() {
            config.application_name(&options.application_name);
        }
        // Dead peers are noticed within minutes rather than hours: a `watch` blocked on a
        // connection whose server went away would otherwise never load again.
        config.keepalives(true).keepalives_idle(Duration::from_secs(60)).keepalives_interval(Duration::from_secs(15)).keepalives_retries(4);
        Ok(Target { config, sslmode, sslrootcert, options: options.clone(), credentials: None })
    }

    /// User names and passwords from `credentials`, fetched for every connection.
    pub fn with_credentials(mut self, credentials: Arc<dyn Credentials>) -> Target {
        self.credentials = Some(credentials);
        self
    }

    /// `host:port` of the first host, for messages.
    pub fn address(&self) -> String {
        let host = match self.config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            Some(Host::Unix(p)) => p.display().to_string(),
            None => "localhost".into(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        format!("{host}:{port}")
    }

    /// One connection, attempts retried with backoff (1 s, 2 s, 4 s, … at most 30 s) while the
    /// failure may pass (nothing listening, a restart, too many connections); refusals (a bad
    /// password, a bad certificate) are not retried. `retrying` hears of each retry.
    pub fn connect(&self, mut retrying: impl FnMut(&ConnectError, Duration)) -> Result<postgres::Client, ConnectError> {
        let tls = self.tls()?;
        let mut attempt = 1;
        loop {
            let mut config = self.config.clone();
            if let Some(c) = &self.credentials {
                let (user, password) = c.fetch()?;
                config.user(&user).password(password);
            }
            let result = config.connect(tls.clone()).map_err(|e| self.classify(e));
            match result {
                Ok(mut client) => {
                    self.session_settings(&mut client)?;
                    return Ok(client);
                }
                Err(e) if attempt < self.options.attempts.max(1) && transient(&e) => {
                    let wait = Duration::from_secs((1u64 << (attempt - 1).min(5)).min(30));
                    retrying(&e, wait);
                    std::thread::sleep(wait);
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn session_settings(&self, client: &mut postgres::Client) -> Result<(), ConnectError> {
        let mut sql = String::new();
        if let Some(group) = &self.options.query_group {
            // https://docs.aws.amazon.com/redshift/latest/dg/r_query_group.html
            sql.push_str(&format!("SET query_group TO {};", setting_literal(group)?));
        }
        if let Some(t) = self.options.statement_timeout {
            // https://docs.aws.amazon.com/redshift/latest/dg/r_statement_timeout.html
            sql.push_str(&format!("SET statement_timeout TO {};", t.as_millis()));
        }
        if sql.is_empty() {
            return Ok(());
        }
        client.batch_execute(&sql).map_err(|e| ConnectError::Connect {
            host: self.address(),
            reason: format!("setting up the session: {}", server_words(&e)),
            source: Some(e),
        })
    }

    fn tls(&self) -> Result<tokio_postgres_rustls::MakeRustlsConnect, ConnectError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let roots = match self.sslrootcert.as_deref() {
            None | Some("system") => None,
            Some(file) => Some(read_roots(Path::new(file))?),
        };
        let verifier: Arc<dyn ServerCertVerifier> = match (self.sslmode, roots) {
            // As libpq: require with a root certificate file checks the chain (verify-ca).
            (SslMode::Disable | SslMode::Prefer, _) | (SslMode::Require, None) => {
                Arc::new(Unchecked(provider.signature_verification_algorithms))
            }
            (mode, roots) => {
                let roots = match roots {
                    Some(r) => r,
                    None => system_roots()?,
                };
                let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| ConnectError::Usage(format!("no usable trusted certificate: {e}")))?;
                if mode == SslMode::VerifyFull { webpki } else { Arc::new(AnyName(webpki)) }
            }
        };
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ConnectError::Usage(format!("TLS set-up: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
    }

    /// A failed connection in one line: TLS failures apart, with the host and the reason.
    fn classify(&self, e: postgres::Error) -> ConnectError {
        let host = self.address();
        if let Some(reason) = tls_reason(&e, self) {
            return ConnectError::Tls { host, reason, source: Some(e) };
        }
        let mut reason = server_words(&e);
        if e.as_db_error().is_some_and(|d| d.code().code() == "28000" && d.message().contains("SSL off")) {
            reason.push_str(" (the server requires SSL; sslmode=disable was given)");
        }
        ConnectError::Connect { host, reason, source: Some(e) }
    }
}

/// Failures worth another attempt: no answer, a reset, a server starting or shutting down, too
/// many connections. A refused login or certificate fails the same way every time.
fn transient(e: &ConnectError) -> bool {
    let ConnectError::Connect { source: Some(e), .. } = e else { return false };
    match e.as_db_error() {
        Some(db) => matches!(db.code().code(), "57P01" | "57P02" | "57P03" | "53300" | "08006" | "08001"),
        None => !e.to_string().contains("invalid configuration"),
    }
}

/// The server's message, SQLSTATE and detail, or the causes of a failure without one (the I/O
/// error of a connection), in one line.
pub fn server_words(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let detail = db.detail().map(|d| format!("; {d}")).unwrap_or_default();
        return format!("{} ({}){detail}", db.message(), db.code().code());
    }
    let mut words = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !words.contains(&text) {
            words.push_str(": ");
            words.push_str(&text);
        }
        source = s.source();
    }
    words
}

/// The reason a TLS connection failed, if it did, in words for a person.
fn tls_reason(e: &postgres::Error, target: &Target) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        // An io::Error's source() skips the error it wraps: look inside it too.
        let inner = s.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()).map(|i| i as &(dyn std::error::Error + 'static));
        if let Some(r) = s.downcast_ref::<rustls::Error>().or_else(|| inner.and_then(|i| i.downcast_ref::<rustls::Error>())) {
            return Some(describe_rustls(r, target));
        }
        source = s.source();
    }
    e.to_string()
        .contains("server does not support TLS")
        .then(|| "the server does not offer TLS (sslmode=require or stricter)".to_string())
}

fn describe_rustls(e: &rustls::Error, target: &Target) -> String {
    let trusted = match target.sslrootcert.as_deref() {
        None | Some("system") => "the system's trusted CAs".to_string(),
        Some(file) => format!("the CAs in {file}"),
    };
    match e {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            format!("the server's certificate is not signed by {trusted} (sslrootcert)")
        }
        rustls::Error::InvalidCertificate(CertificateError::NotValidForName)
        | rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. }) => {
            "the server's certificate is not issued for this host name (sslmode=verify-full)".to_string()
        }
        rustls::Error::InvalidCertificate(CertificateError::Expired)
        | rustls::Error::InvalidCertificate(CertificateError::ExpiredContext { .. }) => {
            "the server's certificate has expired".to_string()
        }
        other => other.to_string(),
    }
}

fn read_roots(file: &Path) -> Result<RootCertStore, ConnectError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(file)
        .and_then(|it| it.collect())
        .map_err(|e| ConnectError::Usage(format!("sslrootcert {}: {e}", file.display())))?;
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(ConnectError::Usage(format!("sslrootcert {}: no CA certificate in the file", file.display())));
    }
    Ok(roots)
}

fn system_roots() -> Result<RootCertStore, ConnectError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        return Err(ConnectError::Usage(
            "no trusted CA certificates on this system: pass sslrootcert=FILE (for Redshift, Amazon's trust bundle)".into(),
        ));
    }
    Ok(roots)
}

/// verify-ca: the chain must lead to a trusted CA; the host name is not checked.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(&self, m: &[u8], c: &CertificateDer<'_>, d: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(m, c, d)
    }
    fn verify_tls13_signature(&self, m: &[u8], c: &CertificateDer<'_>, d: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(m, c, d)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// prefer and require without a CA file: encrypted, the certificate taken as it comes (libpq's
/// meaning of these modes); the handshake's signatures are still checked.
#[derive(Debug)]
struct Unchecked(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(&self, m: &[u8], c: &CertificateDer<'_>, d: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0)
    }
    fn verify_tls13_signature(&self, m: &[u8], c: &CertificateDer<'_>, d: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// `s` as a SQL literal for a session setting: plain text only (no quote, no backslash, which
/// Redshift reads as an escape), so nothing a flag says can become SQL.
fn setting_literal(s: &str) -> Result<String, ConnectError> {
    if s.is_empty() || s.len() > 320 || s.chars().any(|c| c == '\'' || c == '\\' || c.is_control()) {
        return Err(ConnectError::Usage(format!("query_group '{s}' must be plain text without quotes or backslashes")));
    }
    Ok(format!("'{s}'"))
}

/// Removes sslmode and sslrootcert (which the `postgres` crate refuses or ignores) from a URL's
/// query or from key=value pairs, and returns the rest with their values.
fn take_tls_settings(conn: &str) -> Result<(String, Option<SslMode>, Option<String>), ConnectError> {
    let mut sslmode = None;
    let mut sslrootcert = None;
    let mut take = |k: &str, v: String| -> Result<bool, ConnectError> {
        match k {
            "sslmode" => sslmode = Some(v.parse()?),
            "sslrootcert" => sslrootcert = Some(v),
            _ => return Ok(false),
        }
        Ok(true)
    };
    if conn.starts_with("postgres://") || conn.starts_with("postgresql://") {
        let Some((base, query)) = conn.split_once('?') else { return Ok((conn.to_string(), None, None)) };
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_encoding::percent_decode_str(v).decode_utf8_lossy().into_owned();
            if !take(k, value)? {
                kept.push(pair);
            }
        }
        let rest = if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) };
        return Ok((rest, sslmode, sslrootcert));
    }
    let mut kept = Vec::new();
    for (k, v) in key_values(conn)? {
        if !take(&k, v.clone())? {
            kept.push(format!("{k}='{}'", v.replace('\\', "\\\\").replace('\'', "\\'")));
        }
    }
    Ok((kept.join(" "), sslmode, sslrootcert))
}

/// libpq's `key=value key='quoted \' value'` form.
fn key_values(conn: &str) -> Result<Vec<(String, String)>, ConnectError> {
    let mut out = Vec::new();
    let mut chars = conn.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(ConnectError::Usage(format!("the connection string has '{key}' without '=value'")));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    Some('\\') => value.extend(chars.next()),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => return Err(ConnectError::Usage(format!("the connection string's value of '{key}' has no closing quote"))),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        out.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(conn: &str) -> Target {
        Target::parse(conn, &Options::default()).expect("parses")
    }

    #[test]
    fn tls_settings_leave_the_url_and_the_rest_stays() {
        let t = parse("postgresql://u:p%40ss@h.example:5439/dev?sslmode=verify-ca&application_name=x&sslrootcert=%2Ftmp%2Fca.pem");
        assert_eq!(t.sslmode, SslMode::VerifyCa);
        assert_eq!(t.sslrootcert.as_deref(), Some("/tmp/ca.pem"));
        assert_eq!(t.config.get_application_name(), Some("x"));
        assert_eq!(t.config.get_password(), Some(&b"p@ss"[..]));
        assert_eq!(t.address(), "h.example:5439");
        let t = parse("host=h.example port=5439 user=u sslmode='verify-full' sslrootcert='/a b/ca.pem' dbname=dev");
        assert_eq!(t.sslmode, SslMode::VerifyFull);
        assert_eq!(t.sslrootcert.as_deref(), Some("/a b/ca.pem"));
        assert_eq!(t.config.get_dbname(), Some("dev"));
        assert_eq!(t.config.get_application_name(), Some("redshift-load"));
    }

    #[test]
    fn verify_full_unless_loopback_and_flags_win() {
        assert_eq!(parse("postgresql://u@cluster.abc.us-east-1.redshift.amazonaws.com:5439/dev").sslmode, SslMode::VerifyFull);
        assert_eq!(parse("postgresql://u@127.0.0.1:5439/dev").sslmode, SslMode::Prefer);
        assert_eq!(parse("postgresql://u@localhost/dev").sslmode, SslMode::Prefer);
        assert_eq!(parse("postgresql://u@localhost/dev?sslmode=require").sslmode, SslMode::Require);
        let flags = Options { sslmode: Some(SslMode::Disable), ..Options::default() };
        assert_eq!(Target::parse("postgresql://u@h/dev?sslmode=verify-full", &flags).map(|t| t.sslmode).ok(), Some(SslMode::Disable));
    }

    #[test]
    fn bad_settings_are_refused_in_words() {
        let e = Target::parse("postgresql://u@h/dev?sslmode=sometimes", &Options::default()).err().map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("sslmode 'sometimes'")));
        assert!(Target::parse("host=h sslmode", &Options::default()).is_err());
        assert!(Target::parse("host='h", &Options::default()).is_err());
        assert!(setting_literal("etl").is_ok());
        assert!(setting_literal("a'; DROP TABLE t; --").is_err());
        assert!(setting_literal("a\\").is_err());
    }
}
