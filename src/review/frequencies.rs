//! The frequency view: how often each offending value occurs among the rows a filter
//! chooses. For one check on one column — what the review asks for — the counts come from a
//! table of every (check, column, value) counted once per batch, so the view opens at once
//! however many rows were set aside; it is counted again when the batch has new issues.
use tokio_postgres::GenericClient;

use super::quarantined::{Filter, filter_cond, filter_params, params_with};
use crate::error::{Error, Result};
use crate::layout::StageNames;

/// How often each offending value occurs among the rows `filter` chooses, commonest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frequencies {
    /// The filter the values were counted under.
    pub filter: Filter,
    /// (value, rows), at most the requested number; `None` is an empty value.
    pub values: Vec<(Option<String>, i64)>,
    /// Distinct values and rows in all.
    pub distinct: i64,
    pub rows: i64,
}

/// The offending values of the rows `filter` chooses (its check and column), commonest first,
/// at most `limit` of them, with how many distinct values and rows there are in all.
pub async fn value_frequencies(
    client: &impl GenericClient,
    batch: i64,
    filter: &Filter,
    limit: i64,
) -> Result<Frequencies> {
    let names = StageNames::new(batch);
    let filter = Filter {
        value: None,
        ..filter.clone()
    };
    let ctx = || Error::db(format!("counting the values of batch {batch}"));
    // A row has one issue per check and column: counted by (check, column, value), the
    // counts are rows. Without a column, a row could count twice; those are counted live.
    let counted = filter.check.is_some()
        && filter.column.is_some()
        && value_counts(client, &names).await.map_err(ctx())?;
    let from = match counted {
        true => format!(
            "(SELECT value, n FROM {values} i WHERE {cond}) v",
            values = names.values,
            cond = filter_cond(&filter),
        ),
        false => format!(
            "(SELECT i.value, count(DISTINCT i.ord) AS n FROM {issues} i WHERE {cond} \
                 GROUP BY i.value) v",
            issues = names.issues,
            cond = filter_cond(&filter),
        ),
    };
    let sql = format!(
        "SELECT value, n, count(*) OVER (), sum(n) OVER ()::bigint FROM {from} \
         ORDER BY n DESC, value NULLS LAST LIMIT $1"
    );
    let extra = filter_params(&filter);
    let params = params_with(&extra, &limit);
    let rows = client.query(&sql, &params).await.map_err(ctx())?;
    let (distinct, total) = rows
        .first()
        .map_or((0, 0), |r| (r.get::<_, i64>(2), r.get::<_, i64>(3)));
    Ok(Frequencies {
        values: rows.iter().map(|r| (r.get(0), r.get(1))).collect(),
        distinct,
        rows: total,
        filter,
    })
}

/// Makes sure the batch's value counts are there and current: they are stamped with the
/// last issue's id they counted (issues are only ever added, with ids that grow, or all
/// emptied for a new load). False when they cannot be made (another review is making them
/// right now): the caller counts live.
async fn value_counts(
    client: &impl GenericClient,
    names: &StageNames,
) -> std::result::Result<bool, tokio_postgres::Error> {
    let row = client
        .query_one(
            &format!(
                "SELECT obj_description(to_regclass($1), 'pg_class'), \
                        (SELECT coalesce(max(id), 0) FROM {issues})::text",
                issues = names.issues
            ),
            &[&names.values],
        )
        .await?;
    let (stamp, last): (Option<String>, String) = (row.get(0), row.get(1));
    if stamp.as_deref() == Some(last.as_str()) {
        return Ok(true);
    }
    // Several statements in one simple query are one transaction: a review that reads the
    // counts sees them whole or not at all.
    let made = client
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS {values}; \
             CREATE UNLOGGED TABLE {values} AS \
                 SELECT severity, \"check\", \"column\", value, count(DISTINCT ord) AS n \
                 FROM {issues} WHERE id <= {last} GROUP BY 1, 2, 3, 4; \
             CREATE INDEX ON {values} (\"check\", \"column\", severity, n DESC); \
             COMMENT ON TABLE {values} IS '{last}'",
            values = names.values,
            issues = names.issues,
            last = last.parse::<i64>().unwrap_or_default(),
        ))
        .await;
    Ok(made.is_ok())
}
