//! The verdict: a staged batch counted, its checks summarized, its history and plan read,
//! judged by the feed's policy and recorded as `validated`. After a load, after promotion set
//! rows aside, after rows were held back in the review, and on release from quarantine.
use tokio_postgres::Client;

use crate::batch::{self, Loaded};
use crate::error::{Error, Result};
use crate::feed::{Feed, Mode};
use crate::plan::Plan;
use crate::report;
use crate::stage;
use crate::staged::Staged;
use crate::validate::{binding, policy};

/// Counts, summarizes and judges the staged batch, and records it as `validated`: after a
/// load, and again after promotion set rows aside. With `plan_by_promotion`, the plan is
/// left to the promotion unless the verdict is abort, when someone will review it.
pub async fn judge(
    client: &Client,
    staged: Staged<'_>,
    total: i64,
    plan_by_promotion: bool,
) -> Result<()> {
    let Staged {
        feed,
        binding,
        names,
    } = staged;
    let make_plan = || crate::plan::compute(client, staged, true);
    // A policy that weighs the plan's updates needs the plan before any promotion.
    // A mirror's deletes are always shown before they happen.
    let plan_by_promotion = plan_by_promotion
        && feed.spec.policy.max_update_fraction.is_none()
        && feed.spec.mode != Mode::Mirror
        && !drift_decides(feed, binding);
    let mut plan = match (plan_by_promotion, feed.spec.mode) {
        (false, _) => make_plan().await?,
        // The policy does not read an upsert's plan.
        (true, Mode::Upsert | Mode::Insert | Mode::Mirror | Mode::Append) => Plan {
            by_promotion: true,
            ..Plan::default()
        },
        // It reads how many rows production has, against a swap's good rows.
        (true, Mode::Swap) => Plan {
            by_promotion: true,
            production_rows: crate::plan::production_rows(client, &feed.target).await?,
            ..Plan::default()
        },
    };
    let good = (!plan.by_promotion).then_some(plan.rows());
    let rows = report::count_rows(client, names, total, good).await?;
    let checks = report::summarize_checks(client, names).await?;
    let mut history = batch::history::of(
        client,
        names.batch,
        &feed.spec.name,
        &feed.target.display_name(),
    )
    .await?;
    if !plan.by_promotion {
        let moved = crate::validate::drift::against_production(client, staged, &plan).await?;
        history.drift.extend(moved);
    }
    let mut counted = Vec::new();
    for t in &feed.thresholds {
        let rows = report::rows_failing(client, names, &t.column, &t.checks).await?;
        counted.push((t.clone(), rows));
    }
    let facts = (&rows, &plan, !checks.is_empty());
    let (judged, notes) = policy::judge_feed(feed, facts, &history, &counted, &binding.notes);
    let (verdict, breaches) = (judged.verdict, judged.breaches);
    if plan.by_promotion && verdict == policy::Verdict::Abort {
        plan = make_plan().await?;
    }
    batch::record_validation(
        client,
        names.batch,
        &batch::Validation {
            verdict,
            breaches: json(&breaches),
            notes: json(&notes),
            rows: &rows,
            checks: json(&checks),
            plan: json(&plan),
        },
    )
    .await
}

/// Releases a quarantined batch: back to `validated` with a note in the audit log, then
/// judged again — plan, history and verdict against production as it is now — so whatever
/// changed while it was set aside is what the next decision sees. Refused when its staging
/// is gone (the file must then be checked again).
pub async fn release(client: &mut Client, id: i64, note: &str) -> Result<()> {
    stage::ensure_catalog(client).await?;
    if note.trim().is_empty() {
        return Err(Error::Refused {
            id,
            action: "released",
            reason: "a release needs a note saying why (--note)".into(),
        });
    }
    let b = batch::load(client, id).await?;
    let staged: bool = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&b.names.rows])
        .await
        .map_err(Error::db(format!("reading batch {id}")))?
        .get(0);
    if !staged {
        return Err(Error::Refused {
            id,
            action: "released",
            reason: "its staging was dropped; check the file again".into(),
        });
    }
    batch::release_from_quarantine(client, id, note).await?;
    judge(client, b.staged(), b.rows_total, false).await
}

/// Whether drift against production could change what a headless run does: the policy makes
/// it an abort, or a warning that keeps a `clean`-only run from promoting, and the file feeds
/// a numeric column production has values of. Then the plan (whose join counts the moves) is
/// made before the promotion.
fn drift_decides(feed: &Feed, binding: &binding::Binding) -> bool {
    use crate::feed::{AutoPromote, Reaction};
    let policy = &feed.spec.policy;
    let decides = match policy.drift {
        Reaction::Abort => true,
        Reaction::Warn => policy.auto_promote == AutoPromote::Clean,
        Reaction::Allow => false,
    };
    decides
        && matches!(feed.spec.mode, Mode::Upsert | Mode::Mirror)
        && binding.value_columns().any(crate::plan::is_numeric)
}

/// Makes the plan a headless run left to the promotion (`Plan::by_promotion`), for a person
/// about to see or approve the batch, and records it. Returns the plan.
pub async fn complete_plan(client: &Client, b: &Loaded) -> Result<Plan> {
    let plan = crate::plan::compute(client, b.staged(), true).await?;
    batch::record_plan(client, b.id, &json(&plan)).await?;
    Ok(plan)
}

fn json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}
