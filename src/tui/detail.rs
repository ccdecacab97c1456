//! A quarantined row's detail as lines of text, and how much of it a screen shows: one home
//! for what the detail holds, so the view draws it and the app scrolls it by the same lines.
use crate::review::{ChangeKind, ChangedRow, QuarantinedRow};

use super::action::BatchData;

/// The most lines of a record "as the file has it" the detail shows.
pub const SOURCE_LINES: usize = 8;
/// The narrowest the detail's box is, where the screen allows.
const MIN_WIDTH: u16 = 100;

/// What a line of the detail is, for its style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Title,
    Blank,
    /// A field: its padded name, its value, whether a check failed on it.
    Field {
        name: String,
        offending: bool,
    },
    /// A problem: the check and column, then the message.
    Problem {
        check: String,
    },
    Text,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetailLine {
    pub kind: Kind,
    pub text: String,
}

impl DetailLine {
    fn new(kind: Kind, text: impl Into<String>) -> Self {
        Self {
            kind,
            text: text.into(),
        }
    }

    /// Its width on screen, all parts together.
    pub fn width(&self) -> usize {
        let lead = match &self.kind {
            Kind::Field { name, .. } => name.chars().count(),
            Kind::Problem { check } => check.chars().count(),
            _ => 0,
        };
        lead + self.text.chars().count()
    }
}

/// Every line of a change's detail: each changed column, before and after, whole (the list
/// shows as many as the screen's width allows).
pub fn change_lines(row: &ChangedRow) -> Vec<DetailLine> {
    let mut out = vec![DetailLine::new(
        Kind::Title,
        match row.kind {
            ChangeKind::Delete => format!("Key {}: deleted — the file does not have it", row.key),
            ChangeKind::Insert if row.key.is_empty() => {
                format!("Inserted · line {} of the file", row.line)
            }
            ChangeKind::Insert => format!(
                "Key {}: inserted — production does not have it · line {} of the file",
                row.key, row.line
            ),
            ChangeKind::Update => format!("Key {} · line {} of the file", row.key, row.line),
        },
    )];
    out.push(DetailLine::new(Kind::Blank, ""));
    let width = row
        .changes
        .iter()
        .map(|c| c.column.chars().count())
        .max()
        .unwrap_or(0);
    let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "∅".into());
    for c in &row.changes {
        let text = match row.kind {
            ChangeKind::Delete => shown(&c.before),
            ChangeKind::Insert => shown(&c.after),
            ChangeKind::Update => format!("{}  →  {}", shown(&c.before), shown(&c.after)),
        };
        out.push(DetailLine::new(
            Kind::Field {
                name: format!("  {:<width$}  ", c.column),
                offending: false,
            },
            // A line break shows as in the list (⏎); other control characters escaped.
            crate::format::visible(&text.replace('\n', "⏎"), false),
        ));
    }
    out
}

/// Every line of `row`'s detail.
pub fn lines(
    batch: &BatchData,
    row: &QuarantinedRow,
    source: &Option<(i64, Result<Option<String>, String>)>,
) -> Vec<DetailLine> {
    let bad = offending_fields(batch, row);
    let mut out = vec![
        DetailLine::new(
            Kind::Title,
            format!("Line {} of the file (record {})", row.place(), row.ord),
        ),
        DetailLine::new(Kind::Blank, ""),
    ];
    let width = batch
        .header
        .iter()
        .map(|h| h.chars().count())
        .max()
        .unwrap_or(4)
        .min(24);
    for (i, name) in batch.header.iter().enumerate() {
        let value = row.fields.get(i).cloned().flatten();
        out.push(DetailLine::new(
            Kind::Field {
                name: format!("  {:<width$}  ", crate::format::fit(name, 24)),
                offending: bad.contains(&i),
            },
            value
                .map(|v| crate::format::fit(&v, 2000))
                .unwrap_or_else(|| "∅ (empty)".into()),
        ));
    }
    out.push(DetailLine::new(Kind::Blank, ""));
    out.push(DetailLine::new(Kind::Title, "Problems"));
    for i in &row.issues {
        out.push(DetailLine::new(
            Kind::Problem {
                check: format!("  {} {}: ", i.check, i.column.as_deref().unwrap_or("")),
            },
            crate::format::visible(&i.message, false),
        ));
    }
    out.push(DetailLine::new(Kind::Blank, ""));
    out.push(DetailLine::new(
        Kind::Title,
        format!("As the file has it (line {})", row.place()),
    ));
    let text = match source {
        Some((ord, Ok(Some(text)))) if *ord == row.ord => text.clone(),
        Some((ord, Ok(None))) if *ord == row.ord => row
            .raw
            .clone()
            .map(|r| format!("{r}   (as staged: the file is gone or has changed)"))
            .unwrap_or_else(|| "(the file is gone or has changed since it was loaded)".into()),
        Some((ord, Err(e))) if *ord == row.ord => format!("(cannot read it: {e})"),
        _ => "reading…".into(),
    };
    for l in text.lines().take(SOURCE_LINES) {
        out.push(DetailLine::new(
            Kind::Text,
            format!("  {}", crate::format::fit(l, 400)),
        ));
    }
    out
}

/// How the detail sits on a screen of `width`×`height`: its box, its lines once wrapped,
/// and how many of them show at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    pub width: u16,
    pub height: u16,
    pub total: usize,
    pub shown: usize,
}

impl Extent {
    /// As wide as the longest line wants (at least 100 columns, at most the screen), as tall
    /// as the lines need; what does not fit scrolls.
    pub fn of(lines: &[DetailLine], width: u16, height: u16) -> Self {
        let longest = lines.iter().map(DetailLine::width).max().unwrap_or(0) as u16;
        let box_width = longest
            .saturating_add(2)
            .clamp(MIN_WIDTH, width.max(MIN_WIDTH));
        let inner = usize::from(box_width.min(width).saturating_sub(2)).max(1);
        let total: usize = lines.iter().map(|l| l.width().div_ceil(inner).max(1)).sum();
        let box_height = (total as u16).saturating_add(2).min(height);
        Self {
            width: box_width,
            height: box_height,
            total,
            shown: usize::from(box_height.saturating_sub(2)).max(1),
        }
    }

    /// The furthest the detail scrolls.
    pub fn last_scroll(&self) -> usize {
        self.total.saturating_sub(self.shown)
    }
}

/// The source fields a row's issues point at.
pub fn offending_fields(batch: &BatchData, row: &QuarantinedRow) -> Vec<usize> {
    let mut out = Vec::new();
    for issue in &row.issues {
        let Some(column) = &issue.column else {
            continue;
        };
        for part in column.split(", ") {
            if let Some((_, i)) = batch.columns.iter().find(|(target, _)| target == part) {
                out.push(*i);
            } else if let Some(i) = batch.header.iter().position(|h| h == part) {
                out.push(i);
            }
        }
    }
    out
}
