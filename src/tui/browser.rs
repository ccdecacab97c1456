//! Rows from the database held a few screens at a time, a cursor in them and the first row on
//! screen: the list scrolls a row at a time like `less`, and the rows around the screen are
//! asked for before the cursor reaches them, so moving never waits on the database.
use super::action::Land;
use super::keymap::Act;
use crate::review::PageFrom;

/// How many screens of rows a browser holds at most.
const SCREENS_HELD: usize = 4;

/// Rows from the database and a cursor in them.
#[derive(Debug, Clone)]
pub struct Browser<T> {
    pub rows: Vec<T>,
    pub cursor: usize,
    /// The row at the top of the screen.
    pub top: usize,
    pub loading: bool,
    /// Whether `rows` begins at the list's first row, and ends at its last.
    pub at_start: bool,
    pub at_end: bool,
    /// Where `rows[0]` stands in the whole list (0 for its first row), when known.
    pub offset: Option<u64>,
    /// How many rows the whole list has, when known.
    pub total: Option<u64>,
    /// Counts the times the rows held were replaced (another batch or filter, a jump): a
    /// page asked for before does not land among the new ones.
    pub generation: u64,
    /// The generation the list itself began with (another batch or filter): a count asked
    /// for since still holds after jumps within the list.
    pub list_began: u64,
}

impl<T> Default for Browser<T> {
    fn default() -> Self {
        Self {
            rows: Vec::new(),
            cursor: 0,
            top: 0,
            loading: false,
            at_start: true,
            at_end: true,
            offset: None,
            total: None,
            generation: 0,
            list_began: 0,
        }
    }
}

/// A page to ask the database for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub from: PageFrom,
    pub land: Land,
    pub limit: i64,
}

impl<T> Browser<T> {
    pub fn current(&self) -> Option<&T> {
        self.rows.get(self.cursor)
    }

    /// Empties the list for another batch or filter; pages on their way are left behind.
    pub fn reset(&mut self) {
        let generation = self.generation + 1;
        *self = Self {
            generation,
            list_began: generation,
            ..Self::default()
        };
    }

    /// The current row's position in the whole list (1 for the first), when known.
    pub fn position(&self) -> Option<u64> {
        self.offset
            .filter(|_| !self.rows.is_empty())
            .map(|o| o + self.cursor as u64 + 1)
    }

    /// Marks a request as on its way.
    pub(super) fn ask(&mut self, request: PageRequest) -> PageRequest {
        self.loading = true;
        request
    }

    /// Takes a page that arrived for `request`: a page from the start, the end or a row
    /// replaces the rows; a page after or before them joins them, the cursor and the screen
    /// staying on the same rows. `rank` is where a page `At` a row begins in the whole list.
    pub(super) fn receive(
        &mut self,
        request: PageRequest,
        rows: Vec<T>,
        rank: Option<u64>,
        screen: usize,
        ord: impl Fn(&T) -> i64,
    ) {
        self.loading = false;
        let full = rows.len() as i64 >= request.limit;
        let n = rows.len();
        match request.from {
            PageFrom::After(_) => {
                self.at_end = !full;
                self.rows.extend(rows);
                self.trim_front(screen);
            }
            PageFrom::Before(_) => {
                self.at_start = !full;
                let mut rows = rows;
                rows.append(&mut self.rows);
                self.rows = rows;
                self.cursor += n;
                self.top += n;
                self.offset = self.offset.and_then(|o| o.checked_sub(n as u64));
                self.trim_back(screen);
            }
            PageFrom::Start | PageFrom::End | PageFrom::At(_) => {
                (self.at_start, self.at_end, self.offset) = match request.from {
                    PageFrom::Start => (true, !full, Some(0)),
                    PageFrom::End => (!full, true, self.total.map(|t| t.saturating_sub(n as u64))),
                    _ => (rank == Some(0), !full, rank),
                };
                self.rows = rows;
                self.cursor = match request.land {
                    Land::First | Land::Keep => 0,
                    Land::Last => n.saturating_sub(1),
                    Land::Ord(o) => self.rows.iter().position(|r| ord(r) == o).unwrap_or(0),
                };
                // A row landed on by a search or jump shows at the top, with what follows.
                self.top = match request.land {
                    Land::Last => n.saturating_sub(screen),
                    _ => self.cursor,
                };
            }
        }
        if self.total.is_none() && self.at_start && self.at_end {
            self.total = Some(self.rows.len() as u64);
        }
        self.settle(screen);
    }

    /// Drops rows above the screen past what the browser holds.
    fn trim_front(&mut self, screen: usize) {
        let over = self.rows.len().saturating_sub(SCREENS_HELD * screen.max(1));
        let drop = over.min(self.top);
        if drop > 0 {
            self.rows.drain(..drop);
            self.cursor -= drop;
            self.top -= drop;
            self.offset = self.offset.map(|o| o + drop as u64);
            self.at_start = false;
        }
    }

    /// Drops rows below the screen past what the browser holds.
    fn trim_back(&mut self, screen: usize) {
        let keep = (SCREENS_HELD * screen.max(1)).max(self.top + screen);
        if self.rows.len() > keep {
            self.rows.truncate(keep);
            self.at_end = false;
        }
    }

    /// Keeps the cursor on a row and on screen, and the screen full when rows allow.
    fn settle(&mut self, screen: usize) {
        let screen = screen.max(1);
        let len = self.rows.len();
        self.cursor = self.cursor.min(len.saturating_sub(1));
        if self.cursor < self.top {
            self.top = self.cursor;
        }
        if self.cursor >= self.top + screen {
            self.top = self.cursor + 1 - screen;
        }
        self.top = self.top.min(len.saturating_sub(screen));
    }

    /// Moves the cursor within the rows held; returns the page to ask for when the move
    /// leaves them (the first or last row of the whole list).
    pub(super) fn step(&mut self, act: Act, screen: usize) -> Option<PageRequest> {
        let len = self.rows.len();
        let jump = |from, land| PageRequest {
            from,
            land,
            limit: (2 * screen.max(1)) as i64,
        };
        match act {
            Act::Top if !self.at_start => return Some(jump(PageFrom::Start, Land::First)),
            Act::Bottom if !self.at_end => return Some(jump(PageFrom::End, Land::Last)),
            _ => {}
        }
        let on_screen = self.cursor.saturating_sub(self.top);
        self.cursor = step_cursor(self.cursor, len, act, screen);
        if matches!(act, Act::PageDown | Act::PageUp) {
            // A page turn moves the screen with the cursor, as `less` does.
            self.top = self.cursor.saturating_sub(on_screen);
        }
        self.settle(screen);
        None
    }

    /// The rows to ask for next, before the cursor gets to them: two screens more after (or
    /// before) the rows held when the cursor is within a screen of their end. Held to four
    /// screens, the rows then settle: a page that joins at one end never brings the cursor
    /// within a screen of the other.
    pub(super) fn wants(&self, screen: usize, ord: impl Fn(&T) -> i64) -> Option<PageRequest> {
        if self.loading || self.rows.is_empty() {
            return None;
        }
        let screen = screen.max(1);
        let limit = (2 * screen) as i64;
        if !self.at_end && self.rows.len() - 1 - self.cursor < screen {
            let last = self.rows.last().map(&ord)?;
            return Some(PageRequest {
                from: PageFrom::After(last),
                land: Land::Keep,
                limit,
            });
        }
        if !self.at_start && self.cursor < screen {
            let first = self.rows.first().map(&ord)?;
            return Some(PageRequest {
                from: PageFrom::Before(first),
                land: Land::Keep,
                limit,
            });
        }
        None
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

#[cfg(test)]
mod tests {
    use super::*;

    fn held(ords: std::ops::Range<i64>) -> Browser<i64> {
        Browser {
            rows: ords.collect(),
            ..Browser::default()
        }
    }

    fn request(from: PageFrom, limit: i64) -> PageRequest {
        PageRequest {
            from,
            land: Land::Keep,
            limit,
        }
    }

    #[test]
    fn moving_down_scrolls_a_row_at_a_time() {
        let mut b = held(0..50);
        b.at_end = false;
        for _ in 0..12 {
            b.step(Act::Down, 10);
        }
        assert_eq!(
            (b.cursor, b.top),
            (12, 3),
            "the screen follows the cursor by one row"
        );
        b.step(Act::Up, 10);
        assert_eq!((b.cursor, b.top), (11, 3), "moving back up does not scroll");
    }

    #[test]
    fn rows_are_asked_for_before_the_cursor_gets_there_and_join_the_held_ones() {
        let mut b = held(0..20);
        b.at_end = false;
        b.offset = Some(0);
        assert_eq!(b.wants(10, |r| *r), None, "more than a screen ahead");
        b.step(Act::PageDown, 10);
        assert_eq!(b.wants(10, |r| *r), Some(request(PageFrom::After(19), 20)));
        b.loading = true;
        assert_eq!((b.cursor, b.top), (10, 10));
        b.receive(
            request(PageFrom::After(19), 20),
            (20..40).collect(),
            None,
            10,
            |r| *r,
        );
        assert_eq!(b.rows.len(), 40);
        assert_eq!(
            (b.current(), b.top),
            (Some(&10), 10),
            "nothing moved on screen"
        );
        // Past four screens the rows above the screen go.
        b.step(Act::PageDown, 10);
        b.step(Act::PageDown, 10);
        b.loading = true;
        b.receive(
            request(PageFrom::After(39), 20),
            (40..60).collect(),
            None,
            10,
            |r| *r,
        );
        assert_eq!(b.rows.len(), 40);
        assert_eq!(b.rows[0], 20);
        assert_eq!(b.current(), Some(&30));
        assert_eq!(
            (b.offset, b.position(), b.at_start),
            (Some(20), Some(31), false)
        );
        // Going back up asks for the rows before, and they join in front.
        b.step(Act::PageUp, 10);
        assert_eq!(b.current(), Some(&20));
        assert_eq!(b.wants(10, |r| *r), Some(request(PageFrom::Before(20), 20)));
        b.receive(
            request(PageFrom::Before(20), 20),
            (0..20).collect(),
            None,
            10,
            |r| *r,
        );
        assert_eq!(
            (b.current(), b.position(), b.top),
            (Some(&20), Some(21), 20)
        );
        assert!(!b.at_start, "a full page: maybe more before");
    }

    /// Left alone, the rows stop being asked for: pages joining at either end never bring
    /// the cursor near the other (an idle review once fetched pages without end).
    #[test]
    fn the_rows_held_settle_wherever_the_cursor_stands() {
        let screen = 10;
        for start in [0i64, 15, 35, 500] {
            let mut b: Browser<i64> = held(start..start + 40);
            (b.at_start, b.at_end) = (start == 0, false);
            for moves in 0..60 {
                b.step(
                    if moves % 7 < 4 {
                        Act::Down
                    } else {
                        Act::PageDown
                    },
                    screen,
                );
                let mut asked = 0;
                while let Some(r) = b.wants(screen, |r| *r) {
                    asked += 1;
                    assert!(
                        asked <= 2,
                        "from {start}, move {moves}: asked again and again"
                    );
                    let rows: Vec<i64> = match r.from {
                        PageFrom::After(o) => (o + 1..o + 1 + r.limit).collect(),
                        PageFrom::Before(o) => ((o - r.limit).max(0)..o).collect(),
                        _ => unreachable!(),
                    };
                    b.loading = true;
                    b.receive(r, rows, None, screen, |r| *r);
                }
                assert!(b.rows.len() <= SCREENS_HELD * screen + 2 * screen);
            }
        }
    }

    #[test]
    fn a_row_landed_on_near_the_end_shows_with_the_rows_before_it() {
        let mut b: Browser<i64> = Browser {
            loading: true,
            ..Browser::default()
        };
        let at = PageRequest {
            from: PageFrom::At(95),
            land: Land::Ord(95),
            limit: 20,
        };
        b.receive(at, (95..100).collect(), Some(95), 10, |r| *r);
        assert_eq!(
            (b.current(), b.at_end, b.at_start),
            (Some(&95), true, false)
        );
        assert_eq!(b.wants(10, |r| *r), Some(request(PageFrom::Before(95), 20)));
        b.receive(
            request(PageFrom::Before(95), 20),
            (75..95).collect(),
            None,
            10,
            |r| *r,
        );
        // The screen is full: the hit and what follows, and the rows before it above.
        assert_eq!((b.current(), b.top, b.rows[b.top]), (Some(&95), 15, 90));
        assert_eq!(b.position(), Some(96));
    }

    #[test]
    fn the_end_of_the_list_is_asked_for_only_when_the_rows_held_do_not_reach_it() {
        let mut b = held(0..5);
        assert_eq!(b.step(Act::Bottom, 10), None);
        assert_eq!(b.cursor, 4);
        b.at_end = false;
        assert_eq!(
            b.step(Act::Bottom, 10),
            Some(PageRequest {
                from: PageFrom::End,
                land: Land::Last,
                limit: 20
            })
        );
        b.total = Some(1000);
        b.receive(
            PageRequest {
                from: PageFrom::End,
                land: Land::Last,
                limit: 20,
            },
            (980..1000).collect(),
            None,
            10,
            |r| *r,
        );
        assert_eq!((b.position(), b.top), (Some(1000), 10));
    }
}
