//! Rendering: a pure function of the app state. Nothing here awaits, locks or queries.
mod batches;
mod changes;
mod load;
mod overlay;
mod quarantine;
mod result;
mod summary;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::app::{App, StatusKind, View};
use super::keymap;
pub use crate::format::{bytes as human_bytes, thousands};

pub fn draw(app: &App, frame: &mut Frame) {
    let [title, tabs, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    draw_title(app, frame, title);
    draw_tabs(app, frame, tabs);
    match app.view {
        View::Loading => load::draw(app, frame, body),
        View::Summary => summary::draw(app, frame, body),
        View::Quarantine => quarantine::draw(app, frame, body),
        View::Changes => changes::draw(app, frame, body),
        View::Batches => batches::draw(app, frame, body),
        View::Result => result::draw(app, frame, body),
    }
    draw_status(app, frame, status);
    if let Some(o) = &app.overlay {
        overlay::draw(app, o, frame, frame.area());
    }
}

fn draw_title(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let mut spans = vec![Span::styled(
        " Airlock ",
        t.title().add_modifier(ratatui::style::Modifier::REVERSED),
    )];
    match (&app.batch, app.view) {
        (_, View::Batches) => spans.push(Span::raw("  batches")),
        (_, View::Loading) => spans.push(Span::raw(format!("  loading {}", shown(&app.load.file)))),
        (Some(b), _) => {
            let s = &b.summary;
            let badge = s
                .verdict
                .map(|v| format!(" {} ", v.as_str().to_uppercase()));
            // The verdict always shows whole: the rest is cut to what is left, with an
            // ellipsis.
            let room = (area.width as usize)
                .saturating_sub(9 + badge.as_ref().map_or(0, |b| b.chars().count()));
            let said = format!(
                "  batch {} · {} → {} ({}) · {}",
                s.batch, s.feed, s.target, s.mode, s.state
            );
            spans.push(Span::raw(format!(
                "{} ",
                cell(&said, room.saturating_sub(1))
            )));
            if let (Some(v), Some(badge)) = (s.verdict, badge) {
                spans.push(Span::styled(badge, t.verdict(Some(v))));
            }
        }
        (None, _) => spans.push(Span::raw("  …")),
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The tabs of an open batch, with their labels.
fn tabs(b: &crate::tui::action::BatchData) -> [(View, String); 3] {
    [
        (View::Summary, "1 Summary".to_string()),
        (
            View::Quarantine,
            format!("2 Quarantined ({})", thousands(b.summary.rows.quarantined)),
        ),
        (
            View::Changes,
            format!(
                "3 Changes ({})",
                thousands(crate::tui::app::changes_total(&b.summary.plan) as i64)
            ),
        ),
    ]
}

/// The tab drawn at column `x` of the tabs' line, as `draw_tabs` lays them out.
pub fn tab_at(app: &App, x: u16) -> Option<View> {
    let b = app.batch.as_ref()?;
    let mut left = 1;
    for (view, label) in tabs(b) {
        let right = left + label.chars().count() + 2;
        if (left..right).contains(&usize::from(x)) {
            return Some(view);
        }
        left = right + 3;
    }
    None
}

/// The screen line the first row of a list view is drawn on: under the title, the tabs,
/// the list's own line and its header.
pub const FIRST_ROW_LINE: u16 = 4;

fn draw_tabs(app: &App, frame: &mut Frame, area: Rect) {
    let Some(b) = &app.batch else { return };
    if !matches!(app.view, View::Summary | View::Quarantine | View::Changes) {
        return;
    }
    let t = &app.theme;
    let tabs = tabs(b);
    let mut spans = vec![Span::raw(" ")];
    for (i, (view, label)) in tabs.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" │ ", t.dim()));
        }
        let style = if *view == app.view {
            t.selected().add_modifier(ratatui::style::Modifier::BOLD)
        } else {
            Style::new()
        };
        spans.push(Span::styled(format!(" {label} "), style));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_status(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let width = area.width as usize;
    let line = match &app.status {
        Some((StatusKind::Error, text)) => Line::from(Span::styled(
            cell(&format!(" ✗ {}", shown(text)), width),
            t.bad(),
        )),
        Some((StatusKind::Info, text)) => Line::from(Span::styled(
            cell(&format!(" {}", shown(text)), width),
            t.accent(),
        )),
        None => {
            let mut spans = vec![Span::raw(" ")];
            // An open row detail has keys of its own.
            let ctx = match app.overlay {
                Some(crate::tui::app::Overlay::Detail { .. }) => keymap::Ctx::Detail,
                _ => app.view.ctx(),
            };
            // Whole hints only, as many as fit; `?` lists them all.
            let mut used = 1;
            let hints = keymap::status_hints(ctx);
            let last = hints.len();
            for (i, (key, help)) in hints.into_iter().enumerate() {
                let sep = if i > 0 { " · " } else { "" };
                let wide = sep.chars().count() + key.chars().count() + 1 + help.chars().count();
                let more = if i + 1 < last { 2 } else { 0 };
                if used + wide + more > width {
                    spans.push(Span::styled(" …", t.dim()));
                    break;
                }
                used += wide;
                spans.push(Span::styled(sep, t.dim()));
                spans.push(Span::styled(key, t.key()));
                spans.push(Span::raw(format!(" {help}")));
            }
            Line::from(spans)
        }
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// A rectangle of at most `width` × `height`, centered in `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// Text from a spec, a file, a note or the database, with control characters escaped.
pub fn shown(s: &str) -> std::borrow::Cow<'_, str> {
    crate::format::visible(s, false)
}

/// A value fit to a cell (see `format::fit`).
pub fn cell(s: &str, max: usize) -> String {
    crate::format::fit(s, max)
}

/// Where the cursor of a list stands: `row 1,234 of 6,826`, as much as is known.
pub fn position<T>(b: &crate::tui::browser::Browser<T>) -> Option<String> {
    let n = |v: u64| thousands(i64::try_from(v).unwrap_or(i64::MAX));
    match (b.position(), b.total) {
        (Some(at), Some(total)) => Some(format!("row {} of {}", n(at), n(total))),
        (Some(at), None) => Some(format!("row {}", n(at))),
        (None, Some(total)) if !b.rows.is_empty() => Some(format!("of {}", n(total))),
        _ => None,
    }
}

/// Spans cut to `width` characters, the last one ending in `…` where anything was cut.
pub fn fit_spans(spans: Vec<Span<'_>>, width: usize) -> Vec<Span<'_>> {
    let total: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    if total <= width {
        return spans;
    }
    let mut room = width;
    let mut out = Vec::new();
    for span in spans {
        let n = span.content.chars().count();
        if n < room {
            room -= n;
            out.push(span);
            continue;
        }
        // This span reaches the edge: cut it, with the mark.
        let kept: String = span.content.chars().take(room.saturating_sub(1)).collect();
        out.push(Span::styled(format!("{kept}…"), span.style));
        break;
    }
    out
}
