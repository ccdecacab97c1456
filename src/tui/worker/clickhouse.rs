//! The review's work on ClickHouse, from `crate::clickhouse`.
use std::path::Path;

use super::store::{Find, Page, Store};
use crate::batch::BatchListItem;
use crate::clickhouse::promote::ready;
use crate::clickhouse::{ClickHouse, batches, check, decide, leftovers, promote, review};
use crate::error::Result;
use crate::pipeline::CheckControl;
use crate::promote::{Applied, PromoteOptions};
use crate::report::Summary;
use crate::review::{
    ChangedRow, ColumnProfile, Filter, Frequencies, Hit, OpenedBatch, PageFrom, QuarantinedRow,
};
use crate::tui::action::Decision;

impl Store for ClickHouse {
    async fn check(&self, feed: &Path, file: &Path, control: &CheckControl) -> Result<i64> {
        let feed = crate::feed::load(self, feed).await?;
        check::check(self, &feed, file, control).await
    }

    async fn open(&self, id: i64) -> Result<OpenedBatch> {
        review::open(self, id).await
    }

    async fn replan(&self, id: i64) -> Result<Option<String>> {
        review::replan(self, id).await
    }

    async fn frequencies(&self, batch: i64, filter: &Filter) -> Result<Frequencies> {
        review::value_frequencies(self, batch, filter, 200).await
    }

    async fn profile(&self, batch: i64, _header: &[String]) -> Result<Vec<ColumnProfile>> {
        review::column_profile(self, batch).await
    }

    async fn page(&self, p: Page<'_>) -> Result<Vec<QuarantinedRow>> {
        match p.sort {
            Some(sort) => {
                review::sorted_page(self, p.batch, p.fields, p.filter, sort, p.from, p.limit).await
            }
            None => {
                review::quarantined_page(self, p.batch, p.fields, p.filter, p.from, p.limit).await
            }
        }
    }

    async fn rank(&self, batch: i64, filter: &Filter, ord: i64) -> Result<u64> {
        review::quarantined_rank(self, batch, filter, ord).await
    }

    async fn changes(&self, batch: i64, from: PageFrom, limit: i64) -> Result<Vec<ChangedRow>> {
        let r = ready(self, batch).await?;
        review::changes_page(self, &r, from, limit).await
    }

    async fn search(&self, f: Find<'_>) -> Result<Option<Hit>> {
        review::search(
            self, f.batch, f.fields, f.filter, f.text, f.from_ord, f.forward,
        )
        .await
    }

    async fn jump(
        &self,
        batch: i64,
        filter: &Filter,
        file: Option<&str>,
        line: i64,
    ) -> Result<Option<Hit>> {
        review::go_to_line(self, batch, filter, file, line).await
    }

    async fn promote(&self, batch: i64, opts: &PromoteOptions) -> Result<(Applied, Summary)> {
        let applied = promote::promote(self, batch, opts).await?;
        Ok((applied, batches::summary(self, batch).await?))
    }

    async fn decide(&self, batch: i64, decision: Decision, note: &str) -> Result<()> {
        match decision {
            Decision::Quarantine => decide::quarantine(self, batch, note).await,
            Decision::Abort => decide::abort(self, batch, Some(note)).await,
            Decision::Release => decide::release(self, batch, note).await,
        }
    }

    async fn hold(&self, batch: i64, ords: &[i64], note: &str) -> Result<()> {
        review::hold_back(self, batch, ords, note).await.map(|_| ())
    }

    async fn batches(&self) -> Result<Vec<BatchListItem>> {
        batches::ensure_catalog(self).await?;
        promote::reconcile(self).await?;
        batches::items(self).await
    }

    async fn drop_staging(&self, id: i64) -> Result<()> {
        leftovers::drop_staging(self, id, false).await.map(|_| ())
    }

    async fn source(&self, batch: i64, ord: i64) -> Result<Option<String>> {
        review::source_text(self, batch, ord).await
    }

    async fn export(&self, batch: i64, path: &Path) -> Result<u64> {
        decide::export(self, batch, path).await
    }
}
