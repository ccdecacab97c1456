//! The review app's state and its one `update`: every key, tick and result of database work
//! comes in as an `Action`, changes the state, and may ask for more work as `Effect`s.
use std::collections::BTreeSet;
use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui_textarea::TextArea;

use super::action::{Action, BatchData, Effect, Land, PageRequest};
pub use super::browser::Browser;
use super::browser::step_cursor;
pub use super::dialog::{Dialog, DialogKind};
use super::keymap::{self, Act, Ctx};
use super::theme::Theme;
use crate::batch::BatchListItem;
use crate::promote::Applied;
use crate::report::Summary;
use crate::review::{ChangeKind, ChangedRow, ColumnProfile, Filter, PageFrom, QuarantinedRow};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Loading,
    Summary,
    Quarantine,
    Changes,
    Batches,
    Result,
}

impl View {
    pub fn ctx(self) -> Ctx {
        match self {
            View::Loading => Ctx::Loading,
            View::Summary => Ctx::Summary,
            View::Quarantine => Ctx::Quarantine,
            View::Changes => Ctx::Changes,
            View::Batches => Ctx::Batches,
            View::Result => Ctx::Result,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputPurpose {
    Search,
    JumpLine,
    ExportPath(i64),
}

#[derive(Debug, Clone)]
pub enum Overlay {
    Help,
    /// A quarantined row's detail, scrolled down this many lines.
    Detail {
        scroll: u16,
    },
    Input {
        purpose: InputPurpose,
        text: Box<TextArea<'static>>,
    },
    Dialog(Box<Dialog>),
    Busy(String),
    /// The offending values of a check, commonest first, the cursor on one of them.
    Frequencies {
        table: Box<crate::review::Frequencies>,
        cursor: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKind {
    Info,
    Error,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadState {
    pub file: String,
    pub bytes: u64,
    pub total: u64,
    pub rows: u64,
    pub elapsed_ms: u64,
    pub cancelling: bool,
}

#[derive(Debug, Clone)]
pub struct PromotionResult {
    pub applied: Applied,
    pub summary: Summary,
}

pub struct App {
    pub theme: Theme,
    pub view: View,
    pub overlay: Option<Overlay>,
    pub batch: Option<BatchData>,
    pub profile: Option<Vec<ColumnProfile>>,
    pub load: LoadState,
    pub summary_cursor: usize,
    pub quarantine: Browser<QuarantinedRow>,
    pub filter: Filter,
    /// The current column of the quarantined rows (a place in `columns::order`), the first
    /// of the scrolling ones on screen, and the widths given or taken per field.
    pub column: usize,
    pub hscroll: usize,
    pub widths: std::collections::BTreeMap<usize, i16>,
    /// The quarantined rows' order: by a field (`s`), else the file's.
    pub sort: Option<crate::review::Sort>,
    /// The first changed column each change shows.
    pub change_column: usize,
    pub search: Option<String>,
    pub changes: Browser<ChangedRow>,
    pub marked: BTreeSet<i64>,
    pub batches: Browser<BatchListItem>,
    pub result: Option<PromotionResult>,
    /// The open detail's record as the file has it: (ord, text).
    pub source: Option<(i64, Result<Option<String>, String>)>,
    pub status: Option<(StatusKind, String)>,
    pub page_rows: i64,
    /// The terminal's size, as the last resize said.
    pub screen: (u16, u16),
    pub ticks: u64,
    /// Quit once the running load has stopped.
    pub quit_after_load: bool,
    pub quit: bool,
}

impl App {
    pub fn new(theme: Theme, view: View) -> Self {
        Self {
            theme,
            view,
            overlay: None,
            batch: None,
            profile: None,
            load: LoadState::default(),
            summary_cursor: 0,
            quarantine: Browser::default(),
            filter: Filter::default(),
            column: 0,
            hscroll: 0,
            widths: std::collections::BTreeMap::new(),
            sort: None,
            change_column: 0,
            search: None,
            changes: Browser::default(),
            marked: BTreeSet::new(),
            batches: Browser::default(),
            result: None,
            source: None,
            status: None,
            page_rows: 20,
            screen: (80, 24),
            ticks: 0,
            quit_after_load: false,
            quit: false,
        }
    }

    /// The first work for each way of starting.
    pub fn start_review(&mut self, feed: PathBuf, file: PathBuf) -> Vec<Effect> {
        self.view = View::Loading;
        // A new load: nothing of the last one (its progress, a cancel asked of it) carries
        // over.
        self.load = LoadState {
            file: file.display().to_string(),
            ..LoadState::default()
        };
        vec![Effect::Check { feed, file }]
    }

    pub fn start_batch(&mut self, id: i64) -> Vec<Effect> {
        self.view = View::Summary;
        vec![Effect::LoadBatch(id)]
    }

    pub fn start_list(&mut self) -> Vec<Effect> {
        self.view = View::Batches;
        self.batches.loading = true;
        vec![Effect::LoadBatches]
    }

    fn batch_id(&self) -> Option<i64> {
        self.batch.as_ref().map(|b| b.summary.batch)
    }

    fn fields(&self) -> usize {
        self.batch.as_ref().map_or(0, |b| b.header.len())
    }

    pub(super) fn say(&mut self, kind: StatusKind, text: impl Into<String>) {
        self.status = Some((kind, text.into()));
    }

    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Key(key) => {
                // A message stays until the next key.
                self.status = None;
                self.on_key(key)
            }
            Action::Resize { width, height } => {
                self.screen = (width, height);
                // The rows a list shows: all but the title, the tabs, the list's own line,
                // its header and the status bar.
                self.page_rows = (i64::from(height) - 5).max(3);
                Vec::new()
            }
            Action::Tick => {
                self.ticks = self.ticks.wrapping_add(1);
                Vec::new()
            }
            Action::Click { x, y } => {
                self.status = None;
                self.on_click(x, y)
            }
            Action::Progress {
                bytes,
                total,
                rows,
                elapsed_ms,
            } => {
                self.load.bytes = bytes;
                self.load.total = total;
                self.load.rows = rows;
                self.load.elapsed_ms = elapsed_ms;
                Vec::new()
            }
            Action::Checked(Ok(id)) => {
                if self.quit_after_load {
                    self.quit = true;
                    return Vec::new();
                }
                self.view = View::Summary;
                vec![Effect::LoadBatch(id)]
            }
            Action::Checked(Err(e)) => {
                if self.quit_after_load {
                    self.quit = true;
                    return Vec::new();
                }
                self.say(StatusKind::Error, e);
                self.start_list()
            }
            Action::Frequencies(Ok(table)) => {
                if table.values.is_empty() {
                    self.say(StatusKind::Info, "no values to count");
                    return Vec::new();
                }
                self.overlay = Some(Overlay::Frequencies { table, cursor: 0 });
                Vec::new()
            }
            Action::Frequencies(Err(e)) => {
                self.say(StatusKind::Error, e);
                Vec::new()
            }
            Action::Replanned(result) => {
                match result {
                    Ok(Some(said)) => self.say(StatusKind::Info, said),
                    Ok(None) => self.say(StatusKind::Info, "the plan stands"),
                    Err(e) => self.say(StatusKind::Error, e),
                }
                self.batch_id().map(Effect::LoadBatch).into_iter().collect()
            }
            Action::Batch(Ok(data)) => {
                if let Some(notice) = &data.notice {
                    self.say(StatusKind::Info, notice.clone());
                }
                let id = data.summary.batch;
                let reopened = self.batch_id() == Some(id);
                self.batch = Some(*data);
                if !reopened {
                    // Nothing of another batch stays: its rows, filter, marks, search, scroll.
                    self.profile = None;
                    self.summary_cursor = 0;
                    self.filter = Filter::default();
                    self.marked.clear();
                    self.search = None;
                    self.column = 0;
                    self.hscroll = 0;
                    self.widths.clear();
                    self.sort = None;
                    self.change_column = 0;
                }
                if matches!(self.view, View::Loading | View::Batches) {
                    self.view = View::Summary;
                }
                let header = self
                    .batch
                    .as_ref()
                    .map(|b| b.header.clone())
                    .unwrap_or_default();
                let mut effects = vec![Effect::LoadProfile { batch: id, header }];
                effects.extend(self.refilter(self.filter.clone()));
                self.changes.reset();
                self.changes.total = self.batch.as_ref().map(|b| changes_total(&b.summary.plan));
                // The changes are listed when their tab first shows: a big batch's list
                // takes a while to make, and the other views need not wait behind it.
                effects.extend(self.show(self.view));
                effects
            }
            Action::Batch(Err(e)) => {
                self.say(StatusKind::Error, e);
                Vec::new()
            }
            Action::Profile { batch, profile } => {
                if self.batch_id() == Some(batch) {
                    match profile {
                        Ok(p) => self.profile = Some(p),
                        Err(e) => self.say(StatusKind::Error, e),
                    }
                }
                Vec::new()
            }
            Action::Quarantined {
                generation,
                page,
                rows,
            } => {
                if generation != self.quarantine.generation {
                    return Vec::new();
                }
                match rows {
                    Ok((rows, rank)) => {
                        let screen = self.screen_rows();
                        self.quarantine.receive(page, rows, rank, screen, |r| r.ord);
                        self.ask_quarantine(None)
                    }
                    Err(e) => {
                        self.quarantine.loading = false;
                        self.say(StatusKind::Error, e);
                        Vec::new()
                    }
                }
            }
            Action::Counted { generation, total } => {
                // Counted for this list, even if a jump has replaced the rows held since.
                if generation >= self.quarantine.list_began {
                    match total {
                        Ok(n) => self.quarantine.total = Some(n),
                        Err(e) => self.say(StatusKind::Error, e),
                    }
                }
                Vec::new()
            }
            Action::Changes {
                generation,
                page,
                rows,
            } => {
                if generation != self.changes.generation {
                    return Vec::new();
                }
                match rows {
                    Ok(rows) => {
                        let screen = self.screen_rows();
                        self.changes.receive(page, rows, None, screen, |r| r.ord);
                        self.ask_changes(None)
                    }
                    Err(e) => {
                        self.changes.loading = false;
                        self.say(StatusKind::Error, e);
                        Vec::new()
                    }
                }
            }
            Action::Found(Ok(Some(hit))) | Action::Jumped(Ok(Some(hit))) => {
                self.view = View::Quarantine;
                // Searches and jumps go in file order.
                let unsorted = match self.sort.take() {
                    Some(_) => " (sorted no more: searches and jumps go in file order)",
                    None => "",
                };
                self.say(StatusKind::Info, format!("{}{unsorted}", hit.note));
                self.reload_quarantine(PageFrom::At(hit.ord), Land::Ord(hit.ord))
            }
            Action::Found(Ok(None)) => {
                let text = self.search.clone().unwrap_or_default();
                self.say(
                    StatusKind::Info,
                    format!("no quarantined row contains '{text}'"),
                );
                Vec::new()
            }
            Action::Jumped(Ok(None)) => {
                self.say(StatusKind::Info, "no quarantined row to go to");
                Vec::new()
            }
            Action::Found(Err(e))
            | Action::Jumped(Err(e))
            | Action::Dropped(Err(e))
            | Action::Exported(Err(e)) => {
                self.say(StatusKind::Error, e);
                Vec::new()
            }
            Action::Promoted(Ok((applied, summary))) => {
                self.overlay = None;
                if let Some(b) = &mut self.batch {
                    b.summary = (*summary).clone();
                }
                self.result = Some(PromotionResult {
                    applied,
                    summary: *summary,
                });
                self.view = View::Result;
                Vec::new()
            }
            Action::Promoted(Err(e)) => {
                self.overlay = None;
                self.say(StatusKind::Error, e);
                // The batch may have changed (rows set aside by the server): read it again.
                self.batch_id().map(Effect::LoadBatch).into_iter().collect()
            }
            Action::Decided { what, result } => {
                self.overlay = None;
                match result {
                    Ok(()) => {
                        self.marked.clear();
                        self.say(StatusKind::Info, what);
                    }
                    Err(e) => self.say(StatusKind::Error, e),
                }
                self.batch_id().map(Effect::LoadBatch).into_iter().collect()
            }
            Action::Batches(Ok(list)) => {
                // The cursor stays on the batch it was on, wherever new batches put it: the
                // same row index may be another batch now (newest first).
                let cursor = self.batches.cursor;
                let selected = self.batches.rows.get(cursor).map(|b| b.batch);
                self.batches.rows = list;
                self.batches.loading = false;
                self.batches.cursor = selected
                    .and_then(|id| self.batches.rows.iter().position(|b| b.batch == id))
                    .unwrap_or(cursor)
                    .min(self.batches.rows.len().saturating_sub(1));
                Vec::new()
            }
            Action::Batches(Err(e)) => {
                self.batches.loading = false;
                self.say(StatusKind::Error, e);
                Vec::new()
            }
            Action::Dropped(Ok(id)) => {
                self.overlay = None;
                self.say(StatusKind::Info, format!("batch {id}: staging dropped"));
                vec![Effect::LoadBatches]
            }
            Action::Source { ord, text } => {
                self.source = Some((ord, text));
                Vec::new()
            }
            Action::Exported(Ok((n, path))) => {
                self.say(
                    StatusKind::Info,
                    format!("wrote {n} problem rows to {}", path.display()),
                );
                Vec::new()
            }
        }
    }

    /// Shows a tab of the open batch; the changes are asked for the first time they show.
    pub(super) fn show(&mut self, view: View) -> Vec<Effect> {
        self.view = view;
        let untouched = self.changes.rows.is_empty() && !self.changes.loading;
        // A promoted batch's changes are in production: compared with it now, they would
        // read as nothing to change.
        let promoted = self.batch.as_ref().is_some_and(|b| b.summary.promoted());
        match view == View::Changes && untouched && !promoted && self.changes.total != Some(0) {
            true => self.reload_changes(PageFrom::Start, Land::First),
            false => Vec::new(),
        }
    }

    /// How many rows of a list the screen shows.
    pub(super) fn screen_rows(&self) -> usize {
        self.page_rows.max(1) as usize
    }

    /// Chooses the quarantined rows by `filter`: the list starts again, counted anew.
    pub(super) fn refilter(&mut self, filter: Filter) -> Vec<Effect> {
        self.filter = filter;
        self.quarantine.reset();
        let Some(batch) = self.batch_id() else {
            return Vec::new();
        };
        // The count belongs to the list the first page starts.
        let mut effects = self.reload_quarantine(PageFrom::Start, Land::First);
        effects.push(Effect::CountQuarantined {
            batch,
            filter: self.filter.clone(),
            generation: self.quarantine.generation,
        });
        effects
    }

    /// A page of quarantined rows from `from`, replacing the rows held.
    pub(super) fn reload_quarantine(&mut self, from: PageFrom, land: Land) -> Vec<Effect> {
        self.ask_quarantine(Some(self.jump(from, land)))
    }

    fn reload_changes(&mut self, from: PageFrom, land: Land) -> Vec<Effect> {
        self.ask_changes(Some(self.jump(from, land)))
    }

    fn jump(&self, from: PageFrom, land: Land) -> PageRequest {
        PageRequest {
            from,
            land,
            limit: 2 * self.page_rows.max(1),
        }
    }

    /// Asks for `request`, or for the rows the browser wants next. A page that replaces the
    /// rows held starts a generation: a page still on its way will not join them.
    fn ask_quarantine(&mut self, request: Option<PageRequest>) -> Vec<Effect> {
        let screen = self.screen_rows();
        let Some(batch) = self.batch_id() else {
            return Vec::new();
        };
        let Some(page) = request.or_else(|| self.quarantine.wants(screen, |r| r.ord)) else {
            return Vec::new();
        };
        if !matches!(page.from, PageFrom::After(_) | PageFrom::Before(_)) {
            self.quarantine.generation += 1;
        }
        vec![Effect::Quarantined {
            batch,
            fields: self.fields(),
            filter: self.filter.clone(),
            sort: self.sort,
            page: self.quarantine.ask(page),
            generation: self.quarantine.generation,
        }]
    }

    fn ask_changes(&mut self, request: Option<PageRequest>) -> Vec<Effect> {
        let screen = self.screen_rows();
        let Some(batch) = self.batch_id() else {
            return Vec::new();
        };
        let Some(page) = request.or_else(|| self.changes.wants(screen, |r| r.ord)) else {
            return Vec::new();
        };
        if !matches!(page.from, PageFrom::After(_) | PageFrom::Before(_)) {
            self.changes.generation += 1;
        }
        vec![Effect::Changes {
            batch,
            page: self.changes.ask(page),
            generation: self.changes.generation,
        }]
    }

    fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        match self.overlay.take() {
            Some(Overlay::Input { purpose, text }) => return self.on_input_key(purpose, text, key),
            Some(Overlay::Dialog(dialog)) => return self.on_dialog_key(*dialog, key),
            Some(Overlay::Busy(what)) => {
                self.overlay = Some(Overlay::Busy(what));
                self.say(StatusKind::Info, "please wait: the database is working");
                return Vec::new();
            }
            Some(Overlay::Detail { scroll }) => {
                self.on_detail_key(scroll, &key);
                return Vec::new();
            }
            Some(Overlay::Help) => {
                // Any key closes the help, q too: it goes back, as in less and k9s.
                return Vec::new();
            }
            Some(Overlay::Frequencies { table, cursor }) => {
                return self.on_frequencies_key(table, cursor, &key);
            }
            None => {}
        }
        match keymap::lookup(self.view.ctx(), &key) {
            Some(act) => self.on_act(act),
            None => Vec::new(),
        }
    }

    /// A key in a row's detail: scroll it, or go back (Esc, q, Enter); other keys leave it
    /// open.
    fn on_detail_key(&mut self, scroll: u16, key: &KeyEvent) {
        let Some(lines) = self.detail_lines() else {
            return;
        };
        let extent = super::detail::Extent::of(&lines, self.screen.0, self.screen.1);
        let last = u16::try_from(extent.last_scroll()).unwrap_or(u16::MAX);
        let page = u16::try_from(extent.shown).unwrap_or(u16::MAX);
        let scroll = match keymap::lookup(Ctx::Detail, key) {
            Some(Act::Back | Act::Quit) => return,
            Some(Act::Down) => scroll.saturating_add(1),
            Some(Act::Up) => scroll.saturating_sub(1),
            Some(Act::PageDown) => scroll.saturating_add(page),
            Some(Act::PageUp) => scroll.saturating_sub(page),
            Some(Act::Top) => 0,
            Some(Act::Bottom) => last,
            _ => scroll,
        };
        self.overlay = Some(Overlay::Detail {
            scroll: scroll.min(last),
        });
    }

    /// The detail of the current row: a quarantined row's fields and problems, or a change's
    /// columns before and after.
    pub fn detail_lines(&self) -> Option<Vec<super::detail::DetailLine>> {
        match self.view {
            View::Changes => self.changes.current().map(super::detail::change_lines),
            _ => match (&self.batch, self.quarantine.current()) {
                (Some(b), Some(row)) => Some(super::detail::lines(b, row, &self.source)),
                _ => None,
            },
        }
    }

    pub(super) fn on_act(&mut self, act: Act) -> Vec<Effect> {
        match act {
            Act::Quit if self.view == View::Loading => {
                self.quit_after_load = true;
                self.load.cancelling = true;
                vec![Effect::CancelCheck]
            }
            Act::Quit => {
                self.quit = true;
                Vec::new()
            }
            Act::Help => {
                self.overlay = Some(Overlay::Help);
                Vec::new()
            }
            Act::Cancel => {
                self.load.cancelling = true;
                vec![Effect::CancelCheck]
            }
            Act::Back => match self.view {
                View::Quarantine | View::Changes | View::Result => {
                    self.view = View::Summary;
                    Vec::new()
                }
                View::Summary => self.start_list(),
                _ => Vec::new(),
            },
            Act::ShowSummary if self.batch.is_some() => self.show(View::Summary),
            Act::ShowQuarantine if self.batch.is_some() => self.show(View::Quarantine),
            Act::ShowChanges if self.batch.is_some() => self.show(View::Changes),
            Act::NextTab if self.batch.is_some() => self.show(match self.view {
                View::Summary => View::Quarantine,
                View::Quarantine => View::Changes,
                _ => View::Summary,
            }),
            Act::Batches => self.start_list(),
            // A crashed or outdated batch is resumed by checking its file again.
            Act::Recheck => match &self.batch {
                Some(b) => {
                    let (spec, file) = (b.summary.file.spec.clone(), b.summary.file.path.clone());
                    self.start_review(spec.into(), file.into())
                }
                None => Vec::new(),
            },
            Act::Up | Act::Down | Act::PageUp | Act::PageDown | Act::Top | Act::Bottom => {
                self.on_move(act)
            }
            Act::Left
            | Act::Right
            | Act::FirstColumn
            | Act::LastColumn
            | Act::OffendingColumn
            | Act::Narrower
            | Act::Wider => {
                self.on_column(act);
                Vec::new()
            }
            Act::Sort => self.sort_by_column(),
            Act::Open => self.on_open(),
            Act::Search => {
                self.overlay = Some(Overlay::Input {
                    purpose: InputPurpose::Search,
                    text: text_input(""),
                });
                Vec::new()
            }
            Act::JumpLine => {
                self.overlay = Some(Overlay::Input {
                    purpose: InputPurpose::JumpLine,
                    text: text_input(""),
                });
                Vec::new()
            }
            Act::NextMatch | Act::PrevMatch => self.find(act == Act::NextMatch, false),
            Act::ClearFilter => self.refilter(Filter::default()),
            Act::Approve => self.open_dialog(DialogKind::Approve),
            Act::Quarantine => self.open_dialog(DialogKind::Quarantine),
            Act::Release => self.open_dialog(DialogKind::Release),
            Act::CopyValue | Act::CopyRow => self.copy(act == Act::CopyRow),
            Act::Frequencies => match (self.batch_id(), self.frequency_filter()) {
                (Some(batch), Some(filter)) => vec![Effect::Frequencies { batch, filter }],
                _ => {
                    self.say(StatusKind::Info, "no check here to count the values of");
                    Vec::new()
                }
            },
            Act::Replan => match self
                .batch
                .as_ref()
                .map(|b| (b.summary.batch, b.summary.state))
            {
                Some((id, state)) if state.approvable() => {
                    self.say(
                        StatusKind::Info,
                        "making the plan again against production…",
                    );
                    vec![Effect::Replan(id)]
                }
                Some((id, state)) => {
                    self.say(
                        StatusKind::Info,
                        format!("batch {id} is {state}: its plan is history"),
                    );
                    Vec::new()
                }
                None => Vec::new(),
            },
            Act::Abort => self.open_dialog(DialogKind::Abort),
            Act::Mark => {
                if self
                    .changes
                    .current()
                    .is_some_and(|r| r.kind == ChangeKind::Delete)
                {
                    self.say(
                        StatusKind::Info,
                        "this row is deleted because the file lacks its key: it cannot be held back (abort instead, or send a file that has it)",
                    );
                    return Vec::new();
                }
                if let Some(row) = self.changes.current() {
                    let ord = row.ord;
                    if !self.marked.remove(&ord) {
                        self.marked.insert(ord);
                    }
                }
                self.on_move(Act::Down)
            }
            Act::HoldMarked => {
                if self.marked.is_empty() {
                    self.say(StatusKind::Info, "mark rows with m first");
                    return Vec::new();
                }
                let ords = self.marked.iter().copied().collect();
                self.open_dialog(DialogKind::Hold(ords))
            }
            Act::Refresh => self.start_list(),
            Act::Drop => match self.batches.current() {
                Some(b) => {
                    let id = b.batch;
                    self.open_dialog(DialogKind::Drop(id))
                }
                None => Vec::new(),
            },
            Act::Export => match self.batches.current() {
                Some(b) => {
                    let id = b.batch;
                    self.overlay = Some(Overlay::Input {
                        purpose: InputPurpose::ExportPath(id),
                        text: text_input(&format!("batch-{id}-quarantined.csv")),
                    });
                    Vec::new()
                }
                None => Vec::new(),
            },
            Act::ShowSummary | Act::ShowQuarantine | Act::ShowChanges | Act::NextTab => Vec::new(),
        }
    }

    fn on_open(&mut self) -> Vec<Effect> {
        match self.view {
            View::Summary => {
                let Some(check) = self
                    .batch
                    .as_ref()
                    .and_then(|b| b.summary.checks.get(self.summary_cursor))
                else {
                    return Vec::new();
                };
                let filter = Filter {
                    check: Some(check.check.clone()),
                    column: check.column.clone(),
                    kept: (check.severity != "error").then(|| check.severity.clone()),
                    value: None,
                };
                self.view = View::Quarantine;
                // The current column: the check's, when it has one the file feeds.
                let field = self.batch.as_ref().and_then(|b| {
                    let column = filter.column.as_deref()?;
                    b.columns
                        .iter()
                        .find(|(target, _)| target == column)
                        .map(|(_, i)| *i)
                        .or_else(|| b.header.iter().position(|h| h == column))
                });
                match field {
                    Some(field) => self.column_on(field),
                    None => (self.column, self.hscroll) = (0, 0),
                }
                self.refilter(filter)
            }
            View::Quarantine => match (self.batch_id(), self.quarantine.current()) {
                (Some(batch), Some(row)) => {
                    let ord = row.ord;
                    self.overlay = Some(Overlay::Detail { scroll: 0 });
                    self.source = None;
                    vec![Effect::Source { batch, ord }]
                }
                _ => Vec::new(),
            },
            View::Changes => {
                if self.changes.current().is_some() {
                    self.overlay = Some(Overlay::Detail { scroll: 0 });
                }
                Vec::new()
            }
            View::Batches => match self.batches.current() {
                Some(b) => {
                    let id = b.batch;
                    self.start_batch(id)
                }
                None => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    fn on_move(&mut self, act: Act) -> Vec<Effect> {
        match self.view {
            View::Summary => {
                let n = self.batch.as_ref().map_or(0, |b| b.summary.checks.len());
                self.summary_cursor =
                    step_cursor(self.summary_cursor, n, act, self.page_rows as usize);
                Vec::new()
            }
            View::Batches => {
                let n = self.batches.rows.len();
                self.batches.cursor =
                    step_cursor(self.batches.cursor, n, act, self.page_rows as usize);
                Vec::new()
            }
            View::Quarantine => {
                let request = self.quarantine.step(act, self.screen_rows());
                self.ask_quarantine(request)
            }
            View::Changes => {
                let request = self.changes.step(act, self.screen_rows());
                self.ask_changes(request)
            }
            _ => Vec::new(),
        }
    }

    /// The next (or previous) match past the current row; a new search (`fresh`) looks at the
    /// current row first.
    fn find(&mut self, forward: bool, fresh: bool) -> Vec<Effect> {
        let (Some(batch), Some(text)) = (self.batch_id(), self.search.clone()) else {
            self.say(StatusKind::Info, "search first with /");
            return Vec::new();
        };
        let from_ord = match self.quarantine.current() {
            Some(r) if fresh => r.ord - 1,
            Some(r) => r.ord,
            None if forward => i64::MIN,
            None => i64::MAX,
        };
        vec![Effect::FindText {
            batch,
            fields: self.fields(),
            filter: self.filter.clone(),
            text,
            from_ord,
            forward,
        }]
    }

    fn on_input_key(
        &mut self,
        purpose: InputPurpose,
        mut text: Box<TextArea<'static>>,
        key: KeyEvent,
    ) -> Vec<Effect> {
        match key.code {
            KeyCode::Esc => Vec::new(),
            KeyCode::Enter => {
                let typed = text.lines().join("");
                let value = typed.trim().to_string();
                match purpose {
                    // The query as typed: a trailing space can be what tells `toys ` apart.
                    InputPurpose::Search if !value.is_empty() => {
                        self.search = Some(typed);
                        self.find(true, true)
                    }
                    // `40`, or `part-002.csv:40` in a batch of several files, where a
                    // bare number is a line of the current row's file.
                    InputPurpose::JumpLine => {
                        let (file, number) = match value.rsplit_once(':') {
                            Some((file, number)) => (Some(file.to_string()), number),
                            None => (
                                self.quarantine.current().and_then(|r| r.file.clone()),
                                value.as_str(),
                            ),
                        };
                        match (number.trim().parse::<i64>(), self.batch_id()) {
                            (Ok(line), Some(batch)) => vec![Effect::JumpLine {
                                batch,
                                filter: self.filter.clone(),
                                file,
                                line,
                            }],
                            (Ok(_), None) => Vec::new(),
                            (Err(_), _) => {
                                self.say(
                                    StatusKind::Error,
                                    format!("'{value}' is not a line number (or FILE:LINE)"),
                                );
                                Vec::new()
                            }
                        }
                    }
                    InputPurpose::ExportPath(batch) if !value.is_empty() => {
                        vec![Effect::Export {
                            batch,
                            path: PathBuf::from(value),
                        }]
                    }
                    _ => Vec::new(),
                }
            }
            _ => {
                text.input(key);
                self.overlay = Some(Overlay::Input { purpose, text });
                Vec::new()
            }
        }
    }
}

/// How many rows the Changes tab lists: every insert, update and delete of the plan.
pub fn changes_total(plan: &crate::plan::Plan) -> u64 {
    (plan.insert + plan.update + plan.delete).max(0) as u64
}

/// A one-line text input.
pub fn text_input(initial: &str) -> Box<TextArea<'static>> {
    let mut t = TextArea::new(vec![initial.to_string()]);
    t.move_cursor(ratatui_textarea::CursorMove::End);
    Box::new(t)
}
