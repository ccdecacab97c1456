//! `airlock init`: a first feed spec from the target table and a sample file. Everything it
//! can tell from the sample — compression, encoding, delimiter, which header field feeds which
//! column, lookups behind foreign keys, date and number formats — is written into the TOML
//! with the evidence as a comment, and whatever it cannot tell for sure is left commented
//! out with the reason, for a person to decide.
use std::fmt::Write as _;
use std::io::Read;
use std::path::Path;

use crate::engine::Catalog;

use crate::db::catalog::{self, Column, Table};
use crate::error::{Error, Result};
use crate::format::thousands;
use crate::source::{Format, SourceOptions, SourceReader};

/// How many records of the sample are looked at.
const SAMPLE: usize = 1000;

/// Writes a spec for `target` from `sample`: the TOML text.
pub async fn propose(
    client: &impl Catalog,
    target: &str,
    sample: &Path,
    name: &str,
) -> Result<String> {
    let table = resolve_target(client, target).await?;
    let file_err = |problem: String| Error::File {
        path: sample.to_owned(),
        problem,
    };
    let (options, source_section) = source_section(sample)?;
    let encoding = options.encoding;
    let mut reader = SourceReader::open(sample, options)?;
    let header = reader
        .header()?
        .ok_or_else(|| file_err("the sample is empty: not even a header line".into()))?;
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut record = csv::ByteRecord::new();
    while rows.len() < SAMPLE && reader.next_record(&mut record)?.is_some() {
        rows.push(
            record
                .iter()
                .map(|f| {
                    crate::source::decode(f, encoding)
                        .map(|c| c.into_owned())
                        .unwrap_or_default()
                })
                .collect(),
        );
    }
    let values = |i: usize| -> Vec<&str> {
        rows.iter()
            .filter_map(|r| r.get(i).map(String::as_str))
            .filter(|v| !v.is_empty())
            .collect()
    };

    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Written by `airlock init` from {} ({} sampled rows) and {}.\n# Every guess says why; check them, then run `airlock check` on the sample.",
        sample.display(),
        thousands(rows.len() as i64),
        table.display_name()
    );
    let _ = writeln!(out, "name   = {}", toml_str(name));
    let _ = writeln!(out, "target = {}", toml_str(&table.display_name()));
    if table.primary_key.is_empty() {
        let _ = writeln!(
            out,
            "# key = [\"...\"]   # {} has no primary key: name the merge key",
            table.display_name()
        );
    }
    let _ = writeln!(out, "mode   = \"upsert\"\n\n[source]");
    out.push_str(&source_section);
    let _ = writeln!(out, "\n[columns]");
    let mut used = vec![false; header.len()];
    for col in table.columns.iter().filter(|c| !c.generated && !c.identity) {
        let exact = crate::validate::binding::find_header(&header, std::slice::from_ref(&col.name));
        // A column behind a foreign key that no header field names is looked up before a
        // field with a similar name is taken (`category` feeds `category_id` by its name).
        let lookup = match exact {
            Ok(Some(_)) => None,
            _ => lookup_for(client, &table, col, &header, &used, &values).await?,
        };
        if let Some((line, Some(i))) = &lookup {
            used[*i] = true;
            out.push_str(line);
            continue;
        }
        let found = match exact {
            Ok(Some(i)) => Some((i, None)),
            _ => similar_header(&header, &used, &col.name).map(|i| {
                (
                    i,
                    Some(format!(
                        "`{}` is the header field most like `{}`",
                        header[i], col.name
                    )),
                )
            }),
        };
        match found {
            Some((i, similar)) => {
                used[i] = true;
                let mut rule = guess_rule(col, &values(i));
                if let Some(why) = similar {
                    rule = Some(match rule {
                        Some(r) => Rule {
                            evidence: format!("{why}; {}", r.evidence),
                            ..r
                        },
                        None => Rule {
                            body: String::new(),
                            evidence: why,
                            unsure: false,
                        },
                    });
                }
                let from =
                    (header[i] != col.name).then(|| format!("from = {}", toml_str(&header[i])));
                match (from, rule) {
                    (None, None) => {}
                    (Some(f), None) => {
                        let _ = writeln!(out, "{} = {{ {f} }}", ident_key(&col.name));
                    }
                    (from, Some(rule)) => write_rule(&mut out, col, from, rule),
                }
            }
            None => {
                if let Some((line, _)) = lookup {
                    out.push_str(&line);
                } else if col.not_null && !col.has_default {
                    let _ = writeln!(
                        out,
                        "# {} = \"...\"   # required (NOT NULL without a default), and no header field matches it",
                        ident_key(&col.name)
                    );
                }
            }
        }
    }
    let extra: Vec<String> = header
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(h, _)| format!("`{h}`"))
        .collect();
    if !extra.is_empty() {
        let _ = writeln!(
            out,
            "# Not loaded (no column of {} by these names): {}",
            table.display_name(),
            extra.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "\n[policy]\nmax_bad_fraction = 0.05   # abort above 5% quarantined rows\nduplicate_keys   = \"quarantine\""
    );
    Ok(out)
}

async fn resolve_target(client: &impl Catalog, target: &str) -> Result<Table> {
    let spec_err = |problem: String| Error::Target {
        target: target.to_string(),
        problem,
    };
    let table = client
        .table(target)
        .await?
        .map_err(|e| spec_err(format!("`{target}` {e}")))?
        .ok_or_else(|| spec_err(format!("table `{target}` not found")))?;
    if let Some(why) = catalog::reserved_schema(&table.schema) {
        return Err(spec_err(format!(
            "`{}` is in schema `{}`, which no feed may use: {why}",
            table.display_name(),
            table.schema
        )));
    }
    Ok(table)
}

/// How the sample is read, and the `[source]` lines that say so with their evidence: the
/// format by the sample's name; for a delimited file, its compression, encoding and
/// delimiter from its first bytes.
fn source_section(sample: &Path) -> Result<(SourceOptions, String)> {
    let file_err = |problem: String| Error::File {
        path: sample.to_owned(),
        problem,
    };
    let format = Format::of_name(sample);
    let mut out = String::new();
    match format {
        Format::Jsonl => {
            let _ = writeln!(
                out,
                "format = \"jsonl\"   # by the sample's name: one JSON object a line, its keys the columns"
            );
            return Ok((
                SourceOptions {
                    format,
                    ..SourceOptions::default()
                },
                out,
            ));
        }
        Format::Xlsx => {
            let _ = writeln!(
                out,
                "format = \"xlsx\"   # by the sample's name\n# sheet = \"...\"   # the first sheet is read unless this names another"
            );
            return Ok((
                SourceOptions {
                    format,
                    ..SourceOptions::default()
                },
                out,
            ));
        }
        Format::Csv | Format::Tsv => {}
    }
    let (compression, utf16, head) = sample_text(sample).map_err(file_err)?;
    let utf8 = utf16
        || match std::str::from_utf8(&head) {
            Ok(_) => true,
            // A sample cut inside a character is still UTF-8.
            Err(e) => e.error_len().is_none(),
        };
    let encoding = (!utf8).then_some(encoding_rs::WINDOWS_1252);
    let text = match encoding {
        None => String::from_utf8_lossy(&head).into_owned(),
        Some(enc) => enc.decode_without_bom_handling(&head).0.into_owned(),
    };
    let (delimiter, delimiter_evidence) = sniff_delimiter(&text);
    let _ = writeln!(
        out,
        "delimiter = {}   # {delimiter_evidence}",
        toml_str(&shown_delimiter(delimiter))
    );
    let _ = writeln!(
        out,
        "encoding  = {}   # {}",
        toml_str(if utf8 { "utf-8" } else { "windows-1252" }),
        if utf16 {
            "the sample is UTF-16 (by its byte order mark), read as UTF-8"
        } else if utf8 {
            "the sample is valid UTF-8"
        } else {
            "the sample is not valid UTF-8; Windows-1252 is the usual export encoding"
        }
    );
    let _ = writeln!(
        out,
        "compression = \"auto\"   # the sample is {}",
        match compression {
            crate::source::Compression::None => "not compressed".to_string(),
            c => format!("{} data (by its first bytes)", c.as_str()),
        }
    );
    let options = SourceOptions {
        format: Format::Csv,
        delimiter,
        quoting: true,
        encoding,
        ..SourceOptions::default()
    };
    Ok((options, out))
}

/// The first 256 KiB of the sample's text (UTF-16 turned into UTF-8), how it is compressed,
/// and whether it was UTF-16.
fn sample_text(
    path: &Path,
) -> std::result::Result<(crate::source::Compression, bool, Vec<u8>), String> {
    let (compression, utf16, text) = crate::source::sample(path)?;
    let mut head = Vec::new();
    text.take(256 * 1024)
        .read_to_end(&mut head)
        .map_err(|e| format!("cannot read the sample: {e}"))?;
    Ok((compression, utf16, head))
}

/// The delimiter that splits the first lines into the same number of fields, most of them.
fn sniff_delimiter(text: &str) -> (u8, String) {
    let lines: Vec<&str> = text.lines().take(50).filter(|l| !l.is_empty()).collect();
    let mut best = (b',', 0usize, 0usize);
    for d in [b',', b';', b'\t', b'|'] {
        let Some(first) = lines.first() else { break };
        let fields = first.bytes().filter(|&b| b == d).count();
        if fields == 0 {
            continue;
        }
        let agree = lines
            .iter()
            .filter(|l| l.bytes().filter(|&b| b == d).count() == fields)
            .count();
        if (agree, fields) > (best.1, best.2) {
            best = (d, agree, fields);
        }
    }
    let (d, agree, fields) = best;
    let evidence = if fields == 0 {
        "no other delimiter splits the header".to_string()
    } else {
        format!(
            "splits the header into {} fields, and {agree} of the first {} lines alike",
            fields + 1,
            lines.len()
        )
    };
    (d, evidence)
}

fn shown_delimiter(d: u8) -> String {
    if d == b'\t' {
        "\\t".into()
    } else {
        (d as char).to_string()
    }
}

/// A parsing rule the sampled values call for, with its evidence.
struct Rule {
    body: String,
    evidence: String,
    /// Written commented out: the sample cannot decide it.
    unsure: bool,
}

fn guess_rule(col: &Column, values: &[&str]) -> Option<Rule> {
    if values.is_empty() {
        return None;
    }
    const DATE: u32 = 1082;
    const TIMESTAMP: u32 = 1114;
    const TIMESTAMPTZ: u32 = 1184;
    match col.type_oid {
        DATE => date_rule(values, false),
        TIMESTAMP | TIMESTAMPTZ => date_rule(values, true),
        t if crate::validate::types::is_numeric_type(t) => number_rule(values),
        _ => None,
    }
}

fn share(n: usize, of: usize) -> String {
    format!(
        "{}% of {} sampled values",
        n * 100 / of.max(1),
        thousands(of as i64)
    )
}

fn date_rule(values: &[&str], with_time: bool) -> Option<Rule> {
    let iso = values
        .iter()
        .filter(|v| chrono::NaiveDate::parse_from_str(v.get(..10).unwrap_or(v), "%Y-%m-%d").is_ok())
        .count();
    if iso * 2 > values.len() {
        return None;
    }
    let dates = [
        "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%d-%m-%Y", "%m-%d-%Y", "%d/%m/%y", "%m/%d/%y",
        "%Y/%m/%d",
    ];
    let times = ["", " %H:%M", " %H:%M:%S"];
    let mut scored: Vec<(usize, String)> = Vec::new();
    for d in dates {
        for t in times {
            if !with_time && !t.is_empty() {
                continue;
            }
            let format = format!("{d}{t}");
            let fits = values
                .iter()
                .filter(|v| {
                    if t.is_empty() {
                        chrono::NaiveDate::parse_from_str(v.trim(), &format).is_ok()
                    } else {
                        chrono::NaiveDateTime::parse_from_str(v.trim(), &format).is_ok()
                    }
                })
                .count();
            if fits > 0 {
                scored.push((fits, format));
            }
        }
    }
    scored.sort_by_key(|s| std::cmp::Reverse(s.0));
    let (best, format) = scored.first()?.clone();
    let tied: Vec<&String> = scored
        .iter()
        .skip(1)
        .filter(|(n, f)| *n == best && f != &format)
        .map(|(_, f)| f)
        .collect();
    Some(Rule {
        body: format!("date_format = {}", toml_str(&format)),
        evidence: match tied.first() {
            Some(other) => format!(
                "{} look like {format} and as many like {other}: day and month cannot be told apart; keep the partner's",
                share(best, values.len())
            ),
            None => format!("{} look like {format}", share(best, values.len())),
        },
        unsure: !tied.is_empty(),
    })
}

fn number_rule(values: &[&str]) -> Option<Rule> {
    let comma_decimal = values
        .iter()
        .filter(|v| {
            let t = v.trim().trim_end_matches(['€', '$', '£']).trim();
            t.rsplit_once(',').is_some_and(|(_, f)| {
                !f.is_empty() && f.len() <= 3 && f.bytes().all(|b| b.is_ascii_digit())
            }) && !t.rsplit_once(',').is_some_and(|(_, f)| f.contains('.'))
        })
        .count();
    let currency: Vec<&str> = ["€", "EUR", "$", "USD", "£", "GBP"]
        .into_iter()
        .filter(|c| values.iter().any(|v| v.contains(c)))
        .collect();
    let grouped_dot = values.iter().any(|v| v.contains('.') && v.contains(','));
    if comma_decimal * 2 <= values.len() && currency.is_empty() {
        return None;
    }
    let mut body = Vec::new();
    let mut evidence = Vec::new();
    if comma_decimal * 2 > values.len() {
        body.push("decimal = \",\"".to_string());
        evidence.push(format!(
            "{} have a decimal comma",
            share(comma_decimal, values.len())
        ));
        if grouped_dot {
            body.push("thousands = \".\"".to_string());
        }
    }
    if !currency.is_empty() {
        body.push(format!(
            "currency = [{}]",
            currency
                .iter()
                .map(|c| toml_str(c))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        evidence.push(format!("some carry {}", currency.join(" ")));
    }
    Some(Rule {
        body: body.join(", "),
        evidence: evidence.join("; "),
        unsure: false,
    })
}

/// An unused header field whose name contains the column's (`Unit Price` for `price`) or
/// is a letter or two from it: the closest such.
fn similar_header(header: &[String], used: &[bool], column: &str) -> Option<usize> {
    let norm = |s: &str| -> String {
        s.trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric())
            .collect()
    };
    let want = norm(column);
    if want.len() < 3 {
        return None;
    }
    header
        .iter()
        .enumerate()
        .filter(|(i, _)| !used[*i])
        .filter_map(|(i, h)| {
            let have = norm(h);
            let distance = crate::validate::binding::edit_distance(&have, &want);
            let contains = have.len() >= 3 && (have.contains(&want) || want.contains(&have));
            (contains || distance <= 2).then_some((distance, i))
        })
        .min()
        .map(|(_, i)| i)
}

fn write_rule(out: &mut String, col: &Column, from: Option<String>, rule: Rule) {
    let body = match (from, rule.body.is_empty()) {
        (Some(f), true) => f,
        (Some(f), false) => format!("{f}, {}", rule.body),
        (None, _) => rule.body,
    };
    let line = format!("{} = {{ {body} }}", ident_key(&col.name));
    if rule.unsure {
        let _ = writeln!(out, "# {line}   # {}", rule.evidence);
    } else {
        let _ = writeln!(out, "{line}   # {}", rule.evidence);
    }
}

/// For a column no header field names: a lookup through its foreign key, when a header field
/// that feeds no column matches a text column of the referenced table for most sampled
/// values. The lines to write, and the header field it reads.
async fn lookup_for<'a>(
    client: &impl Catalog,
    table: &Table,
    col: &Column,
    header: &[String],
    used: &[bool],
    values: &dyn Fn(usize) -> Vec<&'a str>,
) -> Result<Option<(String, Option<usize>)>> {
    // The first place to look values up in that most sampled values of a field are found in;
    // else the first, for the commented-out line.
    let candidates = client.lookups_for(table, &col.name).await?;
    let mut chosen = None;
    for fk in &candidates {
        let referenced = client.referenced(fk).await?;
        let best = best_match(client, &referenced, header, used, values).await?;
        let found = best.is_some();
        if chosen.is_none() || found {
            chosen = Some((fk, referenced, best));
        }
        if found {
            break;
        }
    }
    let Some((fk, referenced, best)) = chosen else {
        return Ok(None);
    };
    // Why this table: its foreign key; on ClickHouse, which has none, the column's name.
    let why = match fk.name.is_empty() {
        true => format!(
            "{} has a column `{}` too (ClickHouse has no foreign keys)",
            referenced.display_name(),
            fk.ref_columns[0]
        ),
        false => format!("foreign key {}", fk.name),
    };
    let Some((found, of, text_col, i)) = best else {
        return Ok(Some((
            format!(
                "# {} = {{ lookup = {}, match = \"...\", value = {}, from = \"...\" }}   # {why}; no header field matches a text column of {} for most values\n",
                ident_key(&col.name),
                toml_str(&referenced.display_name()),
                toml_str(&fk.ref_columns[0]),
                referenced.display_name()
            ),
            None,
        )));
    };
    Ok(Some((
        format!(
            "{} = {{ lookup = {}, match = {}, value = {}, from = {} }}   # {why}: {} of {} distinct sampled `{}` values are in {}.{}\n",
            ident_key(&col.name),
            toml_str(&referenced.display_name()),
            toml_str(&text_col),
            toml_str(&fk.ref_columns[0]),
            toml_str(&header[i]),
            thousands(found as i64),
            thousands(of as i64),
            header[i],
            referenced.display_name(),
            text_col
        ),
        Some(i),
    )))
}

/// The header field (not yet feeding a column) whose distinct sampled values a text column
/// of `referenced` holds for the largest share, above half: (found, distinct values, the
/// text column, the field).
async fn best_match<'a>(
    client: &impl Catalog,
    referenced: &Table,
    header: &[String],
    used: &[bool],
    values: &dyn Fn(usize) -> Vec<&'a str>,
) -> Result<Option<(usize, usize, String, usize)>> {
    let mut best: Option<(usize, usize, String, usize)> = None;
    for (i, _) in header.iter().enumerate().filter(|(i, _)| !used[*i]) {
        let mut sample: Vec<&str> = values(i);
        sample.sort_unstable();
        sample.dedup();
        if sample.is_empty() {
            continue;
        }
        for text_col in referenced.columns.iter().filter(|c| c.is_text()) {
            let found = client
                .count_matches(referenced, &text_col.name, &sample)
                .await? as usize;
            if found * 2 > sample.len()
                && best
                    .as_ref()
                    .is_none_or(|b| found * b.1 > b.0 * sample.len())
            {
                best = Some((found, sample.len(), text_col.name.clone(), i));
            }
        }
    }
    Ok(best)
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A TOML key: bare when it can be.
fn ident_key(name: &str) -> String {
    if !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        name.to_string()
    } else {
        toml_str(name)
    }
}
