//! Carries out `Effect`s on spawned tasks — database work never runs on the render path — and
//! sends the results back to `update` as `Action`s. Each engine does the work its own way
//! (`postgres`, `clickhouse`) behind one [`store::Store`]; what comes back is the same.
mod clickhouse;
mod postgres;
mod store;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{Mutex, mpsc::UnboundedSender};
use tokio_postgres::Client;

use self::postgres::Postgres;
use super::action::{Action, Effect};
use crate::clickhouse::ClickHouse;
use crate::db::ConnectTarget;
use crate::pipeline::CheckControl;

/// The database a review works on.
#[derive(Clone)]
enum Engine {
    Postgres(Postgres),
    ClickHouse(ClickHouse),
}

pub struct Worker {
    engine: Engine,
    tx: UnboundedSender<Action>,
    control: CheckControl,
    started: Arc<std::sync::Mutex<Option<Instant>>>,
}

impl Worker {
    /// A worker on PostgreSQL: `client` reads; writes open their own connections to `target`.
    pub fn new(target: ConnectTarget, client: Client, tx: UnboundedSender<Action>) -> Self {
        Self::on(
            Engine::Postgres(Postgres {
                target,
                client: Arc::new(client),
                loaded: Arc::new(Mutex::new(HashMap::new())),
            }),
            tx,
        )
    }

    /// A worker on ClickHouse.
    pub fn clickhouse(ch: ClickHouse, tx: UnboundedSender<Action>) -> Self {
        Self::on(Engine::ClickHouse(ch), tx)
    }

    fn on(engine: Engine, tx: UnboundedSender<Action>) -> Self {
        Self {
            engine,
            tx,
            control: CheckControl::default(),
            started: Arc::new(std::sync::Mutex::new(None)),
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
        if let Effect::Check { .. } = effect {
            // A new load: a cancel asked of the last one must not stop this one.
            self.control
                .cancel
                .store(false, std::sync::atomic::Ordering::Relaxed);
            if let Ok(mut s) = self.started.lock() {
                *s = Some(Instant::now());
            }
        }
        let tx = self.tx.clone();
        let control = self.control.clone();
        let engine = self.engine.clone();
        tokio::spawn(async move {
            let action = match &engine {
                Engine::Postgres(pg) => store::perform(effect, pg, &control).await,
                Engine::ClickHouse(ch) => store::perform(effect, ch, &control).await,
            };
            let _ = tx.send(action);
        });
    }
}
