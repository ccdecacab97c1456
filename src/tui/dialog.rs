//! The decision dialogs: approve, quarantine, abort, hold back, drop. Each states what will
//! happen and, except drop, takes a note for the audit log before it asks for the work.
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::TextArea;

use super::action::{Decision, Effect};
use super::app::{App, Overlay, StatusKind, text_input};

#[derive(Debug, Clone, PartialEq)]
pub enum DialogKind {
    Approve,
    Quarantine,
    Abort,
    Release,
    Hold(Vec<i64>),
    Drop(i64),
}

#[derive(Debug, Clone)]
pub struct Dialog {
    pub kind: DialogKind,
    pub note: TextArea<'static>,
    pub override_policy: bool,
    pub error: Option<String>,
}

impl App {
    pub(super) fn open_dialog(&mut self, kind: DialogKind) -> Vec<Effect> {
        if let DialogKind::Approve
        | DialogKind::Quarantine
        | DialogKind::Abort
        | DialogKind::Release
        | DialogKind::Hold(_) = kind
        {
            let Some(batch) = &self.batch else {
                return Vec::new();
            };
            let state = batch.summary.state;
            // As the batch's state machine allows: a failed promotion may be approved again;
            // anything not yet in production may be ended.
            let allowed = match kind {
                DialogKind::Abort => state.unfinished(),
                DialogKind::Approve => state.approvable(),
                DialogKind::Quarantine => state.may_become(crate::batch::State::Quarantined),
                DialogKind::Release => state == crate::batch::State::Quarantined,
                _ => state == crate::batch::State::Validated,
            };
            if !allowed {
                self.say(
                    StatusKind::Error,
                    format!(
                        "batch {} is {state}: nothing to decide",
                        batch.summary.batch
                    ),
                );
                return Vec::new();
            }
        }
        let placeholder = match kind {
            DialogKind::Drop(_) => "",
            _ => "a note for the audit log (required)",
        };
        let mut note = *text_input("");
        note.set_placeholder_text(placeholder);
        note.set_block(ratatui::widgets::Block::bordered().title(" Note "));
        self.overlay = Some(Overlay::Dialog(Box::new(Dialog {
            kind,
            note,
            override_policy: false,
            error: None,
        })));
        Vec::new()
    }

    pub(super) fn on_dialog_key(&mut self, mut dialog: Dialog, key: KeyEvent) -> Vec<Effect> {
        match key.code {
            KeyCode::Esc => return Vec::new(),
            KeyCode::Char('o')
                if key.modifiers == KeyModifiers::CONTROL && dialog.kind == DialogKind::Approve =>
            {
                dialog.override_policy = !dialog.override_policy;
            }
            KeyCode::Enter => {
                let note = dialog.note.lines().join(" ").trim().to_string();
                match self.confirm(&dialog, note) {
                    Ok(effects) => return effects,
                    Err(problem) => dialog.error = Some(problem),
                }
            }
            _ => {
                dialog.note.input(key);
                dialog.error = None;
            }
        }
        self.overlay = Some(Overlay::Dialog(Box::new(dialog)));
        Vec::new()
    }

    /// The effects of a confirmed dialog, or why it cannot be confirmed yet.
    fn confirm(&mut self, dialog: &Dialog, note: String) -> Result<Vec<Effect>, String> {
        if let DialogKind::Drop(id) = dialog.kind {
            self.overlay = Some(Overlay::Busy(format!(
                "dropping the staging of batch {id}…"
            )));
            return Ok(vec![Effect::Drop(id)]);
        }
        let batch = self.batch.as_ref().ok_or("no batch is open")?;
        if note.is_empty() {
            return Err("write a note first: it goes into the audit log".into());
        }
        let id = batch.summary.batch;
        let effect = match &dialog.kind {
            DialogKind::Approve => {
                if batch.summary.verdict == Some(crate::batch::Verdict::Abort)
                    && !dialog.override_policy
                {
                    return Err("the verdict is ABORT: press Ctrl-O to override the policy (recorded with your note)".into());
                }
                self.overlay = Some(Overlay::Busy(format!(
                    "promoting {} rows into {}…",
                    batch.summary.rows.good, batch.summary.target
                )));
                Effect::Promote {
                    batch: id,
                    note,
                    override_policy: dialog.override_policy,
                }
            }
            DialogKind::Quarantine => Effect::Decide {
                batch: id,
                decision: Decision::Quarantine,
                note,
            },
            DialogKind::Abort => Effect::Decide {
                batch: id,
                decision: Decision::Abort,
                note,
            },
            DialogKind::Release => Effect::Decide {
                batch: id,
                decision: Decision::Release,
                note,
            },
            DialogKind::Hold(ords) => Effect::Hold {
                batch: id,
                ords: ords.clone(),
                note,
            },
            DialogKind::Drop(_) => return Ok(Vec::new()),
        };
        Ok(vec![effect])
    }
}
