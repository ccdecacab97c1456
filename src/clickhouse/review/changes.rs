//! The rows that would change production, on ClickHouse: listed once per plan in a table of
//! their own — each row's kind, file line, key and the values it changes, before and after,
//! as text — so a page is a keyset range over that list wherever it is. The inserts and
//! updates come in file order, then the rows a swap or mirror deletes, in key order. The
//! list is made when first asked for and dropped whenever the batch is judged again.
use super::{ClickHouse, number};
use crate::clickhouse::check::{changed_sql, differs_sql, key_join_sql};
use crate::clickhouse::client::ident;
use crate::clickhouse::printed;
use crate::clickhouse::promote::Ready;
use crate::error::Result;
use crate::feed::Mode;
use crate::layout::{LINE_COLUMN, ORD_COLUMN, STAGE_SCHEMA};
use crate::review::{Change, ChangeKind, ChangedRow, PageFrom};
use crate::staged::Staged;
use crate::validate::binding::BoundColumn;

/// One page of the rows whose promotion would change production.
pub async fn changes_page(
    ch: &ClickHouse,
    r: &Ready,
    from: PageFrom,
    limit: i64,
) -> Result<Vec<ChangedRow>> {
    let (staged, plan) = (r.staged(), &r.batch.summary.plan);
    let id = staged.names.batch;
    let Some(list) = listed(ch, staged, plan).await? else {
        return Ok(Vec::new());
    };
    let ((cmp, ascending), bound) = (from.direction(), from.bound());
    let values: Vec<&BoundColumn> = staged.binding.value_columns().collect();
    let mut rows = ch
        .rows(
            &format!(
                "SELECT * FROM {list} WHERE ord {cmp} {bound} ORDER BY ord {dir} LIMIT {limit}",
                dir = if ascending { "ASC" } else { "DESC" },
                limit = limit.max(1),
            ),
            &format!("reading the changes of batch {id}"),
        )
        .await?;
    if !ascending {
        rows.reverse();
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let f = |i: usize| r.get(i).cloned().flatten();
            ChangedRow {
                ord: number(r.first()),
                line: number(r.get(1)),
                kind: match f(2).as_deref() {
                    Some("i") => ChangeKind::Insert,
                    Some("d") => ChangeKind::Delete,
                    _ => ChangeKind::Update,
                },
                key: f(3).unwrap_or_default(),
                changes: values
                    .iter()
                    .enumerate()
                    .filter_map(|(i, c)| {
                        let (before, after) = (f(4 + 2 * i), f(5 + 2 * i));
                        (before.is_some() || after.is_some()).then(|| Change {
                            column: c.target.clone(),
                            before,
                            after,
                        })
                    })
                    .collect(),
            }
        })
        .collect())
}

/// The batch's list of changes, made when it is not there yet; `None` when the plan
/// changes nothing.
async fn listed(
    ch: &ClickHouse,
    staged: Staged<'_>,
    plan: &crate::plan::Plan,
) -> Result<Option<String>> {
    let id = staged.names.batch;
    let parts = kinds(ch, staged, plan).await?;
    if parts.is_empty() {
        return Ok(None);
    }
    let list = list_table(id);
    let context = format!("listing the changes of batch {id}");
    let exists = ch
        .value(
            &format!(
                "SELECT count() FROM system.tables WHERE database = '{STAGE_SCHEMA}' \
                 AND name = 'batch_{id}_changes'"
            ),
            &context,
        )
        .await?;
    if exists.as_deref() == Some("1") {
        return Ok(Some(list));
    }
    // Made aside and renamed: a page never reads a list half made. Two reviews making it at
    // once: the second's rename fails, and it reads the first's.
    let making = format!(
        "{}.{}",
        ident(STAGE_SCHEMA),
        ident(&format!("batch_{id}_listing"))
    );
    ch.execute(&format!("DROP TABLE IF EXISTS {making} SYNC"), &context)
        .await?;
    ch.execute(
        &format!(
            "CREATE TABLE {making} ENGINE = MergeTree ORDER BY ord AS {} \
             SETTINGS join_use_nulls = 0",
            parts.join(" UNION ALL ")
        ),
        &context,
    )
    .await?;
    if ch
        .execute(&format!("RENAME TABLE {making} TO {list}"), &context)
        .await
        .is_err()
    {
        ch.execute(&format!("DROP TABLE IF EXISTS {making} SYNC"), &context)
            .await?;
    }
    Ok(Some(list))
}

/// The batch's list of changes.
pub(in crate::clickhouse) fn list_table(id: i64) -> String {
    format!(
        "{}.{}",
        ident(STAGE_SCHEMA),
        ident(&format!("batch_{id}_changes"))
    )
}

/// The parts of the list, each `SELECT ord, line, kind, key, before and after of each value
/// column`: the good rows production lacks (every one, for an append or a table without a
/// key), those whose values differ (not for an insert or append), and the production rows a
/// swap or mirror deletes. A kind the plan counts none of is left out.
async fn kinds(
    ch: &ClickHouse,
    staged: Staged<'_>,
    plan: &crate::plan::Plan,
) -> Result<Vec<String>> {
    let Staged {
        feed,
        binding,
        names,
    } = staged;
    let values: Vec<&BoundColumn> = binding.value_columns().collect();
    let key: Vec<&BoundColumn> = binding.key_columns().collect();
    let target = feed.target.sql_name();
    let mode = feed.spec.mode;
    let text = |e: String| format!("CAST({e} AS Nullable(String))");
    let shown = |alias: &str, c: &BoundColumn| {
        text(format!(
            "ifNull({}, '∅')",
            printed::value(&format!("{alias}.{}", ident(&c.target)), c)
        ))
    };
    let key_text = |alias: &str| printed::joined(key.iter().copied(), &format!("{alias}."));
    // Each value column's before and after, named by its place among them.
    let cells = |each: &dyn Fn(usize, &BoundColumn) -> (String, String)| -> String {
        values
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let (before, after) = each(i, c);
                format!(", {before} AS __b{i}, {after} AS __a{i}")
            })
            .collect()
    };
    let differs = |c: &BoundColumn| differs_sql(&c.target);
    let (line, ord) = (ident(LINE_COLUMN), ident(ORD_COLUMN));
    let mut parts = Vec::new();
    let appends = mode == Mode::Append || key.is_empty();
    if appends && plan.insert > 0 {
        let cells = cells(&|_, c| (text("NULL".into()), shown("r", c)));
        parts.push(format!(
            "SELECT r.{ord} AS ord, r.{line} AS line, 'i' AS kind, {key} AS key{cells} \
             FROM {rows} AS r",
            key = key_text("r"),
            rows = names.rows,
        ));
    }
    let updates = !matches!(mode, Mode::Insert | Mode::Append) && !values.is_empty();
    if !appends && (plan.insert > 0 || (updates && plan.update > 0)) {
        let columns: Vec<&str> = values.iter().map(|c| c.target.as_str()).collect();
        let changed = changed_sql(&columns);
        let cond = match (plan.insert > 0, updates && plan.update > 0) {
            (true, true) => format!("NOT t.__found OR ({changed})"),
            (true, false) => "NOT t.__found".to_string(),
            (false, _) => format!("t.__found AND ({changed})"),
        };
        let cells = cells(&|_, c| {
            let d = differs(c);
            (
                format!("if(t.__found AND {d}, {}, NULL)", shown("t", c)),
                format!("if(NOT t.__found OR {d}, {}, NULL)", shown("r", c)),
            )
        });
        let selected: Vec<String> = key
            .iter()
            .chain(values.iter())
            .map(|c| ident(&c.target))
            .collect();
        let join = key_join_sql(key.iter().map(|c| c.target.as_str()));
        parts.push(format!(
            "SELECT r.{ord} AS ord, r.{line} AS line, if(t.__found, 'u', 'i') AS kind, \
                    {key} AS key{cells} \
             FROM {rows} AS r LEFT JOIN (SELECT {selected}, true AS __found FROM {target}) AS t \
             ON {join} WHERE {cond}",
            key = key_text("r"),
            rows = names.rows,
            selected = selected.join(", "),
        ));
    }
    if matches!(mode, Mode::Swap | Mode::Mirror) && plan.delete > 0 {
        // After every ordinal of the file.
        let last = number(
            ch.rows(
                &format!(
                    "SELECT greatest((SELECT max(`_ord`) FROM {}), (SELECT max({ord}) FROM {}))",
                    names.raw, names.rows
                ),
                &format!("listing the changes of batch {}", names.batch),
            )
            .await?
            .first()
            .and_then(|r| r.first()),
        );
        let absent = match key.is_empty() {
            true => "1".to_string(),
            false => {
                let k: Vec<String> = key.iter().map(|c| ident(&c.target)).collect();
                format!(
                    "({k}) NOT IN (SELECT {k} FROM {rows})",
                    k = k.join(", "),
                    rows = names.rows
                )
            }
        };
        let order = match key.is_empty() {
            true => "tuple()".to_string(),
            false => key
                .iter()
                .map(|c| format!("t.{}", ident(&c.target)))
                .collect::<Vec<_>>()
                .join(", "),
        };
        let cells = cells(&|_, c| (shown("t", c), text("NULL".into())));
        parts.push(format!(
            "SELECT toInt64({last} + row_number() OVER (ORDER BY {order})) AS ord, \
                    toInt64(0) AS line, 'd' AS kind, {key} AS key{cells} \
             FROM {target} AS t WHERE {absent}",
            key = key_text("t"),
        ));
    }
    Ok(parts)
}
