//! The keymap: one table from (context, key) to what it does. The help screen and the status
//! bar are drawn from this same table.
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ctx {
    Global,
    Loading,
    Summary,
    Quarantine,
    Changes,
    Batches,
    Result,
    /// A quarantined row's detail.
    Detail,
}

impl Ctx {
    pub fn title(self) -> &'static str {
        match self {
            Ctx::Global => "Everywhere",
            Ctx::Loading => "Loading",
            Ctx::Summary => "Summary",
            Ctx::Quarantine => "Quarantined rows",
            Ctx::Changes => "Changes",
            Ctx::Batches => "Batches",
            Ctx::Result => "Result",
            Ctx::Detail => "Row detail",
        }
    }
}

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Quit,
    Help,
    Back,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Left,
    Right,
    FirstColumn,
    LastColumn,
    OffendingColumn,
    Narrower,
    Wider,
    Sort,
    Open,
    ShowSummary,
    ShowQuarantine,
    ShowChanges,
    NextTab,
    Search,
    NextMatch,
    PrevMatch,
    JumpLine,
    ClearFilter,
    Approve,
    Quarantine,
    Release,
    Abort,
    Mark,
    HoldMarked,
    Refresh,
    Replan,
    Frequencies,
    CopyValue,
    CopyRow,
    Drop,
    Export,
    Batches,
    Recheck,
    Cancel,
}

pub struct Binding {
    pub ctx: Ctx,
    pub code: KeyCode,
    pub mods: KeyModifiers,
    /// How the key is written in help and the status bar.
    pub key: &'static str,
    pub act: Act,
    pub help: &'static str,
    /// Shown in the status bar (the rest only in help).
    pub status: bool,
}

const fn bind(
    ctx: Ctx,
    code: KeyCode,
    key: &'static str,
    act: Act,
    help: &'static str,
    status: bool,
) -> Binding {
    Binding {
        ctx,
        code,
        mods: KeyModifiers::NONE,
        key,
        act,
        help,
        status,
    }
}

use Act as A;
use Ctx as C;
use KeyCode as K;

#[rustfmt::skip]
pub const KEYMAP: &[Binding] = &[
    bind(C::Global, K::Char('?'), "?", A::Help, "help", true),
    bind(C::Global, K::Char('q'), "q", A::Quit, "quit", true),
    bind(C::Global, K::Esc, "Esc", A::Back, "back / close", false),
    bind(C::Global, K::Char('j'), "j", A::Down, "down", false),
    bind(C::Global, K::Down, "↓", A::Down, "down", false),
    bind(C::Global, K::Char('k'), "k", A::Up, "up", false),
    bind(C::Global, K::Up, "↑", A::Up, "up", false),
    bind(C::Global, K::PageDown, "PgDn", A::PageDown, "page down", false),
    bind(C::Global, K::Char(' '), "Space", A::PageDown, "page down", false),
    bind(C::Global, K::PageUp, "PgUp", A::PageUp, "page up", false),
    bind(C::Global, K::Char('g'), "g", A::Top, "first", false),
    bind(C::Global, K::Home, "Home", A::Top, "first", false),
    bind(C::Global, K::Char('G'), "G", A::Bottom, "last", false),
    bind(C::Global, K::End, "End", A::Bottom, "last", false),
    bind(C::Loading, K::Esc, "Esc", A::Cancel, "cancel the load (production untouched)", true),
    bind(C::Summary, K::Char('a'), "a", A::Approve, "approve & promote", true),
    bind(C::Summary, K::Enter, "Enter", A::Open, "rows failing the check", true),
    bind(C::Summary, K::Char('1'), "1", A::ShowSummary, "summary", false),
    bind(C::Summary, K::Char('2'), "2", A::ShowQuarantine, "quarantined rows", true),
    bind(C::Summary, K::Char('3'), "3", A::ShowChanges, "changes", true),
    bind(C::Summary, K::Tab, "Tab", A::NextTab, "next view", false),
    bind(C::Summary, K::Char('Q'), "Q", A::Quarantine, "quarantine the batch", true),
    bind(C::Summary, K::Char('U'), "U", A::Release, "release from quarantine", false),
    bind(C::Summary, K::Char('F'), "F", A::Frequencies, "count the check's values", true),
    bind(C::Summary, K::Char('r'), "r", A::Replan, "make the plan again against production now", false),
    bind(C::Summary, K::Char('x'), "x", A::Abort, "abort the batch", true),
    bind(C::Summary, K::Char('b'), "b", A::Batches, "all batches", false),
    bind(C::Summary, K::Char('R'), "R", A::Recheck, "check the file again (a new batch)", false),
    bind(C::Quarantine, K::Char('1'), "1", A::ShowSummary, "summary", true),
    bind(C::Quarantine, K::Char('3'), "3", A::ShowChanges, "changes", false),
    bind(C::Quarantine, K::Tab, "Tab", A::NextTab, "next view", false),
    bind(C::Quarantine, K::Enter, "Enter", A::Open, "row detail", true),
    bind(C::Quarantine, K::Char('/'), "/", A::Search, "search", true),
    bind(C::Quarantine, K::Char('n'), "n", A::NextMatch, "next match", true),
    bind(C::Quarantine, K::Char('N'), "N", A::PrevMatch, "previous match", false),
    bind(C::Quarantine, K::Char(':'), ":", A::JumpLine, "jump to file line", true),
    bind(C::Quarantine, K::Char('F'), "F", A::Frequencies, "count the problem's values", true),
    bind(C::Quarantine, K::Char('y'), "y", A::CopyValue, "copy the current cell", false),
    bind(C::Quarantine, K::Char('Y'), "Y", A::CopyRow, "copy the row as CSV", false),
    bind(C::Quarantine, K::Char('c'), "c", A::ClearFilter, "clear the filter", false),
    bind(C::Quarantine, K::Char('h'), "h", A::Left, "column to the left", false),
    bind(C::Quarantine, K::Left, "←", A::Left, "column to the left", false),
    bind(C::Quarantine, K::Char('l'), "l", A::Right, "column to the right", false),
    bind(C::Quarantine, K::Right, "→", A::Right, "column to the right", false),
    bind(C::Quarantine, K::Char('0'), "0", A::FirstColumn, "first column", false),
    bind(C::Quarantine, K::Char('$'), "$", A::LastColumn, "last column", false),
    bind(C::Quarantine, K::Char('o'), "o", A::OffendingColumn, "to the offending column", false),
    bind(C::Quarantine, K::Char('s'), "s", A::Sort, "sort by the column (again: reverse)", false),
    bind(C::Quarantine, K::Char('<'), "<", A::Narrower, "narrow the column", false),
    bind(C::Quarantine, K::Char('>'), ">", A::Wider, "widen the column", false),
    bind(C::Quarantine, K::Char('a'), "a", A::Approve, "approve & promote", true),
    bind(C::Changes, K::Char('1'), "1", A::ShowSummary, "summary", true),
    bind(C::Changes, K::Char('2'), "2", A::ShowQuarantine, "quarantined rows", false),
    bind(C::Changes, K::Tab, "Tab", A::NextTab, "next view", false),
    bind(C::Changes, K::Enter, "Enter", A::Open, "every changed column, before → after", true),
    bind(C::Changes, K::Char('m'), "m", A::Mark, "mark / unmark to hold back", true),
    bind(C::Changes, K::Char('h'), "h", A::Left, "changed columns to the left", false),
    bind(C::Changes, K::Left, "←", A::Left, "changed columns to the left", false),
    bind(C::Changes, K::Char('l'), "l", A::Right, "changed columns to the right", false),
    bind(C::Changes, K::Right, "→", A::Right, "changed columns to the right", false),
    bind(C::Changes, K::Char('0'), "0", A::FirstColumn, "first changed column", false),
    bind(C::Changes, K::Char('$'), "$", A::LastColumn, "last changed column", false),
    bind(C::Changes, K::Char('H'), "H", A::HoldMarked, "hold the marked rows back", true),
    bind(C::Changes, K::Char('a'), "a", A::Approve, "approve & promote", true),
    bind(C::Batches, K::Enter, "Enter", A::Open, "open the batch", true),
    bind(C::Batches, K::Char('d'), "d", A::Drop, "drop its staging", true),
    bind(C::Batches, K::Char('e'), "e", A::Export, "export its quarantined rows", true),
    bind(C::Batches, K::Char('r'), "r", A::Refresh, "refresh", true),
    bind(C::Result, K::Char('b'), "b", A::Batches, "all batches", true),
    bind(C::Detail, K::Char('q'), "q", A::Back, "back", true),
    bind(C::Detail, K::Esc, "Esc", A::Back, "back", true),
    bind(C::Detail, K::Enter, "Enter", A::Back, "back", false),
    bind(C::Detail, K::Char('j'), "j ↓", A::Down, "scroll down", true),
    bind(C::Detail, K::Char('k'), "k ↑", A::Up, "scroll up", true),
    bind(C::Detail, K::Char(' '), "Space", A::PageDown, "page down", true),
    bind(C::Result, K::Char('1'), "1", A::ShowSummary, "the batch", true),
];

/// The action for a key in a context: the context's own binding first, then the global one.
pub fn lookup(ctx: Ctx, key: &KeyEvent) -> Option<Act> {
    let matches = |b: &&Binding| {
        b.code == key.code
            && (b.mods == key.modifiers
                || (key.modifiers == KeyModifiers::SHIFT && matches!(b.code, KeyCode::Char(_))))
    };
    if key.modifiers == KeyModifiers::CONTROL && key.code == KeyCode::Char('c') {
        return Some(Act::Quit);
    }
    KEYMAP
        .iter()
        .filter(|b| b.ctx == ctx)
        .find(matches)
        .or_else(|| KEYMAP.iter().filter(|b| b.ctx == Ctx::Global).find(matches))
        .map(|b| b.act)
}

/// The bindings the status bar shows in a context.
pub fn status_hints(ctx: Ctx) -> Vec<(&'static str, &'static str)> {
    // Help and quit first: they must survive a narrow terminal.
    let global = KEYMAP
        .iter()
        .filter(|b| b.ctx == Ctx::Global && b.status)
        .map(|b| (b.key, b.help));
    let own = KEYMAP
        .iter()
        .filter(|b| b.ctx == ctx && b.status)
        .map(|b| (b.key, b.help));
    let mut out: Vec<(&'static str, &'static str)> = Vec::new();
    for (key, help) in global.chain(own) {
        // The context's own meaning of a key wins (q goes back in a row's detail).
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some(said) => said.1 = help,
            None => out.push((key, help)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn context_bindings_win_over_global_ones() {
        assert_eq!(lookup(Ctx::Loading, &key(KeyCode::Esc)), Some(Act::Cancel));
        assert_eq!(lookup(Ctx::Summary, &key(KeyCode::Esc)), Some(Act::Back));
        assert_eq!(
            lookup(Ctx::Quarantine, &key(KeyCode::Char('j'))),
            Some(Act::Down)
        );
        assert_eq!(
            lookup(
                Ctx::Quarantine,
                &KeyEvent::new(KeyCode::Char('N'), KeyModifiers::SHIFT)
            ),
            Some(Act::PrevMatch)
        );
        assert_eq!(lookup(Ctx::Batches, &key(KeyCode::Char('/'))), None);
    }

    #[test]
    fn every_context_shows_help_and_quit() {
        for ctx in [
            Ctx::Summary,
            Ctx::Quarantine,
            Ctx::Changes,
            Ctx::Batches,
            Ctx::Result,
            Ctx::Detail,
        ] {
            let hints = status_hints(ctx);
            assert!(hints.iter().any(|(k, _)| *k == "?"), "{ctx:?}");
            assert!(hints.iter().any(|(k, _)| *k == "q"), "{ctx:?}");
        }
    }
}
