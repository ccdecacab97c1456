//! Undo: every promotion can be taken back exactly while nothing it wrote has changed since.
//!
//! A swap keeps the table it replaced (see `swap.rs`). An upsert, insert or mirror keeps, in
//! its own transaction and before it writes, what it is about to change in
//! `airlock_stage.batch_N_undo`: the keys of the rows it inserts (`__undo = 'i'`) and the
//! rows it updates or deletes as they are (`u`, `d`) — one join of the good rows with the
//! target, the same join its `MERGE` makes. An append keeps nothing but the transaction id
//! its rows carry. The batch records that id (`xmin`) as `undo.xids`: a row that still
//! carries it is exactly as the promotion left it, since any later write makes a new row
//! version with another `xmin`. Undo therefore checks every row it would touch against the
//! id, refuses naming the rows that changed, and otherwise deletes what was inserted, puts
//! back the before-images and re-inserts what was deleted, in one transaction with an
//! audit row.
use serde::{Deserialize, Serialize};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Transaction};

use super::{Applied, PromoteOptions, locks};
use crate::batch::Loaded;
use crate::batch::{self, State};
use crate::db::{self, ConnectTarget, ident, ident_list};
use crate::error::{Error, Result};
use crate::feed::Mode;
use crate::plan::key_join;

/// The column of the undo table that says what the promotion did to the row.
const KIND: &str = "__undo";

/// Row versions older than this many transactions are not compared by `xmin`: past 2^31 an
/// id can name a newer transaction.
const MAX_AGE: i64 = 1 << 30;

/// What a promotion kept for undo besides the undo table (`airlock.batches.undo`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Kept {
    /// The transaction ids (`xmin`) of the rows the promotion wrote.
    pub xids: Vec<String>,
    /// The promotion's own transaction, 64 bits: how old the ids are.
    pub xact: String,
}

/// The first column of the merge key: an upsert, insert and mirror always have one.
fn first_key_of(b: &Loaded) -> Result<&str> {
    b.feed
        .key
        .first()
        .map(String::as_str)
        .ok_or(Error::Refused {
            id: b.id,
            action: "undone",
            reason: "its feed has no key to find its rows by".into(),
        })
}

/// The target's columns in the undo table's order.
fn target_columns(b: &Loaded) -> Vec<&str> {
    b.feed
        .target
        .columns
        .iter()
        .map(|c| c.name.as_str())
        .collect()
}

/// Keeps, before the promotion writes, the keys it will insert and the rows it will update
/// or delete as they are. Not for append, whose rows are found by their `xmin`.
pub async fn capture(tx: &Transaction<'_>, b: &Loaded) -> Result<()> {
    let ctx = || Error::db(format!("keeping what undo needs for batch {}", b.id));
    let undo = &b.names.undo;
    let target = b.target_sql();
    let cols = target_columns(b);
    let list = ident_list(cols.iter().copied(), None);
    tx.batch_execute(&format!(
        "DROP TABLE IF EXISTS {undo}; \
         CREATE TABLE {undo} AS SELECT ''::\"char\" AS {kind}, {t_list} FROM {target} t WITH NO DATA",
        kind = ident(KIND),
        t_list = ident_list(cols.iter().copied(), Some("t")),
    ))
    .await
    .map_err(ctx())?;
    let first_key = ident(first_key_of(b)?);
    // A key column comes from the file (the target has none where the row is new); the
    // others from production as it is now.
    let values: Vec<String> = cols
        .iter()
        .map(|c| match b.binding.column(c).is_some_and(|bc| bc.key) {
            true => format!("r.{}", ident(c)),
            false => format!("t.{}", ident(c)),
        })
        .collect();
    let changed = match super::upsert::changes(b, "r") {
        Some((changed, _)) => format!(" OR ({changed})"),
        None => String::new(),
    };
    tx.execute(
        &format!(
            "INSERT INTO {undo} ({kind}, {list}) \
             SELECT CASE WHEN t.{first_key} IS NULL THEN 'i' ELSE 'u' END, {values} \
             FROM {rows} r LEFT JOIN {target} t ON {on} \
             WHERE t.{first_key} IS NULL{changed}",
            kind = ident(KIND),
            values = values.join(", "),
            rows = b.names.rows,
            on = key_join(&b.binding, "t", "r"),
        ),
        &[],
    )
    .await
    .map_err(ctx())?;
    if b.feed.spec.mode == Mode::Mirror {
        tx.execute(
            &format!(
                "INSERT INTO {undo} ({kind}, {list}) SELECT 'd', {t_list} FROM {target} t WHERE {absent}",
                kind = ident(KIND),
                t_list = ident_list(cols.iter().copied(), Some("t")),
                absent = crate::plan::absent_from_file(&b.binding, &b.names, true),
            ),
            &[],
        )
        .await
        .map_err(ctx())?;
    }
    Ok(())
}

/// After the promotion wrote its rows, in its transaction: the ids its rows carry.
pub async fn seal(tx: &Transaction<'_>, b: &Loaded) -> Result<Kept> {
    let ctx = || Error::db(format!("recording what undo needs for batch {}", b.id));
    let xact: String = tx
        .query_one("SELECT pg_current_xact_id()::text", &[])
        .await
        .map_err(ctx())?
        .get(0);
    // An append writes in the transaction itself; the others' rows are asked for their id,
    // as a statement in a savepoint writes with an id of its own.
    let sql = match b.feed.spec.mode {
        Mode::Append => "SELECT pg_current_xact_id()::xid::text".to_string(),
        _ => format!(
            "SELECT DISTINCT t.xmin::text FROM (SELECT * FROM {undo} u WHERE u.{kind} IN ('i', 'u') LIMIT 1) u \
             JOIN {target} t ON {on}",
            undo = b.names.undo,
            kind = ident(KIND),
            target = b.target_sql(),
            on = key_join(&b.binding, "t", "u"),
        ),
    };
    let xids = tx
        .query(&sql, &[])
        .await
        .map_err(ctx())?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(Kept { xids, xact })
}

/// The batch's row as undo reads it.
struct Promoted {
    state: State,
    mode: String,
    previous: bool,
    indexes: Option<serde_json::Value>,
    later: Option<i64>,
    applied: Applied,
    kept: Option<Kept>,
}

async fn read(client: &Client, id: i64) -> Result<Promoted> {
    let row = client
        .query_one(
            "SELECT state, mode, previous_table IS NOT NULL, previous_indexes, \
                    (SELECT min(l.id) FROM airlock.batches l WHERE l.target = b.target \
                     AND l.id > b.id AND l.state = 'promoted'), applied, undo \
             FROM airlock.batches b WHERE id = $1",
            &[&id],
        )
        .await
        .map_err(Error::db(format!("reading batch {id}")))?;
    let json = |i: usize| row.get::<_, Option<serde_json::Value>>(i);
    Ok(Promoted {
        state: row.get(0),
        mode: row.get(1),
        previous: row.get(2),
        indexes: row.get(3),
        later: row.get(4),
        applied: json(5)
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default(),
        kept: json(6).and_then(|v| serde_json::from_value(v).ok()),
    })
}

/// Takes a promotion back: the table a swap replaced, or the rows an upsert, insert, mirror
/// or append changed. Only the latest promotion of its target, and only while what it wrote
/// is unchanged. Returns what was done, for a person.
pub async fn undo(
    target: &ConnectTarget,
    id: i64,
    note: Option<&str>,
    opts: &PromoteOptions,
) -> Result<String> {
    let mut client = db::connect(target).await?;
    crate::stage::ensure_catalog(&mut client).await?;
    let b = crate::batch::load(&client, id).await?;
    let p = read(&client, id).await?;
    let refuse = |reason: String| Error::Refused {
        id,
        action: "undone",
        reason,
    };
    if p.state != State::Promoted {
        return Err(refuse(format!(
            "undo takes back a promotion; this batch is in state {}",
            p.state
        )));
    }
    if let Some(later) = p.later {
        return Err(refuse(format!(
            "batch {later} was promoted into {} after it; undo that one first",
            b.feed.target.display_name()
        )));
    }
    if p.mode == "swap" {
        // Where the replaced table is kept follows from the batch, never from stored text.
        if !p.previous {
            return Err(refuse(
                "the table its swap replaced is no longer kept (keep_undo = false, or `drop`/`prune --undo` dropped it)".into(),
            ));
        }
        super::swap::put_back(&mut client, &b, p.indexes, note, opts).await?;
        return Ok(format!(
            "{} holds the table its swap replaced again",
            b.feed.target.display_name()
        ));
    }
    let Some(kept) = p.kept else {
        return Err(refuse(
            "its promotion kept no undo data (keep_undo = false, a promotion from before undo data was kept, or `drop`/`prune --undo` dropped it)".into(),
        ));
    };
    let target_sql = b.target_sql();
    let mut attempts = locks::Attempts::new(&target_sql, opts.attempts, opts.lock_timeout);
    while attempts.another() {
        let Some(tx) = locks::begin_locked(
            &mut client,
            &target_sql,
            "SHARE ROW EXCLUSIVE",
            opts.lock_timeout,
        )
        .await?
        else {
            attempts.wait(&client).await?;
            continue;
        };
        let said = match take_back(&tx, &b, &p.applied, &kept).await {
            Ok(said) => said,
            Err(Undo::Refused(reason)) => return Err(refuse(reason)),
            Err(Undo::Retry) => {
                drop(tx);
                attempts.wait(&client).await?;
                continue;
            }
            Err(Undo::Fail(e)) => return Err(e),
        };
        tx.batch_execute(&format!("DROP TABLE IF EXISTS {}", b.names.undo))
            .await
            .map_err(Error::db("dropping the undo data"))?;
        batch::record_undone(&tx, id, note).await?;
        tx.commit()
            .await
            .map_err(Error::db("committing the undo"))?;
        return Ok(format!("{said} in {}", b.feed.target.display_name()));
    }
    Err(attempts.blocked(id, b.feed.target.display_name()))
}

/// Why taking the rows back stopped.
enum Undo {
    Refused(String),
    Retry,
    Fail(Error),
}

impl Undo {
    fn db(what: &'static str) -> impl FnOnce(tokio_postgres::Error) -> Undo {
        move |e| {
            if locks::is_retryable(&e) {
                Undo::Retry
            } else {
                Undo::Fail(Error::db(what)(e))
            }
        }
    }
}

/// The condition on the target row `t` for the rows undo deletes: those the promotion
/// inserted (`$1` the promotion's ids).
fn inserted_rows(b: &Loaded) -> String {
    match b.feed.spec.mode {
        Mode::Append => "t.xmin = ANY($1::text[]::xid[])".into(),
        _ => format!(
            "EXISTS (SELECT 1 FROM {undo} u WHERE u.{kind} = 'i' AND {on})",
            undo = b.names.undo,
            kind = ident(KIND),
            on = key_join(&b.binding, "t", "u"),
        ),
    }
}

/// The parameters of a statement over [`inserted_rows`]: an append's ids.
fn inserted_params<'a>(b: &Loaded, kept: &'a Kept) -> Vec<&'a (dyn ToSql + Sync)> {
    match b.feed.spec.mode {
        Mode::Append => vec![&kept.xids],
        _ => vec![],
    }
}

/// Checks, restores and reports, in `tx`: what was taken back, for a person.
async fn take_back(
    tx: &Transaction<'_>,
    b: &Loaded,
    applied: &Applied,
    kept: &Kept,
) -> std::result::Result<String, Undo> {
    if kept.xids.iter().any(|x| x.parse::<u32>().is_err()) {
        return Err(Undo::Refused(
            "its undo data names no valid transaction".into(),
        ));
    }
    let age: i64 = tx
        .query_one(
            "SELECT (pg_current_xact_id()::text::numeric - $1::text::numeric)::bigint",
            &[&kept.xact],
        )
        .await
        .map_err(Undo::db("reading the transaction counter"))?
        .get(0);
    if age > MAX_AGE {
        return Err(Undo::Refused(format!(
            "it was promoted {} transactions ago, too long to tell its rows from later ones",
            crate::format::thousands(age)
        )));
    }
    match b.feed.spec.mode {
        Mode::Append => unchanged_appended(tx, b, applied, kept).await?,
        _ => unchanged_rows(tx, b, applied, kept).await?,
    }
    cascades(tx, b, kept).await?;
    let target = b.target_sql();
    let deleted = tx
        .execute(
            &format!("DELETE FROM {target} t WHERE {}", inserted_rows(b)),
            &inserted_params(b, kept),
        )
        .await
        .map_err(|e| referenced(b, e))?;
    if b.feed.spec.mode == Mode::Append {
        return Ok(format!(
            "{} deleted",
            crate::format::count(deleted as i64, "appended row")
        ));
    }
    let restored = restore_updated(tx, b).await?;
    let put_back = reinsert_deleted(tx, b).await?;
    restored_exactly(tx, b).await?;
    let mut said = vec![format!(
        "{} deleted",
        crate::format::count(deleted as i64, "inserted row")
    )];
    said.push(format!(
        "{} restored",
        crate::format::count(restored as i64, "updated row")
    ));
    if b.feed.spec.mode == Mode::Mirror {
        said.push(format!(
            "{} put back",
            crate::format::count(put_back as i64, "deleted row")
        ));
    }
    Ok(said.join(", "))
}

/// A foreign key refused a delete: rows elsewhere now reference rows the batch inserted.
fn referenced(b: &Loaded, e: tokio_postgres::Error) -> Undo {
    if e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) {
        let detail = e
            .as_db_error()
            .map(|d| d.detail().unwrap_or(d.message()).to_string())
            .unwrap_or_default();
        return Undo::Refused(format!(
            "rows of another table now reference rows batch {} inserted ({detail}); undo would break them",
            b.id
        ));
    }
    Undo::db("deleting the rows the batch inserted")(e)
}

/// Refuses when the undo table does not hold what the promotion did, or when a row undo
/// would touch changed since: an inserted or updated row no longer carries the promotion's
/// id (or is gone), a deleted key is back.
async fn unchanged_rows(
    tx: &Transaction<'_>,
    b: &Loaded,
    applied: &Applied,
    kept: &Kept,
) -> std::result::Result<(), Undo> {
    let undo = &b.names.undo;
    let kind = ident(KIND);
    let kept_rows: Vec<(String, i64)> = tx
        .query(
            &format!("SELECT {kind}::text, count(*) FROM {undo} GROUP BY 1"),
            &[],
        )
        .await
        .map_err(Undo::db("reading the undo data"))?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let of = |k: &str| {
        kept_rows
            .iter()
            .find(|(c, _)| c == k)
            .map_or(0, |(_, n)| *n)
    };
    if (of("i"), of("u"), of("d")) != (applied.inserted, applied.updated, applied.deleted) {
        return Err(Undo::Refused(format!(
            "its undo data does not match what it applied ({}); production is left as it is",
            applied.describe(", ")
        )));
    }
    let first_key = ident(first_key_of(b).map_err(Undo::Fail)?);
    let key_text: Vec<String> = b
        .feed
        .key
        .iter()
        .map(|k| format!("coalesce(u.{}::text, 'NULL')", ident(k)))
        .collect();
    let rows = tx
        .query(
            &format!(
                "SELECT concat_ws(', ', {key_text}), \
                        CASE WHEN u.{kind} = 'd' THEN 'is back in production' \
                             WHEN t.{first_key} IS NULL THEN 'was deleted since' \
                             ELSE 'was changed since' END, count(*) OVER () \
                 FROM {undo} u LEFT JOIN {target} t ON {on} \
                 WHERE CASE WHEN u.{kind} = 'd' THEN t.{first_key} IS NOT NULL \
                            ELSE t.{first_key} IS NULL OR NOT (t.xmin = ANY($1::text[]::xid[])) END \
                 ORDER BY 1 LIMIT 5",
                key_text = key_text.join(", "),
                target = b.target_sql(),
                on = key_join(&b.binding, "t", "u"),
            ),
            &[&kept.xids],
        )
        .await
        .map_err(Undo::db("comparing the batch's rows with production"))?;
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let total: i64 = first.get(2);
    let key_names = b.feed.key.join(", ");
    let named: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "({key_names}) = ({}) {}",
                r.get::<_, String>(0),
                r.get::<_, String>(1)
            )
        })
        .collect();
    Err(Undo::Refused(format!(
        "{} it would touch changed after the promotion: {}{}; undo would overwrite that change",
        crate::format::count(total, "row"),
        named.join("; "),
        if total > named.len() as i64 {
            "; …"
        } else {
            ""
        }
    )))
}

/// Refuses when fewer rows carry an append's id than it inserted: some changed or are gone.
async fn unchanged_appended(
    tx: &Transaction<'_>,
    b: &Loaded,
    applied: &Applied,
    kept: &Kept,
) -> std::result::Result<(), Undo> {
    let now: i64 = tx
        .query_one(
            &format!(
                "SELECT count(*) FROM {} t WHERE {}",
                b.target_sql(),
                inserted_rows(b)
            ),
            &[&kept.xids],
        )
        .await
        .map_err(Undo::db("counting the rows the batch appended"))?
        .get(0);
    if now != applied.inserted {
        return Err(Undo::Refused(format!(
            "{} of the {} it appended changed or were deleted after the promotion; undo would miss them",
            crate::format::thousands(applied.inserted - now),
            crate::format::count(applied.inserted, "row"),
        )));
    }
    Ok(())
}

/// Refuses when deleting the inserted rows would cascade: a foreign key with `ON DELETE
/// CASCADE`, `SET NULL` or `SET DEFAULT` whose rows now reference one of them. (`NO ACTION`
/// and `RESTRICT` refuse the delete themselves.)
async fn cascades(tx: &Transaction<'_>, b: &Loaded, kept: &Kept) -> std::result::Result<(), Undo> {
    let keys = tx
        .query(
            "SELECT c.conrelid::regclass::text, c.conname, c.confdeltype::text, \
                    (SELECT array_agg(format('x.%I = t.%I', a.attname, f.attname) ORDER BY k.i) \
                     FROM unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(child, parent, i) \
                     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.child \
                     JOIN pg_attribute f ON f.attrelid = c.confrelid AND f.attnum = k.parent) \
             FROM pg_constraint c \
             WHERE c.contype = 'f' AND c.confrelid = $1::text::regclass \
               AND c.confdeltype IN ('c', 'n', 'd')",
            &[&b.target_sql()],
        )
        .await
        .map_err(Undo::db(
            "reading the foreign keys that reference the target",
        ))?;
    for key in keys {
        let (child, name, action, on): (String, String, String, Vec<String>) =
            (key.get(0), key.get(1), key.get(2), key.get(3));
        let n: i64 = tx
            .query_one(
                &format!(
                    "SELECT count(*) FROM {child} x JOIN {target} t ON {on} WHERE {inserted}",
                    on = on.join(" AND "),
                    target = b.target_sql(),
                    inserted = inserted_rows(b),
                ),
                &inserted_params(b, kept),
            )
            .await
            .map_err(Undo::db("looking for rows that reference the batch's rows"))?
            .get(0);
        if n > 0 {
            let effect = match action.as_str() {
                "c" => "delete them (ON DELETE CASCADE)",
                "n" => "set their reference to NULL (ON DELETE SET NULL)",
                _ => "set their reference to its default (ON DELETE SET DEFAULT)",
            };
            return Err(Undo::Refused(format!(
                "{} of {} now reference rows batch {} inserted (foreign key {}); undo would {effect}",
                crate::format::count(n, "row"),
                child,
                b.id,
                ident(&name),
            )));
        }
    }
    Ok(())
}

/// Puts back the rows the promotion updated as they were: every column the server lets a
/// statement set (not the key, not a generated column, not an identity the file does not feed).
async fn restore_updated(tx: &Transaction<'_>, b: &Loaded) -> std::result::Result<u64, Undo> {
    let set: Vec<String> = b
        .feed
        .target
        .columns
        .iter()
        .filter(|c| {
            let fed = b.binding.column(&c.name);
            !c.generated && !fed.is_some_and(|f| f.key) && (!c.identity || fed.is_some())
        })
        .map(|c| format!("{n} = u.{n}", n = ident(&c.name)))
        .collect();
    if set.is_empty() {
        return Ok(0);
    }
    tx.execute(
        &format!(
            "UPDATE {target} t SET {set} FROM {undo} u WHERE u.{kind} = 'u' AND {on}",
            target = b.target_sql(),
            set = set.join(", "),
            undo = b.names.undo,
            kind = ident(KIND),
            on = key_join(&b.binding, "t", "u"),
        ),
        &[],
    )
    .await
    .map_err(Undo::db("restoring the rows the batch updated"))
}

/// Refuses when the rows undo wrote back are not their before-images: a trigger on the
/// target changed them as they were written (the transaction then rolls back).
async fn restored_exactly(tx: &Transaction<'_>, b: &Loaded) -> std::result::Result<(), Undo> {
    let cols = target_columns(b);
    let target = b.target_sql();
    let differ: i64 = tx
        .query_one(
            &format!(
                "SELECT count(*) FROM {undo} u JOIN {target} t ON {on} \
                 WHERE u.{kind} IN ('u', 'd') AND ROW({t_list})::text IS DISTINCT FROM ROW({u_list})::text",
                undo = b.names.undo,
                on = key_join(&b.binding, "t", "u"),
                kind = ident(KIND),
                t_list = ident_list(cols.iter().copied(), Some("t")),
                u_list = ident_list(cols.iter().copied(), Some("u")),
            ),
            &[],
        )
        .await
        .map_err(Undo::db("comparing the restored rows with the rows before"))?
        .get(0);
    if differ == 0 {
        return Ok(());
    }
    let triggers: Option<String> = tx
        .query_one(
            "SELECT string_agg(quote_ident(tgname), ', ' ORDER BY tgname) FROM pg_trigger \
             WHERE tgrelid = $1::text::regclass AND NOT tgisinternal AND tgenabled <> 'D'",
            &[&target],
        )
        .await
        .map_err(Undo::db("reading the target's triggers"))?
        .get(0);
    Err(Undo::Refused(format!(
        "{} differ from the rows before the promotion: a trigger on {} changed them as undo wrote them back ({}); undo cannot put them back exactly",
        crate::format::count(differ, "restored row"),
        b.feed.target.display_name(),
        triggers.unwrap_or_else(|| "no trigger found".into()),
    )))
}

/// Inserts again the rows a mirror deleted, identity values included.
async fn reinsert_deleted(tx: &Transaction<'_>, b: &Loaded) -> std::result::Result<u64, Undo> {
    let cols: Vec<&str> = b
        .feed
        .target
        .columns
        .iter()
        .filter(|c| !c.generated)
        .map(|c| c.name.as_str())
        .collect();
    let list = ident_list(cols.iter().copied(), None);
    tx.execute(
        &format!(
            "INSERT INTO {target} ({list}) OVERRIDING SYSTEM VALUE \
             SELECT {list} FROM {undo} WHERE {kind} = 'd'",
            target = b.target_sql(),
            undo = b.names.undo,
            kind = ident(KIND),
        ),
        &[],
    )
    .await
    .map_err(Undo::db("putting back the rows the batch deleted"))
}
