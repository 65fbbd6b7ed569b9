use super::*;

fn k(id: &str) -> Key {
    vec![Some(id.to_string())]
}

fn v(s: &str) -> Option<String> {
    Some(s.to_string())
}

fn val(s: &str) -> Change {
    Change::Value(v(s))
}

fn cell(s: &str) -> Cell {
    Cell::Value(v(s))
}

/// Columns: id, n, big (the TOASTed one).
fn insert(id: &str, n: &str, big: &str) -> Op {
    Op::Insert { key: k(id), values: vec![v(id), v(n), v(big)] }
}

fn update_n(id: &str, n: &str) -> Op {
    Op::Update { old_key: None, key: k(id), values: vec![val(id), val(n), Change::Unchanged] }
}

fn row(cells: Vec<Cell>, fill_from: Option<Key>) -> Final {
    Final::Row { cells, fill_from }
}

#[test]
fn each_key_ends_in_its_last_state_in_commit_order() {
    let ops = [insert("1", "10", "a"), insert("2", "20", "b"), Op::Delete { key: k("2") }, insert("3", "30", "c"), Op::Delete { key: k("3") }, insert("3", "31", "d")];
    let c = collapse(3, &ops).unwrap();
    assert!(!c.truncated);
    assert_eq!(c.keys[&k("1")], row(vec![cell("1"), cell("10"), cell("a")], None));
    assert_eq!(c.keys[&k("2")], Final::Deleted);
    assert_eq!(c.keys[&k("3")], row(vec![cell("3"), cell("31"), cell("d")], None), "re-inserted after its delete");
}

#[test]
fn an_unchanged_value_comes_from_the_batch_before_the_target() {
    // Inserted in the batch, then updated without touching big: big is the inserted one.
    let c = collapse(3, &[insert("1", "10", "a"), update_n("1", "11")]).unwrap();
    assert_eq!(c.keys[&k("1")], row(vec![cell("1"), cell("11"), cell("a")], None));

    // An earlier update in the batch set big; the last one left it unchanged: the earlier
    // value wins, not the target's (taking the last change alone would lose it).
    let set_big = Op::Update { old_key: None, key: k("1"), values: vec![val("1"), val("10"), val("new")] };
    let c = collapse(3, &[set_big, update_n("1", "12")]).unwrap();
    assert_eq!(c.keys[&k("1")], row(vec![cell("1"), cell("12"), cell("new")], None));

    // Never carried in the batch: the target's value, from the row under the same key.
    let c = collapse(3, &[update_n("1", "11"), update_n("1", "12")]).unwrap();
    assert_eq!(c.keys[&k("1")], row(vec![cell("1"), cell("12"), Cell::FromTarget], Some(k("1"))));
}

#[test]
fn a_key_change_moves_the_row_and_its_unchanged_values() {
    // Row 1 (in the target) becomes 5, big untouched; then 5 gets another update.
    let move_key = Op::Update { old_key: Some(k("1")), key: k("5"), values: vec![val("5"), val("10"), Change::Unchanged] };
    let c = collapse(3, &[move_key, update_n("5", "11")]).unwrap();
    assert_eq!(c.keys[&k("1")], Final::Deleted);
    assert_eq!(c.keys[&k("5")], row(vec![cell("5"), cell("11"), Cell::FromTarget], Some(k("1"))), "big still read from row 1");

    // Moved after an update in the batch that set big: that value travels.
    let set_big = Op::Update { old_key: None, key: k("1"), values: vec![val("1"), val("10"), val("set")] };
    let move_key = Op::Update { old_key: Some(k("1")), key: k("5"), values: vec![val("5"), val("10"), Change::Unchanged] };
    let c = collapse(3, &[set_big, move_key]).unwrap();
    assert_eq!(c.keys[&k("5")], row(vec![cell("5"), cell("10"), cell("set")], None));

    // Moved away and a new row inserted under the old key.
    let move_key = Op::Update { old_key: Some(k("1")), key: k("5"), values: vec![val("5"), val("10"), Change::Unchanged] };
    let c = collapse(3, &[move_key, insert("1", "99", "z")]).unwrap();
    assert_eq!(c.keys[&k("1")], row(vec![cell("1"), cell("99"), cell("z")], None));
    assert_eq!(c.keys[&k("5")], row(vec![cell("5"), cell("10"), Cell::FromTarget], Some(k("1"))), "from row 1 as it was before the batch");
}

#[test]
fn a_truncate_drops_everything_before_it() {
    let c = collapse(3, &[insert("1", "10", "a"), update_n("2", "20"), Op::Truncate, insert("3", "30", "c")]).unwrap();
    assert!(c.truncated);
    assert_eq!(c.keys.keys().cloned().collect::<Vec<_>>(), [k("3")]);
    // After a truncate no target row survives to take an unchanged value from.
    let err = collapse(3, &[Op::Truncate, update_n("1", "11")]).unwrap_err();
    assert_eq!(err, CollapseError::UnchangedAfterTruncate { key: k("1") });
}

#[test]
fn nulls_are_values_and_widths_are_checked() {
    let set_null = Op::Update { old_key: None, key: k("1"), values: vec![val("1"), Change::Value(None), Change::Value(None)] };
    let c = collapse(3, &[insert("1", "10", "a"), set_null, update_n("1", "7")]).unwrap();
    assert_eq!(c.keys[&k("1")], row(vec![cell("1"), cell("7"), Cell::Value(None)], None), "a NULL set earlier is kept, not filled");
    assert_eq!(collapse(2, &[insert("1", "10", "a")]).unwrap_err(), CollapseError::Width { found: 3, expected: 2 });
}
