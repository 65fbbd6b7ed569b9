//! The long help of each subcommand (`redshift-load <command> --help`), laid out like a man
//! page: what it does, examples, environment, exit status. `-h` stays one line per option.

pub const ABOUT: &str = "Load committed pg2redshift exports from S3 into Redshift, one transaction per export";

pub const LONG_ABOUT: &str = "\
Load committed pg2redshift exports from S3 into Redshift, one transaction
per export.

Each export's tables are COPYed into new tables first, then swapped in place
of the old ones (owners, grants and views carried over) and committed
together, so readers never see an error or a half-loaded table. Any failure
rolls back and leaves the old tables as they were.

Run `redshift-load <command> --help` for a command's details.";

const ENVIRONMENT: &str = "\
ENVIRONMENT
  Most options have a variable (shown with --help), e.g. REDSHIFT_LOAD_TARGET,
  REDSHIFT_LOAD_IAM_ROLE, REDSHIFT_LOAD_S3_ENDPOINT.
  S3 credentials come from the standard AWS chain (AWS_ACCESS_KEY_ID,
  AWS_PROFILE, instance or container roles, web identity).";

const EXIT_STATUS: &str = "\
EXIT STATUS
  0  done, or nothing to do
  1  the load failed and was rolled back: nothing changed
     (verify: differences found)
  2  usage or configuration
  3  refused: older than what is loaded, unknown bundle format, incomplete
     export, bad or missing signature, a schema outside --schemas
  4  S3 could not be read
  5  Redshift unreachable, or a statement outside a load failed
  6  TLS to Redshift refused (certificate not trusted, wrong host name,
     expired, no TLS)
  7  IAM database credentials refused or unavailable";

/// The top-level `--help` footer.
pub const MORE: &str = "\
EXAMPLES
  export REDSHIFT_LOAD_TARGET='postgresql://loader@ENDPOINT:5439/dev'
  export REDSHIFT_LOAD_IAM_ROLE=arn:aws:iam::123456789012:role/copy
  redshift-load watch s3://acme-exports/pg/ --once
  redshift-load verify --source postgresql://reader@db.internal/app

SEE ALSO
  README.md, section \"Loading into Redshift: redshift-load\"; CHANGELOG.md
  for what each version changes and how to upgrade.";

pub const LOAD: &str = "\
Load one export: a bundle.json URL, or a prefix that holds exactly one
export (or the newest of several, with --latest). All the export's tables
are COPYed into staging tables, their row counts checked, then swapped in
within one transaction. An export already loaded is skipped; one older than
the export in place is refused (exit 3).";

pub const LOAD_MORE: &str = "\
EXAMPLES
  redshift-load load s3://acme/pg/app/public.orders/EXPORT_ID/bundle.json
  redshift-load load s3://acme-exports/pg/app/ --latest
  redshift-load load s3://acme-exports/pg/app/ --latest --drop-missing --json";

pub const WATCH: &str = "\
Load every committed export under a prefix that is not loaded yet, oldest
first, then poll again every --interval seconds; with --once, stop after one
pass (for cron or systemd timers). An export that is refused is reported and
skipped; the others still load.";

pub const WATCH_MORE: &str = "\
EXAMPLES
  redshift-load watch s3://acme-exports/pg/ --once
  redshift-load watch s3://acme-exports/pg/ --interval 300 --schemas bi,fin";

pub const PLAN: &str = "\
Print the SQL statements `load` would run now, read from the target as it is
(owners, grants and dependent views included), with credentials redacted.
Runs nothing that changes the target: what it reads is read in a transaction
it rolls back.";

pub const PLAN_MORE: &str = "\
EXAMPLES
  redshift-load plan s3://acme-exports/pg/app/ --latest";

pub const STATUS: &str = "\
Print what was loaded, per table: the export, its row count, when it was
loaded and from where (the loader's own pg2redshift_loader.loads table).";

pub const STATUS_MORE: &str = "\
EXAMPLES
  redshift-load status
  redshift-load status --json";

pub const VERIFY: &str = "\
Compare every loaded table with its source PostgreSQL table: row counts,
NULL counts, min, max and sum of numbers, min and max of dates and times,
and an order-independent checksum of the values. Prints one line per table
and each difference; exits 1 if there is any.";

pub const VERIFY_MORE: &str = "\
EXAMPLES
  redshift-load verify --source postgresql://reader@db.internal/app
  redshift-load verify --source postgresql://reader@db/app --schema bi";

pub const FORMAT_VERSION: &str = "\
Print the newest bundle format version this loader reads (it also reads the
older ones that --version lists, and refuses any other).";

/// `after_long_help` of a command: its examples, then the environment and exit codes common
/// to all commands.
pub fn more(examples: &str) -> String {
    if examples.is_empty() {
        format!("{ENVIRONMENT}\n\n{EXIT_STATUS}")
    } else {
        format!("{examples}\n\n{ENVIRONMENT}\n\n{EXIT_STATUS}")
    }
}

#[cfg(test)]
mod tests {
    /// Laid out for an 80-column terminal, so clap never re-wraps these lines.
    #[test]
    fn every_line_fits_80_columns() {
        let texts = [
            super::LONG_ABOUT, super::ENVIRONMENT, super::EXIT_STATUS, super::MORE, super::LOAD, super::LOAD_MORE,
            super::WATCH, super::WATCH_MORE, super::PLAN, super::PLAN_MORE, super::STATUS, super::STATUS_MORE,
            super::VERIFY, super::VERIFY_MORE, super::FORMAT_VERSION,
        ];
        for line in texts.iter().flat_map(|t| t.lines()) {
            assert!(line.chars().count() <= 78, "too wide: {line:?}");
        }
    }
}
