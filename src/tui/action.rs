//! Messages into `update` (keys, ticks, results of database work) and the work `update` asks
//! for in return. `update` never does I/O: it returns `Effect`s, which the runtime carries
//! out on spawned tasks, and their results come back as `Action`s.
use std::path::PathBuf;

use crossterm::event::KeyEvent;

use crate::batch::BatchListItem;
use crate::promote::Applied;
use crate::report::Summary;
use crate::review::{ChangedRow, ColumnProfile, Filter, QuarantinedRow};

/// A batch as the review screens show it.
pub use crate::review::OpenedBatch as BatchData;

/// Where the cursor goes when a page arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Land {
    First,
    Last,
    /// On the row with this ordinal (a search hit, a line jumped to).
    Ord(i64),
    /// Where it was: the page joins the rows held.
    Keep,
}

pub use super::browser::PageRequest;

#[derive(Debug)]
pub enum Action {
    Key(KeyEvent),
    Resize {
        width: u16,
        height: u16,
    },
    Tick,
    /// A left click at this column and line of the screen.
    Click {
        x: u16,
        y: u16,
    },
    Progress {
        bytes: u64,
        total: u64,
        rows: u64,
        elapsed_ms: u64,
    },
    Checked(Result<i64, String>),
    Batch(Result<Box<BatchData>, String>),
    /// The offending values, counted.
    Frequencies(Result<Box<crate::review::Frequencies>, String>),
    /// The plan was made again (what was done), or why not.
    Replanned(Result<Option<String>, String>),
    Profile {
        batch: i64,
        profile: Result<Vec<ColumnProfile>, String>,
    },
    /// A page of quarantined rows, and where a page `At` a row begins in the whole list.
    Quarantined {
        generation: u64,
        page: PageRequest,
        rows: Result<(Vec<QuarantinedRow>, Option<u64>), String>,
    },
    /// How many quarantined rows the filter of this generation chooses.
    Counted {
        generation: u64,
        total: Result<u64, String>,
    },
    Changes {
        generation: u64,
        page: PageRequest,
        rows: Result<Vec<ChangedRow>, String>,
    },
    Found(Result<Option<crate::review::Hit>, String>),
    /// Where a jump to a file line landed (`None`: no quarantined row at all).
    Jumped(Result<Option<crate::review::Hit>, String>),
    Promoted(Result<(Applied, Box<Summary>), String>),
    Decided {
        what: &'static str,
        result: Result<(), String>,
    },
    Batches(Result<Vec<BatchListItem>, String>),
    Dropped(Result<i64, String>),
    Exported(Result<(u64, PathBuf), String>),
    /// The record as the file has it (None: the file is gone or changed).
    Source {
        ord: i64,
        text: Result<Option<String>, String>,
    },
}

/// What to say when a decision comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Quarantine,
    Abort,
    Release,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Check {
        feed: PathBuf,
        file: PathBuf,
    },
    CancelCheck,
    LoadBatch(i64),
    /// Make the batch's plan again against production now.
    Replan(i64),
    /// Put this text on the terminal's clipboard (OSC 52); the event loop writes it.
    Copy(String),
    /// Count the offending values of the rows `filter` chooses.
    Frequencies {
        batch: i64,
        filter: Filter,
    },
    LoadProfile {
        batch: i64,
        header: Vec<String>,
    },
    Quarantined {
        batch: i64,
        fields: usize,
        filter: Filter,
        /// In file order when `None`.
        sort: Option<crate::review::Sort>,
        page: PageRequest,
        generation: u64,
    },
    /// Count the quarantined rows `filter` chooses.
    CountQuarantined {
        batch: i64,
        filter: Filter,
        generation: u64,
    },
    Changes {
        batch: i64,
        page: PageRequest,
        generation: u64,
    },
    FindText {
        batch: i64,
        fields: usize,
        filter: Filter,
        text: String,
        from_ord: i64,
        forward: bool,
    },
    JumpLine {
        batch: i64,
        filter: Filter,
        /// The part the line is in, for a batch of several files.
        file: Option<String>,
        line: i64,
    },
    Promote {
        batch: i64,
        note: String,
        override_policy: bool,
    },
    Decide {
        batch: i64,
        decision: Decision,
        note: String,
    },
    Hold {
        batch: i64,
        ords: Vec<i64>,
        note: String,
    },
    LoadBatches,
    Drop(i64),
    Export {
        batch: i64,
        path: PathBuf,
    },
    Source {
        batch: i64,
        ord: i64,
    },
}
