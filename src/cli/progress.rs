//! A headless check's progress on stderr, when stderr is a terminal: bytes, rows, rate, ETA
//! and what it is doing, on one line redrawn in place and cleared at the end. Nothing when
//! stderr is a file or a pipe (cron's mail stays clean), or with `--quiet`.
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::pipeline::CheckControl;

/// The line being drawn; dropping it stops the drawing and clears the line.
pub struct Progress {
    stop: Arc<AtomicBool>,
    drawer: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    /// Starts drawing the progress of `control`'s check, unless `quiet` or stderr is not a
    /// terminal.
    pub fn start(control: &CheckControl, quiet: bool) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        if quiet || !std::io::stderr().is_terminal() {
            return Self { stop, drawer: None };
        }
        let (slot, stopped) = (control.progress.clone(), stop.clone());
        let started = Instant::now();
        let drawer = std::thread::Builder::new()
            .name("airlock-progress".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(200));
                    let Some(p) = slot.lock().ok().and_then(|s| s.clone()) else {
                        continue;
                    };
                    let (read, total) = (p.bytes(), p.total_bytes);
                    let line = format!(
                        "{} · {}",
                        crate::format::load_progress(
                            read,
                            total,
                            p.records(),
                            started.elapsed().as_millis() as u64
                        ),
                        crate::format::load_phase(read, total)
                    );
                    let mut err = std::io::stderr().lock();
                    // Cut to one line, with an ellipsis: a wrapped line cannot be redrawn.
                    let width = columns().saturating_sub(1);
                    let shown: String = match line.chars().count() > width {
                        true => line
                            .chars()
                            .take(width.saturating_sub(1))
                            .chain(['…'])
                            .collect(),
                        false => line,
                    };
                    let _ = write!(err, "\r\x1b[2K{shown}");
                    let _ = err.flush();
                }
                let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
            })
            .ok();
        Self { stop, drawer }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(drawer) = self.drawer.take() {
            let _ = drawer.join();
        }
    }
}

/// The terminal's width, from `COLUMNS` or the terminal itself; 80 when neither says.
fn columns() -> usize {
    crossterm::terminal::size()
        .map(|(w, _)| usize::from(w))
        .ok()
        .filter(|w| *w > 0)
        .unwrap_or(80)
}
