//! Airlock's catalog on ClickHouse: the `airlock` database holds one row per batch version in
//! `airlock.batches`, the `airlock_stage` database each batch's staging. ClickHouse has no
//! transactions nor row updates: a batch's every change is a new version of its row
//! (`ReplacingMergeTree(version)`, read with `FINAL`), its summary kept whole as JSON, the
//! same summary `show --json` prints on PostgreSQL. Batch numbers are claimed through an
//! insert the engine deduplicates by token, so two checks started at once never share one.
use serde::{Deserialize, Serialize};

use super::client::{ClickHouse, quote};
use crate::error::{Error, Result};
use crate::layout::{CATALOG_SCHEMA, STAGE_SCHEMA};
use crate::report::Summary;

/// The catalog, created on first use.
pub async fn ensure_catalog(ch: &ClickHouse) -> Result<()> {
    let context = "creating Airlock's catalog on ClickHouse (databases airlock and airlock_stage)";
    for sql in [
        format!("CREATE DATABASE IF NOT EXISTS {CATALOG_SCHEMA} ENGINE = Atomic"),
        format!("CREATE DATABASE IF NOT EXISTS {STAGE_SCHEMA} ENGINE = Atomic"),
        format!(
            "CREATE TABLE IF NOT EXISTS {CATALOG_SCHEMA}.batches (\
                 id UInt64, version UInt64, state LowCardinality(String), feed String, \
                 target String, created_at DateTime64(3, 'UTC'), summary String, \
                 spec String, header String, promotion String) \
             ENGINE = ReplacingMergeTree(version) ORDER BY id"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {CATALOG_SCHEMA}.batch_leases \
             (batch UInt64, written Int64, until Int64) \
             ENGINE = ReplacingMergeTree(written) ORDER BY batch"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {CATALOG_SCHEMA}.batch_claims \
             (token String, claimant UUID, claimed_at Int64, grace Int64) \
             ENGINE = MergeTree ORDER BY token \
             SETTINGS non_replicated_deduplication_window = 100000"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {CATALOG_SCHEMA}.batch_ids (id UInt64, claimant UUID) \
             ENGINE = MergeTree ORDER BY id \
             SETTINGS non_replicated_deduplication_window = 100000"
        ),
    ] {
        ch.execute(&sql, context).await?;
    }
    ch.execute(
        &format!(
            "ALTER TABLE {CATALOG_SCHEMA}.batch_claims ADD COLUMN IF NOT EXISTS claimed_at Int64, \
             ADD COLUMN IF NOT EXISTS grace Int64"
        ),
        context,
    )
    .await?;
    // A catalog from before the batch kept its spec, header and promotion.
    for column in ["spec", "header", "promotion"] {
        ch.execute(
            &format!(
                "ALTER TABLE {CATALOG_SCHEMA}.batches ADD COLUMN IF NOT EXISTS {column} String"
            ),
            context,
        )
        .await?;
    }
    Ok(())
}

/// A new batch number: the next free one, claimed by an insert the engine keeps only once per
/// number (its deduplication token), then read back to see whose claim it kept.
pub async fn claim_id(ch: &ClickHouse) -> Result<i64> {
    let context = "numbering a new batch";
    let claimant = ch
        .value("SELECT generateUUIDv4()", context)
        .await?
        .unwrap_or_default();
    for _ in 0..100 {
        let next: i64 = ch
            .value(
                &format!("SELECT max(id) + 1 FROM {CATALOG_SCHEMA}.batch_ids"),
                context,
            )
            .await?
            .and_then(|v| v.parse().ok())
            .unwrap_or(1)
            .max(1);
        ch.execute(
            &format!(
                "INSERT INTO {CATALOG_SCHEMA}.batch_ids \
                 SETTINGS insert_deduplication_token = 'airlock-batch-{next}' \
                 VALUES ({next}, {})",
                quote(&claimant)
            ),
            context,
        )
        .await?;
        let kept = ch
            .value(
                &format!(
                    "SELECT toString(claimant) FROM {CATALOG_SCHEMA}.batch_ids \
                     WHERE id = {next} LIMIT 1"
                ),
                context,
            )
            .await?;
        if kept.as_deref() == Some(claimant.as_str()) {
            return Ok(next);
        }
    }
    Err(Error::ClickHouse {
        context: context.into(),
        message: "another session claimed every number tried (100 attempts)".into(),
    })
}

/// A batch as the catalog keeps it: its summary (what `show --json` prints), the spec and
/// header it was checked with (to bind the file again for promotion), and what its promotion
/// did, once there is one.
#[derive(Debug, Clone)]
pub struct ChBatch {
    /// The version of the record this was read from (0 for a batch not yet recorded).
    pub version: u64,
    pub summary: Summary,
    pub spec: String,
    pub header: Vec<String>,
    pub promotion: Option<Promotion>,
}

/// What a promotion on ClickHouse did, so that a crash can be reconciled and the promotion
/// undone: which table holds which data (Atomic databases keep a table's UUID through
/// `EXCHANGE TABLES`), and the target's data parts before and after.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promotion {
    /// The table built as the next production.
    pub next_uuid: String,
    /// The production it replaces.
    pub replaced_uuid: String,
    /// The target's active data parts when the next table was built.
    pub parts_before: Vec<String>,
    /// The target's active data parts right after the exchange: what `undo` expects.
    pub parts_after: Vec<String>,
}

/// Writes the batch as its newest version.
pub async fn record(ch: &ClickHouse, b: &ChBatch) -> Result<()> {
    let s = &b.summary;
    let context = format!("recording batch {}", s.batch);
    let summary = to_json(s, &context)?;
    let header = to_json(&b.header, &context)?;
    let promotion = to_json(&b.promotion, &context)?;
    let version = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    ch.execute(
        &format!(
            "INSERT INTO {CATALOG_SCHEMA}.batches \
             (id, version, state, feed, target, created_at, summary, spec, header, promotion) \
             VALUES ({}, {version}, {}, {}, {}, parseDateTime64BestEffort({}, 3, 'UTC'), \
             {}, {}, {}, {})",
            s.batch,
            quote(s.state.as_str()),
            quote(&s.feed),
            quote(&s.target),
            quote(&s.created_at),
            quote(&summary),
            quote(&b.spec),
            quote(&header),
            quote(&promotion)
        ),
        &context,
    )
    .await
}

fn to_json<T: Serialize>(value: &T, context: &str) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::ClickHouse {
        context: context.to_string(),
        message: e.to_string(),
    })
}

/// The batch's newest version.
pub async fn load(ch: &ClickHouse, id: i64) -> Result<ChBatch> {
    let row = ch
        .rows(
            &format!(
                "SELECT summary, spec, header, promotion, version \
                 FROM {CATALOG_SCHEMA}.batches FINAL WHERE id = {id}"
            ),
            &format!("reading batch {id}"),
        )
        .await?
        .into_iter()
        .next()
        .ok_or(Error::BatchNotFound { id })?;
    let field = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
    let bad = |e: serde_json::Error| Error::ClickHouse {
        context: format!("reading batch {id}"),
        message: format!("its record is not one Airlock wrote: {e}"),
    };
    Ok(ChBatch {
        version: field(4).parse().unwrap_or_default(),
        summary: parse(&field(0), id)?,
        spec: field(1),
        header: serde_json::from_str(&field(2)).unwrap_or_default(),
        promotion: match field(3).as_str() {
            "" | "null" => None,
            p => Some(serde_json::from_str(p).map_err(bad)?),
        },
    })
}

/// Claims the right to act on a batch as its record stands (`action` on batch `id` at
/// `version`): of sessions that read the same record and race to promote or undo it, the
/// engine keeps one claim (an insert deduplicated by token), and only that session goes on.
/// A claim whose session died — no live lease on the batch, and older than the lease its
/// session meant to take (`lease_ms`, kept with the claim) — is succeeded by a claim of its
/// own token, which every session that sees it computes alike.
pub async fn claim(
    ch: &ClickHouse,
    action: &str,
    id: i64,
    version: u64,
    lease_ms: i64,
) -> Result<bool> {
    let context = format!("claiming batch {id}");
    let claimant = ch
        .value("SELECT generateUUIDv4()", &context)
        .await?
        .unwrap_or_default();
    let mut token = format!("airlock-{action}-{id}-{version}");
    for _ in 0..20 {
        ch.execute(
            &format!(
                "INSERT INTO {CATALOG_SCHEMA}.batch_claims (token, claimant, claimed_at, grace) \
                 SETTINGS insert_deduplication_token = {t} VALUES ({t}, {}, {}, {lease_ms})",
                quote(&claimant),
                now_ms(),
                t = quote(&token)
            ),
            &context,
        )
        .await?;
        let kept = ch
            .rows(
                &format!(
                    "SELECT toString(claimant), claimed_at, grace FROM {CATALOG_SCHEMA}.batch_claims \
                     WHERE token = {} LIMIT 1",
                    quote(&token)
                ),
                &context,
            )
            .await?
            .into_iter()
            .next()
            .unwrap_or_default();
        let field = |i: usize| kept.get(i).cloned().flatten().unwrap_or_default();
        if field(0) == claimant {
            return Ok(true);
        }
        let claimed_at: i64 = field(1).parse().unwrap_or_default();
        let grace: i64 = field(2).parse().unwrap_or(lease_ms);
        let leased = lease(ch, id).await?.is_some_and(|until| until > now_ms());
        if leased || now_ms() - claimed_at < grace {
            return Ok(false);
        }
        token = format!("{token}-after-{claimed_at}");
    }
    Ok(false)
}

/// The batch's newest summary.
pub async fn summary(ch: &ClickHouse, id: i64) -> Result<Summary> {
    Ok(load(ch, id).await?.summary)
}

/// The batches a process is loading or promoting, or was until it died: what `reconcile`
/// looks at, found by their state without reading every batch's summary.
pub async fn at_work(ch: &ClickHouse) -> Result<Vec<i64>> {
    let states: Vec<String> = crate::batch::State::ALL
        .into_iter()
        .filter(|s| s.at_work())
        .map(|s| quote(s.as_str()))
        .collect();
    let rows = ch
        .rows(
            &format!(
                "SELECT id FROM {CATALOG_SCHEMA}.batches FINAL WHERE state IN ({}) ORDER BY id",
                states.join(", ")
            ),
            "listing batches at work",
        )
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten()?.parse().ok())
        .collect())
}

/// Every batch, newest first.
pub async fn list(ch: &ClickHouse) -> Result<Vec<Summary>> {
    let rows = ch
        .rows(
            &format!("SELECT id, summary FROM {CATALOG_SCHEMA}.batches FINAL ORDER BY id DESC"),
            "listing batches",
        )
        .await?;
    rows.into_iter()
        .map(|r| {
            let id = r
                .first()
                .cloned()
                .flatten()
                .and_then(|v| v.parse().ok())
                .unwrap_or_default();
            parse(&r.get(1).cloned().flatten().unwrap_or_default(), id)
        })
        .collect()
}

/// The newest batch whose record (as it stands now) meets `condition`, over the catalog's
/// columns (`id`, `state`, `feed`, `target`, `summary`).
pub async fn latest_where(ch: &ClickHouse, condition: &str) -> Result<Option<Summary>> {
    let rows = ch
        .rows(
            &format!(
                "SELECT id, summary FROM {CATALOG_SCHEMA}.batches FINAL WHERE {condition} \
                 ORDER BY id DESC LIMIT 1"
            ),
            "reading the feed's earlier batches",
        )
        .await?;
    rows.into_iter()
        .next()
        .map(|r| {
            let f = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
            parse(&f(1), f(0).parse().unwrap_or_default())
        })
        .transpose()
}

/// Every batch with when its record was last written (nanoseconds since the epoch: the
/// record's version), newest first.
pub async fn touched(ch: &ClickHouse) -> Result<Vec<(Summary, u64)>> {
    let rows = ch
        .rows(
            &format!(
                "SELECT id, summary, version FROM {CATALOG_SCHEMA}.batches FINAL ORDER BY id DESC"
            ),
            "listing batches",
        )
        .await?;
    rows.into_iter()
        .map(|r| {
            let f = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
            let id = f(0).parse().unwrap_or_default();
            Ok((parse(&f(1), id)?, f(2).parse().unwrap_or_default()))
        })
        .collect()
}

/// Milliseconds since the epoch, as leases count.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Sets the lease of the process loading or promoting batch `id` to end at `until_ms`: while
/// it runs, no other session takes the batch for one a crash left behind. The newest word
/// on a batch's lease is the one that holds (a release is a lease ending now).
pub async fn set_lease(ch: &ClickHouse, id: i64, until_ms: i64) -> Result<()> {
    let written = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or_default();
    ch.execute(
        &format!("INSERT INTO {CATALOG_SCHEMA}.batch_leases VALUES ({id}, {written}, {until_ms})"),
        &format!("setting the lease on batch {id}"),
    )
    .await
}

/// Until when a process holds batch `id` (ms since the epoch), if one ever did.
pub async fn lease(ch: &ClickHouse, id: i64) -> Result<Option<i64>> {
    Ok(ch
        .value(
            &format!(
                "SELECT argMax(until, written) FROM {CATALOG_SCHEMA}.batch_leases \
                 WHERE batch = {id} HAVING count() > 0"
            ),
            &format!("reading the lease on batch {id}"),
        )
        .await?
        .and_then(|v| v.parse().ok()))
}

/// What each batch's staging holds on disk, by batch number.
pub async fn staging_bytes(ch: &ClickHouse) -> Result<std::collections::HashMap<i64, i64>> {
    let rows = ch
        .rows(
            &format!(
                "SELECT toInt64OrZero(extract(table, '^batch_([0-9]+)')) AS id, \
                        sum(bytes_on_disk) FROM system.parts \
                 WHERE database = {} AND active GROUP BY id",
                quote(STAGE_SCHEMA)
            ),
            "measuring staging",
        )
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let n = |i: usize| r.get(i).cloned().flatten()?.parse::<i64>().ok();
            Some((n(0)?, n(1)?))
        })
        .collect())
}

fn parse(json: &str, id: i64) -> Result<Summary> {
    serde_json::from_str(json).map_err(|e| Error::ClickHouse {
        context: format!("reading batch {id}"),
        message: format!("its record is not one Airlock wrote: {e}"),
    })
}

/// The batches as `batches` lists them, with what each keeps in staging.
pub async fn items(ch: &ClickHouse) -> Result<Vec<crate::batch::BatchListItem>> {
    let sizes = staging_bytes(ch).await?;
    Ok(list(ch)
        .await?
        .iter()
        .map(|s| list_item(s, sizes.get(&s.batch).copied().unwrap_or(0)))
        .collect())
}

fn list_item(s: &Summary, staging_bytes: i64) -> crate::batch::BatchListItem {
    let created = chrono::NaiveDateTime::parse_from_str(&s.created_at, "%Y-%m-%d %H:%M:%S%.f UTC")
        .map(|t| t.and_utc());
    crate::batch::BatchListItem {
        batch: s.batch,
        feed: s.feed.clone(),
        target: s.target.clone(),
        mode: s.mode.clone(),
        state: s.state,
        verdict: s.verdict,
        file: s.file.path.clone(),
        rows_total: Some(s.rows.total),
        rows_good: Some(s.rows.good),
        rows_quarantined: Some(s.rows.quarantined),
        created_at: created
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_else(|_| s.created_at.clone()),
        age_seconds: created
            .map(|t| (chrono::Utc::now() - t).num_seconds())
            .unwrap_or_default(),
        staging_bytes,
        staging_lost_at: None,
    }
}
