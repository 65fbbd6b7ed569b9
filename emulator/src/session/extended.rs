//! The extended query protocol: Parse, Bind, Describe and Execute, with the statements the
//! emulator runs itself kept aside by name until Sync.

use crate::sql::classify::{Statement, classify, split};
use crate::sql::SqlError;
use crate::wire::{Message, cstr, read_cstr};

use super::Session;

impl Session {
    pub(super) async fn extended_error(&mut self, e: &SqlError) -> std::io::Result<()> {
        self.quiesce().await?;
        self.refuse(e).await?;
        self.skip_until_sync = true;
        Ok(())
    }

    pub(super) async fn parse(&mut self, m: Message) -> std::io::Result<()> {
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
        self.probe(&stmts).await?;
        let classified = stmts.first().map(|t| classify(t, &self.ctx)).unwrap_or(Ok(Statement::Pass(String::new())));
        self.forget_probe();
        let st = match classified {
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

    pub(super) async fn bind(&mut self, m: Message) -> std::io::Result<()> {
        let mut at = 0;
        let portal = read_cstr(&m.body, &mut at).unwrap_or_default();
        let stmt = read_cstr(&m.body, &mut at).unwrap_or_default();
        if let Some(st) = self.special_statements.get(&stmt).cloned() {
            self.quiesce().await?;
            self.special_portals.insert(portal, st);
            return self.client_w.send(&Message::new(b'2', Vec::new())).await;
        }
        self.special_portals.remove(&portal);
        self.be.presenter.bind(&m.body);
        self.unsynced = true;
        self.forward(&m).await
    }

    pub(super) async fn describe(&mut self, m: Message) -> std::io::Result<()> {
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

    pub(super) async fn execute(&mut self, m: Message) -> std::io::Result<()> {
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
