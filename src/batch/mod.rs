//! A batch's life in the database: its row in `airlock.batches`, state transitions, and the
//! append-only decisions in `airlock.decisions`. This module is the only writer of
//! `airlock.batches`; every change of state goes through [`transition`], which refuses what
//! [`State::may_become`] does not allow.
pub mod history;
mod leftovers;
mod loaded;
mod state;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, GenericClient};

use crate::error::{Error, Result};

pub use leftovers::{
    BatchListItem, Prunable, Relation, drop_staging, list, lost_message, notice_emptied_staging,
    prunable, relations,
};
pub use loaded::{Loaded, load};
pub use state::{State, Verdict};

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
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
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
                &State::Loading,
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
/// commits together with its `promoted` state. Then batches whose staging a server restart
/// emptied are found ([`notice_emptied_staging`]). Returns how many were abandoned.
pub async fn reconcile(client: &Client) -> Result<u64> {
    let abandoned = client
        .execute(
            "UPDATE airlock.batches b \
             SET state = CASE b.state WHEN $2 THEN $3 ELSE $4 END, \
                 error = concat_ws('; ', b.error, 'interrupted: the process working on it stopped \
                     (killed or disconnected) before it finished; production was not changed'), \
                 updated_at = now() \
             WHERE b.state IN ($2, $5) AND NOT EXISTS ( \
                 SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted \
                   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                   AND l.classid = $1::int::oid AND l.objid = (b.id % 2147483647)::int::oid \
                   AND l.objsubid = 2)",
            &[
                &WORK_LOCK_CLASS,
                &State::Loading,
                &State::LoadFailed,
                &State::PromoteFailed,
                &State::Promoting,
            ],
        )
        .await
        .map_err(Error::db("looking for abandoned batches"))?;
    notice_emptied_staging(client).await?;
    Ok(abandoned)
}

/// Moves batch `id` to `to` — only from a state that may become it — setting the columns of
/// `sets` too (`, col = $4, …`, their values in `params`). Refused, naming the state the batch
/// is in, when the transition is not allowed.
pub async fn transition(
    client: &impl GenericClient,
    id: i64,
    to: State,
    action: &'static str,
    sets: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<()> {
    let from: Vec<&str> = State::before(to).into_iter().map(State::as_str).collect();
    let mut all: Vec<&(dyn ToSql + Sync)> = vec![&id, &to, &from];
    all.extend_from_slice(params);
    let moved = client
        .execute(
            &format!(
                "UPDATE airlock.batches SET state = $2, updated_at = now(){sets} \
                 WHERE id = $1 AND state = ANY($3)"
            ),
            &all,
        )
        .await
        .map_err(Error::db(format!("marking batch {id} {to}")))?;
    if moved == 1 {
        return Ok(());
    }
    let current = current_state(client, id).await?;
    Err(Error::BatchState {
        id,
        state: current.to_string(),
        action,
        expected: from.join(" or "),
    })
}

/// Marks a batch failed (`load_failed`, `promote_failed`, or back to `validated` after a
/// refused promotion) with the error that stopped it.
pub async fn mark_failed(
    client: &impl GenericClient,
    id: i64,
    to: State,
    error: &str,
) -> Result<()> {
    transition(
        client,
        id,
        to,
        "record a failure",
        ", error = $4",
        &[&error],
    )
    .await
}

/// The current state of a batch.
pub async fn current_state(client: &impl GenericClient, id: i64) -> Result<State> {
    client
        .query_opt("SELECT state FROM airlock.batches WHERE id = $1", &[&id])
        .await
        .map_err(Error::db(format!("reading batch {id}")))?
        .map(|r| r.get(0))
        .ok_or(Error::BatchNotFound { id })
}

/// The current state of a batch, locked for the rest of the transaction.
pub async fn lock_state(client: &impl GenericClient, id: i64) -> Result<State> {
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

/// Moves a batch to `to`, recording `decision` in the same transaction.
pub async fn decide(
    client: &mut Client,
    id: i64,
    decision: &'static str,
    to: State,
    note: Option<&str>,
) -> Result<()> {
    let tx = client
        .transaction()
        .await
        .map_err(Error::db("starting a transaction"))?;
    transition(&tx, id, to, decision, "", &[]).await?;
    record_decision(&tx, id, decision, note, None).await?;
    tx.commit().await.map_err(Error::db(format!(
        "committing the {decision} of batch {id}"
    )))
}

/// Ends a batch; production untouched.
pub async fn abort(client: &mut Client, id: i64, note: Option<&str>) -> Result<()> {
    decide(client, id, "abort", State::Aborted, note).await
}

/// Sets a validated batch aside with a note; everything is kept.
pub async fn quarantine(client: &mut Client, id: i64, note: &str) -> Result<()> {
    decide(client, id, "quarantine", State::Quarantined, Some(note)).await
}

/// Takes a quarantined batch back to `validated` with a note (the caller judges it again).
pub async fn release_from_quarantine(client: &mut Client, id: i64, note: &str) -> Result<()> {
    let state = current_state(client, id).await?;
    if state != State::Quarantined {
        return Err(Error::BatchState {
            id,
            state: state.to_string(),
            action: "release",
            expected: State::Quarantined.to_string(),
        });
    }
    decide(client, id, "release", State::Validated, Some(note)).await
}

/// What the load found, recorded once it ended.
pub struct LoadRecord<'a> {
    /// The sha256 of the bytes read, as received (compressed, when the file is).
    pub sha256: Option<&'a str>,
    pub records: i64,
    /// How many bytes were read, as received.
    pub bytes: i64,
    pub compression: &'a str,
    /// The bytes of text they held.
    pub text_bytes: i64,
    /// The target's definition as validated.
    pub definition: &'a serde_json::Value,
    /// What the columns' parsing rules changed (`stage::Conversion`s).
    pub conversions: serde_json::Value,
    /// The format the file was read in.
    pub format: &'a str,
    /// The parts of a batch of several files (`source::parts::Part`s), else empty.
    pub parts: serde_json::Value,
    /// Each source column's profile (`profile::ColumnProfile`s).
    pub profile: serde_json::Value,
}

pub async fn record_load(client: &impl GenericClient, id: i64, r: &LoadRecord<'_>) -> Result<()> {
    client
        .execute(
            "UPDATE airlock.batches SET file_sha256 = $2, rows_total = $3, file_size = $4, \
                 target_definition = $5, compression = $6, text_size = $7, conversions = $8, \
                 format = $9, parts = $10, profile = $11, updated_at = now() \
             WHERE id = $1",
            &[
                &id,
                &r.sha256,
                &r.records,
                &r.bytes,
                r.definition,
                &r.compression,
                &r.text_bytes,
                &r.conversions,
                &r.format,
                &r.parts,
                &r.profile,
            ],
        )
        .await
        .map_err(Error::db("recording load statistics"))?;
    Ok(())
}

/// The parts of a batch read from several files, to say where its lines are (empty for a
/// batch of one file).
pub async fn parts(client: &impl GenericClient, id: i64) -> Result<crate::source::parts::PartMap> {
    let row = client
        .query_opt("SELECT parts FROM airlock.batches WHERE id = $1", &[&id])
        .await
        .map_err(Error::db(format!("reading the parts of batch {id}")))?;
    Ok(crate::source::parts::PartMap::from_json(
        row.and_then(|r| r.get(0)),
    ))
}

/// Where the validation's time went.
pub async fn record_timings(
    client: &impl GenericClient,
    id: i64,
    timings: &serde_json::Value,
) -> Result<()> {
    client
        .execute(
            "UPDATE airlock.batches SET timings = $2 WHERE id = $1",
            &[&id, timings],
        )
        .await
        .map_err(Error::db("recording timings"))?;
    Ok(())
}

/// Adds a promotion's stages after the load's (in the promotion's transaction, so they are
/// kept exactly when it is).
pub async fn append_timings(
    client: &impl GenericClient,
    id: i64,
    timings: &crate::timing::Timings,
) -> Result<()> {
    let stages = serde_json::to_value(&timings.stages).unwrap_or_default();
    client
        .execute(
            "UPDATE airlock.batches SET timings = jsonb_set(coalesce(timings, '{}'), '{stages}', \
                 coalesce(timings->'stages', '[]') || $2) WHERE id = $1",
            &[&id, &stages],
        )
        .await
        .map_err(Error::db("recording timings"))?;
    Ok(())
}

/// The outcome of judging a staged batch.
pub struct Validation<'a> {
    pub verdict: Verdict,
    pub breaches: serde_json::Value,
    pub notes: serde_json::Value,
    pub rows: &'a crate::validate::policy::RowCounts,
    pub checks: serde_json::Value,
    pub plan: serde_json::Value,
}

/// Records a batch judged (after its load, after rows were held back or refused by a
/// promotion): state `validated`.
pub async fn record_validation(
    client: &impl GenericClient,
    id: i64,
    v: &Validation<'_>,
) -> Result<()> {
    transition(
        client,
        id,
        State::Validated,
        "record the validation",
        ", verdict = $4, breaches = $5, notes = $6, rows_good = $7, rows_quarantined = $8, \
         rows_superseded = $9, rows_warned = $10, checks = $11, plan = $12",
        &[
            &v.verdict,
            &v.breaches,
            &v.notes,
            &v.rows.good,
            &v.rows.quarantined,
            &v.rows.superseded,
            &v.rows.warned,
            &v.checks,
            &v.plan,
        ],
    )
    .await
}

/// Records a batch's plan (made for a person, or by its promotion).
pub async fn record_plan(
    client: &impl GenericClient,
    id: i64,
    plan: &serde_json::Value,
) -> Result<()> {
    client
        .execute(
            "UPDATE airlock.batches SET plan = $2 WHERE id = $1",
            &[&id, plan],
        )
        .await
        .map_err(Error::db(format!("recording the plan of batch {id}")))?;
    Ok(())
}

/// Marks a batch `promoting`, only from the state it was approved in: an abort that landed in
/// between is not overwritten.
pub async fn start_promoting(client: &impl GenericClient, id: i64, from: State) -> Result<()> {
    let moved = client
        .execute(
            "UPDATE airlock.batches SET state = $2, error = NULL, updated_at = now() \
             WHERE id = $1 AND state = $3",
            &[&id, &State::Promoting, &from],
        )
        .await
        .map_err(Error::db(format!("marking batch {id} promoting")))?;
    if moved == 1 && from.approvable() {
        return Ok(());
    }
    Err(Error::BatchState {
        id,
        state: current_state(client, id).await?.to_string(),
        action: "promote",
        expected: from.to_string(),
    })
}

/// Records a promotion, inside its transaction: state `promoted`, what was applied, and
/// what is kept for undo: the replaced table of a swap, the ids of the rows of the others.
pub async fn record_promoted(
    tx: &impl GenericClient,
    id: i64,
    applied: &serde_json::Value,
    keeps_previous: bool,
    undo: Option<&serde_json::Value>,
) -> Result<()> {
    let previous = keeps_previous.then(|| crate::layout::StageNames::new(id).previous);
    transition(
        tx,
        id,
        State::Promoted,
        "record the promotion",
        ", applied = $4, previous_table = $5, undo = $6, error = NULL",
        &[applied, &previous, &undo],
    )
    .await
}

/// The names the replaced table's indexes were given while it is kept, to restore on undo.
pub async fn record_previous_indexes(
    tx: &impl GenericClient,
    id: i64,
    mapping: &serde_json::Value,
) -> Result<()> {
    tx.execute(
        "UPDATE airlock.batches SET previous_indexes = $2 WHERE id = $1",
        &[&id, mapping],
    )
    .await
    .map_err(Error::db("recording the replaced table's indexes"))?;
    Ok(())
}

/// The batches of `target` other than `id` that still keep a replaced table.
pub async fn keeping_previous(tx: &impl GenericClient, target: &str, id: i64) -> Result<Vec<i64>> {
    Ok(tx
        .query(
            "SELECT id FROM airlock.batches \
             WHERE target = $1 AND id <> $2 AND previous_table IS NOT NULL",
            &[&target, &id],
        )
        .await
        .map_err(Error::db("finding older previous tables"))?
        .into_iter()
        .map(|r| r.get(0))
        .collect())
}

/// A batch's replaced table is no longer kept.
pub async fn forget_previous(tx: &impl GenericClient, id: i64) -> Result<()> {
    tx.execute(
        "UPDATE airlock.batches SET previous_table = NULL, previous_indexes = NULL WHERE id = $1",
        &[&id],
    )
    .await
    .map_err(Error::db("updating an older batch"))?;
    Ok(())
}

/// Records an undo, inside its transaction, with its audit row.
pub async fn record_undone(tx: &impl GenericClient, id: i64, note: Option<&str>) -> Result<()> {
    transition(
        tx,
        id,
        State::Undone,
        "undo",
        ", previous_table = NULL, previous_indexes = NULL, undo = NULL",
        &[],
    )
    .await?;
    record_decision(tx, id, "undo", note, None).await
}
