//! A feed's history: its earlier batches into the same target, which the verdict weighs
//! (the same file sent again, a row count far from the last promoted one).
use tokio_postgres::GenericClient;

use super::State;
use crate::error::{Error, Result};

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
