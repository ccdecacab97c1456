//! A profile of each source column — empty values, distinct values, how many look like
//! numbers, their mean, the commonest values — gathered while the file is read and kept with
//! the batch. The review shows it at once (no scan when a batch opens), a shifted column
//! shows at a glance, and the drift checks compare it with the feed's last promoted batch.
//!
//! Counts are exact. Values are counted exactly while a column has at most
//! [`EXACT_DISTINCT`] of them; past that the distinct count is a HyperLogLog estimate
//! (about 1.6% off) and the commonest values are those among the first ones seen.
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// How many distinct values of one column are counted exactly.
const EXACT_DISTINCT: usize = 1024;
/// HyperLogLog registers per column (2^12: 4 KiB, a standard error of 1.6%).
const REGISTER_BITS: u32 = 12;
/// How many of the commonest values a profile keeps.
const TOP: usize = 3;
/// How much of a value the profile keeps, in characters.
const SHOWN_CHARS: usize = 40;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    pub name: String,
    pub nulls: i64,
    pub distinct: i64,
    /// Values that look like numbers, of the non-empty ones.
    pub numeric: i64,
    pub non_null: i64,
    pub max_length: i32,
    /// The commonest values with their counts.
    pub top: Vec<(String, i64)>,
    /// Whether `distinct` is an estimate (the column has more than [`EXACT_DISTINCT`]).
    #[serde(default)]
    pub estimated: bool,
    /// The mean of the values that look like numbers (`,` read as a decimal point when it
    /// is the only separator).
    #[serde(default)]
    pub mean: Option<f64>,
}

impl ColumnProfile {
    /// A column that is mostly one kind with a few of the other: the signature of values that
    /// slid into the wrong column.
    pub fn suspicious(&self) -> bool {
        if self.non_null == 0 {
            return false;
        }
        let share = self.numeric as f64 / self.non_null as f64;
        (share > 0.0 && share < 0.05) || (share > 0.95 && share < 1.0)
    }

    /// The share of rows with no value.
    pub fn null_share(&self) -> f64 {
        share(self.nulls, self.nulls + self.non_null)
    }

    /// The share of values that look like numbers.
    pub fn numeric_share(&self) -> f64 {
        share(self.numeric, self.non_null)
    }

    /// Distinct values per value: 1 for a column of unique values, near 0 for a category.
    pub fn distinct_share(&self) -> f64 {
        share(self.distinct, self.non_null)
    }
}

fn share(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Whether `text` looks like a number: optional blanks and sign, digits with at most one
/// `.` or `,`, blanks (the review's test, `^\s*[-+]?([0-9]+([.,][0-9]*)?|[.,][0-9]+)\s*$`).
/// Returns its value when it does.
pub fn numeric_value(text: &str) -> Option<f64> {
    let t = text.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c'));
    let (negative, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    // The value is summed for the column's mean: read as it goes, no allocation.
    let (mut whole, mut fraction, mut scale) = (0f64, 0f64, 1f64);
    let (mut digits, mut separators) = (0, 0);
    for b in body.bytes() {
        match b {
            b'0'..=b'9' if separators == 0 => whole = whole * 10.0 + f64::from(b - b'0'),
            b'0'..=b'9' => {
                scale /= 10.0;
                fraction += f64::from(b - b'0') * scale;
            }
            b'.' | b',' => separators += 1,
            _ => return None,
        }
        digits += usize::from(b.is_ascii_digit());
    }
    if digits == 0 || separators > 1 {
        return None;
    }
    let value = whole + fraction;
    Some(if negative { -value } else { value })
}

/// One column's counts while reading.
#[derive(Default)]
struct Counting {
    nulls: i64,
    non_null: i64,
    numeric: i64,
    sum: f64,
    max_length: usize,
    /// The values counted exactly, by their [`hash`], with their text.
    values: HashMap<u64, (Box<str>, i64), std::hash::BuildHasherDefault<Prehashed>>,
    /// Set once the column has more than [`EXACT_DISTINCT`] values.
    registers: Option<Vec<u8>>,
}

/// A value's 64-bit hash, one per value for both the exact counts and the estimate: eight
/// bytes at a time, multiplied and rotated, then MurmurHash3's finalizer spreads every bit
/// (which the estimate needs). Fixed, so every run counts alike; two values of a column
/// sharing a hash (about 1 in 10^16 for 1,024 values) would be counted as one.
fn hash(text: &str) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let bytes = text.as_bytes();
    let mut h = (bytes.len() as u64).wrapping_mul(K);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let word = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h.rotate_left(23) ^ word).wrapping_mul(K);
    }
    let mut last = [0u8; 8];
    last[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    h = (h.rotate_left(23) ^ u64::from_le_bytes(last)).wrapping_mul(K);
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The map's hasher: its keys are [`hash`]es already.
#[derive(Default)]
struct Prehashed(u64);

impl std::hash::Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 keys")
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

fn register(registers: &mut [u8], h: u64) {
    let index = (h >> (64 - REGISTER_BITS)) as usize;
    let rank = ((h << REGISTER_BITS) | (1 << (REGISTER_BITS - 1))).leading_zeros() as u8 + 1;
    if registers[index] < rank {
        registers[index] = rank;
    }
}

/// The HyperLogLog estimate of the registers (with the small-range correction).
fn estimate(registers: &[u8]) -> i64 {
    let m = registers.len() as f64;
    let alpha = 0.7213 / (1.0 + 1.079 / m);
    let sum: f64 = registers.iter().map(|&r| 2f64.powi(-(r as i32))).sum();
    let raw = alpha * m * m / sum;
    let zeros = registers.iter().filter(|&&r| r == 0).count();
    let e = if raw <= 2.5 * m && zeros > 0 {
        m * (m / zeros as f64).ln()
    } else {
        raw
    };
    e.round() as i64
}

impl Counting {
    fn add(&mut self, value: Option<&str>) {
        let Some(text) = value else {
            self.nulls += 1;
            return;
        };
        self.non_null += 1;
        if let Some(v) = numeric_value(text) {
            self.numeric += 1;
            self.sum += v;
        }
        let length = if text.is_ascii() {
            text.len()
        } else {
            text.chars().count()
        };
        self.max_length = self.max_length.max(length);
        let h = hash(text);
        if let Some(registers) = &mut self.registers {
            register(registers, h);
            if let Some((_, n)) = self.values.get_mut(&h) {
                *n += 1;
            }
            return;
        }
        match self.values.get_mut(&h) {
            Some((_, n)) => *n += 1,
            None => {
                self.values.insert(h, (text.into(), 1));
                if self.values.len() > EXACT_DISTINCT {
                    let mut registers = vec![0u8; 1 << REGISTER_BITS];
                    for &k in self.values.keys() {
                        register(&mut registers, k);
                    }
                    self.registers = Some(registers);
                }
            }
        }
    }

    fn finish(self, name: &str) -> ColumnProfile {
        let mut top: Vec<(&str, i64)> = self.values.values().map(|(v, n)| (&**v, *n)).collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        ColumnProfile {
            name: name.to_string(),
            nulls: self.nulls,
            distinct: match &self.registers {
                Some(r) => estimate(r).max(EXACT_DISTINCT as i64 + 1),
                None => self.values.len() as i64,
            },
            numeric: self.numeric,
            non_null: self.non_null,
            max_length: self.max_length.min(i32::MAX as usize) as i32,
            top: top
                .into_iter()
                .take(TOP)
                .map(|(v, n)| (v.chars().take(SHOWN_CHARS).collect(), n))
                .collect(),
            estimated: self.registers.is_some(),
            mean: (self.numeric > 0).then(|| self.sum / self.numeric as f64),
        }
    }
}

/// The profile of a file's columns, record by record.
pub struct Profiler {
    columns: Vec<Counting>,
}

impl Profiler {
    pub fn new(width: usize) -> Self {
        Self {
            columns: (0..width).map(|_| Counting::default()).collect(),
        }
    }

    /// Counts one record's fields as the file has them (`None`: no value).
    pub fn add<'a>(&mut self, fields: impl IntoIterator<Item = Option<&'a str>>) {
        for (column, value) in self.columns.iter_mut().zip(fields) {
            column.add(value);
        }
    }

    pub fn finish(self, header: &[String]) -> Vec<ColumnProfile> {
        self.columns
            .into_iter()
            .zip(header)
            .map(|(c, name)| c.finish(name))
            .collect()
    }
}

/// The profile of one column of `values`, for tests.
#[cfg(test)]
pub(crate) fn of_values(name: &str, values: &[Option<&str>]) -> ColumnProfile {
    let mut p = Profiler::new(1);
    for v in values {
        p.add([*v]);
    }
    p.finish(&[name.to_string()]).remove(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(values: &[Option<&str>]) -> ColumnProfile {
        of_values("c", values)
    }

    #[test]
    fn numbers_are_told_as_the_review_tells_them() {
        for yes in ["1", " -2.5 ", "+3,25", ".5", "7.", "0012"] {
            assert!(numeric_value(yes).is_some(), "{yes}");
        }
        for no in ["", "-", "1.2.3", "1,234.5", "N/A", "1e5", "12 kg", "."] {
            assert!(numeric_value(no).is_none(), "{no}");
        }
        assert_eq!(numeric_value("+3,25"), Some(3.25));
    }

    #[test]
    fn counts_are_exact_and_the_commonest_come_first() {
        let p = profile(&[
            Some("b"),
            Some("a"),
            None,
            Some("b"),
            Some("12"),
            Some("héllo"),
        ]);
        assert_eq!((p.nulls, p.non_null, p.distinct, p.numeric), (1, 5, 4, 1));
        assert_eq!(p.max_length, 5, "characters, not bytes");
        assert_eq!(
            p.top,
            [("b".to_string(), 2), ("12".into(), 1), ("a".into(), 1)]
        );
        assert!(!p.estimated);
        assert_eq!(p.mean, Some(12.0));
    }

    #[test]
    fn many_distinct_values_are_estimated_closely() {
        for n in [5_000usize, 100_000] {
            let values: Vec<String> = (0..n).map(|i| format!("SKU-{i:07}")).collect();
            let mut p = Profiler::new(1);
            for v in &values {
                p.add([Some(v.as_str())]);
            }
            let c = p.finish(&["sku".to_string()]).remove(0);
            assert!(c.estimated);
            let off = (c.distinct - n as i64).abs() as f64 / n as f64;
            assert!(off < 0.05, "{n}: estimated {}", c.distinct);
        }
    }
}
