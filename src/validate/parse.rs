//! A column's parsing rules (`[columns] price = { decimal = ",", thousands = ".", currency =
//! ["€"] }`, `shipped = { date_format = "%d/%m/%Y" }`, `active = { true = ["Y"], false =
//! ["N"] }`, `trim`, `null`): how a partner's way of writing a value becomes the form the type
//! checks and PostgreSQL read, before they see it. Each rule takes a value only when it fits
//! exactly; one that does not fit is an issue naming the rule, never a guess.
use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// The rules of one column, as the spec gives them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ParseRules {
    pub decimal: Option<char>,
    pub thousands: Option<char>,
    pub currency: Vec<String>,
    /// chrono's `strftime` syntax: `%d/%m/%Y`, `%d.%m.%Y %H:%M`.
    pub date_format: Option<String>,
    /// What the column reads as a timestamp (with a time) rather than a date.
    pub with_time: bool,
    pub true_words: Vec<String>,
    pub false_words: Vec<String>,
    pub trim: bool,
    pub null: Vec<String>,
}

/// What a rule made of a value.
#[derive(Debug, PartialEq)]
pub enum Parsed<'a> {
    Value(Cow<'a, str>),
    Null,
    /// The value does not fit the rule: the message says how.
    Unfit(String),
}

/// The keys of a `[columns]` table that are parsing rules.
pub const KEYS: [&str; 8] = [
    "decimal",
    "thousands",
    "currency",
    "date_format",
    "true",
    "false",
    "trim",
    "null",
];

type SpecError<'a> = &'a (dyn Fn(&str, String) -> crate::Error + Sync);

impl ParseRules {
    pub fn is_empty(&self) -> bool {
        *self == ParseRules::default()
    }

    /// The rules a `[columns]` table gives for `column`, checked against its type: `None`
    /// when it gives none.
    pub fn from_spec(
        table: &toml::Table,
        column: &crate::db::Column,
        err: SpecError<'_>,
    ) -> crate::Result<Option<ParseRules>> {
        let one_char = |k: &str| -> crate::Result<Option<char>> {
            match table.get(k) {
                None => Ok(None),
                Some(toml::Value::String(s)) if s.chars().count() == 1 => Ok(s.chars().next()),
                Some(_) => Err(err(k, "expected one character, such as \",\"".into())),
            }
        };
        let words = |k: &str| -> crate::Result<Vec<String>> {
            match table.get(k) {
                None => Ok(Vec::new()),
                Some(toml::Value::String(s)) => Ok(vec![s.clone()]),
                Some(toml::Value::Array(list)) => list
                    .iter()
                    .map(|v| match v {
                        toml::Value::String(s) => Ok(s.clone()),
                        _ => Err(err(k, "expected a list of strings".into())),
                    })
                    .collect(),
                Some(_) => Err(err(k, "expected a string or a list of strings".into())),
            }
        };
        let mut rules = ParseRules {
            decimal: one_char("decimal")?,
            thousands: one_char("thousands")?,
            currency: words("currency")?,
            date_format: match table.get("date_format") {
                None => None,
                Some(toml::Value::String(s)) => Some(s.clone()),
                Some(_) => {
                    return Err(err(
                        "date_format",
                        "expected a format such as \"%d/%m/%Y\"".into(),
                    ));
                }
            },
            with_time: false,
            true_words: words("true")?,
            false_words: words("false")?,
            trim: match table.get("trim") {
                None => false,
                Some(toml::Value::Boolean(b)) => *b,
                Some(_) => return Err(err("trim", "expected true or false".into())),
            },
            null: words("null")?,
        };
        if rules.is_empty() {
            return Ok(None);
        }
        let type_sql = &column.type_sql;
        let numeric =
            rules.decimal.is_some() || rules.thousands.is_some() || !rules.currency.is_empty();
        if numeric && !column.is_numeric() {
            return Err(err(
                "decimal",
                format!(
                    "decimal, thousands and currency read numbers; `{}` is {type_sql}",
                    column.name
                ),
            ));
        }
        if rules.decimal.is_some() && rules.decimal == rules.thousands {
            return Err(err("thousands", "must differ from decimal".into()));
        }
        const BOOL: u32 = 16;
        if (!rules.true_words.is_empty() || !rules.false_words.is_empty())
            && column.type_oid != BOOL
        {
            return Err(err(
                "true",
                format!(
                    "true and false read booleans; `{}` is {type_sql}",
                    column.name
                ),
            ));
        }
        if let Some(format) = &rules.date_format {
            const DATE: u32 = 1082;
            const TIMESTAMP: u32 = 1114;
            const TIMESTAMPTZ: u32 = 1184;
            match column.type_oid {
                DATE => {}
                TIMESTAMP | TIMESTAMPTZ => rules.with_time = true,
                _ => {
                    return Err(err(
                        "date_format",
                        format!(
                            "date_format reads dates and timestamps; `{}` is {type_sql}",
                            column.name
                        ),
                    ));
                }
            }
            let broken = chrono::format::StrftimeItems::new(format)
                .any(|item| matches!(item, chrono::format::Item::Error));
            if broken || !format.contains('%') {
                return Err(err(
                    "date_format",
                    format!(
                        "`{format}` is not a date format (chrono's strftime, such as %d/%m/%Y)"
                    ),
                ));
            }
        }
        Ok(Some(rules))
    }

    /// Applies the rules to one non-NULL field.
    /// The rules, as the spec says them: `decimal = ",", thousands = ".", currency`.
    pub fn describe(&self) -> String {
        let quoted = |c: char| format!("\"{c}\"");
        let mut parts = Vec::new();
        if self.trim {
            parts.push("trim".to_string());
        }
        if !self.null.is_empty() {
            parts.push("null".to_string());
        }
        if !self.true_words.is_empty() || !self.false_words.is_empty() {
            parts.push("true/false".to_string());
        }
        if let Some(format) = &self.date_format {
            parts.push(format!("date_format = \"{format}\""));
        }
        if let Some(c) = self.decimal {
            parts.push(format!("decimal = {}", quoted(c)));
        }
        if let Some(c) = self.thousands {
            parts.push(format!("thousands = {}", quoted(c)));
        }
        if !self.currency.is_empty() {
            parts.push("currency".to_string());
        }
        parts.join(", ")
    }

    pub fn apply<'a>(&self, value: &'a str) -> Parsed<'a> {
        let value = if self.trim { value.trim() } else { value };
        if self.null.iter().any(|n| n == value) {
            return Parsed::Null;
        }
        if let Some(word) = self.boolean(value) {
            return Parsed::Value(Cow::Borrowed(word));
        }
        if let Some(format) = &self.date_format {
            return self.date(value, format);
        }
        if self.decimal.is_some() || self.thousands.is_some() || !self.currency.is_empty() {
            return self.number(value);
        }
        Parsed::Value(Cow::Borrowed(value))
    }

    fn boolean(&self, value: &str) -> Option<&'static str> {
        let same = |w: &String| w.eq_ignore_ascii_case(value.trim());
        if self.true_words.iter().any(same) {
            Some("true")
        } else if self.false_words.iter().any(same) {
            Some("false")
        } else {
            None
        }
    }

    fn date<'a>(&self, value: &'a str, format: &str) -> Parsed<'a> {
        let t = value.trim();
        let unfit = || {
            Parsed::Unfit(format!(
                "'{}' is not a {} in {format}",
                crate::validate::clip(value, 60),
                if self.with_time { "timestamp" } else { "date" }
            ))
        };
        if self.with_time {
            if let Ok(ts) = chrono::NaiveDateTime::parse_from_str(t, format) {
                return Parsed::Value(Cow::Owned(ts.format("%Y-%m-%d %H:%M:%S%.f").to_string()));
            }
            // A format without a time of day: midnight.
            return match chrono::NaiveDate::parse_from_str(t, format) {
                Ok(d) => Parsed::Value(Cow::Owned(d.format("%Y-%m-%d 00:00:00").to_string())),
                Err(_) => unfit(),
            };
        }
        match chrono::NaiveDate::parse_from_str(t, format) {
            Ok(d) => Parsed::Value(Cow::Owned(d.format("%Y-%m-%d").to_string())),
            Err(_) => unfit(),
        }
    }

    /// `1.299,00 €` with decimal `,`, thousands `.` and currency `€` → `1299.00`. Thousands
    /// separators must group by three; any other character than digits, the sign, the
    /// separators and the currency leaves the value as it is, for the type check to judge.
    fn number<'a>(&self, value: &'a str) -> Parsed<'a> {
        let mut t = value.trim();
        for c in &self.currency {
            if let Some(rest) = t.strip_prefix(c.as_str()) {
                t = rest.trim_start();
            } else if let Some(rest) = t.strip_suffix(c.as_str()) {
                t = rest.trim_end();
            }
        }
        let (sign, digits) = match t.strip_prefix('-') {
            Some(rest) => ("-", rest.trim_start()),
            None => ("", t.strip_prefix('+').unwrap_or(t)),
        };
        let decimal = self.decimal.unwrap_or('.');
        let (whole, fraction) = match digits.split_once(decimal) {
            Some((w, f)) => (w, Some(f)),
            None => (digits, None),
        };
        let plain = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let unfit =
            |why: &str| Parsed::Unfit(format!("'{}' {why}", crate::validate::clip(value, 60)));
        let whole = match self.thousands {
            Some(sep) if whole.contains(sep) => {
                let groups: Vec<&str> = whole.split(sep).collect();
                let grouped = groups[0].len() <= 3
                    && plain(groups[0])
                    && groups[1..].iter().all(|g| g.len() == 3 && plain(g));
                if !grouped {
                    return unfit(&format!("does not group thousands by three with `{sep}`"));
                }
                groups.concat()
            }
            _ => whole.to_string(),
        };
        if !plain(&whole) || fraction.is_some_and(|f| !plain(f)) {
            // Not a number written this way (`N/A`, a stray `.` with decimal `,`): the type
            // check says what it is, on the value as the file has it.
            return if digits
                .chars()
                .all(|c| c.is_ascii_digit() || ".,'  ".contains(c))
                && !digits.is_empty()
            {
                unfit(&format!(
                    "is not a number written with decimal `{decimal}`{}",
                    self.thousands
                        .map(|s| format!(" and thousands `{s}`"))
                        .unwrap_or_default()
                ))
            } else {
                Parsed::Value(Cow::Borrowed(value))
            };
        }
        Parsed::Value(Cow::Owned(match fraction {
            Some(f) => format!("{sign}{whole}.{f}"),
            None => format!("{sign}{whole}"),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn euro() -> ParseRules {
        ParseRules {
            decimal: Some(','),
            thousands: Some('.'),
            currency: vec!["€".into(), "EUR".into()],
            ..Default::default()
        }
    }

    fn value(p: Parsed<'_>) -> String {
        match p {
            Parsed::Value(v) => v.into_owned(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn european_numbers() {
        let r = euro();
        assert_eq!(value(r.apply("1.299,00 €")), "1299.00");
        assert_eq!(value(r.apply("EUR 12,5")), "12.5");
        assert_eq!(value(r.apply("-1.000.000")), "-1000000");
        assert_eq!(value(r.apply("7")), "7");
        assert!(matches!(r.apply("1.29,00"), Parsed::Unfit(m) if m.contains("group thousands")));
        assert!(matches!(r.apply("12.5"), Parsed::Unfit(m) if m.contains("group thousands")));
        assert!(matches!(r.apply("1,2,3"), Parsed::Unfit(m) if m.contains("decimal `,`")));
        // Not a number at all: left for the type check, as the file has it.
        assert_eq!(value(r.apply("N/A")), "N/A");
    }

    #[test]
    fn dates_words_trim_and_nulls() {
        let d = ParseRules {
            date_format: Some("%d/%m/%Y".into()),
            ..Default::default()
        };
        assert_eq!(value(d.apply("15/03/2026")), "2026-03-15");
        assert_eq!(value(d.apply("03/04/2026")), "2026-04-03");
        assert!(
            matches!(d.apply("13/13/2026"), Parsed::Unfit(m) if m == "'13/13/2026' is not a date in %d/%m/%Y")
        );
        let ts = ParseRules {
            date_format: Some("%d/%m/%Y %H:%M".into()),
            with_time: true,
            ..Default::default()
        };
        assert_eq!(value(ts.apply("15/03/2026 14:05")), "2026-03-15 14:05:00");
        let b = ParseRules {
            true_words: vec!["Y".into(), "yes".into()],
            false_words: vec!["N".into()],
            ..Default::default()
        };
        assert_eq!(value(b.apply("y")), "true");
        assert_eq!(value(b.apply("N")), "false");
        assert_eq!(value(b.apply("maybe")), "maybe");
        let t = ParseRules {
            trim: true,
            null: vec!["-".into(), "n/a".into()],
            ..Default::default()
        };
        assert_eq!(value(t.apply("  Hammer ")), "Hammer");
        assert_eq!(t.apply(" - "), Parsed::Null);
        assert_eq!(t.apply("n/a"), Parsed::Null);
    }
}
