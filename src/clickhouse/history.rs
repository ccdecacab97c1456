//! A feed's history on ClickHouse, read from the batches' records as PostgreSQL's is read
//! from its catalog (`crate::batch::history`): the same file sent again and promoted, the
//! feed's last promoted batch, how the columns drifted since, and the keys added and gone.
use super::ClickHouse;
use super::batches;
use super::client::{ident, quote};
use crate::batch::State;
use crate::batch::history::{Earlier, History};
use crate::error::Result;
use crate::layout::StageNames;
use crate::report::Summary;

/// The history of the batch `s` describes: its feed's earlier batches into the same target.
pub async fn of(ch: &ClickHouse, s: &Summary) -> Result<History> {
    // Two reads of one record each: the catalog keeps every batch there ever was.
    let earlier = format!(
        "feed = {} AND target = {} AND id < {}",
        quote(&s.feed),
        quote(&s.target),
        s.batch
    );
    let same_file = match &s.file.sha256 {
        Some(sha) => {
            batches::latest_where(
                ch,
                &format!(
                    "{earlier} AND state IN ({}, {}) \
                     AND JSONExtractString(summary, 'file', 'sha256') = {}",
                    quote(State::Promoted.as_str()),
                    quote(State::Undone.as_str()),
                    quote(sha)
                ),
            )
            .await?
        }
        None => None,
    };
    let last_promoted = batches::latest_where(
        ch,
        &format!("{earlier} AND state = {}", quote(State::Promoted.as_str())),
    )
    .await?;
    let drift = match &last_promoted {
        Some(last) if !s.profile.is_empty() && !last.profile.is_empty() => {
            crate::validate::drift::against_last(&s.profile, &last.profile, last.batch)
        }
        _ => Vec::new(),
    };
    Ok(History {
        same_file: same_file.as_ref().map(earlier_of),
        last_promoted: last_promoted.as_ref().map(earlier_of),
        drift,
    })
}

fn earlier_of(b: &Summary) -> Earlier {
    // `2026-12-04 02:00:01.234 UTC` is shown to the minute, as on PostgreSQL.
    let created_at =
        chrono::NaiveDateTime::parse_from_str(&b.created_at, "%Y-%m-%d %H:%M:%S%.f UTC")
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|_| b.created_at.clone());
    Earlier {
        batch: b.batch,
        state: b.state,
        created_at,
        rows_total: b.rows.total,
    }
}

/// Sets the summary's "since the last promoted batch", and, with `keys`, counts the keys
/// added and gone (two anti-joins of the batches' typed rows; batches larger than
/// `max_rows` are left uncounted).
pub async fn since_last(
    ch: &ClickHouse,
    s: &mut Summary,
    keys: &[String],
    max_rows: Option<i64>,
) -> Result<()> {
    let history = of(ch, s).await?;
    s.since_last = history.since_last(s.rows.total);
    let total = s.rows.total;
    let Some(since) = s.since_last.as_mut() else {
        return Ok(());
    };
    if keys.is_empty() {
        return Ok(());
    }
    if max_rows.is_some_and(|max| total > max || since.rows_before > max) {
        since.keys_skipped = true;
        return Ok(());
    }
    let (now, last) = (
        StageNames::new(s.batch).rows,
        StageNames::new(since.batch).rows,
    );
    let k: Vec<String> = keys.iter().map(|k| ident(k)).collect();
    let k = k.join(", ");
    let sql = format!(
        "SELECT (SELECT count() FROM {now} WHERE ({k}) NOT IN (SELECT {k} FROM {last})), \
                (SELECT count() FROM {last} WHERE ({k}) NOT IN (SELECT {k} FROM {now}))"
    );
    // Either batch's typed rows may be gone (dropped) or shaped otherwise (the spec
    // changed): then the keys are not counted.
    if let Ok(rows) = ch
        .rows(&sql, "counting the keys since the last batch")
        .await
        && let Some(r) = rows.first()
    {
        let n = |i: usize| r.get(i).cloned().flatten().and_then(|v| v.parse().ok());
        since.keys_added = n(0);
        since.keys_gone = n(1);
    }
    Ok(())
}
