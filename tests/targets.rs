//! Targets whose definition makes promotion hard — types without equality, partitions that
//! do not take every row, generated columns whose expression fails: a batch is validated
//! only when it can be promoted, and what cannot go in is quarantined with its line.
mod common;

use common::TestDb;

fn spec_for(db: &TestDb, target: &str, extra: &str) -> std::path::PathBuf {
    db.write(
        &format!("{}-{}.toml", target.replace('.', "_"), extra.len()),
        format!("name = \"odd\"\ntarget = \"{target}\"\n{extra}\n[policy]\nmax_bad_fraction = 1\n"),
    )
}

async fn promote(db: &TestDb, id: i64) -> airlock::promote::Applied {
    airlock::promote::promote(
        &db.target,
        id,
        &airlock::promote::PromoteOptions {
            override_policy: true,
            note: Some("test".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("promote {id}: {e}"))
}

fn counts(a: &airlock::promote::Applied) -> (i64, i64, i64) {
    (a.inserted, a.updated, a.unchanged)
}

#[tokio::test]
async fn columns_without_equality_are_compared_by_their_text() {
    let db = TestDb::empty().await;
    db.client()
        .await
        .batch_execute(
            "CREATE TYPE spot AS (at point, label text);
             CREATE TABLE shapes (
                 id int PRIMARY KEY, p point, poly polygon, doc xml, b box, c circle,
                 path path, seg lseg, ps point[], s spot, j json, snap pg_snapshot)",
        )
        .await
        .expect("schema");
    let header = "id,p,poly,doc,b,c,path,seg,ps,s,j,snap\n";
    let row = |id: i32, x: &str, b: &str| {
        format!(
            "{id},\"({x},2)\",\"((0,0),(1,{x}),(2,0))\",<a>{x}</a>,\"{b}\",\"<(1,1),{x}>\",\"[(0,0),(1,{x})]\",\"[(0,0),(1,{x})]\",\"{{\"\"(1,{x})\"\"}}\",\"(\"\"(1,{x})\"\",L{x})\",\"{{\"\"x\"\": {x}}}\",10:20:1{x}\n"
        )
    };
    let spec = spec_for(&db, "public.shapes", "");
    let first = db.write(
        "first.csv",
        format!(
            "{header}{}{}",
            row(1, "1", "(2,2),(0,0)"),
            row(2, "5", "(3,3),(1,1)")
        ),
    );
    let id = db.check(&spec, &first).await.expect("check");
    assert_eq!(db.summary(id).await.rows.good, 2);
    assert_eq!(counts(&promote(&db, id).await), (2, 0, 0));
    // The same file again changes nothing.
    let again = db.check(&spec, &first).await.expect("check");
    assert_eq!(counts(&promote(&db, again).await), (0, 0, 2));
    // Row 1 moves its point; row 2's box moves to another of the same area, which `=` on
    // boxes would call equal: both are updates.
    let second = db.write(
        "second.csv",
        format!(
            "{header}{}{}",
            row(1, "7", "(2,2),(0,0)"),
            row(2, "5", "(4,4),(2,2)")
        ),
    );
    let id = db.check(&spec, &second).await.expect("check");
    let s = db.summary(id).await;
    assert_eq!((s.plan.insert, s.plan.update, s.plan.unchanged), (0, 2, 0));
    assert_eq!(counts(&promote(&db, id).await), (0, 2, 0));
    let b: String = db
        .client()
        .await
        .query_one("SELECT b::text FROM shapes WHERE id = 2", &[])
        .await
        .expect("box")
        .get(0);
    assert_eq!(b, "(4,4),(2,2)");
    // A swap compares the same way.
    let swap = spec_for(&db, "public.shapes", "mode = \"swap\"");
    let id = db.check(&swap, &second).await.expect("check");
    let s = db.summary(id).await;
    assert_eq!((s.plan.insert, s.plan.update, s.plan.unchanged), (0, 0, 2));
    promote(&db, id).await;
}

async fn error_lines(db: &TestDb, id: i64, check: &str) -> Vec<i64> {
    db.errors(id)
        .await
        .into_iter()
        .filter(|(_, _, c)| c == check)
        .map(|(line, _, _)| line)
        .collect()
}

#[tokio::test]
async fn rows_no_partition_takes_are_quarantined_and_refusals_are_bisected() {
    let db = TestDb::empty().await;
    db.client()
        .await
        .batch_execute(
            "CREATE TABLE events (id int, day date, kind text, amount int, PRIMARY KEY (id, day, kind))
                 PARTITION BY RANGE (day);
             CREATE TABLE events_jan PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
             CREATE TABLE events_feb PARTITION OF events FOR VALUES FROM ('2026-02-01') TO ('2026-03-01')
                 PARTITION BY LIST (kind);
             CREATE TABLE events_feb_ab PARTITION OF events_feb FOR VALUES IN ('a', 'b');
             CREATE TABLE events_feb_null PARTITION OF events_feb FOR VALUES IN ('n');
             CREATE TABLE regions (id int PRIMARY KEY, region text, note text) PARTITION BY HASH (id);
             CREATE TABLE regions_0 PARTITION OF regions FOR VALUES WITH (MODULUS 2, REMAINDER 0);
             CREATE TABLE regions_1 PARTITION OF regions FOR VALUES WITH (MODULUS 2, REMAINDER 1);
             CREATE TABLE places (id int, region text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
             CREATE TABLE places_eu PARTITION OF places FOR VALUES IN ('eu');
             CREATE TABLE places_rest PARTITION OF places DEFAULT;
             CREATE FUNCTION refuse_13() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN IF NEW.amount = 13 THEN RAISE EXCEPTION 'unlucky amount'; END IF; RETURN NEW; END $$;
             CREATE TRIGGER no_13 BEFORE INSERT ON events_jan FOR EACH ROW EXECUTE FUNCTION refuse_13();",
        )
        .await
        .expect("schema");
    let spec = spec_for(&db, "public.events", "");
    let file = db.write(
        "events.csv",
        "id,day,kind,amount\n\
         1,2026-01-05,a,10\n\
         2,2026-02-10,b,20\n\
         3,2026-03-01,a,30\n\
         4,2025-12-31,a,40\n\
         5,2026-02-11,z,50\n\
         6,2026-02-12,n,60\n\
         7,2026-01-09,a,13\n\
         8,2026-01-31,b,80\n",
    );
    let id = db.check(&spec, &file).await.expect("check");
    // March and December have no partition; February has none for kind z.
    assert_eq!(error_lines(&db, id, "partition").await, vec![4, 5, 6]);
    let messages = db.messages(id, "partition").await;
    assert!(
        messages[0]
            .contains("no partition of public.events takes this row (partitioned by RANGE (day))"),
        "{messages:?}"
    );
    // The trigger's refusal is only known to the server: promotion finds the row by
    // bisection on the partitioned table, sets it aside, and the rest goes in after approval.
    let opts = airlock::promote::PromoteOptions {
        override_policy: true,
        note: Some("test".into()),
        ..Default::default()
    };
    let err = airlock::promote::promote(&db.target, id, &opts)
        .await
        .expect_err("the trigger refuses line 8");
    assert!(err.to_string().contains("unlucky amount"), "{err}");
    assert_eq!(error_lines(&db, id, "promotion").await, vec![8]);
    assert_eq!(counts(&promote(&db, id).await), (4, 0, 0));
    let stored: i64 = db
        .client()
        .await
        .query_one("SELECT count(*) FROM events", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(stored, 4);
    // Hash partitions take every key; a default partition takes every row.
    let spec = spec_for(&db, "public.regions", "");
    let file = db.write("regions.csv", "id,region,note\n1,eu,x\n2,us,y\n3,,z\n");
    let id = db.check(&spec, &file).await.expect("check");
    assert_eq!(db.summary(id).await.rows.good, 3);
    assert_eq!(counts(&promote(&db, id).await), (3, 0, 0));
    let spec = spec_for(&db, "public.places", "");
    let file = db.write("places.csv", "id,region\n1,eu\n2,us\n3,asia\n");
    let id = db.check(&spec, &file).await.expect("check");
    assert_eq!(db.summary(id).await.rows.good, 3);
    assert_eq!(counts(&promote(&db, id).await), (3, 0, 0));
}

#[tokio::test]
async fn generated_columns_that_fail_are_found_at_validation() {
    let db = TestDb::empty().await;
    db.client()
        .await
        .batch_execute(
            "CREATE TABLE calc (
                 id int PRIMARY KEY,
                 d int,
                 dbl int GENERATED ALWAYS AS (d * 2) STORED,
                 ratio numeric GENERATED ALWAYS AS (100 / d) STORED,
                 label text NOT NULL GENERATED ALWAYS AS (CASE WHEN d > -5 THEN 'ok' END) STORED)",
        )
        .await
        .expect("schema");
    let spec = spec_for(&db, "public.calc", "");
    let file = db.write(
        "calc.csv",
        "id,d\n1,1\n2,2147483647\n3,0\n4,-7\n5,5\n6,-1073741825\n",
    );
    let id = db.check(&spec, &file).await.expect("check");
    assert_eq!(error_lines(&db, id, "generated").await, vec![3, 4, 5, 7]);
    let messages = db.messages(id, "generated").await;
    assert!(
        messages[0].contains("generated column dbl = (d * 2)"),
        "{messages:?}"
    );
    assert!(messages[0].contains("integer out of range"), "{messages:?}");
    assert!(messages[1].contains("division by zero"), "{messages:?}");
    assert!(messages[2].contains("NOT NULL"), "{messages:?}");
    // A cron run promotes the rest without a refusal.
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
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stored: Vec<i32> = db
        .client()
        .await
        .query("SELECT id FROM calc ORDER BY id", &[])
        .await
        .expect("rows")
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(stored, vec![1, 5]);
    // In a big file, the one row that fails is found without trying every row alone.
    let mut big = String::from("id,d\n");
    for i in 1..=60_000 {
        let d = if i == 43_210 { 0 } else { i };
        big.push_str(&format!("{},{d}\n", i + 10));
    }
    let file = db.write("big.csv", big);
    let id = db.check(&spec, &file).await.expect("check");
    assert_eq!(error_lines(&db, id, "generated").await, vec![43_211]);
    assert_eq!(db.summary(id).await.rows.good, 59_999);
    // A CHECK constraint on a generated column is judged with the computed value.
    db.client()
        .await
        .batch_execute(
            "CREATE TABLE capped (id int PRIMARY KEY, d int, note text,
                 dbl int GENERATED ALWAYS AS (d * 2) STORED CHECK (dbl < 100),
                 CONSTRAINT both_small CHECK (dbl + d < 120))",
        )
        .await
        .expect("capped");
    let spec = spec_for(&db, "public.capped", "");
    let file = db.write("capped.csv", "id,d,note\n1,10,a\n2,60,b\n3,,c\n4,45,d\n");
    let id = db.check(&spec, &file).await.expect("check");
    let lines: Vec<i64> = db
        .errors(id)
        .await
        .into_iter()
        .map(|(line, _, check)| {
            assert_eq!(check, "check_constraint");
            line
        })
        .collect();
    // Line 3 breaks both (it is set aside by the first); line 5 only the second.
    assert_eq!(lines, vec![3, 5]);
    assert_eq!(counts(&promote(&db, id).await), (2, 0, 0));
}
