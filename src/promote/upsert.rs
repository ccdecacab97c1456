//! Upsert mode: one `INSERT … SELECT … ON CONFLICT (key) DO UPDATE … WHERE (cols) IS
//! DISTINCT FROM (excluded cols)` of the good rows, so a re-run writes nothing.
//!
//! The statement's own counts are the plan under the lock: when they differ from the
//! validated plan the transaction rolls back, so no second join against production is
//! needed. The server's foreign key triggers check every row; when one refuses, the rows
//! whose referenced rows were deleted since validation are counted for the message.
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use super::{
    Applied, Loaded, PromoteOptions, bisect, compare_plan, locks, record_approval,
    record_plan_made, stale_references,
};
use crate::db::{ident, ident_list};
use crate::error::{Error, Result};
use crate::plan::{Plan, distinct_expr};
use crate::stage::ORD_COLUMN;
use crate::validate::sql::foreign_key_violations;

/// The upsert of the good rows whose ordinal lies in [$1, $2]; returns (inserted, updated).
pub fn statement(b: &Loaded) -> String {
    let cols: Vec<&str> = b
        .binding
        .columns
        .iter()
        .map(|c| c.target.as_str())
        .collect();
    let key: Vec<&str> = b.binding.key_columns().map(|c| c.target.as_str()).collect();
    let values: Vec<_> = b.binding.value_columns().collect();
    let on_conflict = if values.is_empty() {
        "DO NOTHING".to_string()
    } else {
        let set: Vec<String> = values
            .iter()
            .map(|c| format!("{n} = EXCLUDED.{n}", n = ident(&c.target)))
            .collect();
        let changed: Vec<String> = values
            .iter()
            .map(|c| format!("({})", distinct_expr(c, "t", "EXCLUDED")))
            .collect();
        format!(
            "DO UPDATE SET {} WHERE {}",
            set.join(", "),
            changed.join(" OR ")
        )
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

pub async fn promote(client: &mut Client, b: &Loaded, opts: &PromoteOptions) -> Result<Applied> {
    let target = b.target_sql();
    let sql = statement(b);
    let mut attempts = locks::Attempts::new(&target, opts.attempts, opts.lock_timeout);
    while attempts.another() {
        // The advisory lock keeps two imports of this table apart; SHARE ROW EXCLUSIVE keeps
        // other writers out between the plan check and the upsert, while readers go on.
        let Some(tx) =
            locks::begin_locked(client, &target, "SHARE ROW EXCLUSIVE", opts.lock_timeout).await?
        else {
            attempts.wait(client).await?;
            continue;
        };
        let row = match tx.query_one(&sql, &[&i64::MIN, &i64::MAX]).await {
            Ok(row) => row,
            Err(e) if locks::is_data_error(&e) => {
                drop(tx);
                return Err(refused(client, b, &sql, &e).await);
            }
            Err(e) if locks::is_retryable(&e) => {
                drop(tx);
                attempts.wait(client).await?;
                continue;
            }
            Err(e) => return Err(Error::db(format!("promoting batch {}", b.id))(e)),
        };
        let (inserted, updated): (i64, i64) = (row.get(0), row.get(1));
        let now = Plan {
            insert: inserted,
            update: updated,
            unchanged: b.rows_good - inserted - updated,
            ..b.plan.clone()
        };
        // Dropping the transaction rolls the upsert back.
        compare_plan(b, &now, opts)?;
        record_plan_made(&tx, b, &now).await?;
        let applied = Applied {
            mode: "upsert".into(),
            inserted,
            updated,
            unchanged: now.unchanged,
            deleted: 0,
        };
        record_approval(&tx, b, opts, &applied, None).await?;
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
        match foreign_key_violations(client, &b.feed, &b.binding, &b.names).await {
            Ok(stale) if !stale.is_empty() => return stale_references(b, &stale),
            Ok(_) => {}
            Err(err) => return err,
        }
    }
    bisect::set_aside(client, b, sql, "", e).await
}
