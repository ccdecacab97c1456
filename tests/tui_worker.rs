//! The review's background worker, against a real database: what it does for each effect
//! comes back as the action the UI expects. (A cancel once stuck to the next load.)
mod common;

use airlock::tui::action::{Action, Effect};
use airlock::tui::worker::Worker;
use common::{TestDb, fixture};

/// Runs `effect` and waits for the action it answers with.
async fn answer(
    worker: &Worker,
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Action>,
    effect: Effect,
) -> Action {
    worker.run(effect);
    loop {
        match tokio::time::timeout(std::time::Duration::from_secs(60), rx.recv()).await {
            Ok(Some(Action::Tick)) => continue,
            Ok(Some(action)) => return action,
            Ok(None) => panic!("the worker's channel closed"),
            Err(_) => panic!("no answer within a minute"),
        }
    }
}

#[tokio::test]
async fn a_cancelled_load_does_not_stop_the_next_one() {
    let db = TestDb::with_catalog().await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let worker = Worker::new(db.target.clone(), db.client().await, tx);
    let check = || Effect::Check {
        feed: fixture("partner-products.toml"),
        file: fixture("products-broken.csv"),
    };
    // Esc during a load, then `R`: the second load runs to its end.
    worker.run(Effect::CancelCheck);
    let id = match answer(&worker, &mut rx, check()).await {
        Action::Checked(Ok(id)) => id,
        other => panic!("the load after a cancel: {other:?}"),
    };
    match answer(&worker, &mut rx, Effect::LoadBatch(id)).await {
        Action::Batch(Ok(data)) => {
            assert_eq!(data.summary.batch, id);
            assert_eq!(data.summary.rows.quarantined, 13);
        }
        other => panic!("the batch: {other:?}"),
    }
    // And again, for good measure.
    worker.run(Effect::CancelCheck);
    assert!(matches!(
        answer(&worker, &mut rx, check()).await,
        Action::Checked(Ok(_))
    ));
}
