//! Versions and upgrades: a database created at an earlier release (from its install script as
//! released, kept in extension/releases/) and brought forward with `ALTER EXTENSION pg2redshift
//! UPDATE` keeps its history, destinations, grants and change streams, goes on exporting (pg_cron
//! jobs too, before and after the update), and ends with the same catalog as a fresh install of
//! this version. A schema change shipped without its upgrade script fails here.

use std::path::PathBuf;
use std::time::Duration;

use e2e::{S3, count, describe, export, fresh_source_database, releases_dir, server_dir, source_admin, unique_prefix};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The versions whose install script was released: `extension/releases/pg2redshift--V.sql`.
fn released_versions() -> Vec<String> {
    let mut versions: Vec<String> = std::fs::read_dir(releases_dir())
        .expect("extension/releases")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let version = name.strip_prefix("pg2redshift--")?.strip_suffix(".sql")?;
            (!version.contains("--")).then(|| version.to_string())
        })
        .collect();
    versions.sort();
    versions
}

/// The server's extension directory.
fn extension_dir(admin: &mut postgres::Client) -> PathBuf {
    server_dir(admin, "SHAREDIR").join("extension")
}

/// Puts a released install script where CREATE EXTENSION ... VERSION finds it (the build
/// installs only its own version's; renamed into place, so a concurrent reader sees it whole).
fn install_release_script(admin: &mut postgres::Client, version: &str) {
    let dir = extension_dir(admin);
    let name = format!("pg2redshift--{version}.sql");
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    std::fs::copy(releases_dir().join(&name), &tmp).unwrap_or_else(|e| panic!("copy {name} to {}: {e}", dir.display()));
    std::fs::rename(&tmp, dir.join(&name)).expect("rename");
}

/// The extension's objects as text, one line each, for comparing two databases: the members,
/// every member function's signature, result, body or symbol, attributes, settings, ACL and
/// initial privileges; every member table's and view's columns, constraints, indexes, triggers,
/// definition, options and ACL; the tables pg_dump treats as configuration; the settings.
fn catalog(db: &mut postgres::Client) -> Vec<String> {
    // Loads the library, so its settings exist in this session.
    db.batch_execute("SELECT redshift_export_version()").expect("version");
    let queries = [
        (
            "extension",
            "SELECT concat_ws(' ', extversion, extrelocatable, extnamespace::regnamespace::text, extowner::regrole::text)
             FROM pg_extension WHERE extname = 'pg2redshift'",
        ),
        ("config tables", "SELECT c::regclass::text || ' ' || coalesce(cond, '') FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS x(c, cond) WHERE extname = 'pg2redshift'"),
        ("member", "SELECT pg_describe_object(classid, objid, objsubid) FROM members"),
        (
            "function",
            "SELECT concat_ws(' | ', p.oid::regprocedure::text, pg_get_function_arguments(p.oid), pg_get_function_result(p.oid),
                    l.lanname, p.prosrc, p.probin, p.provolatile, p.proparallel, p.prosecdef, p.proisstrict, p.proleakproof,
                    p.prokind, p.procost, p.prorows, p.proconfig::text, p.proacl::text, p.proowner::regrole::text)
             FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
             WHERE p.oid IN (SELECT objid FROM members WHERE classid = 'pg_proc'::regclass)",
        ),
        (
            "relation",
            "SELECT concat_ws(' | ', c.oid::regclass::text, c.relkind, c.relpersistence, c.relrowsecurity, c.relforcerowsecurity, c.reloptions::text,
                    c.relacl::text, c.relowner::regrole::text, CASE WHEN c.relkind = 'v' THEN pg_get_viewdef(c.oid) END)
             FROM pg_class c WHERE c.oid IN (SELECT objid FROM members WHERE classid = 'pg_class'::regclass)",
        ),
        (
            "column",
            "SELECT concat_ws(' | ', a.attrelid::regclass::text, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),
                    a.attnotnull, a.attidentity, a.attgenerated, pg_get_expr(d.adbin, d.adrelid), a.attacl::text)
             FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
             WHERE a.attnum > 0 AND NOT a.attisdropped
               AND a.attrelid IN (SELECT objid FROM members WHERE classid = 'pg_class'::regclass)",
        ),
        (
            "constraint",
            "SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
             WHERE conrelid IN (SELECT objid FROM members WHERE classid = 'pg_class'::regclass)",
        ),
        (
            "index",
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index
             WHERE indrelid IN (SELECT objid FROM members WHERE classid = 'pg_class'::regclass)",
        ),
        (
            "trigger",
            "SELECT pg_get_triggerdef(oid) FROM pg_trigger
             WHERE NOT tgisinternal AND tgrelid IN (SELECT objid FROM members WHERE classid = 'pg_class'::regclass)",
        ),
        (
            "initial privileges",
            "SELECT pg_describe_object(classoid, objoid, objsubid) || ' ' || privtype::text || ' ' || initprivs::text FROM pg_init_privs
             WHERE (classoid, objoid) IN (SELECT classid, objid FROM members)",
        ),
        (
            "comment",
            "SELECT pg_describe_object(classoid, objoid, objsubid) || ' ' || description FROM pg_description
             WHERE (classoid, objoid) IN (SELECT classid, objid FROM members)",
        ),
        (
            "policy",
            "SELECT concat_ws(' ', polrelid::regclass::text, polname, polcmd::text, polpermissive, polroles::regrole[]::text,
                    pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid))
             FROM pg_policy WHERE polrelid IN (SELECT objid FROM members WHERE classid = 'pg_class'::regclass)",
        ),
        (
            "role dependency",
            "SELECT pg_describe_object(classid, objid, objsubid) || ' ' || refobjid::regrole::text || ' ' || deptype::text
             FROM pg_shdepend WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND (classid, objid) IN (SELECT classid, objid FROM members)",
        ),
        ("setting", "SELECT concat_ws(' | ', name, setting, vartype, context, boot_val, short_desc) FROM pg_settings WHERE name LIKE 'pg2redshift.%'"),
    ];
    let mut lines = Vec::new();
    for (what, query) in queries {
        let sql = format!(
            "WITH members AS (SELECT classid, objid, objsubid FROM pg_depend
                              WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
                                AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg2redshift'))
             SELECT * FROM ({query}) q ORDER BY 1"
        );
        let rows = db.query(&sql, &[]).unwrap_or_else(|e| panic!("{what}: {}", describe(&e)));
        assert!(!rows.is_empty() || ["config tables", "trigger", "policy"].contains(&what), "no {what} found");
        lines.extend(rows.iter().map(|r| format!("{what}: {}", r.get::<_, Option<String>>(0).unwrap_or_default())));
    }
    lines
}

fn assert_same_catalog(updated: &[String], fresh: &[String], from: &str) {
    let only_updated: Vec<&String> = updated.iter().filter(|l| !fresh.contains(l)).collect();
    let only_fresh: Vec<&String> = fresh.iter().filter(|l| !updated.contains(l)).collect();
    assert!(
        only_updated.is_empty() && only_fresh.is_empty() && updated.len() == fresh.len(),
        "the catalog updated from {from} differs from a fresh install of {VERSION}: \
         write or fix extension/sql/pg2redshift--{from}--{VERSION}.sql\n\
         only after the update:\n  {}\nonly in the fresh install:\n  {}",
        only_updated.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  "),
        only_fresh.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  "),
    );
}

/// What a working database holds before its update: a destination granted to a role, a direct
/// grant a DBA made on an export function, an export recorded in the history, a change stream
/// with its base exported.
fn populate(db: &mut postgres::Client, prefix: &str, stream: &str) {
    db.batch_execute(&format!(
        "DO $$ BEGIN CREATE ROLE e2e_upgrade_analyst NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
         DO $$ BEGIN CREATE ROLE e2e_upgrade_reader NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
         DO $$ BEGIN CREATE ROLE e2e_upgrade_admin SUPERUSER NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
         SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots
          WHERE slot_name = 'pg2redshift_{stream}' AND NOT active;
         SELECT redshift_destination_create('main', bucket => '{bucket}', target_schemas => ARRAY['public'], prefix => '{prefix}',
                endpoint => '{endpoint}', force_path_style => true);
         SELECT redshift_destination_grant('main', 'e2e_upgrade_analyst');
         CREATE TABLE t (id int PRIMARY KEY, v text);
         INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 1000) g;",
        bucket = e2e::s3_bucket(),
        endpoint = e2e::stack_setting("PG2RS_S3_ENDPOINT"),
    ))
    .unwrap_or_else(|e| panic!("populate: {}", describe(&e)));
}

/// What a DBA may have done to an export function (the one with `signature`): a grant with
/// grant option, a grant made by its grantee, SET clauses (a list value, a dotted name), a
/// comment. The update must carry all of it over.
fn customise(db: &mut postgres::Client, signature: &str) {
    let f = format!("redshift_export_schema({signature})");
    db.batch_execute(&format!(
        "GRANT EXECUTE ON FUNCTION {f} TO e2e_upgrade_analyst WITH GRANT OPTION;
         SET ROLE e2e_upgrade_analyst; GRANT EXECUTE ON FUNCTION {f} TO e2e_upgrade_reader; RESET ROLE;
         ALTER FUNCTION {f} SET search_path = \"$user\", public SET pg2redshift.gzip_threads = 2;
         COMMENT ON FUNCTION {f} IS 'nightly, see the runbook';"
    ))
    .unwrap_or_else(|e| panic!("customise {f}: {}", describe(&e)));
}

const SCHEMA_0_1_0: &str = "text, text, text, text, text, text, text, boolean, bigint, integer, text, text, text, integer, text";

/// The codec of an exported bundle, as its bundle.json says.
fn compression(s3: &S3, bundle_url: &str) -> String {
    s3.bundle(bundle_url).encoding.compression
}

/// Waits until pg_cron has run job `job` successfully once more after run `after`; no run may
/// fail. Returns the last successful run.
fn next_cron_run(cron: &mut postgres::Client, job: i64, after: i64) -> i64 {
    e2e::wait_for("a scheduled export", Duration::from_secs(150), || {
        let row = cron
            .query_one(
                "SELECT count(*) FILTER (WHERE status = 'failed'), max(runid) FILTER (WHERE status = 'succeeded')
                 FROM cron.job_run_details WHERE jobid = $1 AND runid > $2",
                &[&job, &after],
            )
            .expect("job_run_details");
        let failed: i64 = row.get(0);
        assert_eq!(failed, 0, "a scheduled export failed (see cron.job_run_details)");
        row.get::<_, Option<i64>>(1)
    })
}

#[test]
fn an_updated_database_keeps_its_state_and_matches_a_fresh_install() {
    let mut admin = source_admin();
    let older: Vec<String> = released_versions().into_iter().filter(|v| v != VERSION).collect();
    assert!(older.contains(&"0.1.0".to_string()), "the 0.1.0 base script is in extension/releases");
    for from in older {
        install_release_script(&mut admin, &from);
        let tag = from.replace('.', "_");
        let db_name = format!("e2e_upgrade_from_{tag}");
        let stream = format!("upgrade_{tag}");
        let prefix = unique_prefix(&db_name);
        let mut db = fresh_source_database(&db_name);
        db.batch_execute(&format!("CREATE EXTENSION pg2redshift VERSION '{from}'"))
            .unwrap_or_else(|e| panic!("CREATE EXTENSION at {from}: {}", describe(&e)));
        populate(&mut db, &prefix, &stream);
        // Only 0.1.0's signature is known here; a later base would need its own.
        let customised = from == "0.1.0";
        if customised {
            customise(&mut db, SCHEMA_0_1_0);
        }
        let s3 = S3::stack();

        // The old SQL runs on this build's library: it exports as it did (gzip by default).
        let before = export(&mut db, "redshift_export('t', destination => 'main')");
        assert_eq!(before[0].rows, 1000);
        assert_eq!(compression(&s3, &before[0].bundle_url), "gzip", "an export through {from}'s SQL");
        db.batch_execute(&format!("SELECT * FROM redshift_cdc_start('{stream}', ARRAY['t']::regclass[], destination => 'main')"))
            .unwrap_or_else(|e| panic!("start a stream: {}", describe(&e)));
        let base: Vec<String> = db
            .query(&format!("SELECT bundle_url FROM redshift_cdc_export('{stream}')"), &[])
            .unwrap_or_else(|e| panic!("the stream's base: {}", describe(&e)))
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(base.len(), 1, "the stream's base");
        assert_eq!(compression(&s3, &base[0]), "gzip", "a stream's export before the update");
        db.batch_execute("UPDATE t SET v = 'changed before the update' WHERE id = 1").expect("change");

        // A pg_cron job scheduled before the update runs before and after it.
        let mut cron = source_admin();
        let job_name = format!("e2e-upgrade-{tag}");
        cron.execute("CREATE EXTENSION IF NOT EXISTS pg_cron", &[]).expect("pg_cron");
        cron.execute("SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = $1", &[&job_name]).expect("unschedule");
        let job: i64 = cron
            .query_one(
                "SELECT cron.schedule_in_database($1, '* * * * *', $2, $3)",
                &[&job_name, &"SELECT count(*) FROM redshift_export('t', destination => 'main')", &db_name],
            )
            .unwrap_or_else(|e| panic!("schedule: {}", describe(&e)))
            .get(0);
        let last_run = next_cron_run(&mut cron, job, 0);
        let history_before = count(&mut db, "SELECT count(*) FROM redshift_export_history");

        // Run by another superuser than the one who created the extension: ownership stays.
        db.batch_execute("SET ROLE e2e_upgrade_admin; ALTER EXTENSION pg2redshift UPDATE; RESET ROLE")
            .unwrap_or_else(|e| panic!("ALTER EXTENSION pg2redshift UPDATE from {from}: {}", describe(&e)));
        assert_eq!(count(&mut db, &format!("SELECT count(*) FROM pg_extension WHERE extversion = '{VERSION}'")), 1);

        next_cron_run(&mut cron, job, last_run);
        cron.execute("SELECT cron.unschedule(CAST($1 AS bigint))", &[&job]).expect("unschedule");
        // Nothing recorded before the update was lost; the runs since were recorded.
        assert!(count(&mut db, "SELECT count(*) FROM redshift_export_history") > history_before);
        assert_eq!(
            count(&mut db, "SELECT count(*) FROM redshift_destinations WHERE name = 'main'"),
            1,
            "the destination"
        );
        // The stream goes on from where it was: the change made before the update, once.
        let changes = db
            .query(&format!("SELECT kind, rows, bundle_url FROM redshift_cdc_export('{stream}')"), &[])
            .unwrap_or_else(|e| panic!("stream after the update: {}", describe(&e)));
        assert_eq!(changes.len(), 1);
        assert_eq!((changes[0].get::<_, String>(0), changes[0].get::<_, i64>(1)), ("changes".into(), 1));
        assert_eq!(compression(&s3, &changes[0].get::<_, String>(2)), "zstd", "a stream's export after the update");
        // The new parameters, and the new default codec, for calls through the updated SQL.
        let after = export(&mut db, "redshift_export('t', destination => 'main', compression => 'gzip', gzip_level => 1)");
        assert_eq!(compression(&s3, &after[0].bundle_url), "gzip");
        let after = export(&mut db, "redshift_export('t', destination => 'main')");
        assert_eq!(compression(&s3, &after[0].bundle_url), "zstd");
        if customised {
            // The DBA's grants followed the function.
            let granted = count(
                &mut db,
                "SELECT count(*) FROM pg_proc WHERE proname = 'redshift_export_schema'
                  AND has_function_privilege('e2e_upgrade_reader', oid, 'EXECUTE')",
            );
            assert_eq!(granted, 1, "the grant on redshift_export_schema survives the update");
        }
        db.batch_execute(&format!("SELECT redshift_cdc_stop('{stream}')")).expect("stop");
        let updated = catalog(&mut db);

        // A fresh install of this version, with the same things done by the DBA.
        let mut fresh = fresh_source_database(&format!("e2e_upgrade_fresh_{tag}"));
        fresh.batch_execute("CREATE EXTENSION pg2redshift").unwrap_or_else(|e| panic!("fresh install: {}", describe(&e)));
        if customised {
            customise(&mut fresh, &format!("{SCHEMA_0_1_0}, text, integer"));
        }
        assert_same_catalog(&updated, &catalog(&mut fresh), &from);
    }
}

/// PostgreSQL finds an update path from every released version to this one.
#[test]
fn every_release_has_an_update_path_to_this_version() {
    let mut db = e2e::export_database("e2e_upgrade_paths");
    let version: String = db
        .query_one("SELECT extversion FROM pg_extension WHERE extname = 'pg2redshift'", &[])
        .expect("extversion")
        .get(0);
    assert_eq!(version, VERSION, "the installed extension is this build's version");
    for from in released_versions().into_iter().filter(|v| v != VERSION) {
        let path: Option<String> = db
            .query_one(
                "SELECT path FROM pg_extension_update_paths('pg2redshift') WHERE source = $1 AND target = $2",
                &[&from, &VERSION],
            )
            .unwrap_or_else(|e| panic!("update paths: {}", describe(&e)))
            .get(0);
        assert!(path.is_some(), "no update path from {from} to {VERSION}: add extension/sql/pg2redshift--{from}--{VERSION}.sql");
    }
}

/// The install script of a released version never changes: once this version's script is in
/// extension/releases/, the build's must say the same (comments and pgrx's Rust type notes
/// aside). A schema change then needs a new version and its upgrade script.
#[test]
fn a_released_version_keeps_its_install_script() {
    let released = releases_dir().join(format!("pg2redshift--{VERSION}.sql"));
    let Ok(released) = std::fs::read_to_string(&released) else {
        // Not released yet: the comparison with the updated catalog is the guard.
        return;
    };
    let mut admin = source_admin();
    let installed = extension_dir(&mut admin).join(format!("pg2redshift--{VERSION}.sql"));
    let installed = std::fs::read_to_string(&installed).unwrap_or_else(|e| panic!("{}: {e}", installed.display()));
    let (released, installed) = (schema_text(&released), schema_text(&installed));
    if released != installed {
        let first = released.iter().zip(&installed).position(|(a, b)| a != b).unwrap_or(released.len().min(installed.len()));
        panic!(
            "the install script of released version {VERSION} changed (first difference at statement line {first}: \
             released {:?}, built {:?}): give the change a new version and an upgrade script",
            released.get(first),
            installed.get(first)
        );
    }
}

/// SQL without comments or blank lines, each line trimmed.
fn schema_text(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = sql.to_string();
    // pgrx notes each parameter's Rust type in a block comment; the types are what count.
    while let Some(start) = rest.find("/*") {
        let Some(len) = rest[start..].find("*/") else { break };
        rest.replace_range(start..start + len + 2, "");
    }
    for line in rest.lines() {
        let line = line.trim();
        if !line.is_empty() && !line.starts_with("--") {
            out.push(line.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
    out
}
