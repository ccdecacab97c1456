//! File-level judgement: the verdict and the policy breaches that make it `abort`.
use serde::{Deserialize, Serialize};

use crate::batch::history::History;
use crate::feed::{Mode, Policy, Reaction};
use crate::format::{count, thousands};
use crate::plan::Plan;

pub use crate::batch::Verdict;

/// Row counts of a validated batch. `total = good + quarantined + superseded`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowCounts {
    pub total: i64,
    pub good: i64,
    pub quarantined: i64,
    pub superseded: i64,
    /// Rows promoted with a warning (they are also counted in `good`).
    pub warned: i64,
}

/// The `[checks]` rules whose failures a per-check threshold counts.
pub const RULE_CHECKS: [&str; 6] = ["min", "max", "pattern", "one_of", "not_null", "max_length"];

/// A check's own threshold (`[checks] price = { min = 0, max_fraction = 0.01 }`, or a
/// lookup's): how many of its rows the file may have before the verdict is abort.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// What it counts, for the message: `[checks] price`, `lookup category_id`.
    pub what: String,
    pub column: String,
    pub checks: Vec<&'static str>,
    pub max_fraction: Option<f64>,
    pub max_rows: Option<u64>,
}

/// A staged batch judged by its feed: the policy and history (`judge_with_history`), then
/// the checks' own thresholds (`counted`: each with the rows it counts), a breached one
/// making the verdict abort. The warnings come back as the notes a person reads, after the
/// binding's own (`notes`).
pub fn judge_feed(
    feed: &crate::feed::Feed,
    facts: (&RowCounts, &Plan, bool),
    history: &History,
    counted: &[(Threshold, i64)],
    notes: &[String],
) -> (Judged, Vec<String>) {
    let (rows, plan, has_issues) = facts;
    let mut judged = judge_with_history(
        &feed.spec.policy,
        feed.spec.mode,
        rows,
        plan,
        has_issues,
        history,
    );
    let own = thresholds(counted, rows.total);
    if !own.is_empty() {
        judged.breaches.extend(own);
        judged.verdict = Verdict::Abort;
    }
    let mut notes = notes.to_vec();
    notes.extend(judged.warnings.iter().map(|w| format!("warning: {w}")));
    (judged, notes)
}

/// The breaches of checks' own thresholds: `rows` is how many rows each threshold counts.
pub fn thresholds(found: &[(Threshold, i64)], total: i64) -> Vec<String> {
    let mut out = Vec::new();
    for (t, rows) in found {
        if let Some(max) = t.max_rows
            && *rows as u64 > max
        {
            out.push(format!(
                "{} failed on {}, more than its max_rows = {max}",
                t.what,
                count(*rows, "row")
            ));
        }
        if let Some(max) = t.max_fraction
            && total > 0
            && *rows as f64 / total as f64 > max
        {
            out.push(format!(
                "{} failed on {:.1}% of rows ({} of {}), more than its max_fraction = {max}",
                t.what,
                *rows as f64 * 100.0 / total as f64,
                thousands(*rows),
                thousands(total)
            ));
        }
    }
    out
}

/// The verdict and its breaches, without the feed's history (see [`judge_with_history`]).
pub fn judge(
    policy: &Policy,
    mode: Mode,
    rows: &RowCounts,
    plan: &Plan,
    issues: bool,
) -> (Verdict, Vec<String>) {
    let judged = judge_with_history(policy, mode, rows, plan, issues, &History::default());
    (judged.verdict, judged.breaches)
}

/// What the policy concluded.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    pub verdict: Verdict,
    /// Why the verdict is abort.
    pub breaches: Vec<String>,
    /// What a person should know before approving (a file sent before): the verdict is at
    /// least review.
    pub warnings: Vec<String>,
}

/// The row count move against the last promoted batch that is a warning when the policy
/// sets no `max_change_vs_last`.
const DEFAULT_CHANGE_VS_LAST: f64 = 0.20;

pub fn judge_with_history(
    policy: &Policy,
    mode: Mode,
    rows: &RowCounts,
    plan: &Plan,
    issues: bool,
    history: &History,
) -> Judged {
    let mut breaches = Vec::new();
    let mut warnings = Vec::new();
    if let Some(same) = &history.same_file {
        let said = format!(
            "the same file (sha256) as batch {} of this feed, {} on {}",
            same.batch, same.state, same.created_at
        );
        match policy.repeat_file(mode) {
            Reaction::Abort => breaches.push(format!("{said} (policy repeat_file = \"abort\")")),
            Reaction::Warn => warnings.push(said),
            Reaction::Allow => {}
        }
    }
    for found in &history.drift {
        match policy.drift {
            Reaction::Abort => breaches.push(format!("{found} (policy drift = \"abort\")")),
            Reaction::Warn => warnings.push(found.clone()),
            Reaction::Allow => {}
        }
    }
    // Unset, a move past 20% is a warning: a file cut short (or doubled) is never clean.
    let (max, abort) = match policy.max_change_vs_last {
        Some(max) => (max, true),
        None => (DEFAULT_CHANGE_VS_LAST, false),
    };
    if let Some(last) = history.last_promoted.as_ref().filter(|l| l.rows_total > 0) {
        let change = (rows.total - last.rows_total) as f64 / last.rows_total as f64;
        if change.abs() > max {
            let said = format!(
                "{} against {} in batch {}, the feed's last promoted ({:+.1}%), more than max_change_vs_last = {max}{}",
                count(rows.total, "row"),
                thousands(last.rows_total),
                last.batch,
                change * 100.0,
                if abort {
                    ""
                } else {
                    " (the default, a warning)"
                }
            );
            match abort {
                true => breaches.push(said),
                false => warnings.push(said),
            }
        }
    }
    // Shares of production the plan would change.
    let shares = [
        (
            policy.max_update_fraction.filter(|_| !plan.by_promotion),
            plan.update,
            "updated",
            "max_update_fraction",
        ),
        (
            policy
                .max_delete_fraction
                .filter(|_| matches!(mode, Mode::Mirror | Mode::Swap)),
            plan.delete,
            "deleted",
            "max_delete_fraction",
        ),
    ];
    for (max, rows, what, key) in shares {
        let Some(max) = max.filter(|_| plan.production_rows > 0) else {
            continue;
        };
        let fraction = rows as f64 / plan.production_rows as f64;
        if fraction > max {
            breaches.push(format!(
                "{} of production's {} would be {what} ({:.1}%), more than {key} = {max}",
                thousands(rows),
                count(plan.production_rows, "row"),
                fraction * 100.0
            ));
        }
    }
    if rows.total == 0 && !policy.allow_empty {
        breaches.push("the file has no data rows (policy allow_empty = false)".to_string());
    }
    if let Some(max) = policy.max_bad_rows
        && rows.quarantined as u64 > max
    {
        breaches.push(format!(
            "{}, more than max_bad_rows = {max}",
            count(rows.quarantined, "quarantined row")
        ));
    }
    if rows.total > 0 {
        let fraction = rows.quarantined as f64 / rows.total as f64;
        if fraction > policy.max_bad_fraction {
            breaches.push(format!(
                "{:.1}% of rows quarantined ({} of {}), more than max_bad_fraction = {}",
                fraction * 100.0,
                thousands(rows.quarantined),
                thousands(rows.total),
                policy.max_bad_fraction
            ));
        }
    }
    if mode == Mode::Swap && plan.production_rows > 0 {
        let change = (rows.good - plan.production_rows).abs() as f64 / plan.production_rows as f64;
        if change > policy.max_count_change {
            breaches.push(format!(
                "the table would go from {} to {} ({:+.1}%), more than max_count_change = {}",
                thousands(plan.production_rows),
                count(rows.good, "row"),
                (rows.good - plan.production_rows) as f64 * 100.0 / plan.production_rows as f64,
                policy.max_count_change
            ));
        }
    }
    let verdict = if !breaches.is_empty() {
        Verdict::Abort
    } else if issues || !warnings.is_empty() {
        Verdict::Review
    } else {
        Verdict::Clean
    };
    Judged {
        verdict,
        breaches,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts read one way everywhere: grouped by thousands, singular for one.
    #[test]
    fn breaches_say_counts_as_people_read_them() {
        let policy = Policy {
            max_bad_rows: Some(0),
            max_bad_fraction: 0.01,
            ..Policy::default()
        };
        let rows = RowCounts {
            total: 1_234_567,
            good: 1_200_000,
            quarantined: 34_567,
            ..Default::default()
        };
        let (_, breaches) = judge(&policy, Mode::Upsert, &rows, &Plan::default(), true);
        assert_eq!(
            breaches,
            [
                "34,567 quarantined rows, more than max_bad_rows = 0",
                "2.8% of rows quarantined (34,567 of 1,234,567), more than max_bad_fraction = 0.01",
            ]
        );
        let one = RowCounts {
            total: 100,
            good: 99,
            quarantined: 1,
            ..Default::default()
        };
        let (_, breaches) = judge(&policy, Mode::Upsert, &one, &Plan::default(), true);
        assert_eq!(breaches, ["1 quarantined row, more than max_bad_rows = 0"]);
    }

    #[test]
    fn thresholds() {
        let policy = Policy::default();
        let plan = Plan::default();
        let rows = RowCounts {
            total: 100,
            good: 96,
            quarantined: 4,
            ..Default::default()
        };
        assert_eq!(
            judge(&policy, Mode::Upsert, &rows, &plan, true).0,
            Verdict::Review
        );
        let rows = RowCounts {
            total: 100,
            good: 90,
            quarantined: 10,
            ..Default::default()
        };
        let (v, b) = judge(&policy, Mode::Upsert, &rows, &plan, true);
        assert_eq!(v, Verdict::Abort);
        assert!(b[0].contains("max_bad_fraction"), "{b:?}");
        let empty = RowCounts::default();
        assert_eq!(
            judge(&policy, Mode::Upsert, &empty, &plan, false).0,
            Verdict::Abort
        );
        let allow = Policy {
            allow_empty: true,
            ..Policy::default()
        };
        assert_eq!(
            judge(&allow, Mode::Upsert, &empty, &plan, false).0,
            Verdict::Clean
        );
        let swap_plan = Plan {
            production_rows: 1000,
            ..Plan::default()
        };
        let rows = RowCounts {
            total: 500,
            good: 500,
            ..Default::default()
        };
        assert_eq!(
            judge(&policy, Mode::Swap, &rows, &swap_plan, false).0,
            Verdict::Abort
        );
    }
}
