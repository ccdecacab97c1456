//! The review on ClickHouse reads what it reads on PostgreSQL: the case study's broken feed,
//! checked on both engines, gives the same quarantined rows page by page (in file order and
//! sorted, forward and back), the same counts, search hits, jumps, value frequencies,
//! records read back from the file, profile and list of changes — and holding a row back
//! does the same to both.
mod common;

use airlock::clickhouse::review as ch_review;
use airlock::review::{self, ChangedRow, Filter, PageFrom, QuarantinedRow, Sort};
use common::clickhouse::TestCh;
use common::tmux::Tmux;
use common::{TestDb, fixture};

struct Both {
    db: TestDb,
    pg: tokio_postgres::Client,
    pg_id: i64,
    t: TestCh,
    ch_id: i64,
}

/// The sample catalog on ClickHouse, as `demo --engine clickhouse` loads it, and the
/// partner's spec pointed at it (in `dir`).
async fn catalog_and_spec(t: &TestCh, dir: &std::path::Path) -> std::path::PathBuf {
    let schema = std::fs::read_to_string(fixture("schema-clickhouse.sql")).expect("schema");
    for statement in schema.split(";\n").filter(|s| {
        s.lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
    }) {
        t.exec(statement).await;
    }
    let text = std::fs::read_to_string(fixture("partner-products.toml"))
        .expect("spec")
        .replace("\"public.products\"", "\"products\"")
        .replace("\"public.categories\"", "\"categories\"");
    let spec = dir.join("partner-products.toml");
    std::fs::write(&spec, text).expect("write spec");
    spec
}

async fn clickhouse_checked(t: &TestCh, file: &str) -> i64 {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = catalog_and_spec(t, dir.path()).await;
    let feed = airlock::feed::load(&t.ch, &spec).await.expect("feed");
    airlock::clickhouse::check::check(&t.ch, &feed, &fixture(file), &Default::default())
        .await
        .expect("check")
}

async fn both() -> Both {
    let db = TestDb::with_catalog().await;
    let pg_id = db.check_broken().await;
    let pg = db.client().await;
    let t = TestCh::new().await;
    let ch_id = clickhouse_checked(&t, "products-broken.csv").await;
    Both {
        db,
        pg,
        pg_id,
        t,
        ch_id,
    }
}

impl Drop for Both {
    fn drop(&mut self) {
        forget(self.ch_id);
    }
}

/// Removes what batch `id` left in Airlock's catalog and staging on the shared engine.
fn forget(id: i64) {
    let url = common::clickhouse::server_url();
    common::on_own_runtime(async move {
        if let Ok(ch) = airlock::clickhouse::ClickHouse::connect(&url).await {
            let _ = airlock::clickhouse::leftovers::drop_staging(&ch, id, false).await;
            let _ = ch
                .execute(
                    &format!("DELETE FROM airlock.batches WHERE id = {id}"),
                    "cleaning up",
                )
                .await;
        }
    });
}

/// A row as both engines must show it: place, fields, raw text and each issue's check,
/// column and value (the messages name each engine's own types).
type RowView = (
    i64,
    Option<String>,
    i64,
    i64,
    Vec<Option<String>>,
    Option<String>,
    Vec<(String, Option<String>, Option<String>)>,
);

fn view(rows: &[QuarantinedRow]) -> Vec<RowView> {
    rows.iter()
        .map(|r| {
            let mut issues: Vec<_> = r
                .issues
                .iter()
                .map(|i| (i.check.clone(), i.column.clone(), i.value.clone()))
                .collect();
            issues.sort();
            (
                r.line,
                r.file.clone(),
                r.file_line,
                r.ord,
                r.fields.clone(),
                r.raw.clone(),
                issues,
            )
        })
        .collect()
}

fn filters() -> Vec<Filter> {
    let f = |check: Option<&str>, column: Option<&str>, kept: Option<&str>| Filter {
        check: check.map(str::to_string),
        column: column.map(str::to_string),
        kept: kept.map(str::to_string),
        value: None,
    };
    vec![
        Filter::default(),
        f(Some("type"), Some("price"), None),
        f(Some("lookup"), None, None),
        f(None, Some("sku"), None),
        f(None, None, Some("warning")),
        f(None, None, Some("superseded")),
        Filter {
            value: Some("N/A".into()),
            ..f(Some("type"), Some("price"), None)
        },
    ]
}

impl Both {
    /// Every row `filter` chooses, in `sort`'s order, read `limit` rows at a time from the
    /// start forward and from the end back; both walks must agree.
    async fn walk_pg(&self, filter: &Filter, sort: Option<Sort>, limit: i64) -> Vec<RowView> {
        let page = |from| async move {
            match sort {
                Some(s) => {
                    review::sorted_page(&self.pg, self.pg_id, 4, filter, s, from, limit).await
                }
                None => {
                    review::quarantined_page(&self.pg, self.pg_id, 4, filter, from, limit).await
                }
            }
            .expect("page")
        };
        walk(page).await
    }

    async fn walk_ch(&self, filter: &Filter, sort: Option<Sort>, limit: i64) -> Vec<RowView> {
        let page = |from| async move {
            match sort {
                Some(s) => {
                    ch_review::sorted_page(&self.t.ch, self.ch_id, 4, filter, s, from, limit).await
                }
                None => {
                    ch_review::quarantined_page(&self.t.ch, self.ch_id, 4, filter, from, limit)
                        .await
                }
            }
            .expect("page")
        };
        walk(page).await
    }

    async fn changes_pg(&self) -> Vec<ChangedRow> {
        let loaded = airlock::batch::load(&self.pg, self.pg_id)
            .await
            .expect("load");
        let mut all = Vec::new();
        let mut from = PageFrom::Start;
        loop {
            let rows = review::changes_page(&self.pg, &loaded, from, 40)
                .await
                .expect("changes");
            let Some(last) = rows.last() else { break };
            from = PageFrom::After(last.ord);
            all.extend(rows);
        }
        all
    }

    async fn changes_ch(&self) -> Vec<ChangedRow> {
        let r = airlock::clickhouse::promote::ready(&self.t.ch, self.ch_id)
            .await
            .expect("ready");
        let mut all = Vec::new();
        let mut from = PageFrom::End;
        loop {
            let rows = ch_review::changes_page(&self.t.ch, &r, from, 40)
                .await
                .expect("changes");
            let Some(first) = rows.first() else { break };
            from = PageFrom::Before(first.ord);
            all.splice(0..0, rows);
        }
        all
    }
}

async fn walk<F, Fut>(page: F) -> Vec<RowView>
where
    F: Fn(PageFrom) -> Fut,
    Fut: std::future::Future<Output = Vec<QuarantinedRow>>,
{
    let mut forward = Vec::new();
    let mut from = PageFrom::Start;
    loop {
        let rows = page(from).await;
        let Some(last) = rows.last() else { break };
        from = PageFrom::After(last.ord);
        forward.extend(view(&rows));
    }
    let mut back = Vec::new();
    let mut from = PageFrom::End;
    loop {
        let rows = page(from).await;
        let Some(first) = rows.first() else { break };
        from = PageFrom::Before(first.ord);
        back.splice(0..0, view(&rows));
    }
    assert_eq!(forward, back, "forward and back walks differ");
    forward
}

#[tokio::test]
async fn quarantined_rows_read_the_same_on_both_engines() {
    let b = both().await;
    for filter in filters() {
        let pg = b.walk_pg(&filter, None, 4).await;
        let ch = b.walk_ch(&filter, None, 4).await;
        assert_eq!(ch, pg, "{filter:?}");
        let pg_count = review::quarantined_rank(&b.pg, b.pg_id, &filter, i64::MAX)
            .await
            .expect("count");
        let ch_count = ch_review::quarantined_rank(&b.t.ch, b.ch_id, &filter, i64::MAX)
            .await
            .expect("count");
        assert_eq!((ch_count, pg_count), (pg.len() as u64, pg.len() as u64));
        // Where each row stands.
        for (i, row) in pg.iter().enumerate() {
            let rank = ch_review::quarantined_rank(&b.t.ch, b.ch_id, &filter, row.3)
                .await
                .expect("rank");
            assert_eq!(rank, i as u64);
        }
    }
    let all = b.walk_ch(&Filter::default(), None, 100).await;
    assert_eq!(all.len(), 13);
    // A page from a row on.
    let at = ch_review::quarantined_page(
        &b.t.ch,
        b.ch_id,
        4,
        &Filter::default(),
        PageFrom::At(all[5].3),
        100,
    )
    .await
    .expect("page");
    assert_eq!(view(&at), all[5..].to_vec());
    // Sorted by every field, both ways, three rows at a time.
    for field in 0..4 {
        for descending in [false, true] {
            let sort = Some(Sort { field, descending });
            let pg = b.walk_pg(&Filter::default(), sort, 3).await;
            let ch = b.walk_ch(&Filter::default(), sort, 3).await;
            assert_eq!(ch, pg, "sorted by field {field}, descending {descending}");
            assert_eq!(ch.len(), 13);
        }
    }
}

#[tokio::test]
async fn search_jump_frequencies_source_and_profile_match_postgresql() {
    let b = both().await;
    let all = Filter::default();
    for needle in [
        "garden",
        "HEDGE",
        "is not in",
        "N/A",
        "sku-00001",
        "toys ",
        "zzz",
    ] {
        for forward in [true, false] {
            // Every hit from one end, until the search wraps around.
            let mut from = if forward { i64::MIN } else { i64::MAX };
            for _ in 0..15 {
                let pg = review::search(&b.pg, b.pg_id, 4, &all, needle, from, forward)
                    .await
                    .expect("search");
                let ch = ch_review::search(&b.t.ch, b.ch_id, 4, &all, needle, from, forward)
                    .await
                    .expect("search");
                assert_eq!(ch, pg, "{needle:?} from {from}, forward {forward}");
                match pg {
                    Some(hit) if !hit.note.contains("again") => from = hit.ord,
                    _ => break,
                }
            }
        }
    }
    for line in [1, 13, 20, 23, 84, 100, 133, 134, 1000] {
        let pg = review::go_to_line(&b.pg, b.pg_id, &all, None, line)
            .await
            .expect("jump");
        let ch = ch_review::go_to_line(&b.t.ch, b.ch_id, &all, None, line)
            .await
            .expect("jump");
        assert_eq!(ch, pg, "line {line}");
        assert!(pg.is_some());
    }
    let refused = ch_review::go_to_line(&b.t.ch, b.ch_id, &all, Some("part-1.csv"), 3).await;
    assert!(
        refused
            .expect_err("a part the batch does not have")
            .to_string()
            .contains("no file named `part-1.csv`")
    );
    for filter in filters() {
        let pg = review::value_frequencies(&b.pg, b.pg_id, &filter, 200)
            .await
            .expect("frequencies");
        let ch = ch_review::value_frequencies(&b.t.ch, b.ch_id, &filter, 200)
            .await
            .expect("frequencies");
        assert_eq!(ch, pg, "{filter:?}");
    }
    let n_a = ch_review::value_frequencies(
        &b.t.ch,
        b.ch_id,
        &Filter {
            check: Some("type".into()),
            column: Some("price".into()),
            ..Filter::default()
        },
        200,
    )
    .await
    .expect("frequencies");
    assert!(
        n_a.values.contains(&(Some("N/A".to_string()), 2)),
        "{n_a:?}"
    );
    for row in b.walk_pg(&all, None, 100).await {
        let pg = review::source_text(&b.pg, b.pg_id, row.3)
            .await
            .expect("source");
        let ch = ch_review::source_text(&b.t.ch, b.ch_id, row.3)
            .await
            .expect("source");
        assert_eq!(ch, pg, "line {}", row.0);
        assert!(pg.is_some());
    }
    let header: Vec<String> = ["sku", "name", "price", "category"]
        .map(String::from)
        .to_vec();
    let pg = review::column_profile(&b.pg, b.pg_id, &header)
        .await
        .expect("profile");
    let ch = ch_review::column_profile(&b.t.ch, b.ch_id)
        .await
        .expect("profile");
    assert_eq!(ch, pg);
    assert_eq!(ch.len(), 4);
}

/// The rows that would change production, before → after, are the same list on both
/// engines, whichever way it is paged; holding a row back takes it out of the list and puts
/// it among the quarantined rows, with the note, on both; the plan is made again.
#[tokio::test]
async fn changes_and_holding_back_match_postgresql() {
    let b = both().await;
    let pg = b.changes_pg().await;
    let ch = b.changes_ch().await;
    assert_eq!(ch, pg);
    assert_eq!(ch.len(), 252);
    let rounded = ch.iter().find(|c| c.key == "SKU-0000058").expect("SKU-58");
    assert_eq!(
        (
            rounded.changes[0].before.as_deref(),
            rounded.changes[0].after.as_deref()
        ),
        (Some("72.50"), Some("12.35"))
    );
    let opened = ch_review::open(&b.t.ch, b.ch_id).await.expect("open");
    assert_eq!(opened.header, ["sku", "name", "price", "category"]);
    assert_eq!(opened.key_fields, [0]);
    assert_eq!(
        opened.columns,
        [
            ("sku".to_string(), 0),
            ("name".to_string(), 1),
            ("price".to_string(), 2),
            ("category_id".to_string(), 3)
        ]
    );
    let held = ch_review::hold_back(&b.t.ch, b.ch_id, &[rounded.ord], "price looks wrong")
        .await
        .expect("hold");
    assert_eq!(held, 1);
    let mut pg_client = b.db.client().await;
    let loaded = airlock::batch::load(&b.pg, b.pg_id).await.expect("load");
    review::hold_back(&mut pg_client, &loaded, &[rounded.ord], "price looks wrong")
        .await
        .expect("hold");
    let (pg, ch) = (b.changes_pg().await, b.changes_ch().await);
    assert_eq!(ch, pg);
    assert_eq!(ch.len(), 251);
    assert!(!ch.iter().any(|c| c.key == "SKU-0000058"));
    let summary = airlock::clickhouse::batches::summary(&b.t.ch, b.ch_id)
        .await
        .expect("summary");
    assert_eq!(
        (summary.rows.quarantined, summary.plan.update),
        (14, 9),
        "{summary:?}"
    );
    assert_eq!(
        summary.decisions.last().map(|d| d.decision.as_str()),
        Some("hold")
    );
    let held_filter = Filter {
        check: Some("held".into()),
        ..Filter::default()
    };
    let (pg, ch) = (
        b.walk_pg(&held_filter, None, 5).await,
        b.walk_ch(&held_filter, None, 5).await,
    );
    assert_eq!(ch, pg);
    assert_eq!(ch.len(), 1);
    let issue = ch_review::quarantined_page(&b.t.ch, b.ch_id, 4, &held_filter, PageFrom::Start, 5)
        .await
        .expect("page");
    assert!(
        issue[0].issues[0].message.ends_with(": price looks wrong"),
        "{issue:?}"
    );
    // Held rows are the operator's: holding one that is not a good row holds nothing.
    assert_eq!(
        ch_review::hold_back(&b.t.ch, b.ch_id, &[rounded.ord], "again")
            .await
            .expect("hold"),
        0
    );
    // The plan made again, by hand.
    let said = ch_review::replan(&b.t.ch, b.ch_id).await.expect("replan");
    assert_eq!(
        said.as_deref(),
        Some("plan made again: 242 insert · 9 update · 35 unchanged")
    );
}

/// The real binary in a terminal, on ClickHouse: the case study loaded and summarized,
/// a quarantined row opened with its text read back from the file, the changes before →
/// after, then approved with a note — production upserted, the decision recorded.
#[tokio::test]
async fn review_browse_and_approve_in_a_terminal_on_clickhouse() {
    let t = TestCh::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = catalog_and_spec(&t, dir.path()).await;
    let url = format!(
        "clickhouse://default@{}:{}/{}",
        t.url.host, t.url.port, t.name
    );
    let command = format!(
        "{} review {} {}; sleep 30",
        env!("CARGO_BIN_EXE_airlock"),
        spec.display(),
        fixture("products-broken.csv").display()
    );
    let tmux = Tmux::start("ch-review", 100, 30, &url, &command);
    let summary = tmux.wait_for("REVIEW");
    assert!(summary.contains("13 quarantined (4.3%)"), "{summary}");
    let id: i64 = summary
        .split("batch ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("the batch's number on screen");
    tmux.keys(&["2"]);
    let rows = tmux.wait_for("Hedge trimmer");
    assert!(rows.contains("23     type price"), "{rows}");
    tmux.keys(&["j"]);
    tmux.keys(&["Enter"]);
    let detail = tmux.wait_for("SKU-0000062,Hedge trimmer,Garden,34.50");
    assert!(
        detail.contains("lookup category_id: '34.50' is not in"),
        "{detail}"
    );
    tmux.keys(&["Escape"]);
    tmux.keys(&["3"]);
    let changes = tmux.wait_for("SKU-0000058");
    assert!(changes.contains("price 72.50 → 12.35"), "{changes}");
    tmux.keys(&["a"]);
    let dialog = tmux.wait_for("Approve and promote");
    assert!(
        dialog.contains("242 insert · 10 update · 35 unchanged"),
        "{dialog}"
    );
    // The dialog's text as one line: where it wraps depends on the names' lengths.
    let text: Vec<&str> = dialog
        .lines()
        .filter_map(|l| l.split_once('│'))
        .filter_map(|(_, rest)| rest.split('│').next())
        .map(str::trim)
        .collect();
    assert!(
        text.join(" ")
            .contains("(upsert mode), in one EXCHANGE TABLES:"),
        "{dialog}"
    );
    tmux.keys(&["-l", "approved on clickhouse"]);
    tmux.keys(&["Enter"]);
    let result = tmux.wait_for("PROMOTED");
    assert!(
        result.contains("242 inserted · 10 updated · 35 unchanged"),
        "{result}"
    );
    tmux.keys(&["q"]);
    assert_eq!(
        t.rows("SELECT toString(count()) FROM products").await,
        [[Some("342".to_string())]]
    );
    let summary = airlock::clickhouse::batches::summary(&t.ch, id)
        .await
        .expect("summary");
    let last = summary.decisions.last().expect("a decision");
    assert_eq!(
        (last.decision.as_str(), last.note.as_deref()),
        ("approve", Some("approved on clickhouse"))
    );
    forget(id);
}

/// A feed in three files is one batch on ClickHouse as on PostgreSQL: every position names
/// its file and line — the summary's examples, the duplicate's message, the quarantined
/// rows, a jump to `part-10.csv:1`, the export — and each record is read back from its own
/// part.
#[tokio::test]
async fn a_batch_of_several_files_names_file_and_line_on_both_engines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let drop = dir.path().join("drop");
    std::fs::create_dir(&drop).expect("dir");
    let header = "sku,name,price,category\n";
    for (name, rows) in [
        (
            "part-1.csv",
            "SKU-0000201,One,1.00,Tools\nSKU-0000202,Two,2.00,Garden\n",
        ),
        (
            "part-2.csv",
            "SKU-0000203,Three,N/A,Garden\nSKU-0000204,Four,4.00,Kitchen\nSKU-0000205,\"Five,\nwith a line break\",5.00,Toys\n",
        ),
        (
            "part-10.csv",
            "SKU-0000206,Six,6.00,Toys\nSKU-0000201,One again,1.50,Tools\n",
        ),
    ] {
        std::fs::write(drop.join(name), format!("{header}{rows}")).expect("part");
    }
    let db = TestDb::with_catalog().await;
    let pg_id = db
        .check(&fixture("partner-products.toml"), &drop)
        .await
        .expect("check");
    let pg = db.client().await;
    let t = TestCh::new().await;
    let spec = catalog_and_spec(&t, dir.path()).await;
    let feed = airlock::feed::load(&t.ch, &spec).await.expect("feed");
    let ch_id = airlock::clickhouse::check::check(&t.ch, &feed, &drop, &Default::default())
        .await
        .expect("check");
    let b = Both {
        db,
        pg,
        pg_id,
        t,
        ch_id,
    };
    let ch_summary = airlock::clickhouse::batches::summary(&b.t.ch, ch_id)
        .await
        .expect("summary");
    let pg_summary = b.db.summary(pg_id).await;
    assert_eq!(ch_summary.file.parts, pg_summary.file.parts);
    let places = |s: &airlock::report::Summary| -> Vec<(String, String, String)> {
        s.checks
            .iter()
            .map(|c| {
                (
                    c.check.clone(),
                    c.example.place(),
                    c.example
                        .message
                        .replace("a valid number", "a valid Decimal(10, 2)"),
                )
            })
            .collect()
    };
    assert_eq!(places(&ch_summary), places(&pg_summary));
    assert!(
        places(&ch_summary)
            .iter()
            .any(|(check, at, message)| check == "duplicate_key"
                && at == "part-1.csv:2"
                && message.contains("(lines part-1.csv:2, part-10.csv:3)")),
        "{:?}",
        places(&ch_summary)
    );
    let all = Filter::default();
    let (pg_rows, ch_rows) = (
        b.walk_pg(&all, None, 2).await,
        b.walk_ch(&all, None, 2).await,
    );
    assert_eq!(ch_rows, pg_rows);
    let shown: Vec<String> = ch_rows
        .iter()
        .map(|r| format!("{}:{}", r.1.clone().unwrap_or_default(), r.2))
        .collect();
    assert_eq!(shown, ["part-1.csv:2", "part-2.csv:2", "part-10.csv:3"]);
    for row in &ch_rows {
        let text = ch_review::source_text(&b.t.ch, ch_id, row.3)
            .await
            .expect("source");
        assert_eq!(
            text,
            review::source_text(&b.pg, pg_id, row.3)
                .await
                .expect("source")
        );
        assert!(text.is_some_and(|t| t.starts_with(row.4[0].as_deref().unwrap_or("?"))));
    }
    for (file, line) in [("part-10.csv", 1), ("part-2.csv", 1), ("part-1.csv", 3)] {
        assert_eq!(
            ch_review::go_to_line(&b.t.ch, ch_id, &all, Some(file), line)
                .await
                .expect("jump"),
            review::go_to_line(&b.pg, pg_id, &all, Some(file), line)
                .await
                .expect("jump"),
            "{file}:{line}"
        );
    }
    let (pg_out, ch_out) = (dir.path().join("pg.csv"), dir.path().join("ch.csv"));
    airlock::export::quarantined(&b.pg, pg_id, &pg_out)
        .await
        .expect("export");
    airlock::clickhouse::decide::export(&b.t.ch, ch_id, &ch_out)
        .await
        .expect("export");
    let read = |p: &std::path::Path| -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .from_path(p)
            .expect("export")
            .records()
            .map(|r| {
                r.expect("record")
                    .iter()
                    .map(|f| f.replace("a valid number", "a valid Decimal(10, 2)"))
                    .collect()
            })
            .collect()
    };
    let exported = read(&ch_out);
    assert_eq!(exported, read(&pg_out));
    assert_eq!(exported[0][..4], ["file", "line", "column", "check"]);
    assert_eq!(exported.len(), 4);
}
