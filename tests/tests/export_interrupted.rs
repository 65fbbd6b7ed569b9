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

#[test]
fn interrupted_exports_leave_nothing_behind() {
    let mut db = export_database(DB);
    // About 200 MB of CSV that compresses only about 2:1, so the export runs for a while and
    // fills several multipart parts.
    db.batch_execute(
        "CREATE TABLE big (id bigint PRIMARY KEY, a text, b text);
         INSERT INTO big SELECT g, md5(g::text) || md5((g + 1)::text), md5((g * 3)::text) FROM generate_series(1, 1500000) g;",
    )
    .unwrap();
    let started: String = db.query_one("SELECT pg_postmaster_start_time()::text", &[]).unwrap().get(0);
    let stack_s3 = S3::stack();

    // 1. pg_cancel_backend while rows stream.
    let prefix = unique_prefix("cancel");
    let (pid, handle) = start_export(format!("redshift_export('big', prefix => '{prefix}')"), "SELECT 1");
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
        format!("redshift_export('big', prefix => '{prefix}')"),
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
        format!("redshift_export('big', prefix => '{prefix}', endpoint => '{}')", private.endpoint()),
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
