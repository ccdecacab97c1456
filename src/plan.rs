//! The plan: what promotion would do to production (insert / update / unchanged / delete and
//! which columns change), computed read-only from the typed rows and the target.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tokio_postgres::GenericClient;

use crate::db::{Table, ident};
use crate::error::{Error, Result};
use crate::feed::Mode;
use crate::format::thousands;
use crate::layout::StageNames;
use crate::staged::Staged;
use crate::validate::binding::{Binding, BoundColumn};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Plan {
    pub insert: i64,
    pub update: i64,
    pub unchanged: i64,
    /// Rows production would lose (swap mode only).
    pub delete: i64,
    /// Rows whose key production has, left as they are (insert mode only).
    pub skipped: i64,
    /// Rows in production when the plan was made.
    pub production_rows: i64,
    /// For each column the file feeds, how many updated rows change it.
    pub columns: BTreeMap<String, i64>,
    /// For each numeric column the file feeds, how many rows production has would change by
    /// more than half their value (`validate::drift::against_production`).
    pub moved: BTreeMap<String, i64>,
    /// For each column of `moved`, the ordinal (`__ord`) of the first such row in the file:
    /// the drift finding's example, read by address instead of joining production again.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub first_moved: BTreeMap<String, i64>,
    /// How many rows of production had been written (inserted, updated, deleted, by anyone)
    /// when the plan was made, as the server's statistics count them: a plan is stale once
    /// the count moved (`review::replan`). `None` for a plan from before it was kept.
    pub writes: Option<i64>,
    /// Left to the promotion: a headless run, which nobody reviews first, takes the plan its
    /// promotion makes under the lock anyway (an upsert's own counts, a swap's plan check)
    /// instead of joining production beforehand too. Until then the counts are zero and
    /// `columns` unknown; a swap's `production_rows` is counted, for the policy. Whoever
    /// opens or approves such a batch has the plan made first.
    pub by_promotion: bool,
}

/// `a.col IS DISTINCT FROM b.col`. A type without equality is compared by its text form
/// (json as jsonb, which has a semantic equality): the same text is the same value for
/// those types (`point`, `polygon`, `xml`, …; floats print exactly), and a different text at
/// worst rewrites a row to the value it holds. Never `box`'s `=`, which compares areas.
pub fn distinct_expr(col: &BoundColumn, a: &str, b: &str) -> String {
    let name = ident(&col.target);
    const JSON: u32 = 114;
    if col.type_oid == JSON {
        format!("{a}.{name}::jsonb IS DISTINCT FROM {b}.{name}::jsonb")
    } else if !col.equality {
        format!("{a}.{name}::text IS DISTINCT FROM {b}.{name}::text")
    } else {
        format!("{a}.{name} IS DISTINCT FROM {b}.{name}")
    }
}

/// Whether a column holds numbers the drift check compares with production's (smallint,
/// integer, bigint, real, double precision, numeric).
pub fn is_numeric(col: &BoundColumn) -> bool {
    use crate::clickhouse::types::ChType;
    match &col.value_rule {
        crate::validate::types::TypeRule::ClickHouse(t) => matches!(
            t.base,
            ChType::Int { .. } | ChType::Float { .. } | ChType::Decimal { .. }
        ),
        _ => matches!(col.type_oid, 20 | 21 | 23 | 700 | 701 | 1700),
    }
}

/// The condition that the incoming row `r` moves a numeric column of production's row `t`
/// by more than half its value (a value from zero counts as moved).
pub fn moved_by_half(col: &BoundColumn) -> String {
    let n = ident(&col.target);
    format!(
        "(abs(r.{n}::float8 - t.{n}::float8) > 0.5 * abs(t.{n}::float8) AND r.{n} IS DISTINCT FROM t.{n})"
    )
}

/// `t.k1 = r.k1 AND ...` over the merge key.
pub fn key_join(binding: &Binding, a: &str, b: &str) -> String {
    binding
        .key_columns()
        .map(|c| format!("{a}.{n} = {b}.{n}", n = ident(&c.target)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// How many rows of `target` (and its partitions) have been written since the server's
/// statistics began — inserted, updated, deleted, by anyone —, to tell whether production
/// changed between two moments. The server counts a session's writes when it flushes its
/// statistics (at the latest some seconds after its transaction).
pub async fn production_writes(client: &impl GenericClient, target: &Table) -> Result<i64> {
    Ok(client
        .query_one(
            "SELECT coalesce(sum(pg_stat_get_tuples_inserted(relid) \
                        + pg_stat_get_tuples_updated(relid) \
                        + pg_stat_get_tuples_deleted(relid)), 0)::bigint \
             FROM (SELECT $1::oid::regclass AS relid \
                   UNION SELECT relid FROM pg_partition_tree($1::oid::regclass)) AS tree",
            &[&target.oid],
        )
        .await
        .map_err(Error::db(format!(
            "reading the write counts of {}",
            target.display_name()
        )))?
        .get(0))
}

/// How many rows production has now.
pub async fn production_rows(client: &impl GenericClient, target: &Table) -> Result<i64> {
    Ok(client
        .query_one(&format!("SELECT count(*) FROM {}", target.sql_name()), &[])
        .await
        .map_err(Error::db(format!(
            "counting the rows of {}",
            target.display_name()
        )))?
        .get(0))
}

/// The plan against production now. With `keep_deletes`, the rows a swap or mirror would
/// delete are kept for the review (see [`keep_absent`]); a promotion's recheck under its
/// lock only counts them.
pub async fn compute(
    client: &impl GenericClient,
    staged: Staged<'_>,
    keep_deletes: bool,
) -> Result<Plan> {
    let Staged {
        feed,
        binding,
        names,
    } = staged;
    let (target, mode) = (&feed.target, feed.spec.mode);
    let ctx = || {
        Error::db(format!(
            "computing the plan against {}",
            target.display_name()
        ))
    };
    let production_rows = production_rows(client, target).await?;
    let writes = Some(production_writes(client, target).await?);
    if mode == Mode::Append || binding.key_columns().next().is_none() {
        // Every good row goes in: an append, a swap of a table without a key (every row of
        // production goes), or an empty file that binds no columns.
        let insert: i64 = client
            .query_one(&format!("SELECT count(*) FROM {}", names.rows), &[])
            .await
            .map_err(ctx())?
            .get(0);
        let delete = match mode {
            Mode::Swap | Mode::Mirror => production_rows,
            Mode::Upsert | Mode::Insert | Mode::Append => 0,
        };
        return Ok(Plan {
            insert,
            delete,
            production_rows,
            writes,
            ..Plan::default()
        });
    }
    let Some(first_key) = binding.key_columns().next() else {
        return Ok(Plan::default());
    };
    let values: Vec<&BoundColumn> = binding.value_columns().collect();
    let changed = if values.is_empty() {
        "false".to_string()
    } else {
        values
            .iter()
            .map(|c| format!("({})", distinct_expr(c, "r", "t")))
            .collect::<Vec<_>>()
            .join(" OR ")
    };
    let matched = format!("t.{} IS NOT NULL", ident(&first_key.target));
    let mut select = vec![
        format!("count(*) FILTER (WHERE NOT ({matched}))"),
        format!("count(*) FILTER (WHERE {matched} AND ({changed}))"),
        format!("count(*) FILTER (WHERE {matched} AND NOT ({changed}))"),
    ];
    for c in &values {
        select.push(format!(
            "count(*) FILTER (WHERE {matched} AND {})",
            distinct_expr(c, "r", "t")
        ));
    }
    let numeric: Vec<&&BoundColumn> = values.iter().filter(|c| is_numeric(c)).collect();
    for c in &numeric {
        select.push(format!(
            "count(*) FILTER (WHERE {matched} AND {})",
            moved_by_half(c)
        ));
        select.push(format!(
            "min(r.{ord}) FILTER (WHERE {matched} AND {})",
            moved_by_half(c),
            ord = ident(crate::layout::ORD_COLUMN),
        ));
    }
    let row = client
        .query_one(
            &format!(
                "SELECT {} FROM {rows} r LEFT JOIN {target} t ON {join}",
                select.join(", "),
                rows = names.rows,
                target = target.sql_name(),
                join = key_join(binding, "t", "r"),
            ),
            &[],
        )
        .await
        .map_err(ctx())?;
    let mut plan = Plan {
        insert: row.get(0),
        update: row.get(1),
        unchanged: row.get(2),
        production_rows,
        writes,
        ..Plan::default()
    };
    for (i, c) in values.iter().enumerate() {
        plan.columns.insert(c.target.clone(), row.get(3 + i));
    }
    for (i, c) in numeric.iter().enumerate() {
        let at = 3 + values.len() + 2 * i;
        plan.moved.insert(c.target.clone(), row.get(at));
        if let Some(ord) = row.get::<_, Option<i64>>(at + 1) {
            plan.first_moved.insert(c.target.clone(), ord);
        }
    }
    if mode == Mode::Insert {
        // A key production has is skipped, whatever its values.
        plan.skipped = plan.update + plan.unchanged;
        (plan.update, plan.unchanged) = (0, 0);
        plan.columns.clear();
        plan.moved.clear();
        plan.first_moved.clear();
    }
    let absent = match mode {
        Mode::Swap => Some(absent_from_file(binding, names, false)),
        Mode::Mirror => Some(absent_from_file(binding, names, true)),
        Mode::Upsert | Mode::Insert | Mode::Append => None,
    };
    match absent {
        Some(absent) if keep_deletes => {
            plan.delete = keep_absent(client, target, binding, names, &absent)
                .await
                .map_err(ctx())? as i64;
        }
        Some(absent) => {
            plan.delete = client
                .query_one(
                    &format!(
                        "SELECT count(*) FROM {target} t WHERE {absent}",
                        target = target.sql_name(),
                    ),
                    &[],
                )
                .await
                .map_err(ctx())?
                .get(0);
        }
        None => {}
    }
    Ok(plan)
}

/// Keeps the production rows a swap or mirror would delete (`absent`, a condition on `t`) in
/// the batch's `absent` table, numbered after the file's rows in key order, for the review;
/// returns how many there are.
async fn keep_absent(
    client: &impl GenericClient,
    target: &Table,
    binding: &Binding,
    names: &StageNames,
    absent: &str,
) -> std::result::Result<u64, tokio_postgres::Error> {
    let key: Vec<String> = binding
        .key_columns()
        .map(|c| format!("t.{}", ident(&c.target)))
        .collect();
    client
        .batch_execute(&format!("DROP TABLE IF EXISTS {}", names.absent))
        .await?;
    client
        .execute(
            &format!(
                "CREATE UNLOGGED TABLE {kept} AS \
                 SELECT (SELECT coalesce(max({ord}), 0) FROM {rows}) \
                        + row_number() OVER (ORDER BY {key}) AS {ord}, t.* \
                 FROM {target} t WHERE {absent}",
                kept = names.absent,
                ord = ident(crate::layout::ORD_COLUMN),
                rows = names.rows,
                key = key.join(", "),
                target = target.sql_name(),
            ),
            &[],
        )
        .await
}

/// The condition on a production row `t` that the file does not have its key: no good row
/// has it and, with `quarantined`, no row set aside has it either (by the key fields' text
/// as the file wrote them): a mirror deletes only keys the file does not name at all, never
/// a row whose update was refused.
pub fn absent_from_file(binding: &Binding, names: &StageNames, quarantined: bool) -> String {
    let mut absent = format!(
        "NOT EXISTS (SELECT 1 FROM {rows} r WHERE {join})",
        rows = names.rows,
        join = key_join(binding, "t", "r"),
    );
    if quarantined {
        let same: Vec<String> = binding
            .key_columns()
            .map(|c| {
                format!(
                    "btrim(s.{}) = t.{}::text",
                    crate::layout::stage_field(c.source_index),
                    ident(&c.target)
                )
            })
            .collect();
        absent.push_str(&format!(
            " AND NOT EXISTS (SELECT 1 FROM {raw} s WHERE {})",
            same.join(" AND "),
            raw = names.raw,
        ));
    }
    absent
}

impl Plan {
    /// The plan for a person: its counts (`3 insert · 2 update · 1 unchanged`, and deletes
    /// for a swap) and what they were measured against. `promoted`: the batch's promotion
    /// has happened (a plan left to it then holds its counts).
    pub fn describe(&self, mode: &str, promoted: bool) -> (String, String) {
        if self.by_promotion && !promoted {
            return (
                "left to the promotion".into(),
                "(a headless run: its promotion makes it, under the lock)".into(),
            );
        }
        let mut counts = match mode {
            "append" => format!(
                "{} insert (every good row is appended)",
                thousands(self.insert)
            ),
            "insert" => format!(
                "{} insert · {} skipped (key already in production)",
                thousands(self.insert),
                thousands(self.skipped)
            ),
            _ => format!(
                "{} insert · {} update · {} unchanged",
                thousands(self.insert),
                thousands(self.update),
                thousands(self.unchanged)
            ),
        };
        if matches!(mode, "swap" | "mirror") {
            counts.push_str(&format!(" · {} delete", thousands(self.delete)));
        }
        let basis = if self.by_promotion {
            "(counted by the promotion)".to_string()
        } else {
            format!("(production has {} rows)", thousands(self.production_rows))
        };
        (counts, basis)
    }

    /// The good rows the plan covers: inserted, updated, unchanged or skipped.
    pub fn rows(&self) -> i64 {
        self.insert + self.update + self.unchanged + self.skipped
    }

    /// What differs between two plans, for a person: `insert 242 → 240, update 10 → 12`.
    /// Empty when promotion would do the same thing to production.
    pub fn differences(&self, now: &Plan) -> Vec<String> {
        [
            ("insert", self.insert, now.insert),
            ("update", self.update, now.update),
            ("unchanged", self.unchanged, now.unchanged),
            ("delete", self.delete, now.delete),
            ("skipped", self.skipped, now.skipped),
        ]
        .into_iter()
        .filter(|(_, a, b)| a != b)
        .map(|(what, a, b)| format!("{what} {a} → {b}"))
        .collect()
    }
}
