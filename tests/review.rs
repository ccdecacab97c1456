//! Reading a batch for review against a real database: keyset pages of quarantined rows in
//! both directions and under a filter, jumping to a line, searching, the changes, the column
//! profile, the record read back from the file, and holding rows back.
mod common;

use airlock::review::{self, Filter, PageFrom};
use common::TestDb;

/// Sorted by a field, numbers come by value (not as text: 9 before 10), then text byte by
/// byte, empty fields last; the reverse sort is the reverse list; and paging a few rows at a
/// time, forward or back, gives the same list as one page.
#[tokio::test]
async fn quarantined_rows_sort_by_a_field_and_page_both_ways() {
    let db = TestDb::with_catalog().await;
    let id = db.check_broken().await;
    let client = db.client().await;
    let all = Filter::default();
    let price = |descending| review::Sort {
        field: 2,
        descending,
    };
    let page = |sort, from, limit| review::sorted_page(&client, id, 4, &all, sort, from, limit);
    let whole = page(price(false), PageFrom::Start, 100)
        .await
        .expect("page");
    assert_eq!(whole.len(), 13);
    let values: Vec<Option<&str>> = whole.iter().map(|r| r.fields[2].as_deref()).collect();
    let numbers: Vec<f64> = values
        .iter()
        .map_while(|v| v.and_then(|v| v.trim().parse::<f64>().ok()))
        .collect();
    assert!(numbers.len() >= 5, "{values:?}");
    assert!(numbers.windows(2).all(|w| w[0] <= w[1]), "{values:?}");
    let text: Vec<&str> = values[numbers.len()..].iter().map_while(|v| *v).collect();
    assert!(text.windows(2).all(|w| w[0] <= w[1]), "{values:?}");
    assert!(
        values[numbers.len() + text.len()..]
            .iter()
            .all(|v| v.is_none()),
        "empty fields last: {values:?}"
    );
    let ords = |rows: &[review::QuarantinedRow]| rows.iter().map(|r| r.ord).collect::<Vec<_>>();
    let reverse = page(price(true), PageFrom::Start, 100).await.expect("page");
    let mut back = ords(&whole);
    back.reverse();
    assert_eq!(ords(&reverse), back);
    // Three rows at a time, forward from the start and back from the end.
    let mut walked = Vec::new();
    let mut from = PageFrom::Start;
    loop {
        let rows = page(price(false), from, 3).await.expect("page");
        let Some(last) = rows.last() else { break };
        from = PageFrom::After(last.ord);
        walked.extend(ords(&rows));
    }
    assert_eq!(walked, ords(&whole));
    let mut walked = Vec::new();
    let mut from = PageFrom::End;
    loop {
        let rows = page(price(false), from, 3).await.expect("page");
        let Some(first) = rows.first() else { break };
        from = PageFrom::Before(first.ord);
        walked.splice(0..0, ords(&rows));
    }
    assert_eq!(walked, ords(&whole));
    // A row in the middle, and the rows from it on.
    let at = page(price(false), PageFrom::At(whole[6].ord), 100)
        .await
        .expect("page");
    assert_eq!(ords(&at), ords(&whole[6..]));
}

#[tokio::test]
async fn quarantined_rows_page_by_keyset_both_ways() {
    let db = TestDb::with_catalog().await;
    let id = db.check_broken().await;
    let client = db.client().await;
    let all = Filter::default();
    let lines = |rows: &[review::QuarantinedRow]| rows.iter().map(|r| r.line).collect::<Vec<_>>();

    let first = review::quarantined_page(&client, id, 4, &all, PageFrom::Start, 5)
        .await
        .expect("page");
    assert_eq!(lines(&first), vec![13, 14, 23, 33, 48]);
    assert_eq!(first[1].issues.len(), 2, "line 14 failed two checks");
    assert_eq!(first[1].fields[1].as_deref(), Some("Hedge trimmer"));
    let next = review::quarantined_page(&client, id, 4, &all, PageFrom::After(first[4].ord), 5)
        .await
        .expect("page");
    assert_eq!(lines(&next), vec![73, 83, 84, 93, 103]);
    // Set aside after the load (a duplicate key, a CHECK constraint), these rows' fields
    // came from the typed rows table, some printed back from their typed values.
    let fields = |f: [&str; 4]| f.map(|f| Some(f.to_string()));
    assert_eq!(
        next[1].fields,
        fields(["SKU-0000131", "Product 131", "34.99", "Garden"])
    );
    assert_eq!(
        next[4].fields,
        fields(["SKU-0000151", "Product 151", "-4.00", "Garden"])
    );
    let back = review::quarantined_page(&client, id, 4, &all, PageFrom::Before(next[0].ord), 3)
        .await
        .expect("page");
    assert_eq!(lines(&back), vec![23, 33, 48]);
    let last = review::quarantined_page(&client, id, 4, &all, PageFrom::End, 2)
        .await
        .expect("page");
    assert_eq!(lines(&last), vec![123, 133]);
    let ragged = &next[3];
    assert_eq!(ragged.raw.as_deref(), Some("SKU-0000141,Product 141,44.99"));

    let lookups = Filter {
        check: Some("lookup".into()),
        column: Some("category_id".into()),
        kept: None,
        value: None,
    };
    let page = review::quarantined_page(&client, id, 4, &lookups, PageFrom::Start, 10)
        .await
        .expect("page");
    assert_eq!(lines(&page), vec![14, 33, 73]);
    let at = review::jump_to_line(&client, id, &lookups, None, 20)
        .await
        .expect("jump");
    let page = review::quarantined_page(
        &client,
        id,
        4,
        &lookups,
        PageFrom::At(at.expect("a row")),
        10,
    )
    .await
    .expect("page");
    assert_eq!(lines(&page), vec![33, 73]);
    // The frequency view: a check's offending values, commonest first; one of them filters
    // the rows (and the search) to the rows that carry it.
    let type_price = Filter {
        check: Some("type".into()),
        column: Some("price".into()),
        ..Filter::default()
    };
    let counted = review::value_frequencies(&client, id, &type_price, 10)
        .await
        .expect("frequencies");
    assert_eq!(
        (counted.values.clone(), counted.distinct, counted.rows),
        (
            vec![
                (Some("Garden".to_string()), 2),
                (Some("N/A".to_string()), 2)
            ],
            2,
            4
        )
    );
    let top = review::value_frequencies(&client, id, &type_price, 1)
        .await
        .expect("frequencies");
    assert_eq!((top.values.len(), top.distinct, top.rows), (1, 2, 4));
    let na = Filter {
        value: Some("N/A".into()),
        ..type_price.clone()
    };
    let page = review::quarantined_page(&client, id, 4, &na, PageFrom::Start, 10)
        .await
        .expect("page");
    assert_eq!(lines(&page), vec![23, 48]);
    let hit = review::search(&client, id, 4, &na, "catalog", 0, true)
        .await
        .expect("search")
        .expect("hit");
    assert_eq!(hit.note, "match 1 of 2");
    // The rows a warning let through browse like the bad ones, with their warning.
    let rounded = Filter {
        check: Some("rounded".into()),
        column: Some("price".into()),
        kept: Some("warning".into()),
        value: None,
    };
    let page = review::quarantined_page(&client, id, 4, &rounded, PageFrom::Start, 10)
        .await
        .expect("warned page");
    assert_eq!(lines(&page), vec![10]);
    assert_eq!(page[0].fields[2].as_deref(), Some("12.345"));
    assert_eq!(
        page[0]
            .issues
            .iter()
            .map(|i| i.check.as_str())
            .collect::<Vec<_>>(),
        ["rounded"]
    );
    assert_eq!(
        review::jump_to_line(&client, id, &lookups, None, 100)
            .await
            .expect("jump"),
        None
    );
    // The counts are kept with the batch and counted again once it has new issues (as when
    // a promotion sets rows aside); without a column they are counted live.
    client
        .batch_execute(&format!(
            "INSERT INTO airlock_stage.batch_{id}_issues (line, ord, \"column\", \"check\", severity, value, message) \
             VALUES (90, 89, 'price', 'type', 'error', 'N/A', 'later')"
        ))
        .await
        .expect("a later issue");
    let again = review::value_frequencies(&client, id, &type_price, 10)
        .await
        .expect("frequencies");
    assert_eq!(
        (again.values[0].clone(), again.rows),
        ((Some("N/A".to_string()), 3), 5)
    );
    let any_column = Filter {
        column: None,
        ..type_price.clone()
    };
    let live = review::value_frequencies(&client, id, &any_column, 10)
        .await
        .expect("frequencies");
    assert_eq!(live.values, again.values);
}

#[tokio::test]
async fn search_finds_fields_and_messages_forward_and_back() {
    let db = TestDb::with_catalog().await;
    let id = db.check_broken().await;
    let client = db.client().await;
    let all = Filter::default();
    let line_of = |ord: Option<i64>| ord.map(|o| o + 2);
    let hit = review::find_text(&client, id, 4, &all, "n/a", 0, true)
        .await
        .expect("find");
    assert_eq!(line_of(hit), Some(23), "case-insensitive, in the fields");
    let hit = review::find_text(&client, id, 4, &all, "N/A", hit.expect("hit"), true)
        .await
        .expect("find");
    assert_eq!(line_of(hit), Some(48));
    assert_eq!(
        review::find_text(&client, id, 4, &all, "N/A", 46, true)
            .await
            .expect("find"),
        None
    );
    let hit = review::find_text(&client, id, 4, &all, "n/a", 46, false)
        .await
        .expect("find");
    assert_eq!(line_of(hit), Some(23), "backwards");
    let hit = review::find_text(&client, id, 4, &all, "above the maximum", 0, true)
        .await
        .expect("find");
    assert_eq!(line_of(hit), Some(113), "in the issue messages");

    // The reviewer's search: each hit says where it is among all of them, and past the last
    // one it starts from the top again (and from the bottom, backwards).
    let hit = review::search(&client, id, 4, &all, "n/a", 0, true)
        .await
        .expect("search")
        .expect("a hit");
    assert_eq!(
        (line_of(Some(hit.ord)), hit.note.as_str()),
        (Some(23), "match 1 of 2")
    );
    let hit = review::search(&client, id, 4, &all, "n/a", 46, true)
        .await
        .expect("search")
        .expect("wraps");
    assert_eq!(
        (line_of(Some(hit.ord)), hit.note.as_str()),
        (Some(23), "match 1 of 2 (from the top again)")
    );
    let hit = review::search(&client, id, 4, &all, "n/a", 21, false)
        .await
        .expect("search")
        .expect("wraps");
    assert_eq!(
        (line_of(Some(hit.ord)), hit.note.as_str()),
        (Some(48), "match 2 of 2 (from the bottom again)")
    );
    // A trailing space is part of what is searched.
    let spaced = review::search(&client, id, 4, &all, "trimmer ", 0, true)
        .await
        .expect("search");
    assert_eq!(spaced, None, "'Hedge trimmer' is followed by no space");
    assert!(
        review::search(&client, id, 4, &all, "nowhere at all", 0, true)
            .await
            .expect("search")
            .is_none()
    );

    // A jump lands on the line, or says which it landed on instead.
    let at = |line| review::go_to_line(&client, id, &all, None, line);
    let hit = at(23).await.expect("jump").expect("a row");
    assert_eq!(
        (line_of(Some(hit.ord)), hit.note.as_str()),
        (Some(23), "line 23")
    );
    let hit = at(100).await.expect("jump").expect("a row");
    assert_eq!(
        (line_of(Some(hit.ord)), hit.note.as_str()),
        (
            Some(103),
            "no quarantined row on line 100; the next is line 103"
        )
    );
    let hit = at(400).await.expect("jump").expect("a row");
    assert_eq!(
        (line_of(Some(hit.ord)), hit.note.as_str()),
        (
            Some(133),
            "no quarantined row at or after line 400; the last is line 133"
        )
    );
}

#[tokio::test]
async fn changes_profile_source_and_hold_back() {
    let db = TestDb::with_catalog().await;
    let id = db.check_broken().await;
    let client = db.client().await;
    let loaded = airlock::batch::load(&client, id).await.expect("load");
    let all = review::changes_page(&client, &loaded, PageFrom::Start, 1000)
        .await
        .expect("changes");
    // Every insert and update of the plan, in file order.
    let plan = &loaded.plan;
    assert_eq!(all.len() as i64, plan.insert + plan.update);
    assert!(all.windows(2).all(|w| w[0].line < w[1].line));
    let changes: Vec<_> = all
        .iter()
        .filter(|c| c.kind == review::ChangeKind::Update)
        .collect();
    assert_eq!(changes.len(), 10);
    // Listing the changes gives the staged rows no statistics: the promotion's MERGE is
    // planned without them.
    let analyzed: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_stats WHERE schemaname = 'airlock_stage' AND tablename = $1",
            &[&format!("batch_{id}_rows")],
        )
        .await
        .expect("stats")
        .get(0);
    assert_eq!(analyzed, 0);
    let rounded = changes
        .iter()
        .find(|c| c.key == "SKU-0000058")
        .expect("SKU-58");
    assert_eq!(rounded.line, 10);
    assert_eq!(rounded.changes.len(), 1);
    assert_eq!(
        (
            rounded.changes[0].before.as_deref(),
            rounded.changes[0].after.as_deref()
        ),
        (Some("72.50"), Some("12.35"))
    );

    let profile = review::column_profile(
        &client,
        id,
        &[
            "sku".into(),
            "name".into(),
            "price".into(),
            "category".into(),
        ],
    )
    .await
    .expect("profile");
    let suspicious: Vec<&str> = profile
        .iter()
        .filter(|p| p.suspicious())
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(
        suspicious,
        vec!["name", "price", "category"],
        "the shifted rows show"
    );
    assert_eq!(profile[0].top[0], ("SKU-0000131".to_string(), 2));
    // The profile kept while reading is the one the staged records give.
    let header: Vec<String> = profile.iter().map(|p| p.name.clone()).collect();
    let from_staging = review::profile_from_staging(&client, id, &header)
        .await
        .expect("profile from staging");
    for (kept, staged) in profile.iter().zip(&from_staging) {
        assert_eq!(
            &review::ColumnProfile {
                mean: None,
                ..kept.clone()
            },
            staged
        );
    }
    // The mean of the 296 prices that look like numbers.
    assert_eq!(profile[2].numeric, 296);
    assert_eq!(profile[2].mean.map(|m| (m * 100.0).round()), Some(89697.0));

    let ord_of_line_14 = 12;
    let source = review::source_text(&client, id, ord_of_line_14)
        .await
        .expect("source");
    assert_eq!(
        source.as_deref(),
        Some("SKU-0000062,Hedge trimmer,Garden,34.50")
    );
    let multi_line = review::source_text(&client, id, 5).await.expect("source");
    assert_eq!(
        multi_line.as_deref(),
        Some("SKU-0000055,\"Bird feeder\nwith hook\",68.75,Tools")
    );

    let mut own = db.client().await;
    let held = review::hold_back(&mut own, &loaded, &[rounded.ord], "price drop looks wrong")
        .await
        .expect("hold");
    assert_eq!(held, 1);
    let s = db.summary(id).await;
    assert_eq!(
        (s.rows.good, s.rows.quarantined, s.plan.update),
        (286, 14, 9)
    );
    assert_eq!(s.decisions[0].decision, "hold");
    assert_eq!(
        s.decisions[0].note.as_deref(),
        Some("price drop looks wrong")
    );
    assert!(db.messages(id, "held").await[0].ends_with(": price drop looks wrong"));
    // A good row kept its fields beside its typed values; held back, it takes them along to
    // the quarantine, and the detail still reads it back from the file.
    let held_only = Filter {
        check: Some("held".into()),
        column: None,
        kept: None,
        value: None,
    };
    let page = review::quarantined_page(&client, id, 4, &held_only, PageFrom::Start, 10)
        .await
        .expect("held page");
    assert_eq!(page.len(), 1);
    assert_eq!((page[0].line, page[0].ord), (10, rounded.ord));
    assert_eq!(
        page[0].fields,
        ["SKU-0000058", "Catalog item 58", "12.345", "Toys"].map(|f| Some(f.to_string()))
    );
    assert_eq!(
        review::source_text(&client, id, rounded.ord)
            .await
            .expect("source")
            .as_deref(),
        Some("SKU-0000058,Catalog item 58,12.345,Toys")
    );
    let profile_after = review::column_profile(&client, id, &["sku".into()])
        .await
        .expect("profile");
    assert_eq!(profile_after[0], profile[0], "every record counted once");
}

/// A plan knows its age: opened after production was written, a batch's plan and verdict are
/// made again and the review says why; `replan` does it on demand; a promoted batch's plan is
/// history and stays.
#[tokio::test]
async fn a_stale_plan_is_made_again_when_the_batch_is_opened() {
    let db = TestDb::with_catalog().await;
    let id = db.check_broken().await;
    let client = db.client().await;
    let opened = review::open(&client, id).await.expect("open");
    assert_eq!(opened.notice, None, "a fresh plan stands");
    let inserts = opened.summary.plan.insert;
    // Someone else inserts one of the file's new keys; its session flushes its statistics.
    let other = db.client().await;
    other
        .batch_execute("INSERT INTO products VALUES ('SKU-0000101', 'Early', 1.00, 1)")
        .await
        .expect("insert");
    other
        .batch_execute("SELECT pg_stat_force_next_flush()")
        .await
        .expect("flush");
    let loaded = airlock::batch::load(&client, id).await.expect("load");
    let mut waited = 0;
    while airlock::plan::production_writes(&client, &loaded.feed.target)
        .await
        .expect("writes")
        == loaded.plan.writes.expect("writes kept")
    {
        assert!(waited < 200, "the server never counted the insert");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    let opened = review::open(&client, id).await.expect("open again");
    let notice = opened.notice.expect("a notice");
    assert!(
        notice.starts_with(
            "production changed since the plan was made (1 row write to public.products): plan and verdict made again: "
        ),
        "{notice}"
    );
    assert_eq!(opened.summary.plan.insert, inserts - 1);
    // Opened again, the new plan stands.
    assert_eq!(review::open(&client, id).await.expect("open").notice, None);
    // On demand, it is made again anyway and says so.
    let said = review::replan(&client, id, true).await.expect("replan");
    assert!(said.is_some_and(|s| s.starts_with("plan made again: ")));
    // A promoted batch's plan is what happened: never made again.
    airlock::promote::promote(&db.target, id, &airlock::promote::PromoteOptions::default())
        .await
        .expect("promote");
    assert_eq!(
        review::replan(&client, id, true).await.expect("replan"),
        None
    );
}
