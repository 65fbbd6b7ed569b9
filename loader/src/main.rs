//! `redshift-load`: reads committed exports (bundle.json present) from S3 and loads them into
//! Redshift. The load/watch/plan/status commands arrive with the loader issue; for now the binary
//! reports which bundle format it understands, so the pairing with the extension can be checked.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Print the bundle format version this loader reads, then exit.
    #[arg(long)]
    format_version: bool,
}

fn main() {
    let cli = Cli::parse();
    if cli.format_version {
        println!("{}", pg2redshift_bundle::FORMAT_VERSION);
    } else {
        println!(
            "redshift-load {}: reads bundle format {}",
            env!("CARGO_PKG_VERSION"),
            pg2redshift_bundle::FORMAT_VERSION
        );
    }
}
