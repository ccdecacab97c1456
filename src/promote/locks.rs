//! Locking for promotion: a bounded `lock_timeout`, an advisory lock per target so two
//! imports of one table never interleave, a bounded number of attempts with a growing wait
//! between them, and the names of whoever holds us up.
use std::time::Duration;

use tokio_postgres::{Client, GenericClient, Transaction};

use crate::error::{Error, Result};

/// The attempts at a locked transaction on one target:
///
/// ```text
/// let mut attempts = Attempts::new(target, opts.attempts, opts.lock_timeout);
/// while attempts.another() {
///     let Some(tx) = begin_locked(…).await? else { attempts.wait(client).await?; continue };
///     …  // a lock wait that timed out inside: drop(tx); attempts.wait(client).await?; continue
/// }
/// Err(attempts.blocked(id, shown))
/// ```
pub struct Attempts<'a> {
    target: &'a str,
    made: u32,
    max: u32,
    timeout: Duration,
    blockers: String,
}

impl<'a> Attempts<'a> {
    pub fn new(target: &'a str, max: u32, timeout: Duration) -> Self {
        Self {
            target,
            made: 0,
            max: max.max(1),
            timeout,
            blockers: String::new(),
        }
    }

    /// Whether another attempt is allowed; counts it.
    pub fn another(&mut self) -> bool {
        self.made += 1;
        self.made <= self.max
    }

    /// The lock stayed taken: notes who holds it, then waits 1 s, 2 s, 4 s, ... (at most
    /// 5 s) before the next attempt; after the last one, not at all.
    pub async fn wait(&mut self, client: &impl GenericClient) -> Result<()> {
        self.blockers = blockers(client, self.target).await?;
        if self.made < self.max {
            let ms = (500u64 << self.made.min(4)).min(5000);
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        Ok(())
    }

    /// The error once every attempt found the lock taken: batch `id`, target `shown`.
    pub fn blocked(self, id: i64, shown: String) -> Error {
        Error::Blocked {
            id,
            target: shown,
            attempts: self.max,
            timeout_ms: self.timeout.as_millis() as u64,
            blockers: self.blockers,
        }
    }
}

/// The advisory lock of a target, keyed by its qualified name (its OID changes with a swap).
const ADVISORY_KEY: &str = "hashtextextended('airlock.target:' || $1::text, 0)";

pub async fn set_lock_timeout(client: &impl GenericClient, timeout: Duration) -> Result<()> {
    client
        .batch_execute(&format!(
            "SET LOCAL lock_timeout = '{}ms'",
            timeout.as_millis().max(1)
        ))
        .await
        .map_err(Error::db("setting lock_timeout"))
}

/// Takes the target's advisory lock for the rest of the transaction (waits under lock_timeout).
pub async fn lock_target(
    client: &impl GenericClient,
    target: &str,
) -> std::result::Result<(), tokio_postgres::Error> {
    client
        .execute(
            &format!("SELECT pg_advisory_xact_lock({ADVISORY_KEY})"),
            &[&target],
        )
        .await
        .map(|_| ())
}

/// Starts a transaction holding the target's advisory lock and `LOCK TABLE … IN mode MODE`,
/// each wait bounded by `timeout`. Deferred constraints are checked at once, so a row they
/// refuse fails its statement (and is found by bisection) rather than the commit. `None` when a lock stayed taken: that transaction is gone,
/// and `blockers` says who holds the lock.
pub async fn begin_locked<'a>(
    client: &'a mut Client,
    target: &str,
    mode: &str,
    timeout: Duration,
) -> Result<Option<Transaction<'a>>> {
    let tx = client
        .transaction()
        .await
        .map_err(Error::db("starting a transaction"))?;
    set_lock_timeout(&tx, timeout).await?;
    tx.batch_execute("SET CONSTRAINTS ALL IMMEDIATE")
        .await
        .map_err(Error::db("checking constraints immediately"))?;
    let locked = match lock_target(&tx, target).await {
        Ok(()) => {
            tx.batch_execute(&format!("LOCK TABLE {target} IN {mode} MODE"))
                .await
        }
        Err(e) => Err(e),
    };
    match locked {
        Ok(()) => Ok(Some(tx)),
        Err(e) if is_retryable(&e) => Ok(None),
        Err(e) => Err(Error::db(format!("locking {target}"))(e)),
    }
}

/// Sessions holding a lock on the target table or its advisory lock, described for a person:
/// `pid 4242 (alice, psql, idle in transaction for 73 s: UPDATE products SET …)`.
pub async fn blockers(client: &impl GenericClient, target: &str) -> Result<String> {
    let rows = client
        .query(
            &format!(
                "SELECT a.pid, coalesce(a.usename::text, '?'), coalesce(a.application_name, ''), \
                        coalesce(a.state, '?'), \
                        coalesce(extract(epoch FROM now() - a.xact_start)::bigint, 0), \
                        left(regexp_replace(coalesce(a.query, ''), '\\s+', ' ', 'g'), 80) \
                 FROM pg_stat_activity a \
                 WHERE a.pid <> pg_backend_pid() AND a.pid IN ( \
                     SELECT l.pid FROM pg_locks l WHERE l.granted \
                     AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND ( \
                        (l.locktype = 'relation' AND l.relation = to_regclass($1)) \
                        OR (l.locktype = 'advisory' AND l.objsubid = 1 \
                            AND ((l.classid::bigint << 32) | l.objid::bigint) = {ADVISORY_KEY}))) \
                 ORDER BY a.xact_start"
            ),
            &[&target],
        )
        .await
        .map_err(Error::db("looking for blocking sessions"))?;
    if rows.is_empty() {
        return Ok("none found any more (they may have finished)".into());
    }
    Ok(rows
        .iter()
        .map(|r| {
            format!(
                "pid {} ({}, {}, {} for {} s: {})",
                r.get::<_, i32>(0),
                r.get::<_, String>(1),
                r.get::<_, String>(2),
                r.get::<_, String>(3),
                r.get::<_, i64>(4),
                r.get::<_, String>(5)
            )
        })
        .collect::<Vec<_>>()
        .join("; "))
}

/// Whether an error means "try again later": a lock wait that timed out, a deadlock, or a
/// serialization failure.
pub fn is_retryable(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code().map(|c| c.code()),
        Some("55P03") | Some("40P01") | Some("40001")
    )
}

/// Whether the server refused the data itself (bad value, constraint, trigger): the rows at
/// fault can be found and set aside.
pub fn is_data_error(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        let c = c.code();
        c.starts_with("22") || c.starts_with("23") || c == "P0001"
    })
}
