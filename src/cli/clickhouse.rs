//! The commands on ClickHouse (`--database-url clickhouse://…`) behave as on PostgreSQL,
//! JSON and exit statuses included, and the review UI is the same.
use std::process::ExitCode;

use super::{
    Cli, Command, out, print_json, print_promotion, progress, render_list, said,
    stop_before_promoting, verdict_exit,
};
use crate::clickhouse::{
    ClickHouse, ClickHouseUrl, batches, check, decide, history, leftovers, promote,
};
use crate::pipeline::CheckControl;
use crate::{feed, report};

pub async fn run(cli: &Cli, url: &str) -> anyhow::Result<ExitCode> {
    let ch = ClickHouse::connect(&ClickHouseUrl::parse(url)?).await?;
    match &cli.command {
        Command::Init {
            target,
            sample,
            output,
            name,
        } => super::init(&ch, target, sample, output.as_deref(), name.as_deref()).await,
        Command::Review { feed, file, batch } => {
            let start = super::review_start(feed, file, *batch);
            crate::tui::run_clickhouse(ch, start).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { feed, file, json } => {
            let feed = feed::load(&ch, feed).await?;
            let id = checked(&ch, &feed, file, cli.quiet).await?;
            let mut summary = batches::summary(&ch, id).await?;
            history::since_last(&ch, &mut summary, &[], None).await?;
            match json {
                true => print_json(&summary)?,
                false => out::text(&report::render(&summary)),
            }
            Ok(verdict_exit(&summary))
        }
        Command::Batches { json } => {
            batches::ensure_catalog(&ch).await?;
            promote::reconcile(&ch).await?;
            let list = batches::items(&ch).await?;
            match json {
                true => print_json(&list)?,
                false => out::text(&render_list(&list)),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { id, json } => {
            batches::ensure_catalog(&ch).await?;
            promote::reconcile(&ch).await?;
            let mut summary = batches::summary(&ch, *id).await?;
            // The keys added and gone since the last promoted batch: by the key it was
            // checked with (none when its spec no longer resolves).
            let keys: Vec<String> = promote::ready(&ch, *id)
                .await
                .map(|r| r.binding.key_columns().map(|c| c.target.clone()).collect())
                .unwrap_or_default();
            history::since_last(&ch, &mut summary, &keys, None).await?;
            match json {
                true => print_json(&summary)?,
                false => out::text(&report::render(&summary)),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Promote {
            id,
            note,
            override_policy,
            locking,
            json,
            ..
        } => {
            let opts = locking.promotion(note.as_ref(), *override_policy);
            let applied = promote::promote(&ch, *id, &opts).await?;
            let summary = batches::summary(&ch, *id).await?;
            print_promotion(&summary, &applied, *json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Undo { id, .. } => {
            promote::undo(&ch, *id).await?;
            let summary = batches::summary(&ch, *id).await?;
            out::line(&format!(
                "batch {id} undone: {} holds the table this promotion replaced again",
                summary.target
            ));
            Ok(ExitCode::SUCCESS)
        }
        Command::Abort { id, note } => {
            decide::abort(&ch, *id, note.as_deref()).await?;
            out::line(&said::aborted(*id));
            Ok(ExitCode::SUCCESS)
        }
        Command::Quarantine { id, note } => {
            decide::quarantine(&ch, *id, note).await?;
            out::line(&said::quarantined(*id));
            Ok(ExitCode::SUCCESS)
        }
        Command::Release { id, note } => {
            decide::release(&ch, *id, note).await?;
            let summary = batches::summary(&ch, *id).await?;
            out::line(&said::released(&summary));
            Ok(ExitCode::SUCCESS)
        }
        Command::Export { id, quarantined } => {
            let n = decide::export(&ch, *id, quarantined).await?;
            out::line(&said::exported(*id, n, quarantined));
            Ok(ExitCode::SUCCESS)
        }
        Command::Drop { id, .. } => {
            let dropped = leftovers::drop_staging(&ch, *id, false).await?;
            out::line(&format!(
                "batch {id}: dropped {}",
                super::relations(&dropped)
            ));
            Ok(ExitCode::SUCCESS)
        }
        Command::Prune {
            older_than,
            dry_run,
            undo,
        } => {
            let found = leftovers::prunable(&ch, *older_than, *undo).await?;
            for p in &found {
                let drops = match *dry_run {
                    true => p.drops.clone(),
                    false => leftovers::drop_staging(&ch, p.id, !p.keeps.is_empty()).await?,
                };
                out::line(&super::prune_line(p, &drops, *dry_run));
            }
            if found.is_empty() {
                out::line(&said::nothing_to_prune(*older_than));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            feed,
            file,
            note,
            locking,
            json,
            ..
        } => {
            let feed = feed::load(&ch, feed).await?;
            let id = checked(&ch, &feed, file, cli.quiet).await?;
            let summary = batches::summary(&ch, id).await?;
            let shown = report::render(&summary);
            if let Some(stop) = stop_before_promoting(&summary, &feed.spec.policy, *json, shown)? {
                return Ok(stop);
            }
            // Nobody reviewed this plan: one that moved since the check is accepted as long
            // as the policy still holds.
            let opts = crate::promote::PromoteOptions {
                accept_plan_changes: true,
                ..locking.promotion(note.as_ref(), false)
            };
            let applied = promote::promote(&ch, id, &opts).await?;
            let summary = batches::summary(&ch, id).await?;
            print_promotion(&summary, &applied, *json)?;
            Ok(ExitCode::SUCCESS)
        }
        // Need no engine, or choose it themselves: dispatched before this.
        Command::Demo { .. } | Command::Completions { .. } | Command::Man => {
            unreachable!("dispatched before the engine is chosen")
        }
    }
}

/// `demo --engine clickhouse`: the sample catalog in a database `airlock_demo` (recreated),
/// the case-study feed checked against it, and the summary printed with commands that work
/// as printed; or, without `--print`, the review UI opened on it.
pub async fn demo(url: &str, print: bool) -> anyhow::Result<ExitCode> {
    const SCHEMA: &str = include_str!("../../fixtures/schema-clickhouse.sql");
    if !print {
        crate::tui::on_a_terminal()?;
    }
    let server = ClickHouseUrl::parse(url)?;
    let ch = ClickHouse::connect(&server).await.map_err(|e| {
        anyhow::anyhow!(
            "{e}\n\nThe ClickHouse demo needs a ClickHouse server (DATABASE_URL=clickhouse://…); \
             in a checkout, scripts/clickhouse starts the test engine and prints its URL."
        )
    })?;
    let name = super::demo::DEMO_DATABASE;
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} SYNC"),
        format!("CREATE DATABASE {name} ENGINE = Atomic"),
    ] {
        ch.execute(&sql, &format!("creating the sandbox database {name}"))
            .await?;
    }
    let demo_url = ClickHouseUrl {
        database: name.to_string(),
        ..server
    };
    let ch = ClickHouse::connect(&demo_url).await?;
    for statement in SCHEMA.split(";\n").filter(|s| {
        s.lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
    }) {
        ch.execute(statement, "loading the sample catalog").await?;
    }
    let (spec, file) = super::demo::write_feed("airlock-demo-clickhouse", |spec| {
        spec.replace("\"public.", &format!("\"{name}."))
    })?;
    if !print {
        crate::tui::run_clickhouse(ch, crate::tui::Start::Review { feed: spec, file }).await?;
        return Ok(ExitCode::SUCCESS);
    }
    let feed = feed::load(&ch, &spec).await?;
    let id = checked(&ch, &feed, &file, true).await?;
    let summary = batches::summary(&ch, id).await?;
    let airlock = format!("airlock --database-url '{}'", shown_url(&demo_url));
    out::text(&report::render_for(&summary, &airlock));
    out::line(&format!(
        "\nThe sandbox database is {name} on ClickHouse; the feed and its spec are in {}.",
        file.parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    ));
    Ok(ExitCode::SUCCESS)
}

/// The URL as a command line takes it back, with its password (the person typed it).
fn shown_url(u: &ClickHouseUrl) -> String {
    let scheme = if u.tls { "clickhouses" } else { "clickhouse" };
    let password = u
        .password
        .as_deref()
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    format!(
        "{scheme}://{}{password}@{}:{}/{}",
        u.user, u.host, u.port, u.database
    )
}

/// Checks `file` with a progress line on stderr; Ctrl-C stops it.
async fn checked(
    ch: &ClickHouse,
    feed: &feed::Feed,
    file: &std::path::Path,
    quiet: bool,
) -> anyhow::Result<i64> {
    let control = CheckControl::default();
    let cancel = control.cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    });
    let shown = progress::Progress::start(&control, quiet);
    let id = check::check(ch, feed, file, &control).await;
    drop(shown);
    Ok(id?)
}
