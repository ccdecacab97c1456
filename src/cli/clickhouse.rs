//! The commands on ClickHouse (`--database-url clickhouse://…`). `check`, `batches` and
//! `show` behave as on PostgreSQL, JSON and exit statuses included; the rest of the flow
//! (review, promotion, undo, leftovers) is not built on ClickHouse yet and is refused with
//! that reason before anything is read or written.
use std::process::ExitCode;

use super::{Cli, Command, out, print_json, progress, render_list, verdict_exit};
use crate::batch::BatchListItem;
use crate::clickhouse::{ClickHouse, ClickHouseUrl, batches, check};
use crate::pipeline::CheckControl;
use crate::{feed, report};

pub async fn run(cli: &Cli, url: &str) -> anyhow::Result<ExitCode> {
    let command = match &cli.command {
        Command::Check { .. } | Command::Batches { .. } | Command::Show { .. } => None,
        other => Some(name(other)),
    };
    if let Some(command) = command {
        anyhow::bail!(
            "`{command}` is not available on ClickHouse yet: there, Airlock checks files \
             (check) and shows their batches (batches, show); review and promotion run on \
             PostgreSQL"
        );
    }
    let ch = ClickHouse::connect(&ClickHouseUrl::parse(url)?).await?;
    match &cli.command {
        Command::Check { feed, file, json } => {
            let feed = feed::load(&ch, feed).await?;
            let control = CheckControl::default();
            let cancel = control.cancel.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    cancel.store(true, std::sync::atomic::Ordering::Relaxed);
                }
            });
            let shown = progress::Progress::start(&control, cli.quiet);
            let id = check::check(&ch, &feed, file, &control).await;
            drop(shown);
            let summary = batches::summary(&ch, id?).await?;
            match json {
                true => print_json(&summary)?,
                false => out::text(&render(&summary)),
            }
            Ok(verdict_exit(&summary))
        }
        Command::Batches { json } => {
            batches::ensure_catalog(&ch).await?;
            let sizes = batches::staging_bytes(&ch).await?;
            let list: Vec<BatchListItem> = batches::list(&ch)
                .await?
                .iter()
                .map(|s| list_item(s, sizes.get(&s.batch).copied().unwrap_or(0)))
                .collect();
            match json {
                true => print_json(&list)?,
                false => out::text(&render_list(&list)),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { id, json } => {
            batches::ensure_catalog(&ch).await?;
            let summary = batches::summary(&ch, *id).await?;
            match json {
                true => print_json(&summary)?,
                false => out::text(&render(&summary)),
            }
            Ok(ExitCode::SUCCESS)
        }
        _ => unreachable!("refused above"),
    }
}

/// The summary, and what can be done with the batch on ClickHouse today.
fn render(summary: &report::Summary) -> String {
    let mut text = report::render_facts(summary);
    text.push_str(&format!(
        "\nOn ClickHouse, Airlock checks files and keeps their batches; review and\n\
         promotion are not built there yet. Staging: airlock_stage.batch_{}*\n",
        summary.batch
    ));
    text
}

/// The command's name as typed.
fn name(command: &Command) -> String {
    let debug = format!("{command:?}");
    let word = debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default();
    word.to_lowercase()
}

fn list_item(s: &report::Summary, staging_bytes: i64) -> BatchListItem {
    let created = chrono::NaiveDateTime::parse_from_str(&s.created_at, "%Y-%m-%d %H:%M:%S%.f UTC")
        .map(|t| t.and_utc());
    BatchListItem {
        batch: s.batch,
        feed: s.feed.clone(),
        target: s.target.clone(),
        mode: s.mode.clone(),
        state: s.state,
        verdict: s.verdict,
        file: s.file.path.clone(),
        rows_total: Some(s.rows.total),
        rows_good: Some(s.rows.good),
        rows_quarantined: Some(s.rows.quarantined),
        created_at: created
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_else(|_| s.created_at.clone()),
        age_seconds: created
            .map(|t| (chrono::Utc::now() - t).num_seconds())
            .unwrap_or_default(),
        staging_bytes,
        staging_lost_at: None,
    }
}
