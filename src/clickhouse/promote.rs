//! Promotion on ClickHouse, where there are no transactions: the next production is built
//! beside it as a table of its own (the target's structure and engine), and one
//! `EXCHANGE TABLES` — atomic in an Atomic database — makes it production. That exchange is
//! the commit point for every mode: readers see the old table or the new one, never a part.
//! The replaced table is kept in staging for `undo`, which exchanges it back.
//!
//! Nothing locks a ClickHouse table against other writers. A write that lands on production
//! while the next table is built would be lost by the exchange, so the target's data parts
//! are compared before the build and after the exchange: if they moved, the exchange is
//! undone at once (production keeps the write) and the promotion is refused, to be tried
//! again. A crash at any moment is reconciled from which table holds which data (their UUIDs).
use std::path::Path;

use super::batches::{self, ChBatch, Promotion};
use super::catalog;
use super::client::{ClickHouse, ident, quote};
use super::lease::Lease;
use crate::batch::State;
use crate::error::{Error, Result};
use crate::feed::{self, Feed, Mode};
use crate::layout::{ORD_COLUMN, STAGE_SCHEMA, StageNames};
use crate::promote::{Applied, Gate, PromoteOptions, gate};
use crate::report::DecisionRecord;
use crate::staged::Staged;
use crate::validate::binding::{self, Binding};

/// A batch read back with its feed and binding, ready to promote.
pub struct Ready {
    pub(crate) batch: ChBatch,
    pub(crate) feed: Feed,
    pub(crate) binding: Binding,
    pub(crate) names: StageNames,
}

impl Ready {
    pub(crate) fn staged(&self) -> Staged<'_> {
        Staged::new(&self.feed, &self.binding, &self.names)
    }
}

pub async fn ready(ch: &ClickHouse, id: i64) -> Result<Ready> {
    let batch = batches::load(ch, id).await?;
    let path = Path::new(&batch.summary.file.spec).to_path_buf();
    let spec = feed::parse_stored(&path, &batch.spec)?;
    let feed = feed::resolve(ch, &path, spec, batch.spec.clone()).await?;
    let file = Path::new(&batch.summary.file.path);
    let binding = binding::bind(&feed, file, Some(&batch.header), None)?;
    Ok(Ready {
        batch,
        feed,
        binding,
        names: StageNames::new(id),
    })
}

/// The next table and the table a promotion replaced, by batch: `batch_N_next` while it is
/// built, `batch_N_previous` once it holds the replaced production.
fn next_table(id: i64) -> String {
    format!(
        "{}.{}",
        ident(STAGE_SCHEMA),
        ident(&format!("batch_{id}_next"))
    )
}

fn previous_table(id: i64) -> String {
    format!(
        "{}.{}",
        ident(STAGE_SCHEMA),
        ident(&format!("batch_{id}_previous"))
    )
}

/// The active data parts of a table, sorted: any insert, mutation or merge changes them.
async fn parts(ch: &ClickHouse, database: &str, table: &str) -> Result<Vec<String>> {
    let rows = ch
        .rows(
            &format!(
                "SELECT name FROM system.parts WHERE database = {} AND table = {} AND active \
                 ORDER BY name",
                quote(database),
                quote(table)
            ),
            &format!("reading the data parts of {database}.{table}"),
        )
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect())
}

async fn uuid(ch: &ClickHouse, database: &str, table: &str) -> Result<Option<String>> {
    ch.value(
        &format!(
            "SELECT toString(uuid) FROM system.tables WHERE database = {} AND name = {}",
            quote(database),
            quote(table)
        ),
        &format!("reading the identity of {database}.{table}"),
    )
    .await
}

/// A promotion's lease: three times the lock timeout (`--lock-timeout`).
fn lease_length(opts: &PromoteOptions) -> i64 {
    (opts.lock_timeout.as_millis() as i64 * 3).max(300)
}

/// Approves and promotes a validated batch.
pub async fn promote(ch: &ClickHouse, id: i64, opts: &PromoteOptions) -> Result<Applied> {
    batches::ensure_catalog(ch).await?;
    reconcile(ch).await?;
    let mut r = ready(ch, id).await?;
    let s = &r.batch.summary;
    gate(
        &Gate {
            id,
            state: s.state,
            verdict: s.verdict,
            breaches: &s.breaches,
            mode: r.feed.spec.mode,
            rows_good: s.rows.good,
            target: s.target.clone(),
        },
        opts,
    )?;
    let table = catalog::describe(ch, &r.feed.target.display_name()).await?;
    if let Some(reason) = table.exchange_refused() {
        return Err(refused(id, reason));
    }
    // Two sessions that read the batch as validated at once: one goes on.
    let busy = || {
        refused(
            id,
            format!(
                "another session is promoting into {} right now",
                r.feed.target.display_name()
            ),
        )
    };
    if !batches::claim(ch, "promote", id, r.batch.version, lease_length(opts)).await? {
        return Err(busy());
    }
    // A claim taken over from a session that ended: the batch must be as it was read.
    if batches::load(ch, id).await?.version != r.batch.version {
        return Err(busy());
    }
    let lease = Lease::take(ch, id, lease_length(opts)).await?;
    let result = attempts(ch, &mut r, (&table.database, &table.name), opts).await;
    lease.release().await;
    result
}

/// Promotes, trying again while production moves under the build.
async fn attempts(
    ch: &ClickHouse,
    r: &mut Ready,
    target: (&str, &str),
    opts: &PromoteOptions,
) -> Result<Applied> {
    let id = r.batch.summary.batch;
    let mut last = None;
    for _ in 0..opts.attempts.max(1) {
        match attempt(ch, r, target, opts).await {
            Ok(applied) => return Ok(applied),
            Err(Attempt::Moved(why)) => last = Some(why),
            Err(Attempt::Failed(e)) => return Err(e),
        }
        tokio::time::sleep(opts.lock_timeout / 4).await;
    }
    Err(refused(
        id,
        format!(
            "{} kept changing while the next table was built ({}); nothing changed, try again",
            r.feed.target.display_name(),
            last.unwrap_or_default()
        ),
    ))
}

fn refused(id: i64, reason: String) -> Error {
    Error::Refused {
        id,
        action: "promoted",
        reason,
    }
}

enum Attempt {
    /// Production moved under the promotion; nothing changed.
    Moved(String),
    Failed(Error),
}

impl From<Error> for Attempt {
    fn from(e: Error) -> Self {
        Attempt::Failed(e)
    }
}

async fn attempt(
    ch: &ClickHouse,
    r: &mut Ready,
    (database, name): (&str, &str),
    opts: &PromoteOptions,
) -> std::result::Result<Applied, Attempt> {
    let id = r.batch.summary.batch;
    let target = r.feed.target.sql_name();
    let before = parts(ch, database, name).await?;
    // The plan against production as it is now: a changed plan needs `run`'s consent.
    let plan = super::check::plan(ch, r.staged()).await?;
    let planned = &r.batch.summary.plan;
    let counts = |p: &crate::plan::Plan| (p.insert, p.update, p.unchanged, p.delete, p.skipped);
    if counts(&plan) != counts(planned) && !opts.accept_plan_changes {
        return Err(Attempt::Failed(refused(
            id,
            format!(
                "production changed since the plan was made (it was {}, it is now {}); check the file again",
                planned.describe(&r.batch.summary.mode, false).0,
                plan.describe(&r.batch.summary.mode, false).0
            ),
        )));
    }
    let next = next_table(id);
    build_next(ch, r, &next).await?;
    let next_uuid = uuid(ch, STAGE_SCHEMA, &format!("batch_{id}_next"))
        .await?
        .unwrap_or_default();
    let replaced_uuid = uuid(ch, database, name).await?.unwrap_or_default();
    r.batch.summary.state = State::Promoting;
    r.batch.promotion = Some(Promotion {
        next_uuid,
        replaced_uuid,
        parts_before: before.clone(),
        parts_after: Vec::new(),
    });
    batches::record(ch, &r.batch).await?;
    let context = format!("promoting batch {id}");
    if parts(ch, database, name).await? != before {
        abandon(ch, r, &next).await?;
        return Err(Attempt::Moved(
            "written to while the next table was built".into(),
        ));
    }
    ch.execute(&format!("EXCHANGE TABLES {target} AND {next}"), &context)
        .await?;
    // The replaced production is now `next`: it must hold what production held when the
    // build began, or a write landed in between and would be lost.
    if parts(ch, STAGE_SCHEMA, &format!("batch_{id}_next")).await? != before {
        ch.execute(&format!("EXCHANGE TABLES {target} AND {next}"), &context)
            .await?;
        abandon(ch, r, &next).await?;
        return Err(Attempt::Moved("written to during the exchange".into()));
    }
    ch.execute(
        &format!("RENAME TABLE {next} TO {}", previous_table(id)),
        &context,
    )
    .await?;
    let applied = Applied {
        mode: r.feed.spec.mode.as_str().to_string(),
        inserted: plan.insert,
        updated: plan.update,
        unchanged: plan.unchanged,
        deleted: plan.delete,
        skipped: plan.skipped,
    };
    let after = parts(ch, database, name).await?;
    if let Some(p) = r.batch.promotion.as_mut() {
        p.parts_after = after;
    }
    let s = &mut r.batch.summary;
    s.state = State::Promoted;
    s.plan = plan;
    s.applied = serde_json::to_value(&applied).ok();
    s.previous_table = Some(format!("{STAGE_SCHEMA}.batch_{id}_previous"));
    s.kept_for_undo = Some(format!(
        "{STAGE_SCHEMA}.batch_{id}_previous (the table this promotion replaced)"
    ));
    s.decisions.push(decision(
        ch,
        "approve",
        opts.note.clone(),
        serde_json::to_value(&applied).ok(),
    ));
    batches::record(ch, &r.batch).await?;
    Ok(applied)
}

/// An entry of the batch's audit trail, by the connection's user and the OS user.
pub(super) fn decision(
    ch: &ClickHouse,
    what: &str,
    note: Option<String>,
    counts: Option<serde_json::Value>,
) -> DecisionRecord {
    DecisionRecord {
        decision: what.into(),
        db_role: ch.url().user.clone(),
        os_user: crate::batch::os_user(),
        decided_at: chrono::Utc::now()
            .format("%Y-%m-%d %H:%M:%S UTC")
            .to_string(),
        note,
        counts,
    }
}

/// Drops the next table of an attempt that did not exchange, and puts the batch back.
async fn abandon(ch: &ClickHouse, r: &mut Ready, next: &str) -> Result<()> {
    ch.execute(
        &format!("DROP TABLE IF EXISTS {next} SYNC"),
        "dropping an unused next table",
    )
    .await?;
    r.batch.summary.state = State::Validated;
    r.batch.promotion = None;
    batches::record(ch, &r.batch).await
}

/// Builds the next production in `next`: the target's structure and engine, filled as the
/// mode says from production and the good rows. Columns the file does not feed keep
/// production's values on updated rows and take their defaults on new ones.
async fn build_next(ch: &ClickHouse, r: &Ready, next: &str) -> Result<()> {
    let id = r.batch.summary.batch;
    let context = format!("building the next table of batch {id}");
    let target = r.feed.target.sql_name();
    let rows = &r.names.rows;
    ch.execute(&format!("DROP TABLE IF EXISTS {next} SYNC"), &context)
        .await?;
    ch.execute(&format!("CREATE TABLE {next} AS {target}"), &context)
        .await?;
    let key: Vec<String> = r.binding.key_columns().map(|c| ident(&c.target)).collect();
    let tuple = |alias: &str| {
        let cols: Vec<String> = key.iter().map(|k| format!("{alias}{k}")).collect();
        format!("({})", cols.join(", "))
    };
    let fed: Vec<String> = r.binding.columns.iter().map(|c| ident(&c.target)).collect();
    let settable: Vec<String> = r
        .feed
        .target
        .columns
        .iter()
        .filter(|c| !c.generated)
        .map(|c| ident(&c.name))
        .collect();
    let kept_from_production: Vec<String> = settable
        .iter()
        .map(|c| match fed.contains(c) {
            true => format!("r.{c}"),
            false => format!("t.{c}"),
        })
        .collect();
    let in_file = format!("{} IN (SELECT {} FROM {rows})", tuple(""), key.join(", "));
    let in_production = format!("{} IN (SELECT {} FROM {target})", tuple(""), key.join(", "));
    let fed_list = fed.join(", ");
    let ordered = format!("ORDER BY {}", ident(ORD_COLUMN));
    let production_without_file =
        format!("INSERT INTO {next} SELECT * FROM {target} WHERE NOT {in_file}");
    let all_production = format!("INSERT INTO {next} SELECT * FROM {target}");
    let new_rows = format!(
        "INSERT INTO {next} ({fed_list}) SELECT {fed_list} FROM {rows} WHERE NOT {in_production} {ordered}"
    );
    let all_rows =
        format!("INSERT INTO {next} ({fed_list}) SELECT {fed_list} FROM {rows} {ordered}");
    let join: Vec<String> = key.iter().map(|k| format!("r.{k} = t.{k}")).collect();
    let updated_rows = format!(
        "INSERT INTO {next} ({}) SELECT {} FROM {rows} AS r JOIN {target} AS t ON {} \
         SETTINGS join_use_nulls = 0",
        settable.join(", "),
        kept_from_production.join(", "),
        join.join(" AND ")
    );
    let statements = match (r.feed.spec.mode, key.is_empty()) {
        (Mode::Swap, _) => vec![all_rows],
        (Mode::Append, _) | (_, true) => vec![all_production, all_rows],
        (Mode::Upsert, false) => vec![production_without_file, updated_rows, new_rows],
        (Mode::Insert, false) => vec![all_production, new_rows],
        (Mode::Mirror, false) => vec![updated_rows, new_rows],
    };
    for sql in statements {
        ch.execute(&sql, &context).await?;
    }
    Ok(())
}

/// Puts every batch a crash left at work in the state its tables show. A load that stopped
/// failed. A promotion is promoted when production is the table built for it (the exchange
/// happened), validated again otherwise (production untouched; the unused next table is
/// dropped). Batches whose process still holds its lease are left to it.
pub async fn reconcile(ch: &ClickHouse) -> Result<()> {
    for id in batches::at_work(ch).await? {
        // Another process is loading or promoting it right now.
        if batches::lease(ch, id)
            .await?
            .is_some_and(|until| until > batches::now_ms())
        {
            continue;
        }
        let mut batch = batches::load(ch, id).await?;
        let s = batch.summary.clone();
        if s.state == State::Loading {
            batch.summary.state = State::LoadFailed;
            batch.summary.error = Some("the load stopped: its process is gone".into());
            batches::record(ch, &batch).await?;
            continue;
        }
        let Some(promotion) = batch.promotion.clone() else {
            continue;
        };
        let (database, name) = s.target.split_once('.').unwrap_or(("default", &s.target));
        let production = uuid(ch, database, name).await?;
        let next = next_table(id);
        let exchanged = production.as_deref() == Some(promotion.next_uuid.as_str());
        let replaced_at = format!("batch_{id}_next");
        let unrenamed = uuid(ch, STAGE_SCHEMA, &replaced_at).await?.is_some();
        // Exchanged, but a write reached the replaced production during the exchange: it
        // would be lost, so the exchange is undone, as the promotion itself would have.
        if exchanged
            && unrenamed
            && parts(ch, STAGE_SCHEMA, &replaced_at).await? != promotion.parts_before
        {
            ch.execute(
                &format!(
                    "EXCHANGE TABLES {}.{} AND {next}",
                    ident(database),
                    ident(name)
                ),
                "reconciling a promotion that a write overtook",
            )
            .await?;
        }
        let exchanged = exchanged
            && uuid(ch, database, name).await?.as_deref() == Some(promotion.next_uuid.as_str());
        if exchanged {
            // The replaced production is in `next`, or already renamed.
            if unrenamed {
                ch.execute(
                    &format!("RENAME TABLE {next} TO {}", previous_table(id)),
                    "reconciling a promotion that stopped after its exchange",
                )
                .await?;
            }
            let after = parts(ch, database, name).await?;
            batch.summary.state = State::Promoted;
            batch.summary.previous_table = Some(format!("{STAGE_SCHEMA}.batch_{id}_previous"));
            batch.summary.applied = serde_json::to_value(Applied {
                mode: s.mode.clone(),
                inserted: s.plan.insert,
                updated: s.plan.update,
                unchanged: s.plan.unchanged,
                deleted: s.plan.delete,
                skipped: s.plan.skipped,
            })
            .ok();
            batch.promotion = Some(Promotion {
                parts_after: after,
                ..promotion
            });
        } else {
            ch.execute(
                &format!("DROP TABLE IF EXISTS {next} SYNC"),
                "reconciling a promotion that stopped before its exchange",
            )
            .await?;
            batch.summary.state = State::Validated;
            batch.promotion = None;
        }
        batches::record(ch, &batch).await?;
    }
    Ok(())
}

/// How long an undo's claim keeps another session out (an undo holds no lease: it is two
/// statements, and production's data parts guard it besides).
const UNDO_CLAIM_MS: i64 = 9_000;

/// Puts back the table a promotion replaced, when nothing has written to production since.
pub async fn undo(ch: &ClickHouse, id: i64) -> Result<()> {
    batches::ensure_catalog(ch).await?;
    reconcile(ch).await?;
    let mut batch = batches::load(ch, id).await?;
    let refuse = |reason: String| Error::Refused {
        id,
        action: "undone",
        reason,
    };
    if batch.summary.state != State::Promoted {
        return Err(Error::BatchState {
            id,
            state: batch.summary.state.to_string(),
            action: "undo",
            expected: "promoted".into(),
        });
    }
    let Some(promotion) = batch.promotion.clone() else {
        return Err(refuse("it kept nothing to undo with".into()));
    };
    let target = &batch.summary.target;
    let (database, name) = target.split_once('.').unwrap_or(("default", target));
    let later = batches::list(ch).await?.into_iter().any(|s| {
        s.batch > id && s.target == *target && matches!(s.state, State::Promoted | State::Promoting)
    });
    if later {
        return Err(refuse(format!(
            "a later batch was promoted into {target}; undo that one first"
        )));
    }
    if parts(ch, database, name).await? != promotion.parts_after {
        return Err(refuse(format!(
            "{target} was written to since the promotion; putting the old table back would lose that"
        )));
    }
    if !batches::claim(ch, "undo", id, batch.version, UNDO_CLAIM_MS).await? {
        return Err(refuse("another session is undoing it right now".into()));
    }
    let previous = previous_table(id);
    let context = format!("undoing batch {id}");
    let target_sql = format!("{}.{}", ident(database), ident(name));
    ch.execute(
        &format!("EXCHANGE TABLES {target_sql} AND {previous}"),
        &context,
    )
    .await?;
    ch.execute(&format!("DROP TABLE {previous} SYNC"), &context)
        .await?;
    batch.summary.state = State::Undone;
    batch.summary.kept_for_undo = None;
    batch.summary.previous_table = None;
    batch.promotion = None;
    batch
        .summary
        .decisions
        .push(decision(ch, "undo", None, None));
    batches::record(ch, &batch).await
}
