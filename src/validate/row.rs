//! Row-level checks, run on each record as it streams: structure, type, NOT NULL and the
//! spec's `[checks]`. Problems go into the staging row (as JSON) and become issue rows in SQL.
use serde::Serialize;

use super::binding::{Binding, BoundColumn};
use super::types::{self, Verdict};
use super::{MAX_ISSUE_VALUE_CHARS, Severity, clip};

/// One problem found in Rust, stored with the staging row until it is moved to the issues
/// table. Short field names keep the staging rows small.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RowIssue {
    /// Target column (or source column for structural problems).
    pub c: Option<String>,
    /// The check that failed, or `pending` for a value the server must judge.
    pub k: &'static str,
    pub s: &'static str,
    pub v: Option<String>,
    pub m: String,
}

pub const PENDING: &str = "pending";

impl RowIssue {
    pub fn new(
        column: Option<&str>,
        check: &'static str,
        severity: Severity,
        value: Option<&str>,
        message: String,
    ) -> Self {
        Self {
            c: column.map(str::to_owned),
            k: check,
            s: severity.as_str(),
            v: value.map(|v| clip(v, MAX_ISSUE_VALUE_CHARS)),
            m: message,
        }
    }
}

/// A field as the row checks see it.
#[derive(Debug, Clone, Copy)]
pub enum FieldValue<'a> {
    Text(&'a str),
    Null,
    /// Missing from a short row, or undecodable: already reported structurally.
    Unusable,
}

/// Runs the type, NOT NULL and rule checks of every bound column. Values only the server can
/// judge are marked `pending`.
pub fn check_row(binding: &Binding, fields: &[FieldValue<'_>], out: &mut Vec<RowIssue>) {
    for col in &binding.columns {
        let value = fields
            .get(col.source_index)
            .copied()
            .unwrap_or(FieldValue::Unusable);
        match value {
            FieldValue::Unusable => {}
            FieldValue::Null => check_null(col, out),
            FieldValue::Text(v) => check_value(col, v, out),
        }
    }
}

fn check_null(col: &BoundColumn, out: &mut Vec<RowIssue>) {
    let wants_value = col.rules.as_ref().and_then(|r| r.spec.not_null) == Some(true);
    // Only [checks] asks for a value: its severity says how the row counts.
    let by_rule_alone = wants_value && !col.key && !col.not_null;
    let severity = match col.rules.as_ref().and_then(|r| r.spec.severity) {
        Some(crate::feed::CheckSeverity::Warn) if by_rule_alone => Severity::Warning,
        _ => Severity::Error,
    };
    let message = if col.key {
        format!("{} is empty, but it is the merge key", col.target)
    } else if col.not_null {
        format!("{} is empty, but the column is NOT NULL", col.target)
    } else if wants_value {
        format!("{} is empty, but [checks] requires a value", col.target)
    } else {
        return;
    };
    out.push(RowIssue::new(
        Some(&col.target),
        "not_null",
        severity,
        None,
        message,
    ));
}

fn check_value(col: &BoundColumn, value: &str, out: &mut Vec<RowIssue>) {
    let typed_ok = match types::check(&col.rule, value, &col.type_sql) {
        Verdict::Accept(note) => {
            if let Some(note) = note {
                out.push(RowIssue::new(
                    Some(&col.target),
                    note.check,
                    Severity::Warning,
                    Some(value),
                    note.message,
                ));
            }
            true
        }
        Verdict::Reject(message) => {
            out.push(RowIssue::new(
                Some(&col.target),
                "type",
                Severity::Error,
                Some(value),
                message,
            ));
            return;
        }
        Verdict::Unsure => {
            // Columns of server-checked types are cast by distinct value in SQL; only
            // values the Rust rules could not decide are marked one by one.
            if !matches!(col.rule, types::TypeRule::Server) {
                out.push(RowIssue {
                    c: Some(col.target.clone()),
                    k: PENDING,
                    s: PENDING,
                    v: None,
                    m: String::new(),
                });
            }
            false
        }
    };
    if let Some(rules) = &col.rules {
        check_rules(col, rules, value, typed_ok, out);
    }
}

fn check_rules(
    col: &BoundColumn,
    rules: &crate::feed::Rules,
    value: &str,
    typed_ok: bool,
    out: &mut Vec<RowIssue>,
) {
    let spec = &rules.spec;
    let severity = match spec.severity {
        Some(crate::feed::CheckSeverity::Warn) => Severity::Warning,
        _ => Severity::Error,
    };
    let mut fail = |check: &'static str, message: String| {
        out.push(RowIssue::new(
            Some(&col.target),
            check,
            severity,
            Some(value),
            message,
        ));
    };
    if typed_ok && col.lookup.is_none() && (spec.min.is_some() || spec.max.is_some()) {
        let trimmed = value.trim();
        match trimmed.parse::<f64>() {
            Ok(n) if n.is_nan() => fail(
                "min",
                format!("{trimmed} is not a number between the limits set in [checks]"),
            ),
            Ok(n) => {
                if let Some(min) = spec.min.filter(|&min| n < min) {
                    fail("min", format!("{trimmed} is below the minimum {min}"));
                }
                if let Some(max) = spec.max.filter(|&max| n > max) {
                    fail("max", format!("{trimmed} is above the maximum {max}"));
                }
            }
            Err(_) => {}
        }
    }
    if let Some(re) = &rules.pattern
        && !re.is_match(value)
    {
        fail(
            "pattern",
            format!(
                "'{}' does not match the pattern {}",
                clip(value, 60),
                re.as_str()
            ),
        );
    }
    if let Some(allowed) = &spec.one_of
        && !allowed.iter().any(|a| a == value)
    {
        fail(
            "one_of",
            format!(
                "'{}' is not one of: {}",
                clip(value, 60),
                clip(&allowed.join(", "), 200)
            ),
        );
    }
    if let Some(max) = spec.max_length {
        let len = value.chars().count();
        if len > max {
            fail(
                "max_length",
                format!("{len} characters, more than max_length {max}"),
            );
        }
    }
}
