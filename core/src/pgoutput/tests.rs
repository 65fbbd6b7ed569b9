use super::*;

/// Builds a message field by field, as the protocol page lays it out.
#[derive(Default)]
pub(crate) struct Out(pub(crate) Vec<u8>);

impl Out {
    pub(crate) fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    pub(crate) fn i16(mut self, v: i16) -> Self {
        self.0.extend(v.to_be_bytes());
        self
    }
    pub(crate) fn i32(mut self, v: i32) -> Self {
        self.0.extend(v.to_be_bytes());
        self
    }
    pub(crate) fn i64(mut self, v: i64) -> Self {
        self.0.extend(v.to_be_bytes());
        self
    }
    pub(crate) fn string(mut self, s: &str) -> Self {
        self.0.extend(s.as_bytes());
        self.0.push(0);
        self
    }
    pub(crate) fn text(self, s: &str) -> Self {
        let mut o = self.u8(b't').i32(s.len() as i32);
        o.0.extend(s.as_bytes());
        o
    }
}

#[test]
fn begin_commit_and_relation() {
    let begin = Out::default().u8(b'B').i64(0x1_0000_0028).i64(789).i32(731).0;
    assert_eq!(parse(&begin), Ok(Message::Begin { final_lsn: Lsn(0x1_0000_0028), commit_time_us: 789, xid: 731 }));
    let commit = Out::default().u8(b'C').u8(0).i64(40).i64(48).i64(789).0;
    assert_eq!(parse(&commit), Ok(Message::Commit { commit_lsn: Lsn(40), end_lsn: Lsn(48), commit_time_us: 789 }));
    let relation = Out::default()
        .u8(b'R')
        .i32(16384)
        .string("public")
        .string("décor")
        .u8(b'd')
        .i16(2)
        .u8(1)
        .string("id")
        .i32(23)
        .i32(-1)
        .u8(0)
        .string("body")
        .i32(1043)
        .i32(104)
        .0;
    let Ok(Message::Relation(r)) = parse(&relation) else { panic!("a relation") };
    assert_eq!((r.oid, r.schema.as_str(), r.name.as_str(), r.replica_identity), (16384, "public", "décor", 'd'));
    assert_eq!(r.columns[0], RelationColumn { key: true, name: "id".into(), type_oid: 23, typmod: -1 });
    assert_eq!(r.columns[1], RelationColumn { key: false, name: "body".into(), type_oid: 1043, typmod: 104 });
}

#[test]
fn changes_carry_null_unchanged_and_text_values() {
    let insert = Out::default().u8(b'I').i32(7).u8(b'N').i16(3).text("1").u8(b'n').text("").0;
    assert_eq!(
        parse(&insert),
        Ok(Message::Insert { relation: 7, new: vec![Value::Text(b"1".to_vec()), Value::Null, Value::Text(Vec::new())] })
    );
    // An update that changed the key carries the old key; an unchanged TOASTed value is marked.
    let update = Out::default().u8(b'U').i32(7).u8(b'K').i16(2).text("1").u8(b'n').u8(b'N').i16(2).text("2").u8(b'u').0;
    assert_eq!(
        parse(&update),
        Ok(Message::Update {
            relation: 7,
            old: Some(OldTuple::Key(vec![Value::Text(b"1".to_vec()), Value::Null])),
            new: vec![Value::Text(b"2".to_vec()), Value::Unchanged],
        })
    );
    let plain = Out::default().u8(b'U').i32(7).u8(b'N').i16(1).text("x").0;
    assert!(matches!(parse(&plain), Ok(Message::Update { old: None, .. })));
    let full = Out::default().u8(b'D').i32(7).u8(b'O').i16(1).text("x").0;
    assert_eq!(parse(&full), Ok(Message::Delete { relation: 7, old: OldTuple::Full(vec![Value::Text(b"x".to_vec())]) }));
    let truncate = Out::default().u8(b'T').i32(2).u8(3).i32(7).i32(8).0;
    assert_eq!(parse(&truncate), Ok(Message::Truncate { relations: vec![7, 8], cascade: true, restart_identity: true }));
}

#[test]
fn anything_malformed_is_refused() {
    let insert = Out::default().u8(b'I').i32(7).u8(b'N').i16(1).text("abc").0;
    for cut in 1..insert.len() {
        assert!(matches!(parse(&insert[..cut]), Err(DecodeError::Truncated(_))), "cut at {cut}");
    }
    let mut longer = insert.clone();
    longer.push(0);
    assert_eq!(parse(&longer), Err(DecodeError::Trailing(1)));
    assert_eq!(parse(b"Z"), Err(DecodeError::UnknownMessage('Z')));
    let odd = Out::default().u8(b'I').i32(7).u8(b'N').i16(1).u8(b'x').0;
    assert_eq!(parse(&odd), Err(DecodeError::UnknownValue('x')));
    let untagged = Out::default().u8(b'I').i32(7).u8(b'K').i16(0).0;
    assert!(matches!(parse(&untagged), Err(DecodeError::UnexpectedTag { .. })));
    let negative = Out::default().u8(b'I').i32(7).u8(b'N').i16(1).u8(b't').i32(-5).0;
    assert_eq!(parse(&negative), Err(DecodeError::NegativeLength(-5)));
    assert_eq!(parse(&Out::default().u8(b'O').i64(1).0[..]), Err(DecodeError::Truncated("origin name")));
}

#[test]
fn lsns_print_and_parse_as_postgres_does() {
    assert_eq!(Lsn(0x1_0000_0028).to_string(), "1/28");
    assert_eq!("16/B374D848".parse::<Lsn>(), Ok(Lsn(0x16_B374_D848)));
    assert_eq!("0/0".parse::<Lsn>(), Ok(Lsn(0)));
    assert!("16B374D848".parse::<Lsn>().is_err());
    assert!("1/2/3".parse::<Lsn>().is_err());
    assert!(Lsn(1) < Lsn(0x1_0000_0000));
}

/// Messages PostgreSQL 15 wrote for one session on `vec (id int PRIMARY KEY, n int, big text)`
/// with `big` stored out of line, captured with `pg_logical_slot_peek_binary_changes(…,
/// 'proto_version', '1', 'publication_names', …)`: INSERT (1, 10, 3000 × 'x'), (2, NULL,
/// 'small'); UPDATE n of row 1; UPDATE id 2 → 3; DELETE row 3; TRUNCATE.
#[test]
fn a_real_session_parses_whole() {
    let messages: Vec<Message> = include_str!("session.hex")
        .lines()
        .map(|line| {
            let bytes = hex::decode(line.trim()).expect("hex");
            parse(&bytes).unwrap_or_else(|e| panic!("{e}: {line}"))
        })
        .collect();
    let kinds: String = messages
        .iter()
        .map(|m| match m {
            Message::Begin { .. } => 'B',
            Message::Commit { .. } => 'C',
            Message::Relation(_) => 'R',
            Message::Insert { .. } => 'I',
            Message::Update { .. } => 'U',
            Message::Delete { .. } => 'D',
            Message::Truncate { .. } => 'T',
            _ => '?',
        })
        .collect();
    assert_eq!(kinds, "BRIICBUCBUCBDCBRTC");
    let Message::Relation(vec) = &messages[1] else { panic!("relation") };
    assert_eq!((vec.name.as_str(), vec.replica_identity, vec.columns.len(), vec.columns[0].key), ("vec", 'd', 3, true));
    let Message::Insert { new, .. } = &messages[2] else { panic!("insert") };
    assert_eq!(new[2], Value::Text(vec![b'x'; 3000]));
    // Only n changed: the out-of-line value is not sent, and is marked as unchanged.
    let Message::Update { old: None, new, .. } = &messages[6] else { panic!("update") };
    assert_eq!(new, &[Value::Text(b"1".to_vec()), Value::Text(b"11".to_vec()), Value::Unchanged]);
    // The key changed: the old key comes first.
    let Message::Update { old: Some(OldTuple::Key(old)), new, .. } = &messages[9] else { panic!("key update") };
    assert_eq!((&old[0], &new[0]), (&Value::Text(b"2".to_vec()), &Value::Text(b"3".to_vec())));
    assert!(matches!(&messages[12], Message::Delete { old: OldTuple::Key(_), .. }));
    let (Message::Begin { final_lsn, .. }, Message::Commit { commit_lsn, .. }) = (&messages[0], &messages[4]) else { panic!("bounds") };
    assert_eq!(final_lsn, commit_lsn);
    assert!(matches!(&messages[16], Message::Truncate { relations, cascade: false, .. } if relations == &[vec.oid]));
}
