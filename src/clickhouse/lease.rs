//! The lease a process holds on a batch it is loading or promoting: renewed every third of
//! its length by a task of its own, given up when dropped. ClickHouse has no sessions to
//! outlive a process, so a batch whose lease ran out is one whose process died, and
//! `promote::reconcile` puts it in the state its tables show.
use super::ClickHouse;
use super::batches;
use crate::error::Result;

pub struct Lease {
    ch: ClickHouse,
    id: i64,
    renewing: tokio::task::JoinHandle<()>,
}

impl Lease {
    /// Takes the lease on batch `id` for `length_ms`, renewed until released or dropped.
    pub async fn take(ch: &ClickHouse, id: i64, length_ms: i64) -> Result<Self> {
        batches::set_lease(ch, id, batches::now_ms() + length_ms).await?;
        let (ch, renewer) = (ch.clone(), ch.clone());
        let renewing = tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(length_ms as u64 / 3)).await;
                let _ = batches::set_lease(&renewer, id, batches::now_ms() + length_ms).await;
            }
        });
        Ok(Self { ch, id, renewing })
    }

    /// Gives the lease up now: the batch is no longer at work.
    pub async fn release(self) {
        self.renewing.abort();
        let _ = batches::set_lease(&self.ch, self.id, batches::now_ms()).await;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewing.abort();
    }
}
