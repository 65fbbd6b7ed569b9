//! A local S3-compatible server for the dev/test stack: s3s-fs (files under one folder) behind
//! SigV4 checks with one static key pair, listening on loopback (HTTP, and HTTPS with the
//! stack's certificate when given one), with its buckets created at start-up so the extension
//! and the loader can use it like a freshly configured AWS account.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

mod store;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use hyper_util::server::graceful::GracefulShutdown;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

#[derive(Debug, Parser)]
#[command(version, about)]
struct Options {
    /// Address to listen on (keep it on loopback: this server is for tests and demos).
    #[arg(long, env = "PG2RS_S3_HOST", default_value = "127.0.0.1")]
    host: std::net::IpAddr,

    #[arg(long, env = "PG2RS_S3_PORT", default_value_t = 9455)]
    port: u16,

    /// Access key id that requests must be signed with.
    #[arg(long, env = "PG2RS_S3_ACCESS_KEY")]
    access_key: String,

    /// Secret key that requests must be signed with.
    #[arg(long, env = "PG2RS_S3_SECRET_KEY", hide_env_values = true)]
    secret_key: String,

    /// Bucket to create at start-up if missing (repeatable).
    #[arg(long = "bucket", env = "PG2RS_S3_BUCKET", value_delimiter = ',')]
    buckets: Vec<String>,

    /// Folder holding the buckets (one sub-folder each).
    #[arg(long, env = "PG2RS_S3_ROOT")]
    root: PathBuf,

    /// Also serve HTTPS on this port (the same buckets), as AWS serves S3: clients then send
    /// bodies unsigned, with a checksum.
    #[arg(long, env = "PG2RS_S3_TLS_PORT", requires_all = ["tls_cert", "tls_key"])]
    tls_port: Option<u16>,

    /// PEM certificate chain (leaf first) for HTTPS.
    #[arg(long, env = "PG2RS_S3_TLS_CERT")]
    tls_cert: Option<PathBuf>,

    /// PEM private key of that certificate.
    #[arg(long, env = "PG2RS_S3_TLS_KEY")]
    tls_key: Option<PathBuf>,
}

/// A TLS acceptor from the PEM certificate chain and key.
fn tls_acceptor(cert: &std::path::Path, key: &std::path::Path) -> Result<tokio_rustls::TlsAcceptor, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect())
        .map_err(|e| format!("cannot read the certificate chain {}: {e}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("cannot read the private key {}: {e}", key.display()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|e| format!("the TLS certificate and key do not make a server configuration: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config)))
}

fn main() -> ExitCode {
    let options = Options::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_ansi(false)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("s3local: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("s3local: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(options: Options) -> Result<(), String> {
    std::fs::create_dir_all(&options.root)
        .map_err(|e| format!("cannot create root folder {}: {e}", options.root.display()))?;
    for bucket in &options.buckets {
        // s3s-fs keeps each bucket as a folder directly under the root.
        if bucket.is_empty() || bucket.contains('/') || bucket.starts_with('.') {
            return Err(format!("invalid bucket name {bucket:?}"));
        }
        let path = options.root.join(bucket);
        std::fs::create_dir_all(&path)
            .map_err(|e| format!("cannot create bucket folder {}: {e}", path.display()))?;
    }

    let fs = s3s_fs::FileSystem::new(&options.root)
        .map_err(|e| format!("cannot open root folder {}: {e:?}", options.root.display()))?;
    let mut builder = S3ServiceBuilder::new(store::Store::new(fs, options.root.clone()));
    builder.set_auth(SimpleAuth::from_single(
        options.access_key.as_str(),
        options.secret_key.as_str(),
    ));
    let service = builder.build();

    let address = SocketAddr::new(options.host, options.port);
    let listener = TcpListener::bind(address)
        .await
        .map_err(|e| format!("cannot listen on {address}: {e}"))?;
    tracing::info!("listening on http://{address}");

    if let (Some(port), Some(cert), Some(key)) = (options.tls_port, &options.tls_cert, &options.tls_key) {
        let acceptor = tls_acceptor(cert, key)?;
        let address = SocketAddr::new(options.host, port);
        let listener = TcpListener::bind(address).await.map_err(|e| format!("cannot listen on {address}: {e}"))?;
        tracing::info!("listening on https://{address}");
        let service = service.clone();
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else { continue };
                let _ = socket.set_nodelay(true);
                let (acceptor, service) = (acceptor.clone(), service.clone());
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(socket).await else { return };
                    let _ = ConnBuilder::new(TokioExecutor::new()).serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
    }

    let mut terminate = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let connections = ConnBuilder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    loop {
        let socket = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => socket,
                Err(err) => {
                    tracing::warn!("accept failed: {err}");
                    continue;
                }
            },
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        };
        // Without it a response written in two pieces waits for the client's delayed ACK: about
        // 40 ms for each small object, which real S3 does not cost.
        if let Err(err) = socket.set_nodelay(true) {
            tracing::warn!("TCP_NODELAY: {err}");
        }
        let connection = connections.serve_connection(TokioIo::new(socket), service.clone());
        let connection = graceful.watch(connection.into_owned());
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
    // Give in-flight requests a moment; tests stop this server on purpose mid-upload.
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
    }
    Ok(())
}
