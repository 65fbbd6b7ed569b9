//! What the PostgreSQL catalog says about a relation's columns, as plain data.

/// The type of one column after domains are resolved to their base type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceType {
    /// Schema of the base type: `pg_catalog` for built-ins.
    pub schema: String,
    /// `pg_type.typname` of the base type (`int4`, `varchar`, `_int4` for arrays…).
    pub name: String,
    /// The effective type modifier (`-1` when none); a domain's own typmod applies.
    pub typmod: i32,
    pub kind: TypeKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeKind {
    /// A scalar type (`typtype = 'b'` that is not an array).
    Base,
    Array,
    Composite,
    Range,
    Multirange,
    /// An enum, with the byte length of its longest label.
    Enum { longest_label_bytes: u32 },
}

/// One column of the relation, in `attnum` order, dropped columns already left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceColumn {
    pub name: String,
    pub ty: SourceType,
    /// `format_type()` of the declared type, e.g. `character varying(20)` or a domain's name.
    pub declared_type: String,
    /// NOT NULL on the column or on any domain it is built on.
    pub not_null: bool,
}

impl SourceType {
    pub fn builtin(name: &str, typmod: i32) -> SourceType {
        SourceType { schema: "pg_catalog".into(), name: name.into(), typmod, kind: TypeKind::Base }
    }

    pub fn is_builtin(&self) -> bool {
        self.schema == "pg_catalog"
    }
}

/// `VARHDRSZ`: character and numeric typmods carry the 4-byte varlena header size.
const VARHDRSZ: i32 = 4;

/// Declared length of `varchar(n)` / `char(n)`, if any.
pub fn char_length(typmod: i32) -> Option<u32> {
    (typmod >= VARHDRSZ).then(|| (typmod - VARHDRSZ) as u32)
}

/// Declared `(precision, scale)` of `numeric(p,s)`, if any. PostgreSQL 15 allows scales from
/// -1000 to 1000, stored sign-extended in the low 11 bits.
pub fn numeric_precision_scale(typmod: i32) -> Option<(u32, i32)> {
    if typmod < VARHDRSZ {
        return None;
    }
    let packed = typmod - VARHDRSZ;
    let precision = ((packed >> 16) & 0xffff) as u32;
    let scale = ((packed & 0x7ff) ^ 1024) - 1024;
    Some((precision, scale))
}

/// Declared length of `bit(n)` / `varbit(n)` (their typmod is the length itself).
pub fn bit_length(typmod: i32) -> Option<u32> {
    (typmod >= 0).then_some(typmod as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typmods_decode_as_postgres_encodes_them() {
        assert_eq!(char_length(-1), None);
        assert_eq!(char_length(104), Some(100)); // varchar(100)
        assert_eq!(numeric_precision_scale(-1), None);
        // numeric(10,2): ((10 << 16) | 2) + 4
        assert_eq!(numeric_precision_scale((10 << 16 | 2) + 4), Some((10, 2)));
        // numeric(5,-3): scale stored as 11-bit two's complement
        assert_eq!(numeric_precision_scale((5 << 16 | (-3i32 & 0x7ff)) + 4), Some((5, -3)));
        assert_eq!(numeric_precision_scale((3 << 16 | 5) + 4), Some((3, 5)));
        assert_eq!(bit_length(8), Some(8));
        assert_eq!(bit_length(-1), None);
    }
}
