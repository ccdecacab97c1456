//! A ClickHouse table as Airlock reads it from the engine's own catalog (`system.tables`,
//! `system.columns`, `system.databases`): its columns and their types, which of them a file
//! may fill, its key, its CHECK constraints and whether `EXCHANGE TABLES` can replace it.
use super::client::{ClickHouse, ident, quote};
use super::types::{self, ColumnType};
use crate::db::catalog::{CheckConstraint, Column, Table};
use crate::engine::Engine;
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct ChTable {
    pub database: String,
    pub name: String,
    /// `MergeTree`, `ReplacingMergeTree`, `Memory`, …
    pub engine: String,
    /// The database's engine: `EXCHANGE TABLES` needs `Atomic` (or `Replicated`).
    pub database_engine: String,
    /// The ORDER BY's columns, when every part of it is a plain column.
    pub sorting_key: Option<Vec<String>>,
    /// The PRIMARY KEY's columns, likewise.
    pub primary_key: Option<Vec<String>>,
    pub columns: Vec<ChColumn>,
    pub constraints: Vec<Constraint>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChColumn {
    pub name: String,
    pub ty: ColumnType,
    pub default: Default,
}

/// Where a column's value comes from when a file does not give it.
#[derive(Debug, Clone, PartialEq)]
pub enum Default {
    /// The type's own default (0, '', 1970-01-01) unless `Nullable`.
    None,
    /// `DEFAULT expr`: the file may fill it.
    Expression(String),
    /// `MATERIALIZED`, `ALIAS`, `EPHEMERAL`: computed; a file cannot fill it.
    Computed(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Constraint {
    pub name: String,
    /// The SQL of the condition every row must meet.
    pub check: String,
}

impl ChTable {
    /// `` `db`.`table` ``, as every statement names it.
    pub fn sql_name(&self) -> String {
        format!("{}.{}", ident(&self.database), ident(&self.name))
    }

    pub fn display_name(&self) -> String {
        format!("{}.{}", self.database, self.name)
    }

    /// The columns a file may fill (not computed ones).
    pub fn settable(&self) -> impl Iterator<Item = &ChColumn> {
        self.columns
            .iter()
            .filter(|c| !matches!(c.default, Default::Computed(_)))
    }

    /// The key rows are matched by when the spec names none: the ORDER BY (what a
    /// `ReplacingMergeTree` deduplicates by), else the PRIMARY KEY.
    pub fn natural_key(&self) -> Option<&[String]> {
        self.sorting_key
            .as_deref()
            .or(self.primary_key.as_deref())
            .filter(|k| !k.is_empty())
    }

    /// The table in the engine-neutral form feed resolution, binding and the row checks
    /// read: each column carries its ClickHouse type, whose rules judge its values; a
    /// computed column counts as generated (a file cannot fill it), `Nullable` decides NOT
    /// NULL, and the natural key stands for the primary key. ClickHouse has no unique
    /// indexes nor foreign keys.
    pub fn to_table(&self) -> Table {
        let columns = self
            .columns
            .iter()
            .map(|c| Column {
                name: c.name.clone(),
                type_oid: 0,
                typmod: -1,
                type_sql: c.ty.text.clone(),
                base_type_sql: c.ty.text.clone(),
                type_kind: 'b',
                not_null: !c.ty.nullable,
                has_default: matches!(c.default, Default::Expression(_)),
                identity: false,
                generated: matches!(c.default, Default::Computed(_)),
                equality: true,
                generation: None,
                clickhouse: Some(c.ty.clone()),
            })
            .collect();
        Table {
            engine: Engine::ClickHouse,
            oid: 0,
            schema: self.database.clone(),
            name: self.name.clone(),
            columns,
            primary_key: self
                .natural_key()
                .map(<[String]>::to_vec)
                .unwrap_or_default(),
            unique_indexes: Vec::new(),
            checks: self
                .constraints
                .iter()
                .map(|c| CheckConstraint {
                    name: c.name.clone(),
                    expr: c.check.clone(),
                    columns: self
                        .columns
                        .iter()
                        .filter(|col| mentions(&c.check, &col.name))
                        .map(|col| col.name.clone())
                        .collect(),
                })
                .collect(),
            foreign_keys: Vec::new(),
            partitioning: None,
        }
    }

    /// Why `EXCHANGE TABLES` cannot replace this table, if it cannot.
    pub fn exchange_refused(&self) -> Option<String> {
        match self.database_engine.as_str() {
            "Atomic" | "Replicated" => None,
            other => Some(format!(
                "database {} uses the {other} engine; EXCHANGE TABLES needs an Atomic database",
                self.database
            )),
        }
    }
}

/// Reads `target` (`table` in the connection's database, or `database.table`); refused
/// with the reason when there is no such table or it cannot be loaded into.
pub async fn describe(ch: &ClickHouse, target: &str) -> Result<ChTable> {
    let refuse = |problem: String| Error::Target {
        target: target.to_string(),
        problem,
    };
    match find(ch, target).await? {
        Ok(Some(table)) => Ok(table),
        Ok(None) => {
            let (database, name) = qualify(ch, target).unwrap_or_default();
            Err(refuse(format!(
                "no table {name} in ClickHouse database {database}"
            )))
        }
        Err(problem) => Err(refuse(problem)),
    }
}

/// `(database, table)` of a name, the connection's database when it names none.
fn qualify(ch: &ClickHouse, target: &str) -> Option<(String, String)> {
    match split_name(target)? {
        (Some(db), name) => Some((db, name)),
        (None, name) => Some((ch.url().database.clone(), name)),
    }
}

/// The table `target` names: `Ok(None)` when there is none, the inner `Err` when `target`
/// is not a table name or names something that is not a table (a view).
pub async fn find(
    ch: &ClickHouse,
    target: &str,
) -> Result<std::result::Result<Option<ChTable>, String>> {
    let Some((database, name)) = qualify(ch, target) else {
        return Ok(Err("is not a table name (table or database.table)".into()));
    };
    let context = format!("reading the definition of {database}.{name}");
    let tables = ch
        .rows(
            &format!(
                "SELECT t.engine, t.sorting_key, t.primary_key, t.create_table_query, d.engine \
                 FROM system.tables AS t JOIN system.databases AS d ON d.name = t.database \
                 WHERE t.database = {} AND t.name = {}",
                quote(&database),
                quote(&name)
            ),
            &context,
        )
        .await?;
    let Some(row) = tables.into_iter().next() else {
        return Ok(Ok(None));
    };
    let text = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
    let engine = text(0);
    if matches!(
        engine.as_str(),
        "View" | "MaterializedView" | "LiveView" | "WindowView" | "Dictionary"
    ) {
        return Ok(Err(format!("is a {engine}; Airlock loads into tables")));
    }
    let columns = ch
        .rows(
            &format!(
                "SELECT name, type, default_kind, default_expression FROM system.columns \
                 WHERE database = {} AND table = {} ORDER BY position",
                quote(&database),
                quote(&name)
            ),
            &context,
        )
        .await?
        .into_iter()
        .map(|r| {
            let field = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
            let expression = field(3);
            ChColumn {
                name: field(0),
                ty: types::parse(&field(1)),
                default: match field(2).as_str() {
                    "" => Default::None,
                    "DEFAULT" => Default::Expression(expression),
                    kind => Default::Computed(format!("{kind} {expression}").trim().to_string()),
                },
            }
        })
        .collect::<Vec<ChColumn>>();
    // A date-time's values are judged in its zone, as the engine applies it.
    let mut columns = columns;
    for c in &mut columns {
        if let types::ChType::DateTime { zone, .. } = &c.ty.base {
            c.ty.zone = Some(super::zone::load(ch, zone.as_deref()).await?);
        }
    }
    Ok(Ok(Some(ChTable {
        sorting_key: plain_columns(&text(1)),
        primary_key: plain_columns(&text(2)),
        constraints: constraints(&text(3)),
        database_engine: text(4),
        engine,
        columns,
        database,
        name,
    })))
}

/// Whether `expr` names column `name` (as a whole word, or quoted).
fn mentions(expr: &str, name: &str) -> bool {
    if expr.contains(&format!("`{name}`")) || expr.contains(&format!("\"{name}\"")) {
        return true;
    }
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    expr.match_indices(name).any(|(at, _)| {
        let before = expr[..at].chars().next_back();
        let after = expr[at + name.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

/// `table`, `db.table`, or either part in backticks or double quotes.
fn split_name(target: &str) -> Option<(Option<String>, String)> {
    let parts = split_top(target.trim(), '.');
    let name = |p: &str| {
        let p = p.trim();
        let unquoted = unquote(p).unwrap_or_else(|| p.to_string());
        (!unquoted.is_empty()).then_some(unquoted)
    };
    match parts.as_slice() {
        [t] => Some((None, name(t)?)),
        [d, t] => Some((Some(name(d)?), name(t)?)),
        _ => None,
    }
}

/// `sku, cat` → [sku, cat]; `None` when a part is an expression (`toDate(ts)`).
fn plain_columns(key: &str) -> Option<Vec<String>> {
    let key = key.trim();
    if key.is_empty() {
        return Some(Vec::new());
    }
    split_top(key, ',')
        .iter()
        .map(|p| {
            let p = p.trim();
            match unquote(p) {
                Some(q) => Some(q),
                None => p
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_')
                    .then(|| p.to_string()),
            }
        })
        .collect()
}

/// The `CONSTRAINT name CHECK expr` items of a `CREATE TABLE` statement (not `ASSUME`,
/// which the engine trusts without checking).
fn constraints(create: &str) -> Vec<Constraint> {
    let Some(open) = create.find('(') else {
        return Vec::new();
    };
    let Some(body) = enclosed(&create[open..]) else {
        return Vec::new();
    };
    split_top(body, ',')
        .into_iter()
        .filter_map(|item| {
            let rest = item.trim().strip_prefix("CONSTRAINT ")?.trim_start();
            let (name, after) = match rest.starts_with(['`', '"']) {
                true => {
                    let end = quoted_end(rest)?;
                    (unquote(&rest[..end])?, &rest[end..])
                }
                false => {
                    let end = rest.find(' ')?;
                    (rest[..end].to_string(), &rest[end..])
                }
            };
            let check = after.trim_start().strip_prefix("CHECK ")?;
            Some(Constraint {
                name,
                check: check.trim().to_string(),
            })
        })
        .collect()
}

/// What the parenthesis `text` starts with encloses.
fn enclosed(text: &str) -> Option<&str> {
    let mut depth = 0;
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&text[1..i]);
                }
            }
            '\'' | '`' | '"' => skip_quoted(&mut chars, c),
            _ => {}
        }
    }
    None
}

/// `text` split at `sep` outside parentheses and quotes.
fn split_top(text: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            '\'' | '`' | '"' => skip_quoted(&mut chars, c),
            c if c == sep && depth == 0 => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn skip_quoted(chars: &mut std::str::CharIndices<'_>, quote: char) {
    while let Some((_, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            c if c == quote => return,
            _ => {}
        }
    }
}

/// Where the quoted name `text` starts with ends (just past its closing quote).
fn quoted_end(text: &str) -> Option<usize> {
    let quote = text.chars().next()?;
    let mut chars = text.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            c if c == quote => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// The name inside `` `…` `` or `"…"`, escapes undone.
fn unquote(text: &str) -> Option<String> {
    let quote = text.chars().next().filter(|c| matches!(c, '`' | '"'))?;
    let inner = text.strip_prefix(quote)?.strip_suffix(quote)?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints_are_read_from_the_create_statement() {
        let create = "CREATE TABLE cat.products (`sku` String, `name` String DEFAULT 'a, (b', \
                      CONSTRAINT price_pos CHECK price >= 0, CONSTRAINT `odd, name` CHECK \
                      (length(sku) = 11) AND (sku LIKE 'SKU-%'), CONSTRAINT a1 ASSUME n > 0) \
                      ENGINE = MergeTree ORDER BY sku";
        assert_eq!(
            constraints(create),
            vec![
                Constraint {
                    name: "price_pos".into(),
                    check: "price >= 0".into()
                },
                Constraint {
                    name: "odd, name".into(),
                    check: "(length(sku) = 11) AND (sku LIKE 'SKU-%')".into()
                },
            ]
        );
    }

    #[test]
    fn names_and_keys_are_split_outside_quotes() {
        assert_eq!(
            split_name("`my.db`.\"t\""),
            Some((Some("my.db".into()), "t".into()))
        );
        assert_eq!(split_name("t"), Some((None, "t".into())));
        assert_eq!(split_name("a.b.c"), None);
        assert_eq!(
            plain_columns("sku, `odd name`"),
            Some(vec!["sku".into(), "odd name".into()])
        );
        assert_eq!(plain_columns("toDate(ts), id"), None);
        assert_eq!(plain_columns(""), Some(vec![]));
    }
}
