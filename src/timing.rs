//! Where a batch's time went, stage by stage; kept with the batch and shown by `show --json`.
use std::time::Instant;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// (stage, milliseconds), in order.
    pub stages: Vec<(String, u64)>,
    #[serde(skip)]
    mark: Option<Instant>,
}

impl Timings {
    pub fn start() -> Self {
        Self {
            stages: Vec::new(),
            mark: Some(Instant::now()),
        }
    }

    /// Records the time since the previous lap under `stage`.
    pub fn lap(&mut self, stage: &str) {
        let now = Instant::now();
        let since = self.mark.unwrap_or(now);
        self.stages.push((
            stage.to_string(),
            now.duration_since(since).as_millis() as u64,
        ));
        self.mark = Some(now);
    }
}
