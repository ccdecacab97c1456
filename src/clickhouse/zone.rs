//! A time zone's rules as the engine applies them: its UTC offset at every instant from 1900
//! to 2300 (the `DateTime64` range), read from the engine itself once per zone and process.
//! With them Airlock reads a date-time without an offset the way the engine would — as the
//! column's local time — and finds the ones the engine would change without a word: a local
//! time the clocks skip (it does not exist) or repeat (it means two instants).
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use super::client::{ClickHouse, quote};
use crate::error::{Error, Result};

/// 1900-01-01 00:00:00 UTC and 2300-01-01 00:00:00 UTC, in seconds since 1970.
const FROM: i64 = -2_208_988_800;
const HOURS: i64 = 400 * 8766;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    pub name: String,
    /// The offset (seconds east of UTC) before the first change.
    initial: i32,
    /// Each change: the first instant of the new offset, and the offset.
    changes: Vec<(i64, i32)>,
}

/// What a local time means in a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Local {
    /// One instant (seconds since 1970, UTC).
    At(i64),
    /// None: the clocks skip it.
    Skipped,
    /// Two instants, the earlier first: the clocks repeat it.
    Twice(i64, i64),
}

impl Zone {
    /// A zone with one offset forever (UTC, or a test's fixed zone).
    pub fn fixed(name: &str, offset: i32) -> Self {
        Zone {
            name: name.to_string(),
            initial: offset,
            changes: Vec::new(),
        }
    }

    /// A zone from its changes (each: its first instant, the new offset), in order.
    pub fn with_changes(name: &str, initial: i32, changes: Vec<(i64, i32)>) -> Self {
        Zone {
            name: name.to_string(),
            initial,
            changes,
        }
    }

    /// The offset in force at `instant`.
    pub fn offset_at(&self, instant: i64) -> i32 {
        match self.changes.partition_point(|(at, _)| *at <= instant) {
            0 => self.initial,
            i => self.changes[i - 1].1,
        }
    }

    /// What local time `local` (seconds since 1970 on the zone's wall clock) means.
    pub fn resolve(&self, local: i64) -> Local {
        // The offsets in force a day either side are the only candidates.
        let mut candidates = vec![
            self.offset_at(local - 86_400 - 50_400),
            self.offset_at(local + 86_400 + 50_400),
        ];
        let i = self
            .changes
            .partition_point(|(at, _)| *at <= local - 2 * 86_400);
        candidates.extend(
            self.changes[i..]
                .iter()
                .take_while(|(at, _)| *at <= local + 2 * 86_400)
                .map(|(_, o)| *o),
        );
        candidates.sort_unstable();
        candidates.dedup();
        let mut instants: Vec<i64> = candidates
            .into_iter()
            .map(|o| local - o as i64)
            .filter(|&t| i64::from(self.offset_at(t)) == local - t)
            .collect();
        instants.sort_unstable();
        instants.dedup();
        match instants.as_slice() {
            [] => Local::Skipped,
            [t] => Local::At(*t),
            [a, .., b] => Local::Twice(*a, *b),
        }
    }
}

/// The zones read so far, by server and name: a zone's rules do not change while the
/// process runs.
fn cache() -> &'static Mutex<HashMap<String, Arc<Zone>>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Zone>>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The zone `name` (the server's own when `None`) as the engine applies it.
pub async fn load(ch: &ClickHouse, name: Option<&str>) -> Result<Arc<Zone>> {
    let context = format!(
        "reading the rules of time zone {}",
        name.unwrap_or("(the server's)")
    );
    let name = match name {
        Some(n) => n.to_string(),
        None => ch
            .value("SELECT timezone()", &context)
            .await?
            .unwrap_or_else(|| "UTC".into()),
    };
    let key = format!("{} {name}", ch.url());
    if let Some(z) = cache().lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(z);
    }
    let tz = quote(&name);
    let offset = |t: &str| format!("timeZoneOffset(toDateTime64({t}, 0, {tz}))");
    // The hours whose offset differs from the hour before's, then the second each change
    // happened at within its hour.
    let hourly = format!(
        "SELECT s, o FROM (SELECT toInt64(number) * 3600 + ({FROM}) AS s, {o} AS o, \
                lagInFrame(o, 1, o) OVER (ORDER BY s ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS prev \
            FROM numbers({HOURS})) WHERE o != prev",
        o = offset("s"),
    );
    let rows = ch
        .rows(
            &format!(
                "SELECT min(t), any(o) FROM (SELECT s, o, s - 3599 + n AS t FROM ({hourly}) \
                 ARRAY JOIN range(3600) AS n) WHERE {} = o GROUP BY s ORDER BY s",
                offset("t")
            ),
            &context,
        )
        .await?;
    let initial = ch
        .value(&format!("SELECT {}", offset(&FROM.to_string())), &context)
        .await?
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| Error::ClickHouse {
            context: context.clone(),
            message: "the engine gave no offset".into(),
        })?;
    let cell = |v: Option<&Option<String>>| v.cloned().flatten().unwrap_or_default();
    let changes = rows
        .iter()
        .filter_map(|r| Some((cell(r.first()).parse().ok()?, cell(r.get(1)).parse().ok()?)))
        .collect();
    let zone = Arc::new(Zone::with_changes(&name, initial, changes));
    if let Ok(mut c) = cache().lock() {
        c.insert(key, zone.clone());
    }
    Ok(zone)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A zone at +1 h that moves to +2 h at 1,000,000 and back at 2,000,000.
    fn summer() -> Zone {
        Zone::with_changes("test", 3600, vec![(1_000_000, 7200), (2_000_000, 3600)])
    }

    #[test]
    fn local_times_resolve_skipped_and_twice() {
        let z = summer();
        assert_eq!(z.offset_at(999_999), 3600);
        assert_eq!(z.offset_at(1_000_000), 7200);
        assert_eq!(z.offset_at(2_000_000), 3600);
        // Before the change: local = instant + 1 h.
        assert_eq!(z.resolve(500_000 + 3600), Local::At(500_000));
        // The clocks go from 1,003,600 straight to 1,007,200 local.
        assert_eq!(z.resolve(1_003_600), Local::Skipped);
        assert_eq!(z.resolve(1_007_199), Local::Skipped);
        assert_eq!(z.resolve(1_007_200), Local::At(1_000_000));
        assert_eq!(z.resolve(1_003_599), Local::At(999_999));
        // Back: local 2,003,600 .. 2,007,199 happens twice.
        assert_eq!(z.resolve(2_005_000), Local::Twice(1_997_800, 2_001_400));
        assert_eq!(z.resolve(2_007_200), Local::At(2_003_600));
        assert_eq!(Zone::fixed("UTC", 0).resolve(42), Local::At(42));
    }
}
