//! A batch as the review opens it: its summary, its header and the columns the file feeds —
//! with a plan that is current. A plan a headless run left to the promotion is made first;
//! a plan made before production changed (another batch promoted, someone else's writes) is
//! made again, with the verdict, and the review says so: nobody decides on a stale plan.
use tokio_postgres::Client;

use crate::error::{Error, Result};
use crate::report::{self, Summary};

/// The largest batches whose keys the review compares with the last promoted batch's.
const KEYS_COUNTED_UP_TO: i64 = 200_000;

/// What the review shows of a batch.
#[derive(Debug, Clone)]
pub struct OpenedBatch {
    pub summary: Summary,
    pub header: Vec<String>,
    /// (target column, source field index) for every column the file feeds.
    pub columns: Vec<(String, usize)>,
    /// The source fields that feed the key, in the key's order.
    pub key_fields: Vec<usize>,
    /// What opening it did that the reviewer should know (the plan was made again).
    pub notice: Option<String>,
    /// How its promotion reaches production all at once, on its engine: `in one
    /// transaction`, `in one EXCHANGE TABLES`.
    pub all_at_once: &'static str,
}

/// Opens batch `id` for review: its plan made or made again first when it has to be. The
/// batch is read once, and again only when its plan was made anew.
pub async fn open(client: &Client, id: i64) -> Result<OpenedBatch> {
    let summary = report::load(client, id).await?;
    let (notice, changed) = replan_read(client, &summary, false).await?;
    let summary = match changed {
        true => report::load(client, id).await?,
        false => summary,
    };
    let mut opened = facts(client, summary).await?;
    opened.notice = notice;
    Ok(opened)
}

/// Makes the plan of a batch awaiting a decision again when it has to be — a headless run
/// left it to the promotion, production was written since it was made, or `force` — and
/// judges the batch again on it. Returns what was done, for a person; `None` when the plan
/// stood.
pub async fn replan(client: &Client, id: i64, force: bool) -> Result<Option<String>> {
    let summary = report::load(client, id).await?;
    Ok(replan_read(client, &summary, force).await?.0)
}

/// [`replan`] of a batch already read: what was done, and whether the batch changed.
async fn replan_read(
    client: &Client,
    summary: &Summary,
    force: bool,
) -> Result<(Option<String>, bool)> {
    if !summary.state.approvable() {
        return Ok((None, false));
    }
    let id = summary.batch;
    let b = crate::batch::load(client, id).await?;
    if b.plan.by_promotion && !force {
        crate::judge::complete_plan(client, &b).await?;
        return Ok((None, true));
    }
    let now = crate::plan::production_writes(client, &b.feed.target).await?;
    let moved = match b.plan.writes {
        Some(then) => now - then,
        // A plan from before writes were counted: only `force` makes it again.
        None => 0,
    };
    if moved == 0 && !force {
        return Ok((None, false));
    }
    crate::judge::judge(client, b.staged(), b.rows_total, false).await?;
    let after = report::load(client, id).await?;
    let (plan, _) = after.plan.describe(&after.mode, false);
    let said = match moved {
        0 => format!("plan made again: {plan}"),
        n => format!(
            "production changed since the plan was made ({} to {}): plan and verdict made again: {plan}",
            crate::format::count(n, "row write"),
            after.target
        ),
    };
    Ok((Some(said), true))
}

/// The header and fed columns of the batch `summary` holds, with the keys since the last
/// promoted batch counted.
async fn facts(client: &Client, mut summary: Summary) -> Result<OpenedBatch> {
    let id = summary.batch;
    // Two anti-joins of up to 2 × 200,000 staged rows take well under a second; larger
    // batches open without them (`show` counts them).
    report::count_keys_since(client, &mut summary, Some(KEYS_COUNTED_UP_TO)).await;
    let row = client
        .query_one(
            "SELECT header, coalesce(target_definition, '[]') FROM airlock.batches WHERE id = $1",
            &[&id],
        )
        .await
        .map_err(Error::db(format!("reading batch {id}")))?;
    let header: Vec<String> = serde_json::from_value(row.get(0)).unwrap_or_default();
    let definition: Vec<serde_json::Value> = serde_json::from_value(row.get(1)).unwrap_or_default();
    // Each entry of the definition: [target, type, not null, key, source index].
    let fed = |d: &serde_json::Value| -> Option<(String, usize, bool)> {
        Some((
            d.get(0)?.as_str()?.to_string(),
            d.get(4)?.as_u64()? as usize,
            d.get(3)?.as_bool().unwrap_or(false),
        ))
    };
    let fed: Vec<(String, usize, bool)> = definition.iter().filter_map(fed).collect();
    Ok(OpenedBatch {
        summary,
        header,
        key_fields: fed.iter().filter(|c| c.2).map(|c| c.1).collect(),
        columns: fed.into_iter().map(|(t, i, _)| (t, i)).collect(),
        notice: None,
        all_at_once: "in one transaction",
    })
}
