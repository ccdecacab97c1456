//! Stored generated columns: the server computes them from the row when it is written, and an
//! expression that fails (`d * 2` past the integer range) or yields NULL into a NOT NULL
//! column would refuse the promotion. They are computed here over the typed rows first; the
//! rows they fail for are set aside with the server's own message, so a validated row never
//! makes promotion fail on them. Then the target's CHECK constraints on generated columns
//! are judged with the computed values. A column whose expression reads columns the file
//! does not feed is left to the promotion (their values are the defaults, known only then).
use tokio_postgres::Client;

use super::binding::Binding;
use crate::db::catalog::Column;
use crate::db::ident;
use crate::error::{Error, Result};
use crate::feed::Feed;
use crate::layout::{ORD_COLUMN, StageNames};
use crate::staged::Staged;

/// A refused range of rows is halved until it is this small, then tried row by row.
const ROW_BY_ROW: i64 = 64;

/// The generated columns computable from what the file feeds, with their expressions.
fn computable<'a>(feed: &'a Feed, binding: &Binding) -> Vec<(&'a Column, &'a str)> {
    feed.target
        .columns
        .iter()
        .filter_map(|col| {
            let (expr, reads) = col.generation.as_ref()?;
            reads
                .iter()
                .all(|c| binding.column(c).is_some())
                .then_some((col, expr.as_str()))
        })
        .collect()
}

pub(super) async fn generated_columns(client: &Client, staged: Staged<'_>) -> Result<()> {
    let Staged {
        feed,
        binding,
        names,
    } = staged;
    let generated = computable(feed, binding);
    for &(col, expr) in &generated {
        let bad = failing_rows(client, names, col, expr).await?;
        if !bad.is_empty() {
            let rows: Vec<(i64, String)> = bad
                .into_iter()
                .map(|(ord, why)| {
                    (
                        ord,
                        format!(
                            "generated column {} = {expr} cannot be computed for this row: {why}",
                            col.name
                        ),
                    )
                })
                .collect();
            super::aside::set_aside(client, binding, names, "generated", &rows).await?;
        }
    }
    checks_on_generated(client, staged, &generated).await
}

/// The target's CHECK constraints that read a generated column (and otherwise only columns
/// the file feeds), judged over each typed row with its generated values computed. Rows for
/// which a value cannot be computed were set aside above.
async fn checks_on_generated(
    client: &Client,
    staged: Staged<'_>,
    generated: &[(&Column, &str)],
) -> Result<()> {
    let Staged {
        feed,
        binding,
        names,
    } = staged;
    let is_generated = |c: &str| generated.iter().any(|(g, _)| g.name == c);
    for check in &feed.target.checks {
        let reads_generated = check.columns.iter().any(|c| is_generated(c));
        let all_known = check
            .columns
            .iter()
            .all(|c| is_generated(c) || binding.column(c).is_some());
        if !reads_generated || !all_known {
            continue;
        }
        let values: Vec<String> = generated
            .iter()
            .map(|(g, expr)| format!(", ({expr})::{} AS {}", g.type_sql, ident(&g.name)))
            .collect();
        let condition = format!(
            "EXISTS (SELECT 1 FROM (SELECT r.*{}) g WHERE ({}) IS FALSE)",
            values.concat(),
            check.expr
        );
        let message = format!(
            "violates check constraint {} once its generated columns are computed: {}",
            check.name, check.expr
        );
        let sql = super::aside::set_aside_where(
            binding,
            names,
            &condition,
            "$1, 'check_constraint', 'error', NULL, $2::text",
        );
        super::aside::exec(
            client,
            "checking constraints on generated columns",
            &sql,
            &[&check.columns.join(", "), &message],
        )
        .await?;
    }
    Ok(())
}

/// The rows for which the server refuses `expr` as the column's type, or yields NULL where
/// the column is NOT NULL: one statement over every row, and only when the server refuses
/// it, halves of the refused range, down to a few rows tried one by one.
async fn failing_rows(
    client: &Client,
    names: &StageNames,
    col: &Column,
    expr: &str,
) -> Result<Vec<(i64, String)>> {
    let ord = ident(ORD_COLUMN);
    let value = format!("({expr})::{}", col.type_sql);
    let ctx = || Error::db(format!("computing generated column {}", col.name));
    let (lo, hi): (i64, i64) = {
        let row = client
            .query_one(
                &format!(
                    "SELECT coalesce(min({ord}), 0), coalesce(max({ord}), -1) FROM {}",
                    names.rows
                ),
                &[],
            )
            .await
            .map_err(ctx())?;
        (row.get(0), row.get(1))
    };
    // Counting the NULLs computes every value; the server refuses the statement when one
    // cannot be computed.
    let count = format!(
        "SELECT count(*) FILTER (WHERE {value} IS NULL) FROM {rows} r \
         WHERE r.{ord} BETWEEN $1 AND $2",
        rows = names.rows
    );
    let nulls = format!(
        "SELECT r.{ord} FROM {rows} r WHERE r.{ord} BETWEEN $1 AND $2 AND {value} IS NULL",
        rows = names.rows
    );
    let null_message = || "the value is NULL, but the column is NOT NULL".to_string();
    let mut found = Vec::new();
    let mut pending = vec![(lo, hi)];
    while let Some((start, end)) = pending.pop() {
        if start > end {
            continue;
        }
        match client.query_one(&count, &[&start, &end]).await {
            Ok(row) if !col.not_null || row.get::<_, i64>(0) == 0 => {}
            Ok(_) => {
                let rows = client.query(&nulls, &[&start, &end]).await.map_err(ctx())?;
                found.extend(rows.into_iter().map(|r| (r.get(0), null_message())));
            }
            Err(e) if crate::promote::locks::is_data_error(&e) && end - start >= ROW_BY_ROW => {
                let mid = start + (end - start) / 2;
                pending.push((mid + 1, end));
                pending.push((start, mid));
            }
            Err(e) if crate::promote::locks::is_data_error(&e) => {
                let rows = client
                    .query(
                        "SELECT ord, message FROM airlock.expression_errors(\
                             $1::text::regclass, $2, $3, $4, $5, $6)",
                        &[
                            &names.rows,
                            &expr,
                            &col.type_sql,
                            &start,
                            &end,
                            &col.not_null,
                        ],
                    )
                    .await
                    .map_err(ctx())?;
                found.extend(rows.into_iter().map(|r| (r.get(0), r.get(1))));
            }
            Err(e) => return Err(ctx()(e)),
        }
    }
    found.sort_unstable();
    Ok(found)
}
