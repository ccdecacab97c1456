//! Carries out `Effect`s on spawned tasks — database work never runs on the render path — and
//! sends the results back to `update` as `Action`s.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{Mutex, mpsc::UnboundedSender};
use tokio_postgres::Client;

use super::action::{Action, Decision, Effect};
use crate::batch;
use crate::batch::Loaded;
use crate::db::{self, ConnectTarget};
use crate::error::Error;
use crate::pipeline::CheckControl;
use crate::promote::{self, PromoteOptions};
use crate::{export, feed, pipeline, report, review};

pub struct Worker {
    target: ConnectTarget,
    client: Arc<Client>,
    tx: UnboundedSender<Action>,
    control: CheckControl,
    started: Arc<std::sync::Mutex<Option<Instant>>>,
    loaded: Arc<Mutex<HashMap<i64, Arc<Loaded>>>>,
}

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Worker {
    pub fn new(target: ConnectTarget, client: Client, tx: UnboundedSender<Action>) -> Self {
        Self {
            target,
            client: Arc::new(client),
            tx,
            control: CheckControl::default(),
            started: Arc::new(std::sync::Mutex::new(None)),
            loaded: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Progress of the running load, for the load view.
    pub fn progress(&self) -> Option<Action> {
        let progress = self.control.progress.lock().ok()?.clone()?;
        let started = (*self.started.lock().ok()?)?;
        Some(Action::Progress {
            bytes: progress.bytes(),
            total: progress.total_bytes,
            rows: progress.records(),
            elapsed_ms: started.elapsed().as_millis() as u64,
        })
    }

    pub fn run(&self, effect: Effect) {
        if effect == Effect::CancelCheck {
            self.control
                .cancel
                .store(true, std::sync::atomic::Ordering::Relaxed);
            return;
        }
        let tx = self.tx.clone();
        let target = self.target.clone();
        let client = self.client.clone();
        let control = self.control.clone();
        let loaded = self.loaded.clone();
        if let Effect::Check { .. } = effect {
            // A new load: a cancel asked of the last one must not stop this one.
            self.control
                .cancel
                .store(false, std::sync::atomic::Ordering::Relaxed);
            if let Ok(mut s) = self.started.lock() {
                *s = Some(Instant::now());
            }
        }
        tokio::spawn(async move {
            let action = perform(effect, &target, &client, &control, &loaded).await;
            let _ = tx.send(action);
        });
    }
}

async fn loaded_batch(
    client: &Client,
    cache: &Mutex<HashMap<i64, Arc<Loaded>>>,
    id: i64,
) -> Result<Arc<Loaded>, Error> {
    let mut cache = cache.lock().await;
    if let Some(l) = cache.get(&id) {
        return Ok(l.clone());
    }
    let l = Arc::new(crate::batch::load(client, id).await?);
    cache.insert(id, l.clone());
    Ok(l)
}

async fn perform(
    effect: Effect,
    target: &ConnectTarget,
    client: &Client,
    control: &CheckControl,
    cache: &Mutex<HashMap<i64, Arc<Loaded>>>,
) -> Action {
    match effect {
        Effect::Check { feed, file } => {
            let result = async {
                let mut own = db::connect(target).await?;
                let feed = feed::load(&own, &feed).await?;
                let second = db::connect_second(target).await;
                pipeline::check(&mut own, second, &feed, &file, control).await
            }
            .await;
            Action::Checked(result.map_err(text))
        }
        // The event loop writes a copy itself (between frames); it never reaches the worker.
        Effect::CancelCheck | Effect::Copy(_) => Action::Tick,
        Effect::LoadBatch(id) => {
            cache.lock().await.remove(&id);
            // Only speeds browsing up: pages read the same without the indexes (a role that
            // may only read, or a batch whose staging was dropped, goes on without them).
            let _ =
                crate::stage::index_for_browsing(client, &crate::layout::StageNames::new(id)).await;
            Action::Batch(review::open(client, id).await.map(Box::new).map_err(text))
        }
        Effect::Frequencies { batch, filter } => Action::Frequencies(
            review::value_frequencies(client, batch, &filter, 200)
                .await
                .map(Box::new)
                .map_err(text),
        ),
        Effect::Replan(id) => {
            cache.lock().await.remove(&id);
            Action::Replanned(review::replan(client, id, true).await.map_err(text))
        }
        Effect::LoadProfile { batch, header } => Action::Profile {
            batch,
            profile: review::column_profile(client, batch, &header)
                .await
                .map_err(text),
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
                let (from, limit) = (page.from, page.limit);
                let rows = match sort {
                    Some(sort) => {
                        review::sorted_page(client, batch, fields, &filter, sort, from, limit)
                            .await?
                    }
                    None => {
                        review::quarantined_page(client, batch, fields, &filter, from, limit)
                            .await?
                    }
                };
                // A page landing on a row says where it stands (in file order), so the
                // position shows.
                let rank = match (page.from, rows.first(), sort) {
                    (review::PageFrom::At(_), Some(first), None) => {
                        Some(review::quarantined_rank(client, batch, &filter, first.ord).await?)
                    }
                    _ => None,
                };
                Ok::<_, Error>((rows, rank))
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
            total: review::quarantined_rank(client, batch, &filter, i64::MAX)
                .await
                .map_err(text),
        },
        Effect::Changes {
            batch,
            page,
            generation,
        } => {
            let rows = async {
                let b = loaded_batch(client, cache, batch).await?;
                review::changes_page(client, &b, page.from, page.limit).await
            }
            .await;
            Action::Changes {
                generation,
                page,
                rows: rows.map_err(text),
            }
        }
        Effect::FindText {
            batch,
            fields,
            filter,
            text: needle,
            from_ord,
            forward,
        } => Action::Found(
            review::search(client, batch, fields, &filter, &needle, from_ord, forward)
                .await
                .map_err(text),
        ),
        Effect::JumpLine {
            batch,
            filter,
            file,
            line,
        } => Action::Jumped(
            review::go_to_line(client, batch, &filter, file.as_deref(), line)
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
            let result = async {
                let applied = promote::promote(target, batch, &opts).await?;
                let summary = report::load(client, batch).await?;
                Ok::<_, Error>((applied, Box::new(summary)))
            }
            .await;
            Action::Promoted(result.map_err(text))
        }
        Effect::Decide {
            batch,
            decision,
            note,
        } => {
            let result = async {
                let mut own = db::connect(target).await?;
                match decision {
                    Decision::Quarantine => batch::quarantine(&mut own, batch, &note).await,
                    Decision::Abort => batch::abort(&mut own, batch, Some(&note)).await,
                    Decision::Release => crate::judge::release(&mut own, batch, &note).await,
                }
            }
            .await;
            let what = match decision {
                Decision::Quarantine => "batch quarantined: everything kept, production untouched",
                Decision::Abort => "batch aborted: production untouched",
                Decision::Release => {
                    "batch released: judged again against production as it is now; decide again"
                }
            };
            Action::Decided {
                what,
                result: result.map_err(text),
            }
        }
        Effect::Hold { batch, ords, note } => {
            let result = async {
                let b = loaded_batch(client, cache, batch).await?;
                let mut own = db::connect(target).await?;
                review::hold_back(&mut own, &b, &ords, &note)
                    .await
                    .map(|_| ())
            }
            .await;
            Action::Decided {
                what: "rows held back: they join the quarantine with your note",
                result: result.map_err(text),
            }
        }
        Effect::LoadBatches => Action::Batches(batch::list(client).await.map_err(text)),
        Effect::Drop(id) => {
            let result = async {
                let mut own = db::connect(target).await?;
                batch::drop_staging(&mut own, id, false).await
            }
            .await;
            Action::Dropped(result.map(|_| id).map_err(text))
        }
        Effect::Source { batch, ord } => Action::Source {
            ord,
            text: review::source_text(client, batch, ord).await.map_err(text),
        },
        Effect::Export { batch, path } => Action::Exported(
            export::quarantined(client, batch, &path)
                .await
                .map(|n| (n, path))
                .map_err(text),
        ),
    }
}
