//! `check`: the pipeline from file to validated batch — read, stage, validate, plan, judge —
//! without writing to production.
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use tokio_postgres::Client;

use crate::batch::{self, NewBatch, State};
use crate::error::{Error, Result};
use crate::feed::{Feed, Mode};
use crate::plan::Plan;
use crate::report;
use crate::source::parts::Input;
use crate::source::{ReadProgress, SourceOptions, SourceReader};
use crate::stage::{self, StageNames};
use crate::timing::Timings;
use crate::validate::keys::KeyTracker;
use crate::validate::lookup::LookupMap;
use crate::validate::types::TypeRule;
use crate::validate::{binding, policy, sql};

/// Lets a caller (the TUI) watch and cancel a running check, and a headless run leave the
/// plan to its promotion.
#[derive(Clone, Default)]
pub struct CheckControl {
    pub cancel: Arc<AtomicBool>,
    pub progress: Arc<std::sync::Mutex<Option<Arc<ReadProgress>>>>,
    /// Leave the plan to the promotion, which makes one under its lock anyway (see
    /// `Plan::by_promotion`).
    pub plan_by_promotion: bool,
}

/// Loads and validates `file` for `feed`; returns the new batch's id. Production is only
/// read. On failure after the batch exists, the batch is marked `load_failed` with the error.
pub async fn check(
    client: &mut Client,
    second: Option<Client>,
    feed: &Feed,
    file: &Path,
    control: &CheckControl,
) -> Result<i64> {
    stage::ensure_catalog(client).await?;
    let input = Input::resolve(file)?;
    let first = input
        .parts
        .first()
        .cloned()
        .unwrap_or_else(|| file.to_owned());
    let options = feed.source_options(&first)?;
    let mut reader = SourceReader::open_input(&input, options.clone())?;
    if let Ok(mut slot) = control.progress.lock() {
        *slot = Some(reader.progress());
    }
    // Without a header, the spec names the columns in file order.
    let header = match (reader.header()?, &feed.spec.source.columns) {
        (None, Some(columns)) if !options.has_header => Some(columns.clone()),
        (header, _) => header,
    };
    let mut binding = binding::bind(feed, &first, header.as_deref(), reader.header_line())?;
    binding.notes.extend(reader.part_notes().iter().cloned());
    binding.parts = input.multi;
    reader.set_json_fields(binding.json_fields());
    let file_size = input.size() as i64;
    let absolute = std::path::absolute(file).unwrap_or_else(|_| file.to_owned());
    let id = batch::create(
        client,
        &NewBatch {
            feed: &feed.spec.name,
            spec_path: &feed.path.display().to_string(),
            spec: &feed.spec_text,
            target: &feed.target.display_name(),
            target_oid: feed.target.oid,
            mode: feed.spec.mode.as_str(),
            file_path: &absolute.display().to_string(),
            file_size,
            encoding: &feed.spec.source.encoding,
            header: &binding.header,
        },
    )
    .await?;
    let source = Source {
        reader,
        input: &input,
        options,
    };
    let result =
        stage_and_validate(client, second.as_ref(), feed, id, source, binding, control).await;
    let result = match result {
        Ok(()) => Ok(id),
        Err(e) => {
            let e = if control.cancel.load(std::sync::atomic::Ordering::Relaxed) {
                Error::Cancelled {
                    what: format!("batch {id} stopped while loading; production untouched"),
                }
            } else {
                e
            };
            // Best effort: the original error matters more than a failure to record it.
            let _ = batch::mark_failed(client, id, State::LoadFailed, &e.to_string()).await;
            Err(e)
        }
    };
    batch::release(client, id).await;
    result
}

/// The file being checked: its open reader, and how to read it again from the start.
struct Source<'a> {
    reader: SourceReader,
    input: &'a Input,
    options: SourceOptions,
}

/// Opens the input again, past its header, fields read as the binding says.
fn reopen(
    input: &Input,
    options: SourceOptions,
    binding: &binding::Binding,
) -> Result<SourceReader> {
    let mut reader = SourceReader::open_input(input, options)?;
    reader.header()?;
    reader.set_json_fields(binding.json_fields());
    Ok(reader)
}

async fn stage_and_validate(
    client: &Client,
    second: Option<&Client>,
    feed: &Feed,
    id: i64,
    source: Source<'_>,
    binding: binding::Binding,
    control: &CheckControl,
) -> Result<()> {
    let mut timings = Timings::start();
    let names = StageNames::new(id);
    // Each statement here runs once over the batch: compiling it to machine code (the
    // server's JIT, on for big queries by default) costs more than it saves.
    client
        .batch_execute("SET jit = off")
        .await
        .map_err(Error::db("setting up the session"))?;
    stage::create_tables(client, &names, &binding).await?;
    // The fast path may have to read the file a second time (see below): a pipe cannot be.
    let fast = match source.reader.rereadable() {
        true => fast_path(client, &binding).await?,
        false => None,
    };
    let format = source.options.format;
    let binding = Arc::new(binding);
    let (stats, typed) = if binding.header.is_empty() {
        // No header line: nothing to stream, and the reader has already seen the whole file.
        let stats = stage::LoadStats {
            records: 0,
            bytes: source.reader.progress().bytes(),
            text_bytes: source.reader.progress().text_bytes(),
            sha256: source.reader.sha256().unwrap_or_default(),
            compression: source.reader.compression(),
            parts: source.reader.parts(),
            ..Default::default()
        };
        (stats, stage::TypedLoad::NotWritten)
    } else {
        let load = |reader, fast| {
            let reading = stage::Reading {
                reader,
                binding: binding.clone(),
                nulls: feed.spec.source.null.clone(),
                fast,
                cancel: control.cancel.clone(),
            };
            stage::load(client, second, &names, reading)
        };
        match load(source.reader, fast).await? {
            // The server refused a value the Rust rules accepted — a gap in the rules, never
            // a reason to fail. The good rows' fields went with the refused COPY, so the file
            // is read again and SQL judges every value.
            (first, stage::TypedLoad::Refused) => {
                stage::empty_tables(client, &names).await?;
                let again = reopen(source.input, source.options, &binding)?;
                let (stats, typed) = load(again, None).await?;
                if stats.sha256 != first.sha256 {
                    return Err(Error::File {
                        path: source.input.given.clone(),
                        problem: "the file changed while it was being read".into(),
                    });
                }
                (stats, typed)
            }
            loaded => loaded,
        }
    };
    let sha256 = Some(stats.sha256.as_str()).filter(|s| !s.is_empty());
    batch::record_load(
        client,
        id,
        &batch::LoadRecord {
            sha256,
            records: stats.records as i64,
            bytes: stats.bytes as i64,
            compression: stats.compression.as_str(),
            text_bytes: stats.text_bytes as i64,
            definition: &binding.definition(),
            conversions: json(&stats.conversions),
            format: format.as_str(),
            parts: json(&stats.parts),
            profile: json(&stats.profile),
        },
    )
    .await?;

    timings.lap("load (read, row checks, COPY)");
    let loaded = sql::Loaded {
        pending: &stats.pending,
        // A load without the fast path never reports a refusal: nothing typed was written.
        typed_written: typed == stage::TypedLoad::Written,
        candidates: stats.candidates.as_deref(),
    };
    sql::run(client, feed, &binding, &names, &loaded, &mut timings).await?;
    let later = control.plan_by_promotion;
    judge(client, feed, &binding, &names, stats.records as i64, later).await?;
    timings.lap("plan and verdict");
    batch::record_timings(client, id, &json(&timings)).await
}

/// Whether the load can write the typed rows itself: every column's values decided in Rust
/// (no server-checked types) and every lookup table small enough to hold in memory.
async fn fast_path(client: &Client, binding: &binding::Binding) -> Result<Option<stage::Fast>> {
    if binding
        .columns
        .iter()
        .any(|c| matches!(c.rule, TypeRule::Server))
    {
        return Ok(None);
    }
    let mut lookups = Vec::with_capacity(binding.columns.len());
    for col in &binding.columns {
        lookups.push(match &col.lookup {
            None => None,
            Some(_) => match LookupMap::load(client, col).await? {
                Some(map) => Some(Arc::new(map)),
                None => return Ok(None),
            },
        });
    }
    Ok(Some(stage::Fast {
        lookups,
        keys: KeyTracker::for_binding(binding),
    }))
}

/// Counts, summarizes and judges the staged batch, and records it as `validated`: after a
/// load, and again after promotion set rows aside. With `plan_by_promotion`, the plan is
/// left to the promotion unless the verdict is abort, when someone will review it.
pub async fn judge(
    client: &Client,
    feed: &Feed,
    binding: &binding::Binding,
    names: &StageNames,
    total: i64,
    plan_by_promotion: bool,
) -> Result<()> {
    let make_plan =
        || crate::plan::compute(client, &feed.target, binding, names, feed.spec.mode, true);
    // A policy that weighs the plan's updates needs the plan before any promotion.
    // A mirror's deletes are always shown before they happen.
    let plan_by_promotion = plan_by_promotion
        && feed.spec.policy.max_update_fraction.is_none()
        && feed.spec.mode != Mode::Mirror
        && !drift_decides(feed, binding);
    let mut plan = match (plan_by_promotion, feed.spec.mode) {
        (false, _) => make_plan().await?,
        // The policy does not read an upsert's plan.
        (true, Mode::Upsert | Mode::Insert | Mode::Mirror | Mode::Append) => Plan {
            by_promotion: true,
            ..Plan::default()
        },
        // It reads how many rows production has, against a swap's good rows.
        (true, Mode::Swap) => Plan {
            by_promotion: true,
            production_rows: crate::plan::production_rows(client, &feed.target).await?,
            ..Plan::default()
        },
    };
    let good = (!plan.by_promotion).then_some(plan.rows());
    let rows = report::count_rows(client, names, total, good).await?;
    let checks = report::summarize_checks(client, names).await?;
    let mut history = batch::history::of(
        client,
        names.batch,
        &feed.spec.name,
        &feed.target.display_name(),
    )
    .await?;
    if !plan.by_promotion {
        let moved =
            crate::validate::drift::against_production(client, &feed.target, binding, names, &plan)
                .await?;
        history.drift.extend(moved);
    }
    let judged = policy::judge_with_history(
        &feed.spec.policy,
        feed.spec.mode,
        &rows,
        &plan,
        !checks.is_empty(),
        &history,
    );
    let (mut verdict, mut breaches) = (judged.verdict, judged.breaches);
    let mut counted = Vec::new();
    for t in &feed.thresholds {
        let rows = report::rows_failing(client, names, &t.column, &t.checks).await?;
        counted.push((t.clone(), rows));
    }
    let own = policy::thresholds(&counted, rows.total);
    if !own.is_empty() {
        breaches.extend(own);
        verdict = policy::Verdict::Abort;
    }
    let mut notes = binding.notes.clone();
    notes.extend(judged.warnings.iter().map(|w| format!("warning: {w}")));
    if plan.by_promotion && verdict == policy::Verdict::Abort {
        plan = make_plan().await?;
    }
    batch::record_validation(
        client,
        names.batch,
        &batch::Validation {
            verdict,
            breaches: json(&breaches),
            notes: json(&notes),
            rows: &rows,
            checks: json(&checks),
            plan: json(&plan),
        },
    )
    .await
}

/// Releases a quarantined batch: back to `validated` with a note in the audit log, then
/// judged again — plan, history and verdict against production as it is now — so whatever
/// changed while it was set aside is what the next decision sees. Refused when its staging
/// is gone (the file must then be checked again).
pub async fn release(client: &mut Client, id: i64, note: &str) -> Result<()> {
    stage::ensure_catalog(client).await?;
    if note.trim().is_empty() {
        return Err(Error::Refused {
            id,
            action: "released",
            reason: "a release needs a note saying why (--note)".into(),
        });
    }
    let b = crate::promote::load(client, id).await?;
    let staged: bool = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&b.names.rows])
        .await
        .map_err(Error::db(format!("reading batch {id}")))?
        .get(0);
    if !staged {
        return Err(Error::Refused {
            id,
            action: "released",
            reason: "its staging was dropped; check the file again".into(),
        });
    }
    batch::release_from_quarantine(client, id, note).await?;
    judge(client, &b.feed, &b.binding, &b.names, b.rows_total, false).await
}

/// Whether drift against production could change what a headless run does: the policy makes
/// it an abort, or a warning that keeps a `clean`-only run from promoting, and the file feeds
/// a numeric column production has values of. Then the plan (whose join counts the moves) is
/// made before the promotion.
fn drift_decides(feed: &Feed, binding: &binding::Binding) -> bool {
    use crate::feed::{AutoPromote, Reaction};
    let policy = &feed.spec.policy;
    let decides = match policy.drift {
        Reaction::Abort => true,
        Reaction::Warn => policy.auto_promote == AutoPromote::Clean,
        Reaction::Allow => false,
    };
    decides
        && matches!(feed.spec.mode, Mode::Upsert | Mode::Mirror)
        && binding.value_columns().any(crate::plan::is_numeric)
}

/// Makes the plan a headless run left to the promotion (`Plan::by_promotion`), for a person
/// about to see or approve the batch, and records it. Returns the plan.
pub async fn complete_plan(client: &Client, b: &crate::promote::Loaded) -> Result<Plan> {
    let plan = crate::plan::compute(
        client,
        &b.feed.target,
        &b.binding,
        &b.names,
        b.feed.spec.mode,
        true,
    )
    .await?;
    batch::record_plan(client, b.id, &json(&plan)).await?;
    Ok(plan)
}

fn json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}
