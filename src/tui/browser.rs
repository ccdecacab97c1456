//! A page of rows from the database and a cursor in it: moving within the page, and which
//! page to ask for when a move leaves it.
use super::action::Land;
use super::keymap::Act;
use crate::review::PageFrom;

/// A page of rows from the database and a cursor in it.
#[derive(Debug, Clone)]
pub struct Browser<T> {
    pub rows: Vec<T>,
    pub cursor: usize,
    pub loading: bool,
    pub at_start: bool,
    pub at_end: bool,
}

impl<T> Default for Browser<T> {
    fn default() -> Self {
        Self {
            rows: Vec::new(),
            cursor: 0,
            loading: false,
            at_start: true,
            at_end: true,
        }
    }
}

impl<T> Browser<T> {
    pub fn current(&self) -> Option<&T> {
        self.rows.get(self.cursor)
    }

    /// Takes a page that arrived for a request starting at `from`.
    pub(super) fn receive(&mut self, from: PageFrom, land: Land, rows: Vec<T>, limit: i64) {
        self.loading = false;
        let full = rows.len() as i64 >= limit;
        if rows.is_empty() {
            match from {
                PageFrom::After(_) => self.at_end = true,
                PageFrom::Before(_) => self.at_start = true,
                _ => {
                    self.rows = rows;
                    self.cursor = 0;
                    self.at_start = true;
                    self.at_end = true;
                }
            }
            return;
        }
        match from {
            PageFrom::Start => (self.at_start, self.at_end) = (true, !full),
            PageFrom::End => (self.at_start, self.at_end) = (!full, true),
            PageFrom::After(_) | PageFrom::At(_) => (self.at_start, self.at_end) = (false, !full),
            PageFrom::Before(_) => (self.at_start, self.at_end) = (!full, false),
        }
        self.cursor = match land {
            Land::First => 0,
            Land::Last => rows.len() - 1,
        };
        self.rows = rows;
    }
}

pub(super) fn step_cursor(cursor: usize, len: usize, act: Act, page: usize) -> usize {
    if len == 0 {
        return 0;
    }
    let last = len - 1;
    match act {
        Act::Up => cursor.saturating_sub(1),
        Act::Down => (cursor + 1).min(last),
        Act::PageUp => cursor.saturating_sub(page),
        Act::PageDown => (cursor + page).min(last),
        Act::Top => 0,
        Act::Bottom => last,
        _ => cursor,
    }
}

/// Moves within a page; returns the page to fetch when the move leaves it.
pub(super) fn page_move<T>(
    b: &mut Browser<T>,
    act: Act,
    ord: impl Fn(&T) -> i64,
) -> Option<(PageFrom, Land)> {
    if b.loading {
        return None;
    }
    let len = b.rows.len();
    match act {
        Act::Top => Some((PageFrom::Start, Land::First)),
        Act::Bottom => Some((PageFrom::End, Land::Last)),
        Act::Down if b.cursor + 1 < len => {
            b.cursor += 1;
            None
        }
        Act::Up if b.cursor > 0 => {
            b.cursor -= 1;
            None
        }
        Act::Down | Act::PageDown if !b.at_end => b
            .rows
            .last()
            .map(|r| (PageFrom::After(ord(r)), Land::First)),
        Act::Up | Act::PageUp if !b.at_start => b
            .rows
            .first()
            .map(|r| (PageFrom::Before(ord(r)), Land::Last)),
        Act::PageDown => {
            b.cursor = len.saturating_sub(1);
            None
        }
        Act::PageUp => {
            b.cursor = 0;
            None
        }
        _ => None,
    }
}
