//! Lookup tables held in memory while the file streams, when they are small (categories,
//! currencies, regions): each value is resolved as its record is read, and the good rows go
//! straight to the typed rows table. Larger lookup tables are joined in SQL instead.
use std::collections::HashMap;

use tokio_postgres::GenericClient;

use crate::db::ident;
use crate::error::{Error, Result};
use crate::feed::Lookup;

/// Lookup tables with more rows than this are joined on the server.
pub const MAX_IN_MEMORY_ROWS: i64 = 100_000;

enum Entry {
    /// The value column, as text (NULL stays NULL).
    One(Option<String>),
    /// The match value appears on this many rows.
    Many(i64),
}

pub struct LookupMap {
    entries: HashMap<String, Entry>,
    /// `public.categories.name`, for messages.
    shown: String,
}

/// What a file value becomes.
pub enum Resolved<'a> {
    Value(Option<&'a str>),
    /// No match, or more than one: the message for the row's issue.
    Refused(String),
}

impl LookupMap {
    /// Reads the lookup table when it has at most [`MAX_IN_MEMORY_ROWS`] rows; `None` when it
    /// is larger.
    pub async fn load(client: &impl GenericClient, lookup: &Lookup) -> Result<Option<Self>> {
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
        let mut entries = HashMap::with_capacity(rows.len());
        for row in rows {
            let m: String = row.get(0);
            let v: Option<String> = row.get(1);
            entries
                .entry(m)
                .and_modify(|e| {
                    *e = match e {
                        Entry::One(_) => Entry::Many(2),
                        Entry::Many(n) => Entry::Many(*n + 1),
                    }
                })
                .or_insert(Entry::One(v));
        }
        Ok(Some(Self {
            entries,
            shown: format!("{}.{}", lookup.table_display, lookup.match_column),
        }))
    }

    /// The value for a file value, or why there is none; the messages match the SQL check's.
    pub fn resolve(&self, value: &str) -> Resolved<'_> {
        let shown = || value.chars().take(60).collect::<String>();
        match self.entries.get(value) {
            Some(Entry::One(v)) => Resolved::Value(v.as_deref()),
            Some(Entry::Many(n)) => {
                Resolved::Refused(format!("'{}' matches {n} rows of {}", shown(), self.shown))
            }
            None => Resolved::Refused(format!("'{}' is not in {}", shown(), self.shown)),
        }
    }
}
