//! One client connection: Redshift's password exchange, then a proxy to a backing PostgreSQL
//! connection opened as the same user. Statements pass through rewritten (identifier folding,
//! Redshift functions), except those the emulator carries out itself (COPY from S3, CREATE TABLE
//! with Redshift attributes, late-binding views, TRUNCATE's commit, ALTER TABLE APPEND, …).
//! Both the simple and the extended query protocol are served.
//!
//! The phases live in their own modules: [`startup`] (the startup packet, cancel requests and
//! the password exchange), [`simple`] (the simple query protocol), [`extended`] (Parse, Bind,
//! Describe, Execute, Sync) and [`statements`] (the statements the emulator runs itself).

mod extended;
mod simple;
mod startup;
mod statements;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::backend::{Backend, ClientRead, ClientWriter};
use crate::sql::classify::Statement;
use crate::sql::{lateral, navigation, super_literals};
use crate::sql::lexer::Token;
use crate::sql::rewrite::{Context, rewrite};
use crate::sql::{SqlError, quote_literal};
use crate::wire::{self, Message, MessageReader, error_response};
use crate::{Shared, User};

pub use startup::serve;

/// PostgreSQL's jsonb, the base type of the emulator's SUPER.
const JSONB_OID: u32 = 3802;

struct Session {
    shared: Arc<Shared>,
    user: User,
    user_oid: i32,
    pid: i32,
    client_r: MessageReader<ClientRead>,
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
                let shown = self.be.presenter.present(&m);
                self.client_w.send(&shown).await
            }
            _ => {
                let shown = self.be.presenter.present(&m);
                self.client_w.send(&shown).await
            }
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
            b'Q' => {
                self.be.presenter.simple_query();
                self.simple_query(m).await
            }
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

    /// What the backing server knows that a statement's rewriting needs, asked before it is
    /// rewritten by describing relations (`SELECT * FROM … LIMIT 0`, inside a savepoint of its
    /// own in a transaction block, so a description that fails changes nothing):
    /// - lateral alias references give way to columns of the FROM clause of the same name
    ///   (https://docs.aws.amazon.com/redshift/latest/dg/r_SELECT_list.html);
    /// - SUPER navigation (`col.attr`) needs to know which columns are SUPER
    ///   (https://docs.aws.amazon.com/redshift/latest/dg/query-super.html);
    /// - a literal written into a SUPER column stays a string
    ///   (https://docs.aws.amazon.com/redshift/latest/dg/parse_json.html).
    async fn probe(&mut self, statements: &[Vec<Token<'_>>]) -> std::io::Result<()> {
        self.forget_probe();
        let mut froms = Vec::new();
        let mut targets = Vec::new();
        for tokens in statements {
            if let Some(target) = super_literals::target(tokens)
                && let Ok(name) = rewrite(target.name, &self.ctx)
            {
                targets.push((tokens, target, name));
            }
            if !Session::reads_from_columns(tokens) {
                continue;
            }
            for range in lateral::from_clauses(tokens) {
                if let Ok(text) = rewrite(&tokens[range], &self.ctx) {
                    froms.push(text);
                }
            }
        }
        if froms.is_empty() && targets.is_empty() {
            return Ok(());
        }
        self.quiesce().await?;
        if self.be.status == b'E' {
            return Ok(());
        }
        let mut columns = HashSet::new();
        for from in froms {
            for (name, oid) in self.columns_of(&from).await?.unwrap_or_default() {
                // RowDescription names a domain's base type: jsonb is SUPER's (Redshift has
                // no JSONB of its own).
                if oid == JSONB_OID {
                    self.ctx.super_columns.insert(name.clone());
                }
                columns.insert(name);
            }
        }
        self.ctx.from_columns = Some(columns);
        for (tokens, target, name) in targets {
            if let Some(described) = self.columns_of(&name).await? {
                let table: Vec<(String, bool)> = described.into_iter().map(|(n, oid)| (n, oid == JSONB_OID)).collect();
                let literals = super_literals::super_literals(tokens, &target, &table);
                self.ctx.super_literals.extend(literals);
            }
        }
        Ok(())
    }

    /// Whether `probe` has anything to ask for `tokens`.
    fn needs_probe(tokens: &[Token<'_>]) -> bool {
        super_literals::target(tokens).is_some() || Session::reads_from_columns(tokens)
    }

    /// Whether rewriting `tokens` depends on the columns of its FROM clauses.
    fn reads_from_columns(tokens: &[Token<'_>]) -> bool {
        !lateral::plan(tokens, None).is_empty() || navigation::has_candidates(tokens)
    }

    /// The columns (name, type OID) of `SELECT * FROM {from}`, or None when that fails.
    async fn columns_of(&mut self, from: &str) -> std::io::Result<Option<Vec<(String, u32)>>> {
        let in_block = self.be.status == b'T';
        if in_block {
            self.be.query("SAVEPOINT rs_emulator_probe", None).await?;
        }
        let r = self.be.query(&format!("SELECT * FROM {from} LIMIT 0"), None).await?;
        if in_block {
            let end = if r.error.is_some() {
                "ROLLBACK TO SAVEPOINT rs_emulator_probe; RELEASE SAVEPOINT rs_emulator_probe"
            } else {
                "RELEASE SAVEPOINT rs_emulator_probe"
            };
            self.be.query(end, None).await?;
        }
        Ok(r.error.is_none().then_some(r.columns))
    }

    /// Forgets what `probe` found, once the statements are rewritten.
    fn forget_probe(&mut self) {
        self.ctx.from_columns = None;
        self.ctx.super_columns.clear();
        self.ctx.super_literals.clear();
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
}

impl Drop for Session {
    fn drop(&mut self) {
        tracing::debug!(user = %self.user.name, pid = self.pid, "session closed");
    }
}
