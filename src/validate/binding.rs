//! Matching the file's header to the target's columns: which field feeds which column, how
//! each is checked, and what the header lacks or has in excess.
use std::path::Path;

use crate::error::{Error, Result};
use crate::feed::{Feed, Format, Lookup, Rules, Source};
use crate::layout::{parsed_field, stage_field};
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
    /// The column's parsing rules (`[columns]`), applied before every check.
    pub parse: Option<std::sync::Arc<super::parse::ParseRules>>,
}

impl BoundColumn {
    /// The staging column holding the value this column's checks judge: its source field,
    /// or, when parsing rules read the field, what they made of it.
    pub fn stage_column(&self) -> String {
        match self.parse {
            Some(_) => parsed_field(self.source_index),
            None => stage_field(self.source_index),
        }
    }

    /// Whether the server prints this column's value, given as `text`, exactly as `text`.
    pub fn prints_as_given(&self, text: &str) -> bool {
        self.rule.prints_as_given(self.type_oid, text)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Binding {
    pub header: Vec<String>,
    pub columns: Vec<BoundColumn>,
    /// Things worth telling the operator that are not row problems (extra columns, ...).
    pub notes: Vec<String>,
    /// The input is several files: lines named in messages say their file (see
    /// `layout::lines_sql`).
    pub parts: bool,
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
    /// Per header field: whether it feeds a json or jsonb column (a JSON Lines value goes
    /// in as its JSON, nested or not).
    pub fn json_fields(&self) -> Vec<bool> {
        (0..self.header.len())
            .map(|i| {
                self.columns.iter().any(|c| {
                    c.source_index == i
                        && c.lookup.is_none()
                        && matches!(c.type_sql.as_str(), "json" | "jsonb")
                })
            })
            .collect()
    }

    pub fn fed_directly(&self, index: usize) -> Option<&BoundColumn> {
        self.columns
            .iter()
            .find(|c| c.source_index == index && c.lookup.is_none() && c.parse.is_none())
    }

    /// The source fields parsing rules read, in order: staging keeps what the rules made of
    /// each beside the field itself.
    pub fn parsed_sources(&self) -> Vec<usize> {
        let mut out: Vec<usize> = self
            .columns
            .iter()
            .filter(|c| c.parse.is_some())
            .map(|c| c.source_index)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
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

/// A header name as matching compares it loosely: no surrounding spaces, lower case, and
/// space, `_` and `-` alike (`Unit Price` = `unit_price` = `unit-price`).
fn loose(name: &str) -> String {
    name.trim()
        .chars()
        .map(|c| match c {
            ' ' | '-' => '_',
            c => c.to_lowercase().next().unwrap_or(c),
        })
        .collect()
}

/// Where `names` (a column's name and aliases, in order) is in the header: exactly first,
/// then ignoring case, then loosely (see [`loose`]); the first name found wins. `Err` lists
/// the positions when one name matches several header columns at the same tier.
pub fn find_header(header: &[String], names: &[String]) -> Result<Option<usize>, Vec<usize>> {
    type Tier = fn(&str, &str) -> bool;
    let tiers: [Tier; 3] = [
        |h, n| h == n,
        |h, n| h.eq_ignore_ascii_case(n),
        |h, n| loose(h) == loose(n),
    ];
    for tier in tiers {
        for name in names {
            let found: Vec<usize> = (0..header.len())
                .filter(|&i| tier(&header[i], name))
                .collect();
            match found.as_slice() {
                [] => continue,
                [one] => return Ok(Some(*one)),
                _ => return Err(found),
            }
        }
    }
    Ok(None)
}

/// The header field most like `name`, when one is close enough to be a likely misspelling.
fn closest<'a>(header: &'a [String], name: &str) -> Option<&'a str> {
    let target = loose(name);
    header
        .iter()
        .map(|h| (edit_distance(&loose(h), &target), h))
        .filter(|(d, h)| *d > 0 && *d <= (target.chars().count().max(h.chars().count()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, h)| h.as_str())
}

/// Levenshtein distance, by characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(here + 1);
            prev = here;
        }
    }
    row[b.len()]
}

/// When the header parsed to one field holding another likely delimiter, the delimiter is
/// probably wrong: says so, with the header as read.
fn wrong_delimiter(header: &[String], delimiter: u8) -> Option<String> {
    let [only] = header else { return None };
    let likely = [b';', b'|', b'\t', b',']
        .into_iter()
        .filter(|&d| d != delimiter)
        .max_by_key(|&d| only.bytes().filter(|&b| b == d).count())
        .filter(|&d| only.as_bytes().contains(&d))?;
    let shown = if likely == b'\t' {
        "\\t".to_string()
    } else {
        (likely as char).to_string()
    };
    Some(format!(
        "the header is one field, `{}`: the delimiter is probably `{shown}`, not `{}` (set [source] delimiter = \"{shown}\")",
        crate::validate::clip(only, 120),
        if delimiter == b'\t' {
            "\\t".to_string()
        } else {
            (delimiter as char).to_string()
        },
    ))
}

/// Binds a header to the feed. `None` is a file without even a header line.
/// `header_line` is where the header was read, for messages (`None`: not from a file).
pub fn bind(
    feed: &Feed,
    file: &Path,
    header: Option<&[String]>,
    header_line: Option<u64>,
) -> Result<Binding> {
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
        let (names, lookup) = match feed.explicit.get(&col.name) {
            Some(Source::Field(f)) => (f.clone(), None),
            Some(Source::Lookup { from, lookup }) => (from.clone(), Some(lookup.clone())),
            None => (vec![col.name.clone()], None),
        };
        let source_name = names.first().cloned().unwrap_or_default();
        let index = match find_header(header, &names) {
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
                let named = if names.len() > 1 {
                    format!(
                        "`{source_name}` (or {})",
                        names[1..]
                            .iter()
                            .map(|n| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                } else {
                    format!("`{source_name}`")
                };
                let hint = names
                    .iter()
                    .find_map(|n| closest(header, n))
                    .map(|h| format!("; the header has `{h}` — did you mean it?"))
                    .unwrap_or_default();
                missing.push(format!("{named} ({why}){hint}"));
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
            parse: feed
                .parsing
                .get(&col.name)
                .map(|p| std::sync::Arc::new(p.clone())),
        });
    }
    if !missing.is_empty() {
        let format = feed.format_of(file);
        if let Some(delimiter) = matches!(format, Format::Csv | Format::Tsv)
            .then(|| wrong_delimiter(header, feed.delimiter_of(format)))
            .flatten()
        {
            return Err(file_err(delimiter));
        }
        return Err(file_err(format!(
            "required column{} missing from the header: {}. The header{} reads: {}",
            if missing.len() > 1 { "s" } else { "" },
            missing.join(", "),
            header_line
                .map(|l| format!(" (line {l})"))
                .unwrap_or_default(),
            crate::validate::clip(
                &header
                    .iter()
                    .map(|h| format!("`{h}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                300
            )
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
        parts: false,
    })
}
