//! What a stream needs done with the rights of the extension's owner (a superuser): creating,
//! reading, advancing and dropping its replication slot and publication, and writing the
//! stream's catalog row. The caller's own rights are checked first; the switch lasts only for
//! those statements, like a SECURITY DEFINER function. The statements are ours, fully
//! schema-qualified, with names that passed the stream name's check; nothing the caller or a
//! table supplies is run as SQL. An ERROR inside ends the transaction, which restores the
//! caller's identity; the guard restores it on every other path.

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::error::ExportError;

const OWNER_SQL: &str = "
SELECT e.extowner::pg_catalog.int8, r.rolsuper, n.nspname::pg_catalog.text
FROM pg_catalog.pg_extension e
JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) e.extowner
JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
WHERE e.extname OPERATOR(pg_catalog.=) 'pg2redshift'";

/// The extension's owner and schema.
pub struct Owner {
    role: pg_sys::Oid,
    /// The extension's schema, quoted for SQL.
    pub schema: String,
}

impl Owner {
    pub fn find() -> Result<Owner, ExportError> {
        let (role, superuser, schema) = Spi::connect(|client| {
            let rows = client.select(OWNER_SQL, Some(1), &[])?;
            let row = rows.first();
            Ok::<_, pgrx::spi::SpiError>((
                row.get::<i64>(1)?.unwrap_or(0),
                row.get::<bool>(2)?.unwrap_or(false),
                row.get::<String>(3)?.unwrap_or_default(),
            ))
        })?;
        if !superuser {
            return Err(ExportError::OwnerNotSuperuser);
        }
        Ok(Owner { role: pg_sys::Oid::from(role as u32), schema: pg2redshift_bundle::quote_ident(&schema) })
    }

    /// Runs `f` as the extension's owner, in a restricted security context (no SET ROLE, no
    /// temporary objects), then as the caller again.
    pub fn run<T>(&self, f: impl FnOnce() -> Result<T, ExportError>) -> Result<T, ExportError> {
        let mut saved = Restore { role: pg_sys::Oid::INVALID, context: 0 };
        // SAFETY: backend thread; these only read and set the backend's current user globals.
        unsafe {
            pg_sys::GetUserIdAndSecContext(&mut saved.role, &mut saved.context);
            pg_sys::SetUserIdAndSecContext(
                self.role,
                saved.context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32 | pg_sys::SECURITY_RESTRICTED_OPERATION as i32,
            );
        }
        let result = f();
        drop(saved);
        result
    }

    /// Runs one statement as the owner, as a write.
    pub fn execute(&self, sql: &str, args: &[pgrx::datum::DatumWithOid<'_>]) -> Result<(), ExportError> {
        self.run(|| Ok(Spi::connect_mut(|client| client.update(sql, None, args).map(|_| ()))?))
    }

    /// Runs one query as the owner, read-only: the transaction gets no id from it (creating a
    /// slot requires a transaction that has none).
    pub fn query(&self, sql: &str, args: &[pgrx::datum::DatumWithOid<'_>]) -> Result<(), ExportError> {
        self.run(|| Ok(Spi::connect(|client| client.select(sql, None, args).map(|_| ()))?))
    }
}

/// Puts the caller's identity back when dropped.
struct Restore {
    role: pg_sys::Oid,
    context: i32,
}

impl Drop for Restore {
    fn drop(&mut self) {
        // SAFETY: sets the globals saved above back, on the backend thread; it cannot fail, so
        // it is fine while an ERROR unwinds too.
        unsafe { pg_sys::SetUserIdAndSecContext(self.role, self.context) }
    }
}
