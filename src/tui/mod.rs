//! The review TUI: load, summary, quarantined rows, changes, decide, and the batches list.
//! One event loop feeds `App::update`; rendering is a pure function of the state; database
//! work runs on spawned tasks and comes back as messages.
pub mod action;
pub mod app;
mod browser;
pub mod clipboard;
pub mod columns;
pub mod detail;
mod dialog;
pub mod keymap;
mod mouse;
pub mod theme;
mod values;
pub mod view;
pub mod worker;

use std::path::PathBuf;
use std::time::Duration;

use crossterm::event::{
    DisableMouseCapture, EnableMouseCapture, Event, EventStream, KeyCode, KeyEvent, KeyEventKind,
    MouseButton, MouseEventKind,
};
use futures_util::StreamExt;
use ratatui::DefaultTerminal;
use tokio::sync::mpsc;

use self::action::{Action, Effect};
use self::app::{App, View};
use self::theme::Theme;
use self::worker::Worker;
use crate::clickhouse::ClickHouse;
use crate::db::{self, ConnectTarget};

pub enum Start {
    Review { feed: PathBuf, file: PathBuf },
    Batch(i64),
    List,
}

/// Runs the TUI until the operator quits. Connection problems surface before the terminal
/// is taken over; `ratatui::init` restores the terminal on panic, and it is restored on every
/// other way out.
pub async fn run(target: ConnectTarget, start: Start) -> anyhow::Result<()> {
    on_a_terminal()?;
    let mut client = db::connect(&target).await?;
    crate::stage::ensure_catalog(&mut client).await?;
    let (tx, rx) = mpsc::unbounded_channel();
    review(Worker::new(target, client, tx), rx, start).await
}

/// [`run`] on ClickHouse.
pub async fn run_clickhouse(ch: ClickHouse, start: Start) -> anyhow::Result<()> {
    on_a_terminal()?;
    crate::clickhouse::batches::ensure_catalog(&ch).await?;
    let (tx, rx) = mpsc::unbounded_channel();
    review(Worker::clickhouse(ch, tx), rx, start).await
}

/// The UI draws on the terminal and reads its keys: without one (a pipe, cron, CI) it says
/// so and what to run instead, before anything is touched.
pub fn on_a_terminal() -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        anyhow::bail!(
            "the review UI needs a terminal (standard input and output are not one); \
             without one, `airlock check` checks a file and `airlock show`, `promote`, \
             `quarantine` and `abort` decide on a batch"
        );
    }
    Ok(())
}

async fn review(
    worker: Worker,
    mut rx: mpsc::UnboundedReceiver<Action>,
    start: Start,
) -> anyhow::Result<()> {
    let mut app = App::new(Theme::from_env(), View::Batches);
    let effects = match start {
        Start::Review { feed, file } => app.start_review(feed, file),
        Start::Batch(id) => app.start_batch(id),
        Start::List => app.start_list(),
    };
    let mut terminal = ratatui::init();
    // The wheel scrolls; Shift (Option on macOS) still selects text in most terminals.
    let _ = crossterm::execute!(std::io::stdout(), EnableMouseCapture);
    let result = event_loop(&mut terminal, &mut app, &worker, &mut rx, effects).await;
    let _ = crossterm::execute!(std::io::stdout(), DisableMouseCapture);
    ratatui::restore();
    result
}

async fn event_loop(
    terminal: &mut DefaultTerminal,
    app: &mut App,
    worker: &Worker,
    rx: &mut mpsc::UnboundedReceiver<Action>,
    effects: Vec<Effect>,
) -> anyhow::Result<()> {
    let size = terminal.size()?;
    app.update(Action::Resize {
        width: size.width,
        height: size.height,
    });
    for e in effects {
        worker.run(e);
    }
    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        terminal.draw(|frame| view::draw(app, frame))?;
        let first = tokio::select! {
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) if key.kind == KeyEventKind::Press => Action::Key(key),
                Some(Ok(Event::Resize(width, height))) => Action::Resize { width, height },
                // The wheel moves like the arrow keys, wherever they move something.
                Some(Ok(Event::Mouse(m))) => match m.kind {
                    MouseEventKind::ScrollDown => Action::Key(KeyEvent::from(KeyCode::Down)),
                    MouseEventKind::ScrollUp => Action::Key(KeyEvent::from(KeyCode::Up)),
                    MouseEventKind::Down(MouseButton::Left) => Action::Click {
                        x: m.column,
                        y: m.row,
                    },
                    _ => continue,
                },
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(()),
            },
            Some(action) = rx.recv() => action,
            _ = tick.tick() => match app.view {
                View::Loading => worker.progress().unwrap_or(Action::Tick),
                _ => Action::Tick,
            },
        };
        // Everything already waiting is applied before the next frame: one redraw for many.
        let mut actions = vec![first];
        while let Ok(more) = rx.try_recv() {
            actions.push(more);
        }
        for action in actions {
            for effect in app.update(action) {
                match effect {
                    // The terminal takes it: written between frames, never during one.
                    Effect::Copy(text) => {
                        use std::io::Write;
                        let mut out = std::io::stdout();
                        let _ = out.write_all(clipboard::osc52(&text).as_bytes());
                        let _ = out.flush();
                    }
                    effect => worker.run(effect),
                }
            }
        }
        if app.quit {
            return Ok(());
        }
    }
}
