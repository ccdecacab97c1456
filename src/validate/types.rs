//! Type checks in Rust, following PostgreSQL's own input rules for the common types, so a
//! million values are judged while the file streams instead of one cast at a time.
//!
//! Each check answers `Accept`, `Reject` or `Unsure`. Only the grammar PostgreSQL is known to
//! accept is accepted here and only what it is known to refuse is refused; everything else
//! (`Jan 8 1999`, `epoch`, exotic spellings) is `Unsure` and goes to the server, which casts
//! the distinct values itself. Tests hold these verdicts against the server's own casts.
use crate::db::Column;

/// Well-known type OIDs (fixed in PostgreSQL's catalog).
mod oid {
    pub const BOOL: u32 = 16;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const TEXT: u32 = 25;
    pub const JSON: u32 = 114;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const BPCHAR: u32 = 1042;
    pub const VARCHAR: u32 = 1043;
    pub const DATE: u32 = 1082;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const NUMERIC: u32 = 1700;
    pub const UUID: u32 = 2950;
    pub const JSONB: u32 = 3802;
}

pub fn is_numeric_type(type_oid: u32) -> bool {
    matches!(
        type_oid,
        oid::INT2 | oid::INT4 | oid::INT8 | oid::NUMERIC | oid::FLOAT4 | oid::FLOAT8
    )
}

/// How values of one target column are checked.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeRule {
    Text {
        max_chars: Option<usize>,
    },
    Int {
        bits: u32,
    },
    Numeric {
        typmod: Option<(i32, i32)>,
    },
    Float {
        bits: u32,
    },
    Bool,
    Date,
    Timestamp {
        tz: bool,
    },
    Uuid,
    Json {
        binary: bool,
    },
    /// Enums, domains, arrays, ranges, network types...: the server casts the distinct values.
    Server,
    /// A ClickHouse column: judged by the engine's own type (`crate::clickhouse::types`).
    ClickHouse(Box<crate::clickhouse::types::ColumnType>),
}

impl TypeRule {
    pub fn for_column(col: &Column) -> Self {
        if let Some(ty) = &col.clickhouse {
            return TypeRule::ClickHouse(Box::new(ty.clone()));
        }
        let typmod = (col.typmod >= 0).then_some(col.typmod);
        match col.type_oid {
            oid::TEXT => TypeRule::Text { max_chars: None },
            oid::VARCHAR | oid::BPCHAR => TypeRule::Text {
                max_chars: typmod.map(|m| (m - 4).max(0) as usize),
            },
            oid::INT2 => TypeRule::Int { bits: 16 },
            oid::INT4 => TypeRule::Int { bits: 32 },
            oid::INT8 => TypeRule::Int { bits: 64 },
            oid::NUMERIC => TypeRule::Numeric {
                typmod: typmod.map(|m| {
                    let m = m - 4;
                    let precision = (m >> 16) & 0xffff;
                    // The scale is an 11-bit signed field since PostgreSQL 15.
                    let scale = ((m & 0x7ff) ^ 1024) - 1024;
                    (precision, scale)
                }),
            },
            oid::FLOAT4 => TypeRule::Float { bits: 32 },
            oid::FLOAT8 => TypeRule::Float { bits: 64 },
            oid::BOOL => TypeRule::Bool,
            oid::DATE => TypeRule::Date,
            oid::TIMESTAMP => TypeRule::Timestamp { tz: false },
            oid::TIMESTAMPTZ => TypeRule::Timestamp { tz: true },
            oid::UUID => TypeRule::Uuid,
            oid::JSON => TypeRule::Json { binary: false },
            oid::JSONB => TypeRule::Json { binary: true },
            _ => TypeRule::Server,
        }
    }
}

impl TypeRule {
    /// Whether the server prints a value of this type given as `text` exactly as `text`, so
    /// that the typed value alone gives the source field back. Errs on the side of `false`:
    /// text and unbounded varchar always; integers and numerics in their canonical form.
    pub fn prints_as_given(&self, type_oid: u32, text: &str) -> bool {
        match self {
            TypeRule::Text { .. } => matches!(type_oid, oid::TEXT | oid::VARCHAR),
            TypeRule::Int { .. } => canonical_decimal(text, Some(0)),
            TypeRule::Numeric { typmod: None } => canonical_decimal(text, None),
            TypeRule::Numeric {
                typmod: Some((_, scale)),
            } => usize::try_from(*scale).is_ok_and(|s| canonical_decimal(text, Some(s))),
            _ => false,
        }
    }
}

/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?` with exactly `scale` decimals when given (none for 0), and
/// not a negative zero: the form PostgreSQL prints integers and numerics in.
fn canonical_decimal(text: &str, scale: Option<usize>) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (unsigned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let whole_ok = digits(whole) && (whole == "0" || !whole.starts_with('0'));
    let fraction_ok = match (fraction, scale) {
        (None, None | Some(0)) => true,
        (Some(f), None) => digits(f),
        (Some(f), Some(s)) => s > 0 && f.len() == s && digits(f),
        (None, Some(_)) => false,
    };
    let negative_zero =
        unsigned.len() < text.len() && unsigned.bytes().all(|b| matches!(b, b'0' | b'.'));
    whole_ok && fraction_ok && !negative_zero
}

/// Something PostgreSQL accepts but changes, or that a person would not expect.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub check: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Accept(Option<Note>),
    Reject(String),
    Unsure,
}

use Verdict::{Accept, Reject, Unsure};

const OK: Verdict = Accept(None);

/// C's `isspace` in the "C" locale: what PostgreSQL's input functions skip.
fn is_pg_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{0b}' | '\u{0c}' | '\r')
}

fn pg_trim(s: &str) -> &str {
    s.trim_matches(is_pg_space)
}

/// Checks one non-NULL value against a column's rule. `type_sql` names the type in messages.
pub fn check(rule: &TypeRule, value: &str, type_sql: &str) -> Verdict {
    match rule {
        TypeRule::Text { max_chars } => check_text(value, *max_chars, type_sql),
        TypeRule::Int { bits } => check_int(value, *bits),
        TypeRule::Numeric { typmod } => check_numeric(value, *typmod, type_sql),
        TypeRule::Float { bits } => check_float(value, *bits),
        TypeRule::Bool => check_bool(value),
        TypeRule::Date => check_date(value),
        TypeRule::Timestamp { tz } => check_timestamp(value, *tz),
        TypeRule::Uuid => check_uuid(value),
        TypeRule::Json { binary } => check_json(value, *binary),
        TypeRule::Server => Unsure,
        TypeRule::ClickHouse(ty) => {
            use crate::clickhouse::types::{Judged, judge};
            match judge(ty, value) {
                Judged::Value(_) => OK,
                Judged::Changed(_, note) => Accept(Some(note)),
                Judged::Reject(message) => Reject(message),
                Judged::Engine => Unsure,
            }
        }
    }
}

fn syntax(type_name: &str, value: &str) -> Verdict {
    Reject(format!(
        "'{}' is not a valid {type_name}",
        crate::validate::clip(value, 60)
    ))
}

fn check_text(value: &str, max_chars: Option<usize>, type_sql: &str) -> Verdict {
    let Some(max) = max_chars else { return OK };
    // Counting stops at max+1 characters: enough to decide, cheap for huge fields.
    let mut chars = value.char_indices();
    match chars.nth(max) {
        None => OK,
        Some((cut, _)) => {
            let len = value.chars().count();
            // PostgreSQL silently drops excess characters when they are all spaces.
            if value[cut..].chars().all(|c| c == ' ') {
                Accept(Some(Note {
                    check: "truncated",
                    message: format!(
                        "{len} characters; {type_sql} keeps {max}, the trailing spaces will be dropped"
                    ),
                }))
            } else {
                Reject(format!("{len} characters is too long for {type_sql}"))
            }
        }
    }
}

/// Characters that may appear in an integer in some PostgreSQL version (hex, octal, binary
/// prefixes and underscores arrived in 16): such values are left to the server.
fn maybe_newer_int_syntax(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_hexdigit() || "xXoObB_+-".contains(c) || is_pg_space(c))
}

/// An integer as PostgreSQL 15 reads one (spaces, a sign, digits), or `None`.
pub fn pg_int(value: &str) -> Option<i128> {
    let t = pg_trim(value);
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

fn check_int(value: &str, bits: u32) -> Verdict {
    let name = match bits {
        16 => "smallint",
        32 => "integer",
        _ => "bigint",
    };
    let t = pg_trim(value);
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return if maybe_newer_int_syntax(value) && !t.is_empty() && !digits.is_empty() {
            Unsure
        } else {
            syntax(name, value)
        };
    }
    let out_of_range = || Reject(format!("{t} is out of range for {name}"));
    let Ok(n) = t.parse::<i128>() else {
        return out_of_range();
    };
    let (lo, hi) = (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1);
    if n < lo || n > hi { out_of_range() } else { OK }
}

/// A decimal number as PostgreSQL's `numeric_in` reads it: sign, digits, exponent.
struct Decimal {
    negative: bool,
    /// All mantissa digits, without the point.
    digits: Vec<u8>,
    /// value = digits × 10^exp10
    exp10: i64,
}

fn parse_decimal(t: &str) -> Option<Decimal> {
    let (negative, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, f),
        None => (mantissa, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part
        .bytes()
        .chain(frac_part.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let exp: i64 = match exponent {
        None => 0,
        Some(e) => {
            let d = e.strip_prefix(['+', '-']).unwrap_or(e);
            if d.is_empty() || !d.bytes().all(|b| b.is_ascii_digit()) || d.len() > 9 {
                return None;
            }
            e.parse().ok()?
        }
    };
    let digits: Vec<u8> = int_part
        .bytes()
        .chain(frac_part.bytes())
        .map(|b| b - b'0')
        .collect();
    Some(Decimal {
        negative,
        digits,
        exp10: exp - frac_part.len() as i64,
    })
}

fn is_special_number(t: &str) -> Option<&'static str> {
    let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
    if t.eq_ignore_ascii_case("nan") {
        Some("NaN")
    } else if unsigned.eq_ignore_ascii_case("infinity") || unsigned.eq_ignore_ascii_case("inf") {
        Some("Infinity")
    } else {
        None
    }
}

fn special_note(what: &str) -> Note {
    Note {
        check: "not_a_number",
        message: format!(
            "{what} is accepted by PostgreSQL and compares greater than every number (it passes CHECK (x >= 0)); add min/max to [checks] to refuse it"
        ),
    }
}

fn check_numeric(value: &str, typmod: Option<(i32, i32)>, type_sql: &str) -> Verdict {
    let t = pg_trim(value);
    if let Some(special) = is_special_number(t) {
        return match (special, typmod) {
            ("Infinity", Some(_)) => Reject(format!("{type_sql} cannot hold an infinite value")),
            _ => Accept(Some(special_note(special))),
        };
    }
    let Some(dec) = parse_decimal(t) else {
        return if t.contains('_') && maybe_newer_int_syntax(t.replace('.', "").as_str()) {
            Unsure
        } else {
            syntax("number", value)
        };
    };
    if dec.exp10.abs() > 1000 || dec.digits.len() > 1000 {
        return Unsure;
    }
    let Some((precision, scale)) = typmod else {
        return OK;
    };
    // Round to `scale` decimal places, half away from zero, as numeric does.
    let shift = dec.exp10 + scale as i64;
    let (kept, rounded_away): (Vec<u8>, bool) = if shift >= 0 {
        let mut d = dec.digits.clone();
        d.extend(std::iter::repeat_n(0, shift as usize));
        (d, false)
    } else {
        let drop = (-shift) as usize;
        let n = dec.digits.len();
        if drop > n {
            (vec![0], dec.digits.iter().any(|&d| d != 0))
        } else {
            let mut kept = dec.digits[..n - drop].to_vec();
            let dropped = &dec.digits[n - drop..];
            let nonzero = dropped.iter().any(|&d| d != 0);
            if dropped.first().is_some_and(|&d| d >= 5) {
                round_up(&mut kept);
            }
            (kept, nonzero)
        }
    };
    let significant = kept.iter().skip_while(|&&d| d == 0).count();
    if significant > precision as usize {
        return Reject(format!(
            "{t} is too large for {type_sql} (it must round to less than 10^{} in absolute value)",
            precision - scale
        ));
    }
    if rounded_away {
        let shown = render_scaled(dec.negative, &kept, scale);
        return Accept(Some(Note {
            check: "rounded",
            message: format!(
                "{t} will be stored as {shown} ({type_sql} keeps {} decimal places)",
                scale.max(0)
            ),
        }));
    }
    OK
}

/// Adds one in the last place of a decimal digit string (for rounding half away from zero).
pub(crate) fn round_up(digits: &mut Vec<u8>) {
    for d in digits.iter_mut().rev() {
        if *d == 9 {
            *d = 0;
        } else {
            *d += 1;
            return;
        }
    }
    digits.insert(0, 1);
}

/// `digits × 10^-scale` as text.
fn render_scaled(negative: bool, digits: &[u8], scale: i32) -> String {
    let mut s: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
    if scale < 0 {
        s.extend(std::iter::repeat_n('0', (-scale) as usize));
    } else if scale > 0 {
        let scale = scale as usize;
        if s.len() <= scale {
            s = "0".repeat(scale - s.len() + 1) + &s;
        }
        s.insert(s.len() - scale, '.');
    }
    let s = s.trim_start_matches('0');
    let s = if s.is_empty() || s.starts_with('.') {
        format!("0{s}")
    } else {
        s.to_string()
    };
    if negative && s.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
        format!("-{s}")
    } else {
        s
    }
}

fn check_float(value: &str, bits: u32) -> Verdict {
    let t = pg_trim(value);
    // strtod also reads a signed NaN.
    let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
    if let Some(special) = is_special_number(unsigned) {
        return Accept(Some(special_note(special)));
    }
    let Some(dec) = parse_decimal(t) else {
        // strtod also reads hexadecimal floats such as 0x1p3.
        return if t.contains(['x', 'X']) {
            Unsure
        } else {
            syntax("number", value)
        };
    };
    let Ok(v) = t.parse::<f64>() else {
        return Unsure;
    };
    // Judge the value at the column's precision: 1e-50 is a fine double but no real.
    let (finite, zero, normal) = if bits == 32 {
        let f = v as f32;
        (f.is_finite(), f == 0.0, f.is_normal())
    } else {
        (v.is_finite(), v == 0.0, v.is_normal())
    };
    let fits = finite && (zero || normal);
    // A zero read from non-zero digits is an underflow: the server decides those.
    let underflow = zero && dec.digits.iter().any(|&d| d != 0);
    if fits && !underflow { OK } else { Unsure }
}

/// PostgreSQL's `parse_bool_with_len`, after trimming spaces.
fn check_bool(value: &str) -> Verdict {
    let t = pg_trim(value);
    let lower = t.to_ascii_lowercase();
    let prefix_of = |word: &str, min: usize| lower.len() >= min && word.starts_with(&lower);
    let ok = match lower.as_bytes().first() {
        Some(b't') => prefix_of("true", 1),
        Some(b'f') => prefix_of("false", 1),
        Some(b'y') => prefix_of("yes", 1),
        Some(b'n') => prefix_of("no", 1),
        Some(b'o') => prefix_of("on", 2) || prefix_of("off", 2),
        Some(b'1') | Some(b'0') => lower.len() == 1,
        _ => false,
    };
    if ok {
        OK
    } else {
        syntax("boolean (true/false, yes/no, on/off, 1/0)", value)
    }
}

fn ymd(s: &str) -> Option<(i32, u32, u32)> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = &s[r];
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    Some((digits(0..4)? as i32, digits(5..7)?, digits(8..10)?))
}

fn valid_date(y: i32, m: u32, d: u32) -> bool {
    y >= 1 && chrono::NaiveDate::from_ymd_opt(y, m, d).is_some()
}

fn out_of_range_date(value: &str) -> Verdict {
    Reject(format!(
        "'{}' is not a real calendar date",
        crate::validate::clip(value, 60)
    ))
}

fn check_date(value: &str) -> Verdict {
    match ymd(pg_trim(value)) {
        Some((y, m, d)) if valid_date(y, m, d) => OK,
        Some(_) => out_of_range_date(value),
        None => datestyle_dependent(value).unwrap_or(Unsure),
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A date written in numbers with the year last (`03/04/2026`, `3.4.26`, `04-03-2026 10:00`):
/// PostgreSQL reads its day and month in the order the server's DateStyle says, so the same
/// file would load differently on two servers. Airlock never lets the setting decide: such a
/// value is refused, naming the `date_format` that reads it (the column's parsing rule turns
/// it into an ISO date before this check sees it). A year first (`2026/03/04`) is not
/// ambiguous and goes to the server as before.
fn datestyle_dependent(value: &str) -> Option<Verdict> {
    let t = pg_trim(value);
    let date = t.split([' ', 'T']).next()?;
    let sep = date.chars().find(|c| matches!(c, '/' | '.' | '-'))?;
    let parts: Vec<&str> = date.split(sep).collect();
    let [a, b, y] = parts.as_slice() else {
        return None;
    };
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit());
    if !digits(a) || !digits(b) || !digits(y) || a.len() > 2 || b.len() > 2 {
        return None;
    }
    if y.len() != 2 && y.len() != 4 {
        return None;
    }
    let (first, second): (usize, usize) = (a.parse().ok()?, b.parse().ok()?);
    let year = if y.len() == 4 { "%Y" } else { "%y" };
    let format = |day_first: bool| {
        let (one, two) = if day_first {
            ("%d", "%m")
        } else {
            ("%m", "%d")
        };
        format!("{one}{sep}{two}{sep}{year}")
    };
    let month = |m: usize| MONTHS.get(m.wrapping_sub(1)).copied().unwrap_or("?");
    let shown = crate::validate::clip(value, 60);
    Some(Reject(
        if (1..=12).contains(&first) && (1..=12).contains(&second) && first != second {
            format!(
                "'{shown}' could be {first} {} or {second} {}: PostgreSQL would read it by the server's DateStyle, so Airlock does not; set date_format for this column in [columns] (\"{}\" or \"{}\")",
                month(second),
                month(first),
                format(true),
                format(false)
            )
        } else {
            format!(
                "'{shown}' is not an ISO date (YYYY-MM-DD), and how PostgreSQL reads it depends on the server's DateStyle; set date_format for this column in [columns] (\"{}\")",
                format(first > 12 || second <= 12)
            )
        },
    ))
}

fn check_timestamp(value: &str, tz: bool) -> Verdict {
    if let Some(verdict) = datestyle_dependent(value) {
        return verdict;
    }
    let t = pg_trim(value);
    if t.len() < 16 || !t.is_char_boundary(10) || !t.is_char_boundary(11) {
        return Unsure;
    }
    let Some((y, mo, d)) = ymd(&t[..10]) else {
        return Unsure;
    };
    if !matches!(t.as_bytes()[10], b' ' | b'T') {
        return Unsure;
    }
    let mut rest = &t[11..];
    if tz {
        if let Some(stripped) = rest.strip_suffix('Z') {
            rest = stripped;
        } else if let Some(i) = rest.rfind(['+', '-']) {
            let off = &rest[i + 1..];
            let digits: String = off.chars().filter(|c| *c != ':').collect();
            let shape_ok = matches!((off.len(), digits.len()), (2, 2) | (4, 4) | (5, 4))
                && digits.bytes().all(|c| c.is_ascii_digit())
                && (off.len() != 5 || off.as_bytes()[2] == b':');
            // PostgreSQL takes displacements up to 15:59; leave anything unusual to it.
            let in_range = shape_ok
                && digits[..2].parse::<u32>().is_ok_and(|h| h <= 14)
                && digits
                    .get(2..)
                    .is_none_or(|m| m.is_empty() || m.parse::<u32>().is_ok_and(|m| m <= 59));
            if !in_range {
                return Unsure;
            }
            rest = &rest[..i];
        }
    }
    let time_ok = |rest: &str| -> Option<bool> {
        let (hms, frac) = match rest.split_once('.') {
            Some((h, f)) => (h, Some(f)),
            None => (rest, None),
        };
        if let Some(f) = frac
            && (f.is_empty() || f.len() > 6 || !f.bytes().all(|c| c.is_ascii_digit()))
        {
            return None;
        }
        let parts: Vec<&str> = hms.split(':').collect();
        let expected = if frac.is_some() { 3..=3 } else { 2..=3 };
        if !expected.contains(&parts.len()) {
            return None;
        }
        let mut nums = Vec::new();
        for p in &parts {
            if p.len() != 2 || !p.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            nums.push(p.parse::<u32>().ok()?);
        }
        Some(nums[0] <= 23 && nums[1] <= 59 && nums.get(2).is_none_or(|&s| s <= 59))
    };
    match time_ok(rest) {
        Some(true) if valid_date(y, mo, d) => OK,
        Some(true) => out_of_range_date(value),
        _ => Unsure,
    }
}

/// PostgreSQL's `string_to_uuid`: optional braces, 32 hex digits, a hyphen allowed after any
/// group of four.
fn check_uuid(value: &str) -> Verdict {
    let b = value.as_bytes();
    let mut i = 0;
    let braces = b.first() == Some(&b'{');
    if braces {
        i += 1;
    }
    for byte_index in 0..16 {
        if i + 2 > b.len() {
            return syntax("uuid", value);
        }
        if !b[i].is_ascii_hexdigit() || !b[i + 1].is_ascii_hexdigit() {
            return syntax("uuid", value);
        }
        i += 2;
        if b.get(i) == Some(&b'-') && byte_index % 2 == 1 && byte_index < 15 {
            i += 1;
        }
    }
    if braces {
        if b.get(i) != Some(&b'}') {
            return syntax("uuid", value);
        }
        i += 1;
    }
    if i == b.len() {
        OK
    } else {
        syntax("uuid", value)
    }
}

fn check_json(value: &str, binary: bool) -> Verdict {
    match serde_json::from_str::<serde::de::IgnoredAny>(value) {
        // serde_json skips string contents it ignores; jsonb refuses \u0000 and unpaired
        // surrogates, so escaped code points in jsonb go to the server.
        Ok(_) if binary && value.contains("\\u") => Unsure,
        Ok(_) => OK,
        Err(e) => {
            let msg = e.to_string();
            // Where serde_json is stricter than PostgreSQL (huge numbers, lone surrogates in
            // `json`, deep nesting), let the server decide.
            if ["number", "surrogate", "escape", "recursion"]
                .iter()
                .any(|w| msg.contains(w))
            {
                Unsure
            } else {
                Reject(format!("not valid JSON: {msg}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(v: &str, p: i32, s: i32) -> Verdict {
        check_numeric(v, Some((p, s)), "numeric")
    }

    #[test]
    fn numeric_rounding_and_overflow() {
        assert_eq!(num("12.34", 10, 2), OK);
        assert!(matches!(
            num("12.345", 10, 2),
            Accept(Some(Note {
                check: "rounded",
                ..
            }))
        ));
        assert!(matches!(num("99999999999.99", 10, 2), Reject(_)));
        assert_eq!(num("99999999.99", 10, 2), OK);
        assert!(matches!(num("99999999.995", 10, 2), Reject(_)));
        assert!(matches!(num("N/A", 10, 2), Reject(_)));
        assert!(matches!(num("Infinity", 10, 2), Reject(_)));
        assert!(matches!(num("NaN", 10, 2), Accept(Some(_))));
        assert_eq!(num("1e5", 10, 2), OK);
        assert_eq!(num(" -0.5 ", 10, 2), OK);
    }

    #[test]
    fn renders_rounded_values() {
        assert_eq!(render_scaled(false, &[1, 2, 3, 5], 2), "12.35");
        assert_eq!(render_scaled(true, &[0, 0, 5], 2), "-0.05");
        assert_eq!(render_scaled(false, &[1, 2], -2), "1200");
        assert_eq!(render_scaled(false, &[0], 2), "0.00");
    }

    #[test]
    fn canonical_decimals() {
        for (text, scale) in [
            ("0", Some(0)),
            ("-12", Some(0)),
            ("12.50", Some(2)),
            ("0.05", Some(2)),
        ] {
            assert!(canonical_decimal(text, scale), "{text}");
        }
        assert!(canonical_decimal("12.345", None));
        for (text, scale) in [
            ("007", Some(0)),
            ("-0", Some(0)),
            ("-0.00", Some(2)),
            ("12.5", Some(2)),
            ("12.", None),
            (".5", None),
            ("+5", Some(0)),
            (" 5", Some(0)),
            ("1e3", None),
            ("12.50", Some(0)),
            ("", None),
            ("-", None),
        ] {
            assert!(!canonical_decimal(text, scale), "{text}");
        }
    }

    #[test]
    fn bool_spellings() {
        for ok in ["t", "TRUE", " yes ", "on", "of", "off", "1", "0", "n"] {
            assert_eq!(check_bool(ok), OK, "{ok}");
        }
        for bad in ["o", "2", "truex", "", "oui"] {
            assert!(matches!(check_bool(bad), Reject(_)), "{bad}");
        }
    }
}
