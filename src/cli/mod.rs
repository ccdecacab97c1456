//! The command line: clap definitions and the thin glue from each command to the library.
//! Exit status: 0 success, 1 error, 2 usage, 3 the verdict was abort (nothing promoted), 4 a
//! `run` left the batch for review (`auto_promote = "clean"` and the verdict is review).
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

mod clickhouse;
mod demo;
mod out;
mod progress;
mod sandbox;

use crate::db::{self, ConnectTarget};
use crate::promote::{self, Applied, PromoteOptions};
use crate::tui::Start;
use crate::{batch, export, feed, pipeline, report};

pub const EXIT_ABORT: u8 = 3;
/// `run` with `auto_promote = "clean"` left a batch whose verdict is review for a person.
pub const EXIT_LEFT_FOR_REVIEW: u8 = 4;

#[derive(Debug, Parser)]
#[command(
    name = "airlock",
    version,
    about = "Stage, validate, review, then promote data files into live PostgreSQL tables",
    after_help = "Exit status: 0 success, 1 error, 2 usage, 3 the verdict was abort (nothing \
                  promoted), 4 a run left the batch for review (auto_promote = \"clean\").\n\
                  Example: airlock check feeds/partner-products.toml 'drop/2026-03-15/*.csv'"
)]
pub struct Cli {
    /// PostgreSQL connection (libpq URL or key=value; default: the libpq environment, PGHOST, PGUSER, ...), or ClickHouse (clickhouse://user:password@host:8123/database)
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    /// No progress line on stderr (it is drawn only when stderr is a terminal)
    #[arg(short, long, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load and validate FILE for FEED; print the summary and leave the batch for review
    Check {
        /// The feed spec (TOML), e.g. feeds/partner-products.toml
        feed: PathBuf,
        /// The data: a file (CSV, TSV, JSON Lines or xlsx; compressed or not), a directory of
        /// parts, or a quoted glob such as 'drop/2026-03-15/part-*.csv'
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// List batches, including leftovers of failed runs
    Batches {
        #[arg(long)]
        json: bool,
    },
    /// One batch: counts, checks, verdict, plan, decisions
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Write the quarantined rows (line, column, check, value, message, then the row's fields)
    Export {
        id: i64,
        #[arg(long, value_name = "OUT.csv")]
        quarantined: PathBuf,
    },
    /// End a batch; production is untouched
    Abort {
        id: i64,
        #[arg(long)]
        note: Option<String>,
    },
    /// Set a batch aside with a note; everything is kept and it can be released later
    Quarantine {
        id: i64,
        #[arg(long)]
        note: String,
    },
    /// Release a quarantined batch with a note: back to validated, its plan and verdict
    /// judged again against production as it is now, waiting for a decision
    Release {
        id: i64,
        #[arg(long)]
        note: String,
    },
    /// Approve and promote a validated batch into production, in one transaction
    Promote {
        id: i64,
        /// Required: promotion changes production
        #[arg(long, required = true)]
        yes: bool,
        /// Why; recorded in the audit log
        #[arg(long)]
        note: Option<String>,
        /// Promote although the verdict is abort (needs --note)
        #[arg(long, requires = "note")]
        override_policy: bool,
        #[command(flatten)]
        locking: Locking,
        #[arg(long)]
        json: bool,
    },
    /// Check FILE, then promote it unless the verdict is abort (for cron; exit 3 when it stops,
    /// 4 when the feed promotes clean batches only and this one needs review)
    Run {
        /// The feed spec (TOML), e.g. feeds/partner-products.toml
        feed: PathBuf,
        /// The data: a file (CSV, TSV, JSON Lines or xlsx; compressed or not), a directory of
        /// parts, or a quoted glob such as 'drop/2026-03-15/part-*.csv'
        file: PathBuf,
        /// Required: promotion changes production
        #[arg(long, required = true)]
        yes: bool,
        #[arg(long)]
        note: Option<String>,
        #[command(flatten)]
        locking: Locking,
        #[arg(long)]
        json: bool,
    },
    /// Take back a promotion exactly: the rows an upsert, insert, mirror or append changed, or
    /// the table a swap replaced (the latest promotion of its target, while nothing it wrote
    /// has changed since)
    Undo {
        id: i64,
        #[arg(long)]
        note: Option<String>,
        #[command(flatten)]
        locking: Locking,
    },
    /// Drop what a batch keeps in staging (and the table a swap replaced); an unfinished
    /// batch ends as aborted. The batch row and its audit log stay.
    Drop {
        id: i64,
        #[arg(long, required = true)]
        yes: bool,
    },
    /// Drop the staging of batches untouched for longer than DURATION (e.g. 7d, 12h), saying
    /// what goes; batches being loaded or promoted are never touched, and what undo needs
    /// stays for the latest promotion of each target
    Prune {
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        older_than: std::time::Duration,
        /// List what would be dropped, drop nothing
        #[arg(long)]
        dry_run: bool,
        /// Drop the undo data of the latest promotions too (they can no longer be undone)
        #[arg(long)]
        undo: bool,
    },
    /// Review in the terminal UI: load and validate FEED FILE, reopen a batch with --batch,
    /// or, with neither, browse the batches
    Review {
        #[arg(requires = "file", conflicts_with = "batch")]
        /// The feed spec (TOML), e.g. feeds/partner-products.toml
        feed: Option<PathBuf>,
        /// The data: a file (CSV, TSV, JSON Lines or xlsx; compressed or not), a directory of
        /// parts, or a quoted glob such as 'drop/2026-03-15/part-*.csv'
        file: Option<PathBuf>,
        #[arg(long, value_name = "ID")]
        batch: Option<i64>,
    },
    /// Write a first feed spec from the target table and a sample file: columns matched,
    /// lookups behind foreign keys, delimiter, encoding, compression, date and number
    /// formats guessed, each guess commented with its evidence
    Init {
        /// The production table, e.g. public.products
        #[arg(long)]
        target: String,
        /// A sample of the partner's file
        sample: PathBuf,
        /// Where to write the spec (default: print it)
        #[arg(short, long, value_name = "FEED.toml")]
        output: Option<PathBuf>,
        /// The feed's name (default: the sample's file name)
        #[arg(long)]
        name: Option<String>,
    },
    /// Create the sandbox database `airlock_demo` with a sample catalog and open the review
    /// UI on the broken case-study feed
    Demo {
        /// Print the check summary instead of opening the UI
        #[arg(long)]
        print: bool,
        /// When no server answers and the demo starts a private one, keep it running
        /// afterwards (it says how to stop and remove it)
        #[arg(long)]
        keep: bool,
        /// The engine: postgresql (default), or clickhouse (the server DATABASE_URL names
        /// when it is a clickhouse:// URL, else clickhouse://default@127.0.0.1:8123/default)
        #[arg(long, value_enum, default_value = "postgresql")]
        engine: DemoEngine,
    },
    /// Print shell completions, e.g. airlock completions bash > /etc/bash_completion.d/airlock
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. airlock man > /usr/local/share/man/man1/airlock.1
    Man,
}

/// How long promotion waits for locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoEngine {
    Postgresql,
    Clickhouse,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Locking {
    /// How long one attempt waits for a lock (milliseconds)
    #[arg(long, default_value_t = 3000, value_name = "MS")]
    lock_timeout: u64,
    /// How many attempts before giving up and naming the blocking sessions
    #[arg(long, default_value_t = 5, value_name = "N")]
    lock_attempts: u32,
}

impl Locking {
    /// The options of an approval, which may override the policy.
    fn promotion(&self, note: Option<&String>, override_policy: bool) -> PromoteOptions {
        PromoteOptions {
            override_policy,
            ..self.options(note)
        }
    }

    fn options(&self, note: Option<&String>) -> PromoteOptions {
        PromoteOptions {
            note: note.cloned(),
            lock_timeout: std::time::Duration::from_millis(self.lock_timeout),
            attempts: self.lock_attempts,
            ..PromoteOptions::default()
        }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            out::error(&format!("error: cannot start the async runtime: {e}"));
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        let result = run(cli).await;
        db::close_all().await;
        result
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            out::error(&format!("error: {e:#}"));
            ExitCode::from(1)
        }
    }
}

fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    Ok(out::json(value)?)
}

async fn run_demo(asked: &ConnectTarget, print: bool, keep: bool) -> anyhow::Result<ExitCode> {
    if !print {
        crate::tui::on_a_terminal()?;
    }
    // No server answering (not one refusing the role): a private, throwaway one will do.
    let sandbox = match db::connect(&asked.with_dbname("postgres")).await {
        Err(crate::error::Error::Connection { cause, .. }) if cause.as_db_error().is_none() => {
            Some(sandbox::Sandbox::start(&asked.to_string(), keep)?)
        }
        _ => None,
    };
    let target = sandbox.as_ref().map_or(asked, |s| &s.target);
    let (mut client, spec, file) = demo::prepare(target).await?;
    if !print {
        crate::tui::run(
            target.with_dbname(demo::DEMO_DATABASE),
            Start::Review { feed: spec, file },
        )
        .await?;
        return Ok(ExitCode::SUCCESS);
    }
    let feed = feed::load(&client, &spec).await?;
    let second = db::connect_second(&target.with_dbname(demo::DEMO_DATABASE)).await;
    let id = pipeline::check(&mut client, second, &feed, &file, &Default::default()).await?;
    // The suggested commands carry the sandbox's connection, so they work as printed.
    let demo = target.with_dbname(demo::DEMO_DATABASE).conninfo();
    let airlock = format!("airlock --database-url \"{demo}\"");
    out::text(&report::render_for(
        &report::load(&client, id).await?,
        &airlock,
    ));
    out::line(&format!(
        "\nThe sandbox database is {}; the feed and its spec are in {}.",
        demo::DEMO_DATABASE,
        file.parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    ));
    match &sandbox {
        Some(s) if keep => out::line(&format!(
            "It is on a private server, kept running: stop and remove it with\n    {}",
            s.stop_hint()
        )),
        Some(_) => out::line(
            "It was on a private server, removed now: the commands above need a server of your \
             own, or `airlock demo --print --keep` to keep the private one.",
        ),
        None => {}
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // These need no database.
    match &cli.command {
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "airlock", &mut out);
            out::raw(&String::from_utf8_lossy(&out));
            return Ok(ExitCode::SUCCESS);
        }
        Command::Man => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut page)?;
            out::raw(&String::from_utf8_lossy(&page));
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let on_clickhouse = cli
        .database_url
        .as_deref()
        .filter(|url| crate::clickhouse::is_clickhouse(url));
    if let Command::Demo { engine, print, .. } = &cli.command
        && (*engine == DemoEngine::Clickhouse || on_clickhouse.is_some())
    {
        let url = on_clickhouse.unwrap_or("clickhouse://default@127.0.0.1:8123/default");
        return clickhouse::demo(url, *print).await;
    }
    if let Some(url) = cli.database_url.as_deref()
        && crate::engine::Engine::of(Some(url)) == crate::engine::Engine::ClickHouse
    {
        return clickhouse::run(&cli, url).await;
    }
    let target = ConnectTarget::resolve(cli.database_url.as_deref())?;
    // A batch that is not there may be in another database: say which one was asked.
    let database = target
        .config()
        .get_dbname()
        .map(str::to_owned)
        .or_else(|| target.config().get_user().map(str::to_owned));
    run_with(cli, target)
        .await
        .map_err(|e| match (e.downcast_ref(), database) {
            (Some(crate::Error::BatchNotFound { id }), Some(database)) => anyhow::anyhow!(
                "batch {id} not found in database {}",
                crate::format::visible(&database, false)
            ),
            _ => e,
        })
}

/// Where `review` starts: loading a file, on a batch, or on the list of batches.
fn review_start(feed: &Option<PathBuf>, file: &Option<PathBuf>, batch: Option<i64>) -> Start {
    match (feed, file, batch) {
        (Some(feed), Some(file), _) => Start::Review {
            feed: feed.clone(),
            file: file.clone(),
        },
        (_, _, Some(id)) => Start::Batch(id),
        _ => Start::List,
    }
}

async fn run_with(cli: Cli, target: ConnectTarget) -> anyhow::Result<ExitCode> {
    let quiet = cli.quiet;
    let mut client = match &cli.command {
        // The demo makes its own database; the UI opens its own connections.
        Command::Demo { print, keep, .. } => return run_demo(&target, *print, *keep).await,
        Command::Review { feed, file, batch } => {
            crate::tui::run(target, review_start(feed, file, *batch)).await?;
            return Ok(ExitCode::SUCCESS);
        }
        _ => db::connect(&target).await?,
    };
    match &cli.command {
        Command::Check { feed, file, json } => {
            let (summary, _) = check_file(&mut client, &target, feed, file, false, quiet).await?;
            if *json {
                print_json(&summary)?;
            } else {
                out::text(&report::render(&summary));
            }
            Ok(verdict_exit(&summary))
        }
        Command::Batches { json } => {
            crate::stage::ensure_catalog(&mut client).await?;
            let list = batch::list(&client).await?;
            if *json {
                print_json(&list)?;
            } else {
                out::text(&render_list(&list));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { id, json } => {
            crate::stage::ensure_catalog(&mut client).await?;
            let mut summary = report::load(&client, *id).await?;
            report::count_keys_since(&client, &mut summary, None).await;
            if *json {
                print_json(&summary)?;
            } else {
                out::text(&report::render(&summary));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Export { id, quarantined } => {
            let n = export::quarantined(&client, *id, quarantined).await?;
            out::line(&said::exported(*id, n, quarantined));
            Ok(ExitCode::SUCCESS)
        }
        Command::Abort { id, note } => {
            batch::abort(&mut client, *id, note.as_deref()).await?;
            out::line(&said::aborted(*id));
            Ok(ExitCode::SUCCESS)
        }
        Command::Quarantine { id, note } => {
            batch::quarantine(&mut client, *id, note).await?;
            out::line(&said::quarantined(*id));
            Ok(ExitCode::SUCCESS)
        }
        Command::Release { id, note } => {
            crate::judge::release(&mut client, *id, note).await?;
            let summary = report::load(&client, *id).await?;
            out::line(&said::released(&summary));
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
            let applied = promote::promote(&target, *id, &opts).await?;
            let summary = report::load(&client, *id).await?;
            print_promotion(&summary, &applied, *json)?;
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
            // Nobody reviews the plan of a run: its promotion makes one under the lock.
            let (summary, policy) =
                check_file(&mut client, &target, feed, file, true, quiet).await?;
            let id = summary.batch;
            let shown = report::render(&summary);
            if let Some(stop) = stop_before_promoting(&summary, &policy, *json, shown)? {
                return Ok(stop);
            }
            // Nobody reviewed this plan: accept one that moved since the check (another
            // import finished first) as long as the policy still holds.
            let opts = PromoteOptions {
                accept_plan_changes: true,
                ..locking.options(note.as_ref())
            };
            let applied = promote::promote(&target, id, &opts).await?;
            let summary = report::load(&client, id).await?;
            print_promotion(&summary, &applied, *json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Undo { id, note, locking } => {
            let said = promote::undo(
                &target,
                *id,
                note.as_deref(),
                &locking.options(note.as_ref()),
            )
            .await?;
            out::line(&format!("batch {id} undone: {said}"));
            Ok(ExitCode::SUCCESS)
        }
        Command::Drop { id, .. } => {
            crate::stage::ensure_catalog(&mut client).await?;
            let dropped = batch::drop_staging(&mut client, *id, false).await?;
            out::line(&format!("batch {id}: dropped {}", relations(&dropped)));
            Ok(ExitCode::SUCCESS)
        }
        Command::Prune {
            older_than,
            dry_run,
            undo,
        } => {
            crate::stage::ensure_catalog(&mut client).await?;
            let found = batch::prunable(&client, *older_than, *undo).await?;
            for p in &found {
                let drops = match *dry_run {
                    true => p.drops.clone(),
                    false => batch::drop_staging(&mut client, p.id, !p.keeps.is_empty()).await?,
                };
                out::line(&prune_line(p, &drops, *dry_run));
            }
            if found.is_empty() {
                out::line(&said::nothing_to_prune(*older_than));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Init {
            target: table,
            sample,
            output,
            name,
        } => init(&client, table, sample, output.as_deref(), name.as_deref()).await,
        Command::Demo { print, keep, .. } => run_demo(&target, *print, *keep).await,
        // Opened their own connections, or needed none, above.
        Command::Review { .. } | Command::Completions { .. } | Command::Man => {
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `init`, on either engine: a first spec for `table` from `sample`, printed or written to
/// `output` (never over an existing file).
async fn init(
    catalog: &impl crate::engine::Catalog,
    table: &str,
    sample: &std::path::Path,
    output: Option<&std::path::Path>,
    name: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let name = name.map(str::to_string).unwrap_or_else(|| {
        let stem = sample
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "feed".into());
        stem.split('.').next().unwrap_or("feed").to_string()
    });
    let text = crate::init::propose(catalog, table, sample, &name).await?;
    match output {
        None => out::text(&text),
        Some(path) => {
            if path.exists() {
                anyhow::bail!("{} exists; not overwritten", path.display());
            }
            std::fs::write(path, &text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            out::line(&format!(
                "wrote {}; next: airlock check {} {}",
                path.display(),
                path.display(),
                sample.display()
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C stops the load (and any query in flight); the batch is then marked `load_failed`
/// with the reason, and production was never touched.
/// `check` and `run`: loads the spec, checks the file (Ctrl-C stops it cleanly, with a
/// second connection when the server grants one) and reads the batch's summary back.
async fn check_file(
    client: &mut tokio_postgres::Client,
    target: &ConnectTarget,
    spec: &std::path::Path,
    file: &std::path::Path,
    plan_by_promotion: bool,
    quiet: bool,
) -> anyhow::Result<(report::Summary, feed::Policy)> {
    let feed = feed::load(client, spec).await?;
    let control = pipeline::CheckControl {
        plan_by_promotion,
        ..Default::default()
    };
    interrupt_on_ctrl_c(client, &control);
    let second = db::connect_second(target).await;
    let progress = progress::Progress::start(&control, quiet);
    let id = pipeline::check(client, second, &feed, file, &control).await;
    drop(progress);
    let id = id?;
    Ok((report::load(client, id).await?, feed.spec.policy))
}

fn interrupt_on_ctrl_c(client: &tokio_postgres::Client, control: &pipeline::CheckControl) {
    let cancel = control.cancel.clone();
    let token = client.cancel_token();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.store(true, std::sync::atomic::Ordering::Relaxed);
            let _ = token.cancel_query(tokio_postgres::NoTls).await;
        }
    });
}

/// The promotion's result: the summary with what was applied.
fn print_promotion(summary: &report::Summary, applied: &Applied, json: bool) -> anyhow::Result<()> {
    if json {
        let mut value = serde_json::to_value(summary)?;
        value["applied"] = serde_json::to_value(applied)?;
        print_json(&value)
    } else {
        out::line(&format!(
            "batch {} promoted into {} ({}): {}",
            summary.batch,
            summary.target,
            applied.mode,
            applied.describe(", ")
        ));
        if summary.rows.quarantined > 0 {
            out::line(&format!(
                "{} stayed out; `airlock export {} --quarantined FILE` lists them",
                crate::format::count(summary.rows.quarantined, "quarantined row"),
                summary.batch
            ));
        }
        Ok(())
    }
}

/// Where `run` stops after its check, and says why: a verdict of abort (exit 3), or a batch
/// that needs review when the feed promotes clean ones only (exit 4). `shown` is the
/// summary as the engine renders it.
fn stop_before_promoting(
    summary: &report::Summary,
    policy: &feed::Policy,
    json: bool,
    shown: String,
) -> anyhow::Result<Option<ExitCode>> {
    let id = summary.batch;
    let (exit, why) = if summary.verdict == Some(batch::Verdict::Abort) {
        (
            EXIT_ABORT,
            "\nNot promoted: the verdict is abort. Production untouched.".to_string(),
        )
    } else if policy.auto_promote == feed::AutoPromote::Clean
        && summary.verdict != Some(batch::Verdict::Clean)
    {
        (
            EXIT_LEFT_FOR_REVIEW,
            format!(
                "\nLeft for review: the verdict is {} and the feed promotes clean batches only \
                 (auto_promote = \"clean\"). Production untouched; batch {id} waits for a person.",
                summary.verdict.map_or("-", |v| v.as_str())
            ),
        )
    } else {
        return Ok(None);
    };
    if json {
        print_json(summary)?;
    } else {
        out::text(&shown);
        out::line(&why);
    }
    Ok(Some(ExitCode::from(exit)))
}

/// What the decisions say when done, on every engine.
mod said {
    use crate::report::Summary;

    pub fn exported(id: i64, n: u64, path: &std::path::Path) -> String {
        format!(
            "wrote {n} problem row{} of batch {id} to {}",
            if n == 1 { "" } else { "s" },
            path.display()
        )
    }

    pub fn nothing_to_prune(older_than: std::time::Duration) -> String {
        format!(
            "nothing older than {} to prune",
            humantime::format_duration(older_than)
        )
    }

    pub fn aborted(id: i64) -> String {
        format!("batch {id} aborted; production untouched")
    }

    pub fn quarantined(id: i64) -> String {
        format!(
            "batch {id} quarantined; staging kept for review (`airlock release {id} --note …` brings it back)"
        )
    }

    pub fn released(summary: &Summary) -> String {
        let (plan, basis) = summary.plan.describe(&summary.mode, false);
        format!(
            "batch {} released from quarantine: validated, verdict {}; plan {plan} {basis}",
            summary.batch,
            summary.verdict.map_or("-", |v| v.as_str()),
        )
    }
}

fn verdict_exit(summary: &report::Summary) -> ExitCode {
    if summary.verdict == Some(batch::Verdict::Abort) {
        ExitCode::from(EXIT_ABORT)
    } else {
        ExitCode::SUCCESS
    }
}

fn render_list(list: &[batch::BatchListItem]) -> String {
    if list.is_empty() {
        return "no batches\n".into();
    }
    let mut out = format!(
        "{:>5}  {:<20} {:<22} {:<14} {:<7} {:>9} {:>9} {:>6} {:>9}\n",
        "batch", "feed", "target", "state", "verdict", "rows", "bad", "age", "staging"
    );
    for b in list {
        out.push_str(&format!(
            "{:>5}  {:<20} {:<22} {:<14} {:<7} {:>9} {:>9} {:>6} {:>9}\n",
            b.batch,
            crate::validate::clip(&b.feed, 20),
            crate::validate::clip(&b.target, 22),
            b.state,
            b.verdict.map_or("-", |v| v.as_str()),
            b.rows_total
                .map(|n| n.to_string())
                .unwrap_or_else(|| "-".into()),
            b.rows_quarantined
                .map(|n| n.to_string())
                .unwrap_or_else(|| "-".into()),
            crate::format::age(b.age_seconds),
            crate::format::bytes(b.staging_bytes.max(0) as u64),
        ));
    }
    out
}

/// Relations for a person: `batch_7, batch_7_rows (1.2 MB)`, `nothing` when there are none.
fn relations(list: &[batch::Relation]) -> String {
    if list.is_empty() {
        return "nothing (no staging left)".into();
    }
    let names: Vec<&str> = list
        .iter()
        .map(|r| r.name.rsplit('.').next().unwrap_or(&r.name))
        .collect();
    let bytes: i64 = list.iter().map(|r| r.bytes).sum();
    format!(
        "{} ({})",
        names.join(", "),
        crate::format::bytes(bytes.max(0) as u64)
    )
}

/// One batch of `prune`: what it drops (or would), and the undo data it keeps and why.
fn prune_line(p: &batch::Prunable, drops: &[batch::Relation], dry_run: bool) -> String {
    let verb = if dry_run { "would drop" } else { "dropped" };
    let mut line = format!("batch {}: {verb} {}", p.id, relations(drops));
    if !p.keeps.is_empty() {
        line.push_str(&format!(
            "; kept {} for undo (the latest promotion into {}; --undo drops it too)",
            relations(&p.keeps),
            p.latest_of.as_deref().unwrap_or("its target")
        ));
    }
    line
}
