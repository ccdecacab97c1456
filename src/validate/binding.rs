//! Matching the file's header to the target's columns: which field feeds which column, how
//! each is checked, and what the header lacks or has in excess.
use std::path::Path;

use crate::db::ident;
use crate::error::{Error, Result};
use crate::feed::{Feed, Lookup, Rules, Source};
use crate::validate::types::TypeRule;

/// Staging keeps every source field as its own text column; more than this and the file is
/// refused with a clear error (PostgreSQL tables hold at most 1,600 columns).
pub const MAX_SOURCE_COLUMNS: usize = 1000;

pub(crate) const BPCHAR_OID: u32 = 1042;

/// One target column fed by the file.
#[derive(Debug, Clone)]
pub struct BoundColumn {
    pub target: String,
    pub source_index: usize,
    pub source_name: String,
    /// The rule for the file's value.
    pub rule: TypeRule,
    /// The rule for the value the target column receives: the file's value, or the value a
    /// lookup finds for it (judged by the target column's type).
    pub value_rule: TypeRule,
    pub type_oid: u32,
    /// Whether the type has equality (see [`crate::db::catalog::Column::equality`]).
    pub equality: bool,
    pub typmod: i32,
    /// The full type, e.g. `numeric(10,2)`, for messages.
    pub type_sql: String,
    /// The type staged values are cast to. Length-limited text types are cast to their base
    /// type, because an explicit `::varchar(n)` truncates silently; their length is checked
    /// on the way in and enforced by the assignment at promotion.
    pub cast_sql: String,
    pub not_null: bool,
    pub key: bool,
    pub lookup: Option<Lookup>,
    pub rules: Option<Rules>,
}

impl BoundColumn {
    /// The staging column holding this column's source field.
    pub fn stage_column(&self) -> String {
        stage_field(self.source_index)
    }

    /// Whether the server prints this column's value, given as `text`, exactly as `text`.
    pub fn prints_as_given(&self, text: &str) -> bool {
        self.rule.prints_as_given(self.type_oid, text)
    }
}

/// The name of the staging column for source field `index` (0-based).
pub fn stage_field(index: usize) -> String {
    ident(&format!("f{}", index + 1))
}

#[derive(Debug, Clone, Default)]
pub struct Binding {
    pub header: Vec<String>,
    pub columns: Vec<BoundColumn>,
    /// Things worth telling the operator that are not row problems (extra columns, ...).
    pub notes: Vec<String>,
}

impl Binding {
    pub fn column(&self, target: &str) -> Option<&BoundColumn> {
        self.columns.iter().find(|c| c.target == target)
    }

    pub fn key_columns(&self) -> impl Iterator<Item = &BoundColumn> {
        self.columns.iter().filter(|c| c.key)
    }

    pub fn value_columns(&self) -> impl Iterator<Item = &BoundColumn> {
        self.columns.iter().filter(|c| !c.key)
    }

    /// The column whose typed value is source field `index` itself (no lookup in between):
    /// where the server prints that value as the file has it, the field need not be kept.
    pub fn fed_directly(&self, index: usize) -> Option<&BoundColumn> {
        self.columns
            .iter()
            .find(|c| c.source_index == index && c.lookup.is_none())
    }

    /// The target's columns as validated (name, type, NOT NULL, key), to notice a target
    /// whose definition changed before promotion.
    pub fn definition(&self) -> serde_json::Value {
        serde_json::Value::Array(
            self.columns
                .iter()
                .map(|c| {
                    serde_json::json!([c.target, c.type_sql, c.not_null, c.key, c.source_index])
                })
                .collect(),
        )
    }
}

fn find_header(header: &[String], name: &str) -> Result<Option<usize>, Vec<usize>> {
    let exact: Vec<usize> = (0..header.len()).filter(|&i| header[i] == name).collect();
    let found = if exact.is_empty() {
        (0..header.len())
            .filter(|&i| header[i].eq_ignore_ascii_case(name))
            .collect()
    } else {
        exact
    };
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        _ => Err(found),
    }
}

/// Binds a header to the feed. `None` is a file without even a header line.
pub fn bind(feed: &Feed, file: &Path, header: Option<&[String]>) -> Result<Binding> {
    let Some(header) = header else {
        return Ok(Binding {
            notes: vec!["the file is empty: not even a header line".into()],
            ..Binding::default()
        });
    };
    let file_err = |problem: String| Error::File {
        path: file.to_owned(),
        problem,
    };
    if header.len() > MAX_SOURCE_COLUMNS {
        return Err(file_err(format!(
            "the header has {} columns; Airlock stages at most {MAX_SOURCE_COLUMNS}",
            header.len()
        )));
    }
    let target = &feed.target;
    let mut columns = Vec::new();
    let mut missing = Vec::new();
    let mut used = vec![false; header.len()];
    for col in &target.columns {
        let (source_name, lookup) = match feed.explicit.get(&col.name) {
            Some(Source::Field(f)) => (f.clone(), None),
            Some(Source::Lookup { from, lookup }) => (from.clone(), Some(lookup.clone())),
            None => (col.name.clone(), None),
        };
        let index = match find_header(header, &source_name) {
            Ok(found) => found,
            Err(positions) => {
                return Err(file_err(format!(
                    "column `{source_name}` appears {} times in the header (columns {})",
                    positions.len(),
                    positions
                        .iter()
                        .map(|p| (p + 1).to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        };
        let Some(index) = index else {
            let required = col.not_null && !col.has_default && !col.identity && !col.generated;
            let is_key = feed.key.contains(&col.name);
            let explicit = feed.explicit.contains_key(&col.name);
            if required || is_key || explicit {
                let why = if explicit {
                    format!("named in [columns] for `{}`", col.name)
                } else if is_key {
                    "the merge key".to_string()
                } else {
                    "NOT NULL without a default".to_string()
                };
                missing.push(format!("`{source_name}` ({why})"));
            }
            continue;
        };
        if col.generated || col.identity {
            // A file column named like a generated column is data we cannot load.
            continue;
        }
        used[index] = true;
        let value_rule = TypeRule::for_column(col);
        let rule = if lookup.is_some() {
            TypeRule::Text { max_chars: None }
        } else {
            value_rule.clone()
        };
        let cast_sql = match (&rule, &lookup) {
            // `character` without a length means character(1): name the unlimited form.
            (TypeRule::Text { .. }, None) if col.type_oid == BPCHAR_OID => "bpchar".to_string(),
            (TypeRule::Text { .. }, None) => col.base_type_sql.clone(),
            _ => col.type_sql.clone(),
        };
        columns.push(BoundColumn {
            target: col.name.clone(),
            source_index: index,
            source_name: header[index].clone(),
            rule,
            value_rule,
            type_oid: col.type_oid,
            equality: col.equality,
            typmod: col.typmod,
            type_sql: col.type_sql.clone(),
            cast_sql,
            not_null: col.not_null,
            key: feed.key.contains(&col.name),
            lookup,
            rules: feed.rules.get(&col.name).cloned(),
        });
    }
    if !missing.is_empty() {
        return Err(file_err(format!(
            "required column{} missing from the header: {}",
            if missing.len() > 1 { "s" } else { "" },
            missing.join(", ")
        )));
    }
    let mut notes = Vec::new();
    let extra: Vec<String> = header
        .iter()
        .enumerate()
        .filter(|(i, _)| !used[*i])
        .map(|(i, name)| {
            if name.is_empty() {
                format!("(unnamed column {})", i + 1)
            } else {
                format!("`{name}`")
            }
        })
        .collect();
    if !extra.is_empty() {
        notes.push(format!(
            "extra column{} in the file, kept in staging but not loaded into {}: {}",
            if extra.len() > 1 { "s" } else { "" },
            target.display_name(),
            extra.join(", ")
        ));
    }
    for rule_col in feed.rules.keys() {
        if !columns.iter().any(|c| &c.target == rule_col) {
            notes.push(format!(
                "[checks] for `{rule_col}` not applied: the file does not feed that column"
            ));
        }
    }
    Ok(Binding {
        header: header.to_vec(),
        columns,
        notes,
    })
}
