//! Exports that stop half-way — cancelled, timed out, or with S3 gone — commit nothing, leave
//! no multipart upload open and no object behind, and take neither the backend nor the server
//! down.

use std::net::TcpListener;
use std::process::{Child, Command};
use std::time::Duration;

use e2e::{S3, connect, describe, export_database, source_database_url, stack_setting, unique_prefix, wait_for};

const DB: &str = "e2e_export_interrupted";

/// Rows returned, or the SQLSTATE and message of the failure.
type Outcome = Result<u64, (String, String)>;

/// Starts an export of `big` in another session; returns its backend pid and the join handle.
fn start_export(call: String, setup: &'static str) -> (i32, std::thread::JoinHandle<Outcome>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let mut db = connect(&source_database_url(DB));
        db.batch_execute(setup).expect("session setup");
        let pid: i32 = db.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
        tx.send(pid).unwrap();
        let result = db.query(&format!("SELECT * FROM {call}"), &[]);
        let outcome = match result {
            Ok(rows) => Ok(rows.len() as u64),
            Err(e) => Err((
                e.as_db_error().map(|d| d.code().code().to_string()).unwrap_or_default(),
                describe(&e),
            )),
        };
        // The same session still works after the failed export.
        let one: i32 = db.query_one("SELECT 1", &[]).expect("the session survives").get(0);
        assert_eq!(one, 1);
        outcome
    });
    (rx.recv().expect("export session started"), handle)
}

fn progress(db: &mut postgres::Client, pid: i32) -> Option<(i64, String)> {
    db.query_opt("SELECT bytes, phase FROM redshift_export_progress WHERE pid = $1", &[&pid])
        .unwrap()
        .map(|r| (r.get(0), r.get(1)))
}

fn assert_nothing_left(s3: &S3, prefix: &str, what: &str) {
    assert_eq!(s3.open_uploads(prefix), Vec::<String>::new(), "{what}: multipart uploads left open");
    assert_eq!(s3.keys(prefix), Vec::<String>::new(), "{what}: objects left behind");
}

/// An S3 server of our own, so the test can stop it mid-export.
struct PrivateS3 {
    port: u16,
    root: std::path::PathBuf,
    child: Option<Child>,
}

impl PrivateS3 {
    fn start() -> PrivateS3 {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let root = std::env::temp_dir().join(format!("pg2redshift-e2e-s3-{}", std::process::id()));
        let mut s3 = PrivateS3 { port, root, child: None };
        s3.restart();
        s3
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn restart(&mut self) {
        let child = Command::new(stack_setting("PG2RS_S3_BIN"))
            .env("PG2RS_S3_PORT", self.port.to_string())
            // HTTP only: the stack's own server holds the HTTPS port.
            .env_remove("PG2RS_S3_TLS_PORT")
            .env("PG2RS_S3_ROOT", &self.root)
            .env("PG2RS_S3_BUCKET", stack_setting("PG2RS_S3_BUCKET"))
            .env("PG2RS_S3_ACCESS_KEY", stack_setting("PG2RS_S3_ACCESS_KEY"))
            .env("PG2RS_S3_SECRET_KEY", stack_setting("PG2RS_S3_SECRET_KEY"))
            .spawn()
            .expect("start s3local");
        self.child = Some(child);
        let port = self.port;
        wait_for("the private S3 server", Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
    }

    /// Kills the server the hard way, as a crash or a network cut would.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateS3 {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A fresh database `name` with table `big`: `rows` rows of about 140 bytes of CSV each.
fn big_table(name: &str, rows: i64) -> postgres::Client {
    let mut db = export_database(name);
    db.execute("CREATE TABLE big (id bigint PRIMARY KEY, a text, b text)", &[]).unwrap();
    db.execute(
        "INSERT INTO big SELECT g, md5(g::text) || md5((g + 1)::text), md5((g * 3)::text) FROM generate_series(1, $1::bigint) g",
        &[&rows],
    )
    .unwrap();
    db
}

#[test]
fn interrupted_exports_leave_nothing_behind() {
    // About 200 MB of CSV that compresses only about 2:1, so the export runs for a while and
    // fills several multipart parts.
    let mut db = big_table(DB, 1_500_000);
    let started: String = db.query_one("SELECT pg_postmaster_start_time()::text", &[]).unwrap().get(0);
    let stack_s3 = S3::stack();

    // 1. pg_cancel_backend while rows stream.
    let prefix = unique_prefix("cancel");
    // gzip at level 9: slow enough that each export is still running when it is interrupted (at
    // the default zstd 3 the table takes about a second).
    let (pid, handle) = start_export(format!("redshift_export('big', prefix => '{prefix}', gzip_level => 9)"), "SELECT 1");
    wait_for("rows to stream", Duration::from_secs(60), || {
        progress(&mut db, pid).filter(|(bytes, _)| *bytes > 0)
    });
    let cancelled: bool = db.query_one("SELECT pg_cancel_backend($1)", &[&pid]).unwrap().get(0);
    assert!(cancelled);
    let (code, message) = handle.join().expect("export thread").expect_err("a cancelled export fails");
    assert_eq!(code, "57014", "{message}");
    assert_nothing_left(&stack_s3, &prefix, "cancel");

    // 2. statement_timeout.
    let prefix = unique_prefix("timeout");
    let (_, handle) = start_export(
        format!("redshift_export('big', prefix => '{prefix}', gzip_level => 9)"),
        "SET statement_timeout = '1500ms'",
    );
    let (code, message) = handle.join().expect("export thread").expect_err("a timed-out export fails");
    assert_eq!(code, "57014", "{message}");
    assert!(message.contains("statement timeout"), "{message}");
    assert_nothing_left(&stack_s3, &prefix, "statement_timeout");

    // 3. The S3 server dies mid-upload and comes back while the export cleans up.
    let mut private = PrivateS3::start();
    let private_s3 = S3::at(&private.endpoint());
    let prefix = unique_prefix("s3-down");
    let (pid, handle) = start_export(
        format!("redshift_export('big', prefix => '{prefix}', endpoint => '{}', gzip_level => 9)", private.endpoint()),
        "SELECT 1",
    );
    wait_for("a multipart upload to start", Duration::from_secs(120), || {
        (!private_s3.open_uploads(&prefix).is_empty()).then_some(())
    });
    private.kill();
    wait_for("the export to notice and clean up", Duration::from_secs(120), || {
        progress(&mut db, pid).filter(|(_, phase)| phase == "cleaning up")
    });
    private.restart();
    let (code, message) = handle.join().expect("export thread").expect_err("an export without S3 fails");
    assert_eq!(code, "58030", "{message}");
    assert!(message.contains("S3") && message.contains("nothing was committed"), "{message}");
    assert_nothing_left(&private_s3, &prefix, "S3 down");

    let now: String = db.query_one("SELECT pg_postmaster_start_time()::text", &[]).unwrap().get(0);
    assert_eq!(now, started, "the server was not restarted");
}

/// The signals a backend handles (SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGTERM,
/// SIGCHLD) as bits of a `/proc/…/status` SigBlk mask.
const BACKEND_SIGNALS: [u32; 8] = [1, 2, 3, 10, 12, 14, 15, 17];

/// Name and blocked-signal mask of every thread of `pid` but its main one.
fn helper_threads(pid: i32) -> Vec<(String, u64)> {
    let mut threads = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return threads };
    for task in tasks.flatten() {
        if task.file_name().to_string_lossy() == pid.to_string() {
            continue;
        }
        let Ok(status) = std::fs::read_to_string(task.path().join("status")) else { continue };
        let field = |name: &str| {
            status.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_string()).unwrap_or_default()
        };
        let mask = u64::from_str_radix(&field("SigBlk:"), 16).expect("SigBlk is hexadecimal");
        threads.push((field("Name:"), mask));
    }
    threads
}

#[test]
fn zstd_threads_leave_every_signal_to_the_backend() {
    const SIGNALS_DB: &str = "e2e_export_signals";
    let mut db = big_table(SIGNALS_DB, 600_000);
    let started: String = db.query_one("SELECT pg_postmaster_start_time()::text", &[]).unwrap().get(0);
    let s3 = S3::stack();
    let start = |prefix: &str| {
        let (tx, rx) = std::sync::mpsc::channel();
        let call = format!("redshift_export('big', prefix => '{prefix}', compression => 'zstd', zstd_level => 15)");
        let handle = std::thread::spawn(move || {
            let mut db = connect(&source_database_url(SIGNALS_DB));
            db.batch_execute("SET pg2redshift.gzip_threads = 2").unwrap();
            let pid: i32 = db.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
            tx.send(pid).unwrap();
            let outcome = db.query(&format!("SELECT files, bytes_gzip FROM {call}"), &[]).map(|rows| rows.len());
            let outcome = outcome.map_err(|e| (e.as_db_error().map(|d| d.code().code().to_string()).unwrap_or_default(), describe(&e)));
            let one: i32 = db.query_one("SELECT 1", &[]).expect("the session survives").get(0);
            assert_eq!(one, 1);
            outcome
        });
        (rx.recv().expect("export session started"), handle)
    };

    // 1. While libzstd's workers run, every helper thread blocks the backend's signals, and
    //    signals sent to the backend meanwhile (config reload, procsignal interrupts) neither
    //    break the export nor reach a helper.
    let prefix = unique_prefix("zstd-signals");
    let (pid, handle) = start(&prefix);
    let threads = wait_for("libzstd's workers to start", Duration::from_secs(60), || {
        let threads = helper_threads(pid);
        (threads.len() >= 4).then_some(threads)
    });
    for (name, mask) in &threads {
        for signal in BACKEND_SIGNALS {
            assert_ne!(mask & (1 << (signal - 1)), 0, "thread {name:?} of the backend does not block signal {signal}: {mask:x}");
        }
    }
    let mut sent = 0;
    while !handle.is_finished() && sent < 50 {
        db.batch_execute("SELECT pg_reload_conf()").unwrap();
        db.query_one("SELECT pg_log_backend_memory_contexts($1)", &[&pid]).unwrap();
        sent += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(sent >= 5, "the export ended before the signals were sent: make the table larger");
    let files = handle.join().expect("export thread").unwrap_or_else(|(code, m)| panic!("{code}: {m}"));
    assert_eq!(files, 1);
    let keys = s3.keys(&prefix);
    assert!(keys.iter().any(|k| k.ends_with("/part-00000.csv.zst")), "{keys:?}");

    // 2. A cancel during a zstd export is handled by the backend: nothing is left behind.
    let prefix = unique_prefix("zstd-cancel");
    let (pid, handle) = start(&prefix);
    wait_for("libzstd's workers to start", Duration::from_secs(60), || (helper_threads(pid).len() >= 4).then_some(()));
    let cancelled: bool = db.query_one("SELECT pg_cancel_backend($1)", &[&pid]).unwrap().get(0);
    assert!(cancelled);
    let (code, message) = handle.join().expect("export thread").expect_err("a cancelled export fails");
    assert_eq!(code, "57014", "{message}");
    assert_nothing_left(&s3, &prefix, "zstd cancel");
    let now: String = db.query_one("SELECT pg_postmaster_start_time()::text", &[]).unwrap().get(0);
    assert_eq!(now, started, "the server was not restarted");
}
