//! `redshift-emulator`: a local stand-in for Amazon Redshift (see the crate documentation).

use clap::Parser;
use redshift_emulator::{Config, Isolation, S3Settings, User};

#[derive(Debug, Parser)]
#[command(version, about = "A Redshift stand-in: PostgreSQL wire protocol on 127.0.0.1, Redshift's COPY/types/limits, tables in a backing PostgreSQL")]
struct Cli {
    /// Address to listen on.
    #[arg(long, env = "REDSHIFT_EMULATOR_LISTEN", default_value = "127.0.0.1:5439")]
    listen: String,
    /// host:port of the backing PostgreSQL (trust authentication for the users below).
    #[arg(long, env = "REDSHIFT_EMULATOR_BACKING", default_value = "127.0.0.1:54316")]
    backing: String,
    /// Backing database.
    #[arg(long, env = "REDSHIFT_EMULATOR_BACKING_DB", default_value = "redshift")]
    backing_db: String,
    /// Backing superuser the emulator connects as.
    #[arg(long, env = "REDSHIFT_EMULATOR_BACKING_USER", default_value = "postgres")]
    backing_user: String,
    /// Database name clients connect to.
    #[arg(long, env = "REDSHIFT_EMULATOR_DATABASE", default_value = "dev")]
    database: String,
    /// A user, as NAME:PASSWORD (superuser) — repeat or separate with commas.
    #[arg(long = "superuser", env = "REDSHIFT_EMULATOR_SUPERUSERS", value_delimiter = ',')]
    superusers: Vec<String>,
    /// An ordinary user, as NAME:PASSWORD.
    #[arg(long = "user", env = "REDSHIFT_EMULATOR_USERS", value_delimiter = ',')]
    users: Vec<String>,
    /// S3 endpoint COPY reads from.
    #[arg(long, env = "REDSHIFT_EMULATOR_S3_ENDPOINT")]
    s3_endpoint: String,
    #[arg(long, env = "REDSHIFT_EMULATOR_S3_REGION", default_value = "us-east-1")]
    s3_region: String,
    /// The S3 keys used for COPY … IAM_ROLE (never printed).
    #[arg(long, env = "REDSHIFT_EMULATOR_S3_ACCESS_KEY_ID", hide_env_values = true)]
    s3_access_key_id: String,
    #[arg(long, env = "REDSHIFT_EMULATOR_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    s3_secret_access_key: String,
    /// IAM role ARNs COPY accepts.
    #[arg(long = "iam-role", env = "REDSHIFT_EMULATOR_IAM_ROLES", value_delimiter = ',')]
    iam_roles: Vec<String>,
    /// The role `IAM_ROLE default` stands for.
    #[arg(long, env = "REDSHIFT_EMULATOR_DEFAULT_IAM_ROLE")]
    default_iam_role: Option<String>,
    /// Isolation of transaction blocks: SNAPSHOT ISOLATION, the default of clusters and
    /// workgroups created since 2024, or SERIALIZABLE.
    #[arg(long, env = "REDSHIFT_EMULATOR_ISOLATION", value_enum, default_value = "snapshot")]
    isolation: Isolation,
    /// PEM certificate chain served to clients that ask for SSL (with --tls-key).
    #[arg(long, env = "REDSHIFT_EMULATOR_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "REDSHIFT_EMULATOR_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// Refuse connections without SSL, as a cluster with require_ssl = true does (needs a
    /// certificate).
    #[arg(long, env = "REDSHIFT_EMULATOR_REQUIRE_SSL", default_value_t = false, action = clap::ArgAction::Set)]
    require_ssl: bool,
    /// Address of the stand-in for the Redshift and Redshift Serverless credential APIs
    /// (requests signed with the S3 key pair above); none when absent.
    #[arg(long, env = "REDSHIFT_EMULATOR_IAM_LISTEN")]
    iam_listen: Option<String>,
    /// Provisioned cluster identifiers the credential API knows.
    #[arg(long = "iam-cluster", env = "REDSHIFT_EMULATOR_IAM_CLUSTERS", value_delimiter = ',')]
    iam_clusters: Vec<String>,
    /// Serverless workgroups the credential API knows.
    #[arg(long = "iam-workgroup", env = "REDSHIFT_EMULATOR_IAM_WORKGROUPS", value_delimiter = ',')]
    iam_workgroups: Vec<String>,
    /// The IAM user name the key pair belongs to.
    #[arg(long, env = "REDSHIFT_EMULATOR_IAM_USER", default_value = "pg2redshift-loader")]
    iam_user: String,
    /// Database groups the key pair's identity may join.
    #[arg(long = "iam-joinable-group", env = "REDSHIFT_EMULATOR_IAM_JOINABLE_GROUPS", value_delimiter = ',')]
    iam_joinable_groups: Vec<String>,
    /// Tests only: divide credential durations by this.
    #[arg(long, env = "REDSHIFT_EMULATOR_IAM_EXPIRY_DIVISOR", default_value_t = 1)]
    iam_expiry_divisor: u32,
}

fn user(spec: &str, superuser: bool) -> Result<User, String> {
    match spec.split_once(':') {
        Some((n, p)) if !n.is_empty() && !p.is_empty() => {
            Ok(User { name: n.to_ascii_lowercase(), password: p.to_string(), superuser })
        }
        _ => Err(format!("a user must be given as NAME:PASSWORD (got '{}')", spec.split(':').next().unwrap_or(""))),
    }
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("REDSHIFT_EMULATOR_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let users: Result<Vec<User>, String> = cli
        .superusers
        .iter()
        .map(|s| user(s, true))
        .chain(cli.users.iter().map(|s| user(s, false)))
        .collect();
    let users = match users {
        Ok(u) if !u.is_empty() => u,
        Ok(_) => {
            eprintln!("redshift-emulator: no users configured (--superuser NAME:PASSWORD)");
            std::process::exit(2);
        }
        Err(e) => {
            eprintln!("redshift-emulator: {e}");
            std::process::exit(2);
        }
    };
    let mut iam_roles = cli.iam_roles.clone();
    if let Some(d) = &cli.default_iam_role {
        iam_roles.push(d.clone());
    }
    let tls = match (&cli.tls_cert, &cli.tls_key) {
        (Some(cert), Some(key)) => match redshift_emulator::tls::server_config(cert, key) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("redshift-emulator: {e}");
                std::process::exit(2);
            }
        },
        _ => None,
    };
    if cli.require_ssl && tls.is_none() {
        eprintln!("redshift-emulator: --require-ssl needs a certificate (--tls-cert and --tls-key)");
        std::process::exit(2);
    }
    let config = Config {
        backing_addr: cli.backing.clone(),
        backing_db: cli.backing_db.clone(),
        backing_admin: cli.backing_user.clone(),
        database: cli.database.clone(),
        users,
        s3: S3Settings {
            endpoint: cli.s3_endpoint.clone(),
            region: cli.s3_region.clone(),
            access_key_id: cli.s3_access_key_id.clone(),
            secret_access_key: cli.s3_secret_access_key.clone(),
        },
        iam_roles,
        default_iam_role: cli.default_iam_role.clone(),
        isolation: cli.isolation,
        tls,
        require_ssl: cli.require_ssl,
        iam: cli.iam_listen.as_ref().map(|_| redshift_emulator::iam::IamSettings {
            access_key_id: cli.s3_access_key_id.clone(),
            secret_access_key: cli.s3_secret_access_key.clone(),
            region: cli.s3_region.clone(),
            iam_user: cli.iam_user.clone(),
            clusters: cli.iam_clusters.clone(),
            workgroups: cli.iam_workgroups.clone(),
            joinable_groups: cli.iam_joinable_groups.iter().map(|g| g.to_lowercase()).collect(),
            expiry_divisor: cli.iam_expiry_divisor,
        }),
    };
    match redshift_emulator::start(config, &cli.listen).await {
        Ok((listener, shared)) => {
            tracing::info!("redshift-emulator listening on {} (database {})", cli.listen, cli.database);
            if let Some(addr) = &cli.iam_listen {
                match tokio::net::TcpListener::bind(addr).await {
                    Ok(l) => {
                        tracing::info!("credential API stand-in listening on {addr}");
                        tokio::spawn(redshift_emulator::iam::serve(l, shared.clone()));
                    }
                    Err(e) => {
                        eprintln!("redshift-emulator: cannot listen on {addr}: {e}");
                        std::process::exit(1);
                    }
                }
            }
            redshift_emulator::serve(listener, shared).await;
        }
        Err(e) => {
            eprintln!("redshift-emulator: {e}");
            std::process::exit(1);
        }
    }
}
