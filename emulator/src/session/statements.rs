//! The statements the emulator carries out itself rather than relaying: COPY from S3, CREATE
//! TABLE with Redshift attributes, views (late-binding ones included), ALTER TABLE APPEND, and
//! the transaction handling they need.

use crate::backend::QueryResult;
use crate::copy::load::{self, Outcome};
use crate::sql::classify::{AppendMode, regclass_literal};
use crate::sql::cursor::QualifiedName;
use crate::sql::{SqlError, quote_ident, quote_literal};
use crate::wire::{self};

use super::Session;

impl Session {
    /// Runs internal statements in order inside one transaction (the client's, or one of our
    /// own); the first error is reported and ends it.
    pub(super) async fn in_transaction<'s>(&mut self, steps: &[Step<'s>]) -> std::io::Result<bool> {
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
    pub(super) async fn ddl(
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

    /// DROP SCHEMA with the late-binding views on its relations unbound around it (and only
    /// those: views elsewhere, other sessions' among them, stay as they are).
    pub(super) async fn drop_schema(&mut self, sql: &str, schemas: &[String]) -> std::io::Result<bool> {
        let unbind: Vec<String> =
            schemas.iter().map(|s| format!("SELECT rs_emulator.unbind_late_views_in_schema({})", quote_literal(s))).collect();
        let mut steps: Vec<Step<'_>> = unbind.iter().map(|u| Step::Quiet(u)).collect();
        steps.push(Step::Shown(sql));
        steps.push(Step::Quiet("SELECT rs_emulator.rebind_late_views()"));
        self.in_transaction(&steps).await
    }

    /// LOCK: "You can't lock views." A late-binding view holds no lock on the tables it reads in
    /// Redshift; here it is a view that a reader locks before its tables, so its locks are taken
    /// first, in the order a reader takes them. Outside a transaction block the statement holds
    /// nothing ("only meaningful when it is run inside a transaction block").
    /// https://docs.aws.amazon.com/redshift/latest/dg/r_LOCK.html
    pub(super) async fn lock(&mut self, sql: &str, tables: &[QualifiedName]) -> std::io::Result<bool> {
        let names: Vec<String> = tables.iter().map(regclass_literal).collect();
        let prepare = format!("SELECT rs_emulator.lock_prepare(ARRAY[{}]::text[])", names.join(", "));
        self.in_transaction(&[Step::Quiet(&prepare), Step::Shown(sql)]).await
    }

    pub(super) async fn create_view(&mut self, sql: &str, name: &QualifiedName, late: Option<&str>) -> std::io::Result<bool> {
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

    pub(super) async fn copy(&mut self, cmd: &crate::sql::copy_command::CopyCommand) -> std::io::Result<bool> {
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
    pub(super) async fn append(&mut self, target: &QualifiedName, source: &QualifiedName, mode: AppendMode) -> std::io::Result<bool> {
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

    pub(super) async fn report_internal_ref(&mut self, r: &QueryResult) -> std::io::Result<bool> {
        match &r.error {
            Some(e) => {
                self.client_w.send(&crate::errors::for_client(e)).await?;
                Ok(false)
            }
            None => Ok(true),
        }
    }

}

pub(super) enum Step<'s> {
    /// Run without showing results (errors are shown).
    Quiet(&'s str),
    /// Results go to the client.
    Shown(&'s str),
}
