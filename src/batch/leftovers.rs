//! What batches leave behind: the list of batches with what each keeps in `airlock_stage`,
//! dropping and pruning that staging, and noticing staging a server restart emptied.
use serde::Serialize;
use tokio_postgres::{Client, GenericClient};

use super::{State, Verdict, lock_state, record_decision, transition};
use crate::error::{Error, Result};
use crate::layout::StageNames;

/// One line of `airlock batches`.
#[derive(Debug, Clone, Serialize)]
pub struct BatchListItem {
    pub batch: i64,
    pub feed: String,
    pub target: String,
    pub mode: String,
    pub state: State,
    pub verdict: Option<Verdict>,
    pub file: String,
    pub rows_total: Option<i64>,
    pub rows_good: Option<i64>,
    pub rows_quarantined: Option<i64>,
    pub created_at: String,
    pub age_seconds: i64,
    pub staging_bytes: i64,
    /// When a server restart emptied its UNLOGGED staging, if one did.
    pub staging_lost_at: Option<String>,
}

/// Every batch, newest first, with the size of what it still holds in `airlock_stage`.
pub async fn list(client: &Client) -> Result<Vec<BatchListItem>> {
    let rows = client
        .query(
            "SELECT b.id, b.feed, b.target, b.mode, b.state, b.verdict, b.file_path, \
                    b.rows_total, b.rows_good, b.rows_quarantined, \
                    to_char(b.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
                    extract(epoch FROM now() - b.created_at)::bigint, \
                    (SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint \
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = 'airlock_stage' AND c.relkind = 'r' \
                       AND (c.relname = 'batch_' || b.id OR c.relname LIKE 'batch\\_' || b.id || '\\_%')), \
                    to_char(b.staging_lost_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') \
             FROM airlock.batches b ORDER BY b.id DESC",
            &[],
        )
        .await
        .map_err(Error::db("listing batches"))?;
    Ok(rows
        .into_iter()
        .map(|r| BatchListItem {
            batch: r.get(0),
            feed: r.get(1),
            target: r.get(2),
            mode: r.get(3),
            state: r.get(4),
            verdict: r.get(5),
            file: r.get(6),
            rows_total: r.get(7),
            rows_good: r.get(8),
            rows_quarantined: r.get(9),
            created_at: r.get(10),
            age_seconds: r.get(11),
            staging_bytes: r.get(12),
            staging_lost_at: r.get(13),
        })
        .collect())
}

/// A relation a batch keeps: its quoted name, `TABLE` or `VIEW`, its size in bytes, and
/// whether it is what `undo` needs (a swap's replaced table, an upsert's undo data).
#[derive(Debug, Clone)]
pub struct Relation {
    pub name: String,
    pub kind: String,
    pub bytes: i64,
    pub for_undo: bool,
}

/// What a batch keeps in `airlock_stage` (and a leftover next table), views first: a view
/// over a batch's records depends on its tables.
pub async fn relations(client: &impl GenericClient, id: i64) -> Result<Vec<Relation>> {
    Ok(client
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname), \
                    CASE c.relkind WHEN 'v' THEN 'VIEW' ELSE 'TABLE' END, \
                    coalesce(pg_total_relation_size(c.oid), 0), \
                    c.relname IN ('batch_' || $1 || '_previous', 'batch_' || $1 || '_undo') \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'v') AND ((n.nspname = 'airlock_stage' \
                   AND (c.relname = 'batch_' || $1 OR c.relname LIKE 'batch\\_' || $1 || '\\_%')) \
                OR c.relname = 'airlock_next_' || $1) \
             ORDER BY c.relkind = 'r', c.relname",
            &[&id.to_string()],
        )
        .await
        .map_err(Error::db("finding the batch's staging tables"))?
        .into_iter()
        .map(|r| Relation {
            name: r.get(0),
            kind: r.get(1),
            bytes: r.get(2),
            for_undo: r.get(3),
        })
        .collect())
}

/// Drops what a batch keeps in `airlock_stage` (and a leftover next table), ending it as
/// `aborted` if it was not finished; with `keep_undo`, what `undo` needs stays. Refused while
/// the batch is promoting. Returns what was dropped.
pub async fn drop_staging(client: &mut Client, id: i64, keep_undo: bool) -> Result<Vec<Relation>> {
    let tx = client
        .transaction()
        .await
        .map_err(Error::db("dropping a batch"))?;
    let current = lock_state(&tx, id).await?;
    // Abandoned loads and promotions were reconciled already: these are live.
    if current.at_work() {
        return Err(Error::BatchState {
            id,
            state: current.to_string(),
            action: "drop",
            expected: "not being loaded or promoted".into(),
        });
    }
    let dropped: Vec<Relation> = relations(&tx, id)
        .await?
        .into_iter()
        .filter(|k| !(keep_undo && k.for_undo))
        .collect();
    for k in &dropped {
        tx.batch_execute(&format!("DROP {} IF EXISTS {}", k.kind, k.name))
            .await
            .map_err(Error::db(format!("dropping {}", k.name)))?;
    }
    if current.unfinished() {
        transition(&tx, id, State::Aborted, "drop", "", &[]).await?;
        record_decision(&tx, id, "abort", Some("staging dropped"), None).await?;
    }
    let undo_dropped = dropped.iter().any(|k| k.for_undo);
    let note = match dropped.iter().all(|k| k.for_undo) {
        true if undo_dropped => "undo data dropped",
        _ if undo_dropped => "staging and undo data dropped",
        _ => "staging dropped",
    };
    if !dropped.is_empty() {
        tx.execute(
            "UPDATE airlock.batches SET notes = notes || jsonb_build_array($3::text), \
                 previous_table = CASE WHEN $2 THEN NULL ELSE previous_table END, \
                 previous_indexes = CASE WHEN $2 THEN NULL ELSE previous_indexes END, \
                 undo = CASE WHEN $2 THEN NULL ELSE undo END WHERE id = $1",
            &[&id, &undo_dropped, &note],
        )
        .await
        .map_err(Error::db("recording the drop"))?;
    }
    tx.commit().await.map_err(Error::db("dropping a batch"))?;
    Ok(dropped)
}

/// A batch `prune` looks at: what it would drop, and the undo data it keeps and why.
#[derive(Debug, Clone)]
pub struct Prunable {
    pub id: i64,
    pub drops: Vec<Relation>,
    pub keeps: Vec<Relation>,
    /// The target, when the batch is the latest promotion into it: its undo data stays
    /// unless `prune --undo`.
    pub latest_of: Option<String>,
}

/// Batches last touched longer ago than `age` with something still in staging, not being
/// worked on: what `prune` would drop. Undo data stays for the latest promotion of each
/// target unless `undo`; an older promotion's can no longer be used (undo takes back the
/// latest only), so it goes.
pub async fn prunable(
    client: &Client,
    age: std::time::Duration,
    undo: bool,
) -> Result<Vec<Prunable>> {
    let seconds = age.as_secs_f64();
    let rows = client
        .query(
            "SELECT b.id, CASE WHEN b.state = 'promoted' AND NOT EXISTS ( \
                        SELECT 1 FROM airlock.batches l WHERE l.target = b.target \
                        AND l.id > b.id AND l.state = 'promoted') THEN b.target END \
             FROM airlock.batches b \
             WHERE b.updated_at < now() - make_interval(secs => $1) \
               AND b.state <> ALL($2) \
               AND EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                           WHERE n.nspname = 'airlock_stage' \
                             AND (c.relname = 'batch_' || b.id OR c.relname LIKE 'batch\\_' || b.id || '\\_%')) \
             ORDER BY b.id",
            &[
                &seconds,
                &[State::Loading.as_str(), State::Promoting.as_str()].as_slice(),
            ],
        )
        .await
        .map_err(Error::db("finding old batches"))?;
    let mut found = Vec::new();
    for r in rows {
        let (id, latest_of): (i64, Option<String>) = (r.get(0), r.get(1));
        let keep_undo = latest_of.is_some() && !undo;
        let (keeps, drops): (Vec<Relation>, Vec<Relation>) = relations(client, id)
            .await?
            .into_iter()
            .partition(|k| keep_undo && k.for_undo);
        if !drops.is_empty() {
            found.push(Prunable {
                id,
                drops,
                keeps,
                latest_of,
            });
        }
    }
    Ok(found)
}

/// PostgreSQL empties UNLOGGED tables when it recovers from a crash, and the batch's
/// staging, issues and typed rows are UNLOGGED (they are rebuilt from the file, and logging
/// them would make every load write the file twice). A batch whose tables should hold rows
/// but hold none lost them so: an unfinished one becomes `load_failed` (nothing of it can be
/// promoted; checking the file again redoes it), and every such batch records when, so the
/// review, `show` and `export` say so instead of showing an empty batch. Only batches last
/// touched before the server's start are looked at, one cheap probe each, in one statement.
pub async fn notice_emptied_staging(client: &Client) -> Result<u64> {
    let ctx = || Error::db("looking for staging a server restart emptied");
    let candidates: Vec<(i64, bool, bool)> = client
        .query(
            // Only tables that are still there are probed: a batch whose staging an operator
            // dropped by hand must not make every command fail.
            "SELECT b.id, \
                    coalesce(b.rows_good, 0) > 0 \
                      AND to_regclass(format('airlock_stage.%I', 'batch_' || b.id || '_rows')) IS NOT NULL, \
                    coalesce(b.rows_quarantined, 0) + coalesce(b.rows_superseded, 0) > 0 \
             FROM airlock.batches b \
             WHERE b.staging_lost_at IS NULL AND b.updated_at < pg_postmaster_start_time() \
               AND b.state <> ALL($1) \
               AND coalesce(b.rows_good, 0) + coalesce(b.rows_quarantined, 0) > 0 \
               AND to_regclass(format('airlock_stage.%I', 'batch_' || b.id || '_issues')) IS NOT NULL",
            &[&[State::Loading.as_str(), State::Promoting.as_str()].as_slice()],
        )
        .await
        .map_err(ctx())?
        .into_iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .filter(|&(_, good, bad): &(i64, bool, bool)| good || bad)
        .collect();
    if candidates.is_empty() {
        return Ok(0);
    }
    let probes: Vec<String> = candidates
        .iter()
        .map(|&(id, good, bad)| {
            let names = StageNames::new(id);
            let mut empty = Vec::new();
            if good {
                empty.push(format!("NOT EXISTS (SELECT 1 FROM {})", names.rows));
            }
            if bad {
                empty.push(format!("NOT EXISTS (SELECT 1 FROM {})", names.issues));
            }
            format!("SELECT {id}::bigint WHERE {}", empty.join(" AND "))
        })
        .collect();
    let emptied: Vec<i64> = client
        .query(&probes.join(" UNION ALL "), &[])
        .await
        .map_err(ctx())?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    for &id in &emptied {
        let at: String = client
            .query_one(
                "UPDATE airlock.batches SET staging_lost_at = pg_postmaster_start_time(), \
                     notes = notes || jsonb_build_array(format( \
                         'its staging was emptied by a server restart at %s; check the file again', \
                         to_char(pg_postmaster_start_time() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"'))) \
                 WHERE id = $1 \
                 RETURNING to_char(staging_lost_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"')",
                &[&id],
            )
            .await
            .map_err(ctx())?
            .get(0);
        let state = super::current_state(client, id).await?;
        if state.may_become(State::LoadFailed) {
            let error = lost_message(&at);
            transition(
                client,
                id,
                State::LoadFailed,
                "record lost staging",
                ", error = $4",
                &[&error],
            )
            .await?;
        }
    }
    Ok(emptied.len() as u64)
}

/// What a batch whose staging a restart emptied says.
pub fn lost_message(at: &str) -> String {
    format!(
        "its staging was emptied by a server restart at {at}; nothing of it can be promoted or \
         exported; check the file again"
    )
}
