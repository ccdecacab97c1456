//! Drift: a file that passes every check alone but does not look like the feed's last promoted
//! file — a column that is suddenly empty, numbers that became text, a category column with
//! ten times its values, prices a hundred times larger. Each column's profile (kept with the
//! batch while it was read, see `profile.rs`) is compared with the same column's in the
//! feed's last promoted batch; what moved past the thresholds below is a finding the policy
//! (`drift`) makes a warning or an abort.
use tokio_postgres::GenericClient;

use crate::db::ident;
use crate::error::{Error, Result};
use crate::format::thousands;
use crate::layout::ORD_COLUMN;
use crate::plan::{Plan, key_join, moved_by_half};
use crate::profile::ColumnProfile;
use crate::staged::Staged;
use crate::validate::binding::{Binding, BoundColumn};

/// Columns with fewer values than this in either file are not compared: a few rows move any
/// share.
const MIN_VALUES: i64 = 20;
/// How far a share (of empty values, of values that look like numbers) may move, absolute.
const MAX_SHARE_MOVE: f64 = 0.10;
/// How many times larger or smaller a column's distinct values or mean may get.
const MAX_FACTOR: f64 = 3.0;
/// The share of the rows production has that may move by more than half in one numeric
/// column.
const MAX_MOVED_SHARE: f64 = 0.20;

/// The numeric columns the plan found moving more than half of their value in more than
/// [`MAX_MOVED_SHARE`] of the rows production has: each with how many rows moved, of how
/// many the file matched.
pub fn moved_columns<'a>(binding: &'a Binding, plan: &Plan) -> Vec<(&'a BoundColumn, i64, i64)> {
    let matched = plan.update + plan.unchanged;
    if matched < MIN_VALUES {
        return Vec::new();
    }
    plan.moved
        .iter()
        .filter(|(_, n)| **n as f64 / matched as f64 > MAX_MOVED_SHARE)
        .filter_map(|(column, &n)| Some((binding.column(column)?, n, matched)))
        .collect()
}

/// The finding for a column [`moved_columns`] found, with an example row when there is one:
/// its key, production's value and the file's.
pub fn moved_finding(
    column: &str,
    n: i64,
    matched: i64,
    example: Option<(String, Option<String>, Option<String>)>,
) -> String {
    let example = example
        .map(|(key, before, after)| {
            format!(
                "; e.g. {key}: {} → {}",
                before.unwrap_or_else(|| "∅".into()),
                after.unwrap_or_else(|| "∅".into())
            )
        })
        .unwrap_or_default();
    format!(
        "column {column} drifted against production: {:.0}% of the rows production has ({} of {}) would change by more than half{example}",
        n as f64 * 100.0 / matched as f64,
        thousands(n),
        thousands(matched),
    )
}

/// Against production: for each numeric column the file feeds, the rows production has whose
/// value the file would move by more than half (`Plan::moved`, counted in the plan's join).
/// Past [`MAX_MOVED_SHARE`] of them, a finding with the first such row as an example.
pub async fn against_production(
    client: &impl GenericClient,
    staged: Staged<'_>,
    plan: &Plan,
) -> Result<Vec<String>> {
    let Staged {
        feed,
        binding,
        names,
    } = staged;
    let target = &feed.target;
    let mut found = Vec::new();
    for (col, n, matched) in moved_columns(binding, plan) {
        let column = &col.target;
        let key: Vec<String> = binding
            .key_columns()
            .map(|k| format!("r.{}::text", ident(&k.target)))
            .collect();
        let name = ident(column);
        // The plan's join noted the first such row; a plan from before it did finds it again.
        let which = match plan.first_moved.get(column) {
            Some(ord) => format!("r.{} = {ord}", ident(ORD_COLUMN)),
            None => moved_by_half(col),
        };
        let example = client
            .query_opt(
                &format!(
                    "SELECT concat_ws(', ', {key}), t.{name}::text, r.{name}::text \
                     FROM {rows} r JOIN {target} t ON {on} WHERE {which} ORDER BY r.{ord} LIMIT 1",
                    key = key.join(", "),
                    rows = names.rows,
                    target = target.sql_name(),
                    on = key_join(binding, "t", "r"),
                    ord = ident(ORD_COLUMN),
                ),
                &[],
            )
            .await
            .map_err(Error::db(format!(
                "finding an example of column {column}'s moves"
            )))?
            .map(|r| (r.get(0), r.get(1), r.get(2)));
        found.push(moved_finding(column, n, matched, example));
    }
    Ok(found)
}

/// What moved in `now` against `last` (batch `last_batch`), one finding per column, in the
/// file's column order.
pub fn against_last(now: &[ColumnProfile], last: &[ColumnProfile], last_batch: i64) -> Vec<String> {
    let mut found = Vec::new();
    for c in now {
        let Some(before) = last.iter().find(|l| l.name == c.name) else {
            continue;
        };
        if let Some(what) = moved(c, before) {
            // The commonest value now, as an example of what the column holds.
            let example = match c.top.first() {
                Some((v, n)) => format!("; commonest now: '{v}' ({})", thousands(*n)),
                None => String::new(),
            };
            found.push(format!(
                "column {} drifted against batch {last_batch}, the feed's last promoted: {what}{example}",
                c.name
            ));
        }
    }
    found
}

fn pct(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// How one column moved, the largest move first; `None` when it did not.
fn moved(now: &ColumnProfile, before: &ColumnProfile) -> Option<String> {
    let rows = |p: &ColumnProfile| p.nulls + p.non_null;
    if rows(now) < MIN_VALUES || rows(before) < MIN_VALUES {
        return None;
    }
    let empty = now.null_share() - before.null_share();
    if empty.abs() > MAX_SHARE_MOVE {
        return Some(format!(
            "empty in {} of rows, {} before",
            pct(now.null_share()),
            pct(before.null_share())
        ));
    }
    if now.non_null < MIN_VALUES || before.non_null < MIN_VALUES {
        return None;
    }
    let numeric = now.numeric_share() - before.numeric_share();
    if numeric.abs() > MAX_SHARE_MOVE {
        return Some(format!(
            "{} of values look like numbers, {} before",
            pct(now.numeric_share()),
            pct(before.numeric_share())
        ));
    }
    if let (Some(m), Some(b)) = (now.mean, before.mean)
        && b != 0.0
        && m != 0.0
        && now.numeric >= MIN_VALUES
        && before.numeric >= MIN_VALUES
    {
        let factor = m / b;
        if factor.abs() > MAX_FACTOR || factor.abs() < 1.0 / MAX_FACTOR || factor < 0.0 {
            return Some(format!(
                "mean {}, {} before (×{})",
                number(m),
                number(b),
                number(factor)
            ));
        }
    }
    // A category-like column (few values, counted exactly) whose values multiplied or
    // dwindled; a column of unique values grows with the file and is left alone.
    if !now.estimated && !before.estimated && before.distinct_share() < 0.5 {
        let (n, b) = (now.distinct as f64, before.distinct as f64);
        if b >= 3.0 && (n > b * MAX_FACTOR || n * MAX_FACTOR < b) {
            return Some(format!(
                "{} distinct values, {} before",
                thousands(now.distinct),
                thousands(before.distinct)
            ));
        }
    }
    None
}

/// A number for a person: grouped, two decimals at most.
fn number(v: f64) -> String {
    let rounded = (v * 100.0).round() / 100.0;
    if rounded.fract() == 0.0 && rounded.abs() < 1e15 {
        thousands(rounded as i64)
    } else {
        let whole = rounded.trunc();
        let frac = format!("{:.2}", rounded.fract().abs());
        let sign = if rounded < 0.0 && whole == 0.0 {
            "-"
        } else {
            ""
        };
        format!("{sign}{}{}", thousands(whole as i64), &frac[1..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(values: &[Option<&str>]) -> ColumnProfile {
        crate::profile::of_values("price", values)
    }

    fn prices(n: usize, scale: f64) -> Vec<String> {
        (0..n)
            .map(|i| format!("{:.2}", (10 + i % 50) as f64 * scale))
            .collect()
    }

    fn of(values: &[String]) -> ColumnProfile {
        profile(&values.iter().map(|v| Some(v.as_str())).collect::<Vec<_>>())
    }

    #[test]
    fn the_same_kind_of_file_does_not_drift() {
        let a = of(&prices(300, 1.0));
        let b = of(&prices(280, 1.1));
        assert_eq!(against_last(&[a], &[b], 4), Vec::<String>::new());
    }

    #[test]
    fn every_price_a_hundred_times_larger_drifts() {
        let found = against_last(&[of(&prices(300, 100.0))], &[of(&prices(300, 1.0))], 4);
        assert_eq!(
            found,
            [
                "column price drifted against batch 4, the feed's last promoted: mean 3,450, 34.50 before (×100); commonest now: '1000.00' (6)"
            ]
        );
    }

    #[test]
    fn an_emptied_column_and_numbers_become_text_drift() {
        let mut half: Vec<Option<&str>> = vec![Some("1.50"); 100];
        half.extend(vec![None; 100]);
        let found = against_last(&[profile(&half)], &[of(&prices(200, 1.0))], 7);
        assert!(
            found[0].ends_with("empty in 50.0% of rows, 0.0% before; commonest now: '1.50' (100)"),
            "{found:?}"
        );
        let text: Vec<Option<&str>> = vec![Some("N/A"); 200];
        let found = against_last(&[profile(&text)], &[of(&prices(200, 1.0))], 7);
        assert!(
            found[0].ends_with(
                "0.0% of values look like numbers, 100.0% before; commonest now: 'N/A' (200)"
            ),
            "{found:?}"
        );
    }

    #[test]
    fn a_category_with_many_more_values_drifts_and_a_key_column_does_not() {
        let few: Vec<String> = (0..300)
            .map(|i| ["Tools", "Garden", "Toys"][i % 3].into())
            .collect();
        let many: Vec<String> = (0..300).map(|i| format!("cat {}", i % 30)).collect();
        let found = against_last(&[of(&many)], &[of(&few)], 2);
        assert!(
            found[0].ends_with("30 distinct values, 3 before; commonest now: 'cat 0' (10)"),
            "{found:?}"
        );
        let keys = |n: usize| (0..n).map(|i| format!("SKU-{i}")).collect::<Vec<_>>();
        assert!(against_last(&[of(&keys(900))], &[of(&keys(100))], 2).is_empty());
    }

    #[test]
    fn small_files_and_new_columns_are_not_compared() {
        assert!(against_last(&[of(&prices(10, 100.0))], &[of(&prices(10, 1.0))], 1).is_empty());
        let other = ColumnProfile {
            name: "other".into(),
            ..of(&prices(300, 1.0))
        };
        assert!(against_last(&[of(&prices(300, 100.0))], &[other], 1).is_empty());
    }
}
