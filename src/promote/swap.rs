//! Swap mode: build the next table from the target's definition, fill it with the good rows,
//! then put it in the target's place in one short transaction. The replaced table is kept in
//! `airlock_stage` until the next successful swap of that target, for `undo`.
use tokio_postgres::{Client, GenericClient};

use super::{
    Applied, KeptForUndo, PromoteOptions, bisect, locks, recheck_plan, record_approval,
    record_plan_made,
};
use crate::batch;
use crate::batch::Loaded;
use crate::db::{ident, ident_list, qualified};
use crate::error::{Error, Result};
use crate::layout::{ORD_COLUMN, STAGE_SCHEMA, StageNames};
use crate::timing::Timings;

/// Objects that would keep pointing at the old table after a swap, or that a new table would
/// not carry: each one refuses the swap, with the reason.
pub async fn dependents(client: &impl GenericClient, target: &str) -> Result<Vec<String>> {
    let rows = client
        .query(
            "WITH t AS (SELECT to_regclass($1) AS oid)
             SELECT format('view %s depends on it', r.ev_class::regclass)
               FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid, t
              WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = t.oid AND r.ev_class <> t.oid
             UNION
             SELECT format('foreign key %I of %s references it', c.conname, c.conrelid::regclass)
               FROM pg_constraint c, t WHERE c.confrelid = t.oid AND c.conrelid <> t.oid
             UNION
             SELECT format('trigger %I is defined on it', g.tgname)
               FROM pg_trigger g, t WHERE g.tgrelid = t.oid AND NOT g.tgisinternal
             UNION
             SELECT format('row-level security policy %I is defined on it', p.polname)
               FROM pg_policy p, t WHERE p.polrelid = t.oid
             UNION
             SELECT format('publication %I includes it', p.pubname)
               FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid, t
              WHERE pr.prrelid = t.oid
             UNION
             SELECT 'it takes part in table inheritance or partitioning'
               FROM pg_inherits i, t WHERE i.inhparent = t.oid OR i.inhrelid = t.oid
             UNION
             SELECT format('column %I is an identity column (a new table would restart it)', a.attname)
               FROM pg_attribute a, t WHERE a.attrelid = t.oid AND a.attidentity <> '' AND NOT a.attisdropped
             UNION
             SELECT format('column %I has column-level privileges', a.attname)
               FROM pg_attribute a, t WHERE a.attrelid = t.oid AND a.attacl IS NOT NULL AND NOT a.attisdropped
             ORDER BY 1",
            &[&target],
        )
        .await
        .map_err(Error::db("looking for objects that depend on the target"))?;
    Ok(rows.into_iter().map(|r| r.get(0)).collect())
}

fn refuse_dependents(b: &Loaded, found: Vec<String>) -> Result<()> {
    if found.is_empty() {
        return Ok(());
    }
    Err(Error::Refused {
        id: b.id,
        action: "promoted",
        reason: format!(
            "a swap would replace {} with a new table, but {}. Those objects follow the table itself, not its name; use mode = \"upsert\", or remove them first",
            b.feed.target.display_name(),
            found.join(", ")
        ),
    })
}

/// The next table's name, in the target's schema.
fn next_name(b: &Loaded) -> (String, String) {
    let name = format!("airlock_next_{}", b.id);
    (qualified(&b.feed.target.schema, &name), name)
}

/// The next table's definition, built by the server from its catalog (`format` with
/// `%I`/`%L` quoting).
struct NextTable {
    /// Creates it like the target (columns, defaults, NOT NULL, CHECK, keys, indexes,
    /// comments) with the target's grants, owner and comment.
    table: String,
    /// Adds the foreign keys the target holds: after the fill, where each is validated by one
    /// join instead of a trigger per inserted row (three times faster at a million rows).
    foreign_keys: String,
}

impl NextTable {
    /// Everything in one script, foreign keys before any row: what bisection replays, so a
    /// row a foreign key refuses is found like any other.
    fn whole(&self) -> String {
        format!("{};\n{}", self.table, self.foreign_keys)
    }
}

async fn next_table_ddl(client: &impl GenericClient, b: &Loaded) -> Result<NextTable> {
    let (next, _) = next_name(b);
    let target = b.target_sql();
    let row = client
        .query_one(
            "WITH t AS (SELECT to_regclass($1) AS oid)
             SELECT (SELECT string_agg(format('ALTER TABLE %s ADD CONSTRAINT %I %s', $2::text, c.conname,
                         pg_get_constraintdef(c.oid)), E';\n' ORDER BY c.conname)
                    FROM pg_constraint c, t WHERE c.conrelid = t.oid AND c.contype = 'f'),
                 concat_ws(E';\n',
                 (SELECT string_agg(format('GRANT %s ON %s TO %s%s', a.privilege_type, $2::text,
                         CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END,
                         CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END), E';\n')
                    FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a
                    LEFT JOIN pg_roles r ON r.oid = a.grantee, t
                   WHERE c.oid = t.oid AND a.grantee <> c.relowner),
                 (SELECT format('ALTER TABLE %s OWNER TO %I', $2::text, r.rolname)
                    FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner, t
                   WHERE c.oid = t.oid AND r.rolname <> current_user),
                 (SELECT format('COMMENT ON TABLE %s IS %L', $2::text, obj_description(t.oid, 'pg_class'))
                    FROM t WHERE obj_description(t.oid, 'pg_class') IS NOT NULL))",
            &[&target, &next],
        )
        .await
        .map_err(Error::db("reading the target's definition"))?;
    let foreign_keys: Option<String> = row.get(0);
    let extra: Option<String> = row.get(1);
    Ok(NextTable {
        table: format!(
            "DROP TABLE IF EXISTS {next};\nCREATE TABLE {next} (LIKE {target} INCLUDING ALL);\n{}",
            extra.unwrap_or_default()
        ),
        foreign_keys: foreign_keys.unwrap_or_default(),
    })
}

fn fill_statement(b: &Loaded) -> String {
    let (next, _) = next_name(b);
    let cols = ident_list(b.binding.columns.iter().map(|c| c.target.as_str()), None);
    format!(
        "INSERT INTO {next} ({cols}) SELECT {cols} FROM {rows} WHERE {ord} BETWEEN $1 AND $2",
        rows = b.names.rows,
        ord = ident(ORD_COLUMN),
    )
}

pub async fn promote(client: &mut Client, b: &Loaded, opts: &PromoteOptions) -> Result<Applied> {
    let target = b.target_sql();
    refuse_dependents(b, dependents(client, &target).await?)?;

    // Phase 1: the next table, built and filled while production serves as usual.
    let mut timings = Timings::start();
    let ddl = next_table_ddl(client, b).await?;
    let fill = fill_statement(b);
    let tx = client
        .transaction()
        .await
        .map_err(Error::db("building the next table"))?;
    tx.batch_execute(&ddl.table)
        .await
        .map_err(Error::db(format!(
            "building the next table for {}",
            b.feed.target.display_name()
        )))?;
    let filled = match tx.execute(&fill, &[&i64::MIN, &i64::MAX]).await {
        Ok(_) => tx.batch_execute(&ddl.foreign_keys).await,
        Err(e) => Err(e),
    };
    if let Err(e) = filled {
        drop(tx);
        if locks::is_data_error(&e) {
            return Err(bisect::set_aside(client, b, &fill, &ddl.whole(), &e).await);
        }
        return Err(Error::db("filling the next table")(e));
    }
    let (next, _) = next_name(b);
    tx.batch_execute(&format!("ANALYZE {next}"))
        .await
        .map_err(Error::db("analyzing the next table"))?;
    tx.commit()
        .await
        .map_err(Error::db("building the next table"))?;
    timings.lap("promote: build the next table");

    // Phase 2: the swap itself, short, under lock_timeout, retried.
    let result = exchange_into_place(client, b, opts, &next, timings).await;
    if result.is_err() {
        // Best effort: a leftover next table is rebuilt by the next attempt anyway.
        let _ = client
            .batch_execute(&format!("DROP TABLE IF EXISTS {next}"))
            .await;
    }
    result
}

async fn exchange_into_place(
    client: &mut Client,
    b: &Loaded,
    opts: &PromoteOptions,
    next: &str,
    mut timings: Timings,
) -> Result<Applied> {
    let target = b.target_sql();
    let mut attempts = locks::Attempts::new(&target, opts.attempts, opts.lock_timeout);
    while attempts.another() {
        // The plan is checked again with writers kept out but readers going on; only the
        // renames themselves lock readers out, for as long as they take.
        let Some(tx) =
            locks::begin_locked(client, &target, "SHARE ROW EXCLUSIVE", opts.lock_timeout).await?
        else {
            attempts.wait(client).await?;
            continue;
        };
        refuse_dependents(b, dependents(&tx, &target).await?)?;
        let plan = recheck_plan(&tx, b, opts).await?;
        record_plan_made(&tx, b, &plan).await?;
        match tx
            .batch_execute(&format!("LOCK TABLE {target} IN ACCESS EXCLUSIVE MODE"))
            .await
        {
            Ok(()) => {}
            Err(e) if locks::is_retryable(&e) => {
                drop(tx);
                attempts.wait(client).await?;
                continue;
            }
            Err(e) => return Err(Error::db(format!("locking {target}"))(e)),
        }
        // What depends on the target could have changed while only writers were kept out.
        refuse_dependents(b, dependents(&tx, &target).await?)?;
        let previous = &b.names.previous_bare;
        // Keep one previous table per target: the one this swap replaces.
        drop_older_previous(&tx, b).await?;
        let mapping = exchange(
            &tx,
            &target,
            next,
            (&b.feed.target.schema, &b.feed.target.name),
            previous,
        )
        .await?;
        batch::record_previous_indexes(
            &tx,
            b.id,
            &serde_json::to_value(&mapping).unwrap_or_default(),
        )
        .await?;
        let applied = Applied {
            mode: "swap".into(),
            inserted: plan.insert,
            updated: plan.update,
            unchanged: plan.unchanged,
            deleted: plan.delete,
            skipped: 0,
        };
        let kept = match b.feed.spec.policy.keep_undo {
            true => KeptForUndo::Table,
            false => {
                tx.batch_execute(&format!("DROP TABLE {}", b.names.previous))
                    .await
                    .map_err(Error::db("dropping the replaced table (keep_undo = false)"))?;
                KeptForUndo::Nothing
            }
        };
        record_approval(&tx, b, opts, &applied, kept).await?;
        timings.lap("promote: lock, recheck and swap");
        batch::append_timings(&tx, b.id, &timings).await?;
        tx.commit()
            .await
            .map_err(Error::db(format!("committing the swap of batch {}", b.id)))?;
        return Ok(applied);
    }
    Err(attempts.blocked(b.id, b.feed.target.display_name()))
}

/// Puts `incoming` (a table in the target's schema) in the place of `current`, and moves
/// `current` to `airlock_stage` as `parked`. Sequences owned by the current table's columns
/// follow the incoming one; the incoming table's indexes take the original index names, and
/// the parked table's indexes get names of their own. Returns (parked index, original name).
async fn exchange(
    tx: &impl GenericClient,
    current: &str,
    incoming: &str,
    place: (&str, &str),
    parked: &str,
) -> Result<Vec<(String, String)>> {
    let (schema, name) = place;
    let ctx = || Error::db("swapping the tables");
    // Pair the indexes of the two tables by definition, before any rename.
    let pairs = tx
        .query(
            "WITH idx AS (
                 SELECT x.indrelid AS rel, i.relname::text AS name, x.indisunique AS u,
                        regexp_replace(pg_get_indexdef(i.oid), '^.* USING ', '') AS def
                   FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid),
             o AS (SELECT *, row_number() OVER (PARTITION BY def, u ORDER BY name) AS n
                     FROM idx WHERE rel = to_regclass($1)),
             m AS (SELECT *, row_number() OVER (PARTITION BY def, u ORDER BY name) AS n
                     FROM idx WHERE rel = to_regclass($2))
             SELECT o.name, m.name FROM o JOIN m USING (def, u, n) ORDER BY o.name",
            &[&current, &incoming],
        )
        .await
        .map_err(ctx())?;
    let mut sql = own_sequences(tx, current, incoming).await?;
    let mut mapping = Vec::new();
    for (i, p) in pairs.iter().enumerate() {
        let original: String = p.get(0);
        let parked_index = format!("{parked}_idx{i}");
        sql.push_str(&format!(
            "ALTER INDEX {} RENAME TO {};\n",
            qualified(schema, &original),
            ident(&parked_index)
        ));
        mapping.push((parked_index, original));
    }
    sql.push_str(&format!(
        "ALTER TABLE {current} RENAME TO {parked_q};\n\
         ALTER TABLE {moved} SET SCHEMA {stage};\n\
         ALTER TABLE {incoming} RENAME TO {name_q};\n",
        parked_q = ident(parked),
        moved = qualified(schema, parked),
        stage = ident(STAGE_SCHEMA),
        name_q = ident(name),
    ));
    for p in &pairs {
        let (original, new): (&str, &str) = (p.get(0), p.get(1));
        sql.push_str(&format!(
            "ALTER INDEX {} RENAME TO {};\n",
            qualified(schema, new),
            ident(original)
        ));
    }
    tx.batch_execute(&sql).await.map_err(ctx())?;
    // The parked table must not hold production's references hostage (a category it alone
    // still uses could not be deleted): its foreign keys go; undo copies them back from the
    // table that replaced it, which has the same ones.
    let parked_sql = qualified(STAGE_SCHEMA, parked);
    let drops: Option<String> = tx
        .query_one(
            "SELECT string_agg(format('ALTER TABLE %s DROP CONSTRAINT %I', $1::text, conname), E';\n')
               FROM pg_constraint WHERE conrelid = to_regclass($1) AND contype = 'f'",
            &[&parked_sql],
        )
        .await
        .map_err(ctx())?
        .get(0);
    if let Some(drops) = drops {
        tx.batch_execute(&drops).await.map_err(ctx())?;
    }
    Ok(mapping)
}

/// Statements handing the sequences owned by `from`'s columns (serial columns) to the same
/// columns of `to`, so they survive when `from` is dropped.
async fn own_sequences(tx: &impl GenericClient, from: &str, to: &str) -> Result<String> {
    let sequences = tx
        .query(
            "SELECT s.oid::regclass::text, a.attname::text FROM pg_depend d
               JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
               JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
              WHERE d.refobjid = to_regclass($1) AND d.deptype = 'a'",
            &[&from],
        )
        .await
        .map_err(Error::db("reading owned sequences"))?;
    Ok(sequences
        .iter()
        .map(|s| {
            format!(
                "ALTER SEQUENCE {} OWNED BY {to}.{};\n",
                s.get::<_, String>(0),
                ident(s.get::<_, &str>(1))
            )
        })
        .collect())
}

async fn drop_older_previous(tx: &impl GenericClient, b: &Loaded) -> Result<()> {
    let older = batch::keeping_previous(tx, &b.feed.target.display_name(), b.id).await?;
    for id in older {
        // The name follows from the batch, never from text stored in the catalog: a forged
        // `previous_table` must not name a table to drop.
        let table = StageNames::new(id).previous;
        tx.batch_execute(&format!("DROP TABLE IF EXISTS {table}"))
            .await
            .map_err(Error::db(format!("dropping {table}")))?;
        batch::forget_previous(tx, id).await?;
    }
    Ok(())
}

/// Puts back the table a swap replaced, exactly as it was, in one transaction (`undo.rs`
/// checked that the batch is the latest promotion of its target and the table is kept).
pub(super) async fn put_back(
    client: &mut Client,
    b: &Loaded,
    indexes: Option<serde_json::Value>,
    note: Option<&str>,
    opts: &PromoteOptions,
) -> Result<()> {
    let id = b.id;
    let refuse = |reason: String| Error::Refused {
        id,
        action: "undone",
        reason,
    };
    let previous = &b.names.previous;
    let mapping: Vec<(String, String)> = indexes
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let current = b.target_sql();
    let (schema, name) = (&b.feed.target.schema, &b.feed.target.name);
    let mut attempts = locks::Attempts::new(&current, opts.attempts, opts.lock_timeout);
    while attempts.another() {
        let Some(tx) =
            locks::begin_locked(client, &current, "ACCESS EXCLUSIVE", opts.lock_timeout).await?
        else {
            attempts.wait(client).await?;
            continue;
        };
        let found = dependents(&tx, &current).await?;
        if !found.is_empty() {
            return Err(refuse(format!(
                "{} now has dependent objects: {}",
                b.feed.target.display_name(),
                found.join(", ")
            )));
        }
        let parked_bare = &b.names.previous_bare;
        let restored = qualified(schema, name);
        let foreign_keys: Option<String> = tx
            .query_one(
                "SELECT string_agg(format('ALTER TABLE %s ADD CONSTRAINT %I %s', $2::text, conname,
                        pg_get_constraintdef(oid)), E';\n')
                   FROM pg_constraint WHERE conrelid = to_regclass($1) AND contype = 'f'",
                &[&current, &restored],
            )
            .await
            .map_err(Error::db("reading the foreign keys to restore"))?
            .get(0);
        let mut sql = own_sequences(&tx, &current, previous).await?;
        sql.push_str(&format!(
            "DROP TABLE {current};\n\
             ALTER TABLE {previous} SET SCHEMA {schema_q};\n\
             ALTER TABLE {moved} RENAME TO {name_q};\n",
            schema_q = ident(schema),
            moved = qualified(schema, parked_bare),
            name_q = ident(name),
        ));
        for (parked_index, original) in &mapping {
            sql.push_str(&format!(
                "ALTER INDEX {} RENAME TO {};\n",
                qualified(schema, parked_index),
                ident(original)
            ));
        }
        if let Some(fks) = foreign_keys {
            sql.push_str(&fks);
        }
        tx.batch_execute(&sql).await.map_err(Error::db(format!(
            "putting back the table batch {id} replaced"
        )))?;
        batch::record_undone(&tx, id, note).await?;
        tx.commit()
            .await
            .map_err(Error::db("committing the undo"))?;
        return Ok(());
    }
    Err(attempts.blocked(id, b.feed.target.display_name()))
}
