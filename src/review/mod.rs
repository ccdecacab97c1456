//! Reading a validated batch for review, a page at a time: the quarantined rows (keyset paged
//! so a million bad rows browse as fast as ten), the rows that would change production, the
//! column profile; and setting rows aside by hand.
mod changes;
mod frequencies;
mod opened;
mod profile;
mod quarantined;
mod sorted;

pub use changes::{Change, ChangeKind, ChangedRow, changes_page, hold_back};
pub use frequencies::{Frequencies, value_frequencies};
pub use opened::{OpenedBatch, open, replan};
pub use profile::{ColumnProfile, column_profile, from_staging as profile_from_staging};
pub use quarantined::{
    Filter, Hit, QuarantinedRow, RecordAt, RowIssueView, find_text, go_to_line, jump_to_line,
    quarantined_page, quarantined_rank, read_record, search, source_text,
};
pub(crate) use sorted::{Direction, direction};
pub use sorted::{Sort, sorted_page};

/// Where a page starts: keyset positions by record ordinal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageFrom {
    Start,
    End,
    /// Rows after this ordinal, ascending.
    After(i64),
    /// Rows before this ordinal (returned ascending).
    Before(i64),
    /// Rows from this ordinal on.
    At(i64),
}

impl PageFrom {
    /// (condition on `col`, ascending?) for a keyset query; the bound is `$1`.
    /// The start and end are keysets too, from below the first and above the last ordinal,
    /// so every page query has the same shape and parameters.
    fn keyset(self, col: &str) -> (String, bool) {
        let (cmp, ascending) = self.direction();
        (format!("{col} {cmp} $1"), ascending)
    }

    /// How a page's rows compare with its bound, and whether it reads ascending.
    pub(crate) fn direction(self) -> (&'static str, bool) {
        match self {
            PageFrom::Start | PageFrom::After(_) => (">", true),
            PageFrom::End | PageFrom::Before(_) => ("<", false),
            PageFrom::At(_) => (">=", true),
        }
    }

    pub(crate) fn bound(self) -> i64 {
        match self {
            PageFrom::Start => i64::MIN,
            PageFrom::End => i64::MAX,
            PageFrom::After(o) | PageFrom::Before(o) | PageFrom::At(o) => o,
        }
    }
}
