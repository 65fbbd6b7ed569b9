use super::*;
use crate::pgoutput::tests::Out;

const OID: u32 = 16384;

fn spec() -> TableSpec {
    let col = |name: &str, type_oid| ColumnSpec { name: name.into(), type_oid, typmod: -1 };
    TableSpec { oid: OID, schema: "public".into(), name: "t".into(), columns: vec![col("id", 23), col("body", 25)], key: vec![0] }
}

fn relation(columns: &[(&str, i32)]) -> Vec<u8> {
    let mut o = Out::default().u8(b'R').i32(OID as i32).string("public").string("t").u8(b'd').i16(columns.len() as i16);
    for (i, (name, ty)) in columns.iter().enumerate() {
        o = o.u8(u8::from(i == 0)).string(name).i32(*ty).i32(-1);
    }
    o.0
}

fn begin(lsn: i64) -> Vec<u8> {
    Out::default().u8(b'B').i64(lsn).i64(0).i32(1).0
}

fn commit(lsn: i64, end: i64) -> Vec<u8> {
    Out::default().u8(b'C').u8(0).i64(lsn).i64(end).i64(0).0
}

/// A tuple: Some(text), None for NULL, "\u{0}u" for unchanged.
fn tuple(mut o: Out, values: &[Option<&str>]) -> Out {
    o = o.i16(values.len() as i16);
    for v in values {
        o = match v {
            None => o.u8(b'n'),
            Some("\u{0}u") => o.u8(b'u'),
            Some(s) => o.text(s),
        };
    }
    o
}

fn insert(values: &[Option<&str>]) -> Vec<u8> {
    tuple(Out::default().u8(b'I').i32(OID as i32).u8(b'N'), values).0
}

fn update(old_key: Option<&str>, values: &[Option<&str>]) -> Vec<u8> {
    let mut o = Out::default().u8(b'U').i32(OID as i32);
    if let Some(k) = old_key {
        o = tuple(o.u8(b'K'), &[Some(k), None]);
    }
    tuple(o.u8(b'N'), values).0
}

fn delete(key: &str) -> Vec<u8> {
    tuple(Out::default().u8(b'D').i32(OID as i32).u8(b'K'), &[Some(key), None]).0
}

fn read_all(tables: &[TableSpec], messages: &[Vec<u8>]) -> Result<Decoder, ChangeError> {
    let mut d = Decoder::new(tables);
    for m in messages {
        if d.read(m)? == Flow::Stop {
            break;
        }
    }
    Ok(d)
}

const U: Option<&str> = Some("\u{0}u");

#[test]
fn a_batch_collapses_to_one_row_per_key_with_fills() {
    let tables = [spec()];
    let d = read_all(
        &tables,
        &[
            begin(0x100),
            relation(&[("id", 23), ("body", 25)]),
            insert(&[Some("1"), Some("a")]),
            insert(&[Some("2"), Some("big")]),
            commit(0x100, 0x108),
            begin(0x200),
            update(None, &[Some("1"), Some("b")]),
            delete("2"),
            update(None, &[Some("3"), U]),
            update(Some("3"), &[Some("4"), U]),
            commit(0x200, 0x208),
        ],
    )
    .unwrap();
    assert_eq!(d.last_commit_end, Some(Lsn(0x208)));
    let mut d = d;
    let changes = d.changes.remove(&OID).unwrap();
    assert_eq!(changes.captured, 6);
    let t = collapse_table(&tables[0], changes).unwrap();
    assert!(!t.truncated);
    assert_eq!(t.fill_columns, [1]);
    let rows: Vec<_> = t.rows.iter().map(|r| (r.op, r.lsn.0, r.fill.as_deref(), r.fill_key.clone(), r.values.clone())).collect();
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        rows,
        [
            ('U', 0x200, None, None, vec![s("1"), s("b")]),
            ('D', 0x200, None, None, vec![s("2"), None]),
            // The row moved from 3 to 4: 3 goes, 4 takes its body from the target's row 3.
            ('D', 0x200, None, None, vec![s("3"), None]),
            ('U', 0x200, Some("01"), Some(vec![s("3")]), vec![s("4"), None]),
        ]
    );
}

#[test]
fn truncate_and_schema_changes() {
    let tables = [spec()];
    let truncate = Out::default().u8(b'T').i32(1).u8(0).i32(OID as i32).0;
    let mut d = read_all(&tables, &[begin(0x10), relation(&[("id", 23), ("body", 25)]), insert(&[Some("1"), None]), truncate, commit(0x10, 0x18)])
        .unwrap();
    let t = collapse_table(&tables[0], d.changes.remove(&OID).unwrap()).unwrap();
    assert!(t.truncated);
    assert!(t.rows.is_empty());

    // A column added before the batch's first change of the table: taken on.
    let wide = [("id", 23), ("body", 25), ("extra", 23)];
    let d = read_all(&tables, &[begin(0x10), relation(&wide), insert(&[Some("1"), None, Some("7")]), commit(0x10, 0x18)]).unwrap();
    assert_eq!(d.added[&OID].iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["extra"]);
    assert_eq!(d.spec(OID).map(|t| t.columns.len()), Some(3));
    assert_eq!(d.changes[&OID].captured, 1);
    // Added after the batch changed the table: the batch ends before that transaction.
    let d = read_all(
        &tables,
        &[
            begin(0x10),
            relation(&[("id", 23), ("body", 25)]),
            insert(&[Some("1"), None]),
            commit(0x10, 0x18),
            begin(0x20),
            relation(&wide),
            insert(&[Some("2"), None, Some("7")]),
            commit(0x20, 0x28),
        ],
    )
    .unwrap();
    assert!(d.stopped);
    assert_eq!((d.last_commit_end, d.changes[&OID].captured), (Some(Lsn(0x18)), 1));
    assert!(d.added.is_empty());
    // Inside a transaction that already changed the table: refused.
    let mixed = read_all(&tables, &[begin(0x10), relation(&[("id", 23), ("body", 25)]), insert(&[Some("1"), None]), relation(&wide)]).err().unwrap();
    assert!(mixed.to_string().contains("added inside a transaction"), "{mixed}");
    let dropped = read_all(&tables, &[begin(0x10), relation(&[("id", 23)])]).err().unwrap();
    assert!(dropped.to_string().ends_with("column body was dropped"), "{dropped}");
    let retyped = read_all(&tables, &[begin(0x10), relation(&[("id", 23), ("body", 1043)])]).err().unwrap();
    assert!(retyped.to_string().ends_with("the type of column body changed"), "{retyped}");
}

#[test]
fn refusals_name_table_and_lsn() {
    let tables = [spec()];
    let undescribed = read_all(&tables, &[begin(0x10), insert(&[Some("1"), None])]).err().unwrap();
    assert_eq!(undescribed, ChangeError::UndescribedRelation(OID));
    let unchanged_key =
        read_all(&tables, &[begin(0x10), relation(&[("id", 23), ("body", 25)]), update(None, &[U, Some("x")])]).err().unwrap();
    assert_eq!(
        unchanged_key.to_string(),
        "table \"public\".\"t\": an update at LSN 0/10 left key column id unchanged and sent no old key, so the row cannot be found"
    );
    let other = tuple(Out::default().u8(b'I').i32(7).u8(b'N'), &[Some("1"), None]).0;
    assert_eq!(read_all(&tables, &[begin(0x10), other]).err().unwrap(), ChangeError::UnknownRelation(7));
    let bad_utf8 = {
        let mut o = Out::default().u8(b'I').i32(OID as i32).u8(b'N').i16(2).text("1").u8(b't').i32(1);
        o.0.push(0xff);
        o.0
    };
    let err = read_all(&tables, &[begin(0x10), relation(&[("id", 23), ("body", 25)]), bad_utf8]).err().unwrap();
    assert!(matches!(err, ChangeError::NotText { ref column, .. } if column == "body"), "{err}");
}

#[test]
fn ranges_and_batch_ids() {
    assert_eq!(range_end(Lsn(100), None, false), Lsn(100));
    assert_eq!(range_end(Lsn(100), Some(Lsn(90)), false), Lsn(100));
    // A commit record straddling `upto` was handed over: the range ends after it.
    assert_eq!(range_end(Lsn(100), Some(Lsn(120)), false), Lsn(120));
    assert_eq!(range_end(Lsn(100), Some(Lsn(60)), true), Lsn(60));
    let id = batch_id("orders", Lsn(0x1_0000_0010), Lsn(0x1_0000_0200));
    assert_eq!(id, "cdc-orders-0000000100000010-0000000100000200");
    assert_eq!(batch_end("orders", Lsn(0x1_0000_0010), &id), Some(Lsn(0x1_0000_0200)));
    assert_eq!(batch_end("orders", Lsn(0x1_0000_0011), &id), None);
    assert_eq!(batch_end("order", Lsn(0x1_0000_0010), &id), None);
}
