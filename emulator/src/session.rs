//! One client connection: Redshift's password exchange, then a proxy to a backing PostgreSQL
//! connection opened as the same user. Statements pass through rewritten (identifier folding,
//! Redshift functions), except those the emulator carries out itself (COPY from S3, CREATE TABLE
//! with Redshift attributes, late-binding views, TRUNCATE's commit, ALTER TABLE APPEND, …).
//! Both the simple and the extended query protocol are served.

use std::collections::HashMap;
use std::sync::Arc;

use md5::{Digest, Md5};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;

use crate::backend::{Backend, ClientWriter, QueryResult, connect, io_error};
use crate::copy::load::{self, Outcome};
use crate::sql::classify::{AppendMode, Statement, classify, regclass_literal, split};
use crate::sql::cursor::QualifiedName;
use crate::sql::rewrite::Context;
use crate::sql::{SqlError, quote_ident, quote_literal};
use crate::wire::{self, Message, MessageReader, MessageWriter, cstr, error_response, read_cstr};
use crate::{Shared, User};

const SSL_REQUEST: u32 = 80_877_103;
const GSS_REQUEST: u32 = 80_877_104;
const CANCEL_REQUEST: u32 = 80_877_102;
const PROTOCOL_3: u32 = 196_608;

pub async fn serve(stream: TcpStream, shared: Arc<Shared>) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let (r, w) = stream.into_split();
    let mut client_r = MessageReader::new(r);
    let mut client_w = MessageWriter::new(w);
    let startup = loop {
        let packet = client_r.startup().await?;
        let code = u32::from_be_bytes(packet[..4].try_into().map_err(|_| io_error("short startup packet"))?);
        match code {
            SSL_REQUEST | GSS_REQUEST => client_w.raw(b"N").await?,
            CANCEL_REQUEST => {
                // The client holds the backing server's key: hand the request on as it is.
                let mut s = TcpStream::connect(&shared.config.backing_addr).await?;
                let mut p = ((packet.len() + 4) as u32).to_be_bytes().to_vec();
                p.extend_from_slice(&packet);
                wire::write_all(&mut s, &p).await?;
                return Ok(());
            }
            PROTOCOL_3 => break packet,
            _ => {
                client_w.send(&error_response("FATAL", "0A000", "unsupported frontend protocol", None)).await?;
                return client_w.flush().await;
            }
        }
    };
    let mut params = Vec::new();
    let mut at = 4;
    while let Some(k) = read_cstr(&startup, &mut at) {
        if k.is_empty() {
            break;
        }
        let v = read_cstr(&startup, &mut at).unwrap_or_default();
        params.push((k, v));
    }
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let user_name = get("user").unwrap_or_default();
    let database = get("database").unwrap_or_else(|| user_name.clone());

    let fatal = |code: &str, msg: String| error_response("FATAL", code, &msg, None);
    let user = shared.config.users.iter().find(|u| u.name == user_name).cloned();
    // Redshift's default password exchange is MD5 (the PostgreSQL v3 scheme).
    let salt: [u8; 4] = {
        let mut s = [0u8; 4];
        getrandom::getrandom(&mut s).map_err(|e| io_error(e.to_string()))?;
        s
    };
    client_w.send(&wire::auth_request(5, &salt)).await?;
    client_w.flush().await?;
    let Some(reply) = client_r.next().await? else { return Ok(()) };
    let mut at = 0;
    let given = if reply.tag == b'p' { read_cstr(&reply.body, &mut at).unwrap_or_default() } else { String::new() };
    let ok = user.as_ref().is_some_and(|u| given == md5_password(u, &salt));
    let Some(user) = user.filter(|_| ok) else {
        client_w
            .send(&fatal("28P01", format!("password authentication failed for user \"{user_name}\"")))
            .await?;
        return client_w.flush().await;
    };
    if database != shared.config.database {
        client_w.send(&fatal("3D000", format!("database \"{database}\" does not exist"))).await?;
        return client_w.flush().await;
    }

    // The backing connection: same user, the backing database, Redshift's session defaults
    // (UTC) unless the client asked otherwise.
    let mut backend_params: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "user" | "database" | "replication"))
        .cloned()
        .collect();
    backend_params.push(("user".into(), user.name.clone()));
    backend_params.push(("database".into(), shared.config.backing_db.clone()));
    if get("TimeZone").is_none() && get("timezone").is_none() {
        backend_params.push(("TimeZone".into(), "UTC".into()));
    }
    let (backend, greeting) = match connect(&shared.config.backing_addr, &backend_params).await? {
        Ok(x) => x,
        Err(e) => {
            client_w.send(&e).await?;
            return client_w.flush().await;
        }
    };
    client_w.send(&wire::auth_request(0, &[])).await?;
    let mut pid = 0;
    for m in &greeting {
        if m.tag == b'K' && m.body.len() >= 4 {
            pid = i32::from_be_bytes([m.body[0], m.body[1], m.body[2], m.body[3]]);
        }
        client_w.send(m).await?;
    }
    let mut s = Session {
        shared,
        user,
        user_oid: 0,
        pid,
        client_r,
        client_w,
        be: backend,
        pending_z: 0,
        swallow_last_z: false,
        error_in_drain: false,
        unsynced: false,
        skip_until_sync: false,
        special_statements: HashMap::new(),
        special_portals: HashMap::new(),
        ctx: Context { last_copy_id: -1, ..Context::default() },
    };
    let oid = s.be.query("SELECT oid::int4 FROM pg_roles WHERE rolname = current_user", None).await?;
    s.user_oid = oid.first().and_then(|v| v.parse().ok()).unwrap_or(0);
    s.client_w.send(&wire::ready(b'I')).await?;
    s.client_w.flush().await?;
    s.run().await
}

/// `md5` + md5(md5(password + user) + salt), as the client sends it.
fn md5_password(user: &User, salt: &[u8; 4]) -> String {
    let inner = hex(&Md5::digest(format!("{}{}", user.password, user.name).as_bytes()));
    let mut h = Md5::new();
    h.update(inner.as_bytes());
    h.update(salt);
    format!("md5{}", hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct Session {
    shared: Arc<Shared>,
    user: User,
    user_oid: i32,
    pid: i32,
    client_r: MessageReader<OwnedReadHalf>,
    client_w: ClientWriter,
    be: Backend,
    /// ReadyForQuery messages still owed by the backend for forwarded Query / Sync messages.
    pending_z: usize,
    /// The last of them answers a Sync the emulator added itself: not for the client.
    swallow_last_z: bool,
    error_in_drain: bool,
    /// Extended-protocol messages were forwarded since the last Sync.
    unsynced: bool,
    /// After an error in an extended-protocol batch: ignore messages until Sync.
    skip_until_sync: bool,
    special_statements: HashMap<String, Statement>,
    special_portals: HashMap<String, Statement>,
    ctx: Context,
}

enum Event {
    Client(Option<Message>),
    Backend(Option<Message>),
}

impl Session {
    async fn run(&mut self) -> std::io::Result<()> {
        loop {
            let event = tokio::select! {
                m = self.be.r.next() => Event::Backend(m?),
                m = self.client_r.next() => Event::Client(m?),
            };
            match event {
                Event::Backend(None) => {
                    self.client_w
                        .send(&error_response("FATAL", "57P01", "the backing database closed the connection", None))
                        .await?;
                    self.client_w.flush().await?;
                    return Ok(());
                }
                Event::Backend(Some(m)) => {
                    self.relay(m).await?;
                    if !self.be.r.has_buffered_message() {
                        self.client_w.flush().await?;
                    }
                }
                Event::Client(None) => return Ok(()),
                Event::Client(Some(m)) => {
                    if m.tag == b'X' {
                        let _ = self.be.send(&m).await;
                        return Ok(());
                    }
                    self.on_client(m).await?;
                    self.client_w.flush().await?;
                }
            }
        }
    }

    /// A message from the backend that belongs to the client.
    async fn relay(&mut self, m: Message) -> std::io::Result<()> {
        match m.tag {
            b'Z' => {
                self.be.status = m.body.first().copied().unwrap_or(b'I');
                self.pending_z = self.pending_z.saturating_sub(1);
                if self.pending_z == 0 && self.swallow_last_z {
                    self.swallow_last_z = false;
                    return Ok(());
                }
                self.client_w.send(&m).await
            }
            b'E' => {
                if self.swallow_last_z {
                    self.error_in_drain = true;
                }
                self.client_w.send(&m).await
            }
            _ => self.client_w.send(&m).await,
        }
    }

    /// Waits until the backend has answered everything forwarded, closing an open extended-
    /// protocol batch with a Sync of our own, so that the emulator may use the connection.
    async fn quiesce(&mut self) -> std::io::Result<()> {
        if self.unsynced {
            self.be.send(&Message::new(b'S', Vec::new())).await?;
            self.pending_z += 1;
            self.swallow_last_z = true;
            self.error_in_drain = false;
            self.unsynced = false;
        }
        while self.pending_z > 0 {
            let m = self.be.next().await?;
            self.relay(m).await?;
        }
        if self.error_in_drain {
            // The client's batch failed: it expects the rest of it to be skipped.
            self.error_in_drain = false;
            self.skip_until_sync = true;
        }
        Ok(())
    }

    async fn forward(&mut self, m: &Message) -> std::io::Result<()> {
        self.be.send(m).await
    }

    async fn on_client(&mut self, m: Message) -> std::io::Result<()> {
        if self.skip_until_sync && m.tag != b'S' {
            return Ok(());
        }
        match m.tag {
            b'Q' => self.simple_query(m).await,
            b'P' => self.parse(m).await,
            b'B' => self.bind(m).await,
            b'D' => self.describe(m).await,
            b'E' => self.execute(m).await,
            b'C' => {
                let name = String::from_utf8_lossy(m.body.get(1..m.body.len().saturating_sub(1)).unwrap_or(&[])).into_owned();
                let special = match m.body.first() {
                    Some(b'S') => self.special_statements.remove(&name).is_some(),
                    _ => self.special_portals.remove(&name).is_some(),
                };
                if special && !self.unsynced {
                    self.quiesce().await?;
                    return self.client_w.send(&Message::new(b'3', Vec::new())).await;
                }
                self.unsynced = true;
                self.forward(&m).await
            }
            b'S' => {
                if self.skip_until_sync {
                    self.skip_until_sync = false;
                }
                if self.unsynced {
                    self.unsynced = false;
                    self.pending_z += 1;
                    self.forward(&m).await
                } else {
                    self.quiesce().await?;
                    self.client_w.send(&wire::ready(self.be.status)).await
                }
            }
            b'H' => {
                if self.unsynced {
                    self.forward(&m).await
                } else {
                    Ok(())
                }
            }
            _ => {
                if m.tag != b'F' {
                    self.unsynced = true;
                }
                if m.tag == b'F' {
                    self.pending_z += 1;
                }
                self.forward(&m).await
            }
        }
    }

    /// Sends an error the emulator raised to the client; inside a transaction block the backing
    /// transaction is failed with it too, as Redshift aborts the transaction.
    async fn refuse(&mut self, e: &SqlError) -> std::io::Result<()> {
        if self.be.status == b'T' {
            let sql = format!("SELECT rs_emulator.raise_error({}, {})", quote_literal(e.code), quote_literal(&e.message));
            self.be.query(&sql, None).await?;
        }
        self.client_w.send(&error_response("ERROR", e.code, &e.message, None)).await
    }

    async fn simple_query(&mut self, m: Message) -> std::io::Result<()> {
        let mut at = 0;
        let sql = read_cstr(&m.body, &mut at).unwrap_or_default();
        let statements = match split(&sql).and_then(|stmts| {
            stmts.iter().map(|t| classify(t, &self.ctx)).collect::<Result<Vec<_>, _>>()
        }) {
            Ok(s) => s,
            Err(e) => {
                self.quiesce().await?;
                self.refuse(&e).await?;
                return self.client_w.send(&wire::ready(self.be.status)).await;
            }
        };
        if statements.iter().all(|s| matches!(s, Statement::Pass(_))) {
            // One query string, so PostgreSQL keeps its implicit-transaction rules for it.
            let texts: Vec<String> = statements
                .into_iter()
                .filter_map(|s| if let Statement::Pass(t) = s { Some(t) } else { None })
                .collect();
            let mut body = Vec::new();
            cstr(&mut body, &texts.join(";\n"));
            self.pending_z += 1;
            return self.forward(&Message::new(b'Q', body)).await;
        }
        self.quiesce().await?;
        for st in statements {
            if !self.run_statement(&st).await? {
                break;
            }
        }
        self.client_w.send(&wire::ready(self.be.status)).await
    }

    /// Runs one statement with the backend idle, sending its results (but no ReadyForQuery) to
    /// the client. False when it failed.
    async fn run_statement(&mut self, st: &Statement) -> std::io::Result<bool> {
        match st {
            Statement::Pass(sql) => self.relay_query(sql).await,
            Statement::Ddl { sql, relations, dropped_views } => {
                self.ddl(sql, relations.as_deref(), dropped_views, None).await
            }
            Statement::CreateTable(ct) => {
                // IF NOT EXISTS on an existing table changes nothing, its attributes included.
                if ct.if_not_exists {
                    let probe = format!("SELECT to_regclass({}) IS NOT NULL", quote_literal(&ct.name.sql()));
                    let r = self.be.query(&probe, None).await?;
                    if !self.report_internal_ref(&r).await? {
                        return Ok(false);
                    }
                    if r.first() == Some("t") {
                        return self.relay_query(&ct.pg_sql()).await;
                    }
                }
                let catalog = ct.catalog_sql();
                self.ddl(&ct.pg_sql(), Some(&[]), &[], Some(&catalog)).await
            }
            Statement::AddColumn { table, column } => {
                let sql = format!("ALTER TABLE {} ADD COLUMN {}", table.sql(), column.pg_sql());
                let rel = format!("to_regclass({})::oid", quote_literal(&table.sql()));
                let catalog = format!(
                    "INSERT INTO rs_emulator.column_attrs (relid, attnum, encoding, varbyte_length) \
                     SELECT {rel}, attnum, {}, {} FROM pg_attribute WHERE attrelid = {rel} AND attname = {}",
                    column.encoding.as_deref().map(quote_literal).unwrap_or_else(|| "NULL".into()),
                    column.ty.varbyte_length().map(|n| n.to_string()).unwrap_or_else(|| "NULL".into()),
                    quote_literal(&column.name)
                );
                self.ddl(&sql, Some(std::slice::from_ref(table)), &[], Some(&catalog)).await
            }
            Statement::CreateView { sql, name, late_binding } => self.create_view(sql, name, late_binding.as_deref()).await,
            Statement::Copy(cmd) => self.copy(cmd).await,
            Statement::Truncate(sql) => {
                // "TRUNCATE commits the transaction in which it is run."
                // https://docs.aws.amazon.com/redshift/latest/dg/r_TRUNCATE.html
                let in_block = self.be.status == b'T';
                if !self.relay_query(sql).await? {
                    return Ok(false);
                }
                if in_block {
                    let r = self.be.query("COMMIT", None).await?;
                    return self.report_internal(r).await;
                }
                Ok(true)
            }
            Statement::AppendTable { target, source, mode } => self.append(target, source, *mode).await,
            Statement::SetCaseSensitive(v) => {
                self.ctx.case_sensitive = *v;
                self.client_w.send(&wire::command_complete(if *v { "SET" } else { "RESET" })).await?;
                Ok(true)
            }
            Statement::ShowCaseSensitive => {
                self.client_w.send(&wire::row_description("enable_case_sensitive_identifier")).await?;
                self.client_w
                    .send(&wire::data_row(if self.ctx.case_sensitive { "true" } else { "false" }))
                    .await?;
                self.client_w.send(&wire::command_complete("SHOW")).await?;
                Ok(true)
            }
        }
    }

    async fn relay_query(&mut self, sql: &str) -> std::io::Result<bool> {
        let r = self.be.query(sql, Some(&mut self.client_w)).await?;
        Ok(r.error.is_none())
    }

    /// An internal statement's error goes to the client; true when there was none.
    async fn report_internal(&mut self, r: QueryResult) -> std::io::Result<bool> {
        match r.error {
            Some(e) => {
                self.client_w.send(&e).await?;
                Ok(false)
            }
            None => Ok(true),
        }
    }

    /// Runs internal statements in order inside one transaction (the client's, or one of our
    /// own); the first error is reported and ends it.
    async fn in_transaction<'s>(&mut self, steps: &[Step<'s>]) -> std::io::Result<bool> {
        let own = self.be.status == b'I';
        if own {
            self.be.query("BEGIN", None).await?;
        }
        for step in steps {
            let ok = match step {
                Step::Quiet(sql) => {
                    let r = self.be.query(sql, None).await?;
                    self.report_internal(r).await?
                }
                Step::Shown(sql) => self.relay_query(sql).await?,
            };
            if !ok {
                if own {
                    self.be.query("ROLLBACK", None).await?;
                }
                return Ok(false);
            }
        }
        if own {
            let r = self.be.query("COMMIT", None).await?;
            return self.report_internal(r).await;
        }
        Ok(true)
    }

    /// DDL with the late-binding views on `relations` unbound around it (`None`: all of them).
    async fn ddl(
        &mut self,
        sql: &str,
        relations: Option<&[QualifiedName]>,
        dropped_views: &[QualifiedName],
        catalog: Option<&str>,
    ) -> std::io::Result<bool> {
        let mut steps = Vec::new();
        let unbind: Vec<String> = match relations {
            None => vec!["SELECT rs_emulator.unbind_late_views(NULL)".into()],
            Some(rels) => rels
                .iter()
                .map(|r| format!("SELECT rs_emulator.unbind_late_views(to_regclass({}))", regclass_literal(r)))
                .collect(),
        };
        for u in &unbind {
            steps.push(Step::Quiet(u));
        }
        steps.push(Step::Shown(sql));
        if let Some(c) = catalog {
            steps.push(Step::Quiet(c));
        }
        let forget: Vec<String> = dropped_views
            .iter()
            .map(|v| {
                format!(
                    "DELETE FROM rs_emulator.late_views WHERE schemaname = {} AND viewname = {}",
                    v.schema.as_deref().map(quote_literal).unwrap_or_else(|| "current_schema()".into()),
                    quote_literal(&v.name)
                )
            })
            .collect();
        for f in &forget {
            steps.push(Step::Quiet(f));
        }
        steps.push(Step::Quiet("SELECT rs_emulator.rebind_late_views()"));
        self.in_transaction(&steps).await
    }

    async fn create_view(&mut self, sql: &str, name: &QualifiedName, late: Option<&str>) -> std::io::Result<bool> {
        let schema = name.schema.as_deref().map(quote_literal).unwrap_or_else(|| "current_schema()".into());
        let Some(definition) = late else {
            let forget = format!(
                "DELETE FROM rs_emulator.late_views WHERE schemaname = {schema} AND viewname = {}",
                quote_literal(&name.name)
            );
            return self.in_transaction(&[Step::Shown(sql), Step::Quiet(&forget)]).await;
        };
        // "The schema must exist when the view is created, even if the referenced table
        // doesn't exist": register the text, then bind it if it resolves now.
        let check = format!(
            "SELECT CASE WHEN to_regnamespace(quote_ident({schema})) IS NULL THEN rs_emulator.raise_error('3F000', 'schema \"' || {schema} || '\" does not exist') END"
        );
        let replace = sql.starts_with("CREATE OR REPLACE");
        let exists_check = format!(
            "SELECT CASE WHEN NOT {replace} AND to_regclass(quote_ident({schema}) || '.' || quote_ident({name})) IS NOT NULL \
             THEN rs_emulator.raise_error('42P07', 'relation \"' || {name} || '\" already exists') END",
            name = quote_literal(&name.name)
        );
        let drop_old = format!("DROP VIEW IF EXISTS {}", name.sql());
        let register = format!(
            "INSERT INTO rs_emulator.late_views (schemaname, viewname, definition, owner) VALUES ({schema}, {}, {}, current_user) \
             ON CONFLICT (schemaname, viewname) DO UPDATE SET definition = EXCLUDED.definition",
            quote_literal(&name.name),
            quote_literal(definition)
        );
        let ok = self
            .in_transaction(&[
                Step::Quiet(&check),
                Step::Quiet(&exists_check),
                Step::Quiet(&drop_old),
                Step::Quiet(&register),
                Step::Quiet("SELECT rs_emulator.rebind_late_views()"),
            ])
            .await?;
        if ok {
            self.client_w.send(&wire::command_complete("CREATE VIEW")).await?;
        }
        Ok(ok)
    }

    async fn copy(&mut self, cmd: &crate::sql::copy_command::CopyCommand) -> std::io::Result<bool> {
        let who = load::Session { user: &self.user.name, user_oid: self.user_oid, pid: self.pid };
        match load::run(&mut self.be, &self.shared, cmd, &who).await? {
            Outcome::Loaded { rows, query, notices } => {
                self.ctx.last_copy_count = rows;
                self.ctx.last_copy_id = query;
                for n in &notices {
                    self.client_w.send(n).await?;
                }
                self.client_w.send(&wire::command_complete(&format!("COPY {rows}"))).await?;
                Ok(true)
            }
            Outcome::Failed { error, query } => {
                // PG_LAST_COPY_COUNT is 0 "if the last COPY failed during loading"; after a
                // syntax or privilege failure it keeps the previous value.
                if let Some(q) = query {
                    self.ctx.last_copy_id = q;
                    self.ctx.last_copy_count = 0;
                }
                if self.be.status == b'T' {
                    // Failures found before the COPY reached the backend still abort the
                    // transaction.
                    let msg = error.field(b'M').unwrap_or_default();
                    let code = error.field(b'C').unwrap_or_else(|| "XX000".into());
                    let sql = format!("SELECT rs_emulator.raise_error({}, {})", quote_literal(&code), quote_literal(&msg));
                    self.be.query(&sql, None).await?;
                }
                self.client_w.send(&error).await?;
                Ok(false)
            }
        }
    }

    /// https://docs.aws.amazon.com/redshift/latest/dg/r_ALTER_TABLE_APPEND.html: "You can't run
    /// ALTER TABLE APPEND within a transaction block (BEGIN ... END)"; columns of the same name
    /// must match; IGNOREEXTRA drops extra source columns, FILLTARGET fills extra target columns
    /// with their defaults; "the source table is empty" afterwards.
    async fn append(&mut self, target: &QualifiedName, source: &QualifiedName, mode: AppendMode) -> std::io::Result<bool> {
        if self.be.status != b'I' {
            self.refuse(&SqlError { code: "25001", message: "ALTER TABLE APPEND cannot run inside a transaction block".into() })
                .await?;
            return Ok(false);
        }
        let cols = |t: &QualifiedName| {
            format!(
                "SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute \
                 WHERE attrelid = {}::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                regclass_literal(t)
            )
        };
        let t = self.be.query(&cols(target), None).await?;
        if !self.report_internal_ref(&t).await? {
            return Ok(false);
        }
        let s = self.be.query(&cols(source), None).await?;
        if !self.report_internal_ref(&s).await? {
            return Ok(false);
        }
        let name = |r: &Vec<Option<String>>| r.first().cloned().flatten().unwrap_or_default();
        let extra_source: Vec<String> = s.rows.iter().filter(|r| !t.rows.iter().any(|x| name(x) == name(r))).map(name).collect();
        let extra_target: Vec<String> = t.rows.iter().filter(|r| !s.rows.iter().any(|x| name(x) == name(r))).map(name).collect();
        for r in &s.rows {
            if let Some(x) = t.rows.iter().find(|x| name(x) == name(r))
                && x != r
            {
                let e = SqlError {
                    code: "42804",
                    message: format!("Columns don't match: column \"{}\" differs in type or nullability", name(r)),
                };
                self.refuse(&e).await?;
                return Ok(false);
            }
        }
        let bad = match mode {
            AppendMode::Exact => !extra_source.is_empty() || !extra_target.is_empty(),
            AppendMode::IgnoreExtra => !extra_target.is_empty(),
            AppendMode::FillTarget => !extra_source.is_empty(),
        };
        if bad {
            let e = SqlError {
                code: "42804",
                message: format!(
                    "Columns don't match (only in source: [{}]; only in target: [{}])",
                    extra_source.join(", "),
                    extra_target.join(", ")
                ),
            };
            self.refuse(&e).await?;
            return Ok(false);
        }
        let common: Vec<String> =
            s.rows.iter().map(name).filter(|n| !extra_source.contains(n)).map(|n| quote_ident(&n)).collect();
        let list = common.join(", ");
        let insert = format!("INSERT INTO {} ({list}) SELECT {list} FROM {}", target.sql(), source.sql());
        let empty = format!("DELETE FROM {}", source.sql());
        let ok = self.in_transaction(&[Step::Quiet(&insert), Step::Quiet(&empty)]).await?;
        if ok {
            self.client_w.send(&wire::command_complete("ALTER TABLE APPEND")).await?;
        }
        Ok(ok)
    }

    async fn report_internal_ref(&mut self, r: &QueryResult) -> std::io::Result<bool> {
        match &r.error {
            Some(e) => {
                self.client_w.send(e).await?;
                Ok(false)
            }
            None => Ok(true),
        }
    }

    // ---- extended protocol -------------------------------------------------------------

    async fn extended_error(&mut self, e: &SqlError) -> std::io::Result<()> {
        self.quiesce().await?;
        self.refuse(e).await?;
        self.skip_until_sync = true;
        Ok(())
    }

    async fn parse(&mut self, m: Message) -> std::io::Result<()> {
        let mut at = 0;
        let name = read_cstr(&m.body, &mut at).unwrap_or_default();
        let sql = read_cstr(&m.body, &mut at).unwrap_or_default();
        let rest = m.body.get(at..).unwrap_or(&[]).to_vec();
        let stmts = match split(&sql) {
            Ok(s) => s,
            Err(e) => return self.extended_error(&e).await,
        };
        if stmts.len() > 1 {
            let e = SqlError::syntax("cannot insert multiple commands into a prepared statement");
            return self.extended_error(&e).await;
        }
        let st = match stmts.first().map(|t| classify(t, &self.ctx)).unwrap_or(Ok(Statement::Pass(String::new()))) {
            Ok(s) => s,
            Err(e) => return self.extended_error(&e).await,
        };
        match st {
            Statement::Pass(text) => {
                let mut body = Vec::new();
                cstr(&mut body, &name);
                cstr(&mut body, &text);
                body.extend_from_slice(&rest);
                self.unsynced = true;
                self.forward(&Message::new(b'P', body)).await
            }
            special => {
                if rest.len() >= 2 && u16::from_be_bytes([rest[0], rest[1]]) > 0 {
                    let e = SqlError::unsupported("this statement takes no parameters");
                    return self.extended_error(&e).await;
                }
                self.quiesce().await?;
                self.special_statements.insert(name, special);
                self.client_w.send(&Message::new(b'1', Vec::new())).await
            }
        }
    }

    async fn bind(&mut self, m: Message) -> std::io::Result<()> {
        let mut at = 0;
        let portal = read_cstr(&m.body, &mut at).unwrap_or_default();
        let stmt = read_cstr(&m.body, &mut at).unwrap_or_default();
        if let Some(st) = self.special_statements.get(&stmt).cloned() {
            self.quiesce().await?;
            self.special_portals.insert(portal, st);
            return self.client_w.send(&Message::new(b'2', Vec::new())).await;
        }
        self.special_portals.remove(&portal);
        self.unsynced = true;
        self.forward(&m).await
    }

    async fn describe(&mut self, m: Message) -> std::io::Result<()> {
        let kind = m.body.first().copied().unwrap_or(b'S');
        let mut at = 1;
        let name = read_cstr(&m.body, &mut at).unwrap_or_default();
        let special = if kind == b'S' {
            self.special_statements.contains_key(&name)
        } else {
            self.special_portals.contains_key(&name)
        };
        if special {
            self.quiesce().await?;
            if kind == b'S' {
                self.client_w.send(&Message::new(b't', vec![0, 0])).await?;
            }
            // Shown statements of their own (SHOW enable_case_sensitive_identifier) describe
            // as no rows here; clients read the rows from the execution.
            return self.client_w.send(&Message::new(b'n', Vec::new())).await;
        }
        self.unsynced = true;
        self.forward(&m).await
    }

    async fn execute(&mut self, m: Message) -> std::io::Result<()> {
        let mut at = 0;
        let portal = read_cstr(&m.body, &mut at).unwrap_or_default();
        let Some(st) = self.special_portals.get(&portal).cloned() else {
            self.unsynced = true;
            return self.forward(&m).await;
        };
        self.quiesce().await?;
        if !self.run_statement(&st).await? {
            self.skip_until_sync = true;
        }
        Ok(())
    }
}

enum Step<'s> {
    /// Run without showing results (errors are shown).
    Quiet(&'s str),
    /// Results go to the client.
    Shown(&'s str),
}

impl Drop for Session {
    fn drop(&mut self) {
        tracing::debug!(user = %self.user.name, pid = self.pid, "session closed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_matches_libpq() {
        // libpq: "md5" + md5(md5(password || user) || salt)
        let u = User { name: "awsuser".into(), password: "secret".into(), superuser: false };
        let inner = hex(&Md5::digest(b"secretawsuser"));
        let mut h = Md5::new();
        h.update(inner.as_bytes());
        h.update([1, 2, 3, 4]);
        assert_eq!(md5_password(&u, &[1, 2, 3, 4]), format!("md5{}", hex(&h.finalize())));
    }
}
