//! The checks that read every typed row after the load: the target's CHECK constraints and
//! duplicate merge keys. When the load named the keys that may repeat, one statement reads
//! the typed rows once for both. Otherwise each CHECK constraint is a statement of its own,
//! and a hash aggregate over every row finds the keys that repeat.
use tokio_postgres::Client;
use tokio_postgres::types::ToSql;

use super::aside::{ISSUE_COLUMNS, by_address, exec, key_text};
use super::binding::Binding;
use crate::db::{ident, ident_list};
use crate::error::Result;
use crate::feed::{DuplicateKeys, Feed};
use crate::layout::{LINE_COLUMN, ORD_COLUMN, StageNames};
use crate::stage;
use crate::staged::Staged;

/// A CHECK constraint of the target over columns the file feeds (or its partitions' bounds),
/// as SQL over a typed row `r`.
struct Check {
    /// The issue's check: `check_constraint` or `partition`.
    check: &'static str,
    /// True when the row violates it.
    violated: String,
    /// The issue's column (the constraint's columns) and message.
    columns: String,
    message: String,
    /// The issue's value: the row's values of those columns.
    value: String,
}

fn checks(feed: &Feed, binding: &Binding) -> Vec<Check> {
    feed.target
        .checks
        .iter()
        .filter(|c| {
            !c.columns.is_empty() && c.columns.iter().all(|col| binding.column(col).is_some())
        })
        .map(|c| {
            let cols: Vec<&str> = c.columns.iter().map(String::as_str).collect();
            Check {
                check: "check_constraint",
                violated: format!("({}) IS FALSE", c.expr),
                columns: cols.join(", "),
                message: format!("violates check constraint {}: {}", c.name, c.expr),
                value: key_text(&cols, "r"),
            }
        })
        .chain(partition_check(feed, binding))
        .collect()
}

/// A partitioned target takes a row only when some leaf partition's bounds hold for it: a
/// row none takes is set aside at validation (the server would refuse it at promotion). Each
/// leaf's constraint is judged as the server judges a partition constraint (NULL passes).
/// Left to the promotion when the key has expressions or columns the file does not feed.
fn partition_check(feed: &Feed, binding: &Binding) -> Option<Check> {
    let p = feed.target.partitioning.as_ref()?;
    if p.columns.is_empty() || p.columns.iter().any(|c| binding.column(c).is_none()) {
        return None;
    }
    let cols: Vec<&str> = p.columns.iter().map(String::as_str).collect();
    let fits: Vec<String> = p
        .leaves
        .iter()
        .map(|l| format!("({l}) IS NOT FALSE"))
        .collect();
    Some(Check {
        check: "partition",
        violated: format!("NOT ({})", fits.join(" OR ")),
        columns: cols.join(", "),
        message: format!(
            "no partition of {} takes this row (partitioned by {})",
            feed.target.display_name(),
            p.key
        ),
        value: key_text(&cols, "r"),
    })
}

/// Sets aside the typed rows that violate a CHECK constraint of the target (one issue per
/// constraint violated) and, among the others, those whose merge key repeats, as the feed's
/// `duplicate_keys` policy says. `candidates` are the ordinals of the rows whose key the load
/// saw more than once (a superset); `None` groups every row.
pub(super) async fn constraints_and_duplicates(
    client: &Client,
    staged: Staged<'_>,
    candidates: Option<&[i64]>,
) -> Result<()> {
    let Staged {
        feed,
        binding,
        names,
    } = staged;
    let checks = checks(feed, binding);
    let key: Vec<&str> = binding.key_columns().map(|c| c.target.as_str()).collect();
    match candidates {
        Some(ordinals) if !key.is_empty() => {
            if checks.is_empty() && ordinals.is_empty() {
                return Ok(());
            }
            one_scan(client, staged, &checks, Some((&key, ordinals))).await
        }
        _ => {
            if !checks.is_empty() {
                one_scan(client, staged, &checks, None).await?;
            }
            if key.is_empty() {
                return Ok(());
            }
            let key_list = ident_list(key.iter().copied(), None);
            let on: Vec<String> = key
                .iter()
                .map(|k| format!("r.{k} = k.{k}", k = ident(k)))
                .collect();
            let sql = format!(
                "WITH dr AS MATERIALIZED (SELECT r.ctid AS __tid, r.* FROM {rows} r \
                     JOIN (SELECT {key_list} FROM {rows} GROUP BY {key_list} HAVING count(*) > 1) k \
                     ON {on}), \
                 {tail}, {delete}",
                rows = names.rows,
                on = on.join(" AND "),
                tail = duplicates(feed, binding, names, &key),
                delete = by_address(binding, names),
            );
            exec(client, "finding duplicate keys", &sql, &[&key.join(", ")]).await?;
            Ok(())
        }
    }
}

/// One statement, one read of the typed rows: the rows violating a CHECK constraint and, with
/// `candidates` (the key's columns and the candidate rows' ordinals), the candidate rows are
/// kept aside (`scan`, a few). The violations become issues, the candidates that violate
/// nothing are grouped by key, and every row set aside leaves the typed rows by address.
async fn one_scan(
    client: &Client,
    staged: Staged<'_>,
    checks: &[Check],
    candidates: Option<(&[&str], &[i64])>,
) -> Result<()> {
    let Staged {
        feed,
        binding,
        names,
    } = staged;
    let (key, ordinals) = candidates.unwrap_or_default();
    let keyed = !key.is_empty();
    // With candidates, $1 is the key's column list and $2 the candidates' ordinals; then
    // each constraint's column list, message and check.
    let first = if keyed { 3 } else { 1 };
    let noted_checks: Vec<String> = checks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            format!(
                "SELECT r.{line}, r.{ord}, ${p}::text, ${k}::text, 'error', {value}, \
                 ${q}::text FROM scan r WHERE r.__failed[{i}]",
                line = ident(LINE_COLUMN),
                ord = ident(ORD_COLUMN),
                p = first + 3 * i,
                q = first + 1 + 3 * i,
                k = first + 2 + 3 * i,
                value = c.value,
                i = i + 1,
            )
        })
        .collect();
    let checked = if noted_checks.is_empty() {
        String::new()
    } else {
        format!(
            "checked AS (INSERT INTO {issues} ({ISSUE_COLUMNS}) \
                 SELECT * FROM ({all}) x ORDER BY 2), ",
            issues = names.issues,
            all = noted_checks.join(" UNION ALL "),
        )
    };
    let (repeats, grouped) = if keyed {
        // A test against the candidates' ordinals, which the server hashes once.
        (
            format!("(c.{} = ANY ($2::int8[])) IS TRUE", ident(ORD_COLUMN)),
            format!(
                "dr AS (SELECT * FROM scan WHERE __repeats AND NOT (true = ANY (__failed))), {}, ",
                duplicates(feed, binding, names, key)
            ),
        )
    } else {
        ("false".to_string(), String::new())
    };
    let gone = if !keyed {
        "ctid = ANY (ARRAY(SELECT __tid FROM scan))"
    } else {
        "ctid = ANY (ARRAY(SELECT tid FROM bad \
                           UNION ALL SELECT __tid FROM scan WHERE true = ANY (__failed)))"
    };
    let sql = format!(
        // The constraints are evaluated where only the typed row is in scope, so their
        // bare column names cannot meet the candidates' columns.
        // Only the few rows kept aside get the array of constraints they violate.
        "WITH scan AS MATERIALIZED (SELECT c.*, {repeats} AS __repeats, \
                 ARRAY[{flags}]::boolean[] AS __failed \
             FROM (SELECT r.ctid AS __tid, r.*{violated} FROM {rows} r) c \
             WHERE {repeats}{any_violated}), \
         {checked}{grouped}{delete}",
        violated = checks
            .iter()
            .enumerate()
            .map(|(i, c)| format!(", {} AS __v{}", c.violated, i + 1))
            .collect::<String>(),
        flags = (1..=checks.len())
            .map(|i| format!("c.__v{i}"))
            .collect::<Vec<_>>()
            .join(", "),
        any_violated = (1..=checks.len())
            .map(|i| format!(" OR c.__v{i}"))
            .collect::<String>(),
        rows = names.rows,
        delete = stage::delete_rows_keeping_source(names, binding, gone),
    );
    let key_names = key.join(", ");
    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
    if keyed {
        params.push(&key_names);
        params.push(&ordinals);
    }
    let names_of_checks: Vec<String> = checks.iter().map(|c| c.check.to_string()).collect();
    for (c, name) in checks.iter().zip(&names_of_checks) {
        params.push(&c.columns);
        params.push(&c.message);
        params.push(name);
    }
    exec(
        client,
        "checking constraints and duplicate keys",
        &sql,
        &params,
    )
    .await?;
    Ok(())
}

/// The statement parts after `dr`, the typed rows (with `__tid`, their address) whose key may
/// repeat: `d` groups them by key, `bad` holds the rows the `duplicate_keys` policy sets
/// aside, and `noted` records their issues (`$1` is the key's column list). The rows whose
/// key may repeat are few: the ordered aggregates (first, last, the lines) run on those only.
fn duplicates(feed: &Feed, binding: &Binding, names: &StageNames, key: &[&str]) -> String {
    let line = ident(LINE_COLUMN);
    let ord = ident(ORD_COLUMN);
    let (filter, severity, message) = match feed.spec.policy.duplicate_keys {
        DuplicateKeys::Quarantine => (
            "true".to_string(),
            "error",
            format!(
                "format('the key appears on %s rows (lines %s%s)', d.n, {lines}, \
                 CASE WHEN d.n > 5 THEN ', …' ELSE '' END)",
                lines = crate::layout::lines_sql(names, binding.parts, "d.lines"),
            ),
        ),
        DuplicateKeys::Last => (
            format!("r.{ord} <> d.last_ord"),
            "superseded",
            format!(
                "format('superseded by line %s, a later row with the same key (duplicate_keys = \"last\")', {})",
                crate::layout::line_sql(names, binding.parts, "d.last_line")
            ),
        ),
        DuplicateKeys::First => (
            format!("r.{ord} <> d.first_ord"),
            "superseded",
            format!(
                "format('superseded by line %s, an earlier row with the same key (duplicate_keys = \"first\")', {})",
                crate::layout::line_sql(names, binding.parts, "d.first_line")
            ),
        ),
    };
    let join: Vec<String> = key
        .iter()
        .map(|k| format!("r.{k} = d.{k}", k = ident(k)))
        .collect();
    // Lines and ordinals grow together through a batch, so the first and last row's lines
    // are plain minimum and maximum; only the quarantine message lists lines, and only its
    // aggregate sorts each group.
    let lines = match feed.spec.policy.duplicate_keys {
        DuplicateKeys::Quarantine => format!(", (array_agg({line} ORDER BY {ord}))[1:5] AS lines"),
        DuplicateKeys::Last | DuplicateKeys::First => String::new(),
    };
    format!(
        "d AS (SELECT {key_list}, count(*) AS n, \
               min({ord}) AS first_ord, max({ord}) AS last_ord, \
               min({line}) AS first_line, max({line}) AS last_line{lines} \
               FROM dr GROUP BY {key_list} HAVING count(*) > 1), \
         bad AS MATERIALIZED (SELECT r.__tid AS tid, r.{line} AS line, r.{ord} AS ord, \
               {value} AS value, {message} AS message FROM dr r JOIN d ON {join} WHERE {filter}), \
         noted AS (INSERT INTO {issues} ({ISSUE_COLUMNS}) \
               SELECT line, ord, $1, 'duplicate_key', '{severity}', value, message \
               FROM bad ORDER BY ord)",
        key_list = ident_list(key.iter().copied(), None),
        value = key_text(key, "r"),
        join = join.join(" AND "),
        issues = names.issues,
    )
}
