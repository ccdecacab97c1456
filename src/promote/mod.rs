//! Promotion: only good rows move, all at once or not at all, and every promotion leaves an
//! audit record written in the same transaction. Upsert mode runs one `MERGE` (or `INSERT …
//! ON CONFLICT`); swap mode builds the next table and renames it into place in one short
//! transaction.
mod bisect;
pub mod locks;
mod order;
mod swap;
mod undo;
mod upsert;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_postgres::{Client, GenericClient};

use crate::batch::Loaded;
use crate::batch::{self, State, Verdict};
use crate::db::{self, ConnectTarget};
use crate::error::{Error, Result};
use crate::feed::Mode;
use crate::plan::Plan;
use crate::stage;

pub use undo::undo;

#[derive(Debug, Clone)]
pub struct PromoteOptions {
    pub note: Option<String>,
    /// Promote although the verdict is `abort` (needs a note).
    pub override_policy: bool,
    /// Accept a plan that changed since validation, as long as the policy still holds (for
    /// `run`, where nobody reviewed the plan); otherwise such a change refuses promotion.
    pub accept_plan_changes: bool,
    pub lock_timeout: Duration,
    pub attempts: u32,
}

impl Default for PromoteOptions {
    fn default() -> Self {
        Self {
            note: None,
            override_policy: false,
            accept_plan_changes: false,
            lock_timeout: Duration::from_secs(3),
            attempts: 5,
        }
    }
}

/// What promotion did to production.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    pub mode: String,
    pub inserted: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub deleted: i64,
    /// Rows whose key production had, left as they were (insert mode).
    #[serde(default)]
    pub skipped: i64,
}

impl Applied {
    /// What it did, for a person, the counts joined by `sep`: `3 inserted, 2 updated, 1
    /// unchanged` (and deletes for a swap, skipped keys for an insert).
    pub fn describe(&self, sep: &str) -> String {
        let n = |v: i64| crate::format::thousands(v);
        match self.mode.as_str() {
            "insert" => format!(
                "{} inserted{sep}{} skipped (key already in production)",
                n(self.inserted),
                n(self.skipped)
            ),
            mode => {
                let mut said = format!(
                    "{} inserted{sep}{} updated{sep}{} unchanged",
                    n(self.inserted),
                    n(self.updated),
                    n(self.unchanged)
                );
                if matches!(mode, "swap" | "mirror") {
                    said.push_str(&format!("{sep}{} deleted", n(self.deleted)));
                }
                said
            }
        }
    }
}

/// Approves and promotes a validated batch. Opens its own connections so that a lost
/// connection can still be recorded as `promote_failed`.
pub async fn promote(target: &ConnectTarget, id: i64, opts: &PromoteOptions) -> Result<Applied> {
    let mut client = db::connect(target).await?;
    stage::ensure_catalog(&mut client).await?;
    let mut loaded = batch::load(&client, id).await?;
    gate(&Gate::of(&loaded), opts)?;
    if loaded.plan.by_promotion && !opts.accept_plan_changes {
        // A person approves a plan: one a headless run left to the promotion is made now,
        // and checked again under the lock like any other.
        loaded.plan = crate::judge::complete_plan(&client, &loaded).await?;
    }
    if !batch::claim(&client, id).await? {
        return Err(Error::Refused {
            id,
            action: "promoted",
            reason: "another session is working on this batch right now".into(),
        });
    }
    let result = promote_claimed(target, &mut client, &loaded, opts).await;
    batch::release(&client, id).await;
    result
}

async fn promote_claimed(
    target: &ConnectTarget,
    client: &mut Client,
    loaded: &Loaded,
    opts: &PromoteOptions,
) -> Result<Applied> {
    let id = loaded.id;
    // One statement checks and moves the state: an abort that landed between the gate and
    // the claim is not overwritten.
    batch::start_promoting(client, id, loaded.state).await?;

    let result = match loaded.feed.spec.mode {
        Mode::Upsert | Mode::Insert | Mode::Mirror | Mode::Append => {
            upsert::promote(client, loaded, opts).await
        }
        Mode::Swap => swap::promote(client, loaded, opts).await,
    };
    match result {
        Ok(applied) => Ok(applied),
        // The batch went back to `validated` with the refused rows set aside.
        Err(e @ Error::RowsRejected { .. }) => Err(e),
        Err(e) => {
            let next = if matches!(e, Error::Refused { .. } | Error::Blocked { .. }) {
                State::Validated
            } else {
                State::PromoteFailed
            };
            record_failure(target, client, id, next, &e).await;
            Err(e)
        }
    }
}

/// Checks that the batch may be promoted at all; nothing is written.
/// What the gate reads of a batch about to be promoted, on any engine.
pub(crate) struct Gate<'a> {
    pub id: i64,
    pub state: State,
    pub verdict: Option<Verdict>,
    pub breaches: &'a [String],
    pub mode: Mode,
    pub rows_good: i64,
    pub target: String,
}

impl<'a> Gate<'a> {
    fn of(b: &'a Loaded) -> Self {
        Self {
            id: b.id,
            state: b.state,
            verdict: b.verdict,
            breaches: &b.breaches,
            mode: b.feed.spec.mode,
            rows_good: b.rows_good,
            target: b.feed.target.display_name(),
        }
    }
}

/// Whether the batch may be promoted now: its state, its verdict (an abort needs an override
/// with a note), and never an empty replace.
pub(crate) fn gate(b: &Gate<'_>, opts: &PromoteOptions) -> Result<()> {
    let id = b.id;
    match b.state {
        s if s.approvable() => {}
        // Abandoned promotions were turned into promote_failed by `reconcile`.
        State::Promoting => {
            return Err(Error::Refused {
                id,
                action: "promoted",
                reason: format!("another session is promoting into {} right now", b.target),
            });
        }
        other => {
            return Err(Error::BatchState {
                id,
                state: other.to_string(),
                action: "promote",
                expected: "validated (or promote_failed)".into(),
            });
        }
    }
    if b.verdict == Some(Verdict::Abort) {
        let noted = opts.note.as_deref().is_some_and(|n| !n.trim().is_empty());
        if !(opts.override_policy && noted) {
            return Err(Error::Refused {
                id,
                action: "promoted",
                reason: format!(
                    "its verdict is abort ({}); to promote anyway pass --override-policy with --note saying why",
                    b.breaches.join("; ")
                ),
            });
        }
    }
    if matches!(b.mode, Mode::Swap | Mode::Mirror) && b.rows_good == 0 {
        return Err(Error::Refused {
            id,
            action: "promoted",
            reason: format!(
                "it has no good rows, and a {} would leave {} empty; an empty file never replaces a table",
                b.mode.as_str(),
                b.target
            ),
        });
    }
    Ok(())
}

/// Records a failed promotion, on a new connection if the old one was lost.
async fn record_failure(target: &ConnectTarget, client: &Client, id: i64, next: State, e: &Error) {
    let message = e.to_string();
    if batch::mark_failed(client, id, next, &message).await.is_ok() {
        return;
    }
    if let Ok(fresh) = db::connect(target).await {
        let _ = batch::mark_failed(&fresh, id, next, &message).await;
    }
}

/// What a promotion keeps so that `undo` can take it back.
enum KeptForUndo {
    /// The table a swap replaced.
    Table,
    /// The rows an upsert, insert, mirror or append changed (see `undo.rs`).
    Rows(undo::Kept),
    /// Nothing (`keep_undo = false`).
    Nothing,
}

/// Writes the approval into the audit log and the batch row, inside the promotion's
/// transaction.
async fn record_approval(
    tx: &impl GenericClient,
    b: &Loaded,
    opts: &PromoteOptions,
    applied: &Applied,
    kept: KeptForUndo,
) -> Result<()> {
    let mut counts = serde_json::to_value(applied).unwrap_or_default();
    if opts.override_policy && b.verdict == Some(Verdict::Abort) {
        counts["override_policy"] = serde_json::Value::Bool(true);
        counts["breaches"] = serde_json::to_value(&b.breaches).unwrap_or_default();
    }
    let applied = serde_json::to_value(applied).unwrap_or_default();
    let (previous, undo) = match kept {
        KeptForUndo::Table => (true, None),
        KeptForUndo::Rows(rows) => (false, serde_json::to_value(rows).ok()),
        KeptForUndo::Nothing => (false, None),
    };
    batch::record_promoted(tx, b.id, &applied, previous, undo.as_ref()).await?;
    batch::record_decision(tx, b.id, "approve", opts.note.as_deref(), Some(&counts)).await
}

/// Records the plan a promotion made for a batch whose run left it to the promotion
/// (`Plan::by_promotion`), in the promotion's transaction.
async fn record_plan_made(tx: &impl GenericClient, b: &Loaded, plan: &Plan) -> Result<()> {
    if !b.plan.by_promotion {
        return Ok(());
    }
    let plan = Plan {
        by_promotion: true,
        ..plan.clone()
    };
    batch::record_plan(tx, b.id, &serde_json::to_value(&plan).unwrap_or_default()).await
}

/// The plan again, inside the promotion's transaction and under its locks. A change refuses
/// promotion unless `accept_plan_changes`; then the policy is judged on the new plan.
async fn recheck_plan(tx: &impl GenericClient, b: &Loaded, opts: &PromoteOptions) -> Result<Plan> {
    let now = crate::plan::compute(tx, b.staged(), false).await?;
    compare_plan(b, &now, opts)?;
    let stale = crate::validate::sql::foreign_key_violations(tx, b.staged()).await?;
    if !stale.is_empty() {
        return Err(stale_references(b, &stale));
    }
    Ok(now)
}

/// Refuses a plan that differs from the validated one, unless `accept_plan_changes`; then a
/// swap's policy is judged again on the plan it now has.
fn compare_plan(b: &Loaded, now: &Plan, opts: &PromoteOptions) -> Result<()> {
    let changes = b.plan.differences(now);
    if !changes.is_empty() && !opts.accept_plan_changes {
        return Err(Error::Refused {
            id: b.id,
            action: "promoted",
            reason: format!(
                "production changed since validation ({}); check the file again and review the new plan",
                changes.join(", ")
            ),
        });
    }
    let deletes = matches!(b.feed.spec.mode, Mode::Swap | Mode::Mirror);
    if !changes.is_empty() && deletes && !opts.override_policy {
        let rows = crate::validate::policy::RowCounts {
            total: b.rows_total,
            good: b.rows_good,
            ..Default::default()
        };
        let (verdict, breaches) = crate::validate::policy::judge(
            &b.feed.spec.policy,
            b.feed.spec.mode,
            &rows,
            now,
            false,
        );
        if verdict == crate::validate::policy::Verdict::Abort {
            return Err(Error::Refused {
                id: b.id,
                action: "promoted",
                reason: breaches.join("; "),
            });
        }
    }
    Ok(())
}

/// Good rows that reference rows deleted since validation: the file must be checked again.
fn stale_references(b: &Loaded, stale: &[String]) -> Error {
    Error::Refused {
        id: b.id,
        action: "promoted",
        reason: format!(
            "production changed since validation: {}; check the file again",
            stale.join("; ")
        ),
    }
}
