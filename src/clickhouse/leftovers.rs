//! What batches leave in `airlock_stage` on ClickHouse, and cleaning it up: `drop` for one
//! batch, `prune` for every batch untouched for a while — never one being loaded or
//! promoted, and, unless asked, not the replaced production the latest promotion of each
//! target keeps for `undo`.
use super::ClickHouse;
use super::batches;
use super::client::{ident, quote};
use super::promote::{self, reconcile};
use crate::batch::{Prunable, Relation, State};
use crate::error::{Error, Result};
use crate::layout::STAGE_SCHEMA;

/// The tables batch `id` keeps in staging, with their size; the replaced production a
/// promotion keeps (`batch_N_previous`) is the one undo needs.
pub async fn relations(ch: &ClickHouse, id: i64) -> Result<Vec<Relation>> {
    let rows = ch
        .rows(
            &format!(
                "SELECT name, toInt64(ifNull(total_bytes, 0)) FROM system.tables \
                 WHERE database = {} AND match(name, '^batch_{id}(_[a-z]+)?$') ORDER BY name",
                quote(STAGE_SCHEMA)
            ),
            &format!("listing the staging of batch {id}"),
        )
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let name = r.first().cloned().flatten()?;
            Some(Relation {
                for_undo: name.ends_with("_previous"),
                name: format!("{STAGE_SCHEMA}.{name}"),
                kind: "TABLE".into(),
                bytes: r.get(1).cloned().flatten()?.parse().unwrap_or(0),
            })
        })
        .collect())
}

/// Drops what batch `id` keeps in staging (the replaced table of its promotion too, unless
/// `keep_undo`: then it can still be undone); an unfinished batch is aborted. Returns what
/// was dropped.
pub async fn drop_staging(ch: &ClickHouse, id: i64, keep_undo: bool) -> Result<Vec<Relation>> {
    batches::ensure_catalog(ch).await?;
    reconcile(ch).await?;
    let mut batch = batches::load(ch, id).await?;
    let state = batch.summary.state;
    if state.at_work() {
        return Err(Error::BatchState {
            id,
            state: state.to_string(),
            action: "drop",
            expected: "not being loaded or promoted".into(),
        });
    }
    let mut dropped = Vec::new();
    for r in relations(ch, id).await? {
        if keep_undo && r.for_undo {
            continue;
        }
        let bare = r.name.rsplit('.').next().unwrap_or(&r.name).to_string();
        ch.execute(
            &format!(
                "DROP TABLE IF EXISTS {}.{} SYNC",
                ident(STAGE_SCHEMA),
                ident(&bare)
            ),
            &format!("dropping {}", r.name),
        )
        .await?;
        dropped.push(r);
    }
    if state.unfinished() {
        batch.summary.state = State::Aborted;
        batch.summary.decisions.push(promote::decision(
            ch,
            "abort",
            Some("staging dropped".into()),
            None,
        ));
    }
    if dropped.iter().any(|d| d.for_undo) {
        batch.summary.kept_for_undo = None;
        batch.promotion = None;
    }
    batches::record(ch, &batch).await?;
    Ok(dropped)
}

/// Batches last touched longer ago than `age` with something still in staging, not being
/// worked on: what `prune` would drop. The replaced production stays for the latest
/// promotion of each target unless `undo`; an older promotion's can no longer be used (undo
/// takes back the latest only), so it goes.
pub async fn prunable(
    ch: &ClickHouse,
    age: std::time::Duration,
    undo: bool,
) -> Result<Vec<Prunable>> {
    batches::ensure_catalog(ch).await?;
    reconcile(ch).await?;
    let list = batches::touched(ch).await?;
    let before = batches::now_ms() as i128 * 1_000_000 - age.as_nanos() as i128;
    let mut found = Vec::new();
    for (s, touched) in &list {
        if s.state.at_work() || (*touched as i128) >= before {
            continue;
        }
        let latest = s.state == State::Promoted
            && !list.iter().any(|(l, _)| {
                l.target == s.target && l.batch > s.batch && l.state == State::Promoted
            });
        let latest_of = latest.then(|| s.target.clone());
        let keep_undo = latest && !undo;
        let (keeps, drops): (Vec<Relation>, Vec<Relation>) = relations(ch, s.batch)
            .await?
            .into_iter()
            .partition(|r| keep_undo && r.for_undo);
        if !drops.is_empty() {
            found.push(Prunable {
                id: s.batch,
                drops,
                keeps,
                latest_of,
            });
        }
    }
    found.sort_by_key(|p| p.id);
    Ok(found)
}
