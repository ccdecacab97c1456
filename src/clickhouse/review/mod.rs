//! The review on ClickHouse: what `crate::review` reads from PostgreSQL — the quarantined
//! rows a page at a time, sorted, searched and jumped to, their values' frequencies, the
//! rows that would change production, the column profile — read from the batch's tables in
//! `airlock_stage`, into the same types, so the TUI shows a ClickHouse batch as it shows any.
//! Holding rows back and making the plan again change the batch the way a promotion does,
//! under the same claim: one of them goes on.
mod changes;
mod rows;

pub use changes::changes_page;
pub(super) use changes::list_table;
pub use rows::{
    column_profile, go_to_line, quarantined_page, quarantined_rank, search, sorted_page,
    source_text, value_frequencies,
};

use super::ClickHouse;
use super::batches;
use super::client::{ident, quote};
use super::lease::Lease;
use super::promote::{self, Ready, ready};
use crate::batch::State;
use crate::error::{Error, Result};
use crate::layout::{BYTE_COLUMN, LINE_COLUMN, ORD_COLUMN, StageNames, source_field, stage_field};
use crate::review::{Filter, OpenedBatch};

/// A batch read back for review: its summary, header and fed columns (their source fields,
/// and which feed the key).
pub async fn open(ch: &ClickHouse, id: i64) -> Result<OpenedBatch> {
    batches::ensure_catalog(ch).await?;
    promote::reconcile(ch).await?;
    let r = ready(ch, id).await?;
    let mut summary = r.batch.summary.clone();
    // Two anti-joins of up to 2 × 200,000 typed rows; larger batches open without them
    // (`show` counts them).
    let keys: Vec<String> = r.binding.key_columns().map(|c| c.target.clone()).collect();
    super::history::since_last(ch, &mut summary, &keys, Some(200_000)).await?;
    Ok(OpenedBatch {
        columns: r
            .binding
            .columns
            .iter()
            .map(|c| (c.target.clone(), c.source_index))
            .collect(),
        key_fields: r.binding.key_columns().map(|c| c.source_index).collect(),
        header: r.batch.header.clone(),
        summary,
        notice: None,
        all_at_once: "in one EXCHANGE TABLES",
    })
}

/// Makes the plan of a batch awaiting a decision again, against production as it is now,
/// and judges the batch again on it; says what it did.
pub async fn replan(ch: &ClickHouse, id: i64) -> Result<Option<String>> {
    let mut r = ready(ch, id).await?;
    if !r.batch.summary.state.approvable() {
        return Ok(None);
    }
    let lease = claimed(ch, &r, "planned again").await?;
    let result = judged(ch, &mut r, None).await;
    let result = released(ch, &r, lease, result).await;
    result?;
    let (plan, _) = r.batch.summary.plan.describe(&r.batch.summary.mode, false);
    Ok(Some(format!("plan made again: {plan}")))
}

/// Holds rows back by hand: they join the quarantine with the note (`held`), the decision
/// is recorded, and the batch is judged again. Returns how many rows were held.
pub async fn hold_back(ch: &ClickHouse, id: i64, ords: &[i64], note: &str) -> Result<u64> {
    let mut r = ready(ch, id).await?;
    let state = r.batch.summary.state;
    if state != State::Validated {
        return Err(Error::BatchState {
            id,
            state: state.to_string(),
            action: "hold",
            expected: State::Validated.to_string(),
        });
    }
    let lease = claimed(ch, &r, "held back").await?;
    let result = async {
        let held = set_aside_by_hand(ch, &r, ords, note).await?;
        let counts = serde_json::json!({ "held": held });
        judged(ch, &mut r, Some(("hold", note, counts))).await?;
        Ok(held)
    }
    .await;
    released(ch, &r, lease, result).await
}

/// Gives up the lease of a change to the batch. A change that failed records the batch
/// again as it was read, so its claim (on that record) no longer stands in the way of the
/// next session's.
async fn released<T>(ch: &ClickHouse, r: &Ready, lease: Lease, result: Result<T>) -> Result<T> {
    if result.is_err() {
        let _ = batches::record(ch, &r.batch).await;
    }
    lease.release().await;
    result
}

/// Claims the batch as `r` read it, the way a promotion does (the same claim: a promotion
/// and a change to its batch never run at once), and holds its lease while the change runs.
async fn claimed(ch: &ClickHouse, r: &Ready, what: &'static str) -> Result<Lease> {
    const LEASE_MS: i64 = 60_000;
    let id = r.batch.summary.batch;
    let busy = || Error::Refused {
        id,
        action: what,
        reason: "another session is changing or promoting it right now".into(),
    };
    if !batches::claim(ch, "promote", id, r.batch.version, LEASE_MS).await? {
        return Err(busy());
    }
    if batches::load(ch, id).await?.version != r.batch.version {
        return Err(busy());
    }
    Lease::take(ch, id, LEASE_MS).await
}

/// Judges the batch again (plan, counts, verdict) and records it, with a decision when one
/// is given.
async fn judged(
    ch: &ClickHouse,
    r: &mut Ready,
    decision: Option<(&str, &str, serde_json::Value)>,
) -> Result<()> {
    let total = r.batch.summary.rows.total;
    let mut summary = r.batch.summary.clone();
    super::check::judge(ch, r.staged(), total, &mut summary).await?;
    if let Some((what, note, counts)) = decision {
        summary.decisions.push(promote::decision(
            ch,
            what,
            Some(note.to_string()),
            Some(counts),
        ));
    }
    r.batch.summary = summary;
    batches::record(ch, &r.batch).await
}

/// Adds a `held` issue to each good row of `ords` and moves them to staging.
async fn set_aside_by_hand(ch: &ClickHouse, r: &Ready, ords: &[i64], note: &str) -> Result<u64> {
    let names = &r.names;
    let context = format!("holding rows of batch {} back", names.batch);
    let who = crate::batch::os_user().unwrap_or_else(|| "an operator".into());
    let list = ord_list(ords);
    let ord = ident(ORD_COLUMN);
    let chosen = format!("FROM {} WHERE {ord} IN ({list})", names.rows);
    let held: u64 = ch
        .value(&format!("SELECT count() {chosen}"), &context)
        .await?
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let key = match r.binding.key_columns().next() {
        None => "NULL".to_string(),
        Some(_) => super::printed::joined(r.binding.key_columns(), ""),
    };
    ch.execute(
        &format!(
            "INSERT INTO {issues} (line, ord, `column`, `check`, severity, value, message) \
             SELECT {line}, {ord}, NULL, 'held', 'error', {key}, {message} {chosen}",
            issues = names.issues,
            line = ident(LINE_COLUMN),
            message = quote(&format!("held back by {who}: {note}")),
        ),
        &context,
    )
    .await?;
    super::stage::set_aside(ch, names, &r.binding, &["error"]).await?;
    Ok(held)
}

/// `o1, o2, …` for an `IN` list (never empty: `-1` matches no ordinal).
fn ord_list(ords: &[i64]) -> String {
    match ords.is_empty() {
        true => "-1".into(),
        false => ords
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// Source field `index` (0-based) as staging names it on ClickHouse.
fn field(index: usize) -> String {
    super::stage::ch_name(&stage_field(index))
}

/// Every record of the batch once, as staging has them: the staged records (every one with
/// an issue) and those whose source fields are kept beside their typed values.
fn records(names: &StageNames, fields: usize) -> String {
    let staged: String = (0..fields).map(|i| format!(", {}", field(i))).collect();
    let kept: String = (0..fields)
        .map(|i| {
            format!(
                ", {} AS {}",
                super::stage::ch_name(&source_field(i)),
                field(i)
            )
        })
        .collect();
    format!(
        "(SELECT `_line`, `_ord`, `_byte`, `_raw`{staged} FROM {raw} \
          UNION ALL \
          SELECT {line}, {ord}, {byte}, CAST(NULL AS Nullable(String)){kept} FROM {rows} \
          WHERE {byte} IS NOT NULL)",
        raw = names.raw,
        rows = names.rows,
        line = ident(LINE_COLUMN),
        ord = ident(ORD_COLUMN),
        byte = ident(BYTE_COLUMN),
    )
}

/// The condition on an issue that `filter` chooses.
fn filter_cond(filter: &Filter) -> String {
    let mut cond = format!("severity = '{}'", filter.severity());
    for (value, column) in [
        (&filter.check, "`check`"),
        (&filter.column, "`column`"),
        (&filter.value, "value"),
    ] {
        if let Some(v) = value {
            cond.push_str(&format!(" AND {column} = {}", quote(v)));
        }
    }
    cond
}

/// The ordinals of the rows `filter` chooses, as a subquery over the issues.
fn ords_sql(names: &StageNames, filter: &Filter) -> String {
    format!(
        "SELECT ord FROM {} WHERE {}",
        names.issues,
        filter_cond(filter)
    )
}

/// A number the server printed (0 when it printed none).
fn number(cell: Option<&Option<String>>) -> i64 {
    cell.cloned()
        .flatten()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
