//! `redshift-load`: loads committed pg2redshift exports from S3 into Redshift, swapping each
//! export's tables in within one transaction. See the README for commands and exit codes.

mod apply;
mod changes;
mod error;
mod exports;
mod help;
mod report;
mod scope;
mod sql;
mod state;
mod steps;
mod store;
mod swap;
mod target;
mod verify;

use std::time::Duration;

use clap::{Parser, Subcommand};
use pg2redshift_bundle::BundleKind;
use pg2redshift_loader::connection::{self, SslMode, Target};
use pg2redshift_loader::iam::{IamCredentials, Source};

use error::LoadError;
use report::Reporter;
use sql::CopyAuth;
use exports::resolve;
use store::{Committed, Store, split_url};
use swap::Done;

/// `--version`: the release, and the bundle formats this loader reads (it refuses any other).
fn version() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        let formats: Vec<String> = pg2redshift_bundle::READ_VERSIONS.iter().map(u32::to_string).collect();
        format!("{} (reads bundle formats {})", env!("CARGO_PKG_VERSION"), formats.join(", "))
    })
}

#[derive(Debug, Parser)]
#[command(
    name = "redshift-load",
    version = version(),
    about = help::ABOUT,
    long_about = help::LONG_ABOUT,
    after_long_help = help::more(help::MORE)
)]
struct Cli {
    /// Redshift connection URL (postgresql://user:password@host:port/db?sslmode=…), or
    /// libpq key=value pairs.
    #[arg(long, global = true, env = "REDSHIFT_LOAD_TARGET", hide_env_values = true)]
    target: Option<String>,
    /// TLS to Redshift, as libpq's sslmode (overrides the URL's). Default: verify-full, or
    /// prefer for a loopback host.
    #[arg(long, global = true, env = "REDSHIFT_LOAD_SSLMODE", value_enum)]
    sslmode: Option<SslMode>,
    /// PEM file of the CAs trusted for Redshift's certificate (overrides the URL's), or
    /// `system` for the system's CAs (the default).
    #[arg(long, global = true, env = "REDSHIFT_LOAD_SSLROOTCERT")]
    sslrootcert: Option<String>,
    /// IAM database credentials of this provisioned cluster for every connection
    /// (GetClusterCredentials with --db-user, or GetClusterCredentialsWithIAM with
    /// --iam-identity) instead of the URL's user and password.
    #[arg(long, global = true, env = "REDSHIFT_LOAD_CLUSTER_ID")]
    cluster_id: Option<String>,
    /// The database user the credentials are for (with --cluster-id).
    #[arg(long, global = true, env = "REDSHIFT_LOAD_DB_USER")]
    db_user: Option<String>,
    /// Create --db-user if it does not exist (redshift:CreateClusterUser).
    #[arg(long, global = true, env = "REDSHIFT_LOAD_AUTO_CREATE")]
    auto_create: bool,
    /// Database groups --db-user joins for the session, comma-separated (redshift:JoinGroup).
    #[arg(long, global = true, env = "REDSHIFT_LOAD_DB_GROUPS", value_delimiter = ',')]
    db_groups: Vec<String>,
    /// With --cluster-id: the database user is the caller's IAM identity.
    #[arg(long, global = true, env = "REDSHIFT_LOAD_IAM_IDENTITY")]
    iam_identity: bool,
    /// IAM database credentials of this Redshift Serverless workgroup (GetCredentials).
    #[arg(long, global = true, env = "REDSHIFT_LOAD_WORKGROUP")]
    workgroup: Option<String>,
    /// Seconds IAM database credentials last (900 to 3600).
    #[arg(long, global = true, env = "REDSHIFT_LOAD_IAM_DURATION", default_value_t = 900)]
    iam_duration: u32,
    /// Region of the credential APIs (else the AWS configuration's).
    #[arg(long, global = true, env = "REDSHIFT_LOAD_IAM_REGION")]
    iam_region: Option<String>,
    /// Endpoint of the credential APIs (a VPC endpoint, or a local stand-in).
    #[arg(long, global = true, env = "REDSHIFT_LOAD_IAM_ENDPOINT")]
    iam_endpoint: Option<String>,
    /// Seconds to wait for each connection attempt (unless the URL sets connect_timeout).
    #[arg(long, global = true, env = "REDSHIFT_LOAD_CONNECT_TIMEOUT", default_value_t = 10)]
    connect_timeout: u64,
    /// Attempts to connect before giving up, with backoff (1 s, 2 s, 4 s, … 30 s) between them.
    #[arg(long, global = true, env = "REDSHIFT_LOAD_CONNECT_ATTEMPTS", default_value_t = 5)]
    connect_attempts: u32,
    /// Redshift WLM query group the loader's statements run in (SET query_group).
    #[arg(long, global = true, env = "REDSHIFT_LOAD_QUERY_GROUP")]
    query_group: Option<String>,
    /// Seconds any one statement may run before Redshift cancels it (SET statement_timeout;
    /// none by default). The load then rolls back.
    #[arg(long, global = true, env = "REDSHIFT_LOAD_STATEMENT_TIMEOUT")]
    statement_timeout: Option<u64>,
    /// IAM role ARN Redshift's COPY assumes to read S3.
    #[arg(long, global = true, env = "REDSHIFT_LOAD_IAM_ROLE")]
    iam_role: Option<String>,
    /// Access key id for COPY (instead of an IAM role).
    #[arg(long, global = true, env = "REDSHIFT_LOAD_ACCESS_KEY_ID", hide_env_values = true)]
    access_key_id: Option<String>,
    #[arg(long, global = true, env = "REDSHIFT_LOAD_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_access_key: Option<String>,
    #[arg(long, global = true, env = "REDSHIFT_LOAD_SESSION_TOKEN", hide_env_values = true)]
    session_token: Option<String>,
    /// S3 endpoint for reading bundles (S3-compatible servers); AWS S3 when absent.
    #[arg(long, global = true, env = "REDSHIFT_LOAD_S3_ENDPOINT")]
    s3_endpoint: Option<String>,
    #[arg(long, global = true, env = "REDSHIFT_LOAD_S3_REGION", default_value = "us-east-1")]
    s3_region: String,
    /// Redshift schemas this loader may load into, comma-separated (any when absent; never
    /// its own pg2redshift_loader). A bundle naming another schema is refused.
    #[arg(long, global = true, env = "REDSHIFT_LOAD_SCHEMAS", value_delimiter = ',')]
    schemas: Option<Vec<String>>,
    /// File of HMAC keys, one per line: every bundle must be signed with one of them.
    /// REDSHIFT_LOAD_SIGNING_KEY adds one key from the environment.
    #[arg(long, global = true, env = "REDSHIFT_LOAD_SIGNING_KEY_FILE")]
    signing_key_file: Option<std::path::PathBuf>,
    /// One JSON object per line instead of plain lines.
    #[arg(long, global = true)]
    json: bool,
    /// With an error, also print its whole chain of causes as the libraries report them.
    #[arg(long, short, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load one export: an s3://…/bundle.json URL, or a prefix holding exactly one export
    /// (or several, with --latest).
    #[command(long_about = help::LOAD, after_long_help = help::more(help::LOAD_MORE))]
    Load {
        /// s3://bucket/…/bundle.json of one export, or a prefix (s3://bucket/prefix/).
        url: String,
        /// With a prefix: the newest export under it.
        #[arg(long)]
        latest: bool,
        /// Drop tables loaded earlier from the same source schema that this export no longer
        /// holds (left alone by default).
        #[arg(long)]
        drop_missing: bool,
    },
    /// Load every committed export under a prefix not loaded yet, oldest first, then keep
    /// polling (or stop after one pass with --once).
    #[command(long_about = help::WATCH, after_long_help = help::more(help::WATCH_MORE))]
    Watch {
        /// s3://bucket/prefix/ under which the extension writes exports.
        prefix: String,
        /// One pass, then exit.
        #[arg(long)]
        once: bool,
        /// Seconds between polls.
        #[arg(long, default_value_t = 60)]
        interval: u64,
        /// As for load.
        #[arg(long)]
        drop_missing: bool,
    },
    /// Print the SQL a load would run now (credentials redacted), without running it: the
    /// same statements `load` runs, read from the target as it is.
    #[command(long_about = help::PLAN, after_long_help = help::more(help::PLAN_MORE))]
    Plan {
        /// As for load.
        url: String,
        /// As for load.
        #[arg(long)]
        latest: bool,
        /// As for load.
        #[arg(long)]
        drop_missing: bool,
    },
    /// What was loaded, when, from which export, with row counts.
    #[command(long_about = help::STATUS, after_long_help = help::more(help::STATUS_MORE))]
    Status,
    /// Compare every loaded table with its source: rows, NULLs, min/max, sums, checksums.
    /// Exits 1 on any difference.
    #[command(long_about = help::VERIFY, after_long_help = help::more(help::VERIFY_MORE))]
    Verify {
        /// The source PostgreSQL (postgresql://…).
        #[arg(long, env = "REDSHIFT_LOAD_SOURCE", hide_env_values = true)]
        source: String,
        /// Only tables loaded into this Redshift schema.
        #[arg(long)]
        schema: Option<String>,
    },
    /// Print the bundle format version this loader reads.
    #[command(long_about = help::FORMAT_VERSION, after_long_help = help::more(""))]
    FormatVersion,
}

fn main() {
    // SAFETY: called first thing, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let report = Reporter::new(cli.json);
    if let Err(e) = run(&cli, &report) {
        report.error(&e.to_string(), e.exit_code());
        if cli.verbose {
            eprintln!("{e:#?}");
        }
        std::process::exit(e.exit_code());
    }
}

fn auth(cli: &Cli) -> Result<CopyAuth, LoadError> {
    match (&cli.iam_role, &cli.access_key_id, &cli.secret_access_key) {
        (Some(r), None, None) => Ok(CopyAuth::IamRole(r.clone())),
        (None, Some(k), Some(s)) => Ok(CopyAuth::Keys {
            access_key_id: k.clone(),
            secret_access_key: s.clone(),
            session_token: cli.session_token.clone(),
        }),
        (None, None, None) => Err(LoadError::Usage(
            "COPY needs S3 authorization: --iam-role, or --access-key-id with --secret-access-key".into(),
        )),
        _ => Err(LoadError::Usage("give either --iam-role or an access key pair, not both".into())),
    }
}

fn store(cli: &Cli) -> Result<Store, LoadError> {
    let env_key = std::env::var("REDSHIFT_LOAD_SIGNING_KEY").ok();
    let keys = scope::signing_keys(cli.signing_key_file.as_deref(), env_key.as_deref())?;
    Store::new(cli.s3_endpoint.as_deref(), &cli.s3_region, keys)
}

fn connect_options(cli: &Cli) -> connection::Options {
    connection::Options {
        sslmode: cli.sslmode,
        sslrootcert: cli.sslrootcert.clone(),
        connect_timeout: Duration::from_secs(cli.connect_timeout.max(1)),
        attempts: cli.connect_attempts.max(1),
        query_group: cli.query_group.clone(),
        statement_timeout: cli.statement_timeout.map(Duration::from_secs),
        application_name: "redshift-load".into(),
    }
}

/// Redshift, as the command line and the URL say.
fn target(cli: &Cli) -> Result<Target, LoadError> {
    let url = cli
        .target
        .as_deref()
        .ok_or_else(|| LoadError::Usage("no target: pass --target or set REDSHIFT_LOAD_TARGET".into()))?;
    let target = Target::parse(url, &connect_options(cli))?;
    let source = match (&cli.cluster_id, &cli.workgroup) {
        (Some(_), Some(_)) => return Err(LoadError::Usage("give --cluster-id or --workgroup, not both".into())),
        (Some(c), None) if cli.iam_identity => {
            if cli.db_user.is_some() || cli.auto_create || !cli.db_groups.is_empty() {
                return Err(LoadError::Usage("--iam-identity takes no --db-user, --auto-create or --db-groups".into()));
            }
            Source::ClusterWithIam { cluster_id: c.clone() }
        }
        (Some(c), None) => Source::Cluster {
            cluster_id: c.clone(),
            db_user: cli.db_user.clone().ok_or_else(|| {
                LoadError::Usage("--cluster-id needs --db-user (or --iam-identity for the caller's IAM identity)".into())
            })?,
            auto_create: cli.auto_create,
            db_groups: cli.db_groups.clone(),
        },
        (None, Some(w)) => {
            if cli.db_user.is_some() || cli.auto_create || !cli.db_groups.is_empty() || cli.iam_identity {
                return Err(LoadError::Usage("--workgroup takes no --db-user, --auto-create, --db-groups or --iam-identity".into()));
            }
            Source::Serverless { workgroup: w.clone() }
        }
        (None, None) => {
            if cli.db_user.is_some() || cli.auto_create || !cli.db_groups.is_empty() || cli.iam_identity {
                return Err(LoadError::Usage("--db-user, --auto-create, --db-groups and --iam-identity need --cluster-id".into()));
            }
            return Ok(target);
        }
    };
    let db_name = target.config.get_dbname().map(str::to_string);
    let credentials =
        IamCredentials::new(source, db_name, cli.iam_duration, cli.iam_region.as_deref(), cli.iam_endpoint.as_deref())?;
    Ok(target.with_credentials(std::sync::Arc::new(credentials)))
}

/// A new connection (and, with IAM, new credentials) each time: retried while the failure may
/// pass, each retry reported.
fn connect(target: &Target, report: &Reporter) -> Result<postgres::Client, LoadError> {
    report.timed("connect", || {
        Ok(target.connect(|e, wait| report.line("retry", &format!("{e}; trying again in {}s", wait.as_secs())))?)
    })
}

fn run(cli: &Cli, report: &Reporter) -> Result<(), LoadError> {
    match &cli.command {
        Command::FormatVersion => {
            println!("{}", pg2redshift_bundle::FORMAT_VERSION);
            Ok(())
        }
        Command::Status => {
            let mut db = connect(&target(cli)?, report)?;
            let rows = state::status(&mut db)?;
            if cli.json {
                for r in &rows {
                    println!(
                        "{}",
                        serde_json::json!({"table": r.target, "export_id": r.export_id, "exported_at": r.exported_at,
                            "source": r.source, "rows": r.rows, "files": r.files, "bundle_url": r.bundle_url, "loaded_at": r.loaded_at})
                    );
                }
            } else if rows.is_empty() {
                println!("nothing loaded yet");
            } else {
                println!("{:<40} {:<26} {:>12} {:<20} source", "table", "export", "rows", "loaded at (UTC)");
                for r in &rows {
                    println!("{:<40} {:<26} {:>12} {:<20} {}", r.target, r.export_id, r.rows, r.loaded_at, r.source);
                }
            }
            Ok(())
        }
        Command::Verify { source, schema } => {
            let store = store(cli)?;
            let mut target = connect(&target(cli)?, report)?;
            // The source's TLS is what its URL says (the --ssl* options are Redshift's).
            let source_options = connection::Options { sslmode: None, sslrootcert: None, query_group: None, statement_timeout: None, ..connect_options(cli) };
            let mut src = connect(&Target::parse(source, &source_options)?, report)?;
            let json = cli.json;
            let (tables, diffs) = verify::verify(&mut src, &mut target, &store, schema.as_deref(), |table, checks, bad| {
                if json {
                    println!("{}", serde_json::json!({"event": "verified", "table": table, "checks": checks, "differences": bad}));
                } else {
                    let verdict = if bad == 0 { "all equal".to_string() } else { format!("{bad} DIFFERENT") };
                    println!("{table:<40} {checks:>4} checks  {verdict}");
                }
            })?;
            for d in &diffs {
                let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "NULL".into());
                if json {
                    println!(
                        "{}",
                        serde_json::json!({"event": "difference", "table": d.table, "column": d.column, "check": d.check,
                            "source": d.source, "target": d.target})
                    );
                } else {
                    println!("  {} {} {}: source {} | redshift {}", d.table, d.column, d.check, show(&d.source), show(&d.target));
                }
            }
            if tables == 0 {
                return Err(LoadError::Usage("nothing to verify: no table has been loaded".into()));
            }
            if !diffs.is_empty() {
                return Err(LoadError::failed(format!("verify: {} difference(s) between the source and Redshift", diffs.len())));
            }
            Ok(())
        }
        Command::Plan { url, latest, drop_missing } => {
            let store = store(cli)?;
            let export = resolve(&store, url, *latest)?;
            scope::check_schemas(&export, cli.schemas.as_deref())?;
            let auth = auth(cli)?;
            let mut db = connect(&target(cli)?, report)?;
            let (done, planned) = if export[0].bundle.kind == BundleKind::Changes {
                (None, apply::plan(&export, &auth)?)
            } else {
                swap::plan(&mut db, &export, &auth, *drop_missing)?
            };
            let id = &export[0].bundle.export_id;
            if report.json {
                for step in &planned {
                    report.statement(&step.purpose, &step.shown);
                }
            } else {
                println!("-- export {id} ({} table(s)), one transaction", export.len());
                println!("BEGIN;");
                for step in &planned {
                    println!("-- {}\n{};", step.purpose, step.shown);
                }
                println!("COMMIT;");
            }
            if done.is_some() {
                report.line("plan", &format!("-- export {id} is already loaded: load would do nothing more"));
            }
            Ok(())
        }
        Command::Load { url, latest, drop_missing } => {
            let store = store(cli)?;
            let export = report.timed("read bundles", || resolve(&store, url, *latest))?;
            let auth = auth(cli)?;
            let target = target(cli)?;
            let mut reconnects = 0;
            loop {
                let mut db = connect(&target, report)?;
                match load_one(&mut db, &export, &auth, *drop_missing, cli, report) {
                    // The COMMIT may have reached Redshift: the next attempt first reads the
                    // load history in its own transaction, and finds the export loaded if so.
                    Err(e) if e.connection_lost() && reconnects < 3 => {
                        reconnects += 1;
                        report.line("reconnect", &format!("{e}; reconnecting, then checking the load history before loading again"));
                    }
                    other => return other,
                }
            }
        }
        Command::Watch { prefix, once, interval, drop_missing } => {
            let store = store(cli)?;
            let auth = auth(cli)?;
            let target = target(cli)?;
            let (bucket, key) = split_url(prefix)?;
            loop {
                // Each pass connects afresh (and reads the load history first), so a target
                // that restarted, or a connection lost mid-load, costs one pass at most.
                let result = (|| {
                    let mut db = connect(&target, report)?;
                    let loaded = state::loaded_exports(&mut db)?;
                    for export in exports::pending(&store, &bucket, &key, &loaded)? {
                        let export = export.and_then(|c| report.timed("read bundles", || c.read(&store, &bucket)));
                        match export.and_then(|export| load_one(&mut db, &export, &auth, *drop_missing, cli, report)) {
                            // Refused (older than what is loaded, forged, outside --schemas):
                            // skipped, never loaded, and the others still load.
                            Err(LoadError::Refused(m)) => report.line("skipped", &format!("skipped: {m}")),
                            other => other?,
                        }
                    }
                    Ok(())
                })();
                match (result, once) {
                    (r, true) => return r,
                    (Err(e), false) => report.error(&e.to_string(), e.exit_code()),
                    (Ok(()), false) => {}
                }
                std::thread::sleep(std::time::Duration::from_secs(*interval));
            }
        }
    }
}

fn load_one(
    db: &mut postgres::Client,
    export: &[Committed],
    auth: &CopyAuth,
    drop_missing: bool,
    cli: &Cli,
    report: &Reporter,
) -> Result<(), LoadError> {
    scope::check_schemas(export, cli.schemas.as_deref())?;
    let id = export[0].bundle.export_id.clone();
    let done = if export[0].bundle.kind == BundleKind::Changes {
        swap::retrying(db, report, |db| apply::try_apply(db, export, auth, report))?
    } else {
        swap::load_export(db, export, auth, drop_missing, report)?
    };
    report.timings_done(&id);
    match done {
        Done::Loaded => report.export_done(&id, export.len(), "loaded"),
        Done::AlreadyLoaded => report.export_done(&id, export.len(), "already loaded, nothing to do"),
    }
    Ok(())
}

#[cfg(test)]
mod version_tests {
    use clap::CommandFactory;

    #[test]
    fn the_version_names_the_bundle_formats_read() {
        let shown = super::Cli::command().render_version();
        assert_eq!(shown.trim(), format!("redshift-load {} (reads bundle formats 1, 2)", env!("CARGO_PKG_VERSION")));
    }

    /// `redshift-load <command> --help` reads like a man page: a description, examples (where
    /// there is something to show), the environment, and every exit code the loader gives.
    #[test]
    fn every_command_has_a_man_style_help() {
        let mut cli = super::Cli::command();
        cli.build();
        let mut pages = vec![("redshift-load".to_string(), cli.clone().render_long_help().to_string())];
        for sub in cli.get_subcommands_mut().filter(|c| c.get_name() != "help") {
            pages.push((sub.get_name().to_string(), sub.render_long_help().to_string()));
        }
        assert_eq!(pages.len(), 7, "the top level and six commands");
        for (name, page) in pages {
            assert!(page.contains("ENVIRONMENT") && page.contains("EXIT STATUS"), "{name}: {page}");
            assert!(name == "format-version" || page.contains("EXAMPLES"), "{name} has no examples");
            for code in 0..=7 {
                assert!(page.contains(&format!("\n  {code}  ")), "{name}'s help leaves out exit code {code}");
            }
            let wide = page.lines().find(|l| l.chars().count() > 100 && !l.trim_start().starts_with("redshift-load "));
            assert!(wide.is_none(), "{name}: a line wider than 100 columns: {wide:?}");
        }
    }
}
