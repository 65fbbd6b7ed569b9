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
    let mut c = Collapser::new(width);
    for op in ops {
        c.push(op.clone())?;
    }
    Ok(c.finish())
}

/// The same, one change at a time: only the state of each key touched is kept (not the
/// changes), so a batch costs memory by its keys, not by its changes.
#[derive(Debug)]
pub struct Collapser {
    width: usize,
    truncated: bool,
    /// Only keys the batch touched (a key absent here is untouched), with the stamp (the
    /// caller's commit LSN) of the change that touched it last.
    state: BTreeMap<Key, (Option<Row>, u64)>,
}

impl Collapser {
    pub fn new(width: usize) -> Collapser {
        Collapser { width, truncated: false, state: BTreeMap::new() }
    }

    /// Applies the next change in commit order.
    pub fn push(&mut self, op: Op) -> Result<(), CollapseError> {
        self.push_at(op, 0)
    }

    /// The same, remembering `stamp` for the keys it touches.
    pub fn push_at(&mut self, op: Op, stamp: u64) -> Result<(), CollapseError> {
        let width = self.width;
        let check = |found: usize| if found == width { Ok(()) } else { Err(CollapseError::Width { found, expected: width }) };
        match op {
            Op::Insert { key, values } => {
                check(values.len())?;
                let cells = values.into_iter().map(Cell::Value).collect();
                self.state.insert(key, (Some(Row { cells, origin: None }), stamp));
            }
            Op::Update { old_key, key, values } => {
                check(values.len())?;
                let from = old_key.as_ref().unwrap_or(&key);
                let previous = match self.state.remove(from).map(|(row, _)| row) {
                    Some(Some(row)) => row,
                    // Deleted earlier in the batch, or never seen: the row as the target holds
                    // it (an update of a deleted row cannot be decoded; the snapshot's overlap
                    // makes a missing target row possible, and then only sent values count).
                    Some(None) | None if !self.truncated => {
                        Row { cells: vec![Cell::FromTarget; width], origin: Some(from.clone()) }
                    }
                    _ => {
                        if values.contains(&Change::Unchanged) {
                            return Err(CollapseError::UnchangedAfterTruncate { key });
                        }
                        Row { cells: vec![Cell::Value(None); width], origin: None }
                    }
                };
                let cells: Vec<Cell> = values
                    .into_iter()
                    .zip(previous.cells)
                    .map(|(change, before)| match change {
                        Change::Value(v) => Cell::Value(v),
                        Change::Unchanged => before,
                    })
                    .collect();
                if let Some(old) = old_key.filter(|old| *old != key) {
                    self.state.insert(old, (None, stamp));
                }
                let origin = cells.contains(&Cell::FromTarget).then_some(previous.origin).flatten();
                self.state.insert(key, (Some(Row { cells, origin }), stamp));
            }
            Op::Delete { key } => {
                self.state.insert(key, (None, stamp));
            }
            Op::Truncate => {
                self.state.clear();
                self.truncated = true;
            }
        }
        Ok(())
    }

    /// The final state of every key touched.
    pub fn finish(self) -> Collapsed {
        let (truncated, finals) = self.finish_stamped();
        Collapsed { truncated, keys: finals.map(|(key, last, _)| (key, last)).collect() }
    }

    /// Whether the table was truncated first, and the final state of every key touched with
    /// the stamp of its last change, in key order, each handed over as it is read.
    pub fn finish_stamped(self) -> (bool, impl Iterator<Item = (Key, Final, u64)>) {
        let finals = self.state.into_iter().map(|(key, (row, stamp))| {
            let last = match row {
                None => Final::Deleted,
                Some(Row { cells, origin }) => Final::Row { cells, fill_from: origin },
            };
            (key, last, stamp)
        });
        (self.truncated, finals)
    }
}

#[cfg(test)]
mod tests;
