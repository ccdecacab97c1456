//! The quarantined-rows browser (paged from the database, offending cells highlighted) and the
//! changes browser (before → after for rows that would update production).
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};

use super::cell;
use crate::tui::app::App;

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let Some(b) = &app.batch else { return };
    let t = &app.theme;
    let [info, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let q = &app.quarantine;
    let mut spans = vec![Span::raw(" ")];
    if app.filter.is_empty() {
        spans.push(Span::raw(format!(
            "all {} quarantined rows",
            super::thousands(b.summary.rows.quarantined)
        )));
    } else {
        match app.filter.kept.as_deref() {
            Some("warning") => spans.push(Span::styled("rows a warning let through · ", t.warn())),
            Some(_) => spans.push(Span::styled(
                "rows another with their key outranked · ",
                t.warn(),
            )),
            None => {}
        }
        spans.push(Span::styled("filter: ", t.dim()));
        if let Some(c) = &app.filter.check {
            spans.push(Span::styled(format!("check={c} "), t.accent()));
        }
        if let Some(c) = &app.filter.column {
            spans.push(Span::styled(format!("column={c} "), t.accent()));
        }
        if let Some(v) = &app.filter.value {
            spans.push(Span::styled(format!("value='{v}' "), t.accent()));
        }
        spans.push(Span::styled("(c clears)", t.dim()));
    }
    if let Some(s) = &app.search {
        spans.push(Span::styled(format!("  search: {s} (n/N)"), t.dim()));
    }
    if q.loading {
        spans.push(Span::styled("  loading…", t.dim()));
    }
    if let Some(at) = super::position(q) {
        spans.push(Span::styled(format!("  {at}"), t.dim()));
    }
    if let Some(r) = q.current() {
        spans.push(Span::styled(format!(" · line {}", r.place()), t.dim()));
    }
    if app.hscroll > 0 {
        spans.push(Span::styled(
            format!("  ← {} columns", app.hscroll),
            t.dim(),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), info);

    if q.rows.is_empty() {
        let text = if q.loading {
            " loading…"
        } else if app.filter.is_empty() {
            " no quarantined rows"
        } else {
            " no rows match the filter"
        };
        frame.render_widget(Paragraph::new(text), body);
        return;
    }
    // As many fields as fit at 12+ characters, from the horizontal scroll position.
    let fixed = 6 + 1 + 26 + 1;
    let room = (body.width as usize).saturating_sub(fixed);
    let visible = (room / 13)
        .max(1)
        .min(b.header.len().saturating_sub(app.hscroll).max(1));
    let shown: Vec<usize> = (app.hscroll..b.header.len()).take(visible).collect();
    let field_width = room
        .checked_div(visible)
        .unwrap_or(5)
        .saturating_sub(1)
        .max(4);

    let rows: Vec<Row> = q
        .rows
        .iter()
        .map(|r| {
            let bad = crate::tui::detail::offending_fields(b, r);
            // The issue the filter asked for first, then a count of the others.
            let problem = r
                .issues
                .iter()
                .find(|i| app.filter.check.as_ref().is_none_or(|c| *c == i.check))
                .or(r.issues.first())
                .map(|i| {
                    let more = if r.issues.len() > 1 {
                        format!(" +{}", r.issues.len() - 1)
                    } else {
                        String::new()
                    };
                    format!("{} {}{more}", i.check, i.column.as_deref().unwrap_or(""))
                })
                .unwrap_or_default();
            let mut cells = vec![
                Cell::from(cell(&r.place(), 28)),
                Cell::from(cell(&problem, 26)),
            ];
            for &i in &shown {
                let value = r.fields.get(i).cloned().flatten();
                let text = match &value {
                    Some(v) => cell(v, field_width),
                    None => "∅".into(),
                };
                let style = if bad.contains(&i) {
                    t.offending()
                } else if value.is_none() {
                    t.dim()
                } else {
                    Style::new()
                };
                cells.push(Cell::from(Span::styled(text, style)));
            }
            Row::new(cells)
        })
        .collect();
    // A batch of several files shows `part-002.csv:40`: the column grows to fit, within reason.
    let place_width = q
        .rows
        .iter()
        .map(|r| r.place().chars().count())
        .max()
        .unwrap_or(0)
        .clamp(6, 28) as u16;
    let mut widths = vec![Constraint::Length(place_width), Constraint::Length(26)];
    widths.extend(shown.iter().map(|_| Constraint::Length(field_width as u16)));
    let mut header = vec!["line".to_string(), "problem".to_string()];
    header.extend(shown.iter().map(|&i| cell(&b.header[i], field_width)));
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(t.title()))
        .row_highlight_style(t.selected());
    let mut state = TableState::default()
        .with_offset(q.top)
        .with_selected(Some(q.cursor));
    frame.render_stateful_widget(table, body, &mut state);
}

pub fn draw_changes(app: &App, frame: &mut Frame, area: Rect) {
    let Some(b) = &app.batch else { return };
    let t = &app.theme;
    let [info, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let c = &app.changes;
    let marked = if app.marked.is_empty() {
        String::new()
    } else {
        format!(" · {} marked to hold back (H)", app.marked.len())
    };
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::raw(format!(
                " {} rows would update production{}",
                super::thousands(b.summary.plan.update),
                match b.summary.plan.delete {
                    0 => String::new(),
                    n => format!(", {} would be deleted (listed after)", super::thousands(n)),
                }
            )),
            Span::styled(marked, t.warn()),
            Span::styled(
                super::position(c)
                    .map(|p| format!("  {p}"))
                    .unwrap_or_default(),
                t.dim(),
            ),
            Span::styled(if c.loading { "  loading…" } else { "" }, t.dim()),
        ])),
        info,
    );
    if c.rows.is_empty() {
        let text = if c.loading {
            " loading…"
        } else {
            " no row would change an existing one"
        };
        frame.render_widget(Paragraph::new(text), body);
        return;
    }
    let rows: Vec<Row> = c
        .rows
        .iter()
        .map(|r| {
            let mut spans = Vec::new();
            if r.deleted {
                spans.push(Span::styled("deleted: ", t.bad()));
            }
            for (i, ch) in r.changes.iter().enumerate() {
                if i > 0 {
                    spans.push(Span::styled(" · ", t.dim()));
                }
                if r.deleted {
                    spans.push(Span::styled(format!("{} ", ch.column), t.title()));
                    spans.push(Span::styled(
                        cell(ch.before.as_deref().unwrap_or("∅"), 30),
                        t.bad(),
                    ));
                    continue;
                }
                spans.push(Span::styled(format!("{} ", ch.column), t.title()));
                spans.push(Span::styled(
                    cell(ch.before.as_deref().unwrap_or("∅"), 30),
                    t.bad(),
                ));
                spans.push(Span::raw(" → "));
                spans.push(Span::styled(
                    cell(ch.after.as_deref().unwrap_or("∅"), 30),
                    t.good(),
                ));
            }
            let mark = if app.marked.contains(&r.ord) {
                "■"
            } else {
                " "
            };
            Row::new(vec![
                Cell::from(Span::styled(mark, t.warn())),
                Cell::from(match r.deleted {
                    true => "–".to_string(),
                    false => r.line.to_string(),
                }),
                Cell::from(cell(&r.key, 20)),
                Cell::from(r.changes.len().to_string()),
                Cell::from(Line::from(spans)),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(1),
            Constraint::Length(6),
            Constraint::Length(20),
            Constraint::Length(4),
            Constraint::Fill(1),
        ],
    )
    .header(
        Row::new([
            "",
            "line",
            "key",
            "cols",
            "before → after (Enter: every column, whole)",
        ])
        .style(t.title()),
    )
    .row_highlight_style(t.selected());
    let mut state = TableState::default()
        .with_offset(c.top)
        .with_selected(Some(c.cursor));
    frame.render_stateful_widget(table, body, &mut state);
}
