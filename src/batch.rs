//! A batch's life in the database: its row in `airlock.batches`, state transitions, and the
//! append-only decisions in `airlock.decisions`.
use serde::Serialize;
use tokio_postgres::{Client, GenericClient};

use crate::error::{Error, Result};

/// The states of DESIGN.md's state machine.
pub mod state {
    pub const LOADING: &str = "loading";
    pub const VALIDATED: &str = "validated";
    pub const PROMOTING: &str = "promoting";
    pub const PROMOTED: &str = "promoted";
    pub const QUARANTINED: &str = "quarantined";
    pub const ABORTED: &str = "aborted";
    pub const LOAD_FAILED: &str = "load_failed";
    pub const PROMOTE_FAILED: &str = "promote_failed";
    pub const UNDONE: &str = "undone";

    /// The states a batch can still be ended from: nothing of it reached production.
    pub const UNFINISHED: &[&str] = &[LOADING, VALIDATED, QUARANTINED, LOAD_FAILED, PROMOTE_FAILED];
}

/// What a new batch records about itself before loading starts.
pub struct NewBatch<'a> {
    pub feed: &'a str,
    pub spec_path: &'a str,
    pub spec: &'a str,
    pub target: &'a str,
    pub target_oid: u32,
    pub mode: &'a str,
    pub file_path: &'a str,
    pub file_size: i64,
    pub encoding: &'a str,
    pub header: &'a [String],
}

pub fn os_user() -> Option<String> {
    whoami::username().ok()
}

/// The advisory lock a live process holds on a batch while it loads or promotes it: when the
/// process dies (kill -9, lost connection) the server releases it, and the batch can be seen
/// to be abandoned.
const WORK_LOCK_CLASS: i32 = 0x4152_4c42;

/// Records a new batch (state `loading`) and takes its work lock, in one transaction so no
/// other session ever sees the batch without its lock.
pub async fn create(client: &mut Client, b: &NewBatch<'_>) -> Result<i64> {
    let header = serde_json::to_value(b.header).unwrap_or_default();
    let tx = client
        .transaction()
        .await
        .map_err(Error::db("recording the new batch"))?;
    let row = tx
        .query_one(
            "INSERT INTO airlock.batches (feed, spec_path, spec, target, target_oid, mode, \
                 file_path, file_size, encoding, header, state, os_user) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'loading', $11) RETURNING id",
            &[
                &b.feed,
                &b.spec_path,
                &b.spec,
                &b.target,
                &b.target_oid,
                &b.mode,
                &b.file_path,
                &b.file_size,
                &b.encoding,
                &header,
                &os_user(),
            ],
        )
        .await
        .map_err(Error::db("recording the new batch"))?;
    let id: i64 = row.get(0);
    tx.execute(
        "SELECT pg_advisory_lock($1, ($2::bigint % 2147483647)::int)",
        &[&WORK_LOCK_CLASS, &id],
    )
    .await
    .map_err(Error::db("claiming the new batch"))?;
    tx.commit()
        .await
        .map_err(Error::db("recording the new batch"))?;
    Ok(id)
}

/// Takes a batch's work lock for this session; false when another live session holds it.
pub async fn claim(client: &Client, id: i64) -> Result<bool> {
    Ok(client
        .query_one(
            "SELECT pg_try_advisory_lock($1, ($2::bigint % 2147483647)::int)",
            &[&WORK_LOCK_CLASS, &id],
        )
        .await
        .map_err(Error::db(format!("claiming batch {id}")))?
        .get(0))
}

/// Lets go of a batch's work lock.
pub async fn release(client: &Client, id: i64) {
    // Best effort: closing the connection releases it anyway.
    let _ = client
        .execute(
            "SELECT pg_advisory_unlock($1, ($2::bigint % 2147483647)::int)",
            &[&WORK_LOCK_CLASS, &id],
        )
        .await;
}

/// Batches left `loading` or `promoting` by a process that is gone (nobody holds their work
/// lock in this database — advisory locks are per database, and batch ids repeat across
/// databases) get the state that says what happened. Production was not changed: a promotion
/// commits together with its `promoted` state. Returns how many were found.
pub async fn reconcile(client: &Client) -> Result<u64> {
    client
        .execute(
            "UPDATE airlock.batches b \
             SET state = CASE b.state WHEN 'loading' THEN 'load_failed' ELSE 'promote_failed' END, \
                 error = concat_ws('; ', b.error, 'interrupted: the process working on it stopped \
                     (killed or disconnected) before it finished; production was not changed'), \
                 updated_at = now() \
             WHERE b.state IN ('loading', 'promoting') AND NOT EXISTS ( \
                 SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted \
                   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                   AND l.classid = $1::int::oid AND l.objid = (b.id % 2147483647)::int::oid \
                   AND l.objsubid = 2)",
            &[&WORK_LOCK_CLASS],
        )
        .await
        .map_err(Error::db("looking for abandoned batches"))
}

/// Marks a batch failed with the error that stopped it.
pub async fn mark_failed(client: &Client, id: i64, state: &str, error: &str) -> Result<()> {
    client
        .execute(
            "UPDATE airlock.batches SET state = $2, error = $3, updated_at = now() WHERE id = $1",
            &[&id, &state, &error],
        )
        .await
        .map_err(Error::db(format!("marking batch {id} {state}")))?;
    Ok(())
}

/// The current state of a batch, locked for the rest of the transaction.
pub async fn lock_state(client: &impl GenericClient, id: i64) -> Result<String> {
    client
        .query_opt(
            "SELECT state FROM airlock.batches WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await
        .map_err(Error::db(format!("reading batch {id}")))?
        .map(|r| r.get(0))
        .ok_or(Error::BatchNotFound { id })
}

/// Appends a decision to the audit log.
pub async fn record_decision(
    client: &impl GenericClient,
    id: i64,
    decision: &str,
    note: Option<&str>,
    counts: Option<&serde_json::Value>,
) -> Result<()> {
    client
        .execute(
            "INSERT INTO airlock.decisions (batch_id, decision, os_user, note, counts) \
             VALUES ($1, $2, $3, $4, $5)",
            &[&id, &decision, &os_user(), &note, &counts],
        )
        .await
        .map_err(Error::db(format!(
            "recording the {decision} decision for batch {id}"
        )))?;
    Ok(())
}

/// Moves a batch from one of `from` to `to`, recording `decision` in the same transaction.
pub async fn decide(
    client: &mut Client,
    id: i64,
    decision: &'static str,
    from: &[&str],
    to: &str,
    note: Option<&str>,
) -> Result<()> {
    let tx = client
        .transaction()
        .await
        .map_err(Error::db("starting a transaction"))?;
    let current = lock_state(&tx, id).await?;
    if !from.contains(&current.as_str()) {
        return Err(Error::BatchState {
            id,
            state: current,
            action: decision,
            expected: from.join(" or "),
        });
    }
    tx.execute(
        "UPDATE airlock.batches SET state = $2, updated_at = now() WHERE id = $1",
        &[&id, &to],
    )
    .await
    .map_err(Error::db(format!("updating batch {id}")))?;
    record_decision(&tx, id, decision, note, None).await?;
    tx.commit().await.map_err(Error::db(format!(
        "committing the {decision} of batch {id}"
    )))
}

/// Ends a batch; production untouched.
pub async fn abort(client: &mut Client, id: i64, note: Option<&str>) -> Result<()> {
    decide(client, id, "abort", state::UNFINISHED, state::ABORTED, note).await
}

/// Sets a validated batch aside with a note; everything is kept.
pub async fn quarantine(client: &mut Client, id: i64, note: &str) -> Result<()> {
    decide(
        client,
        id,
        "quarantine",
        &[state::VALIDATED],
        state::QUARANTINED,
        Some(note),
    )
    .await
}

/// One line of `airlock batches`.
#[derive(Debug, Clone, Serialize)]
pub struct BatchListItem {
    pub batch: i64,
    pub feed: String,
    pub target: String,
    pub mode: String,
    pub state: String,
    pub verdict: Option<String>,
    pub file: String,
    pub rows_total: Option<i64>,
    pub rows_good: Option<i64>,
    pub rows_quarantined: Option<i64>,
    pub created_at: String,
    pub age_seconds: i64,
    pub staging_bytes: i64,
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
                       AND (c.relname = 'batch_' || b.id OR c.relname LIKE 'batch\\_' || b.id || '\\_%')) \
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
        })
        .collect())
}

/// Drops what a batch keeps in `airlock_stage` (and a leftover next table), ending it as
/// `aborted` if it was not finished. Refused while the batch is promoting.
pub async fn drop_staging(client: &mut Client, id: i64, keep_previous: bool) -> Result<()> {
    let tx = client
        .transaction()
        .await
        .map_err(Error::db("dropping a batch"))?;
    let current = lock_state(&tx, id).await?;
    // Abandoned loads and promotions were reconciled already: these are live.
    if current == state::PROMOTING || current == state::LOADING {
        return Err(Error::BatchState {
            id,
            state: current,
            action: "drop",
            expected: "not being loaded or promoted".into(),
        });
    }
    // The view over a batch's records goes first: it depends on its tables.
    let relations: Vec<(String, String)> = tx
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname), \
                    CASE c.relkind WHEN 'v' THEN 'VIEW' ELSE 'TABLE' END FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'v') AND ((n.nspname = 'airlock_stage' \
                   AND (c.relname = 'batch_' || $1 OR c.relname LIKE 'batch\\_' || $1 || '\\_%')) \
                OR c.relname = 'airlock_next_' || $1) \
             ORDER BY c.relkind = 'r'",
            &[&id.to_string()],
        )
        .await
        .map_err(Error::db("finding the batch's staging tables"))?
        .into_iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
        .filter(|(t, _)| !(keep_previous && t.ends_with("_previous")))
        .collect();
    for (t, kind) in &relations {
        tx.batch_execute(&format!("DROP {kind} IF EXISTS {t}"))
            .await
            .map_err(Error::db(format!("dropping {t}")))?;
    }
    if state::UNFINISHED.contains(&current.as_str()) {
        tx.execute(
            "UPDATE airlock.batches SET state = 'aborted', updated_at = now() WHERE id = $1",
            &[&id],
        )
        .await
        .map_err(Error::db("ending the batch"))?;
        record_decision(&tx, id, "abort", Some("staging dropped"), None).await?;
    }
    tx.execute(
        "UPDATE airlock.batches SET notes = notes || '[\"staging dropped\"]'::jsonb, \
             previous_table = CASE WHEN $2 THEN previous_table END, \
             previous_indexes = CASE WHEN $2 THEN previous_indexes END WHERE id = $1",
        &[&id, &keep_previous],
    )
    .await
    .map_err(Error::db("recording the drop"))?;
    tx.commit().await.map_err(Error::db("dropping a batch"))
}

/// Batches last touched longer ago than `age` whose staging is still there, not being worked
/// on: what `prune` would drop.
pub async fn prunable(client: &Client, age: std::time::Duration) -> Result<Vec<i64>> {
    let seconds = age.as_secs_f64();
    Ok(client
        .query(
            "SELECT b.id FROM airlock.batches b \
             WHERE b.updated_at < now() - make_interval(secs => $1) \
               AND b.state NOT IN ('loading', 'promoting') \
               AND EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                           WHERE n.nspname = 'airlock_stage' AND c.relname = 'batch_' || b.id) \
             ORDER BY b.id",
            &[&seconds],
        )
        .await
        .map_err(Error::db("finding old batches"))?
        .into_iter()
        .map(|r| r.get(0))
        .collect())
}
