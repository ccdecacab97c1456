//! The result of a promotion: what changed, and the audit record written with it.
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use crate::tui::app::App;

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let Some(r) = &app.result else { return };
    let s = &r.summary;
    let a = &r.applied;
    let mut lines = vec![
        Line::from(vec![
            Span::styled(
                " PROMOTED ",
                t.good().add_modifier(ratatui::style::Modifier::REVERSED),
            ),
            Span::raw(format!(
                "  batch {} into {} ({}), {}",
                s.batch,
                s.target,
                a.mode,
                app.batch
                    .as_ref()
                    .map_or("in one transaction", |b| b.all_at_once)
            )),
        ]),
        Line::raw(""),
        Line::raw(format!("   {}", a.describe(" · "))),
    ];
    if s.rows.quarantined > 0 {
        lines.push(Line::styled(
            format!(
                "   {} stayed out: airlock export {} --quarantined FILE",
                crate::format::count(s.rows.quarantined, "quarantined row"),
                s.batch
            ),
            t.warn(),
        ));
    }
    if let Some(kept) = &s.kept_for_undo {
        // The command first: it is what the line is for; the rest is cut with an ellipsis.
        lines.push(Line::styled(
            super::cell(
                &format!("   airlock undo {} takes it back · kept: {kept}", s.batch),
                area.width.saturating_sub(4) as usize,
            ),
            t.dim(),
        ));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(" Audit record", t.title()));
    if let Some(d) = s.decisions.iter().rev().find(|d| d.decision == "approve") {
        lines.push(Line::raw(format!(
            "   {} by {} (OS user {}) at {}",
            d.decision,
            d.db_role,
            d.os_user.as_deref().unwrap_or("?"),
            d.decided_at
        )));
        if let Some(note) = &d.note {
            lines.push(Line::raw(format!("   note: {}", super::shown(note))));
        }
    }
    frame.render_widget(Paragraph::new(lines).block(Block::bordered()), area);
}
