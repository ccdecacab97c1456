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
    let name = |path: &str| {
        std::path::Path::new(path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.to_string())
    };
    let count = |n: Option<i64>| n.map(thousands).unwrap_or_else(|| "–".into());
    let widest = |f: &dyn Fn(&crate::batch::BatchListItem) -> String, title: &str| {
        list.rows
            .iter()
            .map(|b| f(b).chars().count())
            .chain(std::iter::once(title.chars().count()))
            .max()
            .unwrap_or(0)
    };
    // Fixed columns as wide as their content; feed, target and file share what is left,
    // the widest giving way first, each cut with an ellipsis, never silently.
    let fixed = [
        widest(&|b| b.batch.to_string(), "batch"),
        widest(&|b| b.state.as_str().to_string(), "state"),
        7,
        widest(&|b| count(b.rows_total), "rows"),
        widest(&|b| count(b.rows_quarantined), "bad"),
        4,
        8,
    ];
    let gaps = 9;
    let room = (area.width as usize).saturating_sub(fixed.iter().sum::<usize>() + gaps);
    let flexible = fit_widths(
        &[
            widest(&|b| b.feed.clone(), "feed"),
            widest(&|b| b.target.clone(), "target"),
            widest(&|b| name(&b.file), "file"),
        ],
        room,
        8,
    );
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
                Cell::from(cell(&b.feed, flexible[0])),
                Cell::from(cell(&b.target, flexible[1])),
                Cell::from(cell(&name(&b.file), flexible[2])),
                Cell::from(b.state.as_str()).style(state_style),
                Cell::from(b.verdict.map_or("–", |v| v.as_str())).style(t.verdict(b.verdict)),
                Cell::from(count(b.rows_total)),
                Cell::from(count(b.rows_quarantined)),
                Cell::from(age(b.age_seconds)),
                Cell::from(human_bytes(b.staging_bytes.max(0) as u64)),
            ])
        })
        .collect();
    let w = |n: usize| Constraint::Length(n as u16);
    let table = Table::new(
        rows,
        [
            w(fixed[0]),
            w(flexible[0]),
            w(flexible[1]),
            w(flexible[2]),
            w(fixed[1]),
            w(fixed[2]),
            w(fixed[3]),
            w(fixed[4]),
            w(fixed[5]),
            w(fixed[6]),
        ],
    )
    .header(
        Row::new([
            "batch", "feed", "target", "file", "state", "verdict", "rows", "bad", "age", "staging",
        ])
        .style(t.title()),
    )
    .row_highlight_style(t.selected());
    let mut state = TableState::default().with_selected(Some(list.cursor));
    frame.render_stateful_widget(table, area, &mut state);
}

/// Widths for columns that want `wants`, in `room`: as wanted when they fit, else the widest
/// gives way a character at a time, none below `min` (a column wanting less keeps its want).
fn fit_widths(wants: &[usize], room: usize, min: usize) -> Vec<usize> {
    let mut widths = wants.to_vec();
    while widths.iter().sum::<usize>() > room {
        let Some((i, _)) = widths
            .iter()
            .enumerate()
            .filter(|(_, w)| **w > min)
            .max_by_key(|(_, w)| **w)
        else {
            break;
        };
        widths[i] -= 1;
    }
    widths
}

#[cfg(test)]
mod tests {
    use super::fit_widths;

    #[test]
    fn the_widest_column_gives_way_first() {
        assert_eq!(fit_widths(&[16, 15, 19], 100, 8), [16, 15, 19]);
        assert_eq!(fit_widths(&[16, 15, 19], 45, 8), [15, 15, 15]);
        assert_eq!(fit_widths(&[16, 40, 19], 30, 8), [10, 10, 10]);
        assert_eq!(fit_widths(&[4, 40, 19], 10, 8), [4, 8, 8]);
    }
}
