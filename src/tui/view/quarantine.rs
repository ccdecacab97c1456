//! The quarantined-rows browser: paged from the database, the key frozen at the left, the
//! current cell and the offending ones marked.
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
    let line = info_spans(app, b, usize::from(info.width));
    frame.render_widget(Paragraph::new(Line::from(line)), info);

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
    // The key's fields frozen, then the others from the scroll position, as wide as what
    // the rows held have; the current column's header marked.
    let shown = crate::tui::columns::shown(app, body.width as usize);
    let current = crate::tui::columns::order(b).get(app.column).copied();
    let rows: Vec<Row> = q
        .rows
        .iter()
        .enumerate()
        .map(|(n, r)| {
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
                Cell::from(cell(&problem, crate::tui::columns::PROBLEM)),
            ];
            for s in &shown {
                let value = r.fields.get(s.field).cloned().flatten();
                let text = match &value {
                    Some(v) => cell(v, s.width),
                    None => "∅".into(),
                };
                let mut style = if bad.contains(&s.field) {
                    t.offending()
                } else if value.is_none() {
                    t.dim()
                } else {
                    Style::new()
                };
                if n == q.cursor && Some(s.field) == current {
                    style = style.patch(t.current_cell());
                }
                cells.push(Cell::from(Span::styled(text, style)));
            }
            Row::new(cells)
        })
        .collect();
    let place_width = crate::tui::columns::place_width(app) as u16;
    let mut widths = vec![
        Constraint::Length(place_width),
        Constraint::Length(crate::tui::columns::PROBLEM as u16),
    ];
    widths.extend(shown.iter().map(|s| Constraint::Length(s.width as u16)));
    let mut header = vec![Cell::from("line"), Cell::from("problem")];
    header.extend(shown.iter().map(|s| {
        let name = &b.header[s.field];
        match Some(s.field) == current {
            true => Cell::from(Span::styled(
                cell(&format!("›{name}"), s.width),
                t.selected(),
            )),
            false => Cell::from(cell(name, s.width)),
        }
    }));
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(t.title()))
        .row_highlight_style(t.selected());
    let mut state = TableState::default()
        .with_offset(q.top)
        .with_selected(Some(q.cursor));
    frame.render_stateful_widget(table, body, &mut state);
}

/// The list's line: the row, what the rows are (the filter), where the cursor is (line,
/// column), the sort and the search, cut with `…` to the screen.
fn info_spans<'a>(app: &App, b: &crate::tui::action::BatchData, width: usize) -> Vec<Span<'a>> {
    let t = &app.theme;
    let q = &app.quarantine;
    let mut spans = vec![Span::raw(" ")];
    let sep = |spans: &mut Vec<Span<'a>>| {
        if spans.len() > 1 {
            spans.push(Span::styled(" · ", t.dim()));
        }
    };
    if let Some(at) = super::position(q) {
        spans.push(Span::raw(at));
    }
    sep(&mut spans);
    if app.filter.is_empty() {
        spans.push(Span::styled("all quarantined rows", t.dim()));
    } else {
        match app.filter.kept.as_deref() {
            Some("warning") => spans.push(Span::styled("rows a warning let through: ", t.warn())),
            Some(_) => spans.push(Span::styled(
                "rows another with their key outranked: ",
                t.warn(),
            )),
            None => {}
        }
        spans.push(Span::styled("filter ", t.dim()));
        if let Some(c) = &app.filter.check {
            spans.push(Span::styled(
                format!("check={} ", super::shown(c)),
                t.accent(),
            ));
        }
        if let Some(c) = &app.filter.column {
            spans.push(Span::styled(
                format!("column={} ", super::shown(c)),
                t.accent(),
            ));
        }
        if let Some(v) = &app.filter.value {
            spans.push(Span::styled(
                format!("value='{}' ", super::shown(v)),
                t.accent(),
            ));
        }
        spans.push(Span::styled("(c clears)", t.dim()));
    }
    if let Some(r) = q.current() {
        sep(&mut spans);
        spans.push(Span::raw(format!("line {}", r.place())));
    }
    // Where the current cell is: its column, and how many scrolled out of sight.
    let order = crate::tui::columns::order(b);
    if !order.is_empty() {
        sep(&mut spans);
        spans.push(Span::raw(format!(
            "col {} of {}",
            app.column + 1,
            order.len()
        )));
    }
    if app.hscroll > 0 {
        sep(&mut spans);
        spans.push(Span::styled(format!("‹{} hidden", app.hscroll), t.dim()));
    }
    if let Some(sort) = app.sort {
        let name = b.header.get(sort.field).map_or("?", String::as_str);
        let way = if sort.descending { "↓" } else { "↑" };
        sep(&mut spans);
        spans.push(Span::styled(
            format!("sorted by {}{way}", super::shown(name)),
            t.accent(),
        ));
    }
    if let Some(s) = &app.search {
        spans.push(Span::styled(
            format!(" · search '{}' (n/N)", super::shown(s)),
            t.dim(),
        ));
    }
    if q.loading {
        spans.push(Span::styled(" · loading…", t.dim()));
    }
    super::fit_spans(spans, width)
}
