//! What the review asks of a database, one method per kind of work; each engine answers in
//! the same types (`postgres`, `clickhouse`), and [`perform`] turns any effect into the
//! action `update` expects, whichever engine did the work.
use std::path::Path;

use crate::batch::BatchListItem;
use crate::error::Result;
use crate::pipeline::CheckControl;
use crate::promote::{Applied, PromoteOptions};
use crate::report::Summary;
use crate::review::{
    ChangedRow, ColumnProfile, Filter, Frequencies, Hit, OpenedBatch, PageFrom, QuarantinedRow,
    Sort,
};
use crate::tui::action::{Action, Decision, Effect};

/// A page of quarantined rows, as the list asks for it.
pub struct Page<'a> {
    pub batch: i64,
    pub fields: usize,
    pub filter: &'a Filter,
    /// In file order when `None`.
    pub sort: Option<Sort>,
    pub from: PageFrom,
    pub limit: i64,
}

/// A search of the quarantined rows `filter` chooses for `text`, from the row `from_ord`.
pub struct Find<'a> {
    pub batch: i64,
    pub fields: usize,
    pub filter: &'a Filter,
    pub text: &'a str,
    pub from_ord: i64,
    pub forward: bool,
}

pub trait Store {
    async fn check(&self, feed: &Path, file: &Path, control: &CheckControl) -> Result<i64>;
    async fn open(&self, id: i64) -> Result<OpenedBatch>;
    async fn replan(&self, id: i64) -> Result<Option<String>>;
    async fn frequencies(&self, batch: i64, filter: &Filter) -> Result<Frequencies>;
    async fn profile(&self, batch: i64, header: &[String]) -> Result<Vec<ColumnProfile>>;
    async fn page(&self, page: Page<'_>) -> Result<Vec<QuarantinedRow>>;
    /// How many rows `filter` chooses before the row `ord`.
    async fn rank(&self, batch: i64, filter: &Filter, ord: i64) -> Result<u64>;
    async fn changes(&self, batch: i64, from: PageFrom, limit: i64) -> Result<Vec<ChangedRow>>;
    async fn search(&self, find: Find<'_>) -> Result<Option<Hit>>;
    async fn jump(
        &self,
        batch: i64,
        filter: &Filter,
        file: Option<&str>,
        line: i64,
    ) -> Result<Option<Hit>>;
    async fn promote(&self, batch: i64, opts: &PromoteOptions) -> Result<(Applied, Summary)>;
    async fn decide(&self, batch: i64, decision: Decision, note: &str) -> Result<()>;
    async fn hold(&self, batch: i64, ords: &[i64], note: &str) -> Result<()>;
    async fn batches(&self) -> Result<Vec<BatchListItem>>;
    async fn drop_staging(&self, id: i64) -> Result<()>;
    async fn source(&self, batch: i64, ord: i64) -> Result<Option<String>>;
    async fn export(&self, batch: i64, path: &Path) -> Result<u64>;
}

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Carries out `effect` on `store`, and says how it went.
pub async fn perform(effect: Effect, store: &impl Store, control: &CheckControl) -> Action {
    match effect {
        Effect::Check { feed, file } => {
            Action::Checked(store.check(&feed, &file, control).await.map_err(text))
        }
        // The event loop writes a copy itself (between frames); it never reaches the worker.
        Effect::CancelCheck | Effect::Copy(_) => Action::Tick,
        Effect::LoadBatch(id) => Action::Batch(store.open(id).await.map(Box::new).map_err(text)),
        Effect::Frequencies { batch, filter } => Action::Frequencies(
            store
                .frequencies(batch, &filter)
                .await
                .map(Box::new)
                .map_err(text),
        ),
        Effect::Replan(id) => Action::Replanned(store.replan(id).await.map_err(text)),
        Effect::LoadProfile { batch, header } => Action::Profile {
            batch,
            profile: store.profile(batch, &header).await.map_err(text),
        },
        Effect::Quarantined {
            batch,
            fields,
            filter,
            sort,
            page,
            generation,
        } => {
            let rows = async {
                let rows = store
                    .page(Page {
                        batch,
                        fields,
                        filter: &filter,
                        sort,
                        from: page.from,
                        limit: page.limit,
                    })
                    .await?;
                // A page landing on a row says where it stands (in file order), so the
                // position shows.
                let rank = match (page.from, rows.first(), sort) {
                    (PageFrom::At(_), Some(first), None) => {
                        Some(store.rank(batch, &filter, first.ord).await?)
                    }
                    _ => None,
                };
                Ok::<_, crate::Error>((rows, rank))
            }
            .await;
            Action::Quarantined {
                generation,
                page,
                rows: rows.map_err(text),
            }
        }
        Effect::CountQuarantined {
            batch,
            filter,
            generation,
        } => Action::Counted {
            generation,
            total: store.rank(batch, &filter, i64::MAX).await.map_err(text),
        },
        Effect::Changes {
            batch,
            page,
            generation,
        } => Action::Changes {
            generation,
            page,
            rows: store
                .changes(batch, page.from, page.limit)
                .await
                .map_err(text),
        },
        Effect::FindText {
            batch,
            fields,
            filter,
            text: needle,
            from_ord,
            forward,
        } => {
            let find = Find {
                batch,
                fields,
                filter: &filter,
                text: &needle,
                from_ord,
                forward,
            };
            Action::Found(store.search(find).await.map_err(text))
        }
        Effect::JumpLine {
            batch,
            filter,
            file,
            line,
        } => Action::Jumped(
            store
                .jump(batch, &filter, file.as_deref(), line)
                .await
                .map_err(text),
        ),
        Effect::Promote {
            batch,
            note,
            override_policy,
        } => {
            let opts = PromoteOptions {
                note: Some(note),
                override_policy,
                ..PromoteOptions::default()
            };
            Action::Promoted(
                store
                    .promote(batch, &opts)
                    .await
                    .map(|(applied, summary)| (applied, Box::new(summary)))
                    .map_err(text),
            )
        }
        Effect::Decide {
            batch,
            decision,
            note,
        } => Action::Decided {
            what: match decision {
                Decision::Quarantine => "batch quarantined: everything kept, production untouched",
                Decision::Abort => "batch aborted: production untouched",
                Decision::Release => {
                    "batch released: judged again against production as it is now; decide again"
                }
            },
            result: store.decide(batch, decision, &note).await.map_err(text),
        },
        Effect::Hold { batch, ords, note } => Action::Decided {
            what: "rows held back: they join the quarantine with your note",
            result: store.hold(batch, &ords, &note).await.map_err(text),
        },
        Effect::LoadBatches => Action::Batches(store.batches().await.map_err(text)),
        Effect::Drop(id) => Action::Dropped(store.drop_staging(id).await.map(|_| id).map_err(text)),
        Effect::Source { batch, ord } => Action::Source {
            ord,
            text: store.source(batch, ord).await.map_err(text),
        },
        Effect::Export { batch, path } => Action::Exported(
            store
                .export(batch, &path)
                .await
                .map(|n| (n, path))
                .map_err(text),
        ),
    }
}
