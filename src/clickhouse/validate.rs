//! The set-based checks on ClickHouse, over the typed rows after the load: the target's CHECK
//! constraints and repeated merge keys, in the same words as on PostgreSQL
//! (`crate::validate::scan`). Foreign keys and unique indexes do not exist on ClickHouse.
use super::client::{ClickHouse, ident, quote};
use super::printed;
use crate::error::Result;
use crate::feed::DuplicateKeys;
use crate::layout::{LINE_COLUMN, ORD_COLUMN};
use crate::source::parts::Part;
use crate::staged::Staged;

/// Records the rows that violate a CHECK constraint, then, among the others, those whose key
/// repeats; then sets every row with an error or superseded by another aside.
pub async fn constraints_and_duplicates(
    ch: &ClickHouse,
    staged: Staged<'_>,
    parts: &[Part],
) -> Result<()> {
    let Staged {
        feed,
        binding,
        names,
    } = staged;
    let context = format!("checking the typed rows of batch {}", names.batch);
    let (line, ord) = (ident(LINE_COLUMN), ident(ORD_COLUMN));
    for c in feed.target.checks.iter().filter(|c| {
        !c.columns.is_empty() && c.columns.iter().all(|col| binding.column(col).is_some())
    }) {
        let cols: Vec<&str> = c.columns.iter().map(String::as_str).collect();
        ch.execute(
            &format!(
                "INSERT INTO {issues} (line, ord, `column`, `check`, severity, value, message) \
                 SELECT {line}, {ord}, {column}, 'check_constraint', 'error', {value}, {message} \
                 FROM {rows} WHERE NOT ({expr})",
                issues = names.issues,
                rows = names.rows,
                column = quote(&cols.join(", ")),
                value = printed::joined(cols.iter().filter_map(|c| binding.column(c)), ""),
                message = quote(&format!("violates check constraint {}: {}", c.name, c.expr)),
                expr = c.expr,
            ),
            &context,
        )
        .await?;
    }
    let key: Vec<&str> = binding.key_columns().map(|c| c.target.as_str()).collect();
    if !key.is_empty() {
        duplicates(ch, staged, &key, parts).await?;
    }
    super::stage::set_aside(ch, names, binding, &["error", "superseded"]).await
}

/// The rows whose key repeats, among those without errors, as the `duplicate_keys` policy
/// says: every one quarantined, or all but the last (first) superseded.
async fn duplicates(
    ch: &ClickHouse,
    staged: Staged<'_>,
    key: &[&str],
    parts: &[Part],
) -> Result<()> {
    let Staged {
        feed,
        binding,
        names,
    } = staged;
    let (line, ord) = (ident(LINE_COLUMN), ident(ORD_COLUMN));
    let (filter, severity, message) = match feed.spec.policy.duplicate_keys {
        DuplicateKeys::Quarantine => (
            "1".to_string(),
            "error",
            format!(
                "concat('the key appears on ', toString(d.n), ' rows (lines ', \
                 arrayStringConcat(arrayMap(l -> {}, d.lines), ', '), \
                 if(d.n > 5, ', …', ''), ')')",
                place_sql(parts, "l")
            ),
        ),
        DuplicateKeys::Last => (
            format!("r.{ord} != d.last_ord"),
            "superseded",
            format!(
                "concat('superseded by line ', {}, \
                 ', a later row with the same key (duplicate_keys = \"last\")')",
                place_sql(parts, "d.last_line")
            ),
        ),
        DuplicateKeys::First => (
            format!("r.{ord} != d.first_ord"),
            "superseded",
            format!(
                "concat('superseded by line ', {}, \
                 ', an earlier row with the same key (duplicate_keys = \"first\")')",
                place_sql(parts, "d.first_line")
            ),
        ),
    };
    let key_list: Vec<String> = key.iter().map(|k| ident(k)).collect();
    let key_list = key_list.join(", ");
    let errors = format!(
        "(SELECT ord FROM {} WHERE severity = 'error')",
        names.issues
    );
    let join: Vec<String> = key
        .iter()
        .map(|k| format!("r.{k} = d.{k}", k = ident(k)))
        .collect();
    ch.execute(
        &format!(
            "INSERT INTO {issues} (line, ord, `column`, `check`, severity, value, message) \
             SELECT r.{line}, r.{ord}, {column}, 'duplicate_key', '{severity}', {value}, {message} \
             FROM {rows} AS r \
             JOIN (SELECT {key_list}, count() AS n, min({ord}) AS first_ord, \
                          max({ord}) AS last_ord, min({line}) AS first_line, \
                          max({line}) AS last_line, \
                          arraySlice(arraySort(groupArray({line})), 1, 5) AS lines \
                   FROM {rows} WHERE {ord} NOT IN {errors} \
                   GROUP BY {key_list} HAVING count() > 1) AS d ON {join} \
             WHERE r.{ord} NOT IN {errors} AND {filter} \
             SETTINGS join_use_nulls = 0",
            issues = names.issues,
            rows = names.rows,
            column = quote(&key.join(", ")),
            value = printed::joined(binding.key_columns(), "r."),
            join = join.join(" AND "),
        ),
        &format!("finding repeated keys in batch {}", names.batch),
    )
    .await
}

/// SQL for where the batch line `line` is, as a person finds it: `part-002.csv:40` in a batch
/// of several files (each part's lines follow the parts before it), else the line.
fn place_sql(parts: &[Part], line: &str) -> String {
    parts.iter().fold(format!("toString({line})"), |rest, p| {
        format!(
            "if({line} > {base}, concat({name}, ':', toString({line} - {base})), {rest})",
            base = p.base,
            name = quote(&p.name)
        )
    })
}
