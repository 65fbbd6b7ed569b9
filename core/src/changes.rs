//! A change stream's batch, from pgoutput's messages to the rows its change files hold: each
//! message is checked against the stream's tables as they were when the stream started (a
//! changed table stops the stream rather than losing or misplacing a value), turned into an
//! [`Op`] of its table in commit order, and each table's ops are collapsed to one final state
//! per primary key ([`collapse`]). The commit-LSN range the batch covers and its identity are
//! decided here too. No PostgreSQL: the extension feeds the messages and stages the rows.

use std::collections::{BTreeMap, HashMap};

use pg2redshift_bundle::quote_qualified;

use crate::collapse::{Cell, Change, CollapseError, Collapser, Final, Key, Op};
use crate::pgoutput::{DecodeError, Lsn, Message, OldTuple, Relation, Value, parse};

/// One column of a captured table, as `pg_attribute` has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSpec {
    pub name: String,
    pub type_oid: u32,
    pub typmod: i32,
}

/// A captured table: its columns (every non-dropped one, in order) and its primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    pub oid: u32,
    pub schema: String,
    pub name: String,
    pub columns: Vec<ColumnSpec>,
    /// Indexes into `columns` of the primary key's columns, in key order.
    pub key: Vec<usize>,
}

impl TableSpec {
    pub fn qualified(&self) -> String {
        quote_qualified(&self.schema, &self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("logical decoding sent a change of relation {0}, which the stream does not capture")]
    UnknownRelation(u32),
    #[error("a change arrived for relation {0} before its description")]
    UndescribedRelation(u32),
    #[error("table {table} changed since the stream started: {detail}")]
    SchemaChanged { table: String, detail: String },
    #[error("table {table}: an update at LSN {lsn} left key column {column} unchanged and sent no old key, so the row cannot be found")]
    UnchangedKey { table: String, lsn: Lsn, column: String },
    #[error("table {table}: a change at LSN {lsn} has no old key")]
    MissingOldKey { table: String, lsn: Lsn },
    #[error("table {table}: an insert at LSN {lsn} marks column {column} unchanged")]
    UnchangedInInsert { table: String, lsn: Lsn, column: String },
    #[error("table {table}: column {column} at LSN {lsn} is not valid UTF-8 text")]
    NotText { table: String, lsn: Lsn, column: String },
    #[error("a change at LSN {0} arrived outside a transaction")]
    OutsideTransaction(Lsn),
    #[error("table {table}: {source}")]
    Collapse {
        table: String,
        #[source]
        source: CollapseError,
    },
}

/// What one table's changes in a batch come to, collapsed as they arrive (a batch costs memory
/// by the keys it touches, plus its largest transaction, not by its changes).
#[derive(Debug)]
pub struct TableChanges {
    /// Changes captured (before collapsing).
    pub captured: u64,
    collapser: Collapser,
    /// The first collapse error, reported when the table is finished.
    error: Option<CollapseError>,
}

impl TableChanges {
    fn new(width: usize) -> TableChanges {
        TableChanges { captured: 0, collapser: Collapser::new(width), error: None }
    }
}

/// What the caller does after a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// A table that has changes in this batch got a column: the batch ends before the
    /// transaction being read (at [`Decoder::last_commit_end`]), so that each batch describes
    /// each table with one set of columns. The rest belongs to the next batch.
    Stop,
}

/// One change waiting for its transaction's commit.
struct Pending {
    relation: u32,
    lsn: Lsn,
    op: Op,
}

/// Reads a batch's messages in order. Changes count once their transaction's commit is read.
pub struct Decoder {
    /// The captured tables, with any columns added in this batch.
    tables: HashMap<u32, TableSpec>,
    /// Columns added to a table in this batch (appended to its spec), by relation.
    pub added: BTreeMap<u32, Vec<ColumnSpec>>,
    /// Relations described in this decoding session and checked against their spec.
    described: HashMap<u32, ()>,
    /// Commit LSN of the transaction being read.
    current: Option<Lsn>,
    pending: Vec<Pending>,
    /// End of the last commit read.
    pub last_commit_end: Option<Lsn>,
    /// Its commit time, microseconds since 2000-01-01.
    pub last_commit_time_us: Option<i64>,
    /// Whether reading stopped before a transaction (see [`Flow::Stop`]).
    pub stopped: bool,
    pub changes: BTreeMap<u32, TableChanges>,
}

impl Decoder {
    pub fn new(tables: &[TableSpec]) -> Decoder {
        Decoder {
            tables: tables.iter().map(|t| (t.oid, t.clone())).collect(),
            added: BTreeMap::new(),
            described: HashMap::new(),
            current: None,
            pending: Vec::new(),
            last_commit_end: None,
            last_commit_time_us: None,
            stopped: false,
            changes: BTreeMap::new(),
        }
    }

    /// A captured table as this batch describes it (with the columns added in it).
    pub fn spec(&self, relation: u32) -> Option<&TableSpec> {
        self.tables.get(&relation)
    }

    /// Reads one message, as `pg_logical_slot_peek_binary_changes` returned it.
    pub fn read(&mut self, bytes: &[u8]) -> Result<Flow, ChangeError> {
        if self.stopped {
            return Ok(Flow::Stop);
        }
        match parse(bytes)? {
            Message::Begin { final_lsn, .. } => {
                self.current = Some(final_lsn);
                self.pending.clear();
            }
            Message::Commit { end_lsn, commit_time_us, .. } => {
                self.current = None;
                self.last_commit_end = Some(end_lsn);
                self.last_commit_time_us = Some(commit_time_us);
                for p in std::mem::take(&mut self.pending) {
                    let width = self.tables.get(&p.relation).map(|t| t.columns.len()).unwrap_or_default();
                    let entry = self.changes.entry(p.relation).or_insert_with(|| TableChanges::new(width));
                    entry.captured += 1;
                    if entry.error.is_none()
                        && let Err(e) = entry.collapser.push_at(p.op, p.lsn.0)
                    {
                        entry.error = Some(e);
                    }
                }
            }
            Message::Relation(relation) => return self.describe(&relation),
            Message::Insert { relation, new } => {
                let (table, lsn) = self.table(relation)?;
                let key = key_of(table, lsn, &new)?;
                let mut values = Vec::with_capacity(new.len());
                for (value, column) in new.iter().zip(&table.columns) {
                    match text(table, lsn, column, value)? {
                        Change::Value(v) => values.push(v),
                        Change::Unchanged => {
                            return Err(ChangeError::UnchangedInInsert {
                                table: table.qualified(),
                                lsn,
                                column: column.name.clone(),
                            });
                        }
                    }
                }
                self.push(relation, lsn, Op::Insert { key, values });
            }
            Message::Update { relation, old, new } => {
                let (table, lsn) = self.table(relation)?;
                let old_key = match &old {
                    Some(OldTuple::Key(values) | OldTuple::Full(values)) => Some(key_of(table, lsn, values)?),
                    None => None,
                };
                let key = match key_of(table, lsn, &new) {
                    Ok(key) => key,
                    // An unchanged key column is not sent; the old key then names the row.
                    Err(ChangeError::UnchangedKey { .. }) if old_key.is_some() => old_key.clone().unwrap_or_default(),
                    Err(err) => return Err(err),
                };
                let mut values = Vec::with_capacity(new.len());
                for (value, column) in new.iter().zip(&table.columns) {
                    values.push(text(table, lsn, column, value)?);
                }
                let old_key = old_key.filter(|old| *old != key);
                self.push(relation, lsn, Op::Update { old_key, key, values });
            }
            Message::Delete { relation, old } => {
                let (table, lsn) = self.table(relation)?;
                let (OldTuple::Key(values) | OldTuple::Full(values)) = &old;
                let key = key_of(table, lsn, values).map_err(|_| ChangeError::MissingOldKey { table: table.qualified(), lsn })?;
                self.push(relation, lsn, Op::Delete { key });
            }
            Message::Truncate { relations, .. } => {
                for relation in relations {
                    let (_, lsn) = self.table(relation)?;
                    self.push(relation, lsn, Op::Truncate);
                }
            }
            // Types are described before relations that use them; origins and messages carry
            // no rows.
            Message::Type { .. } | Message::Origin { .. } | Message::Message { .. } => {}
        }
        Ok(Flow::Continue)
    }

    fn push(&mut self, relation: u32, lsn: Lsn, op: Op) {
        self.pending.push(Pending { relation, lsn, op });
    }

    /// The captured table a change belongs to, and its transaction's commit LSN.
    fn table(&self, relation: u32) -> Result<(&TableSpec, Lsn), ChangeError> {
        let table = self.tables.get(&relation).ok_or(ChangeError::UnknownRelation(relation))?;
        if !self.described.contains_key(&relation) {
            return Err(ChangeError::UndescribedRelation(relation));
        }
        let lsn = self.current.ok_or(ChangeError::OutsideTransaction(Lsn::default()))?;
        Ok((table, lsn))
    }

    /// Checks a relation's description against the table as the stream captured it. Columns
    /// added at the end are taken on when the batch has no change of the table yet; otherwise
    /// the batch stops before this transaction.
    fn describe(&mut self, relation: &Relation) -> Result<Flow, ChangeError> {
        let table = self.tables.get(&relation.oid).ok_or(ChangeError::UnknownRelation(relation.oid))?;
        let changed = |detail: String| ChangeError::SchemaChanged { table: table.qualified(), detail };
        if relation.schema != table.schema || relation.name != table.name {
            return Err(changed(format!("it is now {}", quote_qualified(&relation.schema, &relation.name))));
        }
        for (i, spec) in table.columns.iter().enumerate() {
            let Some(now) = relation.columns.get(i) else {
                return Err(changed(format!("column {} was dropped", spec.name)));
            };
            if now.name != spec.name {
                return Err(changed(format!("column {} is now {} (dropped, renamed or reordered)", spec.name, now.name)));
            }
            if now.type_oid != spec.type_oid || now.typmod != spec.typmod {
                return Err(changed(format!("the type of column {} changed", spec.name)));
            }
        }
        let added: Vec<ColumnSpec> = relation.columns[table.columns.len()..]
            .iter()
            .map(|c| ColumnSpec { name: c.name.clone(), type_oid: c.type_oid, typmod: c.typmod })
            .collect();
        if !added.is_empty() {
            if self.pending.iter().any(|p| p.relation == relation.oid) {
                return Err(changed(format!(
                    "column {} was added inside a transaction that had already changed the table",
                    added[0].name
                )));
            }
            if self.changes.contains_key(&relation.oid) {
                self.stopped = true;
                self.pending.clear();
                return Ok(Flow::Stop);
            }
            if let Some(table) = self.tables.get_mut(&relation.oid) {
                table.columns.extend(added.iter().cloned());
            }
            self.added.entry(relation.oid).or_default().extend(added);
        }
        self.described.insert(relation.oid, ());
        Ok(Flow::Continue)
    }
}

/// A value as text, or unchanged.
fn text(table: &TableSpec, lsn: Lsn, column: &ColumnSpec, value: &Value) -> Result<Change, ChangeError> {
    let not_text = || ChangeError::NotText { table: table.qualified(), lsn, column: column.name.clone() };
    Ok(match value {
        Value::Null => Change::Value(None),
        Value::Unchanged => Change::Unchanged,
        Value::Text(bytes) => Change::Value(Some(String::from_utf8(bytes.clone()).map_err(|_| not_text())?)),
        Value::Binary(_) => return Err(not_text()),
    })
}

/// The primary key's values in a tuple (a whole row, or an old key with the other columns NULL).
fn key_of(table: &TableSpec, lsn: Lsn, tuple: &[Value]) -> Result<Key, ChangeError> {
    if tuple.len() != table.columns.len() {
        return Err(ChangeError::SchemaChanged {
            table: table.qualified(),
            detail: format!("a change at LSN {lsn} has {} columns where the stream knows {}", tuple.len(), table.columns.len()),
        });
    }
    let mut key = Vec::with_capacity(table.key.len());
    for &i in &table.key {
        let column = &table.columns[i];
        match text(table, lsn, column, &tuple[i])? {
            Change::Value(v) => key.push(v),
            Change::Unchanged => {
                return Err(ChangeError::UnchangedKey { table: table.qualified(), lsn, column: column.name.clone() });
            }
        }
    }
    Ok(key)
}

/// One row of a change file, before encoding: the final state of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRow {
    /// `U` (this row replaces the key's) or `D` (the key's row goes).
    pub op: char,
    /// Commit LSN of the key's last change.
    pub lsn: Lsn,
    /// One `0`/`1` per column (`1`: the target's value under `fill_key`); None when none is.
    pub fill: Option<String>,
    /// The key of the target row the filled columns come from.
    pub fill_key: Option<Key>,
    /// Every column; NULL where filled. A `D` row holds only its key.
    pub values: Vec<Option<String>>,
}

/// A table's batch, collapsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollapsedTable {
    pub truncated: bool,
    pub captured: u64,
    pub rows: Vec<ChangeRow>,
    /// Indexes of the columns some row fills from the target.
    pub fill_columns: Vec<usize>,
}

/// Finishes one table's changes: one row per key, in key order.
pub fn collapse_table(table: &TableSpec, changes: TableChanges) -> Result<CollapsedTable, ChangeError> {
    if let Some(source) = changes.error {
        return Err(ChangeError::Collapse { table: table.qualified(), source });
    }
    let width = table.columns.len();
    let (truncated, finals) = changes.collapser.finish_stamped();
    let mut filled = vec![false; width];
    let mut rows = Vec::new();
    for (key, last, stamp) in finals {
        let lsn = Lsn(stamp);
        let row = match last {
            Final::Deleted => {
                let mut values = vec![None; width];
                for (&i, v) in table.key.iter().zip(key) {
                    values[i] = v;
                }
                ChangeRow { op: 'D', lsn, fill: None, fill_key: None, values }
            }
            Final::Row { cells, fill_from } => {
                let mut mask = String::with_capacity(width);
                let mut values = Vec::with_capacity(width);
                for (i, cell) in cells.into_iter().enumerate() {
                    match cell {
                        Cell::Value(v) => {
                            mask.push('0');
                            values.push(v);
                        }
                        Cell::FromTarget => {
                            mask.push('1');
                            filled[i] = true;
                            values.push(None);
                        }
                    }
                }
                let fill = fill_from.is_some().then_some(mask);
                ChangeRow { op: 'U', lsn, fill, fill_key: fill_from, values }
            }
        };
        rows.push(row);
    }
    let fill_columns = filled.iter().enumerate().filter(|(_, f)| **f).map(|(i, _)| i).collect();
    Ok(CollapsedTable { truncated, captured: changes.captured, rows, fill_columns })
}

/// The end of a batch's commit-LSN range. Decoding was asked for the transactions that commit
/// before `upto` and, when `limit_reached`, stopped after the transaction that reached the
/// row limit. PostgreSQL also hands over the transaction whose commit record straddles `upto`,
/// so the range ends at the later of the two; after a stop at the limit, at that commit's end.
pub fn range_end(upto: Lsn, last_commit_end: Option<Lsn>, limit_reached: bool) -> Lsn {
    // (A batch that stopped before a transaction ends at its last commit too: pass it as
    // limit_reached.)
    match (limit_reached, last_commit_end) {
        (true, Some(end)) => end,
        (_, Some(end)) => end.max(upto),
        (_, None) => upto,
    }
}

/// The identity of a stream's batch: the same range always gets the same id, so a batch
/// exported again after a failure replaces its own files and the loader knows it.
pub fn batch_id(stream: &str, from: Lsn, to: Lsn) -> String {
    format!("{}{:016X}-{:016X}", batch_id_prefix(stream), from.0, to.0)
}

/// What every batch id of a stream starts with (`cdc-<stream>-`).
pub fn batch_id_prefix(stream: &str) -> String {
    format!("cdc-{stream}-")
}

/// The `to` LSN of a batch id of `stream` starting at `from`, if `id` is one.
pub fn batch_end(stream: &str, from: Lsn, id: &str) -> Option<Lsn> {
    let rest = id.strip_prefix(&batch_id_prefix(stream))?;
    let (start, end) = rest.split_once('-')?;
    (u64::from_str_radix(start, 16).ok()? == from.0 && end.len() == 16).then_some(())?;
    u64::from_str_radix(end, 16).ok().map(Lsn)
}

#[cfg(test)]
mod tests;
