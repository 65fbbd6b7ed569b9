//! What a batch of captured changes to one table does to it, key by key: the semantics every
//! apply path must have (issue 21). Redshift enforces no keys and MERGE refuses a target row
//! matched twice, so a batch is first collapsed to one final state per key, in commit order.
//!
//! Collapsing is column-wise where TOAST is involved: an UPDATE that left an out-of-line value
//! untouched does not carry it (pgoutput sends it as "unchanged"). That column then takes its
//! value from the latest earlier change of the same row in the batch that carried it, and only
//! failing that from the row in the target as it was before the batch, found under the key the
//! row had then (a primary-key change moves the row, and its unchanged values with it). Taking
//! the last change alone and keeping the target's value would lose an update made earlier in
//! the same batch.

use std::collections::BTreeMap;

/// A key: the primary key's values as text, in key order (None for NULL).
pub type Key = Vec<Option<String>>;

/// A column's value in a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Value(Option<String>),
    /// Not sent: an unchanged TOASTed value.
    Unchanged,
}

/// One captured change, in commit order (the caller sorts by commit LSN, then by position in
/// the transaction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Every column known (an INSERT never has an unchanged value).
    Insert { key: Key, values: Vec<Option<String>> },
    /// `old_key` when the update changed the key.
    Update { old_key: Option<Key>, key: Key, values: Vec<Change> },
    Delete { key: Key },
    /// Every row of the table gone, in commit order with the rest.
    Truncate,
}

/// A column of a final row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Value(Option<String>),
    /// The value of this column in the target's row under [`Final::Row::fill_from`], as it was
    /// before the batch.
    FromTarget,
}

/// What the batch leaves under one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Final {
    /// No row.
    Deleted,
    /// This row; `fill_from` names the target row (by its key before the batch) whose values the
    /// `FromTarget` cells take, present exactly when some cell is `FromTarget`.
    Row { cells: Vec<Cell>, fill_from: Option<Key> },
}

/// The result of a batch: whether the table was truncated first (then no target row survives,
/// and none is read), and the final state of every key the batch touched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Collapsed {
    pub truncated: bool,
    pub keys: BTreeMap<Key, Final>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CollapseError {
    #[error("a change has {found} columns where the table has {expected}")]
    Width { found: usize, expected: usize },
    #[error("an update of key {key:?} leaves a column unchanged, but the row does not exist: the table was truncated in this batch")]
    UnchangedAfterTruncate { key: Key },
}

/// A row being followed through the batch.
#[derive(Debug, Clone)]
struct Row {
    cells: Vec<Cell>,
    /// The target key its FromTarget cells come from.
    origin: Option<Key>,
}

/// Collapses `ops` (in commit order) for a table of `width` columns.
pub fn collapse(width: usize, ops: &[Op]) -> Result<Collapsed, CollapseError> {
    let mut out = Collapsed::default();
    // Only keys the batch touched; a key absent here is untouched.
    let mut state: BTreeMap<Key, Option<Row>> = BTreeMap::new();
    let check = |found: usize| if found == width { Ok(()) } else { Err(CollapseError::Width { found, expected: width }) };
    for op in ops {
        match op {
            Op::Insert { key, values } => {
                check(values.len())?;
                let cells = values.iter().cloned().map(Cell::Value).collect();
                state.insert(key.clone(), Some(Row { cells, origin: None }));
            }
            Op::Update { old_key, key, values } => {
                check(values.len())?;
                let from = old_key.as_ref().unwrap_or(key);
                let previous = match state.remove(from) {
                    Some(Some(row)) => row,
                    // Deleted earlier in the batch, or never seen: the row as the target holds
                    // it (an update of a deleted row cannot be decoded; the snapshot's overlap
                    // makes a missing target row possible, and then only sent values count).
                    Some(None) | None if !out.truncated => {
                        Row { cells: vec![Cell::FromTarget; width], origin: Some(from.clone()) }
                    }
                    _ => {
                        if values.contains(&Change::Unchanged) {
                            return Err(CollapseError::UnchangedAfterTruncate { key: key.clone() });
                        }
                        Row { cells: vec![Cell::Value(None); width], origin: None }
                    }
                };
                let cells: Vec<Cell> = values
                    .iter()
                    .zip(previous.cells)
                    .map(|(change, before)| match change {
                        Change::Value(v) => Cell::Value(v.clone()),
                        Change::Unchanged => before,
                    })
                    .collect();
                if old_key.as_ref().is_some_and(|old| old != key) {
                    state.insert(from.clone(), None);
                }
                let origin = cells.contains(&Cell::FromTarget).then_some(previous.origin).flatten();
                state.insert(key.clone(), Some(Row { cells, origin }));
            }
            Op::Delete { key } => {
                state.insert(key.clone(), None);
            }
            Op::Truncate => {
                state.clear();
                out.truncated = true;
            }
        }
    }
    out.keys = state
        .into_iter()
        .map(|(key, row)| {
            let last = match row {
                None => Final::Deleted,
                Some(Row { cells, origin }) => Final::Row { cells, fill_from: origin },
            };
            (key, last)
        })
        .collect();
    Ok(out)
}

#[cfg(test)]
mod tests;
