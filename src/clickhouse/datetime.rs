//! `DateTime` and `DateTime64` values, judged as the partner meant them. A value with an
//! offset (`Z`, `+02:00`) names its instant. One without is the column's local time, as the
//! engine reads it — unless the clocks skip that time or repeat it, where the engine would
//! store another instant, or an arbitrary one of two, without a word: refused, saying why.
//! So is a value out of the type's range (the engine wraps or clamps it) and one with more
//! fractional digits than the type keeps (the engine drops them).
//!
//! Every accepted value is sent as its instant in UTC, into a typed rows column declared in
//! UTC (`staged_type`): the instant is what the target stores, whatever its zone.
use super::types::Judged;
use super::zone::{Local, Zone};
use crate::validate::clip;

/// `DateTime`: 1970-01-01 00:00:00 to 2106-02-07 06:28:15 UTC (the engine clamps a value
/// outside it to its end); `DateTime64`: 1900-01-01 00:00:00 to 2299-12-31 23:59:59 UTC, the
/// range ClickHouse documents (and the zone rules Airlock reads cover), narrowed where its
/// ticks would overflow 64 bits (`DateTime64(9)` ends in 2262: the engine fails the insert).
const DATETIME_RANGE: (i64, i64) = (0, 4_294_967_295);
const DATETIME64_RANGE: (i64, i64) = (-2_208_988_800, 10_413_791_999);

/// The range of instants (seconds since 1970) a type holds.
fn range(precision: Option<u32>) -> (i64, i64) {
    match precision {
        None => DATETIME_RANGE,
        Some(p) => {
            // A second and its fraction: the last whole second whose every tick fits.
            let seconds = 10_i64
                .checked_pow(p)
                .map_or(0, |ticks| i64::MAX / ticks - 1);
            (
                DATETIME64_RANGE.0.max(-seconds),
                DATETIME64_RANGE.1.min(seconds),
            )
        }
    }
}

/// A date-time as written: `YYYY-MM-DD`, or with a time `hh:mm[:ss[.fraction]]` after a
/// space or `T`, then perhaps `Z` or an offset `±hh[[:]mm]`.
struct Written<'a> {
    /// Seconds since 1970 on the clock the value was written on.
    local: i64,
    fraction: &'a str,
    /// Seconds east of UTC, when the value says.
    offset: Option<i64>,
}

fn read(t: &str) -> Option<Written<'_>> {
    let date = chrono::NaiveDate::parse_from_str(t.get(..10)?, "%Y-%m-%d").ok()?;
    let b = t.as_bytes();
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let day = date.and_hms_opt(0, 0, 0)?.and_utc().timestamp();
    let rest = &t[10..];
    if rest.is_empty() {
        return Some(Written {
            local: day,
            fraction: "",
            offset: None,
        });
    }
    let rest = rest.strip_prefix([' ', 'T'])?;
    let (clock, offset) = split_offset(rest)?;
    let (hms, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    if clock.contains('.') && (fraction.is_empty() || !fraction.bytes().all(|c| c.is_ascii_digit()))
    {
        return None;
    }
    let parts: Vec<&str> = hms.split(':').collect();
    if !(2..=3).contains(&parts.len()) || (!fraction.is_empty() && parts.len() != 3) {
        return None;
    }
    let mut n = [0i64; 3];
    for (i, p) in parts.iter().enumerate() {
        if p.len() != 2 || !p.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        n[i] = p.parse().ok()?;
    }
    if n[0] > 23 || n[1] > 59 || n[2] > 59 {
        return None;
    }
    Some(Written {
        local: day + n[0] * 3600 + n[1] * 60 + n[2],
        fraction,
        offset,
    })
}

/// The clock and the offset of `hh:mm:ss…[Z|±hh[:mm]]`.
fn split_offset(rest: &str) -> Option<(&str, Option<i64>)> {
    if let Some(clock) = rest.strip_suffix('Z') {
        return Some((clock, Some(0)));
    }
    // The sign of an offset comes after the time's first character.
    let Some(i) = rest.get(1..)?.rfind(['+', '-']).map(|i| i + 1) else {
        return Some((rest, None));
    };
    let (clock, off) = (&rest[..i], &rest[i + 1..]);
    let digits: String = off.chars().filter(|c| *c != ':').collect();
    let shape = matches!((off.len(), digits.len()), (2, 2) | (4, 4) | (5, 4))
        && digits.bytes().all(|c| c.is_ascii_digit())
        && (off.len() != 5 || off.as_bytes()[2] == b':');
    if !shape {
        return None;
    }
    let hours: i64 = digits[..2].parse().ok()?;
    let minutes: i64 = digits
        .get(2..)
        .filter(|m| !m.is_empty())
        .map_or(Some(0), |m| m.parse().ok())?;
    if hours > 14 || minutes > 59 {
        return None;
    }
    let sign = if rest.as_bytes()[i] == b'-' { -1 } else { 1 };
    Some((clock, Some(sign * (hours * 3600 + minutes * 60))))
}

/// Judges `value` for a `DateTime` (`precision` `None`) or `DateTime64(precision)` column in
/// `zone`; `name` is the type as the catalog spells it.
pub fn judge(value: &str, precision: Option<u32>, zone: &Zone, name: &str) -> Judged {
    let t = value.trim();
    let shown = clip(t, 60);
    let Some(w) = read(t) else {
        return Judged::Reject(format!(
            "'{shown}' is not a valid {name} (YYYY-MM-DD hh:mm:ss, perhaps with a fraction and an offset)"
        ));
    };
    let keeps = precision.unwrap_or(0) as usize;
    let (kept, dropped) = w.fraction.split_at(w.fraction.len().min(keeps));
    if dropped.bytes().any(|c| c != b'0') {
        return Judged::Reject(match keeps {
            0 => format!("'{shown}' has a fraction of a second; {name} keeps whole seconds"),
            n => format!(
                "'{shown}' has {} fractional digits; {name} keeps {n}",
                w.fraction.len()
            ),
        });
    }
    let instant = match w.offset {
        Some(offset) => w.local - offset,
        None => match zone.resolve(w.local) {
            Local::At(instant) => instant,
            Local::Skipped => {
                return Judged::Reject(format!(
                    "'{shown}' does not exist in {} (the clocks skip it); give the offset meant",
                    zone.name
                ));
            }
            Local::Twice(a, b) => {
                let at = |i: i64| offset_text(i64::from(zone.offset_at(i)));
                return Judged::Reject(format!(
                    "'{shown}' happens twice in {} (the clocks repeat it): say which with its \
                     offset, {} or {}",
                    zone.name,
                    at(a),
                    at(b)
                ));
            }
        },
    };
    let (lo, hi) = range(precision);
    if instant < lo || instant > hi {
        return Judged::Reject(format!(
            "'{shown}' is out of range for {name} ({} to {} UTC)",
            utc(lo),
            utc(hi)
        ));
    }
    let mut text = utc(instant);
    if keeps > 0 {
        text.push('.');
        text.push_str(kept);
        text.push_str(&"0".repeat(keeps - kept.len()));
    }
    Judged::Value(text)
}

/// `±hh:mm`.
fn offset_text(seconds: i64) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.abs();
    format!("{sign}{:02}:{:02}", s / 3600, s % 3600 / 60)
}

/// An instant as `YYYY-MM-DD hh:mm:ss` in UTC.
fn utc(instant: i64) -> String {
    chrono::DateTime::from_timestamp(instant, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// The type a column of `DateTime`/`DateTime64` type `text` is staged as: the same, in UTC
/// (its wrappers kept).
pub fn staged_type(precision: Option<u32>, nullable: bool) -> String {
    let inner = match precision {
        None => "DateTime('UTC')".to_string(),
        Some(p) => format!("DateTime64({p}, 'UTC')"),
    };
    match nullable {
        true => format!("Nullable({inner})"),
        false => inner,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> Zone {
        // Summer time 2026: from 2026-03-29 01:00 UTC to 2026-10-25 01:00 UTC.
        Zone::with_changes(
            "Europe/Berlin",
            3600,
            vec![(1_774_746_000, 7200), (1_792_890_000, 3600)],
        )
    }

    fn value(v: &str, p: Option<u32>) -> Judged {
        judge(
            v,
            p,
            &berlin(),
            if p.is_some() {
                "DateTime64(3)"
            } else {
                "DateTime"
            },
        )
    }

    #[test]
    fn local_times_are_read_in_the_zone_and_sent_in_utc() {
        let ok =
            |v: &str, p, sent: &str| assert_eq!(value(v, p), Judged::Value(sent.into()), "{v}");
        ok("2026-01-15 10:00:00", None, "2026-01-15 09:00:00");
        ok("2026-07-15T10:00", None, "2026-07-15 08:00:00");
        ok("2026-07-15", None, "2026-07-14 22:00:00");
        ok("2026-07-15 10:00:00Z", None, "2026-07-15 10:00:00");
        ok("2026-07-15 10:00:00+05:30", None, "2026-07-15 04:30:00");
        ok("2026-07-15 10:00:00-03", None, "2026-07-15 13:00:00");
        ok("2026-07-15 10:00:00.000", None, "2026-07-15 08:00:00");
        ok("2026-07-15 10:00:00.5", Some(3), "2026-07-15 08:00:00.500");
        ok(
            "2026-07-15 10:00:00.123000",
            Some(3),
            "2026-07-15 08:00:00.123",
        );
        ok("2026-07-15 10:00:00", Some(3), "2026-07-15 08:00:00.000");
        ok("1950-07-15 10:00:00Z", Some(0), "1950-07-15 10:00:00");
    }

    #[test]
    fn what_the_engine_would_change_is_refused() {
        let refused = |v: &str, p, says: &str| match value(v, p) {
            Judged::Reject(m) => assert!(m.contains(says), "{v}: {m}"),
            other => panic!("{v}: {other:?}"),
        };
        refused(
            "2026-03-29 02:30:00",
            None,
            "does not exist in Europe/Berlin",
        );
        refused(
            "2026-10-25 02:30:00",
            None,
            "happens twice in Europe/Berlin",
        );
        refused("2026-10-25 02:30:00", None, "+02:00 or +01:00");
        refused("2026-07-15 10:00:00.5", None, "keeps whole seconds");
        refused(
            "2026-07-15 10:00:00.1234",
            Some(3),
            "has 4 fractional digits",
        );
        refused("1969-12-31 23:59:59Z", None, "out of range for DateTime");
        refused("2106-02-07 06:28:16Z", None, "out of range");
        refused("1899-12-31 23:59:59Z", Some(3), "out of range");
        refused("2262-04-11 23:47:17Z", Some(9), "out of range");
        assert_eq!(
            value("2262-04-11 23:47:15Z", Some(9)),
            Judged::Value("2262-04-11 23:47:15.000000000".into())
        );
        for bad in [
            "2026-02-30",
            "2026-07-15 24:00:00",
            "15.07.2026",
            "2026-07-15 10",
            "now",
            "2026-07-15 10:00:00+15:00",
            "2026-07-15 10:00:00.",
            "2026-07-15 10:00.5",
        ] {
            refused(bad, None, "is not a valid DateTime");
        }
        // The ends of the range are in it.
        assert_eq!(
            value("2106-02-07 06:28:15Z", None),
            Judged::Value("2106-02-07 06:28:15".into())
        );
        assert_eq!(
            value("1970-01-01 00:00:00Z", None),
            Judged::Value("1970-01-01 00:00:00".into())
        );
    }
}
