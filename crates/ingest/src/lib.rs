//! Reading items from files: JSON Lines and CSV, row by row, with a diagnosis for every row that
//! cannot be read and no effect of one bad row on the others.
//!
//! [`read_rows`] turns a byte stream into [`Row`]s: each carries its line number and either an
//! [`ItemInput`] (with warnings, for example about an unreadable date) or a [`RowError`] saying
//! why the row was refused. The formats are documented in `docs/formats.md`. Live sources (feeds,
//! pages, webhooks) will live here too, each producing `ItemInput`s.
#![deny(missing_docs)]

pub mod dates;
pub mod feed;
pub mod fetch;
mod lines;
pub mod page;

use lines::{BoundedLines, Line};
use serde_json::Value;
use std::io::{BufRead, Read};
use tidewatch_model::ItemInput;

/// Longest line of a JSON Lines file, in bytes. It is larger than the text limit because JSON
/// escapes can make a line several times longer than the text it carries.
pub const MAX_LINE_BYTES: usize = 8 << 20;

/// The file formats `import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line.
    JsonLines,
    /// Comma-separated values with a header row.
    Csv,
}

impl Format {
    /// The format implied by a file name (`.jsonl`, `.ndjson`, `.json` → JSON Lines; `.csv` → CSV).
    pub fn from_path(path: &str) -> Option<Format> {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") || lower.ends_with(".json") {
            Some(Format::JsonLines)
        } else if lower.ends_with(".csv") {
            Some(Format::Csv)
        } else {
            None
        }
    }

    /// Guesses the format from the first bytes: a `{` (after whitespace or a BOM) means JSON Lines.
    pub fn sniff(head: &[u8]) -> Format {
        let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
        match head.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') | Some(b'[') => Format::JsonLines,
            _ => Format::Csv,
        }
    }
}

/// Why a row was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    /// The line is longer than [`MAX_LINE_BYTES`].
    #[error("line is {len} bytes, over the limit of {max} bytes; skipped without reading it")]
    LineTooLong {
        /// Length of the line.
        len: u64,
        /// Limit.
        max: usize,
    },
    /// The bytes are not UTF-8.
    #[error("invalid UTF-8 at byte {at} of the line")]
    InvalidUtf8 {
        /// Byte offset of the first bad byte.
        at: usize,
    },
    /// The line is not valid JSON.
    #[error("broken JSON at column {column}: {message}")]
    Json {
        /// 1-based column.
        column: usize,
        /// What the JSON parser found.
        message: String,
    },
    /// The JSON value is not an object.
    #[error("expected a JSON object, found {found}")]
    NotAnObject {
        /// The kind of value found.
        found: &'static str,
    },
    /// A field has the wrong type.
    #[error("field `{field}` must be {expected}, found {found}")]
    FieldType {
        /// Field name.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
        /// The kind of value found.
        found: &'static str,
    },
    /// A CSV record has a different number of fields from the header.
    #[error("CSV row has {found} fields but the header has {expected}")]
    ColumnCount {
        /// Fields in the header.
        expected: usize,
        /// Fields in this row.
        found: usize,
    },
    /// The CSV reader failed on this record.
    #[error("unreadable CSV: {0}")]
    Csv(String),
    /// The file could not be read any further.
    #[error("read error: {0}")]
    Io(String),
}

/// One row of input: where it was and what came of it.
#[derive(Debug)]
pub struct Row {
    /// 1-based line number where the row starts.
    pub line: u64,
    /// The item, or why the row was refused.
    pub result: Result<ItemInput, RowError>,
    /// Problems that did not stop the row (for example an unreadable date).
    pub warnings: Vec<String>,
}

/// Reads rows of `format` from `r`. Iteration stops at the end of input or after an I/O error
/// (reported as a last row).
pub fn read_rows<'a, R: Read + 'a>(r: R, format: Format) -> Box<dyn Iterator<Item = Row> + 'a> {
    match format {
        Format::JsonLines => Box::new(JsonLinesRows {
            lines: BoundedLines::new(std::io::BufReader::with_capacity(1 << 16, r), MAX_LINE_BYTES),
            line: 0,
            stopped: false,
        }),
        Format::Csv => Box::new(CsvRows::new(r)),
    }
}

struct JsonLinesRows<R> {
    lines: BoundedLines<R>,
    line: u64,
    stopped: bool,
}

impl<R: BufRead> Iterator for JsonLinesRows<R> {
    type Item = Row;

    fn next(&mut self) -> Option<Row> {
        loop {
            if self.stopped {
                return None;
            }
            let raw = match self.lines.next_line() {
                Ok(Some(l)) => l,
                Ok(None) => return None,
                Err(e) => {
                    self.line += 1;
                    let row = Row { line: self.line, result: Err(RowError::Io(e.to_string())), warnings: vec![] };
                    // Stop after an I/O error: the stream is in an unknown state.
                    self.stopped = true;
                    return Some(row);
                }
            };
            self.line += 1;
            let line = self.line;
            let bytes = match raw {
                Line::TooLong(len) => {
                    return Some(Row {
                        line,
                        result: Err(RowError::LineTooLong { len, max: MAX_LINE_BYTES }),
                        warnings: vec![],
                    })
                }
                Line::Ok(b) => b,
            };
            let bytes = if line == 1 {
                bytes.strip_prefix(b"\xEF\xBB\xBF").map(<[u8]>::to_vec).unwrap_or(bytes)
            } else {
                bytes
            };
            if bytes.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let text = match std::str::from_utf8(&bytes) {
                Ok(t) => t,
                Err(e) => {
                    return Some(Row {
                        line,
                        result: Err(RowError::InvalidUtf8 { at: e.valid_up_to() }),
                        warnings: vec![],
                    })
                }
            };
            let mut warnings = Vec::new();
            let result = parse_json_item(text, &mut warnings);
            return Some(Row { line, result, warnings });
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses one JSON object into an item input (see `docs/formats.md`).
pub fn parse_json_item(text: &str, warnings: &mut Vec<String>) -> Result<ItemInput, RowError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| RowError::Json { column: e.column(), message: strip_position(&e.to_string()) })?;
    json_value_to_item(&value, warnings)
}

/// Maps an already-parsed JSON object to an item input.
pub fn json_value_to_item(value: &Value, warnings: &mut Vec<String>) -> Result<ItemInput, RowError> {
    let Value::Object(map) = value else { return Err(RowError::NotAnObject { found: kind(value) }) };
    let string = |field: &'static str| -> Result<Option<String>, RowError> {
        match map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(RowError::FieldType { field, expected: "a string", found: kind(v) }),
        }
    };
    let id = match map.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(v) => return Err(RowError::FieldType { field: "id", expected: "a string or a number", found: kind(v) }),
    };
    let published_at = match map.get("published_at") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => date_or_warn(s, warnings),
        Some(Value::Number(n)) => date_or_warn(&n.to_string(), warnings),
        Some(v) => {
            warnings.push(format!("published_at is {}, not a date; the arrival time is used", kind(v)));
            None
        }
    };
    Ok(ItemInput {
        id,
        source: string("source")?,
        url: string("url")?,
        title: string("title")?,
        text: string("text")?,
        published_at,
        author: string("author")?,
        lang: string("lang")?,
    })
}

fn date_or_warn(s: &str, warnings: &mut Vec<String>) -> Option<chrono::DateTime<chrono::Utc>> {
    match dates::parse_datetime(s) {
        Ok(d) => Some(d),
        Err(e) => {
            warnings.push(format!("published_at: {e}; the arrival time is used"));
            None
        }
    }
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(p) => msg[..p].to_string(),
        None => msg.to_string(),
    }
}

/// The item fields a CSV header may name (case-insensitive).
const CSV_FIELDS: &[&str] = &["id", "source", "url", "title", "text", "published_at", "author", "lang"];

struct CsvRows<R: Read> {
    reader: csv::Reader<R>,
    columns: Option<Vec<Option<usize>>>,
    header_len: usize,
    header_warnings: Vec<String>,
    record: csv::ByteRecord,
    finished: bool,
}

impl<R: Read> CsvRows<R> {
    fn new(r: R) -> Self {
        let reader = csv::ReaderBuilder::new().flexible(true).has_headers(false).from_reader(r);
        CsvRows {
            reader,
            columns: None,
            header_len: 0,
            header_warnings: Vec::new(),
            record: csv::ByteRecord::new(),
            finished: false,
        }
    }

    fn read_header(&mut self) -> Option<Row> {
        let mut rec = csv::ByteRecord::new();
        match self.reader.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => {
                self.finished = true;
                return None;
            }
            Err(e) => {
                self.finished = true;
                return Some(Row { line: 1, result: Err(RowError::Csv(format!("header: {e}"))), warnings: vec![] });
            }
        }
        let mut columns = Vec::with_capacity(rec.len());
        let mut unknown = Vec::new();
        for (i, f) in rec.iter().enumerate() {
            let f = if i == 0 { f.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(f) } else { f };
            let name = String::from_utf8_lossy(f).trim().to_ascii_lowercase();
            let pos = CSV_FIELDS.iter().position(|c| *c == name);
            if pos.is_none() {
                unknown.push(name);
            }
            columns.push(pos);
        }
        self.header_len = rec.len();
        let has_content = columns.iter().any(|c| matches!(c, Some(2..=4)));
        self.columns = Some(columns);
        if !has_content {
            self.finished = true;
            return Some(Row {
                line: 1,
                result: Err(RowError::Csv("the header names neither `text` nor `title` (nor `url`); expected columns: id, source, url, title, text, published_at, author, lang".into())),
                warnings: vec![],
            });
        }
        if !unknown.is_empty() {
            // Reported with the first data row (the iterator yields rows, not file notices).
            self.header_warnings.push(format!("header (line 1): unknown columns ignored: {}", unknown.join(", ")));
        }
        None
    }
}

impl<R: Read> Iterator for CsvRows<R> {
    type Item = Row;

    fn next(&mut self) -> Option<Row> {
        if self.columns.is_none() && !self.finished {
            if let Some(r) = self.read_header() {
                return Some(r);
            }
        }
        loop {
            if self.finished {
                return None;
            }
            let line = self.reader.position().line().max(1);
            match self.reader.read_byte_record(&mut self.record) {
                Ok(false) => {
                    self.finished = true;
                    return None;
                }
                Ok(true) => {}
                Err(e) => {
                    let fatal = matches!(e.kind(), csv::ErrorKind::Io(_));
                    if fatal {
                        self.finished = true;
                    }
                    return Some(Row { line, result: Err(RowError::Csv(e.to_string())), warnings: vec![] });
                }
            }
            let line = self.record.position().map(|p| p.line()).unwrap_or(line);
            if self.record.len() == 1 && self.record.get(0).is_some_and(|f| f.iter().all(u8::is_ascii_whitespace)) {
                continue;
            }
            if self.record.len() != self.header_len {
                return Some(Row {
                    line,
                    result: Err(RowError::ColumnCount { expected: self.header_len, found: self.record.len() }),
                    warnings: vec![],
                });
            }
            let columns = self.columns.as_ref().expect("header read");
            let mut fields: [Option<String>; 8] = Default::default();
            for (i, raw) in self.record.iter().enumerate() {
                let Some(Some(col)) = columns.get(i) else { continue };
                match std::str::from_utf8(raw) {
                    Ok(s) => fields[*col] = if s.is_empty() { None } else { Some(s.to_string()) },
                    Err(e) => {
                        return Some(Row {
                            line,
                            result: Err(RowError::InvalidUtf8 { at: e.valid_up_to() }),
                            warnings: vec![format!("in column `{}`", CSV_FIELDS[*col])],
                        })
                    }
                }
            }
            let mut warnings = std::mem::take(&mut self.header_warnings);
            let [id, source, url, title, text, published_at, author, lang] = fields;
            let published_at = published_at.as_deref().and_then(|s| date_or_warn(s, &mut warnings));
            return Some(Row {
                line,
                result: Ok(ItemInput { id, source, url, title, text, published_at, author, lang }),
                warnings,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(data: &[u8], f: Format) -> Vec<(u64, String)> {
        read_rows(data, f)
            .map(|r| {
                let s = match &r.result {
                    Ok(i) => format!("ok {}", i.text.clone().or(i.title.clone()).unwrap_or_default()),
                    Err(e) => format!("err {e}"),
                };
                (r.line, if r.warnings.is_empty() { s } else { format!("{s} [{}]", r.warnings.join("; ")) })
            })
            .collect()
    }

    #[test]
    fn jsonl_bad_rows_do_not_stop_the_rest() {
        let mut data = Vec::new();
        data.extend_from_slice(b"{\"text\":\"one\",\"published_at\":\"2024-03-05T10:00:00Z\"}\n");
        data.extend_from_slice(b"{\"text\": broken\n");
        data.extend_from_slice(b"\n");
        data.extend_from_slice(b"{\"text\":\"bad \xff utf8\"}\n");
        data.extend_from_slice(b"[1,2]\n");
        data.extend_from_slice(b"{\"text\":42}\n");
        data.extend_from_slice(b"{\"title\":\"two\",\"published_at\":\"next tuesday\"}\n");
        let got = rows(&data, Format::JsonLines);
        assert_eq!(got[0], (1, "ok one".into()));
        assert_eq!(got[1].0, 2);
        assert!(got[1].1.starts_with("err broken JSON at column"), "{:?}", got[1]);
        assert_eq!(got[2], (4, "err invalid UTF-8 at byte 13 of the line".into()));
        assert_eq!(got[3], (5, "err expected a JSON object, found an array".into()));
        assert_eq!(got[4], (6, "err field `text` must be a string, found a number".into()));
        assert_eq!(got[5].0, 7);
        assert!(got[5].1.starts_with("ok two [published_at: cannot read"), "{:?}", got[5]);
    }

    #[test]
    fn csv_maps_columns_and_reports_wrong_counts() {
        let data =
            "ID,Text,published_at,extra\n1,hello,2024-03-05,x\n2,\"multi\nline\",,y\n3,short\n4,ok,2024-01-01,z\n";
        let got = rows(data.as_bytes(), Format::Csv);
        assert_eq!(got[0], (2, "ok hello [header (line 1): unknown columns ignored: extra]".into()));
        assert_eq!(got[1], (3, "ok multi\nline".into()));
        assert_eq!(got[2], (5, "err CSV row has 2 fields but the header has 4".into()));
        assert_eq!(got[3], (6, "ok ok".into()));
    }

    #[test]
    fn csv_without_content_columns_is_refused() {
        let got = rows(b"a,b\n1,2\n", Format::Csv);
        assert_eq!(got.len(), 1);
        assert!(got[0].1.contains("neither `text` nor `title`"));
    }

    #[test]
    fn sniffing() {
        assert_eq!(Format::sniff(b"\xEF\xBB\xBF  {\"a\":1}"), Format::JsonLines);
        assert_eq!(Format::sniff(b"id,text\n"), Format::Csv);
    }
}
