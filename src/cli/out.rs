//! Everything the commands print goes through here. Text from specs, files, notes and the
//! database is shown with control characters escaped (`format::visible`), and a closed pipe
//! (`airlock batches | head`) ends the output quietly instead of panicking: what is left to
//! print is dropped, the work the command was doing is finished, and its exit status says how
//! that work ended. A promotion is never cut short by its own report.
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::format;

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Prints `text` on stdout as it is, apart from the escapes; newlines are kept.
pub fn text(text: &str) {
    write(
        &STDOUT_CLOSED,
        &mut std::io::stdout().lock(),
        &format::visible(text, true),
    );
}

/// Prints `text` and a newline.
/// Prints text Airlock made itself (a completion script, a manual page) as it is.
pub fn raw(text: &str) {
    write(&STDOUT_CLOSED, &mut std::io::stdout().lock(), text);
}

pub fn line(text: &str) {
    self::text(&format!("{text}\n"));
}

/// Prints a value as pretty JSON with a newline.
pub fn json<T: serde::Serialize>(value: &T) -> serde_json::Result<()> {
    let json = serde_json::to_string_pretty(value)?;
    let shown = format::json_visible(&json);
    write(
        &STDOUT_CLOSED,
        &mut std::io::stdout().lock(),
        &format!("{shown}\n"),
    );
    Ok(())
}

/// Prints an error line on stderr.
pub fn error(text: &str) {
    static STDERR_CLOSED: AtomicBool = AtomicBool::new(false);
    let text = format!("{}\n", format::visible(text, true));
    write(&STDERR_CLOSED, &mut std::io::stderr().lock(), &text);
}

fn write(closed: &AtomicBool, to: &mut impl Write, text: &str) {
    if closed.load(Ordering::Relaxed) {
        return;
    }
    // A reader that went away (EPIPE) or any other failure to write: stop writing there.
    if to
        .write_all(text.as_bytes())
        .and_then(|()| to.flush())
        .is_err()
    {
        closed.store(true, Ordering::Relaxed);
    }
}
