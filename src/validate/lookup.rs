//! Lookup tables held in memory while the file streams, when they are small (categories,
//! currencies, regions): each value is resolved as its record is read, and the good rows go
//! straight to the typed rows table. Larger lookup tables are joined in SQL instead.
//!
//! A lookup's value is judged like a file value, by the target column's type: a row whose
//! lookup finds a value the column cannot hold is quarantined with the reason, and one whose
//! value the column rounds gets a warning, on both paths.
use std::collections::HashMap;

use tokio_postgres::GenericClient;

use super::binding::BoundColumn;
use super::types::{self, Verdict};
use crate::db::ident;
use crate::error::{Error, Result};

/// Lookup tables with more rows than this are joined on the server.
pub const MAX_IN_MEMORY_ROWS: i64 = 100_000;

enum Entry {
    /// The value column, as text (NULL stays NULL), and what the target column's type makes
    /// of it when it changes it (a rounding): the message for a warning.
    One(Option<String>, Option<(&'static str, String)>),
    /// The match value appears on this many rows.
    Many(i64),
    /// The value column holds a value the target column cannot hold: the row's message.
    Unfit(String),
}

pub struct LookupMap {
    entries: HashMap<String, Entry>,
    /// `public.categories.name`, for messages.
    shown: String,
}

/// What the target column's type makes of a lookup's value.
pub enum Judged {
    /// It holds it; maybe changed (check, message), as a rounding.
    Fits(Option<types::Note>),
    /// It cannot: why.
    Unfit(String),
    /// Only the server can tell.
    Open,
}

/// A lookup's value judged by the target column's type rule. Values only the server can
/// judge are `Open`: in memory the typed rows' COPY then has the last word (a refusal there
/// starts the load over with SQL judging every value), in SQL the server casts them.
pub fn judge(col: &BoundColumn, value: &str) -> Judged {
    match types::check(&col.value_rule, value, &col.type_sql) {
        Verdict::Accept(note) => Judged::Fits(note),
        Verdict::Reject(reason) => Judged::Unfit(reason),
        Verdict::Unsure => Judged::Open,
    }
}

/// The message of a row whose file value `file_value` finds `value` in `shown_value` (as
/// `public.codes.code`): the target column `target` cannot hold it for `reason`, or (with
/// `target` None) holds it as `reason` says.
pub fn found_message(
    file_value: &str,
    shown_value: &str,
    value: &str,
    target: Option<&str>,
    reason: &str,
) -> String {
    let (file_value, value) = (super::clip(file_value, 60), super::clip(value, 60));
    match target {
        Some(target) => format!(
            "'{file_value}' finds {shown_value} = '{value}', which {target} cannot hold: {reason}"
        ),
        None => format!("'{file_value}' finds {shown_value} = '{value}': {reason}"),
    }
}

/// The wording of a file value the lookup table does not have, and of one it has on several
/// rows: `format()` templates, filled in here on the in-memory path and by the server on the
/// SQL path, so both say the same.
pub const NOT_IN: &str = "'%s' is not in %s";
pub const MATCHES_MANY: &str = "'%s' matches %s rows of %s";

/// `template` with each `%s` replaced by the next of `args`, as SQL's `format()` does.
pub fn fill(template: &str, args: &[&str]) -> String {
    let mut parts = template.split("%s");
    let mut out = parts.next().unwrap_or_default().to_string();
    for (part, arg) in parts.zip(args.iter().chain(std::iter::repeat(&""))) {
        out.push_str(arg);
        out.push_str(part);
    }
    out
}

/// What a file value becomes.
pub enum Resolved<'a> {
    /// The value, and a warning (check, message) when the column's type changes it.
    Value(Option<&'a str>, Option<(&'static str, &'a str)>),
    /// No match, or more than one: the message for the row's issue.
    Refused(String),
}

impl LookupMap {
    /// Reads the lookup table when it has at most [`MAX_IN_MEMORY_ROWS`] rows; `None` when it
    /// is larger.
    pub async fn load(client: &impl GenericClient, col: &BoundColumn) -> Result<Option<Self>> {
        let Some(lookup) = &col.lookup else {
            return Ok(None);
        };
        let what = || Error::db(format!("reading lookup table {}", lookup.table_display));
        let rows: i64 = client
            .query_one(
                &format!(
                    "SELECT count(*) FROM (SELECT 1 FROM {} LIMIT {}) AS l",
                    lookup.table_sql,
                    MAX_IN_MEMORY_ROWS + 1
                ),
                &[],
            )
            .await
            .map_err(what())?
            .get(0);
        if rows > MAX_IN_MEMORY_ROWS {
            return Ok(None);
        }
        let rows = client
            .query(
                &format!(
                    "SELECT {m}::text, {v}::text FROM {table} WHERE {m} IS NOT NULL",
                    m = ident(&lookup.match_column),
                    v = ident(&lookup.value_column),
                    table = lookup.table_sql,
                ),
                &[],
            )
            .await
            .map_err(what())?;
        Ok(Some(Self::from_rows(
            col,
            rows.into_iter().map(|row| (row.get(0), row.get(1))),
        )))
    }

    /// The map of a lookup table's rows, each its match value and its value (as text).
    pub fn from_rows(
        col: &BoundColumn,
        rows: impl IntoIterator<Item = (String, Option<String>)>,
    ) -> Self {
        let Some(lookup) = &col.lookup else {
            return Self {
                entries: HashMap::new(),
                shown: String::new(),
            };
        };
        let shown_value = format!("{}.{}", lookup.table_display, lookup.value_column);
        let mut entries = HashMap::new();
        for (m, v) in rows {
            let one = || {
                let Some(found) = v.as_deref() else {
                    return Entry::One(None, None);
                };
                match judge(col, found) {
                    Judged::Unfit(reason) => Entry::Unfit(found_message(
                        &m,
                        &shown_value,
                        found,
                        Some(&col.target),
                        &reason,
                    )),
                    Judged::Fits(Some(note)) => Entry::One(
                        v.clone(),
                        Some((
                            note.check,
                            found_message(&m, &shown_value, found, None, &note.message),
                        )),
                    ),
                    Judged::Fits(None) | Judged::Open => Entry::One(v.clone(), None),
                }
            };
            match entries.get_mut(&m) {
                Some(Entry::Many(n)) => *n += 1,
                Some(e) => *e = Entry::Many(2),
                None => {
                    let e = one();
                    entries.insert(m, e);
                }
            }
        }
        Self {
            entries,
            shown: format!("{}.{}", lookup.table_display, lookup.match_column),
        }
    }

    /// The value for a file value, or why there is none, in the SQL check's words.
    pub fn resolve(&self, value: &str) -> Resolved<'_> {
        // Cut as the SQL path's `left(…, 60)` cuts it, without an ellipsis.
        let shown = || value.chars().take(60).collect::<String>();
        match self.entries.get(value) {
            Some(Entry::One(v, note)) => Resolved::Value(
                v.as_deref(),
                note.as_ref()
                    .map(|(check, message)| (*check, message.as_str())),
            ),
            Some(Entry::Unfit(message)) => Resolved::Refused(message.clone()),
            Some(Entry::Many(n)) => {
                Resolved::Refused(fill(MATCHES_MANY, &[&shown(), &n.to_string(), &self.shown]))
            }
            None => Resolved::Refused(fill(NOT_IN, &[&shown(), &self.shown])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{MATCHES_MANY, NOT_IN, fill};

    #[test]
    fn templates_fill_as_format_does() {
        assert_eq!(
            fill(NOT_IN, &["kx", "public.kinds.label"]),
            "'kx' is not in public.kinds.label"
        );
        assert_eq!(
            fill(MATCHES_MANY, &["b", "2", "public.kinds.label"]),
            "'b' matches 2 rows of public.kinds.label"
        );
        // A value holding `%s` is copied as it is, never filled in.
        assert_eq!(fill(NOT_IN, &["%s", "t.c"]), "'%s' is not in t.c");
    }
}
