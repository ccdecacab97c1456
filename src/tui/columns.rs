//! The quarantined rows' columns: the order fields show in (the key's first, frozen while the
//! rest scroll), how wide each is (by what the rows held have, resized by the person), and
//! which the screen shows. One home for the layout: `update` keeps the current column on
//! screen by the same widths the view draws.
use super::app::App;
use crate::tui::action::BatchData;

/// A field is never drawn narrower than this, nor, unless widened, wider than `WIDEST`.
pub const NARROWEST: usize = 3;
const WIDEST: usize = 32;
/// The problem column's width.
pub const PROBLEM: usize = 26;
/// What `<` and `>` take or give.
pub const STEP: i16 = 2;

/// A field on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shown {
    /// The field's index in the file's header.
    pub field: usize,
    /// Its place in [`order`].
    pub at: usize,
    pub width: usize,
}

/// The fields in the order the screen has them: the key's fields first, then the others as
/// the file has them.
pub fn order(b: &BatchData) -> Vec<usize> {
    let n = b.header.len();
    let keys: Vec<usize> = b.key_fields.iter().copied().filter(|&i| i < n).collect();
    let rest = (0..n).filter(|i| !keys.contains(i));
    keys.iter().copied().chain(rest).collect()
}

/// How many of [`order`]'s first fields stay on screen while the rest scroll.
pub fn frozen(b: &BatchData) -> usize {
    let n = b.header.len();
    b.key_fields.iter().filter(|&&i| i < n).count()
}

/// The line column's width: the longest place of the rows held (`part-002.csv:40`).
pub fn place_width(app: &App) -> usize {
    app.quarantine
        .rows
        .iter()
        .map(|r| r.place().chars().count())
        .max()
        .unwrap_or(0)
        .clamp(6, 28)
}

/// A field's width: its name's and the longest value the rows held have, within bounds,
/// plus what the person gave or took with `<` and `>`.
pub fn width(app: &App, field: usize) -> usize {
    let Some(b) = &app.batch else {
        return NARROWEST;
    };
    // The name, and room for the current column's mark before it.
    let name = b.header.get(field).map_or(0, |h| h.chars().count() + 1);
    let longest = app
        .quarantine
        .rows
        .iter()
        .filter_map(|r| r.fields.get(field).cloned().flatten())
        .map(|v| super::view::shown(&v).chars().count())
        .max()
        .unwrap_or(1);
    let natural = name.max(longest).clamp(NARROWEST, WIDEST) as i64;
    let given = i64::from(app.widths.get(&field).copied().unwrap_or(0));
    (natural + given).max(NARROWEST as i64) as usize
}

/// The fields shown on a screen `total` columns wide: the frozen ones, then the others from
/// the scroll position, as many as fit (at least one).
pub fn shown(app: &App, total: usize) -> Vec<Shown> {
    shown_from(app, total, app.hscroll)
}

fn shown_from(app: &App, total: usize, hscroll: usize) -> Vec<Shown> {
    let Some(b) = &app.batch else {
        return Vec::new();
    };
    let order = order(b);
    let frozen = frozen(b);
    let mut room = total.saturating_sub(place_width(app) + 1 + PROBLEM + 1);
    let mut out = Vec::new();
    let scrolled = (frozen + hscroll).min(order.len());
    for (at, &field) in order
        .iter()
        .enumerate()
        .take(frozen)
        .chain(order.iter().enumerate().skip(scrolled))
    {
        let w = width(app, field);
        if w + 1 > room && out.len() > frozen.min(1) {
            // The last that half fits shows cut, so the screen's edge is not wasted.
            if room > NARROWEST + 1 {
                out.push(Shown {
                    field,
                    at,
                    width: room - 1,
                });
            }
            break;
        }
        let w = w.min(room.saturating_sub(1)).max(NARROWEST);
        out.push(Shown {
            field,
            at,
            width: w,
        });
        room = room.saturating_sub(w + 1);
    }
    out
}

/// The scroll position that keeps column `at` of [`order`] on a screen `total` wide, moving
/// as little as it can from where it is.
pub fn keep_visible(app: &App, total: usize) -> usize {
    let Some(b) = &app.batch else {
        return 0;
    };
    let frozen = frozen(b);
    if app.column < frozen {
        return app.hscroll;
    }
    let wanted = app.column - frozen;
    if wanted < app.hscroll {
        return wanted;
    }
    // Scroll right until the column shows whole (or is the first scrolled one).
    (app.hscroll..wanted)
        .find(|&from| {
            shown_from(app, total, from)
                .iter()
                .any(|s| s.at == app.column && s.width >= width(app, s.field))
        })
        .unwrap_or(wanted)
}

impl App {
    /// Moves the current column (`h`/`l`, `0`/`$`, to the row's offending field), widens or
    /// narrows it (`<`/`>`), and scrolls so it shows; in the changes, `h`/`l` scroll the
    /// changed columns.
    pub(super) fn on_column(&mut self, act: super::keymap::Act) {
        use super::keymap::Act;
        if self.view == super::app::View::Changes {
            let most = self
                .changes
                .current()
                .map_or(0, |r| r.changes.len().saturating_sub(1));
            self.change_column = match act {
                Act::Left => self.change_column.saturating_sub(1),
                Act::Right => (self.change_column + 1).min(most),
                Act::FirstColumn => 0,
                Act::LastColumn => most,
                _ => self.change_column,
            };
            return;
        }
        let Some(b) = &self.batch else {
            return;
        };
        let order = order(b);
        let last = order.len().saturating_sub(1);
        match act {
            Act::Left => self.column = self.column.saturating_sub(1),
            Act::Right => self.column = (self.column + 1).min(last),
            Act::FirstColumn => (self.column, self.hscroll) = (0, 0),
            Act::LastColumn => self.column = last,
            Act::OffendingColumn => {
                let offending = self
                    .quarantine
                    .current()
                    .map(|r| super::detail::offending_fields(b, r))
                    .unwrap_or_default();
                match offending
                    .first()
                    .and_then(|f| order.iter().position(|o| o == f))
                {
                    Some(at) => self.column = at,
                    None => self.say(
                        super::app::StatusKind::Info,
                        "this row's problem is not in one column",
                    ),
                }
            }
            Act::Narrower | Act::Wider => {
                if let Some(&field) = order.get(self.column) {
                    // Narrowing stops at the narrowest, so a `>` always widens again.
                    if act == Act::Wider || width(self, field) > NARROWEST {
                        let delta = if act == Act::Wider { STEP } else { -STEP };
                        *self.widths.entry(field).or_insert(0) += delta;
                    }
                }
            }
            _ => {}
        }
        self.hscroll = keep_visible(self, usize::from(self.screen.0));
    }

    /// Sorts the quarantined rows by the current column (`s`), then the other way, then back
    /// to the file's order; the list starts again at its first row.
    pub(super) fn sort_by_column(&mut self) -> Vec<super::action::Effect> {
        let Some(field) = self
            .batch
            .as_ref()
            .and_then(|b| order(b).get(self.column).copied())
        else {
            return Vec::new();
        };
        use crate::review::Sort;
        self.sort = match self.sort {
            Some(Sort {
                field: f,
                descending: false,
            }) if f == field => Some(Sort {
                field,
                descending: true,
            }),
            Some(Sort { field: f, .. }) if f == field => None,
            _ => Some(Sort {
                field,
                descending: false,
            }),
        };
        let total = self.quarantine.total;
        self.quarantine.reset();
        self.quarantine.total = total;
        self.reload_quarantine(crate::review::PageFrom::Start, super::action::Land::First)
    }

    /// Puts the current column on field `field` (a check's column, when its rows open).
    pub(super) fn column_on(&mut self, field: usize) {
        if let Some(at) = self
            .batch
            .as_ref()
            .and_then(|b| order(b).iter().position(|&f| f == field))
        {
            self.column = at;
            self.hscroll = 0;
            self.hscroll = keep_visible(self, usize::from(self.screen.0));
        }
    }
}
