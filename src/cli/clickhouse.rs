//! The commands on ClickHouse (`--database-url clickhouse://…`). `check`, `batches`,
//! `show`, `promote` and `undo` behave as on PostgreSQL, JSON and exit statuses included;
//! the rest of the flow (the review, quarantine, abort, export, leftovers, `run`) is not
//! built on ClickHouse yet and is refused with that reason before anything is touched.
use std::process::ExitCode;

use super::{
    Cli, Command, out, print_json, print_promotion_with, progress, render_list, verdict_exit,
};
use crate::batch::BatchListItem;
use crate::clickhouse::{ClickHouse, ClickHouseUrl, batches, check, promote};
use crate::pipeline::CheckControl;
use crate::{feed, report};

pub async fn run(cli: &Cli, url: &str) -> anyhow::Result<ExitCode> {
    let command = match &cli.command {
        Command::Check { .. }
        | Command::Batches { .. }
        | Command::Show { .. }
        | Command::Promote { .. }
        | Command::Undo { .. } => None,
        other => Some(name(other)),
    };
    if let Some(command) = command {
        anyhow::bail!(
            "`{command}` is not available on ClickHouse yet: there, Airlock checks files \
             (check), shows their batches (batches, show), promotes them (promote) and \
             undoes a promotion (undo); the review and the rest run on PostgreSQL"
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
            promote::reconcile(&ch).await?;
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
            promote::reconcile(&ch).await?;
            let summary = batches::summary(&ch, *id).await?;
            match json {
                true => print_json(&summary)?,
                false => out::text(&render(&summary)),
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
            print_promotion_with(&summary, &applied, *json, false)?;
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
        _ => unreachable!("refused above"),
    }
}

/// The summary, and what can be done with the batch on ClickHouse today.
fn render(summary: &report::Summary) -> String {
    let mut text = report::render_facts(summary);
    if summary.state == crate::batch::State::Validated {
        let flag = match summary.verdict {
            Some(crate::batch::Verdict::Abort) => " --override-policy",
            _ => "",
        };
        text.push_str(&format!(
            "\nNext (on ClickHouse)\n  airlock promote {} --yes{flag} --note \"…\"\n\
             The review, quarantine, abort and export are not built on ClickHouse yet.\n",
            summary.batch
        ));
    }
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
