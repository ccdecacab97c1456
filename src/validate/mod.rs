//! Validation layers. Row-level checks (structure, types, NOT NULL, the spec's rules) run in
//! Rust while the file streams; set-based checks (server-side casts, lookups, foreign keys,
//! CHECK constraints, duplicate keys, other unique indexes) run as SQL over staging;
//! file-level policy decides the verdict.
pub mod aside;
pub mod binding;
pub mod drift;
mod generated;
pub mod keys;
pub mod lookup;
pub mod parse;
pub mod policy;
pub mod row;
mod scan;
pub mod sql;
pub mod types;
mod unique;

use serde::{Deserialize, Serialize};

/// How an issue affects its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The row is quarantined.
    Error,
    /// Reported; the row still goes to production.
    Warning,
    /// Another row with the same key wins (`duplicate_keys = "last"` / `"first"`).
    Superseded,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Superseded => "superseded",
        }
    }
}

/// At most `max` characters of `s`, with an ellipsis when cut.
pub fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((i, _)) => format!("{}…", &s[..i]),
    }
}

/// Values kept in issue rows are clipped so one 100 MB field cannot flood the issues table.
pub const MAX_ISSUE_VALUE_CHARS: usize = 500;
