//! The simple query protocol: a Query message split into statements, each relayed (rewritten)
//! or run by the emulator itself.

use crate::backend::QueryResult;
use crate::sql::classify::{Statement, classify, regclass_literal, split};
use crate::sql::quote_literal;
use crate::wire::{self, Message, cstr, read_cstr};

use super::Session;

impl Session {
    pub(super) async fn simple_query(&mut self, m: Message) -> std::io::Result<()> {
        let mut at = 0;
        let sql = read_cstr(&m.body, &mut at).unwrap_or_default();
        let split = split(&sql);
        if let Ok(stmts) = &split
            && stmts.iter().any(|t| Session::needs_probe(t))
        {
            // What a statement's rewriting asks of the backing server may depend on the
            // statements before it (a CREATE TABLE, say): one at a time.
            self.quiesce().await?;
            for tokens in stmts {
                self.probe(std::slice::from_ref(tokens)).await?;
                let classified = classify(tokens, &self.ctx);
                self.forget_probe();
                let ok = match classified {
                    Ok(st) => self.run_statement(&st).await?,
                    Err(e) => {
                        self.refuse(&e).await?;
                        false
                    }
                };
                if !ok {
                    break;
                }
            }
            return self.client_w.send(&wire::ready(self.be.status)).await;
        }
        let classified =
            split.and_then(|stmts| stmts.iter().map(|t| classify(t, &self.ctx)).collect::<Result<Vec<_>, _>>());
        let statements = match classified {
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
    pub(super) async fn run_statement(&mut self, st: &Statement) -> std::io::Result<bool> {
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
            Statement::Lock { sql, tables } => self.lock(sql, tables).await,
            Statement::DropSchema { sql, schemas } => self.drop_schema(sql, schemas).await,
            Statement::SelectInto { sql, table } => {
                let adopt = format!("SELECT rs_emulator.adopt_table(to_regclass({}))", regclass_literal(table));
                self.ddl(sql, Some(&[]), &[], Some(&adopt)).await
            }
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

    pub(super) async fn relay_query(&mut self, sql: &str) -> std::io::Result<bool> {
        let r = self.be.query(sql, Some(&mut self.client_w)).await?;
        Ok(r.error.is_none())
    }

    /// An internal statement's error goes to the client; true when there was none.
    pub(super) async fn report_internal(&mut self, r: QueryResult) -> std::io::Result<bool> {
        self.report_internal_ref(&r).await
    }
}
