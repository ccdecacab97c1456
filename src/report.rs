//! What a batch is, as people and scripts read it: the summary behind `check`, `show` and
//! their `--json`, and its human rendering.
use crate::batch::{State, Verdict};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

use crate::error::{Error, Result};
use crate::format::thousands;
use crate::layout::StageNames;
use crate::plan::Plan;
use crate::validate::policy::RowCounts;

impl Example {
    /// Where the example is: its line, after its file's name when the batch has several.
    pub fn place(&self) -> String {
        crate::source::parts::Place {
            file: self.file.as_deref(),
            line: self.line,
        }
        .to_string()
    }
}

/// One check's findings: how many rows it caught, and the first example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckSummary {
    pub check: String,
    pub column: Option<String>,
    pub severity: String,
    pub rows: i64,
    pub example: Example,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Example {
    /// The file it is in, for a batch of several files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Its line (in that file).
    pub line: i64,
    pub value: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileFacts {
    pub path: String,
    /// The feed spec the file was checked with.
    pub spec: String,
    pub size: Option<i64>,
    pub sha256: Option<String>,
    pub encoding: String,
    /// `gzip`, `zstd`, `bzip2`, `xz`, or `none`.
    pub compression: Option<String>,
    /// The bytes of text the file held (its size, when not compressed).
    pub text_size: Option<i64>,
    /// `csv`, `tsv`, `jsonl` or `xlsx`.
    pub format: Option<String>,
    /// For a directory or a pattern: each part, with its name, size, sha256 and rows.
    pub parts: Vec<crate::source::parts::Part>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DecisionRecord {
    pub decision: String,
    pub db_role: String,
    pub os_user: Option<String>,
    pub decided_at: String,
    pub note: Option<String>,
    pub counts: Option<serde_json::Value>,
}

/// The JSON contract of `check --json` and `show --json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub batch: i64,
    pub feed: String,
    pub target: String,
    pub mode: String,
    pub state: State,
    pub verdict: Option<Verdict>,
    pub breaches: Vec<String>,
    pub rows: RowCounts,
    pub checks: Vec<CheckSummary>,
    pub plan: Plan,
    pub file: FileFacts,
    pub notes: Vec<String>,
    pub error: Option<String>,
    pub db_role: String,
    pub os_user: Option<String>,
    pub created_at: String,
    pub decisions: Vec<DecisionRecord>,
    /// What promotion did, once promoted.
    pub applied: Option<serde_json::Value>,
    /// The table a swap replaced, kept for `undo`.
    pub previous_table: Option<String>,
    /// Each source column's profile as the file was read (empty for a batch read before
    /// profiles were kept).
    pub profile: Vec<crate::profile::ColumnProfile>,
    /// This batch against the feed's last promoted one, when there is one.
    pub since_last: Option<crate::batch::history::SinceLast>,
    /// What `undo` would use, for a person, while the batch can be undone: the table a swap
    /// replaced, or where the rows an upsert, insert or mirror changed are kept.
    pub kept_for_undo: Option<String>,
    /// Where the validation's time went.
    pub timings: Option<serde_json::Value>,
    /// When a server restart emptied the batch's staging: its rows can no longer be shown.
    pub staging_lost_at: Option<String>,
    /// What the columns' parsing rules changed, per column, with an example.
    pub conversions: Vec<crate::stage::Conversion>,
}

impl Summary {
    /// Whether the batch has been promoted (and perhaps undone since).
    pub fn promoted(&self) -> bool {
        self.applied.is_some()
    }
}

/// Aggregates the issues table into one line per (check, column, severity).
pub async fn summarize_checks(client: &Client, names: &StageNames) -> Result<Vec<CheckSummary>> {
    let rows = client
        .query(
            &format!(
                // One pass over the issues; each group's example is its first issue by
                // line, read back by id.
                "SELECT c.\"check\", c.\"column\", c.severity, c.n, e.line, e.value, e.message \
                 FROM (SELECT \"check\", \"column\", severity, count(DISTINCT ord) AS n, \
                              min(ARRAY[line, id]) AS first \
                       FROM {issues} GROUP BY 1, 2, 3) c \
                 JOIN {issues} e ON e.id = c.first[2] \
                 ORDER BY CASE c.severity WHEN 'error' THEN 0 WHEN 'superseded' THEN 1 ELSE 2 END, \
                          c.n DESC, c.\"check\", c.\"column\"",
                issues = names.issues
            ),
            &[],
        )
        .await
        .map_err(Error::db("summarizing issues"))?;
    Ok(rows
        .into_iter()
        .map(|r| CheckSummary {
            check: r.get(0),
            column: r.get(1),
            severity: r.get(2),
            rows: r.get(3),
            example: Example {
                file: None,
                line: r.get(4),
                value: r.get(5),
                message: r.get(6),
            },
        })
        .collect())
}

/// How many rows have an issue of `checks` on `column` (for a check's own threshold).
pub async fn rows_failing(
    client: &Client,
    names: &StageNames,
    column: &str,
    checks: &[&str],
) -> Result<i64> {
    Ok(client
        .query_one(
            &format!(
                "SELECT count(DISTINCT ord) FROM {} WHERE \"column\" = $1 AND \"check\" = ANY($2)",
                names.issues
            ),
            &[&column, &checks],
        )
        .await
        .map_err(Error::db("counting a check's rows"))?
        .get(0))
}

/// Row counts from the issues table; `good`, the typed rows, comes from the plan, which
/// joins each of them to production exactly once, or when there is none is counted here.
pub async fn count_rows(
    client: &Client,
    names: &StageNames,
    total: i64,
    good: Option<i64>,
) -> Result<RowCounts> {
    let good = match good {
        Some(n) => n,
        None => client
            .query_one(&format!("SELECT count(*) FROM {}", names.rows), &[])
            .await
            .map_err(Error::db("counting rows"))?
            .get(0),
    };
    let row = client
        .query_one(
            &format!(
                // A row leaves the typed rows only with an error or superseded issue: warned
                // rows still going to production are those with neither. One pass, grouped
                // by row: no index needed.
                "SELECT count(*) FILTER (WHERE e), count(*) FILTER (WHERE s), \
                        count(*) FILTER (WHERE w AND NOT e AND NOT s) \
                 FROM (SELECT bool_or(severity = 'error') AS e, \
                              bool_or(severity = 'superseded') AS s, \
                              bool_or(severity = 'warning') AS w \
                       FROM {issues} GROUP BY ord) i",
                issues = names.issues,
            ),
            &[],
        )
        .await
        .map_err(Error::db("counting rows"))?;
    Ok(RowCounts {
        total,
        good,
        quarantined: row.get(0),
        superseded: row.get(1),
        warned: row.get(2),
    })
}

fn from_json<T: serde::de::DeserializeOwned + Default>(v: Option<serde_json::Value>) -> T {
    v.and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

pub async fn load(client: &Client, id: i64) -> Result<Summary> {
    let r = client
        .query_opt(
            "SELECT id, feed, target, mode, state, verdict, breaches, rows_total, rows_good, \
                    rows_quarantined, rows_superseded, rows_warned, checks, plan, file_path, \
                    file_size, file_sha256, encoding, notes, error, db_role, os_user, \
                    to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
                    applied, previous_table, timings, spec_path, \
                    to_char(staging_lost_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"'), \
                    compression, text_size, conversions, format, parts, \
                    state = 'promoted' AND undo IS NOT NULL, profile \
             FROM airlock.batches WHERE id = $1",
            &[&id],
        )
        .await
        .map_err(Error::db(format!("reading batch {id}")))?
        .ok_or(Error::BatchNotFound { id })?;
    let count = |i: usize| r.get::<_, Option<i64>>(i).unwrap_or(0);
    let decisions = client
        .query(
            "SELECT decision, db_role, os_user, \
                    to_char(decided_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), note, counts \
             FROM airlock.decisions WHERE batch_id = $1 ORDER BY id",
            &[&id],
        )
        .await
        .map_err(Error::db(format!("reading decisions of batch {id}")))?
        .into_iter()
        .map(|d| DecisionRecord {
            decision: d.get(0),
            db_role: d.get(1),
            os_user: d.get(2),
            decided_at: d.get(3),
            note: d.get(4),
            counts: d.get(5),
        })
        .collect();
    let parts = crate::source::parts::PartMap::from_json(r.get(32));
    let mut checks: Vec<CheckSummary> = from_json(r.get(12));
    for c in &mut checks {
        let place = parts.locate(c.example.line);
        c.example.file = place.file.map(str::to_owned);
        c.example.line = place.line;
    }
    let mut summary = Summary {
        batch: r.get(0),
        feed: r.get(1),
        target: r.get(2),
        mode: r.get(3),
        state: r.get(4),
        verdict: r.get(5),
        breaches: from_json(r.get(6)),
        rows: RowCounts {
            total: count(7),
            good: count(8),
            quarantined: count(9),
            superseded: count(10),
            warned: count(11),
        },
        checks,
        plan: from_json(r.get(13)),
        file: FileFacts {
            path: r.get(14),
            spec: r.get(26),
            size: r.get(15),
            sha256: r.get(16),
            encoding: r.get(17),
            compression: r.get(28),
            text_size: r.get(29),
            format: r.get(31),
            parts: parts.parts().to_vec(),
        },
        notes: from_json(r.get(18)),
        error: r.get(19),
        db_role: r.get(20),
        os_user: r.get(21),
        created_at: r.get(22),
        decisions,
        applied: r.get(23),
        previous_table: r.get(24),
        since_last: None,
        profile: r
            .get::<_, Option<serde_json::Value>>(34)
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default(),
        kept_for_undo: match (r.get::<_, Option<String>>(24), r.get::<_, bool>(33)) {
            (Some(previous), _) => Some(format!("{previous} (the table its swap replaced)")),
            (None, true) if r.get::<_, String>(3) == "append" => {
                Some("the id of the transaction that appended its rows".into())
            }
            (None, true) => Some(format!(
                "{} (the keys it inserted, the rows it changed as they were)",
                crate::layout::StageNames::new(r.get(0)).undo
            )),
            (None, false) => None,
        },
        timings: r.get(25),
        staging_lost_at: r.get(27),
        conversions: from_json(r.get(30)),
    };
    let history = crate::batch::history::of(client, id, &summary.feed, &summary.target).await?;
    summary.since_last = history.since_last(summary.rows.total);
    Ok(summary)
}

/// Adds to the summary's "since" the keys added and gone against the last promoted batch
/// (two anti-joins of staged rows: for `show` and the review, not for `check`). With
/// `max_rows`, batches larger than that are left uncounted (the review opens at once).
pub async fn count_keys_since(client: &Client, s: &mut Summary, max_rows: Option<i64>) {
    let total = s.rows.total;
    let Some(since) = s.since_last.as_mut() else {
        return;
    };
    if max_rows.is_some_and(|max| total > max || since.rows_before > max) {
        since.keys_skipped = true;
        return;
    }
    let definition: Option<serde_json::Value> = client
        .query_opt(
            "SELECT target_definition FROM airlock.batches WHERE id = $1",
            &[&s.batch],
        )
        .await
        .ok()
        .flatten()
        .and_then(|r| r.get(0));
    let key: Vec<String> = definition
        .and_then(|d| serde_json::from_value::<Vec<serde_json::Value>>(d).ok())
        .unwrap_or_default()
        .iter()
        .filter(|c| c.get(3).and_then(|k| k.as_bool()) == Some(true))
        .filter_map(|c| Some(c.get(0)?.as_str()?.to_string()))
        .collect();
    crate::batch::history::count_keys(client, s.batch, since, &key).await;
}

/// The summary as a person reads it: what happened, what is wrong, what would change, and
/// what to do next.
pub fn render(s: &Summary) -> String {
    render_for(s, "airlock")
}

/// The same, the commands it suggests run as `airlock` says (`airlock --database-url '…'`
/// where the batch is not in the default database).
pub fn render_for(s: &Summary, airlock: &str) -> String {
    let mut out = render_facts(s);
    if s.state == State::Validated {
        next_steps(&mut out, s, airlock);
    }
    out
}

/// What happened, what is wrong and what would change, without the commands to run next
/// (for an engine where they are not available).
fn render_facts(s: &Summary) -> String {
    let mut out = String::new();
    let verdict = s.verdict.map_or("-", |v| v.as_str()).to_uppercase();
    let _ = writeln!(
        out,
        "Batch {}  {} → {} ({})  state: {}  verdict: {}",
        s.batch, s.feed, s.target, s.mode, s.state, verdict
    );
    let compressed = match (s.file.compression.as_deref(), s.file.text_size) {
        (Some(c), Some(text)) if c != "none" => {
            format!(" ({c}, {} bytes of text)", thousands(text))
        }
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "File {}  {} bytes{compressed}  sha256 {}  {}",
        s.file.path,
        thousands(s.file.size.unwrap_or(0)),
        s.file
            .sha256
            .as_deref()
            .map(|h| &h[..h.len().min(12)])
            .unwrap_or("-"),
        // A sheet's or a JSON file's text has no encoding to choose.
        match s.file.format.as_deref() {
            Some(format @ ("jsonl" | "xlsx")) => format,
            _ => &s.file.encoding,
        }
    );
    for p in &s.file.parts {
        let _ = writeln!(
            out,
            "  part {}  {} bytes  {} rows  sha256 {}",
            crate::format::visible(&p.name, false),
            thousands(p.size as i64),
            thousands(p.records as i64),
            &p.sha256[..p.sha256.len().min(12)],
        );
    }
    if let Some(error) = &s.error {
        let _ = writeln!(out, "\nError: {error}");
    }
    for b in &s.breaches {
        let _ = writeln!(out, "  ✗ {b}");
    }
    if let Some(since) = &s.since_last {
        let _ = writeln!(
            out,
            "\nSince {}",
            since.describe().trim_start_matches("since ")
        );
        // Findings the policy let pass are said here; the others are notes or breaches.
        let said = |d: &String| {
            s.notes
                .iter()
                .chain(&s.breaches)
                .any(|n| n.contains(d.as_str()))
        };
        for d in since.drift.iter().filter(|d| !said(d)) {
            let _ = writeln!(out, "  {d} (policy drift = \"allow\")");
        }
    }
    let r = &s.rows;
    let _ = writeln!(
        out,
        "\nRows  {} read · {} good · {} quarantined{}{}",
        thousands(r.total),
        thousands(r.good),
        thousands(r.quarantined),
        if r.superseded > 0 {
            format!(" · {} superseded", thousands(r.superseded))
        } else {
            String::new()
        },
        if r.warned > 0 {
            format!(" · {} with warnings", thousands(r.warned))
        } else {
            String::new()
        },
    );
    if !s.checks.is_empty() {
        let _ = writeln!(out, "\nChecks");
        let _ = writeln!(
            out,
            "  {:<18} {:<14} {:>8}  first at",
            "check", "column", "rows"
        );
        for c in &s.checks {
            // The value is shown unless the message already quotes it.
            let value = c
                .example
                .value
                .as_deref()
                .filter(|v| !c.example.message.contains(*v))
                .map(|v| format!("'{}' ", crate::validate::clip(v, 24)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {:<18} {:<14} {:>8}  line {}: {}{}{}",
                crate::validate::clip(&c.check, 18),
                crate::validate::clip(c.column.as_deref().unwrap_or("-"), 14),
                thousands(c.rows),
                c.example.place(),
                value,
                crate::format::fit_message(&c.example.message, 90),
                if c.severity == "error" {
                    ""
                } else if c.severity == "warning" {
                    "  (warning, row kept)"
                } else {
                    "  (superseded)"
                },
            );
        }
    }
    if !matches!(s.state, State::Loading | State::LoadFailed) {
        let p = &s.plan;
        let (counts, basis) = p.describe(&s.mode, s.promoted());
        let _ = writeln!(out, "\nPlan  {counts}  {basis}");
        let changed: Vec<String> = p
            .columns
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(c, n)| format!("{c} ({})", thousands(*n)))
            .collect();
        if !changed.is_empty() {
            let _ = writeln!(out, "      changes: {}", changed.join(", "));
        }
    }
    if !s.conversions.is_empty() {
        let _ = writeln!(out, "\nRead by the [columns] rules");
        for c in &s.conversions {
            let _ = writeln!(
                out,
                "  {:<18} {:>9} value{}  e.g. '{}' → {}{}",
                c.column,
                thousands(c.rows as i64),
                if c.rows == 1 { " " } else { "s" },
                crate::format::visible(&c.from, false),
                crate::format::visible(&c.to, false),
                match c.rules.is_empty() {
                    true => String::new(),
                    false => format!("  by {}", c.rules),
                }
            );
        }
    }
    for n in &s.notes {
        let _ = writeln!(out, "\nNote: {n}");
    }
    if !s.decisions.is_empty() {
        let _ = writeln!(out, "\nDecisions");
        for d in &s.decisions {
            let _ = writeln!(
                out,
                "  {}  {:<10} by {} ({}){}",
                d.decided_at,
                d.decision,
                d.db_role,
                d.os_user.as_deref().unwrap_or("?"),
                d.note
                    .as_deref()
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default()
            );
        }
    }
    if let Some(applied) = s
        .applied
        .clone()
        .and_then(|a| serde_json::from_value::<crate::promote::Applied>(a).ok())
    {
        let _ = writeln!(out, "\nApplied  {}", applied.describe(" · "));
    }
    if let Some(kept) = &s.kept_for_undo {
        let _ = writeln!(out, "Kept for undo: {kept}  (airlock undo {})", s.batch);
    }
    out
}

fn next_steps(out: &mut String, s: &Summary, airlock: &str) {
    let r = &s.rows;
    {
        let _ = writeln!(out, "\nNext");
        if s.verdict == Some(Verdict::Abort) {
            let _ = writeln!(
                out,
                "  {airlock} promote {} --yes --override-policy --note \"why\"   promote despite the breaches",
                s.batch
            );
        } else {
            let _ = writeln!(
                out,
                "  {airlock} promote {} --yes --note \"…\"              promote the {} good rows",
                s.batch,
                thousands(r.good)
            );
        }
        if r.quarantined > 0 {
            let _ = writeln!(
                out,
                "  {airlock} export {} --quarantined bad-rows.csv   the bad rows for the partner",
                s.batch
            );
        }
        let _ = writeln!(
            out,
            "  {airlock} quarantine {} --note \"…\"              set the batch aside",
            s.batch
        );
        let _ = writeln!(
            out,
            "  {airlock} abort {}                              end it; production untouched",
            s.batch
        );
    }
}
