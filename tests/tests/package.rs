//! The release artifacts of scripts/package on the stack's own PostgreSQL 15: the Debian package
//! installed with dpkg after the files `cargo pgrx install` put there are removed, then CREATE
//! EXTENSION, an export, and a load of it with the loader from the release tarball.
//!
//! Ignored in the main run: it replaces the installed extension under every other test.
//! scripts/test runs it afterwards, alone (`--run-ignored only`), once scripts/package has
//! built dist/. The machine ends as it started: the package is purged and the files restored
//! (by the next run, if this one is killed).

use std::path::{Path, PathBuf};
use std::process::Command;

use e2e::{describe, fresh_source_database, fresh_target, loader_at, output_text, redshift, releases_dir, server_dir, source_admin};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const PACKAGE: &str = "postgresql-15-pg2redshift";

fn dist() -> PathBuf {
    std::env::var_os("PG2RS_DIST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist"))
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", output_text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn installed_version() -> Option<String> {
    let out = Command::new("dpkg-query").args(["-W", "-f=${Status} ${Version}", PACKAGE]).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.strip_prefix("install ok installed ").map(str::to_string)
}

/// Where the stack's extension files wait while the package is installed: a fixed place, so a
/// run that was killed is mended by the next one.
fn backup_dir() -> PathBuf {
    std::env::temp_dir().join("pg2redshift-package-test")
}

/// The file beside `path` a restore writes first.
fn restoring(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".pg2rs-restore");
    PathBuf::from(name)
}

/// Puts the saved files back (each copied beside its place, then renamed over it: a backend
/// that has the library loaded keeps its own copy) and forgets them; keeps the backup and
/// says false if any could not be put back.
fn restore_saved() -> bool {
    let dir = backup_dir();
    let Ok(paths) = std::fs::read_to_string(dir.join("paths")) else {
        let _ = std::fs::remove_dir_all(&dir);
        return true;
    };
    let mut all = true;
    for (i, original) in paths.lines().enumerate() {
        let original = Path::new(original);
        let tmp = restoring(original);
        let done = std::fs::copy(dir.join(i.to_string()), &tmp).and_then(|_| std::fs::rename(&tmp, original));
        if let Err(e) = done {
            eprintln!("package test: cannot restore {} from {}: {e}", original.display(), dir.display());
            all = false;
        }
    }
    if all {
        let _ = std::fs::remove_dir_all(&dir);
    }
    all
}

/// What a killed run left: files saved before it installed the package. Those rewritten since
/// (`scripts/stack up` installs a new build) are newer than the save: they are saved instead.
/// Then the package goes and the saved files come back.
fn mend_a_killed_run() {
    let dir = backup_dir();
    if let (Ok(paths), Ok(saved)) = (std::fs::read_to_string(dir.join("paths")), dir.join("paths").metadata()) {
        let saved_at = saved.modified().expect("mtime");
        for (i, original) in paths.lines().enumerate() {
            let newer = Path::new(original).metadata().and_then(|m| m.modified()).is_ok_and(|t| t > saved_at);
            if newer {
                std::fs::copy(original, dir.join(i.to_string())).expect("save the newer file");
            }
        }
    }
    let _ = Command::new("dpkg").args(["--purge", PACKAGE]).output();
    assert!(restore_saved(), "the files a killed run saved could not be put back");
}

/// When the test ends, also by a failure: the package purged, the stack's files back.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["--purge", PACKAGE]).output();
        restore_saved();
    }
}

#[test]
#[ignore = "replaces the installed extension: scripts/test runs it alone, after scripts/package"]
fn the_debian_package_installs_the_extension_and_the_tarball_loads_its_export() {
    let arch = run(Command::new("dpkg").arg("--print-architecture")).trim().to_string();
    let deb = dist().join(format!("{PACKAGE}_{VERSION}_{arch}.deb"));
    assert!(deb.exists(), "{} not found: run scripts/package first", deb.display());
    let field = |name: &str| run(Command::new("dpkg-deb").arg("--field").arg(&deb).arg(name)).trim().to_string();
    assert_eq!(field("Version"), VERSION, "the package's version is Cargo.toml's");
    assert!(field("Depends").split(", ").any(|d| d == "postgresql-15"), "Depends: {}", field("Depends"));

    let mut admin = source_admin();
    let libdir = server_dir(&mut admin, "PKGLIBDIR");
    let extdir = server_dir(&mut admin, "SHAREDIR").join("extension");
    let contents = run(Command::new("dpkg-deb").arg("--contents").arg(&deb));
    for file in [
        libdir.join("pg2redshift.so"),
        extdir.join("pg2redshift.control"),
        extdir.join(format!("pg2redshift--{VERSION}.sql")),
        extdir.join(format!("pg2redshift--0.1.0--{VERSION}.sql")),
    ] {
        assert!(contents.contains(&format!(".{}\n", file.display())), "the package lacks {}:\n{contents}", file.display());
    }

    // Away with what `cargo pgrx install` put there, kept aside for the end (after mending
    // what a killed run left: its saved files, its installed package).
    mend_a_killed_run();
    let ours = |extdir: &Path| -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(extdir)
            .expect("extension dir")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("pg2redshift")))
            .collect();
        // A restore interrupted half-way leaves its temporary file: not one of ours.
        for stray in found.iter().filter(|p| p.to_string_lossy().ends_with(".pg2rs-restore")) {
            let _ = std::fs::remove_file(stray);
        }
        found.retain(|p| !p.to_string_lossy().ends_with(".pg2rs-restore"));
        found.push(libdir.join("pg2redshift.so"));
        found.into_iter().filter(|p| p.is_file()).collect()
    };
    let dir = backup_dir();
    std::fs::create_dir_all(&dir).expect("backup dir");
    let saved = ours(&extdir);
    for (i, path) in saved.iter().enumerate() {
        std::fs::copy(path, dir.join(i.to_string())).expect("back up");
    }
    let paths: Vec<String> = saved.iter().map(|p| p.display().to_string()).collect();
    // Whole or not at all: the list is what a later run restores from.
    std::fs::write(dir.join("paths.new"), paths.join("\n")).expect("backup list");
    std::fs::rename(dir.join("paths.new"), dir.join("paths")).expect("backup list");
    let restore = Restore;
    let _ = Command::new("dpkg").args(["--purge", PACKAGE]).output();
    for path in ours(&extdir) {
        std::fs::remove_file(&path).expect("remove");
    }
    let mut db = fresh_source_database("e2e_package");
    let missing = db.batch_execute("CREATE EXTENSION pg2redshift").expect_err("no extension files left");
    assert_eq!(missing.code().map(|c| c.code()), Some("0A000"), "{}", describe(&missing));

    run(Command::new("dpkg").arg("--install").arg(&deb));
    assert_eq!(installed_version().as_deref(), Some(VERSION));
    let listed = run(Command::new("dpkg").args(["--listfiles", PACKAGE]));
    assert!(listed.contains(&libdir.join("pg2redshift.so").display().to_string()), "{listed}");

    // A fresh database, the extension from the package, an export.
    let mut db = fresh_source_database("e2e_package");
    db.batch_execute(
        "CREATE EXTENSION pg2redshift;
         CREATE SCHEMA pkg;
         CREATE TABLE pkg.t (id int PRIMARY KEY, v text, n numeric(12, 2));
         INSERT INTO pkg.t SELECT g, 'row ' || g, g / 7.0 FROM generate_series(1, 5000) g",
    )
    .unwrap_or_else(|e| panic!("CREATE EXTENSION from the package: {}", describe(&e)));
    let version: String = db.query_one("SELECT redshift_export_version()", &[]).expect("version").get(0);
    assert!(version.starts_with(&format!("pg2redshift {VERSION} ")), "{version}");
    let prefix = e2e::unique_prefix("package");
    let exported = e2e::export(&mut db, &format!("redshift_export('pkg.t', prefix => '{prefix}')"));
    assert_eq!(exported[0].rows, 5000);

    // The loader from the tarball, as a user unpacks it.
    let tarball = std::fs::read_dir(dist())
        .expect("dist/")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().is_some_and(|n| {
            let n = n.to_string_lossy();
            n.starts_with(&format!("redshift-load-{VERSION}-")) && n.ends_with(".tar.gz")
        }))
        .expect("the loader's tarball in dist/");
    let name = tarball.file_name().map(|n| n.to_string_lossy().trim_end_matches(".tar.gz").to_string()).expect("name");
    let unpacked = std::env::temp_dir().join(format!("pg2redshift-package-test-tarball-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&unpacked);
    std::fs::create_dir_all(&unpacked).expect("unpack dir");
    run(Command::new("tar").arg("-xzf").arg(&tarball).arg("-C").arg(&unpacked));
    let bin = unpacked.join(&name).join("redshift-load");
    for doc in ["README.md", "CHANGELOG.md", "LICENSE"] {
        assert!(unpacked.join(&name).join(doc).exists(), "the tarball lacks {doc}");
    }
    let shown = run(Command::new(&bin).arg("--version"));
    assert_eq!(shown.trim(), format!("redshift-load {VERSION} (reads bundle formats 1, 2)"));
    fresh_target("pkg");
    let out = loader_at(&bin).args(["load", &exported[0].bundle_url]).output().expect("run the tarball's loader");
    assert!(out.status.success(), "load: {}", output_text(&out));
    let loaded: i64 = redshift().query_one("SELECT count(*) FROM pkg.t", &[]).expect("count").get(0);
    assert_eq!(loaded, 5000);
    let url = e2e::source_database_url("e2e_package");
    let verified = loader_at(&bin).args(["verify", "--schema", "pkg", "--source", &url]).output().expect("verify");
    assert!(verified.status.success(), "verify: {}", output_text(&verified));
    drop(db);
    let _ = std::fs::remove_dir_all(&unpacked);

    // A database created at 0.1.0 (its released script put beside the package's files) is
    // updated by the package's upgrade script.
    let base = extdir.join("pg2redshift--0.1.0.sql");
    std::fs::copy(releases_dir().join("pg2redshift--0.1.0.sql"), &base)
        .expect("0.1.0's install script");
    let mut old = fresh_source_database("e2e_package_update");
    old.batch_execute("CREATE EXTENSION pg2redshift VERSION '0.1.0'; ALTER EXTENSION pg2redshift UPDATE")
        .unwrap_or_else(|e| panic!("update with the package's script: {}", describe(&e)));
    let updated: String = old.query_one("SELECT extversion FROM pg_extension WHERE extname = 'pg2redshift'", &[]).expect("version").get(0);
    assert_eq!(updated, VERSION);
    drop(old);
    std::fs::remove_file(&base).expect("remove 0.1.0's script");

    // Removing the package removes its files: nothing of it is left for CREATE EXTENSION.
    run(Command::new("dpkg").args(["--purge", PACKAGE]));
    assert_eq!(installed_version(), None);
    for line in listed.lines().filter(|l| l.contains("pg2redshift")) {
        let path = Path::new(line);
        assert!(!path.is_file(), "{} is left after dpkg --purge", path.display());
    }
    let mut db = fresh_source_database("e2e_package");
    let gone = db.batch_execute("CREATE EXTENSION pg2redshift").expect_err("the package was purged");
    assert_eq!(gone.code().map(|c| c.code()), Some("0A000"), "{}", describe(&gone));
    drop(restore);
}
