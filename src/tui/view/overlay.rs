//! Overlays: help, a row's detail, text inputs, the decision dialogs and the busy box.
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::centered;
use crate::tui::app::{App, Dialog, DialogKind, InputPurpose, Overlay};
use crate::tui::detail::Kind;
use crate::tui::keymap::{Ctx, KEYMAP};

pub fn draw(app: &App, overlay: &Overlay, frame: &mut Frame, area: Rect) {
    match overlay {
        Overlay::Help => help(app, frame, area),
        Overlay::Detail { scroll } => detail(app, *scroll, frame, area),
        Overlay::Input { purpose, text } => {
            let label = match purpose {
                InputPurpose::Search => {
                    " Search the quarantined rows (Enter: find, Esc: cancel) ".to_string()
                }
                InputPurpose::JumpLine => {
                    " Jump to file line (Enter: go, Esc: cancel) ".to_string()
                }
                InputPurpose::ExportPath(id) => {
                    format!(" Export the quarantined rows of batch {id} to (Enter: write) ")
                }
            };
            let box_area = Rect {
                y: area.height.saturating_sub(4),
                height: 3.min(area.height),
                ..area
            };
            frame.render_widget(Clear, box_area);
            let block = Block::bordered().title(label);
            let inner = block.inner(box_area);
            frame.render_widget(block, box_area);
            frame.render_widget(&**text, inner);
        }
        Overlay::Dialog(d) => dialog(app, d, frame, area),
        Overlay::Frequencies { table, cursor } => frequencies(app, table, *cursor, frame, area),
        Overlay::Busy(what) => {
            const SPIN: [&str; 8] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧"];
            let box_area = centered(area, (what.chars().count() as u16 + 8).max(30), 3);
            frame.render_widget(Clear, box_area);
            let spin = SPIN[(app.ticks % SPIN.len() as u64) as usize];
            frame.render_widget(
                Paragraph::new(format!(" {spin} {what}")).block(Block::bordered()),
                box_area,
            );
        }
    }
}

fn help_lines(app: &App, section: Ctx) -> Vec<Line<'static>> {
    let t = &app.theme;
    let mut lines = vec![Line::styled(section.title(), t.title())];
    let mut seen: Vec<&str> = Vec::new();
    for b in KEYMAP.iter().filter(|b| b.ctx == section) {
        if seen.contains(&b.help) {
            continue;
        }
        seen.push(b.help);
        let keys: Vec<&str> = KEYMAP
            .iter()
            .filter(|o| o.ctx == section && o.help == b.help)
            .map(|o| o.key)
            .collect();
        lines.push(Line::from(vec![
            Span::styled(format!("  {:<11}", keys.join(" ")), t.key()),
            Span::raw(b.help),
        ]));
    }
    lines
}

/// The keys of this screen, then the keys that work everywhere, from the keymap table: in
/// as many columns as the screen's height needs, each line cut with `…` to its column.
fn help(app: &App, frame: &mut Frame, area: Rect) {
    let mut lines = help_lines(app, app.view.ctx());
    lines.push(Line::raw(""));
    lines.extend(help_lines(app, Ctx::Global));
    let rows = lines
        .len()
        .min(usize::from(area.height.saturating_sub(2)).max(1));
    // Each column as wide as its longest line wants; a narrow screen shares what it has.
    let wants: Vec<u16> = lines
        .chunks(rows)
        .map(|c| c.iter().map(|l| l.width()).max().unwrap_or(0) as u16 + 2)
        .collect();
    let box_area = centered(area, wants.iter().sum::<u16>() + 2, rows as u16 + 2);
    frame.render_widget(Clear, box_area);
    let block = Block::bordered().title(" Keys (any key closes) ");
    let inner = block.inner(box_area);
    frame.render_widget(block, box_area);
    let areas = Layout::horizontal(wants.iter().map(|w| Constraint::Max(*w))).split(inner);
    for (chunk, column) in lines.chunks(rows).zip(areas.iter()) {
        let width = usize::from(column.width.saturating_sub(1));
        let fitted: Vec<Line> = chunk
            .iter()
            .map(|l| Line::from(super::fit_spans(l.spans.clone(), width)).style(l.style))
            .collect();
        frame.render_widget(Paragraph::new(fitted), *column);
    }
}

fn detail(app: &App, scroll: u16, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let Some(content) = app.detail_lines() else {
        return;
    };
    let extent = crate::tui::detail::Extent::of(&content, area.width, area.height);
    let lines: Vec<Line> = content
        .into_iter()
        .map(|l| match l.kind {
            Kind::Title => Line::styled(l.text, t.title()),
            Kind::Blank | Kind::Text => Line::raw(l.text),
            Kind::Field { name, offending } => Line::from(vec![
                Span::styled(name, t.dim()),
                Span::styled(
                    l.text,
                    if offending {
                        t.offending()
                    } else {
                        ratatui::style::Style::new()
                    },
                ),
            ]),
            Kind::Problem { check } => {
                Line::from(vec![Span::styled(check, t.bad()), Span::raw(l.text)])
            }
        })
        .collect();
    let scroll = usize::from(scroll).min(extent.last_scroll());
    let what = match app.view {
        crate::tui::app::View::Changes => "Change",
        _ => "Row detail",
    };
    let title = if extent.total > extent.shown {
        format!(
            " {what} · lines {}–{} of {} · j/k scroll · Esc back ",
            scroll + 1,
            (scroll + extent.shown).min(extent.total),
            extent.total
        )
    } else {
        format!(" {what} · Esc back ")
    };
    let box_area = centered(area, extent.width, extent.height);
    frame.render_widget(Clear, box_area);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll as u16, 0))
            .block(Block::bordered().title(title)),
        box_area,
    );
}

fn dialog(app: &App, d: &Dialog, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let mut lines: Vec<Line> = Vec::new();
    let (title, confirm) = match (&d.kind, &app.batch) {
        (DialogKind::Approve, Some(b)) => {
            let s = &b.summary;
            let p = &s.plan;
            lines.push(Line::raw(format!(
                "Promote batch {} into {} ({} mode), {}:",
                s.batch, s.target, s.mode, b.all_at_once
            )));
            lines.push(Line::styled(
                format!(
                    "  {}{}",
                    p.describe(&s.mode, s.promoted()).0,
                    if s.mode == "swap" {
                        " (the table is replaced)"
                    } else {
                        ""
                    }
                ),
                t.title(),
            ));
            lines.push(Line::raw(format!(
                "  {} stay out.",
                crate::format::count(s.rows.quarantined, "quarantined row")
            )));
            if s.verdict == Some(crate::batch::Verdict::Abort) {
                lines.push(Line::styled("The verdict is ABORT:", t.bad()));
                for b in &s.breaches {
                    lines.push(Line::styled(format!("  ✗ {b}"), t.bad()));
                }
                lines.push(Line::styled(
                    format!(
                        "Ctrl-O overrides the policy (recorded): {}",
                        if d.override_policy {
                            "OVERRIDE ON"
                        } else {
                            "off"
                        }
                    ),
                    if d.override_policy { t.warn() } else { t.dim() },
                ));
            }
            (" Approve and promote ", "Enter promotes")
        }
        (DialogKind::Quarantine, Some(b)) => {
            lines.push(Line::raw(format!(
                "Set batch {} aside: everything is kept, production is untouched.",
                b.summary.batch
            )));
            lines.push(Line::raw(
                "It can be released later (U here, or airlock release) and decided again.",
            ));
            (" Quarantine the batch ", "Enter quarantines")
        }
        (DialogKind::Release, Some(b)) => {
            lines.push(Line::raw(format!(
                "Release batch {} from quarantine: it is judged again against",
                b.summary.batch
            )));
            lines.push(Line::raw(
                "production as it is now and waits for a decision. Nothing is promoted.",
            ));
            (" Release from quarantine ", "Enter releases")
        }
        (DialogKind::Abort, Some(b)) => {
            lines.push(Line::raw(format!(
                "End batch {}: nothing is promoted, production is untouched.",
                b.summary.batch
            )));
            (" Abort the batch ", "Enter aborts")
        }
        (DialogKind::Hold(ords), _) => {
            lines.push(Line::raw(format!(
                "Hold {} rows back: they join the quarantine with your note,",
                ords.len()
            )));
            lines.push(Line::raw(
                "and the decision is recorded. The rest can still be promoted.",
            ));
            (" Hold rows back ", "Enter holds them back")
        }
        (DialogKind::Drop(id), _) => {
            lines.push(Line::raw(format!(
                "Drop what batch {id} keeps in airlock_stage (its staging, issues,"
            )));
            lines.push(Line::raw(
                "and a kept previous table). An unfinished batch ends as aborted.",
            ));
            lines.push(Line::raw("The batch row and its audit log stay."));
            (" Drop the batch's staging ", "Enter drops")
        }
        _ => (" ", ""),
    };
    let with_note = !matches!(d.kind, DialogKind::Drop(_));
    // A line longer than the box (a long target name) wraps, and the box grows with it.
    let inner_width = usize::from(area.width.min(78).saturating_sub(2)).max(1);
    let text_height: u16 = lines
        .iter()
        .map(|l| wrapped_height(&l.to_string(), inner_width))
        .sum();
    let height = text_height + if with_note { 6 } else { 4 } + u16::from(d.error.is_some());
    let box_area = centered(area, 78, height);
    frame.render_widget(Clear, box_area);
    let block = Block::bordered().title(title);
    let inner = block.inner(box_area);
    frame.render_widget(block, box_area);
    let [text, note, error, hints] = Layout::vertical([
        Constraint::Length(text_height),
        Constraint::Length(if with_note { 3 } else { 0 }),
        Constraint::Length(u16::from(d.error.is_some())),
        Constraint::Length(1),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), text);
    if with_note {
        frame.render_widget(&d.note, note);
    }
    if let Some(e) = &d.error {
        frame.render_widget(Paragraph::new(Line::styled(e.clone(), t.bad())), error);
    }
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(confirm, t.key()),
            Span::raw(" · "),
            Span::styled("Esc", t.key()),
            Span::raw(" cancels"),
        ])),
        hints,
    );
}

/// The offending values of a check, commonest first: rows and share of each; Enter filters
/// the rows to the value under the cursor.
fn frequencies(
    app: &App,
    table: &crate::review::Frequencies,
    cursor: usize,
    frame: &mut Frame,
    area: Rect,
) {
    use ratatui::widgets::{Cell, Row, Table, TableState};
    let t = &app.theme;
    let f = &table.filter;
    let what = match (&f.check, &f.column) {
        (Some(c), Some(col)) => format!("{c} {col}"),
        (Some(c), None) => c.clone(),
        _ => "the rows".into(),
    };
    let height = (table.values.len() as u16 + 4).min(area.height.saturating_sub(2));
    let box_area = centered(area, 90, height);
    frame.render_widget(Clear, box_area);
    let title = super::cell(
        &format!(
            " Values of {what}: {} in {} (Enter: those rows, Esc: back) ",
            crate::format::count(table.distinct, "distinct value"),
            crate::format::count(table.rows, "row"),
        ),
        box_area.width.saturating_sub(2) as usize,
    );
    let block = Block::bordered().title(title);
    let inner = block.inner(box_area);
    frame.render_widget(block, box_area);
    let value_width = inner.width.saturating_sub(20) as usize;
    let rows: Vec<Row> = table
        .values
        .iter()
        .map(|(value, n)| {
            let share = if table.rows > 0 {
                *n as f64 * 100.0 / table.rows as f64
            } else {
                0.0
            };
            Row::new(vec![
                Cell::from(super::thousands(*n)),
                Cell::from(format!("{share:.1}%")),
                // Quoted, so a trailing space shows: 'toys '.
                Cell::from(match value {
                    Some(v) => super::cell(&format!("'{v}'"), value_width),
                    None => "∅ (empty)".to_string(),
                }),
            ])
        })
        .collect();
    let more = (table.distinct as usize).saturating_sub(table.values.len());
    let mut shown = Table::new(
        rows,
        [
            Constraint::Length(9),
            Constraint::Length(7),
            Constraint::Fill(1),
        ],
    )
    .header(Row::new(["rows", "share", "value"]).style(t.title()))
    .row_highlight_style(t.selected());
    if more > 0 {
        shown = shown.footer(Row::new([
            Cell::from(""),
            Cell::from(""),
            Cell::from(format!("… and {} more", super::thousands(more as i64))),
        ]));
    }
    let mut state = TableState::default().with_selected(Some(cursor));
    frame.render_stateful_widget(shown, inner, &mut state);
}

/// How many rows `text` takes wrapped at word boundaries in `width` columns (a word longer
/// than a row is cut), as a wrapping paragraph lays it out.
fn wrapped_height(text: &str, width: usize) -> u16 {
    let mut rows = 1u16;
    let mut used = 0usize;
    for word in text.split(' ') {
        let w = Span::raw(word).width();
        let needed = if used == 0 { w } else { used + 1 + w };
        if needed <= width {
            used = needed;
        } else if w <= width {
            rows += 1;
            used = w;
        } else {
            // Cut across rows.
            rows += u16::try_from((used + 1 + w).div_ceil(width) - 1).unwrap_or(u16::MAX);
            used = (used + 1 + w) % width;
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::wrapped_height;

    #[test]
    fn wrapped_heights_count_the_rows_words_take() {
        assert_eq!(wrapped_height("", 10), 1);
        assert_eq!(wrapped_height("a b c", 10), 1);
        assert_eq!(wrapped_height("aaaa bbbb cccc", 10), 2);
        assert_eq!(wrapped_height("aaaaaaaaaa bbbbbbbbbb", 10), 2);
        assert_eq!(
            wrapped_height(
                "Promote batch 166 into airlock_t_15895_0_811014612.products (upsert mode), in one EXCHANGE TABLES:",
                76
            ),
            2
        );
    }
}
