//! The review app's `update`, driven by keys and results alone: what each key does to the
//! state and which database work it asks for. No terminal, no database.
#[path = "support/tui_fixture.rs"]
mod fixture;

use airlock::review::{Filter, PageFrom, QuarantinedRow};
use airlock::tui::action::{Action, Decision, Effect, Land, PageRequest};
use airlock::tui::app::{App, DialogKind, Overlay, View};
use airlock::tui::theme::Theme;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Action::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

#[test]
fn enter_on_a_check_opens_the_rows_it_caught() {
    let mut app = fixture::app("review", View::Summary);
    key(&mut app, KeyCode::Char('j'));
    let effects = key(&mut app, KeyCode::Enter);
    assert_eq!(app.view, View::Quarantine);
    let filter = Filter {
        check: Some("lookup".into()),
        column: Some("category_id".into()),
        kept: None,
        value: None,
    };
    assert_eq!(app.filter, filter);
    // The first two screens are asked for, and the rows counted for `row 1 of N`.
    let generation = app.quarantine.generation;
    assert_eq!(
        effects,
        vec![
            Effect::Quarantined {
                batch: 7,
                fields: 4,
                filter: filter.clone(),
                sort: None,
                page: PageRequest {
                    from: PageFrom::Start,
                    land: Land::First,
                    limit: 38
                },
                generation,
            },
            Effect::CountQuarantined {
                batch: 7,
                filter,
                generation,
            },
        ]
    );
    // The count lands in the list it was asked for, even after a jump replaced the rows
    // held (G before the count came back); a count of the list before does not.
    key(&mut app, KeyCode::Char('c'));
    let cleared = app.quarantine.generation;
    app.update(Action::Counted {
        generation,
        total: Ok(798),
    });
    assert_eq!(app.quarantine.total, None, "a count of the filter before");
    app.quarantine.at_end = false;
    app.quarantine.rows = fixture::quarantined_rows();
    key(&mut app, KeyCode::Char('G'));
    assert!(app.quarantine.generation > cleared);
    app.update(Action::Counted {
        generation: cleared,
        total: Ok(13),
    });
    assert_eq!(app.quarantine.total, Some(13));
    // The rows a warning let through browse like the quarantined ones.
    let mut app = fixture::app("review", View::Summary);
    key(&mut app, KeyCode::Char('G'));
    let effects = key(&mut app, KeyCode::Enter);
    assert_eq!(app.view, View::Quarantine);
    assert_eq!(app.filter.kept.as_deref(), Some("warning"));
    assert!(matches!(
        effects[..],
        [Effect::Quarantined { .. }, Effect::CountQuarantined { .. }]
    ));
}

/// y copies the current row's offending value and Y the row as CSV, through the terminal
/// (OSC 52); the status bar says what was copied.
#[test]
fn y_and_shift_y_copy_the_value_and_the_row() {
    let mut app = fixture::app("review", View::Quarantine);
    let row = app.quarantine.current().cloned().expect("a row");
    let effects = key(&mut app, KeyCode::Char('Y'));
    assert_eq!(
        effects,
        vec![Effect::Copy(airlock::tui::clipboard::csv_record(
            &row.fields
        ))]
    );
    assert!(
        app.status
            .as_ref()
            .is_some_and(|(_, said)| said.starts_with("copied the row, as CSV"))
    );
    // y copies the current cell: the key's at first, the offending one after `o`.
    assert_eq!(
        key(&mut app, KeyCode::Char('y')),
        vec![Effect::Copy("SKU-0000061".into())]
    );
    key(&mut app, KeyCode::Char('o'));
    let offending =
        airlock::tui::detail::offending_fields(app.batch.as_ref().expect("batch"), &row);
    let value = row.fields[offending[0]].clone().expect("a value");
    assert_eq!(key(&mut app, KeyCode::Char('y')), vec![Effect::Copy(value)]);
    assert!(
        app.status
            .as_ref()
            .is_some_and(|(_, said)| said.starts_with("copied price of line 13")),
        "{:?}",
        app.status
    );
}

/// h/l move the current column, 0/$ go to the first and last, o to the row's offending
/// field, </> narrow and widen it; the screen scrolls so the current column shows, the
/// key's column frozen at the left.
#[test]
fn the_current_column_moves_and_stays_on_screen() {
    let mut app = fixture::app("review", View::Quarantine);
    if let Some(b) = app.batch.as_mut() {
        b.header.extend((5..=30).map(|i| format!("attribute_{i}")));
    }
    for row in &mut app.quarantine.rows {
        row.fields
            .extend((5..=30).map(|i| Some(format!("value {i}"))));
    }
    let on_screen = |app: &App| {
        airlock::tui::columns::shown(app, 80)
            .iter()
            .map(|s| s.field)
            .collect::<Vec<_>>()
    };
    key(&mut app, KeyCode::Char('$'));
    assert_eq!(app.column, 29);
    let shown = on_screen(&app);
    assert_eq!(shown.first(), Some(&0), "the key stays: {shown:?}");
    assert_eq!(shown.last(), Some(&29), "{shown:?}");
    key(&mut app, KeyCode::Char('0'));
    assert_eq!((app.column, app.hscroll), (0, 0));
    for _ in 0..10 {
        key(&mut app, KeyCode::Char('l'));
    }
    assert!(on_screen(&app).contains(&10), "{:?}", on_screen(&app));
    for _ in 0..8 {
        key(&mut app, KeyCode::Char('h'));
    }
    assert_eq!(app.column, 2);
    assert!(on_screen(&app).contains(&2), "{:?}", on_screen(&app));
    // The first row's problem is its price (field 2).
    key(&mut app, KeyCode::Char('$'));
    key(&mut app, KeyCode::Char('o'));
    assert_eq!(app.column, 2);
    let before = airlock::tui::columns::width(&app, 2);
    key(&mut app, KeyCode::Char('>'));
    assert_eq!(airlock::tui::columns::width(&app, 2), before + 2);
    for _ in 0..20 {
        key(&mut app, KeyCode::Char('<'));
    }
    assert_eq!(
        airlock::tui::columns::width(&app, 2),
        airlock::tui::columns::NARROWEST
    );
    key(&mut app, KeyCode::Char('>'));
    assert!(airlock::tui::columns::width(&app, 2) > airlock::tui::columns::NARROWEST);
}

/// F counts the offending values of the check under the cursor; Enter on one of them opens
/// the rows that carry it.
#[test]
fn the_frequency_view_filters_the_rows_to_a_value() {
    let mut app = fixture::app("review", View::Summary);
    key(&mut app, KeyCode::Char('j'));
    let effects = key(&mut app, KeyCode::Char('F'));
    let filter = Filter {
        check: Some("lookup".into()),
        column: Some("category_id".into()),
        ..Filter::default()
    };
    assert_eq!(
        effects,
        vec![Effect::Frequencies {
            batch: 7,
            filter: filter.clone()
        }]
    );
    app.update(Action::Frequencies(Ok(Box::new(
        airlock::review::Frequencies {
            filter: filter.clone(),
            values: vec![(Some("Gadgets".into()), 2), (Some("toys ".into()), 1)],
            distinct: 2,
            rows: 3,
        },
    ))));
    assert!(matches!(
        app.overlay,
        Some(Overlay::Frequencies { cursor: 0, .. })
    ));
    key(&mut app, KeyCode::Char('j'));
    let effects = key(&mut app, KeyCode::Enter);
    assert!(app.overlay.is_none());
    assert_eq!(app.view, View::Quarantine);
    assert_eq!(app.filter.value.as_deref(), Some("toys "));
    assert!(matches!(
        &effects[..],
        [Effect::Quarantined { filter, .. }, Effect::CountQuarantined { .. }]
            if filter.value.as_deref() == Some("toys ")
    ));
}

/// A page from the database as it would arrive for the request in `effects`.
fn arrive(
    app: &mut App,
    effects: &[Effect],
    rows: Vec<QuarantinedRow>,
    rank: Option<u64>,
) -> Vec<Effect> {
    let [
        Effect::Quarantined {
            page, generation, ..
        },
    ] = effects
    else {
        panic!("not one page asked for: {effects:?}");
    };
    app.update(Action::Quarantined {
        generation: *generation,
        page: *page,
        rows: Ok((rows, rank)),
    })
}

/// Rows `from..to` of a list, their ordinals ten apart.
fn numbered(from: i64, to: i64) -> Vec<QuarantinedRow> {
    let row = fixture::quarantined_rows()[0].clone();
    (from..to)
        .map(|i| QuarantinedRow {
            line: i * 10 + 1,
            file_line: i * 10 + 1,
            ord: i * 10,
            ..row.clone()
        })
        .collect()
}

#[test]
fn the_rows_scroll_one_at_a_time_and_the_next_ones_are_asked_for_ahead() {
    let mut app = fixture::app("review", View::Quarantine);
    app.quarantine.rows = numbered(0, 68);
    app.quarantine.at_end = false;
    app.quarantine.offset = Some(0);
    app.quarantine.total = Some(1000);
    // 19 rows on screen: the 20th row scrolls the list by one, it does not turn a page.
    for _ in 0..19 {
        assert!(key(&mut app, KeyCode::Char('j')).is_empty());
    }
    assert_eq!((app.quarantine.cursor, app.quarantine.top), (19, 1));
    // Within a screen of the last row held, the next rows are asked for by keyset.
    assert!(
        key(&mut app, KeyCode::PageDown).is_empty(),
        "two screens ahead"
    );
    let effects = key(&mut app, KeyCode::PageDown);
    assert!(
        matches!(
            effects[..],
            [Effect::Quarantined {
                page: PageRequest {
                    from: PageFrom::After(670),
                    land: Land::Keep,
                    limit: 38
                },
                ..
            }]
        ),
        "{effects:?}"
    );
    assert_eq!((app.quarantine.cursor, app.quarantine.top), (57, 39));
    assert!(
        key(&mut app, KeyCode::Char('j')).is_empty(),
        "one request at a time, and moving goes on meanwhile"
    );
    let _ = arrive(&mut app, &effects, numbered(68, 106), None);
    // Four screens are held: the rows above the screen made room.
    let q = &app.quarantine;
    assert_eq!((q.rows.len(), q.offset), (76, Some(30)));
    assert_eq!(
        (q.current().map(|r| r.ord), q.rows[q.top].ord),
        (Some(580), 400),
        "the screen did not move when the rows arrived"
    );
    let at = airlock::tui::view::position(&app.quarantine);
    assert_eq!(at.as_deref(), Some("row 59 of 1,000"));

    // G asks for the end; the rows there replace the ones held, and the last is on the
    // screen's last line.
    let effects = key(&mut app, KeyCode::Char('G'));
    assert!(matches!(
        effects[..],
        [Effect::Quarantined {
            page: PageRequest {
                from: PageFrom::End,
                land: Land::Last,
                ..
            },
            ..
        }]
    ));
    let _ = arrive(&mut app, &effects, numbered(962, 1000), None);
    let q = &app.quarantine;
    assert_eq!((q.cursor, q.top, q.at_end), (37, 19, true));
    let at = airlock::tui::view::position(q);
    assert_eq!(at.as_deref(), Some("row 1,000 of 1,000"));
}

/// A search hit near the end of the list shows on a full screen: the rows before it are
/// asked for and join above it (the list once showed 4 rows and then a blank screen).
#[test]
fn a_hit_near_the_end_shows_with_the_rows_before_it() {
    let mut app = fixture::app("review", View::Quarantine);
    let effects = app.update(Action::Found(Ok(Some(airlock::review::Hit {
        ord: 9960,
        note: "match 41 of 41".into(),
    }))));
    assert!(matches!(
        effects[..],
        [Effect::Quarantined {
            page: PageRequest {
                from: PageFrom::At(9960),
                land: Land::Ord(9960),
                ..
            },
            ..
        }]
    ));
    // Arrived, it asks for the rows before at once.
    let before = arrive(&mut app, &effects, numbered(996, 1000), Some(996));
    assert!(
        matches!(
            before[..],
            [Effect::Quarantined {
                page: PageRequest {
                    from: PageFrom::Before(9960),
                    ..
                },
                ..
            }]
        ),
        "{before:?}"
    );
    let _ = arrive(&mut app, &before, numbered(958, 996), None);
    let q = &app.quarantine;
    assert_eq!(q.current().map(|r| r.ord), Some(9960));
    assert_eq!(q.rows.len() - q.top, 19, "a full screen");
    assert_eq!(q.position(), Some(997));
}

/// A page asked for before the list was replaced (another filter, another batch) does not
/// land in the new one.
#[test]
fn a_page_of_another_list_does_not_land() {
    let mut app = fixture::app("review", View::Quarantine);
    app.quarantine.at_end = false;
    let stale = key(&mut app, KeyCode::Char('j'));
    assert!(matches!(stale[..], [Effect::Quarantined { .. }]));
    key(&mut app, KeyCode::Char('c'));
    let _ = arrive(&mut app, &stale, numbered(0, 34), None);
    assert!(app.quarantine.rows.is_empty(), "the stale page was dropped");
    assert!(app.quarantine.loading, "the new list is still on its way");
}

/// Opening another batch keeps nothing of the one before (#16: batch 3's changes showed
/// under batch 2, beside an error).
#[test]
fn another_batch_shows_none_of_the_last_ones_rows() {
    let mut app = fixture::app("review", View::Changes);
    app.search = Some("n/a".into());
    app.hscroll = 2;
    app.filter.check = Some("lookup".into());
    let mut other = fixture::batch("review");
    other.summary.batch = 8;
    let effects = app.update(Action::Batch(Ok(Box::new(other))));
    assert!(app.quarantine.rows.is_empty() && app.changes.rows.is_empty());
    assert_eq!((app.search.as_ref(), app.hscroll), (None, 0));
    assert!(app.filter.is_empty());
    // A page of batch 7 arriving now is not shown under batch 8, nor is its profile.
    let old = app.changes.generation - 1;
    app.update(Action::Changes {
        generation: old,
        page: PageRequest {
            from: PageFrom::Start,
            land: Land::First,
            limit: 38,
        },
        rows: Ok(fixture::changed_rows()),
    });
    assert!(app.changes.rows.is_empty());
    app.profile = None;
    app.update(Action::Profile {
        batch: 7,
        profile: Ok(fixture::profile()),
    });
    assert!(app.profile.is_none());
    // An error reading batch 8's pages leaves its lists empty.
    let page = effects.iter().find_map(|e| match e {
        Effect::Changes {
            page, generation, ..
        } => Some((*page, *generation)),
        _ => None,
    });
    let (page, generation) = page.expect("batch 8's changes asked for");
    app.update(Action::Changes {
        generation,
        page,
        rows: Err("its staging was dropped".into()),
    });
    assert!(app.changes.rows.is_empty() && !app.changes.loading);
}

#[test]
fn search_and_jump_go_through_the_database() {
    let mut app = fixture::app("review", View::Quarantine);
    key(&mut app, KeyCode::Char('/'));
    assert!(matches!(app.overlay, Some(Overlay::Input { .. })));
    typed(&mut app, "n/a");
    let effects = key(&mut app, KeyCode::Enter);
    assert_eq!(
        effects,
        vec![Effect::FindText {
            batch: 7,
            fields: 4,
            filter: Filter::default(),
            text: "n/a".into(),
            // A new search looks at the current row first.
            from_ord: 10,
            forward: true
        }]
    );
    assert!(app.overlay.is_none());
    app.update(Action::Found(Ok(Some(airlock::review::Hit {
        ord: 21,
        note: "match 2 of 3".into(),
    }))));
    assert!(
        app.status
            .as_ref()
            .is_some_and(|(_, said)| said == "match 2 of 3")
    );
    let effects = key(&mut app, KeyCode::Char('n'));
    assert!(matches!(
        effects[..],
        [Effect::FindText { forward: true, .. }]
    ));
    assert_eq!(app.search.as_deref(), Some("n/a"));

    key(&mut app, KeyCode::Char(':'));
    typed(&mut app, "90");
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        vec![Effect::JumpLine {
            batch: 7,
            filter: Filter::default(),
            file: None,
            line: 90
        }]
    );
    key(&mut app, KeyCode::Char(':'));
    typed(&mut app, "part-002.csv:40");
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        vec![Effect::JumpLine {
            batch: 7,
            filter: Filter::default(),
            file: Some("part-002.csv".into()),
            line: 40
        }]
    );
    key(&mut app, KeyCode::Char(':'));
    typed(&mut app, "x");
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert!(
        app.status
            .as_ref()
            .is_some_and(|(_, s)| s.contains("not a line number"))
    );
}

#[test]
fn approving_needs_a_note_and_an_abort_verdict_needs_an_override() {
    let mut app = fixture::app("review", View::Summary);
    key(&mut app, KeyCode::Char('a'));
    assert!(matches!(&app.overlay, Some(Overlay::Dialog(d)) if d.kind == DialogKind::Approve));
    assert!(key(&mut app, KeyCode::Enter).is_empty(), "no note yet");
    assert!(
        matches!(&app.overlay, Some(Overlay::Dialog(d)) if d.error.as_deref().is_some_and(|e| e.contains("note")))
    );
    typed(&mut app, "nightly");
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        vec![Effect::Promote {
            batch: 7,
            note: "nightly".into(),
            override_policy: false
        }]
    );
    assert!(matches!(app.overlay, Some(Overlay::Busy(_))));

    let mut app = fixture::app("abort", View::Summary);
    key(&mut app, KeyCode::Char('a'));
    typed(&mut app, "partner confirmed");
    assert!(
        key(&mut app, KeyCode::Enter).is_empty(),
        "abort needs the override"
    );
    app.update(Action::Key(KeyEvent::new(
        KeyCode::Char('o'),
        KeyModifiers::CONTROL,
    )));
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        vec![Effect::Promote {
            batch: 7,
            note: "partner confirmed".into(),
            override_policy: true
        }]
    );

    // Esc cancels without any effect.
    let mut app = fixture::app("review", View::Summary);
    key(&mut app, KeyCode::Char('a'));
    assert!(key(&mut app, KeyCode::Esc).is_empty());
    assert!(app.overlay.is_none());
}

#[test]
fn quarantine_abort_and_hold_record_a_note() {
    let mut app = fixture::app("review", View::Summary);
    app.update(Action::Key(KeyEvent::new(
        KeyCode::Char('Q'),
        KeyModifiers::SHIFT,
    )));
    typed(&mut app, "wait for resend");
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        vec![Effect::Decide {
            batch: 7,
            decision: Decision::Quarantine,
            note: "wait for resend".into()
        }]
    );
    key(&mut app, KeyCode::Char('x'));
    typed(&mut app, "wrong file");
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        vec![Effect::Decide {
            batch: 7,
            decision: Decision::Abort,
            note: "wrong file".into()
        }]
    );

    let mut app = fixture::app("review", View::Changes);
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char('m'));
    assert!(app.marked.contains(&8));
    app.update(Action::Key(KeyEvent::new(
        KeyCode::Char('H'),
        KeyModifiers::SHIFT,
    )));
    typed(&mut app, "price drop");
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        vec![Effect::Hold {
            batch: 7,
            ords: vec![8],
            note: "price drop".into()
        }]
    );
    app.update(Action::Decided {
        what: "held",
        result: Ok(()),
    });
    assert!(app.marked.is_empty());

    // Only a validated batch takes decisions.
    let mut app = fixture::app("review", View::Summary);
    if let Some(b) = &mut app.batch {
        b.summary.state = airlock::batch::State::Promoted;
    }
    key(&mut app, KeyCode::Char('a'));
    assert!(app.overlay.is_none());
    assert!(
        app.status
            .as_ref()
            .is_some_and(|(_, s)| s.contains("is promoted"))
    );
}

#[test]
fn loading_can_be_cancelled_and_quit_waits_for_it() {
    let mut app = App::new(Theme { color: false }, View::Batches);
    let effects = app.start_review("feed.toml".into(), "file.csv".into());
    assert_eq!(
        effects,
        vec![Effect::Check {
            feed: "feed.toml".into(),
            file: "file.csv".into()
        }]
    );
    assert_eq!(app.view, View::Loading);
    assert_eq!(key(&mut app, KeyCode::Esc), vec![Effect::CancelCheck]);
    assert!(app.load.cancelling);
    assert_eq!(key(&mut app, KeyCode::Char('q')), vec![Effect::CancelCheck]);
    assert!(!app.quit, "quit waits until the load has stopped");
    app.update(Action::Checked(Err("interrupted".into())));
    assert!(app.quit);

    let mut app = App::new(Theme { color: false }, View::Batches);
    app.start_review("f".into(), "g".into());
    assert_eq!(
        app.update(Action::Checked(Ok(3))),
        vec![Effect::LoadBatch(3)]
    );
    assert_eq!(app.view, View::Summary);
}

#[test]
fn batches_list_opens_drops_and_exports() {
    let mut app = fixture::app("review", View::Batches);
    app.batch = None;
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char('d'));
    assert!(matches!(&app.overlay, Some(Overlay::Dialog(d)) if d.kind == DialogKind::Drop(8)));
    assert_eq!(key(&mut app, KeyCode::Enter), vec![Effect::Drop(8)]);
    app.update(Action::Dropped(Ok(8)));
    key(&mut app, KeyCode::Char('e'));
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        vec![Effect::Export {
            batch: 8,
            path: "batch-8-quarantined.csv".into()
        }]
    );
    assert_eq!(key(&mut app, KeyCode::Enter), vec![Effect::LoadBatch(8)]);
    assert_eq!(app.view, View::Summary);
}

#[test]
fn crashed_batches_can_be_approved_again_or_checked_again() {
    let mut app = fixture::app("review", View::Summary);
    if let Some(b) = &mut app.batch {
        b.summary.state = airlock::batch::State::PromoteFailed;
    }
    key(&mut app, KeyCode::Char('a'));
    assert!(matches!(&app.overlay, Some(Overlay::Dialog(d)) if d.kind == DialogKind::Approve));
    key(&mut app, KeyCode::Esc);

    if let Some(b) = &mut app.batch {
        b.summary.state = airlock::batch::State::LoadFailed;
    }
    let effects = app.update(Action::Key(KeyEvent::new(
        KeyCode::Char('R'),
        KeyModifiers::SHIFT,
    )));
    assert_eq!(
        effects,
        vec![Effect::Check {
            feed: "/data/partner-products.toml".into(),
            file: "/data/products-broken.csv".into()
        }]
    );
    assert_eq!(app.view, View::Loading);
}

/// `q` in the help or a row's detail goes back, as in less and k9s; only then does it quit.
#[test]
fn q_in_an_overlay_goes_back() {
    let mut app = fixture::app("review", View::Quarantine);
    key(&mut app, KeyCode::Char('?'));
    assert!(matches!(app.overlay, Some(Overlay::Help)));
    key(&mut app, KeyCode::Char('q'));
    assert!(app.overlay.is_none() && !app.quit, "q closed the help");
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Enter);
    assert!(matches!(app.overlay, Some(Overlay::Detail { scroll: 0 })));
    key(&mut app, KeyCode::Char('q'));
    assert!(app.overlay.is_none() && !app.quit, "q closed the detail");
    assert_eq!(app.view, View::Quarantine);
    key(&mut app, KeyCode::Char('q'));
    assert!(app.quit);
}

/// A new batch at the top of the list (after `R`) leaves the cursor on the batch it was on,
/// so Enter opens the batch the operator chose.
#[test]
fn the_batches_cursor_follows_its_batch() {
    let mut app = fixture::app("review", View::Batches);
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(app.batches.rows[app.batches.cursor].batch, 8);
    let mut newer = fixture::batches();
    let mut ten = newer[0].clone();
    ten.batch = 10;
    newer.insert(0, ten);
    app.update(Action::Batches(Ok(newer)));
    assert_eq!(app.batches.rows[app.batches.cursor].batch, 8);
    // A batch that is gone: the cursor stays in range.
    app.update(Action::Batches(Ok(fixture::batches()[..1].to_vec())));
    assert_eq!(app.batches.cursor, 0);
}

/// A click on a tab opens it; on a row, the cursor goes there; on the row under the cursor,
/// it opens, as Enter does.
#[test]
fn clicks_choose_tabs_and_rows() {
    let mut app = fixture::app("review", View::Summary);
    // "  1 Summary  │  2 Quarantined (13)  │  3 Changes (252)": the second tab from x = 14.
    app.update(Action::Click { x: 20, y: 1 });
    assert_eq!(app.view, View::Quarantine);
    app.update(Action::Click { x: 45, y: 1 });
    assert_eq!(app.view, View::Changes);
    app.update(Action::Click { x: 3, y: 1 });
    assert_eq!(app.view, View::Summary);
    app.update(Action::Click { x: 20, y: 1 });
    // The third row of the list is on the screen's line 6.
    app.update(Action::Click { x: 10, y: 6 });
    assert_eq!(app.quarantine.cursor, 2);
    assert!(app.overlay.is_none());
    let effects = app.update(Action::Click { x: 10, y: 6 });
    assert!(matches!(app.overlay, Some(Overlay::Detail { .. })));
    assert!(matches!(effects[..], [Effect::Source { ord: 21, .. }]));
    // Below the last row, nothing happens; nor on the status bar, rows or not below it.
    app.overlay = None;
    app.update(Action::Click { x: 10, y: 20 });
    assert_eq!(app.quarantine.cursor, 2);
    app.quarantine.rows = numbered(0, 40);
    app.update(Action::Click { x: 10, y: 23 });
    assert_eq!(app.quarantine.cursor, 2);
    app.update(Action::Click { x: 10, y: 22 });
    assert_eq!(app.quarantine.cursor, 18, "the last row on screen");
}

/// The changes are asked for when their tab first shows, not when the batch opens: a big
/// batch's list takes a while to make, and the other views need not wait behind it.
#[test]
fn the_changes_are_read_when_their_tab_shows() {
    let mut app = fixture::app("review", View::Summary);
    let mut other = fixture::batch("review");
    other.summary.batch = 8;
    let opened = app.update(Action::Batch(Ok(Box::new(other))));
    assert!(!opened.iter().any(|e| matches!(e, Effect::Changes { .. })));
    let shown = key(&mut app, KeyCode::Char('3'));
    assert!(
        matches!(shown[..], [Effect::Changes { batch: 8, .. }]),
        "{shown:?}"
    );
    // Shown again while on their way, they are not asked for twice.
    key(&mut app, KeyCode::Char('1'));
    assert!(key(&mut app, KeyCode::Char('3')).is_empty());

    // A promoted batch's changes are in production: not listed against it as a plan.
    let mut app = fixture::app("review", View::Summary);
    let mut promoted = fixture::batch("review");
    promoted.summary.batch = 9;
    promoted.summary.applied = Some(serde_json::json!({"inserted": 242, "updated": 10}));
    app.update(Action::Batch(Ok(Box::new(promoted))));
    assert!(key(&mut app, KeyCode::Char('3')).is_empty());
    let screen = {
        let mut terminal =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).expect("terminal");
        terminal
            .draw(|f| airlock::tui::view::draw(&app, f))
            .expect("draw");
        terminal.backend().to_string()
    };
    assert!(screen.contains("batch 9 is in production"), "{screen}");
}

/// s sorts the rows by the current column, again the other way, then back to file order;
/// each time the list starts again from its first row.
#[test]
fn s_sorts_by_the_current_column_both_ways_then_not() {
    use airlock::review::Sort;
    let mut app = fixture::app("review", View::Quarantine);
    key(&mut app, KeyCode::Char('l'));
    key(&mut app, KeyCode::Char('l'));
    let sorts = |effects: &[Effect]| match effects {
        [Effect::Quarantined { sort, page, .. }] => {
            assert_eq!(page.from, PageFrom::Start);
            *sort
        }
        other => panic!("{other:?}"),
    };
    let price = |descending| {
        Some(Sort {
            field: 2,
            descending,
        })
    };
    assert_eq!(sorts(&key(&mut app, KeyCode::Char('s'))), price(false));
    assert_eq!(sorts(&key(&mut app, KeyCode::Char('s'))), price(true));
    assert_eq!(sorts(&key(&mut app, KeyCode::Char('s'))), None);
    // A search hit puts the list back in file order, and says so.
    key(&mut app, KeyCode::Char('s'));
    app.update(Action::Found(Ok(Some(airlock::review::Hit {
        ord: 21,
        note: "match 1 of 2".into(),
    }))));
    assert_eq!(app.sort, None);
    assert!(
        app.status
            .as_ref()
            .is_some_and(|(_, said)| said.contains("file order")),
        "{:?}",
        app.status
    );
}
