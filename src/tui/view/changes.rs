//! What promotion would change, a row at a time: inserts and updates in file order, then the
//! deletes; each with its changed columns (every value for an insert or a delete), which
//! `h`/`l` scroll and Enter shows whole.
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};

use super::{cell, thousands};
use crate::review::{ChangeKind, ChangedRow};
use crate::tui::app::App;

/// The widest a value shows in the list (Enter shows it whole).
const VALUE: usize = 30;

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let Some(b) = &app.batch else { return };
    let t = &app.theme;
    let [info, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let c = &app.changes;
    let plan = &b.summary.plan;
    let counts: Vec<String> = [
        (plan.insert, "insert"),
        (plan.update, "update"),
        (plan.delete, "delete"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| crate::format::count(*n, what))
    .collect();
    let mut spans = vec![Span::raw(match counts.is_empty() {
        true => " nothing would change production".to_string(),
        false => format!(" {}", counts.join(" · ")),
    })];
    if plan.delete > 0 {
        spans.push(Span::styled(" (deletes listed last)", t.dim()));
    }
    if !app.marked.is_empty() {
        spans.push(Span::styled(
            format!(
                " · {} marked to hold back (H)",
                thousands(app.marked.len() as i64)
            ),
            t.warn(),
        ));
    }
    if let Some(at) = super::position(c) {
        spans.push(Span::styled(format!("  {at}"), t.dim()));
    }
    if c.loading {
        spans.push(Span::styled("  loading…", t.dim()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), info);
    if b.summary.promoted() {
        let id = b.summary.batch;
        let text = format!(
            " batch {id} is in production: the counts above are what it was promoted with; its \
             rows are no longer a plan to browse (airlock show {id} says what it did, airlock \
             undo {id} reverts it while it is the latest)"
        );
        frame.render_widget(
            Paragraph::new(text).wrap(ratatui::widgets::Wrap { trim: true }),
            body,
        );
        return;
    }
    if c.rows.is_empty() {
        let text = if c.loading {
            " loading…"
        } else {
            " no row would change production"
        };
        frame.render_widget(Paragraph::new(text), body);
        return;
    }
    // The line column as wide as the longest line held; what the columns before the
    // changes leave them (cells and their spacing).
    let line_width = c
        .rows
        .iter()
        .map(|r| r.line.to_string().len())
        .max()
        .unwrap_or(0)
        .max(4);
    let room = (body.width as usize).saturating_sub(1 + 1 + line_width + 20 + 4 + 5);
    let rows: Vec<Row> = c.rows.iter().map(|r| row(app, r, room)).collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(line_width as u16),
            Constraint::Length(20),
            Constraint::Length(4),
            Constraint::Fill(1),
        ],
    )
    .header(
        Row::new([
            "",
            "",
            "line",
            "key",
            "cols",
            "before → after (h/l: scroll · Enter: all)",
        ])
        .style(t.title()),
    )
    .row_highlight_style(t.selected());
    let mut state = TableState::default()
        .with_offset(c.top)
        .with_selected(Some(c.cursor));
    frame.render_stateful_widget(table, body, &mut state);
}

/// One change: held-back mark, kind, line, key, how many columns, and the columns from
/// `h`/`l`'s position (those scrolled past counted).
fn row<'a>(app: &App, r: &'a ChangedRow, room: usize) -> Row<'a> {
    let t = &app.theme;
    let value = |v: &Option<String>| cell(v.as_deref().unwrap_or("∅"), VALUE);
    let mut spans = Vec::new();
    let skip = app.change_column.min(r.changes.len().saturating_sub(1));
    if skip > 0 {
        spans.push(Span::styled(format!("‹{skip} "), t.dim()));
    }
    for (i, ch) in r.changes.iter().enumerate().skip(skip) {
        if i > skip {
            spans.push(Span::styled(" · ", t.dim()));
        }
        spans.push(Span::styled(format!("{} ", ch.column), t.title()));
        match r.kind {
            ChangeKind::Delete => spans.push(Span::styled(value(&ch.before), t.bad())),
            ChangeKind::Insert => spans.push(Span::styled(value(&ch.after), t.good())),
            ChangeKind::Update => {
                spans.push(Span::styled(value(&ch.before), t.bad()));
                spans.push(Span::raw(" → "));
                spans.push(Span::styled(value(&ch.after), t.good()));
            }
        }
    }
    let (kind, style) = match r.kind {
        ChangeKind::Insert => ("+", t.good()),
        ChangeKind::Update => ("~", t.warn()),
        ChangeKind::Delete => ("−", t.bad()),
    };
    let mark = if app.marked.contains(&r.ord) {
        "■"
    } else {
        " "
    };
    Row::new(vec![
        Cell::from(Span::styled(mark, t.warn())),
        Cell::from(Span::styled(kind, style)),
        Cell::from(match r.kind {
            ChangeKind::Delete => "–".to_string(),
            _ => r.line.to_string(),
        }),
        Cell::from(cell(&r.key, 20)),
        Cell::from(r.changes.len().to_string()),
        Cell::from(Line::from(super::fit_spans(spans, room))),
    ])
}
