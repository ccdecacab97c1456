//! The batches list: every batch, including the leftovers of failed runs.
use crate::batch::State;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};

use super::{cell, human_bytes, thousands};
use crate::format::age;
use crate::tui::app::App;

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let list = &app.batches;
    if list.rows.is_empty() {
        let text = if list.loading {
            " loading…"
        } else {
            " no batches yet: airlock review FEED FILE starts one"
        };
        frame.render_widget(Paragraph::new(text), area);
        return;
    }
    let rows: Vec<Row> = list
        .rows
        .iter()
        .map(|b| {
            let state_style = match b.state {
                State::Promoted => t.good(),
                State::LoadFailed | State::PromoteFailed => t.bad(),
                State::Validated | State::Quarantined | State::Promoting | State::Loading => {
                    t.warn()
                }
                State::Aborted | State::Undone => t.dim(),
            };
            Row::new(vec![
                Cell::from(b.batch.to_string()),
                Cell::from(cell(&b.feed, 14)),
                Cell::from(cell(&b.target, 40)),
                Cell::from(b.state.as_str()).style(state_style),
                Cell::from(b.verdict.map_or("–", |v| v.as_str())).style(t.verdict(b.verdict)),
                Cell::from(b.rows_total.map(thousands).unwrap_or_else(|| "–".into())),
                Cell::from(
                    b.rows_quarantined
                        .map(thousands)
                        .unwrap_or_else(|| "–".into()),
                ),
                Cell::from(age(b.age_seconds)),
                Cell::from(human_bytes(b.staging_bytes.max(0) as u64)),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(5),
            Constraint::Length(14),
            Constraint::Min(10),
            Constraint::Length(14),
            Constraint::Length(7),
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Length(4),
            Constraint::Length(8),
        ],
    )
    .header(
        Row::new([
            "batch", "feed", "target", "state", "verdict", "rows", "bad", "age", "staging",
        ])
        .style(t.title()),
    )
    .row_highlight_style(t.selected());
    let mut state = TableState::default().with_selected(Some(list.cursor));
    frame.render_stateful_widget(table, area, &mut state);
}
