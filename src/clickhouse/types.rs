//! ClickHouse's column types, and values judged by them as the partner meant them. Where
//! ClickHouse would store something else without a word — `300` in a `UInt8` becomes 44, a
//! `Date` past 2149 wraps, `1.239` in a `Decimal(5, 2)` loses a digit — the value is refused
//! or the change is reported, never left to the engine. An accepted value comes with the text
//! Airlock sends, which the engine stores exactly (`tests/clickhouse_types.rs` proves both
//! against the engine).
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::validate::types::{Note, round_up};

#[derive(Debug, Clone, PartialEq)]
pub enum ChType {
    Int {
        signed: bool,
        bits: u32,
    },
    Float {
        bits: u32,
    },
    Decimal {
        precision: u32,
        scale: u32,
    },
    String,
    FixedString(usize),
    Date,
    Date32,
    /// `DateTime` (no precision) or `DateTime64(precision)`, in the zone the type names (the
    /// server's when it names none).
    DateTime {
        precision: Option<u32>,
        zone: Option<String>,
    },
    Bool,
    Uuid,
    Ipv4,
    Ipv6,
    Enum {
        names: Vec<String>,
    },
    /// Arrays, maps, tuples, JSON, time types…: the engine judges these values.
    Other,
}

/// A column's type as the catalog gives it: `Nullable(LowCardinality(String))`.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnType {
    pub base: ChType,
    pub nullable: bool,
    pub low_cardinality: bool,
    /// The type as ClickHouse spells it, for messages.
    pub text: String,
    /// For a date-time, its zone's rules as the engine applies them (read by the catalog);
    /// without them its values are left to the engine.
    pub zone: Option<std::sync::Arc<super::zone::Zone>>,
}

/// What becomes of one non-empty field.
#[derive(Debug, Clone, PartialEq)]
pub enum Judged {
    /// Stored as this text, which means what the field meant.
    Value(String),
    /// Stored as this text, which is not quite what the field said: reported.
    Changed(String, Note),
    Reject(String),
    /// The engine judges it (types Airlock has no rule of its own for).
    Engine,
}

impl ColumnType {
    /// Whether Airlock has no rule of its own for the type's values (arrays, maps, tuples,
    /// JSON, …; a date-time whose zone was not read).
    pub fn left_to_engine(&self) -> bool {
        match self.base {
            ChType::Other => true,
            ChType::DateTime { .. } => self.zone.is_none(),
            _ => false,
        }
    }
}

pub fn parse(text: &str) -> ColumnType {
    let mut t = text.trim();
    let (mut nullable, mut low_cardinality) = (false, false);
    loop {
        if let Some(inner) = wrapped(t, "Nullable") {
            nullable = true;
            t = inner;
        } else if let Some(inner) = wrapped(t, "LowCardinality") {
            low_cardinality = true;
            t = inner;
        } else {
            break;
        }
    }
    ColumnType {
        base: base_type(t),
        nullable,
        low_cardinality,
        text: text.trim().to_string(),
        zone: None,
    }
}

/// `inner` of `Name(inner)`.
fn wrapped<'a>(t: &'a str, name: &str) -> Option<&'a str> {
    t.strip_prefix(name)?
        .trim_start()
        .strip_prefix('(')?
        .strip_suffix(')')
        .map(str::trim)
}

fn base_type(t: &str) -> ChType {
    let int = |signed, bits| ChType::Int { signed, bits };
    match t {
        "Int8" => int(true, 8),
        "Int16" => int(true, 16),
        "Int32" => int(true, 32),
        "Int64" => int(true, 64),
        "Int128" => int(true, 128),
        "Int256" => int(true, 256),
        "UInt8" => int(false, 8),
        "UInt16" => int(false, 16),
        "UInt32" => int(false, 32),
        "UInt64" => int(false, 64),
        "UInt128" => int(false, 128),
        "UInt256" => int(false, 256),
        "Float32" => ChType::Float { bits: 32 },
        "Float64" => ChType::Float { bits: 64 },
        "String" => ChType::String,
        "Date" => ChType::Date,
        "Date32" => ChType::Date32,
        "Bool" => ChType::Bool,
        "UUID" => ChType::Uuid,
        "IPv4" => ChType::Ipv4,
        "IPv6" => ChType::Ipv6,
        "DateTime" => ChType::DateTime {
            precision: None,
            zone: None,
        },
        _ => parametric(t).unwrap_or(ChType::Other),
    }
}

fn parametric(t: &str) -> Option<ChType> {
    let open = t.find('(')?;
    let (name, args) = (&t[..open], t[open + 1..].strip_suffix(')')?);
    let numbers =
        || -> Option<Vec<u32>> { args.split(',').map(|a| a.trim().parse().ok()).collect() };
    let decimal = |precision, scale| Some(ChType::Decimal { precision, scale });
    match name {
        "Decimal" => match numbers()?.as_slice() {
            [p] => decimal(*p, 0),
            [p, s] => decimal(*p, *s),
            _ => None,
        },
        "Decimal32" => decimal(9, *numbers()?.first()?),
        "Decimal64" => decimal(18, *numbers()?.first()?),
        "Decimal128" => decimal(38, *numbers()?.first()?),
        "Decimal256" => decimal(76, *numbers()?.first()?),
        "FixedString" => Some(ChType::FixedString(args.trim().parse().ok()?)),
        "DateTime" => Some(ChType::DateTime {
            precision: None,
            zone: Some(zone_name(args)?),
        }),
        "DateTime64" => {
            let (precision, zone) = match args.split_once(',') {
                Some((p, z)) => (p, Some(zone_name(z)?)),
                None => (args, None),
            };
            Some(ChType::DateTime {
                precision: Some(precision.trim().parse().ok()?),
                zone,
            })
        }
        "Enum8" | "Enum16" | "Enum" => Some(ChType::Enum {
            names: enum_names(args)?,
        }),
        _ => None,
    }
}

/// `Europe/Berlin` of `'Europe/Berlin'`.
fn zone_name(arg: &str) -> Option<String> {
    let name = arg.trim().strip_prefix('\'')?.strip_suffix('\'')?;
    (!name.is_empty() && !name.contains(['\'', '\\'])).then(|| name.to_string())
}

/// The names of `'a' = 1, 'b\'c' = 2`.
fn enum_names(args: &str) -> Option<Vec<String>> {
    let mut names = Vec::new();
    let mut chars = args.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == ',').is_some() {}
        match chars.next() {
            None => return Some(names),
            Some('\'') => {}
            Some(_) => return None,
        }
        let mut name = String::new();
        loop {
            match chars.next()? {
                '\\' => name.push(unescape_char(chars.next()?)),
                '\'' => break,
                c => name.push(c),
            }
        }
        names.push(name);
        while chars.next_if(|c| *c != ',').is_some() {}
    }
}

fn unescape_char(c: char) -> char {
    match c {
        'n' => '\n',
        't' => '\t',
        'r' => '\r',
        '0' => '\0',
        c => c,
    }
}

/// Judges one non-empty field for a column of type `ty`.
pub fn judge(ty: &ColumnType, value: &str) -> Judged {
    let name = ty.text.as_str();
    match &ty.base {
        ChType::String => Judged::Value(value.to_string()),
        ChType::Int { signed, bits } => judge_int(value.trim(), *signed, *bits, name),
        ChType::Float { bits } => judge_float(value.trim(), *bits, name),
        ChType::Decimal { precision, scale } => {
            judge_decimal(value.trim(), *precision, *scale, name)
        }
        ChType::FixedString(n) => judge_fixed(value, *n, name),
        ChType::Date => judge_date(value.trim(), (1970, 1, 1), (2149, 6, 6), name),
        ChType::Date32 => judge_date(value.trim(), (1900, 1, 1), (2299, 12, 31), name),
        ChType::Bool => judge_bool(value.trim(), name),
        ChType::Uuid => judge_uuid(value.trim(), name),
        ChType::Ipv4 => match value.trim().parse::<Ipv4Addr>() {
            Ok(ip) => Judged::Value(ip.to_string()),
            Err(_) => syntax(name, value),
        },
        ChType::Ipv6 => judge_ipv6(value.trim(), name),
        ChType::Enum { names } => match names.iter().any(|n| n == value) {
            true => Judged::Value(value.to_string()),
            false => Judged::Reject(format!(
                "'{}' is not one of {name}'s values ({})",
                crate::validate::clip(value, 60),
                crate::validate::clip(&names.join(", "), 120)
            )),
        },
        ChType::DateTime { precision, .. } => match &ty.zone {
            Some(zone) => super::datetime::judge(value, *precision, zone, name),
            None => Judged::Engine,
        },
        ChType::Other => Judged::Engine,
    }
}

/// The engine pads a shorter value with zero bytes, which every reader then sees: stored as
/// padded, and said.
fn judge_fixed(value: &str, n: usize, name: &str) -> Judged {
    match value.len() {
        len if len > n => Judged::Reject(format!(
            "'{}' is {len} bytes, too long for {name}",
            crate::validate::clip(value, 60)
        )),
        len if len == n => Judged::Value(value.to_string()),
        len => {
            let padded = format!("{value}{}", "\0".repeat(n - len));
            let bytes = if len == 1 { "byte" } else { "bytes" };
            Judged::Changed(
                padded,
                Note {
                    check: "padded",
                    message: format!(
                        "'{}' is {len} {bytes}; {name} pads it with {} zero byte{}",
                        crate::validate::clip(value, 60),
                        n - len,
                        if n - len == 1 { "" } else { "s" }
                    ),
                },
            )
        }
    }
}

fn syntax(type_name: &str, value: &str) -> Judged {
    Judged::Reject(format!(
        "'{}' is not a valid {type_name}",
        crate::validate::clip(value, 60)
    ))
}

/// `[+-]digits` without leading zeros or a plus: the form the engine prints.
fn plain_integer(t: &str) -> Option<(bool, &str)> {
    let (negative, digits) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = digits.trim_start_matches('0');
    Some((negative && !digits.is_empty(), digits))
}

fn judge_int(t: &str, signed: bool, bits: u32, name: &str) -> Judged {
    let Some((negative, digits)) = plain_integer(t) else {
        return syntax(name, t);
    };
    let (lo, hi) = int_bounds(signed, bits);
    let within = match negative {
        true => signed && !longer(digits, &lo[1..]),
        false => !longer(digits, &hi),
    };
    let text = match (negative, digits) {
        (_, "") => "0".to_string(),
        (true, d) => format!("-{d}"),
        (false, d) => d.to_string(),
    };
    match within {
        true => Judged::Value(text),
        false => Judged::Reject(format!("{text} is out of range for {name} ({lo} to {hi})")),
    }
}

/// Whether unsigned decimal `a` (no leading zeros) is greater than `b`.
fn longer(a: &str, b: &str) -> bool {
    (a.len(), a) > (b.len(), b)
}

/// The type's least and greatest values, as decimal text.
fn int_bounds(signed: bool, bits: u32) -> (String, String) {
    let magnitude = |n: u32| {
        let mut digits = vec![1u8];
        for _ in 0..n {
            let mut carry = 0;
            for d in digits.iter_mut() {
                let v = *d * 2 + carry;
                *d = v % 10;
                carry = v / 10;
            }
            if carry > 0 {
                digits.push(carry);
            }
        }
        digits
    };
    let text = |digits: Vec<u8>| digits.iter().rev().map(|d| (b'0' + d) as char).collect();
    let minus_one = |mut digits: Vec<u8>| {
        for d in digits.iter_mut() {
            if *d == 0 {
                *d = 9;
            } else {
                *d -= 1;
                break;
            }
        }
        while digits.len() > 1 && digits.last() == Some(&0) {
            digits.pop();
        }
        digits
    };
    match signed {
        true => {
            let half = magnitude(bits - 1);
            (format!("-{}", text(half.clone())), text(minus_one(half)))
        }
        false => ("0".to_string(), text(minus_one(magnitude(bits)))),
    }
}

fn judge_float(t: &str, bits: u32, name: &str) -> Judged {
    let lower = t.to_ascii_lowercase();
    let special = match lower.trim_start_matches('+') {
        "inf" | "infinity" => Some("inf"),
        "-inf" | "-infinity" => Some("-inf"),
        "nan" | "-nan" => Some("nan"),
        _ => None,
    };
    if let Some(s) = special {
        return Judged::Value(s.to_string());
    }
    // Rust reads decimal and exponent forms; hexadecimal floats and the like are refused.
    if !t
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'))
    {
        return syntax(name, t);
    }
    let Ok(v) = t.parse::<f64>() else {
        return syntax(name, t);
    };
    if !v.is_finite() {
        return Judged::Reject(format!("{t} is out of range for {name}"));
    }
    match bits {
        32 => {
            let f = v as f32;
            if !f.is_finite() {
                return Judged::Reject(format!("{t} is out of range for {name}"));
            }
            Judged::Value(float_text(f64::from(f), f.to_string(), format!("{f:e}")))
        }
        _ => Judged::Value(float_text(v, v.to_string(), format!("{v:e}"))),
    }
}

/// The shortest text that reads back as the same float: plain digits for everyday
/// magnitudes, an exponent for the very large and very small.
fn float_text(v: f64, plain: String, exponent: String) -> String {
    match v.abs() {
        a if a != 0.0 && !(1e-5..1e16).contains(&a) => exponent,
        _ => plain,
    }
}

fn judge_decimal(t: &str, precision: u32, scale: u32, name: &str) -> Judged {
    let Some((negative, mut digits, point)) = decimal_digits(t) else {
        return syntax(name, t);
    };
    // digits × 10^-point; keep `scale` places, rounding half away from zero.
    let scale_i = i64::from(scale);
    let mut rounded_away = false;
    if point > scale_i {
        let drop = (point - scale_i) as usize;
        let keep = digits.len().saturating_sub(drop);
        let first_dropped = digits.get(keep).copied().unwrap_or(0);
        rounded_away = digits[keep.min(digits.len())..].iter().any(|&d| d != 0);
        digits.truncate(keep);
        if first_dropped >= 5 {
            round_up(&mut digits);
        }
    } else {
        digits.extend(std::iter::repeat_n(0, (scale_i - point) as usize));
    }
    while digits.len() > 1 && digits[0] == 0 {
        digits.remove(0);
    }
    let whole_digits = digits.len().saturating_sub(scale as usize);
    let whole_nonzero = digits[..whole_digits].iter().any(|&d| d != 0);
    if whole_nonzero && whole_digits > precision.saturating_sub(scale) as usize {
        return Judged::Reject(format!(
            "{t} is too large for {name} (at most {} digits before the point)",
            precision.saturating_sub(scale)
        ));
    }
    let zero = digits.iter().all(|&d| d == 0);
    let text = render_scaled(negative && !zero, &digits, scale as usize);
    match rounded_away {
        false => Judged::Value(text),
        true => Judged::Changed(
            text.clone(),
            Note {
                check: "rounded",
                message: format!(
                    "{t} will be stored as {text} ({name} keeps {scale} decimal places)"
                ),
            },
        ),
    }
}

/// `-12.5e1` as (negative, digits, places after the point): (true, [1,2,5], 0).
fn decimal_digits(t: &str) -> Option<(bool, Vec<u8>, i64)> {
    let (negative, rest) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(at) => (&rest[..at], rest[at + 1..].parse::<i64>().ok()?),
        None => (rest, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let digits: Vec<u8> = whole
        .bytes()
        .chain(fraction.bytes())
        .map(|b| b.is_ascii_digit().then(|| b - b'0'))
        .collect::<Option<_>>()?;
    if exponent.abs() > 1000 {
        return None;
    }
    let mut digits = digits;
    let mut point = fraction.len() as i64 - exponent;
    if point < 0 {
        digits.extend(std::iter::repeat_n(0, (-point) as usize));
        point = 0;
    }
    Some((negative, digits, point))
}

fn render_scaled(negative: bool, digits: &[u8], scale: usize) -> String {
    let mut all: Vec<u8> = digits.to_vec();
    while all.len() <= scale {
        all.insert(0, 0);
    }
    let split = all.len() - scale;
    let whole: String = all[..split].iter().map(|d| (b'0' + d) as char).collect();
    let whole = match whole.trim_start_matches('0') {
        "" => "0",
        w => w,
    };
    let sign = if negative { "-" } else { "" };
    match scale {
        0 => format!("{sign}{whole}"),
        _ => {
            let fraction: String = all[split..].iter().map(|d| (b'0' + d) as char).collect();
            format!("{sign}{whole}.{fraction}")
        }
    }
}

fn judge_date(t: &str, lo: (i32, u32, u32), hi: (i32, u32, u32), name: &str) -> Judged {
    let b = t.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && [0, 1, 2, 3, 5, 6, 8, 9]
            .iter()
            .all(|&i| b[i].is_ascii_digit());
    let parsed = shape
        .then(|| {
            let y: i32 = t[..4].parse().ok()?;
            let m: u32 = t[5..7].parse().ok()?;
            let d: u32 = t[8..10].parse().ok()?;
            chrono::NaiveDate::from_ymd_opt(y, m, d).map(|_| (y, m, d))
        })
        .flatten();
    let Some(ymd) = parsed else {
        return Judged::Reject(format!(
            "'{}' is not a valid {name} (YYYY-MM-DD)",
            crate::validate::clip(t, 60)
        ));
    };
    if ymd < lo || ymd > hi {
        let show = |(y, m, d): (i32, u32, u32)| format!("{y:04}-{m:02}-{d:02}");
        return Judged::Reject(format!(
            "{t} is out of range for {name} ({} to {})",
            show(lo),
            show(hi)
        ));
    }
    Judged::Value(t.to_string())
}

fn judge_bool(t: &str, name: &str) -> Judged {
    match t.to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "on" | "1" | "enable" | "enabled" => {
            Judged::Value("true".into())
        }
        "false" | "f" | "no" | "n" | "off" | "0" | "disable" | "disabled" => {
            Judged::Value("false".into())
        }
        _ => Judged::Reject(format!(
            "'{}' is not a valid {name} (true/false, yes/no, on/off, 1/0)",
            crate::validate::clip(t, 60)
        )),
    }
}

fn judge_uuid(t: &str, name: &str) -> Judged {
    let hex: String = match t.len() {
        36 if [8, 13, 18, 23].iter().all(|&i| t.as_bytes()[i] == b'-') => {
            t.chars().filter(|&c| c != '-').collect()
        }
        32 => t.to_string(),
        _ => return syntax(name, t),
    };
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return syntax(name, t);
    }
    let h = hex.to_ascii_lowercase();
    Judged::Value(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

fn judge_ipv6(t: &str, name: &str) -> Judged {
    if let Ok(ip) = t.parse::<Ipv6Addr>() {
        return Judged::Value(ip.to_string());
    }
    // The engine reads an IPv4 address into IPv6 as its mapped form, as the address means.
    match t.parse::<Ipv4Addr>() {
        Ok(v4) => Judged::Value(v4.to_ipv6_mapped().to_string()),
        Err(_) => syntax(name, t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_read_through_their_wrappers() {
        let t = parse("Nullable(LowCardinality(String))");
        assert_eq!(
            (t.base, t.nullable, t.low_cardinality),
            (ChType::String, true, true)
        );
        assert_eq!(
            parse("Decimal(10, 2)").base,
            ChType::Decimal {
                precision: 10,
                scale: 2
            }
        );
        assert_eq!(
            parse("Decimal64(4)").base,
            ChType::Decimal {
                precision: 18,
                scale: 4
            }
        );
        assert_eq!(
            parse("Enum8('a' = 1, 'it\\'s' = 2, 'x,y' = -3)").base,
            ChType::Enum {
                names: vec!["a".into(), "it's".into(), "x,y".into()]
            }
        );
        assert_eq!(parse("FixedString(3)").base, ChType::FixedString(3));
        assert_eq!(
            parse("DateTime64(3, 'UTC')").base,
            ChType::DateTime {
                precision: Some(3),
                zone: Some("UTC".into())
            }
        );
        assert_eq!(
            parse("Nullable(DateTime)").base,
            ChType::DateTime {
                precision: None,
                zone: None
            }
        );
        assert_eq!(
            parse("DateTime('Europe/Berlin')").base,
            ChType::DateTime {
                precision: None,
                zone: Some("Europe/Berlin".into())
            }
        );
        assert_eq!(
            parse("DateTime64(6)").base,
            ChType::DateTime {
                precision: Some(6),
                zone: None
            }
        );
        assert_eq!(parse("Array(UInt8)").base, ChType::Other);
    }

    #[test]
    fn integer_bounds_are_the_types_own() {
        assert_eq!(int_bounds(false, 8), ("0".into(), "255".into()));
        assert_eq!(int_bounds(true, 8), ("-128".into(), "127".into()));
        assert_eq!(
            int_bounds(true, 64),
            ("-9223372036854775808".into(), "9223372036854775807".into())
        );
        assert_eq!(
            int_bounds(false, 256).1,
            "115792089237316195423570985008687907853269984665640564039457584007913129639935"
        );
    }

    #[test]
    fn decimals_round_half_away_from_zero_and_say_so() {
        let d = parse("Decimal(5, 2)");
        assert_eq!(judge(&d, "1.5"), Judged::Value("1.50".into()));
        assert_eq!(
            judge(&d, "-0.001"),
            Judged::Changed(
                "0.00".into(),
                Note {
                    check: "rounded",
                    message: "-0.001 will be stored as 0.00 (Decimal(5, 2) keeps 2 decimal places)"
                        .into(),
                }
            )
        );
        assert!(matches!(judge(&d, "1.235"), Judged::Changed(v, _) if v == "1.24"));
        assert!(matches!(judge(&d, "999.995"), Judged::Reject(m) if m.contains("too large")));
        assert_eq!(judge(&d, "1.2e2"), Judged::Value("120.00".into()));
        assert_eq!(judge(&d, "999.99"), Judged::Value("999.99".into()));
    }
}
