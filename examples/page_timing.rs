//! Measures how long one page of quarantined rows takes to fetch, at the start, the middle and
//! the end of a batch (keyset pagination), as the review UI fetches them; and the frequency
//! view of the batch's commonest check (the first time, which counts, and after); the count
//! behind `row 1 of N`; and pages of the Changes tab (inserts, updates, deletes).
//!
//!   cargo run --release --example page_timing -- BATCH_ID [PAGES]
use std::time::Instant;

use airlock::db::{self, ConnectTarget};
use airlock::review::{self, Filter, PageFrom};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let batch: i64 = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: page_timing BATCH_ID [PAGES]"))?
        .parse()?;
    let pages: usize = args.next().map(|p| p.parse()).transpose()?.unwrap_or(200);
    let target = ConnectTarget::resolve(std::env::var("DATABASE_URL").ok().as_deref())?;
    let client = db::connect(&target).await?;
    let summary = airlock::report::load(&client, batch).await?;
    // As the review does when it opens a batch.
    airlock::stage::index_for_browsing(&client, &airlock::layout::StageNames::new(batch)).await?;
    let fields = 4;
    let quarantined = summary.rows.quarantined.max(1);
    let mut times = Vec::new();
    let filter = Filter::default();
    for i in 0..pages {
        // Spread the pages over the whole batch: start, everywhere in between, end.
        let from = match i % 3 {
            0 => PageFrom::Start,
            1 => PageFrom::After((i as i64 * 7919) % summary.rows.total.max(1)),
            _ => PageFrom::End,
        };
        let t = Instant::now();
        let rows = review::quarantined_page(&client, batch, fields, &filter, from, 40).await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(!rows.is_empty(), "an empty page");
    }
    times.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{pages} pages of 40 rows from {quarantined} quarantined rows: median {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        times[times.len() / 2],
        times[times.len() * 95 / 100],
        times[times.len() - 1]
    );
    // Sorted by the third field: the first page makes the index.
    let sort = review::Sort {
        field: 2.min(fields - 1),
        descending: false,
    };
    let t = Instant::now();
    let first =
        review::sorted_page(&client, batch, fields, &filter, sort, PageFrom::Start, 40).await?;
    let made = t.elapsed().as_secs_f64() * 1000.0;
    let mut times = Vec::new();
    let mut from = PageFrom::After(first.last().map_or(0, |r| r.ord));
    for _ in 0..pages.min(50) {
        let t = Instant::now();
        let rows = review::sorted_page(&client, batch, fields, &filter, sort, from, 40).await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        match rows.last() {
            Some(r) => from = PageFrom::After(r.ord),
            None => break,
        }
    }
    let end = Instant::now();
    review::sorted_page(&client, batch, fields, &filter, sort, PageFrom::End, 40).await?;
    let end = end.elapsed().as_secs_f64() * 1000.0;
    times.sort_by(|a, b| a.total_cmp(b));
    println!(
        "sorted by field {}: first page {made:.1} ms (makes the index), next pages median {:.2} ms, max {:.2} ms, last page {end:.1} ms",
        sort.field,
        times[times.len() / 2],
        times[times.len() - 1]
    );
    // The count behind `row 1,234 of N`, and where a row in the middle stands.
    let t = Instant::now();
    let n = review::quarantined_rank(&client, batch, &filter, i64::MAX).await?;
    let counted = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    review::quarantined_rank(&client, batch, &filter, summary.rows.total / 2).await?;
    println!(
        "counted {n} quarantined rows in {counted:.1} ms; the middle one's rank in {:.1} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );
    let loaded = airlock::batch::load(&client, batch).await?;
    for (name, from) in [
        ("start", PageFrom::Start),
        ("middle", PageFrom::After(summary.rows.total / 2)),
        ("end", PageFrom::End),
    ] {
        let t = Instant::now();
        let rows = review::changes_page(&client, &loaded, from, 40).await?;
        println!(
            "changes page at the {name}: {} rows in {:.1} ms",
            rows.len(),
            t.elapsed().as_secs_f64() * 1000.0
        );
    }
    if let Some(check) = summary.checks.first() {
        let filter = Filter {
            check: Some(check.check.clone()),
            column: check.column.clone(),
            ..Filter::default()
        };
        let mut times = Vec::new();
        for _ in 0..pages.min(100) {
            let t = Instant::now();
            let counted = review::value_frequencies(&client, batch, &filter, 200).await?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            anyhow::ensure!(counted.rows > 0, "no values counted");
        }
        let first = times[0];
        times.sort_by(|a, b| a.total_cmp(b));
        println!(
            "frequency view of {} on {}: first {first:.2} ms, then median {:.2} ms, max {:.2} ms",
            check.check,
            check.column.as_deref().unwrap_or("(no column)"),
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }
    Ok(())
}
