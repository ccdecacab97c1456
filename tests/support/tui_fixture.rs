//! A review app filled with the case study's data, without a database: for pure update tests
//! and screen snapshots.
#![allow(dead_code)]

use std::collections::BTreeMap;

use airlock::batch::BatchListItem;
use airlock::plan::Plan;
use airlock::report::{CheckSummary, DecisionRecord, Example, FileFacts, Summary};
use airlock::review::{Change, ChangedRow, ColumnProfile, QuarantinedRow, RowIssueView};
use airlock::tui::action::{Action, BatchData};
use airlock::tui::app::{App, View};
use airlock::tui::theme::Theme;
use airlock::validate::policy::RowCounts;

fn check(
    check: &str,
    column: Option<&str>,
    severity: &str,
    rows: i64,
    line: i64,
    value: &str,
    message: &str,
) -> CheckSummary {
    CheckSummary {
        check: check.into(),
        column: column.map(str::to_string),
        severity: severity.into(),
        rows,
        example: Example {
            file: None,
            line,
            value: Some(value.into()),
            message: message.into(),
        },
    }
}

pub fn summary(verdict: &str) -> Summary {
    Summary {
        batch: 7,
        feed: "partner-products".into(),
        target: "public.products".into(),
        mode: "upsert".into(),
        state: airlock::batch::State::Validated,
        verdict: airlock::batch::Verdict::parse(verdict),
        breaches: if verdict == "abort" {
            vec!["13 quarantined rows, more than max_bad_rows = 5".into()]
        } else {
            vec![]
        },
        rows: RowCounts {
            total: 300,
            good: 287,
            quarantined: 13,
            superseded: 0,
            warned: 1,
        },
        checks: vec![
            check(
                "type",
                Some("price"),
                "error",
                4,
                13,
                "Garden",
                "'Garden' is not a valid number",
            ),
            check(
                "lookup",
                Some("category_id"),
                "error",
                3,
                14,
                "34.50",
                "'34.50' is not in public.categories.name",
            ),
            check(
                "duplicate_key",
                Some("sku"),
                "error",
                2,
                83,
                "SKU-0000131",
                "the key appears on 2 rows (lines 83, 84)",
            ),
            check(
                "columns",
                None,
                "error",
                1,
                93,
                "",
                "the row has 3 fields, the header has 4",
            ),
            check(
                "rounded",
                Some("price"),
                "warning",
                1,
                10,
                "12.345",
                "12.345 will be stored as 12.35 (numeric(10,2) keeps 2 decimal places)",
            ),
        ],
        plan: Plan {
            skipped: 0,
            insert: 242,
            update: 10,
            unchanged: 35,
            delete: 0,
            production_rows: 100,
            columns: BTreeMap::from([
                ("name".into(), 3),
                ("price".into(), 8),
                ("category_id".into(), 0),
            ]),
            moved: BTreeMap::from([("price".into(), 6), ("category_id".into(), 0)]),
            first_moved: BTreeMap::from([("price".into(), 4)]),
            writes: Some(1234),
            by_promotion: false,
        },
        file: FileFacts {
            path: "/data/products-broken.csv".into(),
            spec: "/data/partner-products.toml".into(),
            size: Some(11476),
            sha256: Some("744d0d49fd44aa".into()),
            encoding: "utf-8".into(),
            compression: Some("none".into()),
            text_size: Some(11_476),
            format: Some("csv".into()),
            parts: vec![],
        },
        notes: vec![],
        error: None,
        db_role: "ops".into(),
        os_user: Some("alice".into()),
        created_at: "2026-11-21T03:00:00Z".into(),
        decisions: vec![],
        applied: None,
        previous_table: None,
        kept_for_undo: None,
        since_last: None,
        profile: Vec::new(),
        timings: None,
        staging_lost_at: None,
        conversions: Vec::new(),
    }
}

pub fn batch(verdict: &str) -> BatchData {
    BatchData {
        summary: summary(verdict),
        header: vec![
            "sku".into(),
            "name".into(),
            "price".into(),
            "category".into(),
        ],
        columns: vec![
            ("sku".into(), 0),
            ("name".into(), 1),
            ("price".into(), 2),
            ("category_id".into(), 3),
        ],
        key_fields: vec![0],
        notice: None,
        all_at_once: "in one transaction",
    }
}

pub fn quarantined_rows() -> Vec<QuarantinedRow> {
    let issue = |column: &str, check: &str, value: &str, message: &str| RowIssueView {
        column: Some(column.into()),
        check: check.into(),
        value: Some(value.into()),
        message: message.into(),
    };
    vec![
        QuarantinedRow {
            line: 13,
            file: None,
            file_line: 13,
            ord: 11,
            fields: vec![
                Some("SKU-0000061".into()),
                Some("76.25".into()),
                Some("Garden".into()),
                None,
            ],
            raw: None,
            issues: vec![issue(
                "price",
                "type",
                "Garden",
                "'Garden' is not a valid number",
            )],
        },
        QuarantinedRow {
            line: 14,
            file: None,
            file_line: 14,
            ord: 12,
            fields: vec![
                Some("SKU-0000062".into()),
                Some("Hedge trimmer".into()),
                Some("Garden".into()),
                Some("34.50".into()),
            ],
            raw: None,
            issues: vec![
                issue("price", "type", "Garden", "'Garden' is not a valid number"),
                issue(
                    "category_id",
                    "lookup",
                    "34.50",
                    "'34.50' is not in public.categories.name",
                ),
            ],
        },
        QuarantinedRow {
            line: 23,
            file: None,
            file_line: 23,
            ord: 21,
            fields: vec![
                Some("SKU-0000071".into()),
                Some("Catalog item 71".into()),
                Some("N/A".into()),
                Some("Garden".into()),
            ],
            raw: None,
            issues: vec![issue("price", "type", "N/A", "'N/A' is not a valid number")],
        },
        QuarantinedRow {
            line: 93,
            file: None,
            file_line: 93,
            ord: 91,
            fields: vec![
                Some("SKU-0000141".into()),
                Some("Product 141".into()),
                Some("44.99".into()),
                None,
            ],
            raw: Some("SKU-0000141,Product 141,44.99".into()),
            issues: vec![RowIssueView {
                column: None,
                check: "columns".into(),
                value: None,
                message: "the row has 3 fields, the header has 4".into(),
            }],
        },
    ]
}

pub fn changed_rows() -> Vec<ChangedRow> {
    vec![
        ChangedRow {
            kind: airlock::review::ChangeKind::Update,
            line: 8,
            ord: 6,
            key: "SKU-0000056".into(),
            changes: vec![
                Change {
                    column: "name".into(),
                    before: Some("Catalog item 56".into()),
                    after: Some("Hammer, claw".into()),
                },
                Change {
                    column: "price".into(),
                    before: Some("70.00".into()),
                    after: Some("71.00".into()),
                },
            ],
        },
        ChangedRow {
            kind: airlock::review::ChangeKind::Update,
            line: 10,
            ord: 8,
            key: "SKU-0000058".into(),
            changes: vec![Change {
                column: "price".into(),
                before: Some("72.50".into()),
                after: Some("12.35".into()),
            }],
        },
    ]
}

pub fn profile() -> Vec<ColumnProfile> {
    let col = |name: &str, nulls, distinct, numeric, non_null, top: &[(&str, i64)]| ColumnProfile {
        name: name.into(),
        nulls,
        distinct,
        numeric,
        non_null,
        max_length: 20,
        top: top.iter().map(|(v, n)| (v.to_string(), *n)).collect(),
        estimated: false,
        mean: None,
    };
    vec![
        col(
            "sku",
            0,
            299,
            0,
            300,
            &[("SKU-0000131", 2), ("SKU-0000051", 1)],
        ),
        col(
            "name",
            1,
            299,
            1,
            299,
            &[("76.25", 1), ("Catalog item 100", 1)],
        ),
        col("price", 0, 147, 296, 300, &[("10.99", 3), ("11.99", 3)]),
        col("category", 2, 8, 1, 298, &[("Tools", 60), ("Garden", 59)]),
    ]
}

pub fn batches() -> Vec<BatchListItem> {
    let item = |batch, state: &str, verdict: Option<&str>, age| BatchListItem {
        batch,
        feed: "partner-products".into(),
        target: "public.products".into(),
        mode: "upsert".into(),
        state: airlock::batch::State::parse(state).expect("state"),
        verdict: verdict.and_then(airlock::batch::Verdict::parse),
        staging_lost_at: None,
        file: "/data/products.csv".into(),
        rows_total: Some(300),
        rows_good: Some(287),
        rows_quarantined: Some(13),
        created_at: "2026-11-21T03:00:00Z".into(),
        age_seconds: age,
        staging_bytes: 311_296,
    };
    vec![
        item(9, "validated", Some("review"), 40),
        item(8, "load_failed", None, 3600 * 5),
        item(7, "promoted", Some("clean"), 86_400 * 3),
    ]
}

pub fn decision() -> DecisionRecord {
    DecisionRecord {
        decision: "approve".into(),
        db_role: "ops".into(),
        os_user: Some("alice".into()),
        decided_at: "2026-11-21T03:14:15Z".into(),
        note: Some("nightly feed, N/A prices reported to the partner".into()),
        counts: None,
    }
}

/// An app with batch 7 open on `view`, pages loaded.
pub fn app(verdict: &str, view: View) -> App {
    let mut app = App::new(Theme { color: false }, view);
    app.update(Action::Resize {
        width: 80,
        height: 24,
    });
    app.batch = Some(batch(verdict));
    app.profile = Some(profile());
    app.quarantine.rows = quarantined_rows();
    app.quarantine.at_start = true;
    app.quarantine.at_end = true;
    (app.quarantine.offset, app.quarantine.total) = (Some(0), Some(13));
    app.changes.rows = changed_rows();
    (app.changes.offset, app.changes.total) = (Some(0), Some(252));
    app.batches.rows = batches();
    app.view = view;
    app
}
