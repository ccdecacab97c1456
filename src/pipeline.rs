//! `check`: the pipeline from file to validated batch — read, stage, validate, plan, judge —
//! without writing to production.
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use tokio_postgres::Client;

use crate::batch::{self, NewBatch, State};
use crate::error::{Error, Result};
use crate::feed::Feed;
use crate::layout::StageNames;
use crate::source::parts::Input;
use crate::source::{ReadProgress, SourceOptions, SourceReader};
use crate::stage;
use crate::staged::Staged;
use crate::timing::Timings;
use crate::validate::keys::KeyTracker;
use crate::validate::lookup::LookupMap;
use crate::validate::types::TypeRule;
use crate::validate::{binding, sql};

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
    let Opened {
        input,
        reader,
        options,
        binding,
    } = open(feed, file, control)?;
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

/// A file opened for checking: its input (one file or several), the reader past its header,
/// and the header bound to the target.
pub struct Opened {
    pub input: Input,
    pub reader: SourceReader,
    pub options: SourceOptions,
    pub binding: binding::Binding,
}

/// Opens `file` as `feed` reads it and binds its header to the target; the reader is left
/// at the first record, its progress handed to `control`.
pub fn open(feed: &Feed, file: &Path, control: &CheckControl) -> Result<Opened> {
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
    Ok(Opened {
        input,
        reader,
        options,
        binding,
    })
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
    let loaded = sql::FromLoad {
        pending: &stats.pending,
        // A load without the fast path never reports a refusal: nothing typed was written.
        typed_written: typed == stage::TypedLoad::Written,
        candidates: stats.candidates.as_deref(),
    };
    let staged = Staged::new(feed, &binding, &names);
    sql::run(client, staged, &loaded, &mut timings).await?;
    let later = control.plan_by_promotion;
    crate::judge::judge(client, staged, stats.records as i64, later).await?;
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

fn json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}
