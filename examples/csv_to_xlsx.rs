//! Writes a CSV file as an Excel workbook, the way a partner's export holds it: numbers as
//! number cells, everything else as text, one sheet. For the benchmark's xlsx check.
//!
//!   cargo run --release --example csv_to_xlsx -- IN.csv OUT.xlsx
use rust_xlsxwriter::Workbook;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(input), Some(output)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: csv_to_xlsx IN.csv OUT.xlsx");
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(&input)?;
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    for (r, record) in reader.records().enumerate() {
        let record = record?;
        for (c, field) in record.iter().enumerate() {
            let (r, c) = (u32::try_from(r)?, u16::try_from(c)?);
            // A price like 839.10 is a number cell, as Excel makes it when the file is opened.
            match field.parse::<f64>() {
                Ok(n) if r > 0 && field.chars().all(|ch| ch.is_ascii_digit() || ch == '.') => {
                    sheet.write_number(r, c, n)?;
                }
                _ => {
                    sheet.write_string(r, c, field)?;
                }
            }
        }
    }
    book.save(&output)?;
    Ok(())
}
