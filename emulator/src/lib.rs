//! The Redshift emulator (see DESIGN.md, "The Redshift emulator"): a PostgreSQL wire-protocol
//! server that keeps its tables in a backing PostgreSQL database and follows Redshift's
//! documented behaviour for COPY from S3, types and limits. Each rule carries a link to the
//! Redshift documentation page it follows.

pub mod backend;
pub mod copy;
pub mod errors;
pub mod iam;
pub mod presentation;
pub mod session;
pub mod sql;
pub mod tls;
pub mod wire;

use std::sync::Arc;
use std::sync::atomic::AtomicI64;

use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub password: String,
    pub superuser: bool,
}

#[derive(Debug, Clone)]
pub struct S3Settings {
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// host:port of the backing PostgreSQL (trust authentication).
    pub backing_addr: String,
    pub backing_db: String,
    /// The backing superuser the emulator itself connects as.
    pub backing_admin: String,
    /// The database name clients connect to (Redshift's default is `dev`).
    pub database: String,
    pub users: Vec<User>,
    pub s3: S3Settings,
    /// IAM role ARNs COPY accepts (they read with the configured S3 keys).
    pub iam_roles: Vec<String>,
    pub default_iam_role: Option<String>,
    /// The isolation level of every session's transactions.
    pub isolation: Isolation,
    /// The certificate served to clients that ask for SSL; without it SSL is declined.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Redshift's `require_ssl`: plaintext connections are refused.
    pub require_ssl: bool,
    /// The stand-in for the credential APIs, when it runs.
    pub iam: Option<iam::IamSettings>,
}

/// "SNAPSHOT and SERIALIZABLE isolation are the two serializable isolation levels available in
/// Amazon Redshift. SNAPSHOT isolation is the default isolation level when creating provisioned
/// clusters and serverless workgroups"; both abort a violator with error 1023.
/// https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation.html
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Isolation {
    /// SERIALIZABLE: write skew is refused too.
    Serializable,
    /// SNAPSHOT ISOLATION (PostgreSQL's REPEATABLE READ).
    Snapshot,
}

impl Isolation {
    /// The backing PostgreSQL level that behaves alike.
    pub fn backing_level(self) -> &'static str {
        match self {
            Isolation::Serializable => "SERIALIZABLE",
            Isolation::Snapshot => "REPEATABLE READ",
        }
    }

    /// As STV_DB_ISOLATION_LEVEL shows it.
    pub fn name(self) -> &'static str {
        match self {
            Isolation::Serializable => "Serializable",
            Isolation::Snapshot => "Snapshot Isolation",
        }
    }
}

pub struct Shared {
    pub config: Config,
    /// The emulator's own connection: set-up, and stl_load_errors rows that must survive the
    /// client's rollback.
    pub admin: tokio_postgres::Client,
    pub next_query: AtomicI64,
    /// Temporary logins the credential stand-in issued.
    pub temp_logins: iam::TempLogins,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot connect to the backing PostgreSQL at {addr}: {source}")]
    Backing { addr: String, source: tokio_postgres::Error },
    #[error("cannot set up the backing database: {}", db_message(.0))]
    Setup(tokio_postgres::Error),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: String, source: std::io::Error },
}

/// The server's own words for a failed statement (tokio-postgres prints only "db error").
fn db_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{} ({}){}", d.message(), d.code().code(), d.where_().map(|w| format!(", {w}")).unwrap_or_default()),
        None => e.to_string(),
    }
}

const CATALOG_SQL: &str = include_str!("catalog.sql");

/// Connects to the backing database, installs the emulator's catalog and roles, binds `listen`.
pub async fn start(config: Config, listen: &str) -> Result<(TcpListener, Arc<Shared>), StartError> {
    let (host, port) = config.backing_addr.rsplit_once(':').unwrap_or((&config.backing_addr, "5432"));
    let conn_str = format!(
        "host={host} port={port} user={} dbname={} application_name=redshift-emulator",
        config.backing_admin, config.backing_db
    );
    let (admin, connection) = tokio_postgres::connect(&conn_str, tokio_postgres::NoTls)
        .await
        .map_err(|source| StartError::Backing { addr: config.backing_addr.clone(), source })?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::error!("the emulator's backing connection ended: {e}");
        }
    });
    // One installer at a time (two emulators may share a backing database).
    let mut setup = format!("SET client_min_messages = warning; BEGIN; SELECT pg_advisory_xact_lock(5439); {CATALOG_SQL}\n");
    for u in &config.users {
        let q = sql::quote_ident(&u.name);
        let l = sql::quote_literal(&u.name);
        let sup = if u.superuser { "SUPERUSER" } else { "NOSUPERUSER" };
        setup.push_str(&format!(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {l}) THEN CREATE ROLE {q} LOGIN; END IF; END $$;\n\
             ALTER ROLE {q} LOGIN {sup};\n"
        ));
    }
    setup.push_str("COMMIT;");
    admin.batch_execute(&setup).await.map_err(StartError::Setup)?;
    let row = admin
        .query_one(
            "SELECT greatest((SELECT max(query) FROM rs_emulator.load_errors), (SELECT max(query) FROM rs_emulator.load_commits), 0)::int8",
            &[],
        )
        .await
        .map_err(StartError::Setup)?;
    let next: i64 = row.get(0);
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| StartError::Listen { addr: listen.to_string(), source })?;
    Ok((listener, Arc::new(Shared { config, admin, next_query: AtomicI64::new(next + 1), temp_logins: iam::TempLogins::default() })))
}

/// Accepts connections until the process ends; each session runs on its own task.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let shared = shared.clone();
                tokio::spawn(async move {
                    if let Err(e) = session::serve(stream, shared).await {
                        tracing::debug!(%peer, "session ended: {e}");
                    }
                });
            }
            Err(e) => tracing::warn!("accept failed: {e}"),
        }
    }
}
