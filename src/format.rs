//! Numbers and text as people read them, shared by the command-line output and the review UI.
use std::borrow::Cow;

/// Text from a spec, a file, a note or the database, made safe to show on a terminal: every
/// control character (C0, DEL, C1) and every bidirectional override or isolate is written as
/// an escape (`\x1b`, `\u{9b}`, `\u{202e}`), so a value can neither drive the terminal nor
/// reorder what is shown around it. Newlines stay when `newlines` says so.
pub fn visible(s: &str, newlines: bool) -> Cow<'_, str> {
    let unsafe_char = |c: char| needs_escape(c) && !(newlines && c == '\n');
    if !s.chars().any(unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !unsafe_char(c) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    Cow::Owned(out)
}

/// A character that must not reach a terminal as it is.
pub fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// JSON text (as `serde_json` writes it) with the characters it leaves raw and a terminal
/// would act on — DEL, C1 controls, bidirectional overrides — as `\uXXXX` escapes: the same
/// JSON value, safe to print. They can only occur inside strings, where the escape is valid.
pub fn json_visible(json: &str) -> Cow<'_, str> {
    if !json.chars().any(needs_escape_in_json) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        if needs_escape_in_json(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// What `json_visible` escapes: serde_json already escapes C0 controls, and pretty printing
/// writes its own newlines and spaces.
fn needs_escape_in_json(c: char) -> bool {
    needs_escape(c) && (c as u32) >= 0x20
}

/// `1,234,567`.
pub fn thousands(n: i64) -> String {
    let s = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// `311.3 kB`, in powers of 1000.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// `40s`, `5m`, `3h`, `2d`.
pub fn age(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// At most `max` characters for a terminal cell, the last an ellipsis when cut (so a cut
/// value never passes for a whole one: `Catalog item 7…`, not `Catalog item 7`); newlines
/// shown as ⏎, other control characters escaped (the terminal would drop them unseen).
pub fn fit(s: &str, max: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c == '\n' || c == '\r' { '⏎' } else { c })
        .collect();
    let shown = visible(&flat, false);
    if shown.chars().count() <= max {
        return shown.into_owned();
    }
    crate::validate::clip(&shown, max.saturating_sub(1))
}

/// A message cut to `max` characters the way it reads best: a message whose last part, after
/// `; `, says what to do (`…; set encoding = "windows-1252"`) keeps that part whole and cuts
/// the description before it. Cut with an ellipsis, like [`fit`].
pub fn fit_message(message: &str, max: usize) -> String {
    if message.chars().count() <= max {
        return fit(message, max);
    }
    if let Some((head, hint)) = message.rsplit_once("; ") {
        let hint_len = hint.chars().count();
        if hint_len + 12 <= max {
            return format!("{}; {hint}", fit(head, max - hint_len - 2));
        }
    }
    fit(message, max)
}

/// A count and its noun, one way everywhere: `1 row`, `966,198 rows`.
pub fn count(n: i64, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        n => format!("{} {noun}s", thousands(n)),
    }
}

/// A load's progress for a person: `12.3 MB of 45.0 MB · 240,000 rows · 180,000 rows/s · ETA 3 s`
/// while reading, the time so far once the file is read.
pub fn load_progress(read: u64, total: u64, rows: u64, elapsed_ms: u64) -> String {
    let secs = elapsed_ms as f64 / 1000.0;
    let reading = total == 0 || read < total;
    let rate = if secs > 0.0 { rows as f64 / secs } else { 0.0 };
    let eta = if read > 0 && read < total {
        let remaining = secs * (total - read) as f64 / read as f64;
        format!(" · ETA {remaining:.0} s")
    } else {
        String::new()
    };
    let speed = if reading {
        format!(" · {} rows/s", thousands(rate as i64))
    } else {
        format!(" · {secs:.0} s so far")
    };
    format!(
        "{} of {} · {} rows{speed}{eta}",
        bytes(read),
        bytes(total),
        thousands(rows as i64),
    )
}

/// What a load is doing: reading the file, or, once it is read, validating in the server.
pub fn load_phase(bytes: u64, total: u64) -> &'static str {
    if total > 0 && bytes >= total {
        "validating: server-side casts, lookups, constraints, duplicates, plan…"
    } else {
        "reading, checking rows and copying them into staging…"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_keeps_what_to_do_when_cut() {
        let m = "'Caf\\xE9' invalid UTF-8 at byte 3 of the field (the record starts at byte offset 24 of the file); set encoding = \"windows-1252\"";
        let cut = fit_message(m, 60);
        assert_eq!(cut.chars().count(), 60, "{cut}");
        assert!(cut.ends_with("…; set encoding = \"windows-1252\""), "{cut}");
        assert_eq!(fit_message("short; fix", 60), "short; fix");
        // A hint too long to keep: the message is cut as any other.
        assert!(fit_message(m, 20).ends_with('…'));
    }

    #[test]
    fn formats() {
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(-1000), "-1,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(311_296), "311.3 kB");
        assert_eq!(age(40), "40s");
        assert_eq!(age(3 * 86_400), "3d");
    }

    #[test]
    fn control_characters_are_shown_escaped() {
        assert_eq!(visible("plain ünïcode", false), "plain ünïcode");
        assert_eq!(
            visible("\u{1b}]0;pwned\u{7}\u{1b}[2J", false),
            "\\x1b]0;pwned\\x07\\x1b[2J"
        );
        assert_eq!(visible("a\nb\tc\rd", true), "a\nb\\x09c\\x0dd");
        assert_eq!(visible("a\nb", false), "a\\x0ab");
        assert_eq!(visible("\u{9b}31m\u{7f}", false), "\\u{9b}31m\\x7f");
        assert_eq!(visible("abc\u{202e}fed", false), "abc\\u{202e}fed");
        let json = serde_json::to_string(&"\u{1b}[2J\u{9b}\u{202e}").unwrap_or_default();
        let shown = json_visible(&json);
        assert!(!shown.chars().any(needs_escape), "{shown}");
        let back: String = serde_json::from_str(&shown).unwrap_or_default();
        assert_eq!(back, "\u{1b}[2J\u{9b}\u{202e}");
    }
}
