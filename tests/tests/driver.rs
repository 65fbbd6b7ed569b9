//! AWS's own Python driver, redshift_connector (from PyPI, installed by scripts/setup into a
//! virtualenv of its own), against the emulator: it connects (with the startup parameters and
//! version checks Redshift's drivers use), queries, runs a COPY from S3, and lists tables and
//! columns through its metadata calls.

use std::process::Command;

use e2e::{S3, redshift, redshift_iam_role, stack_setting, unique_prefix};

const SCRIPT: &str = r#"
import json, sys
import redshift_connector

host, port, user, password, database, schema, copy_from, role = sys.argv[1:9]
conn = redshift_connector.connect(host=host, port=int(port), user=user, password=password,
                                  database=database, ssl=True, sslmode="verify-full")
conn.autocommit = True
cur = conn.cursor()
out = {}
cur.execute("select version(), current_database()")
out["version"], out["database"] = cur.fetchone()
cur.execute(f"create schema {schema}")
cur.execute(f"create table {schema}.orders (id integer not null, item varchar(20), price decimal(10,2)) "
            "diststyle key distkey (id) sortkey (id)")
cur.execute(f"copy {schema}.orders from '{copy_from}' iam_role '{role}' csv")
cur.execute(f"select count(*), sum(price) from {schema}.orders where item = %s", ("pen",))
count, total = cur.fetchone()
out["count"], out["total"] = count, str(total)
# With a schema pattern the driver reads pg_catalog and refers to select-list aliases in WHERE;
# without one it reads svv_tables / svv_columns, with lateral aliases in the select list.
out["tables"] = [[str(c) for c in row[:4]] for row in cur.get_tables(schema_pattern=schema, table_name_pattern="ord%")]
out["all_tables"] = [[str(c) for c in row[:4]] for row in cur.get_tables(table_name_pattern="ord%") if row[1] == schema]
out["columns"] = [[row[3], row[5]] for row in cur.get_columns(schema_pattern=schema, tablename_pattern="orders")]
out["all_columns"] = [[row[3], row[5]] for row in cur.get_columns(tablename_pattern="orders") if row[1] == schema]
cur.execute(f"drop schema {schema} cascade")
print(json.dumps(out))
"#;

#[test]
fn redshift_connector_connects_copies_and_lists_metadata() {
    let venv = stack_setting("PG2RS_PYTHON_VENV");
    let url = e2e::url_parts(&stack_setting("PG2RS_REDSHIFT_URL")).config;
    let user = url.get_user().expect("user");
    let password = String::from_utf8_lossy(url.get_password().expect("password")).into_owned();
    let database = url.get_dbname().expect("database");
    let host = match &url.get_hosts()[0] {
        postgres::config::Host::Tcp(h) => h.clone(),
        other => panic!("{other:?}"),
    };
    let port = url.get_ports()[0].to_string();

    let prefix = unique_prefix("driver");
    let key = format!("{prefix}/orders.csv");
    S3::stack().put(&key, b"1,pen,1.50\n2,ink,3.25\n3,pen,2.00\n".to_vec());
    let copy_from = format!("s3://{}/{key}", e2e::s3_bucket());
    let schema = format!("drv_{}", std::process::id());

    let out = Command::new(format!("{venv}/bin/python"))
        .arg("-c")
        .arg(SCRIPT)
        .args([&host, &port, user, &password, database, &schema, &copy_from, &redshift_iam_role()])
        // The driver trusts its own Redshift CA bundle plus OpenSSL's default locations, which
        // SSL_CERT_FILE points at the stack's CA: verify-full against the emulator.
        .env("SSL_CERT_FILE", stack_setting("PG2RS_REDSHIFT_CA"))
        .output()
        .expect("python from the driver's virtualenv (scripts/setup creates it)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "redshift_connector failed:\n{stderr}");
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the script's JSON");

    // r_VERSION's shape, and the database the client connected to (not the backing one).
    let version = result["version"].as_str().expect("version");
    assert!(version.starts_with("PostgreSQL 8.0.2 on ") && version.contains(", Redshift 1.0."), "{version}");
    assert_eq!(result["database"], database);
    assert_eq!(result["count"], 2);
    assert_eq!(result["total"], "3.50");
    assert_eq!(result["tables"], serde_json::json!([[database, schema, "orders", "TABLE"]]));
    assert_eq!(result["all_tables"], result["tables"]);
    assert_eq!(
        result["columns"],
        serde_json::json!([["id", "int4"], ["item", "varchar"], ["price", "numeric"]]),
        "{result}"
    );
    assert_eq!(result["all_columns"], result["columns"]);

    // The schema is gone again (the script dropped it through the driver).
    let mut db = redshift();
    let left: i64 = db
        .query_one("SELECT count(*) FROM pg_namespace WHERE nspname = $1", &[&schema])
        .expect("count")
        .get(0);
    assert_eq!(left, 0);
}
