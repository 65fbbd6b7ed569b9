//! Runs one COPY: authorises it, lists its files, streams each through the decompressor, the
//! record splitter and Redshift's value rules into PostgreSQL's `COPY … FROM STDIN` on the
//! session's own connection (so the rows belong to the client's transaction), and reports the
//! way Redshift does: rejected rows in stl_load_errors (written on a separate connection, so they
//! survive the rollback), "Load into table 'x' failed.  Check 'stl_load_errors' system table for
//! details." to the client, and the transaction aborted.
//! https://docs.aws.amazon.com/redshift/latest/dg/r_COPY.html
//! https://docs.aws.amazon.com/redshift/latest/dg/r_STL_LOAD_ERRORS.html

use tokio::io::AsyncReadExt;

use super::convert::{Column, Rules, convert, push_copy_text};
use super::datetime::Format;
use super::records::{Record, RecordParser};
use super::source::{self, S3Access, SourceFile};
use crate::Shared;
use crate::backend::Backend;
use crate::sql::copy_command::{Auth, CopyCommand};
use crate::sql::create_table::{RsType, VARBYTE_DEFAULT};
use crate::sql::{quote_ident, quote_literal};
use crate::wire::{Message, cstr, error_response, notice};

pub struct Session<'a> {
    pub user: &'a str,
    pub user_oid: i32,
    pub pid: i32,
}

pub enum Outcome {
    Loaded { rows: i64, query: i64, notices: Vec<Message> },
    /// `query` is set when the load began (PG_LAST_COPY_ID is updated then).
    Failed { error: Message, query: Option<i64> },
}

#[derive(Debug, Clone)]
struct LoadError {
    filename: String,
    line: i64,
    colname: String,
    type_name: String,
    col_length: String,
    position: i32,
    raw_line: String,
    raw_field_value: String,
    code: i32,
    reason: String,
}

enum Abort {
    TooManyErrors,
    Source(String),
}

fn fail(code: &str, message: impl AsRef<str>) -> Outcome {
    Outcome::Failed { error: error_response("ERROR", code, message.as_ref(), None), query: None }
}

/// https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-authorization.html — an IAM
/// role must be one the emulator is configured to accept (it then reads with its own S3 keys);
/// access keys are handed to the S3 server, which checks them.
fn authorize(shared: &Shared, cmd: &CopyCommand, user: &str) -> Result<S3Access, String> {
    let s3 = &shared.config.s3;
    if let Some(r) = &cmd.region
        && r != &s3.region
    {
        return Err(
            "S3ServiceException:The S3 bucket addressed by the query is in a different region from this cluster.,Status 301,Error PermanentRedirect"
                .into(),
        );
    }
    let configured = || S3Access {
        endpoint: s3.endpoint.clone(),
        region: s3.region.clone(),
        access_key_id: s3.access_key_id.clone(),
        secret_access_key: s3.secret_access_key.clone(),
        session_token: None,
    };
    match &cmd.auth {
        Auth::IamRole(Some(arn)) if shared.config.iam_roles.iter().any(|r| r == arn) => Ok(configured()),
        Auth::IamRole(Some(arn)) => Err(format!(
            "User arn:aws:redshift:{}:000000000000:dbuser:emulator/{user} is not authorized to assume IAM Role {arn}",
            s3.region
        )),
        Auth::IamRole(None) if shared.config.default_iam_role.is_some() => Ok(configured()),
        Auth::IamRole(None) => Err("IAM_ROLE default: no default IAM role is associated with this cluster".into()),
        Auth::Keys { access_key_id, secret_access_key, session_token } => Ok(S3Access {
            endpoint: s3.endpoint.clone(),
            region: s3.region.clone(),
            access_key_id: access_key_id.clone(),
            secret_access_key: secret_access_key.clone(),
            session_token: session_token.clone(),
        }),
    }
}

/// The table's columns with their Redshift types, read in the client's transaction (a table
/// created earlier in the same transaction is visible).
fn columns_sql(table: &str) -> String {
    format!(
        "SELECT a.attrelid::oid::int8, a.attname, t.typname, tn.nspname, a.atttypmod, a.attnotnull, ca.varbyte_length \
         FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid JOIN pg_namespace tn ON tn.oid = t.typnamespace \
         LEFT JOIN rs_emulator.column_attrs ca ON ca.relid = a.attrelid AND ca.attnum = a.attnum \
         WHERE a.attrelid = {}::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        quote_literal(table)
    )
}

fn column_type(typname: &str, schema: &str, typmod: i32, varbyte: Option<i32>) -> Option<RsType> {
    Some(match (schema, typname) {
        ("pg_catalog", "int2") => RsType::SmallInt,
        ("pg_catalog", "int4") => RsType::Integer,
        ("pg_catalog", "int8") => RsType::BigInt,
        ("pg_catalog", "numeric") if typmod >= 4 => {
            let m = typmod - 4;
            RsType::Decimal(((m >> 16) & 0xffff) as u8, (m & 0xffff) as u8)
        }
        ("pg_catalog", "float4") => RsType::Real,
        ("pg_catalog", "float8") => RsType::Double,
        ("pg_catalog", "bool") => RsType::Boolean,
        ("pg_catalog", "bpchar") if typmod >= 4 => RsType::Char((typmod - 4) as u32),
        ("pg_catalog", "varchar") if typmod >= 4 => RsType::Varchar((typmod - 4) as u32),
        ("pg_catalog", "date") => RsType::Date,
        ("pg_catalog", "timestamp") => RsType::Timestamp,
        ("pg_catalog", "timestamptz") => RsType::Timestamptz,
        ("pg_catalog", "time") => RsType::Time,
        ("pg_catalog", "timetz") => RsType::Timetz,
        ("rs_emulator", "super") => RsType::Super,
        ("rs_emulator", "varbyte") => RsType::Varbyte(varbyte.map(|v| v as u32).unwrap_or(VARBYTE_DEFAULT)),
        _ => return None,
    })
}

/// "Multibyte characters in the load data are replaced with a period" in raw_line; NUL too
/// (the backing text columns cannot hold it).
fn printable_line(raw: &[u8]) -> String {
    let s: String = String::from_utf8_lossy(raw).chars().map(|c| if c.is_ascii() && c != '\0' { c } else { '.' }).collect();
    s.chars().take(1024).collect()
}

fn printable_field(raw: &[u8]) -> String {
    let s: String = String::from_utf8_lossy(raw).chars().map(|c| if c == '\0' { '.' } else { c }).collect();
    s.chars().take(1024).collect()
}

pub async fn run(be: &mut Backend, shared: &Shared, cmd: &CopyCommand, who: &Session<'_>) -> std::io::Result<Outcome> {
    let access = match authorize(shared, cmd, who.user) {
        Ok(a) => a,
        Err(m) => return Ok(fail("XX000", m)),
    };
    let res = be.query(&columns_sql(&cmd.table.sql()), None).await?;
    if let Some(e) = res.error {
        return Ok(Outcome::Failed { error: e, query: None });
    }
    let mut table_oid = 0i64;
    let mut all: Vec<Column> = Vec::new();
    for row in &res.rows {
        let get = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
        table_oid = get(0).parse().unwrap_or(0);
        let typmod: i32 = get(4).parse().unwrap_or(-1);
        let varbyte = row.get(6).cloned().flatten().and_then(|v| v.parse().ok());
        let Some(ty) = column_type(&get(2), &get(3), typmod, varbyte) else {
            return Ok(fail("0A000", format!("column \"{}\" has a type COPY cannot load: {}", get(1), get(2))));
        };
        all.push(Column { name: get(1), ty, not_null: get(5) == "t" });
    }
    let targets: Vec<Column> = match &cmd.columns {
        None => all.clone(),
        Some(names) => {
            let mut out = Vec::new();
            for n in names {
                match all.iter().find(|c| &c.name == n) {
                    Some(c) => out.push(c.clone()),
                    None => {
                        return Ok(fail(
                            "42703",
                            format!("column \"{n}\" of relation \"{}\" does not exist", cmd.table.name),
                        ));
                    }
                }
            }
            out
        }
    };
    // A column left out of the list must take its default; one that is NOT NULL without a
    // default fails every row, as in Redshift (1213).
    let rules = Rules {
        null_as: cmd.null_as.clone(),
        empty_as_null: cmd.empty_as_null,
        blanks_as_null: cmd.blanks_as_null,
        truncate_columns: cmd.truncate_columns,
        accept_inv_chars: cmd.accept_inv_chars,
        dateformat: match Format::parse(cmd.dateformat.as_deref()) {
            Ok(f) => f,
            Err(e) => return Ok(fail("22023", e)),
        },
        timeformat: match Format::parse(cmd.timeformat.as_deref()) {
            Ok(f) => f,
            Err(e) => return Ok(fail("22023", e)),
        },
    };
    let client = source::client(&access);
    let files = match source::list(&client, &cmd.source, cmd.manifest).await {
        Ok(f) => f,
        Err(e) => return Ok(fail("XX000", e.0)),
    };

    let query = shared.next_query.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let own_txn = be.status == b'I';
    if own_txn {
        be.query("BEGIN", None).await?;
    }
    let cols: Vec<String> = targets.iter().map(|c| quote_ident(&c.name)).collect();
    let copy_sql = format!("COPY {} ({}) FROM STDIN", cmd.table.sql(), cols.join(", "));
    let mut body = Vec::new();
    cstr(&mut body, &copy_sql);
    be.send(&Message::new(b'Q', body)).await?;
    let mut start_error = None;
    loop {
        let m = be.next().await?;
        match m.tag {
            b'G' => break,
            b'E' => start_error = Some(m),
            b'Z' => {
                be.status = m.body.first().copied().unwrap_or(b'E');
                if own_txn {
                    be.query("ROLLBACK", None).await?;
                }
                let error = start_error.unwrap_or_else(|| error_response("ERROR", "XX000", "COPY did not start", None));
                return Ok(Outcome::Failed { error, query: Some(query) });
            }
            _ => {}
        }
    }

    let mut errors: Vec<LoadError> = Vec::new();
    let limit = cmd.max_error.max(1) as usize;
    let mut commits: Vec<(String, i64)> = Vec::new();
    let mut out = Vec::with_capacity(512 * 1024);
    let mut records = Vec::new();
    let mut chunk = vec![0u8; 256 * 1024];
    let mut abort = None;
    'files: for file in &files {
        let mut reader = match source::open(&client, file, cmd.compression).await {
            Ok(r) => r,
            Err(e) => {
                abort = Some(Abort::Source(e.0));
                break;
            }
        };
        let mut parser = RecordParser::new(cmd.delimiter, cmd.csv_quote, cmd.escape);
        let mut seen = 0u64;
        loop {
            let n = match reader.read(&mut chunk).await {
                Ok(n) => n,
                Err(e) => {
                    abort = Some(Abort::Source(format!("Error reading '{}': {e}", file.url)));
                    break 'files;
                }
            };
            if n == 0 {
                parser.finish(&mut records);
            } else {
                parser.feed(&chunk[..n], &mut records);
            }
            for rec in records.drain(..) {
                seen += 1;
                if seen <= cmd.ignore_header {
                    continue;
                }
                if let Some(e) = load_row(&rec, &targets, &rules, file, &mut out) {
                    errors.push(e);
                    if errors.len() >= limit {
                        abort = Some(Abort::TooManyErrors);
                        break 'files;
                    }
                }
            }
            if out.len() >= 256 * 1024 {
                be.w.send(&Message::new(b'd', std::mem::take(&mut out))).await?;
            }
            if n == 0 {
                break;
            }
        }
        commits.push((file.url.clone(), seen as i64));
    }
    if abort.is_none() && !out.is_empty() {
        be.w.send(&Message::new(b'd', std::mem::take(&mut out))).await?;
    }

    let table_name = &cmd.table.name;
    if let Some(why) = abort {
        let mut b = Vec::new();
        cstr(&mut b, "load aborted");
        be.send(&Message::new(b'f', b)).await?;
        drain_until_ready(be).await?;
        if own_txn {
            be.query("ROLLBACK", None).await?;
        }
        record_errors(shared, who, table_oid, query, &errors).await;
        let error = match why {
            Abort::TooManyErrors => load_failed(table_name, &errors),
            Abort::Source(m) => error_response("ERROR", "XX000", &m, None),
        };
        return Ok(Outcome::Failed { error, query: Some(query) });
    }
    be.send(&Message::new(b'c', Vec::new())).await?;
    let (rows, backend_error) = drain_until_ready(be).await?;
    if let Some(e) = backend_error {
        if own_txn {
            be.query("ROLLBACK", None).await?;
        }
        return Ok(Outcome::Failed { error: e, query: Some(query) });
    }
    let mut inserts = String::new();
    for (url, lines) in &commits {
        inserts.push_str(&format!(
            "INSERT INTO rs_emulator.load_commits VALUES ({}, {query}, 0, {}, {}, 0, {lines}, 0, now() AT TIME ZONE 'UTC', 0, 'Text');",
            who.user_oid,
            quote_literal(&cmd.table.to_string()),
            quote_literal(url)
        ));
    }
    let res = be.query(&inserts, None).await?;
    if let Some(e) = res.error {
        if own_txn {
            be.query("ROLLBACK", None).await?;
        }
        return Ok(Outcome::Failed { error: e, query: Some(query) });
    }
    if own_txn {
        let res = be.query("COMMIT", None).await?;
        if let Some(e) = res.error {
            return Ok(Outcome::Failed { error: e, query: Some(query) });
        }
    }
    record_errors(shared, who, table_oid, query, &errors).await;
    let mut notices = vec![notice(
        "INFO",
        &format!("Load into table '{table_name}' completed, {rows} record(s) loaded successfully."),
    )];
    if !errors.is_empty() {
        notices.push(notice(
            "INFO",
            &format!(
                "Load into table '{table_name}' completed, {} record(s) could not be loaded.  Check 'stl_load_errors' system table for details.",
                errors.len()
            ),
        ));
    }
    Ok(Outcome::Loaded { rows, query, notices })
}

fn load_failed(table: &str, errors: &[LoadError]) -> Message {
    let detail = errors.first().map(|e| {
        format!(
            "error: {} (code {}); file: {}; line: {}; column: {}; raw value: '{}'",
            e.reason, e.code, e.filename, e.line, e.colname, e.raw_field_value
        )
    });
    error_response(
        "ERROR",
        "XX000",
        &format!("Load into table '{table}' failed.  Check 'stl_load_errors' system table for details."),
        detail.as_deref(),
    )
}

/// Converts one record into a COPY text row in `out`; the load error otherwise.
fn load_row(rec: &Record, targets: &[Column], rules: &Rules, file: &SourceFile, out: &mut Vec<u8>) -> Option<LoadError> {
    let base = |code: i32, reason: String| LoadError {
        filename: file.url.clone(),
        line: rec.line as i64,
        colname: String::new(),
        type_name: String::new(),
        col_length: String::new(),
        position: 0,
        raw_line: printable_line(&rec.raw),
        raw_field_value: String::new(),
        code,
        reason,
    };
    if let Some((code, reason)) = &rec.error {
        return Some(base(*code, reason.clone()));
    }
    // 1202 "Input data had more columns than were defined in the DDL"; 1214 "Delimiter not found".
    if rec.fields.len() > targets.len() {
        return Some(base(1202, "Extra column(s) found".into()));
    }
    if rec.fields.len() < targets.len() {
        return Some(base(1214, "Delimiter not found".into()));
    }
    let start = out.len();
    for (i, (col, field)) in targets.iter().zip(&rec.fields).enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        match convert(col, field, rules) {
            Ok(v) => push_copy_text(out, v.as_deref()),
            Err(r) => {
                out.truncate(start);
                let (t, len) = col.type_name();
                let mut e = base(r.code, r.reason);
                e.colname = col.name.clone();
                e.type_name = t.to_string();
                e.col_length = len;
                e.position = r.position;
                e.raw_field_value = printable_field(&field.raw);
                return Some(e);
            }
        }
    }
    out.push(b'\n');
    None
}

/// Reads to ReadyForQuery after CopyDone / CopyFail: the row count, or the backend's error.
async fn drain_until_ready(be: &mut Backend) -> std::io::Result<(i64, Option<Message>)> {
    let mut rows = 0;
    let mut error = None;
    loop {
        let m = be.next().await?;
        match m.tag {
            b'C' => {
                let mut at = 0;
                let tag = crate::wire::read_cstr(&m.body, &mut at).unwrap_or_default();
                rows = tag.rsplit(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0);
            }
            b'E' => error = error.or(Some(m)),
            b'Z' => {
                be.status = m.body.first().copied().unwrap_or(b'I');
                return Ok((rows, error));
            }
            _ => {}
        }
    }
}

/// On the emulator's own connection: the rows outlive the client's transaction.
async fn record_errors(shared: &Shared, who: &Session<'_>, table_oid: i64, query: i64, errors: &[LoadError]) {
    for e in errors {
        let r = shared
            .admin
            .execute(
                "INSERT INTO rs_emulator.load_errors (userid, slice, tbl, starttime, session, query, filename, line_number, \
                 colname, type, col_length, position, raw_line, raw_field_value, err_code, err_reason, transaction_id, database_name) \
                 VALUES ($1, 0, $2, now() AT TIME ZONE 'UTC', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 0, $15)",
                &[
                    &who.user_oid,
                    &(table_oid as i32),
                    &who.pid,
                    &(query as i32),
                    &e.filename,
                    &e.line,
                    &e.colname,
                    &e.type_name,
                    &e.col_length,
                    &e.position,
                    &e.raw_line,
                    &e.raw_field_value,
                    &e.code,
                    &e.reason,
                    &shared.config.database,
                ],
            )
            .await;
        if let Err(err) = r {
            tracing::error!("could not record a load error in stl_load_errors: {err}");
        }
    }
}
