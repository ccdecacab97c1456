//! `check` on ClickHouse: the file staged, validated and judged as on PostgreSQL, with the
//! batch recorded in `airlock.batches`. Production is only read.
use std::path::Path;
use std::sync::Arc;

use super::batches::{self, ChBatch};
use super::client::{ClickHouse, ident, quote};
use super::{stage, validate};
use crate::batch::State;
use crate::error::{Error, Result};
use crate::feed::{Feed, Mode};
use crate::layout::StageNames;
use crate::pipeline::{CheckControl, Opened};
use crate::plan::Plan;
use crate::report::{CheckSummary, Example, FileFacts, Summary};
use crate::staged::Staged;
use crate::validate::binding::Binding;
use crate::validate::drift;
use crate::validate::policy::{self, RowCounts};
use crate::validate::types::TypeRule;

/// Loads and validates `file` for `feed` on ClickHouse; returns the new batch's number. On
/// failure after the batch exists, it is recorded as `load_failed` with the error.
pub async fn check(
    ch: &ClickHouse,
    feed: &Feed,
    file: &Path,
    control: &CheckControl,
) -> Result<i64> {
    batches::ensure_catalog(ch).await?;
    let opened = crate::pipeline::open(feed, file, control)?;
    refuse_unjudged(feed, &opened.binding)?;
    let id = batches::claim_id(ch).await?;
    let mut batch = ChBatch {
        version: 0,
        summary: new_summary(ch, feed, file, id, &opened),
        spec: feed.spec_text.clone(),
        header: opened.binding.header.clone(),
        promotion: None,
    };
    // Held before the batch shows as loading, so no other session takes it for dead.
    let lease = super::lease::Lease::take(ch, id, LOAD_LEASE_MS).await?;
    batches::record(ch, &batch).await?;
    let result = match stage_and_validate(ch, feed, id, opened, control, &mut batch.summary).await {
        Ok(()) => batches::record(ch, &batch).await.map(|()| id),
        Err(e) => {
            batch.summary.state = State::LoadFailed;
            batch.summary.error = Some(e.to_string());
            // Best effort: the original error matters more than a failure to record it.
            let _ = batches::record(ch, &batch).await;
            Err(e)
        }
    };
    lease.release().await;
    result
}

/// How long a loading process's lease lasts without renewal (it renews every third).
const LOAD_LEASE_MS: i64 = 30_000;

/// Columns whose values only the engine could judge (date-times, arrays, maps, …) are not
/// loaded on ClickHouse yet: refused before anything is written, naming them.
fn refuse_unjudged(feed: &Feed, binding: &Binding) -> Result<()> {
    let open: Vec<String> = binding
        .columns
        .iter()
        .filter(|c| matches!(&c.value_rule, TypeRule::ClickHouse(t) if t.left_to_engine()))
        .map(|c| format!("{} ({})", c.target, c.type_sql))
        .collect();
    match open.is_empty() {
        true => Ok(()),
        false => Err(Error::Spec {
            path: feed.path.clone(),
            key: "target".into(),
            problem: format!(
                "on ClickHouse, Airlock does not judge values of these columns' types yet: {}",
                open.join(", ")
            ),
        }),
    }
}

fn new_summary(ch: &ClickHouse, feed: &Feed, file: &Path, id: i64, o: &Opened) -> Summary {
    let absolute = std::path::absolute(file).unwrap_or_else(|_| file.to_owned());
    Summary {
        batch: id,
        feed: feed.spec.name.clone(),
        target: feed.target.display_name(),
        mode: feed.spec.mode.as_str().to_string(),
        state: State::Loading,
        verdict: None,
        breaches: Vec::new(),
        rows: RowCounts::default(),
        checks: Vec::new(),
        plan: Plan::default(),
        file: FileFacts {
            path: absolute.display().to_string(),
            spec: feed.path.display().to_string(),
            size: Some(o.input.size() as i64),
            sha256: None,
            encoding: feed.spec.source.encoding.clone(),
            compression: None,
            text_size: None,
            format: Some(o.options.format.as_str().to_string()),
            parts: Vec::new(),
        },
        notes: Vec::new(),
        error: None,
        db_role: ch.url().user.clone(),
        os_user: crate::batch::os_user(),
        created_at: chrono::Utc::now()
            .format("%Y-%m-%d %H:%M:%S%.3f UTC")
            .to_string(),
        decisions: Vec::new(),
        applied: None,
        previous_table: None,
        profile: Vec::new(),
        since_last: None,
        kept_for_undo: None,
        timings: None,
        staging_lost_at: None,
        conversions: Vec::new(),
    }
}

async fn stage_and_validate(
    ch: &ClickHouse,
    feed: &Feed,
    id: i64,
    opened: Opened,
    control: &CheckControl,
    summary: &mut Summary,
) -> Result<()> {
    let mut timings = crate::timing::Timings::start();
    let names = StageNames::new(id);
    let Opened {
        reader, binding, ..
    } = opened;
    stage::create_tables(ch, &names, &binding).await?;
    let lookups = stage::lookups(ch, &binding).await?;
    let binding = Arc::new(binding);
    let reading = crate::stage::Reading {
        reader,
        binding: binding.clone(),
        nulls: feed.spec.source.null.clone(),
        fast: Some(crate::stage::Fast {
            lookups,
            keys: None,
        }),
        cancel: control.cancel.clone(),
    };
    let stats = stage::load(ch, &names, reading).await?;
    timings.lap("load (read, row checks, insert)");
    if !stats.pending.is_empty() {
        return Err(Error::ClickHouse {
            context: format!("checking batch {id}"),
            message: format!(
                "values of {} were left undecided",
                stats.pending.iter().cloned().collect::<Vec<_>>().join(", ")
            ),
        });
    }
    let staged = Staged::new(feed, &binding, &names);
    validate::constraints_and_duplicates(ch, staged, &stats.parts).await?;
    summary.file.parts = stats.parts.clone();
    timings.lap("check constraints and duplicate keys");

    // What the history checks compare: the file's digest and its columns' profile.
    summary.file.sha256 = Some(stats.sha256.clone()).filter(|s| !s.is_empty());
    summary.file.text_size = Some(stats.text_bytes as i64);
    summary.file.compression = Some(stats.compression.as_str().to_string());
    summary.profile = stats.profile.clone();
    summary.conversions = stats.conversions.clone();
    judge(ch, staged, stats.records as i64, summary).await?;
    timings.lap("plan and verdict");
    summary.timings = serde_json::to_value(&timings).ok();
    Ok(())
}

/// Counts, summarizes and judges the staged batch against production as it is now, and
/// makes it `validated`: after the load, and on release from quarantine.
pub(super) async fn judge(
    ch: &ClickHouse,
    staged: Staged<'_>,
    total: i64,
    summary: &mut Summary,
) -> Result<()> {
    let Staged {
        feed,
        binding,
        names,
    } = staged;
    // The list of changes the review made belongs to the plan made before.
    ch.execute(
        &format!(
            "DROP TABLE IF EXISTS {} SYNC",
            super::review::list_table(names.batch)
        ),
        &format!("judging batch {}", names.batch),
    )
    .await?;
    let rows = count_rows(ch, names, total).await?;
    let parts = crate::source::parts::PartMap::new(summary.file.parts.clone());
    let checks = summarize_checks(ch, names, &parts).await?;
    let plan = plan(ch, staged).await?;
    let mut counted = Vec::new();
    for t in &feed.thresholds {
        let rows = rows_failing(ch, names, &t.column, &t.checks).await?;
        counted.push((t.clone(), rows));
    }
    let facts = (&rows, &plan, !checks.is_empty());
    let mut history = super::history::of(ch, summary).await?;
    history
        .drift
        .extend(drift_against_production(ch, staged, &plan).await?);
    let (judged, notes) = policy::judge_feed(feed, facts, &history, &counted, &binding.notes);
    summary.state = State::Validated;
    summary.verdict = Some(judged.verdict);
    summary.breaches = judged.breaches;
    summary.rows = rows;
    summary.checks = checks;
    summary.plan = plan;
    summary.notes = notes;
    Ok(())
}

async fn number(ch: &ClickHouse, sql: &str, context: &str) -> Result<i64> {
    Ok(ch
        .value(sql, context)
        .await?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

/// `total = good + quarantined + superseded`; warned rows are among the good.
async fn count_rows(ch: &ClickHouse, names: &StageNames, total: i64) -> Result<RowCounts> {
    let context = format!("counting the rows of batch {}", names.batch);
    let issues = &names.issues;
    let ord = ident(crate::layout::ORD_COLUMN);
    let good = number(ch, &format!("SELECT count() FROM {}", names.rows), &context).await?;
    let superseded = number(
        ch,
        &format!(
            "SELECT uniqExact(ord) FROM {issues} WHERE severity = 'superseded' \
             AND ord NOT IN (SELECT ord FROM {issues} WHERE severity = 'error')"
        ),
        &context,
    )
    .await?;
    let warned = number(
        ch,
        &format!(
            "SELECT uniqExact(ord) FROM {issues} WHERE severity = 'warning' \
             AND ord IN (SELECT {ord} FROM {})",
            names.rows
        ),
        &context,
    )
    .await?;
    Ok(RowCounts {
        total,
        good,
        quarantined: total - good - superseded,
        superseded,
        warned,
    })
}

/// One line per (check, column, severity), its example the first issue by line; ordered as
/// on PostgreSQL (`report::summarize_checks`).
async fn summarize_checks(
    ch: &ClickHouse,
    names: &StageNames,
    parts: &crate::source::parts::PartMap,
) -> Result<Vec<CheckSummary>> {
    let rows = ch
        .rows(
            &format!(
                "SELECT `check`, `column`, severity, uniqExact(ord) AS n, \
                        argMin(line, (line, ord)), argMin(value, (line, ord)), \
                        argMin(message, (line, ord)) \
                 FROM {} GROUP BY `check`, `column`, severity \
                 ORDER BY multiIf(severity = 'error', 0, severity = 'superseded', 1, 2), \
                          n DESC, `check`, `column` \
                 SETTINGS aggregate_functions_null_for_empty = 0",
                names.issues
            ),
            &format!("summarizing the issues of batch {}", names.batch),
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let f = |i: usize| r.get(i).cloned().flatten();
            let place = parts.locate(f(4).and_then(|n| n.parse().ok()).unwrap_or(0));
            CheckSummary {
                check: f(0).unwrap_or_default(),
                column: f(1),
                severity: f(2).unwrap_or_default(),
                rows: f(3).and_then(|n| n.parse().ok()).unwrap_or(0),
                example: Example {
                    file: place.file.map(str::to_string),
                    line: place.line,
                    value: f(5),
                    message: f(6).unwrap_or_default(),
                },
            }
        })
        .collect())
}

/// How many rows have an issue of `checks` on `column` (a check's own threshold).
async fn rows_failing(
    ch: &ClickHouse,
    names: &StageNames,
    column: &str,
    checks: &[&str],
) -> Result<i64> {
    let checks: Vec<String> = checks.iter().map(|c| quote(c)).collect();
    number(
        ch,
        &format!(
            "SELECT uniqExact(ord) FROM {} WHERE `column` = {} AND `check` IN ({})",
            names.issues,
            quote(column),
            checks.join(", ")
        ),
        &format!("counting the issues of batch {}", names.batch),
    )
    .await
}

/// Whether column `c` of the staged row `r` differs from production's row `t` (NULLs
/// compare equal to each other).
pub(super) fn differs_sql(c: &str) -> String {
    format!("NOT (r.{c} <=> t.{c})", c = ident(c))
}

/// Whether the staged row `r` moves numeric column `c` of production's row `t` by more
/// than half its value (a value from zero counts as moved), as on PostgreSQL.
fn moved_sql(c: &str) -> String {
    format!(
        "(abs(toFloat64(r.{c}) - toFloat64(t.{c})) > 0.5 * abs(toFloat64(t.{c})) AND NOT (r.{c} <=> t.{c}))",
        c = ident(c)
    )
}

/// `r.k1 = t.k1 AND …` over the key columns `key`.
pub(super) fn key_join_sql<'a>(key: impl IntoIterator<Item = &'a str>) -> String {
    key.into_iter()
        .map(|k| format!("r.{k} = t.{k}", k = ident(k)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Whether any of `columns` differs between `r` and `t` (never, with none).
pub(super) fn changed_sql(columns: &[&str]) -> String {
    match columns.is_empty() {
        true => "0".to_string(),
        false => columns
            .iter()
            .map(|c| differs_sql(c))
            .collect::<Vec<_>>()
            .join(" OR "),
    }
}

/// What promotion would do to production: the good rows joined with the target by key.
pub(super) async fn plan(ch: &ClickHouse, staged: Staged<'_>) -> Result<Plan> {
    let Staged {
        feed,
        binding,
        names,
    } = staged;
    let target = feed.target.sql_name();
    let context = format!("computing the plan against {}", feed.target.display_name());
    let production_rows = number(ch, &format!("SELECT count() FROM {target}"), &context).await?;
    let good = number(ch, &format!("SELECT count() FROM {}", names.rows), &context).await?;
    let key: Vec<&str> = binding.key_columns().map(|c| c.target.as_str()).collect();
    let mut plan = Plan {
        production_rows,
        ..Plan::default()
    };
    if feed.spec.mode == Mode::Append || key.is_empty() {
        plan.insert = good;
        plan.delete = match feed.spec.mode {
            Mode::Swap => production_rows,
            _ => 0,
        };
        return Ok(plan);
    }
    let values: Vec<&str> = binding
        .columns
        .iter()
        .filter(|c| !c.key)
        .map(|c| c.target.as_str())
        .collect();
    let changed = changed_sql(&values);
    let per_column: String = values
        .iter()
        .map(|c| format!(", countIf(t.__found AND {})", differs_sql(c)))
        .collect();
    // The numeric columns' rows production has that the file would move by more than half
    // (drift against production), and the first of them.
    let numeric: Vec<&str> = binding
        .columns
        .iter()
        .filter(|c| !c.key && crate::plan::is_numeric(c))
        .map(|c| c.target.as_str())
        .collect();
    let moved: String = numeric
        .iter()
        .map(|c| {
            format!(
                ", countIf(t.__found AND {m}), minIfOrNull(r.{ord}, t.__found AND {m})",
                m = moved_sql(c),
                ord = ident(crate::layout::ORD_COLUMN)
            )
        })
        .collect();
    let join = key_join_sql(key.iter().copied());
    let mut selected: Vec<String> = key.iter().map(|k| ident(k)).collect();
    selected.extend(values.iter().map(|c| ident(c)));
    let row = ch
        .rows(
            &format!(
                "SELECT countIf(NOT t.__found), countIf(t.__found AND ({changed})), \
                        countIf(t.__found AND NOT ({changed})){per_column}{moved} \
                 FROM {rows} AS r LEFT JOIN (SELECT {selected}, true AS __found FROM {target}) AS t \
                 ON {join} SETTINGS join_use_nulls = 0",
                rows = names.rows,
                selected = selected.join(", "),
            ),
            &context,
        )
        .await?
        .into_iter()
        .next()
        .unwrap_or_default();
    let n = |i: usize| {
        row.get(i)
            .cloned()
            .flatten()
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
    };
    plan.insert = n(0);
    plan.update = n(1);
    plan.unchanged = n(2);
    for (i, c) in values.iter().enumerate() {
        plan.columns.insert(c.to_string(), n(3 + i));
    }
    for (i, c) in numeric.iter().enumerate() {
        let at = 3 + values.len() + 2 * i;
        plan.moved.insert(c.to_string(), n(at));
        if let Some(ord) = row
            .get(at + 1)
            .cloned()
            .flatten()
            .and_then(|v| v.parse().ok())
        {
            plan.first_moved.insert(c.to_string(), ord);
        }
    }
    match feed.spec.mode {
        Mode::Insert => {
            plan.skipped = plan.update + plan.unchanged;
            plan.update = 0;
            plan.unchanged = 0;
        }
        Mode::Swap | Mode::Mirror => {
            plan.delete = production_rows - plan.update - plan.unchanged;
        }
        Mode::Upsert | Mode::Append => {}
    }
    Ok(plan)
}

/// The numeric columns the file would move by more than half in many of the rows production
/// has, each with its first such row as an example (`crate::validate::drift`).
async fn drift_against_production(
    ch: &ClickHouse,
    staged: Staged<'_>,
    plan: &Plan,
) -> Result<Vec<String>> {
    let Staged {
        feed,
        binding,
        names,
    } = staged;
    let mut found = Vec::new();
    for (col, n, matched) in drift::moved_columns(binding, plan) {
        let name = ident(&col.target);
        let example = match plan.first_moved.get(&col.target) {
            None => None,
            Some(ord) => {
                let join = key_join_sql(binding.key_columns().map(|k| k.target.as_str()));
                let shown = |alias: &str| super::printed::value(&format!("{alias}.{name}"), col);
                ch.rows(
                    &format!(
                        "SELECT {key}, {before}, {after} FROM {rows} AS r \
                         JOIN {target} AS t ON {join} WHERE r.{ord_col} = {ord} LIMIT 1",
                        key = super::printed::joined(binding.key_columns(), "r."),
                        before = shown("t"),
                        after = shown("r"),
                        rows = names.rows,
                        target = feed.target.sql_name(),
                        ord_col = ident(crate::layout::ORD_COLUMN),
                    ),
                    &format!("finding an example of column {}'s moves", col.target),
                )
                .await?
                .into_iter()
                .next()
                .map(|r| {
                    let f = |i: usize| r.get(i).cloned().flatten();
                    (f(0).unwrap_or_default(), f(1), f(2))
                })
            }
        };
        found.push(drift::moved_finding(&col.target, n, matched, example));
    }
    Ok(found)
}
