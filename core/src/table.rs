//! Builds the Redshift table definition of one source relation: names checked and folded,
//! types mapped, keys validated. Everything that could fail does so here, before any data moves.

use std::collections::BTreeMap;

use pg2redshift_bundle::redshift::{
    MAX_COLUMNS, MAX_COMPOUND_SORTKEY_COLUMNS, MAX_INTERLEAVED_SORTKEY_COLUMNS,
};
use pg2redshift_bundle::{ColumnDef, DistStyle, RedshiftType, SortKey, TableDef, quote_ident};

use crate::mapping::{MappingOptions, TypeMapping, map_type};
use crate::names::{NameProblem, check_column_name, check_relation_name, fold};
use crate::source::SourceColumn;

/// The user's choices for one table (SQL function options).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableOptions {
    /// Redshift schema; default: the source schema.
    pub target_schema: Option<String>,
    /// Redshift table; default: the source table.
    pub target_table: Option<String>,
    /// `auto` (default), `even`, `all` or `key` (needs `distkey`).
    pub diststyle: Option<String>,
    pub distkey: Option<String>,
    /// Sort key columns; none means `SORTKEY AUTO`.
    pub sortkey: Option<Vec<String>>,
    /// `compound` (default) or `interleaved`.
    pub sortkey_style: Option<String>,
    pub mapping: MappingOptions,
}

/// One exported column: where it comes from and what it becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnPlan {
    pub source_name: String,
    pub declared_type: String,
    pub target_name: String,
    pub mapping: TypeMapping,
    pub not_null: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TablePlan {
    pub table: TableDef,
    pub columns: Vec<ColumnPlan>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefinitionError {
    #[error("{relation} has no columns to export")]
    NoColumns { relation: String },
    #[error("{relation} has {count} columns; a Redshift table holds at most 1600")]
    TooManyColumns { relation: String, count: usize },
    #[error("{what} name {} of {relation} {problem}", quote_ident(name))]
    InvalidName { relation: String, what: &'static str, name: String, problem: NameProblem },
    #[error("columns of {relation} collide once Redshift folds names to lowercase: {}", describe_collisions(.groups))]
    NameCollision { relation: String, groups: Vec<(String, Vec<String>)> },
    #[error("invalid value {} for option {option}: expected {expected}", literal(value))]
    InvalidOption { option: &'static str, value: String, expected: &'static str },
    #[error("option {option} names column {}, which {relation} does not have", quote_ident(column))]
    UnknownColumn { relation: String, option: &'static str, column: String },
    #[error("option {option}: column {} of {relation} becomes {ty}, which Redshift does not allow as a distribution or sort key", quote_ident(column))]
    KeyColumnType { relation: String, option: &'static str, column: String, ty: RedshiftType },
}

/// A value as an SQL literal, as messages show option values.
fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

fn describe_collisions(groups: &[(String, Vec<String>)]) -> String {
    groups
        .iter()
        .map(|(folded, names)| {
            let names: Vec<String> = names.iter().map(|n| quote_ident(n)).collect();
            format!("{} all become {}", names.join(", "), quote_ident(folded))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl DefinitionError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            DefinitionError::NoColumns { .. } => None,
            DefinitionError::TooManyColumns { .. } => {
                Some("Export a view that selects at most 1600 of the columns.")
            }
            DefinitionError::InvalidName { what: "column", .. } => {
                Some("Export a view that renames the column.")
            }
            DefinitionError::InvalidName { .. } => {
                Some("Choose another name with the target_schema or target_table option.")
            }
            DefinitionError::NameCollision { .. } => Some("Export a view that renames the columns."),
            DefinitionError::InvalidOption { .. } => None,
            DefinitionError::UnknownColumn { .. } => {
                Some("Name columns as they are in the source table; see redshift_columns() for the list.")
            }
            DefinitionError::KeyColumnType { .. } => Some(
                "Choose a column of a scalar type (not SUPER, VARBYTE, GEOMETRY or GEOGRAPHY).",
            ),
        }
    }
}

/// `schema` and `table` are the source relation's names; `primary_key` its key columns (source
/// names, in key order), empty when it has none.
pub fn plan_table(
    schema: &str,
    table: &str,
    columns: &[SourceColumn],
    primary_key: &[String],
    options: &TableOptions,
) -> Result<TablePlan, DefinitionError> {
    let relation = pg2redshift_bundle::quote_qualified(schema, table);
    if columns.is_empty() {
        return Err(DefinitionError::NoColumns { relation });
    }
    if columns.len() > MAX_COLUMNS {
        return Err(DefinitionError::TooManyColumns { relation, count: columns.len() });
    }
    let target_schema = options.target_schema.clone().unwrap_or_else(|| schema.to_string());
    let target_table = options.target_table.clone().unwrap_or_else(|| table.to_string());
    for (what, name) in [("schema", &target_schema), ("table", &target_table)] {
        check_relation_name(name).map_err(|problem| DefinitionError::InvalidName {
            relation: relation.clone(),
            what,
            name: name.clone(),
            problem,
        })?;
    }

    let mut plans = Vec::with_capacity(columns.len());
    let mut by_folded: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for column in columns {
        check_column_name(&column.name).map_err(|problem| DefinitionError::InvalidName {
            relation: relation.clone(),
            what: "column",
            name: column.name.clone(),
            problem,
        })?;
        let target_name = fold(&column.name);
        by_folded.entry(target_name.clone()).or_default().push(column.name.clone());
        plans.push(ColumnPlan {
            source_name: column.name.clone(),
            declared_type: column.declared_type.clone(),
            target_name,
            mapping: map_type(&column.ty, &options.mapping),
            not_null: column.not_null,
        });
    }
    let groups: Vec<(String, Vec<String>)> =
        by_folded.into_iter().filter(|(_, names)| names.len() > 1).collect();
    if !groups.is_empty() {
        return Err(DefinitionError::NameCollision { relation, groups });
    }

    let key_column = |option: &'static str, name: &str| -> Result<String, DefinitionError> {
        let wanted = fold(name);
        let plan = plans
            .iter()
            .find(|p| p.source_name == name)
            .or_else(|| plans.iter().find(|p| p.target_name == wanted))
            .ok_or_else(|| DefinitionError::UnknownColumn {
                relation: relation.clone(),
                option,
                column: name.to_string(),
            })?;
        if !plan.mapping.redshift.can_be_key() {
            return Err(DefinitionError::KeyColumnType {
                relation: relation.clone(),
                option,
                column: name.to_string(),
                ty: plan.mapping.redshift,
            });
        }
        Ok(plan.target_name.clone())
    };

    let dist_style = match (option_word(&options.diststyle), &options.distkey) {
        (None | Some("key"), Some(column)) => DistStyle::Key(key_column("distkey", column)?),
        (None | Some("auto"), None) => DistStyle::Auto,
        (Some("even"), None) => DistStyle::Even,
        (Some("all"), None) => DistStyle::All,
        (Some("key"), None) => {
            return Err(DefinitionError::InvalidOption {
                option: "distkey",
                value: String::new(),
                expected: "a column name when diststyle is 'key'",
            });
        }
        (Some(style @ ("auto" | "even" | "all")), Some(_)) => {
            return Err(DefinitionError::InvalidOption {
                option: "diststyle",
                value: style.to_string(),
                expected: "'key' (or no diststyle) when a distkey is given",
            });
        }
        (Some(_), _) => {
            return Err(DefinitionError::InvalidOption {
                option: "diststyle",
                value: options.diststyle.clone().unwrap_or_default(),
                expected: "one of auto, even, all, key",
            });
        }
    };

    let sort_key = match &options.sortkey {
        None => {
            if let Some(style) = &options.sortkey_style {
                return Err(DefinitionError::InvalidOption {
                    option: "sortkey_style",
                    value: style.clone(),
                    expected: "no sortkey_style unless sortkey names columns",
                });
            }
            SortKey::Auto
        }
        Some(names) => {
            if names.is_empty() {
                return Err(DefinitionError::InvalidOption {
                    option: "sortkey",
                    value: "{}".into(),
                    expected: "at least one column (leave it out for SORTKEY AUTO)",
                });
            }
            let columns =
                names.iter().map(|n| key_column("sortkey", n)).collect::<Result<Vec<_>, _>>()?;
            if let Some(twice) = columns.iter().enumerate().find_map(|(i, c)| columns[..i].contains(c).then_some(c)) {
                return Err(DefinitionError::InvalidOption {
                    option: "sortkey",
                    value: twice.clone(),
                    expected: "each column at most once",
                });
            }
            match option_word(&options.sortkey_style) {
                None | Some("compound") if columns.len() <= MAX_COMPOUND_SORTKEY_COLUMNS => {
                    SortKey::Compound(columns)
                }
                Some("interleaved") if columns.len() <= MAX_INTERLEAVED_SORTKEY_COLUMNS => {
                    SortKey::Interleaved(columns)
                }
                None | Some("compound" | "interleaved") => {
                    return Err(DefinitionError::InvalidOption {
                        option: "sortkey",
                        value: format!("{} columns", columns.len()),
                        expected: "at most 400 compound or 8 interleaved sort key columns",
                    });
                }
                Some(_) => {
                    return Err(DefinitionError::InvalidOption {
                        option: "sortkey_style",
                        value: options.sortkey_style.clone().unwrap_or_default(),
                        expected: "compound or interleaved",
                    });
                }
            }
        }
    };

    let primary_key = primary_key
        .iter()
        .map(|name| {
            plans.iter().find(|p| &p.source_name == name).map(|p| p.target_name.clone()).ok_or_else(
                || DefinitionError::UnknownColumn {
                    relation: relation.clone(),
                    option: "primary key",
                    column: name.clone(),
                },
            )
        })
        .collect::<Result<Vec<_>, _>>()?;

    let table = TableDef {
        schema: fold(&target_schema),
        name: fold(&target_table),
        columns: plans
            .iter()
            .map(|p| ColumnDef {
                name: p.target_name.clone(),
                data_type: p.mapping.redshift,
                not_null: p.not_null,
            })
            .collect(),
        primary_key,
        dist_style,
        sort_key,
    };
    Ok(TablePlan { table, columns: plans })
}

/// Option words are case-insensitive.
fn option_word(value: &Option<String>) -> Option<&'static str> {
    let value = value.as_deref()?.trim().to_ascii_lowercase();
    Some(match value.as_str() {
        "auto" => "auto",
        "even" => "even",
        "all" => "all",
        "key" => "key",
        "compound" => "compound",
        "interleaved" => "interleaved",
        _ => "",
    })
}

#[cfg(test)]
mod tests;
