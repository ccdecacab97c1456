//! Promotion: only good rows move, all at once or not at all; re-runs are harmless; swaps
//! keep the table's definition and can be undone; every promotion leaves its audit record in
//! the same transaction; failures leave production exactly as it was.
mod common;

use std::time::Duration;

use airlock::promote::{self, PromoteOptions};
use common::{TestDb, fixture};

fn opts() -> PromoteOptions {
    PromoteOptions::default()
}

fn swap_spec(db: &TestDb, policy: &str) -> std::path::PathBuf {
    let spec = std::fs::read_to_string(fixture("partner-products.toml"))
        .expect("spec")
        .replace("mode   = \"upsert\"", "mode   = \"swap\"");
    db.write("swap.toml", format!("{spec}{policy}"))
}

async fn count(db: &TestDb, sql: &str) -> i64 {
    db.client()
        .await
        .query_one(sql, &[])
        .await
        .expect(sql)
        .get(0)
}

async fn state(db: &TestDb, id: i64) -> String {
    db.summary(id).await.state.to_string()
}

#[tokio::test]
async fn upsert_promotes_good_rows_in_one_transaction_with_its_audit_row() {
    let db = TestDb::with_catalog().await;
    let id = db.check_broken().await;
    let applied = promote::promote(
        &db.target,
        id,
        &PromoteOptions {
            note: Some("nightly".into()),
            ..opts()
        },
    )
    .await
    .expect("promote");
    assert_eq!(
        (applied.inserted, applied.updated, applied.unchanged),
        (242, 10, 35)
    );
    assert_eq!(count(&db, "SELECT count(*) FROM products").await, 342);
    // Quarantined rows stayed out: the N/A price row, the unknown category, both duplicates.
    assert_eq!(count(&db, "SELECT count(*) FROM products WHERE sku IN ('SKU-0000071', 'SKU-0000121', 'SKU-0000131', 'SKU-0000151')").await, 1, "only SKU-71 (already in production) is there");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM products WHERE sku = 'SKU-0000071' AND price = 88.75"
        )
        .await,
        1,
        "SKU-71 kept its production price"
    );
    // The rounded price went in as the warning said.
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM products WHERE sku = 'SKU-0000058' AND price = 12.35"
        )
        .await,
        1
    );

    // One transaction: every written product row and the audit row share one xid.
    let xids = count(
        &db,
        "SELECT count(DISTINCT x) FROM (
             SELECT xmin::text AS x FROM products WHERE sku >= 'SKU-0000051'
               AND (sku > 'SKU-0000100' OR sku IN ('SKU-0000055','SKU-0000056','SKU-0000057','SKU-0000058','SKU-0000063','SKU-0000070','SKU-0000077','SKU-0000084','SKU-0000091','SKU-0000098'))
             UNION ALL SELECT xmin::text FROM airlock.decisions WHERE decision = 'approve'
             UNION ALL SELECT xmin::text FROM airlock.batches) t",
    )
    .await;
    assert_eq!(
        xids, 1,
        "rows, audit record and batch state commit together"
    );

    let s = db.summary(id).await;
    assert_eq!(s.state, "promoted");
    let d = &s.decisions[0];
    assert_eq!(d.decision, "approve");
    assert_eq!(d.note.as_deref(), Some("nightly"));
    assert!(!d.db_role.is_empty());
    let counts = d.counts.as_ref().expect("counts");
    assert_eq!(counts["inserted"], 242);
    assert_eq!(counts["updated"], 10);
    // Where the time went: the load's stages, then the promotion's, kept with it.
    let stages: Vec<String> = s.timings.as_ref().expect("timings")["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|st| st[0].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        stages.first().map(String::as_str),
        Some("load (read, row checks, COPY)")
    );
    assert!(
        stages.ends_with(&[
            "promote: lock".into(),
            "promote: keep undo data".into(),
            "promote: merge".into(),
            "promote: record".into()
        ]),
        "{stages:?}"
    );
}

/// The upsert's counts are the same whichever statement applies the rows: `MERGE` with the
/// transaction's row counts; `INSERT … ON CONFLICT` where the server keeps no row counts
/// (`track_counts` off) or refuses `MERGE` (a table with rules; `ON CONFLICT` only minds
/// insert and update rules). Which one ran shows in a BEFORE INSERT trigger: `ON CONFLICT`
/// fires it for every row it tries (287), `MERGE` only for the rows it inserts (242).
#[tokio::test]
async fn upsert_counts_alike_with_or_without_merge() {
    for (setup, tried) in [
        ("", 242),
        ("ALTER DATABASE {db} SET track_counts = off", 287),
        (
            "CREATE RULE products_noted AS ON DELETE TO products DO ALSO NOTIFY products_changed",
            287,
        ),
    ] {
        let db = TestDb::with_catalog().await;
        db.client()
            .await
            .batch_execute(&format!(
                "CREATE TABLE tried (sku text);
                 CREATE FUNCTION note_tried() RETURNS trigger LANGUAGE plpgsql AS
                     $$ BEGIN INSERT INTO tried VALUES (NEW.sku); RETURN NEW; END $$;
                 CREATE TRIGGER products_tried BEFORE INSERT ON products
                     FOR EACH ROW EXECUTE FUNCTION note_tried();
                 {}",
                setup.replace("{db}", &format!("\"{}\"", db.name))
            ))
            .await
            .expect(setup);
        let id = db.check_broken().await;
        let applied = promote::promote(&db.target, id, &opts())
            .await
            .expect(setup);
        assert_eq!(
            (applied.inserted, applied.updated, applied.unchanged),
            (242, 10, 35),
            "{setup}"
        );
        assert_eq!(
            count(&db, "SELECT count(*) FROM tried").await,
            tried,
            "{setup}"
        );
        assert_eq!(
            count(&db, "SELECT count(*) FROM products").await,
            342,
            "{setup}"
        );
        assert_eq!(
            count(
                &db,
                "SELECT count(*) FROM products WHERE sku = 'SKU-0000058' AND price = 12.35"
            )
            .await,
            1,
            "{setup}"
        );
    }
}

/// A partitioned target: its rows are counted in its partitions (`INSERT … ON CONFLICT …
/// RETURNING xmax`, the other way to count, fails on a partitioned table), a re-run writes
/// nothing, and a swap, which would replace it with a plain table, is refused.
#[tokio::test]
async fn a_partitioned_target_is_upserted_and_counted() {
    let db = TestDb::empty().await;
    db.client()
        .await
        .batch_execute(
            "CREATE TABLE items (id integer PRIMARY KEY, note text) PARTITION BY RANGE (id);
             CREATE TABLE items_low PARTITION OF items FOR VALUES FROM (0) TO (100);
             CREATE TABLE items_high PARTITION OF items FOR VALUES FROM (100) TO (1000);
             INSERT INTO items VALUES (1, 'old'), (2, 'same'), (150, 'old');",
        )
        .await
        .expect("schema");
    let spec = db.write(
        "items.toml",
        "name = \"items\"\ntarget = \"public.items\"\n",
    );
    let file = db.write("items.csv", "id,note\n1,new\n2,same\n3,x\n150,new\n151,y\n");
    let mut counts = Vec::new();
    for _ in 0..2 {
        let id = db.check(&spec, &file).await.expect("check");
        let applied = promote::promote(&db.target, id, &opts())
            .await
            .expect("promote");
        counts.push((applied.inserted, applied.updated, applied.unchanged));
    }
    assert_eq!(counts, vec![(2, 2, 1), (0, 0, 5)]);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM items_high WHERE note IN ('new', 'y')"
        )
        .await,
        2
    );
    assert_eq!(count(&db, "SELECT count(*) FROM items").await, 5);

    // A swap would put a plain table where the partitioned one was: refused, and the
    // table stays as it was, partitions and rows.
    let swap = db.write(
        "items-swap.toml",
        "name = \"items\"\ntarget = \"public.items\"\nmode = \"swap\"\n\
         [policy]\nmax_count_change = 10.0\n",
    );
    let id = db.check(&swap, &file).await.expect("check");
    let refused = promote::promote(&db.target, id, &opts())
        .await
        .expect_err("a swap of a partitioned table");
    assert!(refused.to_string().contains("partitioning"), "{refused}");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM pg_class WHERE oid = 'items'::regclass AND relkind = 'p'"
        )
        .await,
        1
    );
    assert_eq!(count(&db, "SELECT count(*) FROM items").await, 5);
}

#[tokio::test]
async fn the_same_file_twice_changes_nothing_the_second_time() {
    let db = TestDb::with_catalog().await;
    let spec = fixture("partner-products.toml");
    let file = fixture("products-broken.csv");
    let first = db.check(&spec, &file).await.expect("check");
    promote::promote(&db.target, first, &opts())
        .await
        .expect("promote");
    let hash = db.table_hash("products").await;
    let versions = db
        .client()
        .await
        .query_one(
            "SELECT string_agg(xmin::text || ctid::text, ',' ORDER BY sku) FROM products",
            &[],
        )
        .await
        .expect("versions")
        .get::<_, String>(0);

    let second = db.check(&spec, &file).await.expect("check");
    let s = db.summary(second).await;
    assert_eq!(
        (s.plan.insert, s.plan.update, s.plan.unchanged),
        (0, 0, 287)
    );
    let applied = promote::promote(&db.target, second, &opts())
        .await
        .expect("promote");
    assert_eq!(
        (applied.inserted, applied.updated, applied.unchanged),
        (0, 0, 287)
    );
    assert_eq!(db.table_hash("products").await, hash);
    let after: String = db
        .client()
        .await
        .query_one(
            "SELECT string_agg(xmin::text || ctid::text, ',' ORDER BY sku) FROM products",
            &[],
        )
        .await
        .expect("versions")
        .get(0);
    assert_eq!(after, versions, "no row was rewritten: nothing bloats");
}

#[tokio::test]
async fn a_file_with_duplicate_keys_promotes() {
    let db = TestDb::with_catalog().await;
    let spec = db.write(
        "last.toml",
        format!(
            "{}[policy]\nduplicate_keys = \"last\"\n",
            common::PRODUCTS_SPEC
        ),
    );
    let file = db.write(
        "dups.csv",
        "sku,name,price,category\nSKU-0000001,old,1.00,Tools\nSKU-0000500,x,2.00,Tools\nSKU-0000001,new,3.00,Tools\n",
    );
    let id = db.check(&spec, &file).await.expect("check");
    let applied = promote::promote(&db.target, id, &opts())
        .await
        .expect("promote");
    assert_eq!((applied.inserted, applied.updated), (1, 1));
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM products WHERE sku = 'SKU-0000001' AND name = 'new' AND price = 3"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn an_abort_verdict_needs_an_override_and_a_note() {
    let db = TestDb::with_catalog().await;
    let spec = db.write(
        "strict.toml",
        format!("{}[policy]\nmax_bad_rows = 0\n", common::PRODUCTS_SPEC),
    );
    let file = db.write(
        "f.csv",
        "sku,name,price,category\nSKU-0000500,a,N/A,Tools\nSKU-0000501,b,1,Tools\n",
    );
    let id = db.check(&spec, &file).await.expect("check");
    let before = db.table_hash("products").await;
    let err = promote::promote(&db.target, id, &opts())
        .await
        .expect_err("abort verdict")
        .to_string();
    assert!(
        err.contains("its verdict is abort (1 quarantined row, more than max_bad_rows = 0;"),
        "{err}"
    );
    assert!(err.contains("--override-policy"), "{err}");
    let no_note = PromoteOptions {
        override_policy: true,
        ..opts()
    };
    assert!(
        promote::promote(&db.target, id, &no_note).await.is_err(),
        "an override needs a note"
    );
    assert_eq!(db.table_hash("products").await, before);
    assert_eq!(state(&db, id).await, "validated");

    let with_note = PromoteOptions {
        override_policy: true,
        note: Some("partner confirmed".into()),
        ..opts()
    };
    promote::promote(&db.target, id, &with_note)
        .await
        .expect("override");
    let d = &db.summary(id).await.decisions[0];
    assert_eq!(d.counts.as_ref().expect("counts")["override_policy"], true);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM products WHERE sku = 'SKU-0000501'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_plan_that_changed_since_review_is_refused() {
    let db = TestDb::with_catalog().await;
    let id = db
        .check(
            &fixture("partner-products.toml"),
            &fixture("products-clean.csv"),
        )
        .await
        .expect("check");
    let client = db.client().await;
    client
        .batch_execute("INSERT INTO products VALUES ('SKU-0000101', 'sneaked in', 1, 1)")
        .await
        .expect("concurrent change");
    let before = db.table_hash("products").await;
    let err = promote::promote(&db.target, id, &opts())
        .await
        .expect_err("plan moved")
        .to_string();
    assert!(
        err.contains("production changed since validation (insert 20 → 19, update 3 → 4)"),
        "{err}"
    );
    assert_eq!(db.table_hash("products").await, before);
    assert_eq!(state(&db, id).await, "validated");

    // A referenced category deleted since validation.
    let id = db
        .check(
            &fixture("partner-products.toml"),
            &fixture("products-clean.csv"),
        )
        .await
        .expect("check");
    client
        .batch_execute("DELETE FROM products WHERE category_id = 4; DELETE FROM categories WHERE category_id = 4")
        .await
        .expect("delete category");
    let err = promote::promote(
        &db.target,
        id,
        &PromoteOptions {
            accept_plan_changes: true,
            ..opts()
        },
    )
    .await
    .expect_err("category gone")
    .to_string();
    assert!(
        err.contains(
            "good rows reference public.categories(category_id) rows that no longer exist"
        ),
        "{err}"
    );

    // The same in a swap, where the next table's foreign keys are added after its fill:
    // the rows are found by bisection, set aside, and nothing moves.
    let id = db
        .check(
            &swap_spec(&db, "max_count_change = 10.0\n"),
            &fixture("products-clean.csv"),
        )
        .await
        .expect("check");
    client
        .batch_execute("DELETE FROM products WHERE category_id = 3; DELETE FROM categories WHERE category_id = 3")
        .await
        .expect("delete category");
    let before = db.table_hash("products").await;
    // Category 4 went earlier, so its rows are quarantined: the policy is overridden.
    let overridden = PromoteOptions {
        accept_plan_changes: true,
        override_policy: true,
        note: Some("categories 3 and 4 are gone".into()),
        ..opts()
    };
    let err = promote::promote(&db.target, id, &overridden)
        .await
        .expect_err("category gone")
        .to_string();
    assert!(err.contains("violates foreign key constraint"), "{err}");
    assert_eq!(db.table_hash("products").await, before);
    let s = db.summary(id).await;
    assert_eq!(s.state, "validated");
    assert!(s.rows.quarantined > 0);
    let applied = promote::promote(&db.target, id, &overridden)
        .await
        .expect("approved again without those rows");
    assert_eq!(
        applied.inserted + applied.updated + applied.unchanged,
        s.rows.good
    );
}

#[tokio::test]
async fn rows_the_server_refuses_are_found_and_quarantined() {
    let db = TestDb::with_catalog().await;
    db.client()
        .await
        .batch_execute(
            "CREATE FUNCTION no_gnomes() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN IF NEW.name ILIKE '%gnome%' THEN RAISE EXCEPTION 'no gnomes in the catalog (%)', NEW.sku; END IF;
             RETURN NEW; END $$;
             CREATE TRIGGER no_gnomes BEFORE INSERT OR UPDATE ON products FOR EACH ROW EXECUTE FUNCTION no_gnomes();",
        )
        .await
        .expect("trigger");
    let spec = db.write(
        "feed.toml",
        format!(
            "{}[policy]\nmax_bad_fraction = 1.0\n",
            common::PRODUCTS_SPEC
        ),
    );
    let file = db.write(
        "f.csv",
        "sku,name,price,category\nSKU-0000500,rake,1,Garden\nSKU-0000501,garden gnome,2,Garden\nSKU-0000502,hoe,3,Garden\nSKU-0000503,Gnome XL,4,Garden\n",
    );
    let id = db.check(&spec, &file).await.expect("check");
    let before = db.table_hash("products").await;
    let err = promote::promote(&db.target, id, &opts())
        .await
        .expect_err("trigger refuses");
    let text = err.to_string();
    assert!(text.contains("the server refused 2 rows that had passed validation (first: line 3: no gnomes in the catalog (SKU-0000501))"), "{text}");
    assert_eq!(
        db.table_hash("products").await,
        before,
        "nothing was promoted"
    );
    let s = db.summary(id).await;
    assert_eq!(s.state, "validated");
    assert_eq!((s.rows.good, s.rows.quarantined), (2, 2));
    assert_eq!(
        db.errors(id).await,
        vec![(3, None, "promotion".into()), (5, None, "promotion".into())]
    );
    let applied = promote::promote(&db.target, id, &opts())
        .await
        .expect("approved again");
    assert_eq!(applied.inserted, 2);
}

#[tokio::test]
async fn deferred_constraints_refuse_rows_not_the_commit() {
    let db = TestDb::with_catalog().await;
    let client = db.client().await;
    client
        .batch_execute(
            "ALTER TABLE products ALTER CONSTRAINT products_category_id_fkey DEFERRABLE INITIALLY DEFERRED;
             CREATE FUNCTION no_gnomes() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN IF NEW.name ILIKE '%gnome%' THEN RAISE EXCEPTION 'no gnomes in the catalog (%)', NEW.sku; END IF;
             RETURN NEW; END $$;
             CREATE CONSTRAINT TRIGGER no_gnomes AFTER INSERT OR UPDATE ON products
                 DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION no_gnomes();",
        )
        .await
        .expect("deferred constraints");
    let spec = db.write(
        "feed.toml",
        format!(
            "{}[policy]\nmax_bad_fraction = 1.0\n",
            common::PRODUCTS_SPEC
        ),
    );
    let file = db.write(
        "f.csv",
        "sku,name,price,category\nSKU-0000500,rake,1,Garden\nSKU-0000502,kite,3,Toys\n",
    );

    // A deferred foreign key whose referenced row went after validation.
    let id = db.check(&spec, &file).await.expect("check");
    client
        .batch_execute("DELETE FROM products WHERE category_id = 4; DELETE FROM categories WHERE category_id = 4")
        .await
        .expect("delete category");
    let before = db.table_hash("products").await;
    let err = promote::promote(&db.target, id, &opts())
        .await
        .expect_err("category gone")
        .to_string();
    assert!(
        err.contains(
            "1 good row references public.categories(category_id) rows that no longer exist"
        ),
        "{err}"
    );
    assert_eq!(db.table_hash("products").await, before);
    assert_eq!(state(&db, id).await, "validated");

    // A deferred constraint trigger: its rows are found one by one, like any refusal.
    let file = db.write(
        "g.csv",
        "sku,name,price,category\nSKU-0000500,rake,1,Garden\nSKU-0000501,garden gnome,2,Garden\n",
    );
    let id = db.check(&spec, &file).await.expect("check");
    let err = promote::promote(&db.target, id, &opts())
        .await
        .expect_err("trigger refuses")
        .to_string();
    assert!(
        err.contains("first: line 3: no gnomes in the catalog (SKU-0000501)"),
        "{err}"
    );
    assert_eq!(db.table_hash("products").await, before);
    let applied = promote::promote(&db.target, id, &opts())
        .await
        .expect("approved without the gnome");
    assert_eq!((applied.inserted, applied.updated), (1, 0));
}

#[tokio::test]
async fn lock_timeout_gives_up_and_names_the_blocker() {
    let db = TestDb::with_catalog().await;
    let id = db
        .check(
            &fixture("partner-products.toml"),
            &fixture("products-clean.csv"),
        )
        .await
        .expect("check");
    let mut blocker = db.client().await;
    blocker
        .batch_execute("SET application_name = 'nightly-report'")
        .await
        .expect("name");
    let tx = blocker.transaction().await.expect("tx");
    tx.batch_execute("LOCK TABLE products IN SHARE MODE")
        .await
        .expect("lock");
    let quick = PromoteOptions {
        lock_timeout: Duration::from_millis(200),
        attempts: 2,
        ..opts()
    };
    let err = promote::promote(&db.target, id, &quick)
        .await
        .expect_err("blocked")
        .to_string();
    assert!(
        err.contains("stayed locked after 2 attempts of 200 ms each"),
        "{err}"
    );
    assert!(
        err.contains("nightly-report"),
        "the blocker is named: {err}"
    );
    tx.rollback().await.expect("release");
    assert_eq!(state(&db, id).await, "validated");
    promote::promote(&db.target, id, &opts())
        .await
        .expect("promotes once the lock is gone");
}

#[tokio::test]
async fn a_killed_connection_leaves_production_as_it_was() {
    let db = TestDb::with_catalog().await;
    let id = db.check_broken().await;
    let before = db.table_hash("products").await;
    let mut holder = db.client().await;
    let tx = holder.transaction().await.expect("tx");
    // Hold promotion at its table lock, after it has started its transaction.
    tx.batch_execute("LOCK TABLE products IN SHARE MODE")
        .await
        .expect("lock");
    let target = db.target.clone();
    let run = tokio::spawn(async move {
        promote::promote(
            &target,
            id,
            &PromoteOptions {
                lock_timeout: Duration::from_secs(30),
                ..PromoteOptions::default()
            },
        )
        .await
    });
    let watcher = db.client().await;
    let mut killed = 0;
    for _ in 0..100 {
        killed = watcher
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE application_name = 'airlock' AND wait_event_type = 'Lock' \
                   AND datname = current_database()",
                &[],
            )
            .await
            .expect("terminate")
            .get::<_, i64>(0);
        if killed > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        killed, 1,
        "the promoting backend was found waiting and killed"
    );
    tx.rollback().await.expect("release");
    let result = run.await.expect("join");
    assert!(result.is_err(), "promotion reports the lost connection");
    assert_eq!(
        db.table_hash("products").await,
        before,
        "production exactly as before"
    );
    let s = db.summary(id).await;
    assert_eq!(s.state, "promote_failed");
    assert!(s.error.is_some());
    assert!(s.decisions.is_empty(), "no approval was recorded");
    // It can be promoted again.
    promote::promote(&db.target, id, &opts())
        .await
        .expect("retry");
    assert_eq!(state(&db, id).await, "promoted");
}

#[tokio::test]
async fn two_concurrent_runs_of_one_target_both_end_promoted() {
    let db = TestDb::with_catalog().await;
    let bin = env!("CARGO_BIN_EXE_airlock");
    let spec = fixture("partner-products.toml").display().to_string();
    let file = fixture("products-broken.csv").display().to_string();
    let runs: Vec<_> = (0..3)
        .map(|_| {
            tokio::process::Command::new(bin)
                .args(["run", &spec, &file, "--yes", "--json"])
                .env("DATABASE_URL", db.url())
                .output()
        })
        .collect();
    let mut inserted = 0;
    for out in futures_util::future::join_all(runs).await {
        let out = out.expect("run");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(j["state"], "promoted");
        inserted += j["applied"]["inserted"].as_i64().expect("inserted");
    }
    assert_eq!(inserted, 242, "the rows went in once");
    assert_eq!(count(&db, "SELECT count(*) FROM products").await, 342);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM airlock.batches WHERE state = 'promoted'"
        )
        .await,
        3
    );
}

#[tokio::test]
async fn a_swap_checks_its_plan_while_readers_go_on() {
    let db = TestDb::with_catalog().await;
    let spec = swap_spec(&db, "max_count_change = 10.0\n");
    let id = db
        .check(&spec, &fixture("products-broken.csv"))
        .await
        .expect("check");
    // A reader in a transaction: the swap's renames must wait for it, its plan need not.
    let mut reader = db.client().await;
    let read = reader.transaction().await.expect("tx");
    read.batch_execute("SELECT count(*) FROM products")
        .await
        .expect("read");
    let target = db.target.clone();
    let swap = tokio::spawn(async move {
        let long = PromoteOptions {
            lock_timeout: Duration::from_secs(30),
            ..PromoteOptions::default()
        };
        promote::promote(&target, id, &long).await
    });
    // (granted lock modes, awaited lock modes) of the promoting session on products
    let watcher = db.client().await;
    let mut locks = (Vec::new(), Vec::new());
    for _ in 0..200 {
        let row = watcher
            .query_one(
                "SELECT coalesce(array_agg(l.mode::text ORDER BY l.mode) FILTER (WHERE l.granted), '{}'), \
                        coalesce(array_agg(l.mode::text ORDER BY l.mode) FILTER (WHERE NOT l.granted), '{}') \
                 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE a.application_name = 'airlock' AND l.relation = 'products'::regclass",
                &[],
            )
            .await
            .expect("locks");
        locks = (row.get::<_, Vec<String>>(0), row.get::<_, Vec<String>>(1));
        if !locks.1.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        locks.1,
        vec!["AccessExclusiveLock"],
        "the swap waits for the reader only to rename: {locks:?}"
    );
    assert!(
        locks.0.contains(&"ShareRowExclusiveLock".to_string()),
        "writers are kept out while it waits: {locks:?}"
    );
    // Nothing is renamed yet: the batch is still promoting.
    assert_eq!(state(&db, id).await, "promoting");
    read.commit().await.expect("commit");
    let applied = swap.await.expect("join").expect("swap");
    assert_eq!(applied.inserted, 242);
    assert_eq!(state(&db, id).await, "promoted");
}

#[tokio::test]
async fn a_run_leaves_the_plan_to_the_promotion() {
    let db = TestDb::with_catalog().await;
    let spec = fixture("partner-products.toml").display().to_string();
    let file = fixture("products-broken.csv").display().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(["run", &spec, &file, "--yes", "--json"])
        .env("DATABASE_URL", db.url())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    // The upsert's own counts are the plan.
    assert_eq!(j["plan"]["by_promotion"], true);
    for (plan, applied) in [
        ("insert", "inserted"),
        ("update", "updated"),
        ("unchanged", "unchanged"),
    ] {
        assert_eq!(j["plan"][plan], j["applied"][applied], "{plan}");
    }
    assert_eq!(
        (j["plan"]["insert"].as_i64(), j["rows"]["good"].as_i64()),
        (Some(242), Some(287))
    );

    // A batch such a run left before promoting (blocked, say) gets its plan before a person
    // approves it, and is promoted against it as usual.
    let control = airlock::pipeline::CheckControl {
        plan_by_promotion: true,
        ..Default::default()
    };
    let clean = fixture("products-clean.csv");
    let id = db
        .check_with(&fixture("partner-products.toml"), &clean, &control)
        .await
        .expect("check");
    let s = db.summary(id).await;
    assert!(s.plan.by_promotion);
    assert_eq!((s.plan.insert, s.plan.update, s.rows.good), (0, 0, 40));
    let applied = promote::promote(&db.target, id, &opts())
        .await
        .expect("promote");
    let s = db.summary(id).await;
    assert!(!s.plan.by_promotion, "made before the approval");
    assert_eq!(
        (s.plan.insert, s.plan.update + s.plan.unchanged),
        (applied.inserted, applied.updated + applied.unchanged)
    );
    assert_eq!(s.plan.production_rows, 342);

    // An aborted run leaves the batch for review, with its plan.
    let empty = db.write("empty.csv", "sku,name,price,category\n");
    let id = db
        .check_with(&fixture("partner-products.toml"), &empty, &control)
        .await
        .expect("check");
    let s = db.summary(id).await;
    assert_eq!(s.verdict.map(|v| v.as_str()), Some("abort"));
    assert!(!s.plan.by_promotion);
    assert_eq!(
        s.plan.production_rows,
        count(&db, "SELECT count(*) FROM products").await
    );

    // A swap's plan is made under its lock; its policy reads production's row count.
    let swap = swap_spec(&db, "max_count_change = 10.0\n");
    let run_json = |spec: &std::path::Path, file: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_airlock"))
            .args(["run", &spec.display().to_string(), file, "--yes", "--json"])
            .env("DATABASE_URL", db.url())
            .output()
            .expect("run");
        let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        (out.status.code(), j)
    };
    let (code, j) = run_json(&swap, &file);
    assert_eq!(code, Some(0));
    assert_eq!(j["plan"]["by_promotion"], true);
    assert_eq!(j["plan"]["delete"], j["applied"]["deleted"]);
    assert_eq!(j["plan"]["insert"], j["applied"]["inserted"]);
    assert!(j["plan"]["production_rows"].as_i64() > Some(287));
    let tight = swap_spec(&db, "max_count_change = 0.01\n");
    let (code, j) = run_json(&tight, &clean.display().to_string());
    assert_eq!(code, Some(3), "the count change is judged without a plan");
    assert!(
        j["breaches"][0]
            .as_str()
            .is_some_and(|b| b.contains("max_count_change"))
    );
}

#[tokio::test]
async fn swap_keeps_the_definition_and_undo_puts_the_old_table_back() {
    let db = TestDb::with_catalog().await;
    let client = db.client().await;
    client
        .batch_execute(
            "DO $$ BEGIN CREATE ROLE airlock_test_reader; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
             ALTER TABLE products ADD COLUMN added_at timestamptz NOT NULL DEFAULT '2026-01-01';
             CREATE INDEX products_name_idx ON products (name);
             COMMENT ON TABLE products IS 'the catalog';
             COMMENT ON COLUMN products.price IS 'in EUR';
             GRANT SELECT ON products TO airlock_test_reader;",
        )
        .await
        .expect("setup");
    let before = db.table_hash("products").await;
    let spec = swap_spec(&db, "max_count_change = 10.0\n");
    let id = db
        .check(&spec, &fixture("products-broken.csv"))
        .await
        .expect("check");
    let applied = promote::promote(&db.target, id, &opts())
        .await
        .expect("swap");
    // SKU 1..100 in production; the feed's good rows are 242 new SKUs and 45 of 51..100.
    assert_eq!(
        (
            applied.inserted,
            applied.updated + applied.unchanged,
            applied.deleted
        ),
        (242, 45, 55)
    );
    assert_eq!(count(&db, "SELECT count(*) FROM products").await, 287);
    let timings = db.summary(id).await.timings.expect("timings");
    let last: Vec<&str> = timings["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .rev()
        .take(2)
        .map(|st| st[0].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        last,
        [
            "promote: lock, recheck and swap",
            "promote: build the next table"
        ]
    );
    let facts = client
        .query_one(
            "SELECT has_table_privilege('airlock_test_reader', 'products', 'SELECT'),
                    obj_description('products'::regclass, 'pg_class'),
                    col_description('products'::regclass, 3),
                    (SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'products'),
                    (SELECT string_agg(conname || ':' || contype::text, ',' ORDER BY conname) FROM pg_constraint WHERE conrelid = 'products'::regclass),
                    (SELECT count(*) FROM products WHERE added_at = '2026-01-01'),
                    pg_get_userbyid((SELECT relowner FROM pg_class WHERE oid = 'products'::regclass)) = current_user",
            &[],
        )
        .await
        .expect("facts");
    assert!(facts.get::<_, bool>(0), "grant kept");
    assert_eq!(
        facts.get::<_, Option<String>>(1).as_deref(),
        Some("the catalog")
    );
    assert_eq!(facts.get::<_, Option<String>>(2).as_deref(), Some("in EUR"));
    assert_eq!(facts.get::<_, String>(3), "products_name_idx,products_pkey");
    assert_eq!(
        facts.get::<_, String>(4),
        "products_category_id_fkey:f,products_pkey:p,products_price_check:c"
    );
    assert_eq!(
        facts.get::<_, i64>(5),
        287,
        "the default filled the column the file lacks"
    );
    assert!(facts.get::<_, bool>(6), "owner kept");
    assert_eq!(
        db.summary(id).await.previous_table.as_deref(),
        Some("\"airlock_stage\".\"batch_1_previous\"")
    );

    promote::undo(&db.target, id, Some("wrong file"), &opts())
        .await
        .expect("undo");
    assert_eq!(
        db.table_hash("products").await,
        before,
        "the previous content, exactly"
    );
    let restored: String = client
        .query_one(
            "SELECT (SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'products') || ' ' ||
                    (SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint WHERE conrelid = 'products'::regclass)",
            &[],
        )
        .await
        .expect("restored")
        .get(0);
    assert_eq!(
        restored,
        "products_name_idx,products_pkey products_category_id_fkey,products_pkey,products_price_check"
    );
    let s = db.summary(id).await;
    assert_eq!(s.state, "undone");
    assert_eq!(
        s.decisions
            .iter()
            .map(|d| d.decision.as_str())
            .collect::<Vec<_>>(),
        vec!["approve", "undo"]
    );
    assert!(
        promote::undo(&db.target, id, None, &opts()).await.is_err(),
        "undo once"
    );
}

#[tokio::test]
async fn swap_is_refused_when_objects_depend_on_the_target() {
    let db = TestDb::with_catalog().await;
    let client = db.client().await;
    client
        .batch_execute(
            "CREATE VIEW cheap AS SELECT * FROM products WHERE price < 10;
             CREATE TABLE reviews (sku text REFERENCES products (sku), stars int);",
        )
        .await
        .expect("dependents");
    let spec = swap_spec(&db, "max_count_change = 10.0\n");
    let id = db
        .check(&spec, &fixture("products-clean.csv"))
        .await
        .expect("check");
    let before = db.table_hash("products").await;
    let err = promote::promote(
        &db.target,
        id,
        &PromoteOptions {
            override_policy: true,
            note: Some("x".into()),
            ..opts()
        },
    )
    .await
    .expect_err("refused")
    .to_string();
    assert!(
        err.contains("foreign key reviews_sku_fkey of reviews references it"),
        "{err}"
    );
    assert!(err.contains("view cheap depends on it"), "{err}");
    assert!(err.contains("use mode = \"upsert\""), "{err}");
    assert_eq!(db.table_hash("products").await, before);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'airlock_next%'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn a_header_only_file_never_replaces_production() {
    let db = TestDb::with_catalog().await;
    let spec = swap_spec(&db, "allow_empty = true\nmax_count_change = 1.0\n");
    let file = db.write("empty.csv", "sku,name,price,category\n");
    let before = db.table_hash("products").await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args([
            "run",
            &spec.display().to_string(),
            &file.display().to_string(),
            "--yes",
        ])
        .env("DATABASE_URL", db.url())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("an empty file never replaces a table"),
        "{stderr}"
    );
    assert_eq!(db.table_hash("products").await, before);
}

#[tokio::test]
async fn readers_never_see_a_missing_or_empty_table_during_swaps() {
    let db = TestDb::with_catalog().await;
    let spec = swap_spec(&db, "max_count_change = 10.0\n");
    let reader = db.client().await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop_reader = stop.clone();
    let reads = tokio::spawn(async move {
        let (mut n, mut min) = (0u32, i64::MAX);
        while !stop_reader.load(std::sync::atomic::Ordering::Relaxed) {
            let c: i64 = reader
                .query_one("SELECT count(*) FROM products", &[])
                .await
                .expect("a reader never sees an error")
                .get(0);
            min = min.min(c);
            n += 1;
        }
        (n, min)
    });
    for file in [
        "products-broken.csv",
        "products-clean.csv",
        "products-broken.csv",
    ] {
        let id = db.check(&spec, &fixture(file)).await.expect("check");
        promote::promote(
            &db.target,
            id,
            &PromoteOptions {
                accept_plan_changes: true,
                override_policy: true,
                note: Some("test".into()),
                ..opts()
            },
        )
        .await
        .expect("swap");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (n, min) = reads.await.expect("reader");
    assert!(n > 20, "the reader ran throughout ({n} reads)");
    assert!(
        min >= 40,
        "never an empty table (smallest count seen: {min})"
    );
}

/// The target's other unique indexes are checked before promotion, not refused by it: a
/// value another good row has too, or (upserting) another row of production holds, sets the
/// row aside with the index's name; NULLs collide only under NULLS NOT DISTINCT; a row keeping
/// its own value is fine. The rest promotes without a refusal. A swap, which leaves
/// production's rows behind, only minds the file's own repeats.
#[tokio::test]
async fn other_unique_indexes_are_checked_before_promotion() {
    let db = TestDb::empty().await;
    db.client()
        .await
        .batch_execute(
            "CREATE TABLE items (id integer PRIMARY KEY, code text UNIQUE, tag text, name text);
             CREATE UNIQUE INDEX items_tag_key ON items (tag) NULLS NOT DISTINCT;
             INSERT INTO items VALUES (1, 'A', 't1', 'a'), (2, 'B', 't2', 'b');",
        )
        .await
        .expect("schema");
    let policy = "[policy]\nmax_bad_fraction = 1.0\nmax_count_change = 10.0\n";
    let upsert = db.write(
        "items.toml",
        format!("name = \"items\"\ntarget = \"items\"\n{policy}"),
    );
    let file = db.write(
        "items.csv",
        "id,code,tag,name\n1,A,t1,a2\n3,B,t3,x\n4,C,t4,y\n5,C,t5,z\n6,,t6,n1\n7,,t7,n2\n\
         8,D,,n3\n9,E,,n4\n",
    );
    let unique = |line, column: &str| (line, Some(column.to_string()), "unique".to_string());
    let id = db.check(&upsert, &file).await.expect("check");
    assert_eq!(
        db.errors(id).await,
        vec![
            unique(3, "code"),
            unique(4, "code"),
            unique(5, "code"),
            unique(8, "tag"),
            unique(9, "tag"),
        ]
    );
    assert_eq!(
        db.messages(id, "unique").await[..2],
        [
            "code 'B' is already taken in public.items by the row with id = 2; \
             unique index items_code_key",
            "code 'C' appears on 2 rows (lines 4, 5); unique index items_code_key",
        ]
    );
    assert_eq!(
        db.messages(id, "unique").await[3],
        "tag 'NULL' appears on 2 rows (lines 8, 9); unique index items_tag_key"
    );
    let applied = promote::promote(&db.target, id, &opts())
        .await
        .expect("promote without a refusal");
    assert_eq!((applied.inserted, applied.updated), (2, 1));
    assert_eq!(count(&db, "SELECT count(*) FROM items").await, 4);

    let swap = db.write(
        "items-swap.toml",
        format!("name = \"items\"\ntarget = \"items\"\nmode = \"swap\"\n{policy}"),
    );
    let id = db.check(&swap, &file).await.expect("check");
    assert_eq!(
        db.errors(id).await,
        vec![
            unique(4, "code"),
            unique(5, "code"),
            unique(8, "tag"),
            unique(9, "tag"),
        ]
    );
}

/// Keys that come in no order get the staged rows analyzed before the upsert (so the server
/// joins by hash rather than probing the target's index all over); keys in order do not (the
/// probes then walk the index in order). Either way production ends the same.
#[tokio::test]
async fn keys_in_no_order_are_analyzed_before_the_upsert() {
    let spec = fixture("partner-products.toml");
    let rows = |order: &dyn Fn(usize) -> usize| {
        let mut csv = String::from("sku,name,price,category\n");
        for i in 0..3000 {
            let n = order(i) + 1;
            csv.push_str(&format!(
                "SKU-{n:07},Product {n},{}.50,Garden\n",
                n % 90 + 1
            ));
        }
        csv
    };
    let mut hashes = Vec::new();
    for (name, order) in [
        ("sorted", &(|i| i) as &dyn Fn(usize) -> usize),
        ("scrambled", &|i| i * 7919 % 3000),
    ] {
        let db = TestDb::with_catalog().await;
        let file = db.write(&format!("{name}.csv"), rows(order));
        let id = db.check(&spec, &file).await.expect("check");
        promote::promote(&db.target, id, &opts())
            .await
            .expect("promote");
        let analyzed = count(
            &db,
            &format!(
                "SELECT count(*) FROM pg_stats WHERE schemaname = 'airlock_stage' \
                 AND tablename = 'batch_{id}_rows'"
            ),
        )
        .await;
        assert_eq!(
            analyzed > 0,
            name == "scrambled",
            "{name}: {analyzed} stats"
        );
        let timings = db.summary(id).await.timings.expect("timings").to_string();
        assert_eq!(
            timings.contains("analyze rows whose keys come in no order"),
            name == "scrambled",
            "{timings}"
        );
        hashes.push(db.table_hash("products").await);
    }
    assert_eq!(hashes[0], hashes[1], "the same production either way");
}
