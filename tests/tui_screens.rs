//! Every screen, drawn through ratatui's TestBackend at 80×24 (and a wide one), compared with
//! the snapshots in tests/snapshots. Rendering is pure, so no terminal or database is needed.
#[path = "support/tui_fixture.rs"]
mod fixture;

use airlock::promote::Applied;
use airlock::tui::action::Action;
use airlock::tui::app::{App, PromotionResult, View};
use airlock::tui::view;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn render(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
    terminal.draw(|f| view::draw(app, f)).expect("draw");
    terminal.backend().to_string()
}

fn press(app: &mut App, code: KeyCode) {
    app.update(Action::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

#[test]
fn summary() {
    let app = fixture::app("review", View::Summary);
    insta::assert_snapshot!(render(&app, 80, 24));
}

/// A 30-column table: at 200×50 the checks take their rows and the columns the rest, no
/// blank band between them; at 80×24 the columns say how many of the 30 they show.
#[test]
fn summary_of_a_wide_table() {
    for (width, height) in [(200, 50), (80, 24)] {
        let mut app = fixture::app("review", View::Summary);
        app.update(Action::Resize { width, height });
        let mut columns = fixture::profile();
        for i in 0..26 {
            let mut c = columns[2].clone();
            c.name = format!("attribute_{i:02}");
            columns.push(c);
        }
        app.profile = Some(columns);
        let screen = render(&app, width, height);
        // The plan follows the checks straight away: no blank band between them.
        let lines: Vec<&str> = screen.lines().collect();
        let plan = lines
            .iter()
            .position(|l| l.contains(" Plan "))
            .expect("a plan line");
        assert!(
            !lines[plan - 1]
                .trim_matches(|c| c == '"' || c == ' ')
                .is_empty(),
            "{screen}"
        );
        if height == 24 {
            assert!(screen.contains(" Columns 8 of 30 ("), "{screen}");
        }
        insta::assert_snapshot!(format!("summary_of_a_wide_table_{width}x{height}"), screen);
    }
}

#[test]
fn summary_abort_wide() {
    let mut app = fixture::app("abort", View::Summary);
    app.update(Action::Resize {
        width: 140,
        height: 32,
    });
    insta::assert_snapshot!(render(&app, 140, 32));
}

#[test]
fn quarantined_rows() {
    let mut app = fixture::app("review", View::Quarantine);
    press(&mut app, KeyCode::Char('j'));
    insta::assert_snapshot!(render(&app, 80, 24));
}

#[test]
fn row_detail() {
    let mut app = fixture::app("review", View::Quarantine);
    press(&mut app, KeyCode::Char('j'));
    press(&mut app, KeyCode::Enter);
    app.update(Action::Source {
        ord: 12,
        text: Ok(Some("SKU-0000062,Hedge trimmer,Garden,34.50".into())),
    });
    insta::assert_snapshot!(render(&app, 80, 24));
}

#[test]
fn changes() {
    let mut app = fixture::app("review", View::Changes);
    press(&mut app, KeyCode::Char('j'));
    press(&mut app, KeyCode::Char('m'));
    insta::assert_snapshot!(render(&app, 80, 24));
}

/// Inserts, updates and deletes in one list, each kind marked; `l` scrolls the changed
/// columns, counting those scrolled past; what the screen's edge cuts ends in `…`.
#[test]
fn changes_of_every_kind_scroll_sideways() {
    use airlock::review::{Change, ChangeKind, ChangedRow};
    let mut app = fixture::app("review", View::Changes);
    let values = |before: bool| -> Vec<Change> {
        ["name", "price", "category_id"]
            .iter()
            .map(|c| Change {
                column: c.to_string(),
                before: before.then(|| format!("old {c} value")),
                after: (!before).then(|| format!("new {c} value")),
            })
            .collect()
    };
    let mut rows = fixture::changed_rows();
    rows.insert(
        0,
        ChangedRow {
            line: 2,
            ord: 1,
            key: "SKU-0000900".into(),
            changes: values(false),
            kind: ChangeKind::Insert,
        },
    );
    rows.push(ChangedRow {
        line: 0,
        ord: 10_000,
        key: "SKU-0000001".into(),
        changes: values(true),
        kind: ChangeKind::Delete,
    });
    app.changes.rows = rows;
    let screen = render(&app, 80, 24);
    assert!(screen.contains("+ 2    SKU-0000900"), "{screen}");
    assert!(screen.contains("− –    SKU-0000001"), "{screen}");
    // A line past 999,999 shows whole: the column grows with the lines held.
    app.changes.rows[1].line = 1_000_001;
    let long = render(&app, 80, 24);
    assert!(long.contains("~ 1000001 SKU-0000056"), "{long}");
    app.changes.rows[1].line = 8;
    assert!(screen.contains("…\""), "a cut row ends in …: {screen}");
    press(&mut app, KeyCode::Char('l'));
    let scrolled = render(&app, 80, 24);
    assert!(scrolled.contains("‹1 price new price value"), "{scrolled}");
    insta::assert_snapshot!(scrolled);
}

#[test]
fn approve_dialog() {
    let mut app = fixture::app("review", View::Summary);
    press(&mut app, KeyCode::Char('a'));
    for c in "nightly feed".chars() {
        press(&mut app, KeyCode::Char(c));
    }
    insta::assert_snapshot!(render(&app, 80, 24));
}

#[test]
fn approve_dialog_abort_verdict() {
    let mut app = fixture::app("abort", View::Summary);
    press(&mut app, KeyCode::Char('a'));
    insta::assert_snapshot!(render(&app, 80, 24));
}

#[test]
fn help() {
    let mut app = fixture::app("review", View::Quarantine);
    press(&mut app, KeyCode::Char('?'));
    insta::assert_snapshot!(render(&app, 80, 24));
}

#[test]
fn batches() {
    let mut app = fixture::app("review", View::Batches);
    app.batch = None;
    insta::assert_snapshot!(render(&app, 80, 24));
}

/// Enter on a change: every changed column, before → after, whole.
#[test]
fn change_detail() {
    let mut app = fixture::app("review", View::Changes);
    app.update(Action::Key(crossterm::event::KeyEvent::from(
        crossterm::event::KeyCode::Enter,
    )));
    let screen = render(&app, 80, 24);
    assert!(screen.contains("Change · Esc back"), "{screen}");
    insta::assert_snapshot!(screen);
}

/// Counts read one way on every screen, tabs and commonest values too: `35,467`.
#[test]
fn big_counts_are_grouped_everywhere() {
    let mut app = fixture::app("review", View::Summary);
    if let Some(b) = app.batch.as_mut() {
        b.summary.rows.quarantined = 35_467;
    }
    if let Some(p) = app.profile.as_mut() {
        p[3].top = vec![("Kitchen".into(), 197_640)];
    }
    let screen = render(&app, 100, 30);
    assert!(screen.contains("2 Quarantined (35,467)"), "{screen}");
    assert!(screen.contains("Kitchen (197,640)"), "{screen}");
}

/// The frequency view: a check's values, commonest first, quoted so a trailing space shows.
#[test]
fn frequencies() {
    let mut app = fixture::app("review", View::Summary);
    app.update(Action::Frequencies(Ok(Box::new(
        airlock::review::Frequencies {
            filter: airlock::review::Filter {
                check: Some("lookup".into()),
                column: Some("category_id".into()),
                ..Default::default()
            },
            values: vec![
                (Some("Gadgets".into()), 512),
                (Some("Outdoor".into()), 285),
                (Some("toys ".into()), 1),
            ],
            distinct: 5,
            rows: 800,
        },
    ))));
    insta::assert_snapshot!(render(&app, 80, 24));
}

/// A load stopped with Esc: no plan pretends to exist, and the screen says how to go on.
#[test]
fn interrupted_load() {
    let mut app = fixture::app("review", View::Summary);
    if let Some(b) = app.batch.as_mut() {
        b.summary.state = airlock::batch::State::LoadFailed;
        b.summary.verdict = None;
        b.summary.error = Some("batch 7 stopped while loading; production untouched".into());
        b.summary.checks.clear();
        b.summary.breaches.clear();
    }
    let screen = render(&app, 80, 24);
    assert!(!screen.contains("0 insert"), "{screen}");
    insta::assert_snapshot!(screen);
}

/// With room, feed, target and file show whole: nothing is cut that fits.
#[test]
fn batches_wide() {
    let mut app = fixture::app("review", View::Batches);
    app.batch = None;
    let screen = render(&app, 200, 12);
    assert!(!screen.contains('…'), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn loading() {
    let mut app = App::new(airlock::tui::theme::Theme { color: false }, View::Batches);
    app.start_review("feed.toml".into(), "/data/products-big.csv".into());
    app.update(Action::Progress {
        bytes: 20_000_000,
        total: 54_000_000,
        rows: 370_000,
        elapsed_ms: 1000,
    });
    insta::assert_snapshot!(render(&app, 80, 24));
}

#[test]
fn result() {
    let mut app = fixture::app("review", View::Summary);
    let mut summary = fixture::summary("review");
    summary.state = airlock::batch::State::Promoted;
    summary.decisions = vec![fixture::decision()];
    summary.kept_for_undo = Some(
        "\"airlock_stage\".\"batch_7_undo\" (the keys it inserted, the rows it changed as they were)"
            .into(),
    );
    app.update(Action::Promoted(Ok((
        Applied {
            mode: "upsert".into(),
            inserted: 242,
            updated: 10,
            unchanged: 35,
            deleted: 0,
            skipped: 0,
        },
        Box::new(summary),
    ))));
    assert!(matches!(app.result, Some(PromotionResult { .. })));
    insta::assert_snapshot!(render(&app, 80, 24));
}

#[test]
fn error_in_the_status_bar() {
    let mut app = fixture::app("review", View::Summary);
    app.update(Action::Promoted(Err(
        "batch 7 not promoted: production changed since validation (insert 242 → 240)".into(),
    )));
    insta::assert_snapshot!(render(&app, 80, 24));
}

/// The columns' legend names the shifted-column warning only when a column is flagged.
#[test]
fn the_columns_legend_only_with_a_flagged_column() {
    let mut app = fixture::app("review", View::Summary);
    assert!(render(&app, 110, 32).contains("a shifted column?"));
    app.profile = app
        .profile
        .take()
        .map(|p| p.into_iter().filter(|c| !c.suspicious()).collect());
    let screen = render(&app, 110, 32);
    assert!(screen.contains(" Columns "), "{screen}");
    assert!(!screen.contains("a shifted column?"), "{screen}");
}

/// Text from the spec, the file and the database shows its control characters escaped: the
/// terminal neither acts on them nor drops them unseen.
#[test]
fn control_characters_are_shown_escaped() {
    let mut app = fixture::app("review", View::Summary);
    let hostile = "\u{1b}]0;pwned\u{7}";
    if let Some(b) = app.batch.as_mut() {
        b.summary.feed = format!("feed{hostile}");
        b.summary.file.path = format!("/drop/file{hostile}.csv");
    }
    app.quarantine.rows[0].fields[1] = Some(format!("name{hostile}"));
    let screen = render(&app, 120, 24);
    assert!(screen.contains("feed\\x1b]0;pwned\\x07"), "{screen}");
    assert!(screen.contains("file\\x1b]0;pwned\\x07.csv"), "{screen}");
    app.view = View::Quarantine;
    let screen = render(&app, 200, 24);
    assert!(screen.contains("name\\x1b]0;pwn"), "{screen}");
}

/// A history warning and what the parsing rules changed are on the summary's first screen.
#[test]
fn warnings_and_conversions_show_in_the_summary() {
    let mut app = fixture::app("review", View::Summary);
    if let Some(b) = app.batch.as_mut() {
        b.summary.notes = vec![
            "warning: the same file (sha256) as batch 3 of this feed, promoted on 2026-03-14 02:00 UTC".into(),
        ];
        b.summary.conversions = vec![airlock::stage::Conversion {
            column: "price".into(),
            rules: "decimal = \",\", thousands = \".\", currency".into(),
            rows: 287,
            from: "1.299,00 €".into(),
            to: "1299.00".into(),
        }];
    }
    let screen = render(&app, 120, 30);
    assert!(
        screen.contains("⚠ the same file (sha256) as batch 3 of this feed, promoted on 2026-03-14"),
        "{screen}"
    );
    assert!(
        screen.contains(
            "read by the [columns] rules: price 287 by decimal = \",\", thousands = \".\", currency (e.g. 1.299,00 € → 1299.00)"
        ),
        "{screen}"
    );
}

/// At 80 columns the line of conversions is cut with an ellipsis, not silently.
#[test]
fn a_long_conversions_line_ends_in_an_ellipsis() {
    let mut app = fixture::app("review", View::Summary);
    if let Some(b) = app.batch.as_mut() {
        b.summary.conversions = ["price", "shipped", "delivered", "active", "weight", "width"]
            .iter()
            .map(|c| airlock::stage::Conversion {
                column: (*c).into(),
                rules: String::new(),
                rows: 123_456,
                from: "1.299,00 €".into(),
                to: "1299.00".into(),
            })
            .collect();
    }
    let screen = render(&app, 80, 24);
    let line = screen
        .lines()
        .find(|l| l.contains("read by the [columns] rules"))
        .unwrap_or_default()
        .to_string();
    assert!(line.trim_end_matches(['"', ' ']).ends_with('…'), "{line}");
}

/// A 30-column table's rows at 80×24 and 200×50: the key frozen at the left, the current
/// column (moved with `l`) marked and on screen, columns as wide as their values, cut ones
/// ending in `…`.
#[test]
fn quarantined_rows_of_a_wide_table() {
    for (width, height) in [(80, 24), (200, 50)] {
        let mut app = fixture::app("review", View::Quarantine);
        app.update(Action::Resize { width, height });
        if let Some(b) = app.batch.as_mut() {
            b.header
                .extend((5..=30).map(|i| format!("attribute_{i:02}")));
        }
        for (n, row) in app.quarantine.rows.iter_mut().enumerate() {
            row.fields
                .extend((5..=30).map(|i| Some(format!("v{i}.{n}").repeat(1 + i % 3))));
        }
        for _ in 0..12 {
            press(&mut app, KeyCode::Char('l'));
        }
        let screen = render(&app, width, height);
        assert!(screen.contains("›attribute_13"), "{screen}");
        assert!(screen.contains("SKU-0000061"), "the key stays: {screen}");
        insta::assert_snapshot!(
            format!("quarantined_rows_of_a_wide_table_{width}x{height}"),
            screen
        );
    }
}

/// A wide row at 80×24 does not fit: the detail scrolls, says where it is, and every field,
/// the problems and the raw line can be reached.
#[test]
fn a_wide_row_detail_scrolls_to_its_end() {
    let mut app = fixture::app("review", View::Quarantine);
    if let Some(b) = app.batch.as_mut() {
        b.header = (1..=30).map(|i| format!("column_{i}")).collect();
    }
    if let Some(row) = app.quarantine.rows.get_mut(1) {
        row.fields = (1..=30).map(|i| Some(format!("value {i}"))).collect();
    }
    press(&mut app, KeyCode::Char('j'));
    press(&mut app, KeyCode::Enter);
    app.update(Action::Source {
        ord: 12,
        text: Ok(Some("SKU-0000062,Hedge trimmer,Garden,34.50".into())),
    });
    let top = render(&app, 80, 24);
    assert!(
        top.contains("Row detail · lines 1–22 of 39 · j/k scroll"),
        "{top}"
    );
    assert!(top.contains("column_1 "), "{top}");
    assert!(!top.contains("As the file has it"), "{top}");
    press(&mut app, KeyCode::Char('G'));
    let bottom = render(&app, 80, 24);
    assert!(bottom.contains("lines 18–39 of 39"), "{bottom}");
    assert!(bottom.contains("column_30  value 30"), "{bottom}");
    assert!(bottom.contains("As the file has it (line 14)"), "{bottom}");
    assert!(
        bottom.contains("SKU-0000062,Hedge trimmer,Garden,34.50"),
        "{bottom}"
    );
    press(&mut app, KeyCode::Char('k'));
    assert!(render(&app, 80, 24).contains("lines 17–38 of 39"));
    // Wide terminals get a wider box for long values.
    if let Some(row) = app.quarantine.rows.get_mut(1) {
        row.fields[0] = Some("x".repeat(150));
    }
    let wide = render(&app, 200, 50);
    assert!(wide.contains(&"x".repeat(150)), "{wide}");
    press(&mut app, KeyCode::Char('q'));
    assert!(app.overlay.is_none());
}
