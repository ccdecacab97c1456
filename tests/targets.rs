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
