//! `regclass` as a plain value, so functions can take `regclass[]` (pgrx only maps a single
//! regclass, as an opened `PgRelation`).

use pgrx::datum::UnboxDatum;
use pgrx::pg_sys;
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable, TypeOrigin,
};
use pgrx::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RegClass(pub pg_sys::Oid);

impl RegClass {
    /// Resolves a relation name like a `'name'::regclass` literal: with the caller's search_path,
    /// raising 42P01 if there is no such relation.
    pub fn resolve(name: &str) -> RegClass {
        let oid = Spi::get_one_with_args::<pg_sys::Oid>(
            "SELECT $1::pg_catalog.regclass::pg_catalog.oid",
            &[name.into()],
        );
        match oid {
            Ok(Some(oid)) => RegClass(oid),
            // The cast raises its own ERROR for unknown names; this is for the impossible rest.
            _ => pgrx::error!("relation \"{name}\" does not exist"),
        }
    }
}

impl FromDatum for RegClass {
    // SAFETY (of the trait's contract): a regclass datum is an Oid by value; nothing is
    // dereferenced.
    unsafe fn from_polymorphic_datum(datum: pg_sys::Datum, is_null: bool, _: pg_sys::Oid) -> Option<Self> {
        (!is_null).then(|| RegClass(pg_sys::Oid::from(datum.value() as u32)))
    }
}

impl IntoDatum for RegClass {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        Some(pg_sys::Datum::from(self.0))
    }

    fn type_oid() -> pg_sys::Oid {
        pg_sys::REGCLASSOID
    }
}

// SAFETY: a regclass is a by-value 4-byte oid.
unsafe impl UnboxDatum for RegClass {
    type As<'src> = RegClass;

    unsafe fn unbox<'src>(datum: pgrx::datum::Datum<'src>) -> Self::As<'src>
    where
        Self: 'src,
    {
        RegClass(pg_sys::Oid::from(datum.sans_lifetime().value() as u32))
    }
}

// SAFETY: the SQL type named here is the one this Rust type converts to and from.
unsafe impl SqlTranslatable for RegClass {
    const TYPE_IDENT: &'static str = concat!(module_path!(), "::RegClass");
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal("regclass"));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> =
        Ok(ReturnsRef::One(SqlMappingRef::literal("regclass")));
}
