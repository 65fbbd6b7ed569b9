//! What the loader says: plain lines for people and logs, or one JSON object per line with
//! `--json`. Credentials never reach it: the only SQL printed is built with secrets redacted.

use std::cell::RefCell;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

pub struct Reporter {
    pub json: bool,
    /// Where the current load's time went, by phase, in the order phases first ran.
    timings: RefCell<Vec<(&'static str, Duration)>>,
}

impl Reporter {
    pub fn new(json: bool) -> Reporter {
        Reporter { json, timings: RefCell::new(Vec::new()) }
    }

    /// Runs `work` and adds its time to `phase` of the current load.
    pub fn timed<T>(&self, phase: &'static str, work: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let result = work();
        self.add_time(phase, started.elapsed());
        result
    }

    pub fn add_time(&self, phase: &'static str, took: Duration) {
        let mut timings = self.timings.borrow_mut();
        match timings.iter_mut().find(|(p, _)| *p == phase) {
            Some((_, total)) => *total += took,
            None => timings.push((phase, took)),
        }
    }

    /// With `--json`, a `timings` event: seconds per phase since the last one (connect, reading
    /// the bundles, each kind of statement, commit), so the loader's own cost can be told apart
    /// from the COPYs'. Starts the next load's count.
    pub fn timings_done(&self, export_id: &str) {
        let timings = std::mem::take(&mut *self.timings.borrow_mut());
        if self.json {
            let phases: serde_json::Map<String, serde_json::Value> =
                timings.iter().map(|(p, d)| (p.to_string(), serde_json::json!(d.as_secs_f64()))).collect();
            println!("{}", serde_json::json!({ "event": "timings", "export_id": export_id, "seconds": phases }));
        }
    }
    /// A spinner for one table's COPY on a terminal; plain lines elsewhere.
    pub fn copy_started(&self, label: &str, message: &str) -> Option<ProgressBar> {
        if self.json || !std::io::stdout().is_terminal() {
            self.line("copy", message);
            return None;
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {prefix}: {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(label.to_string());
        bar.set_message("COPY running");
        bar.enable_steady_tick(Duration::from_millis(120));
        Some(bar)
    }

    pub fn line(&self, event: &str, message: &str) {
        if self.json {
            println!("{}", serde_json::json!({ "event": event, "message": message }));
        } else {
            println!("{message}");
        }
    }

    /// A statement of the load as it runs (secrets already redacted): an `sql` event in JSON
    /// mode, nothing on a terminal or in plain output.
    pub fn statement(&self, purpose: &str, sql: &str) {
        if self.json {
            println!("{}", serde_json::json!({ "event": "sql", "purpose": purpose, "sql": sql }));
        }
    }

    pub fn table_loaded(&self, schema: &str, table: &str, rows: u64, took: Duration) {
        if self.json {
            println!(
                "{}",
                serde_json::json!({ "event": "table_loaded", "schema": schema, "table": table, "rows": rows, "seconds": took.as_secs_f64() })
            );
        } else {
            println!("{schema}.{table}: {rows} rows loaded in {:.1}s", took.as_secs_f64());
        }
    }

    pub fn export_done(&self, export_id: &str, tables: usize, outcome: &str) {
        if self.json {
            println!("{}", serde_json::json!({ "event": "export", "export_id": export_id, "tables": tables, "outcome": outcome }));
        } else {
            println!("export {export_id} ({tables} table(s)): {outcome}");
        }
    }

    pub fn error(&self, message: &str, code: i32) {
        if self.json {
            println!("{}", serde_json::json!({ "event": "error", "message": message, "exit_code": code }));
        }
        let first = message.lines().next().unwrap_or("");
        eprintln!("redshift-load: {first}");
        for rest in message.lines().skip(1) {
            eprintln!("{rest}");
        }
    }
}
