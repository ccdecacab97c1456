//! Excel workbooks: the chosen sheet's cells as Excel typed them (ISO dates, numbers at
//! Excel's 15 digits, formulas by their cached value), positions as the sheet's row numbers,
//! error cells and merged headers said, hostile archives refused before they cost memory.
mod common;

use std::io::Write;

use common::TestDb;
use rust_xlsxwriter::{ExcelDateTime, Format, Formula, Workbook};

const SCHEMA: &str = "
CREATE TABLE items (
    sku     text PRIMARY KEY,
    qty     integer NOT NULL,
    price   numeric(10,2),
    note    text,
    shipped date,
    stamp   timestamp,
    active  boolean
);";

const SPEC: &str = r#"
name   = "items"
target = "public.items"
[source]
sheet     = "Products"
skip_rows = 1
[policy]
max_bad_fraction = 1
"#;

/// sku, qty, price, note, shipped, stamp, active as the typed rows hold them.
type TypedItem = (
    String,
    i32,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<bool>,
);

async fn setup() -> (TestDb, std::path::PathBuf) {
    let db = TestDb::with_catalog().await;
    db.client()
        .await
        .batch_execute(SCHEMA)
        .await
        .expect("schema");
    let spec = db.write("items.toml", SPEC);
    (db, spec)
}

/// A workbook whose second sheet, `Products`, has a title row, the header on row 2, and
/// rows of every kind of cell from row 3 (row 6 left blank).
fn workbook(path: &std::path::Path) {
    let mut book = Workbook::new();
    let notes = book.add_worksheet();
    notes.set_name("Notes").expect("name");
    notes.write_string(0, 0, "read me").expect("write");
    let sheet = book.add_worksheet();
    sheet.set_name("Products").expect("name");
    let date = Format::new().set_num_format("dd/mm/yyyy");
    let stamp = Format::new().set_num_format("dd/mm/yyyy hh:mm");
    sheet
        .write_string(0, 0, "Export of 15 March")
        .expect("title");
    for (c, name) in ["sku", "qty", "price", "note", "shipped", "stamp", "active"]
        .iter()
        .enumerate()
    {
        sheet.write_string(1, c as u16, *name).expect("header");
    }
    // Row 3: every kind of cell.
    sheet.write_string(2, 0, "A-1").expect("w");
    sheet.write_number(2, 1, 3.0).expect("w");
    sheet.write_number(2, 2, 12.299999999999999).expect("w");
    sheet.write_number(2, 3, 0.1 + 0.2).expect("w");
    let day = ExcelDateTime::from_ymd(2026, 3, 15).expect("date");
    sheet
        .write_datetime_with_format(2, 4, &day, &date)
        .expect("w");
    let at = ExcelDateTime::from_ymd(2026, 3, 15)
        .expect("date")
        .and_hms(14, 30, 0)
        .expect("time");
    sheet
        .write_datetime_with_format(2, 5, &at, &stamp)
        .expect("w");
    sheet.write_boolean(2, 6, true).expect("w");
    // Row 4: a formula, by its cached value; an empty price is NULL.
    sheet.write_string(3, 0, "A-2").expect("w");
    sheet
        .write_formula(3, 1, Formula::new("=B3*2").set_result("6"))
        .expect("w");
    sheet.write_string(3, 3, "plain text").expect("w");
    // Row 5: an error cell and a missing quantity.
    sheet.write_string(4, 0, "A-3").expect("w");
    sheet
        .write_formula(4, 2, Formula::new("=1/0").set_result("#DIV/0!"))
        .expect("w");
    // Row 6 is blank; row 7 has a value past the header's last column.
    sheet.write_string(6, 0, "A-4").expect("w");
    sheet.write_number(6, 1, 1.0).expect("w");
    sheet.write_string(6, 8, "stray").expect("w");
    // Row 8: a quantity Excel holds as 2.5 cannot be an integer.
    sheet.write_string(7, 0, "A-5").expect("w");
    sheet.write_number(7, 1, 2.5).expect("w");
    book.save(path).expect("save");
}

#[tokio::test]
async fn cells_arrive_as_excel_typed_them() {
    let (db, spec) = setup().await;
    let file = db.write("items.xlsx", "");
    workbook(&file);
    let id = db.check(&spec, &file).await.expect("check");
    let s = db.summary(id).await;
    assert_eq!(s.file.format.as_deref(), Some("xlsx"));
    assert_eq!(s.rows.total, 5, "the blank row is not a record");
    let rows: Vec<TypedItem> = db
        .client()
        .await
        .query(
            &format!(
                "SELECT sku, qty, price::text, note, shipped::text, stamp::text, active \
                 FROM airlock_stage.batch_{id}_rows ORDER BY sku"
            ),
            &[],
        )
        .await
        .expect("typed")
        .into_iter()
        .map(|r| {
            (
                r.get(0),
                r.get(1),
                r.get(2),
                r.get(3),
                r.get(4),
                r.get(5),
                r.get(6),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                "A-1".to_string(),
                3,
                Some("12.30".to_string()),
                Some("0.3".to_string()),
                Some("2026-03-15".to_string()),
                Some("2026-03-15 14:30:00".to_string()),
                Some(true)
            ),
            (
                "A-2".to_string(),
                6,
                None,
                Some("plain text".to_string()),
                None,
                None,
                None
            ),
        ]
    );
    // Positions are the sheet's row numbers: the error cell on row 5, the stray cell on
    // row 7, the fraction on row 8.
    let errors: Vec<(i64, String)> = db
        .errors(id)
        .await
        .into_iter()
        .map(|(line, _, check)| (line, check))
        .collect();
    assert_eq!(
        errors,
        [
            (5, "cell".to_string()),
            (5, "not_null".to_string()),
            (7, "columns".to_string()),
            (8, "type".to_string()),
        ]
    );
    let cell = db.messages(id, "cell").await;
    assert_eq!(cell, ["cell C5 holds Excel's error #DIV/0!, not a value"]);
    // A workbook's row has no text of its own to show.
    let client = db.client().await;
    assert_eq!(
        airlock::review::source_text(&client, id, 1)
            .await
            .expect("text"),
        None
    );
}

#[tokio::test]
async fn the_sheet_and_the_header_must_be_there() {
    let (db, _) = setup().await;
    let file = db.write("items.xlsx", "");
    workbook(&file);
    let spec = db.write("other.toml", SPEC.replace("Products", "Prices"));
    let e = db.check(&spec, &file).await.expect_err("no such sheet");
    assert!(
        e.to_string()
            .contains("has no sheet `Prices`; its sheets are `Notes`, `Products`"),
        "{e}"
    );

    // A merged header cell leaves the cells it covers empty.
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Products").expect("name");
    sheet.write_string(0, 0, "title").expect("w");
    sheet.write_string(1, 0, "sku").expect("w");
    sheet
        .merge_range(1, 1, 1, 2, "qty", &Format::new())
        .expect("merge");
    sheet.write_string(1, 3, "note").expect("w");
    sheet.write_string(2, 0, "A-1").expect("w");
    let merged = db.write("merged.xlsx", "");
    book.save(&merged).expect("save");
    let spec = db.write("items.toml", SPEC);
    let e = db.check(&spec, &merged).await.expect_err("merged header");
    assert!(e.to_string().contains("header cell C2 is empty"), "{e}");
    assert!(e.to_string().contains("merged"), "{e}");

    // Keys that do not apply to a workbook are refused by name.
    let spec = db.write(
        "bad.toml",
        SPEC.replace("[source]", "[source]\ndelimiter = \";\""),
    );
    let e = db.check(&spec, &file).await.expect_err("delimiter");
    assert!(e.to_string().contains("source.delimiter"), "{e}");
}

/// A zip archive holding the given entries.
fn archive(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, text) in entries {
        zip.start_file(*name, zip::write::SimpleFileOptions::default())
            .expect("entry");
        zip.write_all(text.as_bytes()).expect("write");
    }
    zip.finish().expect("zip").into_inner()
}

#[tokio::test]
async fn hostile_workbooks_are_refused_without_a_panic() {
    let (db, spec) = setup().await;
    // Not a workbook at all.
    let file = db.write("items.xlsx", "sku,qty\nA-1,1\n");
    let e = db.check(&spec, &file).await.expect_err("not a zip");
    assert!(e.to_string().contains("not an xlsx workbook"), "{e}");
    // A zip that is not a workbook.
    let file = db.write("items.xlsx", archive(&[("hello.txt", "hi")]));
    let e = db.check(&spec, &file).await.expect_err("not a workbook");
    assert!(
        e.to_string().contains("not a readable xlsx workbook"),
        "{e}"
    );
    // Shared strings that claim far more strings than they hold (calamine would reserve
    // room for them all before reading one).
    let bomb = archive(&[(
        "xl/sharedStrings.xml",
        r#"<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="999999999999" uniqueCount="999999999999"><si><t>a</t></si></sst>"#,
    )]);
    let file = db.write("bomb.xlsx", bomb);
    let e = db.check(&spec, &file).await.expect_err("bomb");
    assert!(e.to_string().contains("claim 999999999999 strings"), "{e}");
    // A workbook cut short.
    let whole = db.write("whole.xlsx", "");
    workbook(&whole);
    let bytes = std::fs::read(&whole).expect("read");
    let cut = db.write("cut.xlsx", &bytes[..bytes.len() / 2]);
    let e = db.check(&spec, &cut).await.expect_err("cut");
    assert!(e.to_string().contains("xlsx workbook"), "{e}");
}
