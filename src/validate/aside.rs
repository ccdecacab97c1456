//! Setting rows aside: the one place that writes issues for typed rows and moves them out of
//! the typed rows, their source fields going back to staging. Every set-based layer
//! (`sql`, `scan`, `unique`, `generated`) and promotion's bisection use it.
use tokio_postgres::GenericClient;

use super::binding::Binding;
use crate::db::ident;
use crate::error::{Error, Result};
use crate::layout::{LINE_COLUMN, ORD_COLUMN, StageNames};
use crate::stage;

pub const ISSUE_COLUMNS: &str = "line, ord, \"column\", \"check\", severity, value, message";

pub async fn exec(
    client: &impl GenericClient,
    what: &str,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<u64> {
    client
        .execute(sql, params)
        .await
        .map_err(Error::db(what.to_string()))
}

/// Key values as one text, for messages: `SKU-1` or `a, b` for composite keys.
pub fn key_text(cols: &[&str], alias: &str) -> String {
    let parts: Vec<String> = cols
        .iter()
        .map(|c| format!("{alias}.{}::text", ident(c)))
        .collect();
    format!("concat_ws(', ', {})", parts.join(", "))
}

/// One statement that finds the typed rows (`r`) matching `condition`, records an issue for
/// each (`issue` is the select list after line and ordinal: column, check, severity, value,
/// message) and removes them from the typed rows by their physical address — no second scan.
pub fn set_aside_where(
    binding: &Binding,
    names: &StageNames,
    condition: &str,
    issue: &str,
) -> String {
    format!(
        "WITH bad (tid, line, ord, col, chk, sev, val, msg) AS MATERIALIZED \
             (SELECT r.ctid, r.{line}, r.{ord}, {issue} FROM {rows} r WHERE {condition}), \
         noted AS (INSERT INTO {issues} ({ISSUE_COLUMNS}) \
             SELECT line, ord, col, chk, sev, val, msg FROM bad ORDER BY ord), \
         {delete}",
        rows = names.rows,
        issues = names.issues,
        line = ident(LINE_COLUMN),
        ord = ident(ORD_COLUMN),
        delete = by_address(binding, names),
    )
}

/// Deletes the typed rows listed in `bad` by address, their source fields going to staging.
pub fn by_address(binding: &Binding, names: &StageNames) -> String {
    stage::delete_rows_keeping_source(names, binding, "ctid = ANY (ARRAY(SELECT tid FROM bad))")
}

/// Moves good rows to the quarantine after validation — refused by the server at promotion,
/// or held back by hand: one issue each (`check`, the row's key as the value, its message),
/// and out of the typed rows. Returns how many rows moved.
pub async fn set_aside(
    client: &impl GenericClient,
    binding: &Binding,
    names: &StageNames,
    check: &str,
    rows: &[(i64, String)],
) -> Result<u64> {
    let ords: Vec<i64> = rows.iter().map(|(o, _)| *o).collect();
    let messages: Vec<&str> = rows.iter().map(|(_, m)| m.as_str()).collect();
    let key: Vec<&str> = binding.key_columns().map(|c| c.target.as_str()).collect();
    let key = if key.is_empty() {
        "NULL".to_string()
    } else {
        key_text(&key, "r")
    };
    let moved = exec(
        client,
        "setting rows aside",
        &format!(
            "INSERT INTO {issues} ({ISSUE_COLUMNS}) \
             SELECT r.{line}, r.{ord}, NULL, $3, 'error', {key}, m.message \
             FROM {rows} r JOIN unnest($1::bigint[], $2::text[]) AS m(ord, message) ON m.ord = r.{ord} \
             ORDER BY r.{ord}",
            issues = names.issues,
            rows = names.rows,
            line = ident(LINE_COLUMN),
            ord = ident(ORD_COLUMN),
        ),
        &[&ords, &messages, &check],
    )
    .await?;
    let condition = format!("{} = ANY($1)", ident(ORD_COLUMN));
    exec(
        client,
        "setting rows aside",
        &format!(
            "WITH {}",
            stage::delete_rows_keeping_source(names, binding, &condition)
        ),
        &[&ords],
    )
    .await?;
    Ok(moved)
}
