//! Upsert mode: one `MERGE` of the good rows into the target — rows whose key matches and
//! whose values differ are updated, the others inserted, and a matching row without changes
//! is not rewritten, so a re-run writes nothing. Insert mode is the same statement without
//! its update: a row whose key production has is skipped.
//!
//! The transaction holds `SHARE ROW EXCLUSIVE` on the target, so no other session can insert
//! a key between the join and the insert; that is what makes `MERGE` safe here, and it needs
//! less of the server than `INSERT … ON CONFLICT`, which locks each existing row before
//! updating it. PostgreSQL 15's `MERGE` reports only how many rows it touched; the
//! transaction's own row counts of the target split them into inserted and updated. Where
//! those counts are not kept (`track_counts` off) or `MERGE` is refused (a table with rules),
//! the same rows go through `INSERT … ON CONFLICT (key) DO UPDATE … WHERE (cols) IS DISTINCT
//! FROM (excluded cols)`, which reports both itself.
//!
//! The counts are the plan under the lock: when they differ from the validated plan the
//! transaction rolls back, so no second join against production is needed. The server's
//! foreign key triggers check every row; when one refuses, the rows whose referenced rows
//! were deleted since validation are counted for the message.
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Transaction};

use super::{
    Applied, KeptForUndo, PromoteOptions, bisect, compare_plan, locks, record_approval,
    record_plan_made, stale_references,
};
use crate::batch;
use crate::batch::Loaded;
use crate::db::{ident, ident_list};
use crate::error::{Error, Result};
use crate::feed::Mode;
use crate::layout::ORD_COLUMN;
use crate::plan::{Plan, distinct_expr, key_join};
use crate::timing::Timings;
use crate::validate::sql::foreign_key_violations;

/// For the value columns, `t` the target row and `other` the incoming one: the condition
/// `(c1 IS DISTINCT FROM other.c1) OR …` and the assignments `c1 = other.c1, …`. `None`
/// when the file feeds only the key.
pub(super) fn changes(b: &Loaded, other: &str) -> Option<(String, String)> {
    let values: Vec<_> = b.binding.value_columns().collect();
    if values.is_empty() || b.feed.spec.mode == Mode::Insert {
        return None;
    }
    let changed: Vec<String> = values
        .iter()
        .map(|c| format!("({})", distinct_expr(c, "t", other)))
        .collect();
    let set: Vec<String> = values
        .iter()
        .map(|c| format!("{n} = {other}.{n}", n = ident(&c.target)))
        .collect();
    Some((changed.join(" OR "), set.join(", ")))
}

fn columns(b: &Loaded) -> Vec<&str> {
    b.binding
        .columns
        .iter()
        .map(|c| c.target.as_str())
        .collect()
}

/// Append mode: the good rows whose ordinal lies in [$1, $2], inserted as they are.
pub fn append_statement(b: &Loaded) -> String {
    let cols = columns(b);
    format!(
        "INSERT INTO {target} ({list}) SELECT {list} FROM {rows} WHERE {ord} BETWEEN $1 AND $2",
        target = b.target_sql(),
        list = ident_list(cols.iter().copied(), None),
        rows = b.names.rows,
        ord = ident(ORD_COLUMN),
    )
}

/// The `MERGE` of the good rows whose ordinal lies in [$1, $2].
pub fn merge_statement(b: &Loaded) -> String {
    let cols = columns(b);
    let matched = match changes(b, "r") {
        Some((changed, set)) => format!(" WHEN MATCHED AND ({changed}) THEN UPDATE SET {set}"),
        None => String::new(),
    };
    format!(
        "MERGE INTO {target} AS t \
         USING (SELECT {list} FROM {rows} WHERE {ord} BETWEEN $1 AND $2) AS r ON {on}{matched} \
         WHEN NOT MATCHED THEN INSERT ({list}) VALUES ({values})",
        target = b.target_sql(),
        list = ident_list(cols.iter().copied(), None),
        rows = b.names.rows,
        ord = ident(ORD_COLUMN),
        on = key_join(&b.binding, "t", "r"),
        values = ident_list(cols.iter().copied(), Some("r")),
    )
}

/// The upsert of the good rows whose ordinal lies in [$1, $2] as `INSERT … ON CONFLICT`;
/// returns (inserted, updated).
pub fn statement(b: &Loaded) -> String {
    let cols = columns(b);
    let key: Vec<&str> = b.binding.key_columns().map(|c| c.target.as_str()).collect();
    let on_conflict = match changes(b, "EXCLUDED") {
        None => "DO NOTHING".to_string(),
        Some((changed, set)) => format!("DO UPDATE SET {set} WHERE {changed}"),
    };
    format!(
        "WITH up AS ( \
             INSERT INTO {target} AS t ({cols}) \
             SELECT {cols} FROM {rows} WHERE {ord} BETWEEN $1 AND $2 \
             ON CONFLICT ({key}) {on_conflict} \
             RETURNING (t.xmax = 0) AS inserted) \
         SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up",
        target = b.target_sql(),
        cols = ident_list(cols.iter().copied(), None),
        rows = b.names.rows,
        ord = ident(ORD_COLUMN),
        key = ident_list(key.iter().copied(), None),
    )
}

/// Rows of the target this transaction has inserted and updated so far; a partitioned
/// target's rows are counted in its partitions (`pg_partition_tree` lists nothing for a
/// table that is not partitioned). Its key holds the partition key, so no update moves a
/// row between partitions.
async fn written_so_far(tx: &Transaction<'_>, target: &str) -> Result<(i64, i64)> {
    let row = tx
        .query_one(
            "SELECT coalesce(sum(pg_stat_get_xact_tuples_inserted(relid)), 0)::bigint, \
                    coalesce(sum(pg_stat_get_xact_tuples_updated(relid)), 0)::bigint \
             FROM (SELECT $1::text::regclass AS relid \
                   UNION SELECT relid FROM pg_partition_tree($1::text::regclass)) AS tree",
            &[&target],
        )
        .await
        .map_err(Error::db("counting the rows written"))?;
    Ok((row.get(0), row.get(1)))
}

/// Applies the good rows in `tx`: (inserted, updated).
async fn apply(
    tx: &Transaction<'_>,
    b: &Loaded,
    target: &str,
) -> std::result::Result<(i64, i64), Step> {
    let all: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&i64::MIN, &i64::MAX];
    if b.feed.spec.mode == Mode::Append {
        let append = append_statement(b);
        return match tx.execute(&append, &all).await {
            Ok(inserted) => Ok((inserted as i64, 0)),
            Err(e) => Err(Step::of(e, b.id, append)),
        };
    }
    let before = written_so_far(tx, target).await.map_err(Step::Fail)?;
    let savepoint = |sql: &'static str| async move {
        tx.batch_execute(sql)
            .await
            .map_err(|e| Step::Fail(Error::db(format!("promoting batch {}", b.id))(e)))
    };
    savepoint("SAVEPOINT airlock_merge").await?;
    let merge = merge_statement(b);
    match tx.execute(&merge, &all).await {
        Ok(touched) => {
            let after = written_so_far(tx, target).await.map_err(Step::Fail)?;
            let (inserted, updated) = (after.0 - before.0, after.1 - before.1);
            if inserted + updated == touched as i64 {
                return Ok((inserted, updated));
            }
        }
        Err(e) if e.code() == Some(&SqlState::FEATURE_NOT_SUPPORTED) => {}
        Err(e) => return Err(Step::of(e, b.id, merge)),
    }
    // The counts were not kept, or MERGE is not allowed on this table.
    savepoint("ROLLBACK TO SAVEPOINT airlock_merge").await?;
    let row = tx
        .query_one(&statement(b), &all)
        .await
        .map_err(|e| Step::of(e, b.id, statement(b)))?;
    Ok((row.get(0), row.get(1)))
}

/// A mirror's deletes, in the promotion's transaction after the upsert: the production rows
/// whose key the file does not have (see `plan::absent_from_file`).
async fn delete_absent(tx: &Transaction<'_>, b: &Loaded) -> std::result::Result<i64, Step> {
    let sql = format!(
        "DELETE FROM {target} t WHERE {absent}",
        target = b.target_sql(),
        absent = crate::plan::absent_from_file(&b.binding, &b.names, true),
    );
    match tx.execute(&sql, &[]).await {
        Ok(n) => Ok(n as i64),
        Err(e) if locks::is_retryable(&e) => Err(Step::Retry),
        Err(e) => Err(Step::Fail(Error::db(format!(
            "deleting the rows of batch {}'s target the file does not have",
            b.id
        ))(e))),
    }
}

/// Why applying the rows stopped.
enum Step {
    /// The server refused some rows' data in this statement (which bisection repeats on
    /// ranges of rows: the `MERGE`, which works on partitioned targets too, unless the
    /// table only takes the `ON CONFLICT` form).
    Refused(tokio_postgres::Error, String),
    /// A lock wait timed out: try again later.
    Retry,
    Fail(Error),
}

impl Step {
    /// What an error of the statement promoting batch `id` means.
    fn of(e: tokio_postgres::Error, id: i64, statement: String) -> Self {
        if locks::is_data_error(&e) {
            Step::Refused(e, statement)
        } else if locks::is_retryable(&e) {
            Step::Retry
        } else {
            Step::Fail(Error::db(format!("promoting batch {id}"))(e))
        }
    }
}

pub async fn promote(client: &mut Client, b: &Loaded, opts: &PromoteOptions) -> Result<Applied> {
    let target = b.target_sql();
    let mut attempts = locks::Attempts::new(&target, opts.attempts, opts.lock_timeout);
    let mut timings = Timings::start();
    if super::order::fit_plan_to_key_order(client, b).await? {
        timings.lap("promote: analyze rows whose keys come in no order");
    }
    while attempts.another() {
        // The advisory lock keeps two imports of this table apart; SHARE ROW EXCLUSIVE keeps
        // other writers out between the plan check and the upsert, while readers go on.
        let Some(tx) =
            locks::begin_locked(client, &target, "SHARE ROW EXCLUSIVE", opts.lock_timeout).await?
        else {
            attempts.wait(client).await?;
            continue;
        };
        timings.lap("promote: lock");
        let keep_undo = b.feed.spec.policy.keep_undo;
        if keep_undo && b.feed.spec.mode != Mode::Append {
            super::undo::capture(&tx, b).await?;
            timings.lap("promote: keep undo data");
        }
        let (inserted, updated) = match apply(&tx, b, &target).await {
            Ok(counts) => counts,
            Err(Step::Refused(e, statement)) => {
                drop(tx);
                return Err(refused(client, b, &statement, &e).await);
            }
            Err(Step::Retry) => {
                drop(tx);
                attempts.wait(client).await?;
                continue;
            }
            Err(Step::Fail(e)) => return Err(e),
        };
        let deleted = match b.feed.spec.mode {
            Mode::Mirror => match delete_absent(&tx, b).await {
                Ok(deleted) => deleted,
                Err(Step::Retry) => {
                    drop(tx);
                    attempts.wait(client).await?;
                    continue;
                }
                Err(Step::Refused(e, _)) => {
                    return Err(Error::db(format!(
                        "deleting the rows of batch {}'s target the file does not have",
                        b.id
                    ))(e));
                }
                Err(Step::Fail(e)) => return Err(e),
            },
            _ => 0,
        };
        timings.lap("promote: merge");
        let insert_only = b.feed.spec.mode == Mode::Insert;
        let untouched = b.rows_good - inserted - updated;
        let now = Plan {
            insert: inserted,
            update: updated,
            unchanged: if insert_only { 0 } else { untouched },
            skipped: if insert_only { untouched } else { 0 },
            delete: deleted,
            ..b.plan.clone()
        };
        // Dropping the transaction rolls the upsert back.
        compare_plan(b, &now, opts)?;
        record_plan_made(&tx, b, &now).await?;
        let applied = Applied {
            mode: b.feed.spec.mode.as_str().into(),
            inserted,
            updated,
            unchanged: now.unchanged,
            deleted,
            skipped: now.skipped,
        };
        let kept = match keep_undo {
            true => KeptForUndo::Rows(super::undo::seal(&tx, b).await?),
            false => KeptForUndo::Nothing,
        };
        record_approval(&tx, b, opts, &applied, kept).await?;
        timings.lap("promote: record");
        batch::append_timings(&tx, b.id, &timings).await?;
        tx.commit().await.map_err(Error::db(format!(
            "committing the promotion of batch {}",
            b.id
        )))?;
        return Ok(applied);
    }
    Err(attempts.blocked(b.id, b.feed.target.display_name()))
}

/// The error for rows the server refused: stale references when a foreign key refused them
/// and some referenced rows are gone; otherwise the refused rows, found by bisection and
/// set aside.
async fn refused(client: &mut Client, b: &Loaded, sql: &str, e: &tokio_postgres::Error) -> Error {
    if e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) {
        match foreign_key_violations(client, b.staged()).await {
            Ok(stale) if !stale.is_empty() => return stale_references(b, &stale),
            Ok(_) => {}
            Err(err) => return err,
        }
    }
    bisect::set_aside(client, b, sql, "", e).await
}
