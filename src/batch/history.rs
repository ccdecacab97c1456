//! A feed's history: its earlier batches into the same target, which the verdict weighs
//! (the same file sent again, a row count far from the last promoted one).
use serde::Serialize;
use tokio_postgres::GenericClient;

use super::State;
use crate::error::{Error, Result};
use crate::profile::ColumnProfile;

/// An earlier batch of the same feed, as the history checks name it.
#[derive(Debug, Clone, PartialEq)]
pub struct Earlier {
    pub batch: i64,
    pub state: State,
    pub created_at: String,
    pub rows_total: i64,
}

/// What the history checks need to know.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// The latest earlier batch of this feed that reached production (promoted, perhaps
    /// undone since) with a file of the same sha256. Batches never promoted do not count:
    /// checking a file again (the review's `R`) is not sending it twice.
    pub same_file: Option<Earlier>,
    /// The feed's last promoted batch.
    pub last_promoted: Option<Earlier>,
    /// How this batch's columns drifted against the last promoted batch's
    /// (`validate::drift`).
    pub drift: Vec<String>,
}

/// The history of batch `id`'s feed (`feed` into `target`) before it.
pub async fn of(client: &impl GenericClient, id: i64, feed: &str, target: &str) -> Result<History> {
    let rows = client
        .query(
            "(SELECT 'same', id, state, \
                     to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI \"UTC\"'), \
                     coalesce(rows_total, 0) \
              FROM airlock.batches WHERE feed = $1 AND target = $2 AND id < $3 \
                AND file_sha256 = (SELECT file_sha256 FROM airlock.batches WHERE id = $3) \
                AND state IN ($4, $5) \
              ORDER BY id DESC LIMIT 1) \
             UNION ALL \
             (SELECT 'promoted', id, state, \
                     to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI \"UTC\"'), \
                     coalesce(rows_total, 0) \
              FROM airlock.batches WHERE feed = $1 AND target = $2 AND id < $3 \
                AND state = $4 ORDER BY id DESC LIMIT 1)",
            &[&feed, &target, &id, &State::Promoted, &State::Undone],
        )
        .await
        .map_err(Error::db(format!("reading the history of feed {feed}")))?;
    let mut history = History::default();
    let profiles = client
        .query(
            "SELECT id, profile FROM airlock.batches WHERE id = $1 OR id = (\
                 SELECT max(id) FROM airlock.batches WHERE feed = $2 AND target = $3 \
                 AND id < $1 AND state = $4)",
            &[&id, &feed, &target, &State::Promoted],
        )
        .await
        .map_err(Error::db(format!(
            "reading the column profiles of feed {feed}"
        )))?;
    let profile = |want: bool| {
        profiles
            .iter()
            .find(|r| (r.get::<_, i64>(0) == id) == want)
            .map(|r| (r.get::<_, i64>(0), r.get::<_, Option<serde_json::Value>>(1)))
            .and_then(|(b, p)| Some((b, serde_json::from_value::<Vec<ColumnProfile>>(p?).ok()?)))
    };
    if let (Some((_, now)), Some((last, before))) = (profile(true), profile(false)) {
        history.drift = crate::validate::drift::against_last(&now, &before, last);
    }
    for r in rows {
        let earlier = Earlier {
            batch: r.get(1),
            state: r.get(2),
            created_at: r.get(3),
            rows_total: r.get(4),
        };
        match r.get::<_, &str>(0) {
            "same" => history.same_file = Some(earlier),
            _ => history.last_promoted = Some(earlier),
        }
    }
    Ok(history)
}

/// A batch against the feed's last promoted one (before it): what `show` and the review's
/// summary say under "since".
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct SinceLast {
    pub batch: i64,
    pub state: State,
    pub created_at: String,
    pub rows_before: i64,
    pub rows_now: i64,
    /// Whether this is the same file (sha256) as the feed sent and promoted before.
    pub same_file: bool,
    /// The columns whose profile moved (`validate::drift::against_last`).
    pub drift: Vec<String>,
    /// Keys this batch's good rows have and the last one's did not, and the other way
    /// round; `None` when either batch's typed rows are gone (pruned) or the feed has no key.
    pub keys_added: Option<i64>,
    pub keys_gone: Option<i64>,
    /// The keys were left uncounted to keep the review fast on large batches (`show` counts
    /// them).
    #[serde(skip)]
    pub keys_skipped: bool,
}

impl History {
    /// What the history says of a batch of `rows_now` rows, when the feed promoted one before.
    pub fn since_last(&self, rows_now: i64) -> Option<SinceLast> {
        let last = self.last_promoted.as_ref()?;
        Some(SinceLast {
            batch: last.batch,
            state: last.state,
            created_at: last.created_at.clone(),
            rows_before: last.rows_total,
            rows_now,
            same_file: self.same_file.is_some(),
            drift: self.drift.clone(),
            keys_added: None,
            keys_gone: None,
            keys_skipped: false,
        })
    }
}

impl SinceLast {
    /// One line for a person: `since batch 4 (last promoted, 2026-12-04 02:00 UTC): 300 → 287
    /// rows (-4.3%) · 12 keys new, 25 gone`.
    pub fn describe(&self) -> String {
        let change = match self.rows_before {
            0 => String::new(),
            b => format!(" ({:+.1}%)", (self.rows_now - b) as f64 * 100.0 / b as f64),
        };
        let mut said = format!(
            "since batch {} (the feed's last promoted, {}): {} → {}{change}",
            self.batch,
            self.created_at,
            crate::format::thousands(self.rows_before),
            crate::format::count(self.rows_now, "row"),
        );
        if let (Some(added), Some(gone)) = (self.keys_added, self.keys_gone) {
            said.push_str(&format!(
                " · {} new, {} gone",
                crate::format::count(added, "key"),
                crate::format::thousands(gone)
            ));
        }
        if self.keys_skipped {
            said.push_str(" · keys not counted here for batches this large (show counts them)");
        }
        if self.same_file {
            said.push_str(" · the same file");
        }
        if self.drift.is_empty() {
            said.push_str(" · no column drifted");
        } else {
            said.push_str(&format!(
                " · {} drifted",
                crate::format::count(self.drift.len() as i64, "column")
            ));
        }
        said
    }
}

/// Counts the keys added and gone between batch `id`'s good rows and the last promoted
/// batch's, when both are still staged: two anti-joins, for `show` and the review (never for
/// `check`, which has no need of them). `key`: the feed's key columns.
pub async fn count_keys(
    client: &impl GenericClient,
    id: i64,
    since: &mut SinceLast,
    key: &[String],
) {
    if key.is_empty() {
        return;
    }
    let (now, last) = (
        crate::layout::StageNames::new(id).rows,
        crate::layout::StageNames::new(since.batch).rows,
    );
    let on: Vec<String> = key
        .iter()
        .map(|k| format!("a.{n} = b.{n}", n = crate::db::ident(k)))
        .collect();
    let on = on.join(" AND ");
    let sql = format!(
        "SELECT (SELECT count(*) FROM {now} a WHERE NOT EXISTS (SELECT 1 FROM {last} b WHERE {on})), \
                (SELECT count(*) FROM {last} a WHERE NOT EXISTS (SELECT 1 FROM {now} b WHERE {on}))"
    );
    // Either table may be gone (pruned) or shaped otherwise (the spec changed): then the
    // keys are not counted.
    if let Ok(row) = client.query_one(&sql, &[]).await {
        since.keys_added = Some(row.get(0));
        since.keys_gone = Some(row.get(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn since() -> SinceLast {
        SinceLast {
            batch: 4,
            state: State::Promoted,
            created_at: "2026-12-04 02:00 UTC".into(),
            rows_before: 1_000_000,
            rows_now: 1_100_000,
            same_file: false,
            drift: Vec::new(),
            keys_added: None,
            keys_gone: None,
            keys_skipped: false,
        }
    }

    #[test]
    fn since_says_the_keys_or_why_they_are_not_counted() {
        let mut s = since();
        s.keys_added = Some(100_000);
        s.keys_gone = Some(1);
        assert_eq!(
            s.describe(),
            "since batch 4 (the feed's last promoted, 2026-12-04 02:00 UTC): 1,000,000 → 1,100,000 rows (+10.0%) · 100,000 keys new, 1 gone · no column drifted"
        );
        let mut s = since();
        s.keys_skipped = true;
        assert!(
            s.describe()
                .contains("· keys not counted here for batches this large (show counts them) ·"),
            "{}",
            s.describe()
        );
    }
}
