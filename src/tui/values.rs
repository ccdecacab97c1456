//! The frequency view of a check's offending values, and copying a row or its value to the
//! terminal's clipboard: `impl App` beside the one `update`, as `dialog.rs` is.
use crossterm::event::{KeyCode, KeyEvent};

use super::action::Effect;
use super::app::{App, Overlay, StatusKind, View};
use super::keymap::{self, Act, Ctx};

impl App {
    /// A key in the frequency view: move, or filter the rows to the value under the cursor
    /// (Enter), or go back (Esc, q).
    pub(super) fn on_frequencies_key(
        &mut self,
        table: Box<crate::review::Frequencies>,
        cursor: usize,
        key: &KeyEvent,
    ) -> Vec<Effect> {
        let last = table.values.len().saturating_sub(1);
        if key.code == KeyCode::Enter {
            return match table.values.get(cursor) {
                Some((Some(value), _)) => {
                    let filter = crate::review::Filter {
                        value: Some(value.clone()),
                        ..table.filter.clone()
                    };
                    self.view = View::Quarantine;
                    self.refilter(filter)
                }
                _ => {
                    self.say(
                        StatusKind::Info,
                        "an empty value: the check's own filter shows those rows",
                    );
                    self.overlay = Some(Overlay::Frequencies { table, cursor });
                    Vec::new()
                }
            };
        }
        let cursor = match keymap::lookup(Ctx::Detail, key) {
            Some(Act::Back | Act::Quit) => return Vec::new(),
            Some(Act::Down) => (cursor + 1).min(last),
            Some(Act::Up) => cursor.saturating_sub(1),
            Some(Act::Top) => 0,
            Some(Act::Bottom) => last,
            _ => cursor,
        };
        self.overlay = Some(Overlay::Frequencies { table, cursor });
        Vec::new()
    }

    /// Copies the current quarantined row as CSV, or its current cell as the file has it.
    pub(super) fn copy(&mut self, row: bool) -> Vec<Effect> {
        let Some(current) = self.quarantine.current() else {
            self.say(StatusKind::Info, "no row to copy");
            return Vec::new();
        };
        let (text, what) = if row {
            (
                Some(super::clipboard::csv_record(&current.fields)),
                "the row, as CSV".to_string(),
            )
        } else {
            let field = self
                .batch
                .as_ref()
                .and_then(|b| super::columns::order(b).get(self.column).copied());
            let name = field
                .and_then(|f| self.batch.as_ref()?.header.get(f).cloned())
                .unwrap_or_default();
            (
                field.and_then(|f| current.fields.get(f).cloned().flatten()),
                format!("{} of line {}", super::view::shown(&name), current.place()),
            )
        };
        let Some(text) = text else {
            self.say(
                StatusKind::Info,
                format!("{what} is empty: nothing to copy"),
            );
            return Vec::new();
        };
        self.say(
            StatusKind::Info,
            format!("copied {what} ({} characters)", text.chars().count()),
        );
        vec![Effect::Copy(text)]
    }

    /// The filter the frequency view counts under: the check under the summary's cursor, or
    /// the rows' filter in force, or the current row's first problem.
    pub(super) fn frequency_filter(&self) -> Option<crate::review::Filter> {
        let b = self.batch.as_ref()?;
        match self.view {
            View::Summary => {
                let check = b.summary.checks.get(self.summary_cursor)?;
                Some(crate::review::Filter {
                    check: Some(check.check.clone()),
                    column: check.column.clone(),
                    kept: (check.severity != "error").then(|| check.severity.clone()),
                    value: None,
                })
            }
            View::Quarantine if self.filter.check.is_some() => Some(crate::review::Filter {
                value: None,
                ..self.filter.clone()
            }),
            View::Quarantine => {
                let issue = self.quarantine.current()?.issues.first()?;
                Some(crate::review::Filter {
                    check: Some(issue.check.clone()),
                    column: issue.column.clone(),
                    kept: self.filter.kept.clone(),
                    value: None,
                })
            }
            _ => None,
        }
    }
}
