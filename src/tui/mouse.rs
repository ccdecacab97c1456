//! Clicks: on a tab, it opens; on a row of a list, the cursor goes there, and a click on the
//! row already under the cursor opens it, as Enter does. `impl App` beside the one `update`.
use super::action::Effect;
use super::app::{App, View};
use super::keymap::Act;
use super::view::{FIRST_ROW_LINE, tab_at};

impl App {
    pub(super) fn on_click(&mut self, x: u16, y: u16) -> Vec<Effect> {
        if self.overlay.is_some() {
            return Vec::new();
        }
        let tabbed = matches!(self.view, View::Summary | View::Quarantine | View::Changes);
        if y == 1 && tabbed {
            return match tab_at(self, x) {
                Some(view) => self.show(view),
                None => Vec::new(),
            };
        }
        let screen = self.screen_rows();
        let (first, shown, top, cursor, len) = match self.view {
            View::Quarantine => {
                let q = &self.quarantine;
                (FIRST_ROW_LINE, screen, q.top, q.cursor, q.rows.len())
            }
            View::Changes => {
                let c = &self.changes;
                (FIRST_ROW_LINE, screen, c.top, c.cursor, c.rows.len())
            }
            View::Batches => {
                // Its header is on the line under the tabs'; the table scrolls only as far
                // as its cursor needs (title, tabs, header and status bar take 4 lines).
                let b = &self.batches;
                let shown = usize::from(self.screen.1).saturating_sub(4).max(1);
                let top = b.cursor.saturating_sub(shown - 1);
                (FIRST_ROW_LINE - 1, shown, top, b.cursor, b.rows.len())
            }
            _ => return Vec::new(),
        };
        // Above the rows, or below them (the status bar): nothing.
        let Some(line) = y.checked_sub(first).map(usize::from).filter(|l| *l < shown) else {
            return Vec::new();
        };
        let at = top + line;
        if at >= len {
            return Vec::new();
        }
        if at == cursor {
            return self.on_act(Act::Open);
        }
        // Moved there as the arrow keys would, so the rows around it are asked for.
        let steps = at.abs_diff(cursor);
        let act = if at > cursor { Act::Down } else { Act::Up };
        let mut effects = Vec::new();
        for _ in 0..steps {
            effects.extend(self.on_act(act));
        }
        effects
    }
}
