//! The summary: file facts, the verdict with its breaches, the checks, the plan, and a
//! profile of each column.
use crate::batch::{State, Verdict};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState};

use super::{cell, human_bytes, thousands};
use crate::tui::app::App;

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let Some(b) = &app.batch else {
        frame.render_widget(Paragraph::new(" reading the batch…"), area);
        return;
    };
    let t = &app.theme;
    let s = &b.summary;
    let all_warnings: Vec<&str> = s
        .notes
        .iter()
        .filter_map(|n| n.strip_prefix("warning: "))
        .collect();
    // At most three of each, and a line saying how many more there are: never a silent cut.
    let warnings = &all_warnings[..all_warnings.len().min(3)];
    let hidden = s.breaches.len().saturating_sub(3) + all_warnings.len() - warnings.len();
    let banner_lines = 1
        + s.breaches.len().min(3) as u16
        + warnings.len() as u16
        + u16::from(hidden > 0)
        + u16::from(!s.conversions.is_empty())
        + u16::from(s.since_last.is_some());
    let profile_rows = app.profile.as_ref().map_or(1, |p| p.len() as u16);
    let (checks_height, profile_height) = split_heights(
        area.height.saturating_sub(1 + banner_lines + 2),
        s.checks.len() as u16 + 2,
        profile_rows + 2,
    );
    let [facts, banner, checks, plan, profile] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(banner_lines),
        Constraint::Length(checks_height),
        Constraint::Length(2),
        Constraint::Length(profile_height),
    ])
    .areas(area);

    let mut name = std::path::Path::new(&s.file.path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match s.file.parts.len() {
        0 => {}
        1 => name.push_str(" (1 file)"),
        n => name.push_str(&format!(" ({n} files)")),
    }
    frame.render_widget(
        Paragraph::new(format!(
            " {} · {} · sha256 {} · {} rows · {}",
            super::shown(&name),
            human_bytes(s.file.size.unwrap_or(0) as u64),
            s.file
                .sha256
                .as_deref()
                .map(|h| &h[..h.len().min(12)])
                .unwrap_or("-"),
            thousands(s.rows.total),
            match s.file.format.as_deref() {
                Some(format @ ("jsonl" | "xlsx")) => format,
                _ => &s.file.encoding,
            }
        )),
        facts,
    );

    let verdict = s.verdict;
    // Once decided, the batch's fate matters more than what the verdict allowed.
    let decided = match s.state {
        State::Promoted => Some("promoted: the good rows are in production".to_string()),
        State::Aborted => Some("aborted: nothing was promoted, production untouched".to_string()),
        State::Quarantined => Some(
            "quarantined: set aside with everything kept (U releases it for a new decision)"
                .to_string(),
        ),
        State::Undone => Some("undone: the replaced table is back".to_string()),
        State::LoadFailed | State::PromoteFailed => Some(
            s.error
                .as_deref()
                .map_or_else(|| s.state.to_string(), |e| super::shown(e).into_owned()),
        ),
        State::Loading | State::Validated | State::Promoting => None,
    };
    let headline = match (decided, verdict) {
        (Some(text), _) => text,
        (None, verdict) => match verdict {
            Some(Verdict::Clean) => format!(
                "no problems found; {} rows ready to promote",
                thousands(s.rows.good)
            ),
            Some(Verdict::Review) if s.rows.quarantined == 0 && !all_warnings.is_empty() => {
                format!(
                    "read the {} below before approving · {} good rows can go",
                    if all_warnings.len() == 1 {
                        "warning"
                    } else {
                        "warnings"
                    },
                    thousands(s.rows.good)
                )
            }
            Some(Verdict::Review) => format!(
                "{} quarantined ({:.1}%), within policy · {} good rows can go",
                thousands(s.rows.quarantined),
                pct(s.rows.quarantined, s.rows.total),
                thousands(s.rows.good)
            ),
            Some(Verdict::Abort) => {
                "policy breached · nothing is promoted without an override".into()
            }
            None => s
                .error
                .clone()
                .unwrap_or_else(|| format!("state {}", s.state)),
        },
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(
            format!(
                " {} ",
                verdict
                    .map_or(s.state.as_str(), |v| v.as_str())
                    .to_uppercase()
            ),
            t.verdict(verdict)
                .add_modifier(ratatui::style::Modifier::REVERSED),
        ),
        Span::raw(format!("  {headline}")),
    ])];
    for breach in s.breaches.iter().take(3) {
        lines.push(Line::styled(
            super::cell(&format!("   ✗ {breach}"), banner.width as usize),
            t.bad(),
        ));
    }
    for warning in warnings {
        // Cut to the screen with an ellipsis, never silently (`show` has the whole text).
        lines.push(Line::styled(
            super::cell(&format!("   ⚠ {warning}"), banner.width as usize),
            t.warn(),
        ));
    }
    if hidden > 0 {
        lines.push(Line::styled(
            format!(
                "   … and {hidden} more: airlock show {} lists every breach and warning",
                s.batch
            ),
            t.dim(),
        ));
    }
    if let Some(first) = s.conversions.first() {
        let rest: Vec<String> = s.conversions[1..]
            .iter()
            .map(|c| format!("{} {}", c.column, thousands(c.rows as i64)))
            .collect();
        let said = format!(
            "   read by the [columns] rules: {} {}{} (e.g. {} → {}){}",
            first.column,
            thousands(first.rows as i64),
            match first.rules.is_empty() {
                true => String::new(),
                false => format!(" by {}", first.rules),
            },
            super::cell(&first.from, 30),
            super::cell(&first.to, 30),
            if rest.is_empty() {
                String::new()
            } else {
                format!(", {}", rest.join(", "))
            }
        );
        // Cut to the screen with an ellipsis, never silently.
        lines.push(Line::styled(
            super::cell(&said, banner.width as usize),
            t.dim(),
        ));
    }
    if let Some(since) = &s.since_last {
        // Cut to the screen with an ellipsis, never silently.
        lines.push(Line::styled(
            super::cell(&format!("   {}", since.describe()), banner.width as usize),
            t.dim(),
        ));
    }
    frame.render_widget(Paragraph::new(lines), banner);

    // `part-002.csv:40` in a batch of several files.
    let line_width = s
        .checks
        .iter()
        .map(|c| c.example.place().chars().count())
        .max()
        .unwrap_or(0)
        .clamp(6, 24) as u16;
    // The example's column: what is left of the row; a message cut there keeps its fix.
    let example_width =
        (checks.width as usize).saturating_sub(17 + 12 + 8 + line_width as usize + 4);
    let rows: Vec<Row> = s
        .checks
        .iter()
        .map(|c| {
            let style = match c.severity.as_str() {
                "error" => Style::new(),
                _ => t.dim(),
            };
            Row::new(vec![
                Cell::from(c.check.clone()),
                Cell::from(c.column.clone().unwrap_or_else(|| "–".into())),
                Cell::from(thousands(c.rows)),
                Cell::from(cell(&c.example.place(), 24)),
                Cell::from(crate::format::fit_message(
                    &c.example.message,
                    example_width,
                )),
            ])
            .style(style)
        })
        .collect();
    let empty = rows.is_empty();
    let table = Table::new(
        rows,
        [
            Constraint::Length(17),
            Constraint::Length(12),
            Constraint::Length(8),
            Constraint::Length(line_width),
            Constraint::Fill(1),
        ],
    )
    .header(Row::new(["check", "column", "rows", "line", "first example"]).style(t.title()))
    .block(
        Block::new()
            .borders(Borders::TOP)
            .title(if s.state == State::LoadFailed && empty {
                " Checks: none finished (the load did not) "
            } else if empty {
                " Checks: nothing to report "
            } else {
                " Checks (Enter: browse those rows) "
            }),
    )
    .row_highlight_style(t.selected());
    let mut state = TableState::default().with_selected((!empty).then_some(app.summary_cursor));
    frame.render_stateful_widget(table, checks, &mut state);

    if s.state == State::LoadFailed {
        // No plan was made: say what the batch keeps and how to go on.
        let lines = vec![
            Line::from(vec![
                Span::styled(" Plan ", t.title()),
                Span::raw(" none: the load did not finish, so nothing can be promoted"),
            ]),
            Line::styled(
                super::cell(
                    &format!(
                        "       R checks the file again · airlock drop {} --yes frees its staging",
                        s.batch
                    ),
                    plan.width as usize,
                ),
                t.dim(),
            ),
        ];
        frame.render_widget(Paragraph::new(lines), plan);
        draw_profile(app, frame, profile);
        return;
    }
    let p = &s.plan;
    let (counts, basis) = p.describe(&s.mode, s.promoted());
    let plan_spans = vec![
        Span::styled(" Plan ", t.title()),
        Span::raw(format!(" {counts}")),
        Span::styled(format!("  {basis}"), t.dim()),
    ];
    let changed: Vec<String> = p
        .columns
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(c, n)| format!("{c} {}", thousands(*n)))
        .collect();
    let changed = if changed.is_empty() {
        String::new()
    } else {
        format!("       changes: {}", changed.join(", "))
    };
    let width = plan.width as usize;
    frame.render_widget(
        Paragraph::new(vec![
            Line::from(super::fit_spans(plan_spans, width)),
            Line::styled(cell(&changed, width), t.dim()),
        ]),
        plan,
    );

    draw_profile(app, frame, profile);
}

/// The heights of the checks and the column profile in `room` lines, each wanting its rows
/// and borders: both whole when they fit (the profile takes what is left); otherwise the
/// profile keeps at least half and the checks, which scroll with their cursor, the rest.
fn split_heights(room: u16, checks: u16, profile: u16) -> (u16, u16) {
    let checks = checks.max(3);
    if checks + profile <= room {
        return (checks, room - checks);
    }
    let profile = profile.min(room / 2).max(room.saturating_sub(checks));
    let checks = room.saturating_sub(profile);
    (checks, profile)
}

/// A percentage that never rounds a few values away: `<1%`, `>99%`.
fn share(part: i64, whole: i64) -> String {
    let p = pct(part, whole);
    match p {
        p if p > 0.0 && p < 1.0 => "<1%".into(),
        p if p > 99.0 && p < 100.0 => ">99%".into(),
        p => format!("{p:.0}%"),
    }
}

fn pct(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

fn draw_profile(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let flagged = app
        .profile
        .as_ref()
        .is_some_and(|p| p.iter().any(|c| c.suspicious()));
    // The legend only when a column is flagged: otherwise it reads like a warning.
    let title = if flagged {
        " Columns (⚠ a few values unlike the rest: a shifted column?) "
    } else {
        " Columns "
    };
    let shown = area.height.saturating_sub(2) as usize;
    let title = match app.profile.as_ref().map_or(0, Vec::len) {
        n if n > shown => format!(
            " Columns {shown} of {n} (a taller terminal shows all; airlock show ID --json has every one){} ",
            if flagged {
                " · ⚠ a few values unlike the rest"
            } else {
                ""
            }
        ),
        _ => title.to_string(),
    };
    // Cut to the screen with an ellipsis, never silently.
    let title = format!(
        "{} ",
        cell(title.trim_end(), (area.width as usize).saturating_sub(2))
    );
    let block = Block::new().borders(Borders::TOP).title(title);
    let Some(profile) = &app.profile else {
        frame.render_widget(Paragraph::new(" profiling…").block(block), area);
        return;
    };
    // The counts' columns as wide as their widest value (an estimate of millions of
    // distinct values is `≈4,977,596`): never cut.
    let counts: Vec<(String, String)> = profile
        .iter()
        .map(|c| {
            let distinct = match c.estimated {
                true => format!("≈{}", thousands(c.distinct)),
                false => thousands(c.distinct),
            };
            (thousands(c.nulls), distinct)
        })
        .collect();
    let width = |header: &str, f: fn(&(String, String)) -> &String| {
        counts
            .iter()
            .map(|c| f(c).chars().count())
            .chain([header.len()])
            .max()
            .unwrap_or_default() as u16
            + 1
    };
    let (empty_width, distinct_width) = (width("empty", |c| &c.0), width("distinct", |c| &c.1));
    // What the other columns and their spacing leave the commonest values.
    let values_width = (area.width as usize)
        .saturating_sub(17 + empty_width as usize + distinct_width as usize + 8 + 4);
    let rows: Vec<Row> = profile
        .iter()
        .zip(counts)
        .map(|(c, (nulls, distinct))| {
            let flag = if c.suspicious() { "⚠" } else { "" };
            let top: Vec<String> = c
                .top
                .iter()
                .map(|(v, n)| format!("{} ({})", cell(v, 18), thousands(*n)))
                .collect();
            let row = Row::new(vec![
                Cell::from(format!("{flag} {}", cell(&c.name, 14))),
                Cell::from(nulls),
                Cell::from(distinct),
                Cell::from(share(c.numeric, c.non_null)),
                Cell::from(cell(&top.join(", "), values_width)),
            ]);
            if c.suspicious() {
                row.style(t.warn())
            } else {
                row
            }
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(17),
            Constraint::Length(empty_width),
            Constraint::Length(distinct_width),
            Constraint::Length(8),
            Constraint::Fill(1),
        ],
    )
    .header(
        Row::new(["column", "empty", "distinct", "numeric", "commonest values"]).style(t.title()),
    )
    .block(block);
    frame.render_widget(table, area);
}
