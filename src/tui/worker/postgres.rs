//! The review's work on PostgreSQL: reads on the review's connection, each change on a
//! connection of its own.
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use tokio::sync::Mutex;
use tokio_postgres::Client;

use super::store::{Find, Page, Store};
use crate::batch::{self, BatchListItem, Loaded};
use crate::db::{self, ConnectTarget};
use crate::error::Result;
use crate::pipeline::{self, CheckControl};
use crate::promote::{self, Applied, PromoteOptions};
use crate::report::{self, Summary};
use crate::review::{
    self, ChangedRow, ColumnProfile, Filter, Frequencies, Hit, OpenedBatch, PageFrom,
    QuarantinedRow,
};
use crate::tui::action::Decision;

#[derive(Clone)]
pub struct Postgres {
    pub target: ConnectTarget,
    pub client: Arc<Client>,
    /// Batches rebuilt from their rows, by number.
    pub loaded: Arc<Mutex<HashMap<i64, Arc<Loaded>>>>,
}

impl Postgres {
    async fn loaded(&self, id: i64) -> Result<Arc<Loaded>> {
        let mut cache = self.loaded.lock().await;
        if let Some(l) = cache.get(&id) {
            return Ok(l.clone());
        }
        let l = Arc::new(batch::load(&self.client, id).await?);
        cache.insert(id, l.clone());
        Ok(l)
    }
}

impl Store for Postgres {
    async fn check(&self, feed: &Path, file: &Path, control: &CheckControl) -> Result<i64> {
        let mut own = db::connect(&self.target).await?;
        let feed = crate::feed::load(&own, feed).await?;
        let second = db::connect_second(&self.target).await;
        pipeline::check(&mut own, second, &feed, file, control).await
    }

    async fn open(&self, id: i64) -> Result<OpenedBatch> {
        self.loaded.lock().await.remove(&id);
        // Only speeds browsing up: pages read the same without the indexes (a role that may
        // only read, or a batch whose staging was dropped, goes on without them).
        let names = crate::layout::StageNames::new(id);
        let _ = crate::stage::index_for_browsing(&*self.client, &names).await;
        review::open(&self.client, id).await
    }

    async fn replan(&self, id: i64) -> Result<Option<String>> {
        self.loaded.lock().await.remove(&id);
        review::replan(&self.client, id, true).await
    }

    async fn frequencies(&self, batch: i64, filter: &Filter) -> Result<Frequencies> {
        review::value_frequencies(&*self.client, batch, filter, 200).await
    }

    async fn profile(&self, batch: i64, header: &[String]) -> Result<Vec<ColumnProfile>> {
        review::column_profile(&*self.client, batch, header).await
    }

    async fn page(&self, p: Page<'_>) -> Result<Vec<QuarantinedRow>> {
        let c = &*self.client;
        match p.sort {
            Some(sort) => {
                review::sorted_page(c, p.batch, p.fields, p.filter, sort, p.from, p.limit).await
            }
            None => review::quarantined_page(c, p.batch, p.fields, p.filter, p.from, p.limit).await,
        }
    }

    async fn rank(&self, batch: i64, filter: &Filter, ord: i64) -> Result<u64> {
        review::quarantined_rank(&*self.client, batch, filter, ord).await
    }

    async fn changes(&self, batch: i64, from: PageFrom, limit: i64) -> Result<Vec<ChangedRow>> {
        let b = self.loaded(batch).await?;
        review::changes_page(&*self.client, &b, from, limit).await
    }

    async fn search(&self, f: Find<'_>) -> Result<Option<Hit>> {
        let c = &*self.client;
        review::search(
            c, f.batch, f.fields, f.filter, f.text, f.from_ord, f.forward,
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
        review::go_to_line(&*self.client, batch, filter, file, line).await
    }

    async fn promote(&self, batch: i64, opts: &PromoteOptions) -> Result<(Applied, Summary)> {
        let applied = promote::promote(&self.target, batch, opts).await?;
        Ok((applied, report::load(&self.client, batch).await?))
    }

    async fn decide(&self, id: i64, decision: Decision, note: &str) -> Result<()> {
        let mut own = db::connect(&self.target).await?;
        match decision {
            Decision::Quarantine => batch::quarantine(&mut own, id, note).await,
            Decision::Abort => batch::abort(&mut own, id, Some(note)).await,
            Decision::Release => crate::judge::release(&mut own, id, note).await,
        }
    }

    async fn hold(&self, batch: i64, ords: &[i64], note: &str) -> Result<()> {
        let b = self.loaded(batch).await?;
        let mut own = db::connect(&self.target).await?;
        review::hold_back(&mut own, &b, ords, note)
            .await
            .map(|_| ())
    }

    async fn batches(&self) -> Result<Vec<BatchListItem>> {
        batch::list(&self.client).await
    }

    async fn drop_staging(&self, id: i64) -> Result<()> {
        let mut own = db::connect(&self.target).await?;
        batch::drop_staging(&mut own, id, false).await.map(|_| ())
    }

    async fn source(&self, batch: i64, ord: i64) -> Result<Option<String>> {
        review::source_text(&*self.client, batch, ord).await
    }

    async fn export(&self, batch: i64, path: &Path) -> Result<u64> {
        crate::export::quarantined(&self.client, batch, path).await
    }
}
