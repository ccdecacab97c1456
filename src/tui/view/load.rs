//! The load view: live progress while the file streams into staging.
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Gauge, Paragraph};

use super::{centered, human_bytes, thousands};
use crate::tui::app::App;

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let l = &app.load;
    let box_area = centered(area, 72, 9);
    let block = Block::bordered().title(" Loading ");
    let inner = block.inner(box_area);
    frame.render_widget(block, box_area);
    let [file, gauge, facts, phase, hint] =
        Layout::vertical([Constraint::Length(1); 5]).areas(inner);
    frame.render_widget(
        Paragraph::new(super::cell(&l.file, inner.width as usize)),
        file,
    );
    let ratio = if l.total > 0 {
        (l.bytes as f64 / l.total as f64).clamp(0.0, 1.0)
    } else {
        0.0
    };
    frame.render_widget(Gauge::default().ratio(ratio).gauge_style(t.accent()), gauge);
    let secs = l.elapsed_ms as f64 / 1000.0;
    let reading = l.total == 0 || l.bytes < l.total;
    let rate = if secs > 0.0 {
        l.rows as f64 / secs
    } else {
        0.0
    };
    let eta = if l.bytes > 0 && l.bytes < l.total {
        let remaining = secs * (l.total - l.bytes) as f64 / l.bytes as f64;
        format!(" · ETA {remaining:.0} s")
    } else {
        String::new()
    };
    let speed = if reading {
        format!(" · {} rows/s", thousands(rate as i64))
    } else {
        format!(" · {secs:.0} s so far")
    };
    frame.render_widget(
        Paragraph::new(format!(
            "{} of {} · {} rows{speed}{eta}",
            human_bytes(l.bytes),
            human_bytes(l.total),
            thousands(l.rows as i64),
        )),
        facts,
    );
    let phase_text = if l.cancelling {
        "cancelling… production is not touched"
    } else if l.total > 0 && l.bytes >= l.total {
        "validating: server-side casts, lookups, constraints, duplicates, plan…"
    } else {
        "reading, checking rows and copying them into staging…"
    };
    frame.render_widget(Paragraph::new(Line::styled(phase_text, t.dim())), phase);
    frame.render_widget(
        Paragraph::new(Line::styled(
            "Esc cancels. Nothing is written to production while loading.",
            t.dim(),
        )),
        hint,
    );
}
