//! The load view: live progress while the file streams into staging.
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Gauge, Paragraph};

use super::centered;
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
    frame.render_widget(
        Paragraph::new(crate::format::load_progress(
            l.bytes,
            l.total,
            l.rows,
            l.elapsed_ms,
        )),
        facts,
    );
    let phase_text = if l.cancelling {
        "cancelling… production is not touched"
    } else {
        crate::format::load_phase(l.bytes, l.total)
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
