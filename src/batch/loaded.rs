//! A batch rebuilt from its row in `airlock.batches`: its spec resolved against the target
//! as it is now, the file bound again from the header it was read with, its plan and
//! counts. What promotion, undo, the review and release all start from.
use std::path::PathBuf;

use tokio_postgres::Client;

use super::{State, Verdict};
use crate::error::{Error, Result};
use crate::feed::{self, Feed};
use crate::layout::StageNames;
use crate::plan::Plan;
use crate::staged::Staged;
use crate::validate::binding::{self, Binding};

/// A validated batch rebuilt from its row in `airlock.batches`.
#[derive(Clone)]
pub struct Loaded {
    pub id: i64,
    pub state: State,
    pub verdict: Option<Verdict>,
    pub breaches: Vec<String>,
    pub feed: Feed,
    pub binding: Binding,
    pub names: StageNames,
    pub plan: Plan,
    pub rows_total: i64,
    pub rows_good: i64,
}

impl Loaded {
    /// The batch's staging with the feed and binding it was checked with.
    pub fn staged(&self) -> Staged<'_> {
        Staged::new(&self.feed, &self.binding, &self.names)
    }

    /// The target's quoted name: the key of its advisory lock and what every statement names.
    pub fn target_sql(&self) -> String {
        self.feed.target.sql_name()
    }
}

/// Rebuilds batch `id` from its row; refused when the target's definition changed since.
pub async fn load(client: &Client, id: i64) -> Result<Loaded> {
    let r = client
        .query_opt(
            "SELECT spec_path, spec, header, file_path, state, verdict, breaches, plan, \
                    target_definition, coalesce(rows_total, 0), coalesce(rows_good, 0) \
             FROM airlock.batches WHERE id = $1",
            &[&id],
        )
        .await
        .map_err(Error::db(format!("reading batch {id}")))?
        .ok_or(Error::BatchNotFound { id })?;
    let spec_path = PathBuf::from(r.get::<_, String>(0));
    let spec_text: String = r.get(1);
    let header: Vec<String> = serde_json::from_value(r.get(2)).unwrap_or_default();
    let file = PathBuf::from(r.get::<_, String>(3));
    let spec = feed::parse_stored(&spec_path, &spec_text)?;
    let feed = feed::resolve(client, &spec_path, spec, spec_text).await?;
    let binding = binding::bind(
        &feed,
        &file,
        (!header.is_empty()).then_some(header.as_slice()),
        None,
    )?;
    let stored: Option<serde_json::Value> = r.get(8);
    if stored.is_some_and(|d| d != binding.definition()) {
        return Err(Error::Refused {
            id,
            action: "promoted",
            reason: format!(
                "the definition of {} changed since the batch was validated; check the file again",
                feed.target.display_name()
            ),
        });
    }
    Ok(Loaded {
        id,
        state: r.get(4),
        verdict: r.get(5),
        breaches: serde_json::from_value(r.get(6)).unwrap_or_default(),
        plan: r
            .get::<_, Option<serde_json::Value>>(7)
            .and_then(|p| serde_json::from_value(p).ok())
            .unwrap_or_default(),
        rows_total: r.get(9),
        rows_good: r.get(10),
        names: StageNames::new(id),
        feed,
        binding,
    })
}
