//! JSON of trace records: an array (`[{…}, {…}]`) or NDJSON (one record per line), each record
//! in the canonical field names of [`TraceRecord`]. Both are read as a stream: an array one
//! element at a time, NDJSON one line at a time. A record of the wrong shape is reported by
//! its index and reading goes on (each element is read as JSON first, then fitted to the
//! record, so a record of the wrong shape loses nothing of the syntax). A document that breaks
//! JSON syntax, ends early (an array without its `]`, a last line cut in the middle), or holds
//! a record larger than [`Limits::max_record_bytes`] is refused whole.

use std::io::{BufRead, BufReader, Read, Write};

use crate::budget::{Budget, Budgeted};
use crate::exchange::Limits;
use crate::records::TraceRecord;

/// Why a document or a record was refused. Messages are bilingual (Chinese / English).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JsonError {
    /// The document is not an array of objects (or not NDJSON).
    #[error("应为JSON数组或每行一个JSON对象：{0} / expected a JSON array or one JSON object per line: {0}")]
    Shape(String),
    /// A record that does not fit the record shape.
    #[error("第{index}条记录无效：{message} / record {index} is invalid: {message}")]
    Record {
        /// Index from 0.
        index: u64,
        /// The parser's message (names the field).
        message: String,
    },
    /// An NDJSON line longer than the record budget.
    #[error("第{0}行过长 / line {0} is too long")]
    LineTooLong(u64),
    /// The document ends before its syntax does.
    #[error("文档提前结束（{0}），整份文档未接收 / the document ends early ({0}); the document was refused")]
    Truncated(String),
    /// A record larger than the budget.
    #[error("第{index}条记录超过 {limit} 字节 / record {index} is larger than {limit} bytes")]
    TooLarge {
        /// Index from 0.
        index: u64,
        /// The limit, bytes.
        limit: u64,
    },
    /// Reading failed.
    #[error("读取失败：{0} / read failed: {0}")]
    Io(String),
}

impl JsonError {
    /// A stable code.
    pub fn code(&self) -> &'static str {
        match self {
            JsonError::Shape(_) => "json_shape",
            JsonError::Record { .. } => "json_record",
            JsonError::LineTooLong(_) => "json_line_too_long",
            JsonError::Truncated(_) => "document_truncated",
            JsonError::TooLarge { .. } => "record_too_large",
            JsonError::Io(_) => "read_failed",
        }
    }
}

fn io(e: std::io::Error) -> JsonError {
    JsonError::Io(e.to_string())
}

/// The two layouts.
enum Layout {
    Array { done: bool },
    Lines { line: u64 },
}

/// Reads trace records (or, for vendor mappings, any JSON objects `T`) from a JSON array or
/// NDJSON, one at a time.
pub struct JsonReader<T = TraceRecord> {
    input: Input,
    budget: Budget,
    layout: Layout,
    index: u64,
    items: std::marker::PhantomData<fn() -> T>,
}

type Input = BufReader<Budgeted<Box<dyn Read>>>;

/// The next byte that is not white space, without consuming it.
fn peek(input: &mut Input) -> Result<Option<u8>, JsonError> {
    loop {
        let buf = input.fill_buf().map_err(io)?;
        let Some(&b) = buf.first() else { return Ok(None) };
        if b.is_ascii_whitespace() {
            input.consume(1);
        } else {
            return Ok(Some(b));
        }
    }
}

impl<T: serde::de::DeserializeOwned> JsonReader<T> {
    /// Opens a document: an array if it starts with `[`, else NDJSON.
    pub fn open(input: impl Read + 'static, limits: Limits) -> Result<JsonReader<T>, JsonError> {
        let budget = Budget::new(limits.max_record_bytes);
        let mut input = BufReader::with_capacity(64 * 1024, budget.wrap(Box::new(input) as Box<dyn Read>));
        let buf = input.fill_buf().map_err(io)?;
        if buf.starts_with(b"\xEF\xBB\xBF") {
            input.consume(3);
        }
        let layout = match peek(&mut input)? {
            Some(b'[') => {
                input.consume(1);
                Layout::Array { done: false }
            }
            Some(b'{') | None => Layout::Lines { line: 0 },
            Some(other) => return Err(JsonError::Shape(format!("starts with {:?}", other as char))),
        };
        Ok(JsonReader { input, budget, layout, index: 0, items: std::marker::PhantomData })
    }

    fn next_in_array(&mut self) -> Result<Option<T>, JsonError> {
        if matches!(self.layout, Layout::Array { done: true }) {
            return Ok(None);
        }
        if self.index > 0 {
            match peek(&mut self.input)? {
                Some(b',') => self.input.consume(1),
                Some(b']') => {
                    self.input.consume(1);
                    return self.end_of_array();
                }
                None => return Err(JsonError::Truncated(format!("no ] after record {}", self.index - 1))),
                Some(other) => {
                    return Err(JsonError::Shape(format!(
                        "expected , or ] after record {}, got {:?}",
                        self.index - 1,
                        other as char
                    )))
                }
            }
        }
        match peek(&mut self.input)? {
            Some(b'{') => {}
            Some(b']') if self.index == 0 => {
                self.input.consume(1);
                return self.end_of_array();
            }
            None => return Err(JsonError::Truncated(format!("no record {} and no ]", self.index))),
            Some(other) => {
                return Err(JsonError::Shape(format!(
                    "expected an object at record {}, got {:?}",
                    self.index, other as char
                )))
            }
        }
        let index = self.index;
        self.index += 1;
        self.budget.reset();
        let mut de = serde_json::Deserializer::from_reader(&mut self.input);
        let value = match <serde_json::Value as serde::Deserialize>::deserialize(&mut de) {
            Ok(v) => v,
            Err(_) if self.budget.exceeded() => return Err(JsonError::TooLarge { index, limit: self.budget.limit() }),
            Err(e) if e.is_eof() => return Err(JsonError::Truncated(format!("record {index} is cut short"))),
            Err(e) => return Err(JsonError::Shape(format!("record {index}: {e}"))),
        };
        T::deserialize(value).map(Some).map_err(|e| JsonError::Record { index, message: e.to_string() })
    }

    fn end_of_array(&mut self) -> Result<Option<T>, JsonError> {
        self.layout = Layout::Array { done: true };
        match peek(&mut self.input)? {
            None => Ok(None),
            Some(b) => Err(JsonError::Shape(format!("{:?} after the end of the array", b as char))),
        }
    }

    fn next_line(&mut self) -> Result<Option<T>, JsonError> {
        let max = self.budget.limit();
        loop {
            self.budget.reset();
            let mut line = Vec::new();
            let n = (&mut self.input).take(max + 1).read_until(b'\n', &mut line);
            let mut l = 0;
            if let Layout::Lines { line: counted } = &mut self.layout {
                *counted += 1;
                l = *counted;
            }
            let n = match n {
                Err(_) if self.budget.exceeded() => return Err(JsonError::LineTooLong(l)),
                other => other.map_err(io)?,
            };
            if n == 0 {
                return Ok(None);
            }
            if line.len() as u64 > max {
                return Err(JsonError::LineTooLong(l));
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let index = self.index;
            self.index += 1;
            let value: serde_json::Value = match serde_json::from_slice(&line) {
                Ok(v) => v,
                Err(e) if e.is_eof() && !line.ends_with(b"\n") => {
                    return Err(JsonError::Truncated(format!("line {l} is cut short")))
                }
                Err(e) => return Err(JsonError::Record { index, message: e.to_string() }),
            };
            return T::deserialize(value).map(Some).map_err(|e| JsonError::Record { index, message: e.to_string() });
        }
    }
}

impl<T: serde::de::DeserializeOwned> Iterator for JsonReader<T> {
    type Item = Result<T, JsonError>;

    fn next(&mut self) -> Option<Self::Item> {
        let next = match self.layout {
            Layout::Array { .. } => {
                let r = self.next_in_array();
                if matches!(r, Err(ref e) if !matches!(e, JsonError::Record { .. })) {
                    // The array's syntax is lost: stop.
                    self.layout = Layout::Array { done: true };
                }
                r
            }
            Layout::Lines { .. } => self.next_line(),
        };
        next.transpose()
    }
}

/// Writes records as a JSON array (`ndjson = false`) or NDJSON.
pub fn write_json<W: Write>(mut out: W, records: &[TraceRecord], ndjson: bool) -> Result<(), JsonError> {
    if !ndjson {
        out.write_all(b"[").map_err(io)?;
    }
    for (i, r) in records.iter().enumerate() {
        if !ndjson && i > 0 {
            out.write_all(b",").map_err(io)?;
        }
        out.write_all(r.canonical().as_bytes()).map_err(io)?;
        if ndjson {
            out.write_all(b"\n").map_err(io)?;
        }
    }
    if !ndjson {
        out.write_all(b"]").map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{Act, Party, TracedProduct};

    fn records() -> Vec<TraceRecord> {
        (1..=3)
            .map(|n| TraceRecord {
                id: format!("R{n}"),
                corrects: (n == 3).then(|| "R1".to_owned()),
                retraction: false,
                from: Party {
                    code: "91330106MA2B000001".into(), name: "西湖批发市场".into(), region: "330106".into()
                },
                to: Party::default(),
                product: TracedProduct { trace_code: format!("T{n}"), scheme: "local".into(), ..Default::default() },
                act: Act {
                    stage: "processing".into(),
                    quantity: 1.5,
                    time: "2026-04-01T09:30:00+08:00".into(),
                    ..Default::default()
                },
            })
            .collect()
    }

    fn read(bytes: Vec<u8>) -> Vec<Result<TraceRecord, JsonError>> {
        JsonReader::open(std::io::Cursor::new(bytes), Limits::default()).expect("open").collect()
    }

    #[test]
    fn arrays_and_ndjson_round_trip() {
        let recs = records();
        for ndjson in [false, true] {
            let mut out = Vec::new();
            write_json(&mut out, &recs, ndjson).expect("write");
            let back: Vec<_> = read(out.clone()).into_iter().map(|r| r.expect("record")).collect();
            assert_eq!(back, recs, "ndjson={ndjson}");
            let mut again = Vec::new();
            write_json(&mut again, &back, ndjson).expect("write");
            assert_eq!(again, out);
        }
        assert!(read(b"[ ]".to_vec()).is_empty());
        assert!(read(b"".to_vec()).is_empty());
    }

    #[test]
    fn wrong_shapes_are_named() {
        assert_eq!(
            JsonReader::<TraceRecord>::open(std::io::Cursor::new(b"\"text\"".to_vec()), Limits::default())
                .err()
                .map(|e| e.code()),
            Some("json_shape")
        );
        let lines = b"{\"id\": \"R1\"}\n\n{\"no\": \"fields\"}\n".to_vec();
        let got = read(lines);
        assert_eq!(got.len(), 2, "every line is read");
        assert!(
            matches!(&got[0], Err(JsonError::Record { index: 0, message }) if message.contains("missing field `from`")),
            "{got:?}"
        );
        assert!(
            matches!(&got[1], Err(JsonError::Record { index: 1, message }) if message.contains("unknown field `no`")),
            "{got:?}"
        );
        let mut good = Vec::new();
        write_json(&mut good, &records(), false).expect("write");
        let mut text = String::from_utf8(good).expect("utf8");
        text.insert_str(text.len() - 1, ",42");
        let got = read(text.into_bytes());
        assert_eq!(got.len(), 4, "three records, then the error, then nothing");
        assert_eq!(got[3].clone().err().map(|e| e.code()), Some("json_shape"));
        let trailing = read(b"[] []".to_vec());
        assert_eq!(trailing[0].clone().err().map(|e| e.code()), Some("json_shape"));
    }

    #[test]
    fn a_document_that_ends_early_is_refused_whole() {
        let mut good = Vec::new();
        write_json(&mut good, &records(), false).expect("write");
        for cut in [good.len() - 1, good.len() - 20, 1 + good.iter().position(|&b| b == b',').expect("comma")] {
            let got = read(good[..cut].to_vec());
            let last = got.last().expect("an outcome").clone().expect_err("refused");
            assert_eq!(last.code(), "document_truncated", "cut at {cut}: {got:?}");
        }
        let mut lines = Vec::new();
        write_json(&mut lines, &records(), true).expect("write");
        let got = read(lines[..lines.len() - 10].to_vec());
        assert_eq!(got.last().expect("an outcome").clone().err().map(|e| e.code()), Some("document_truncated"));
    }

    #[test]
    fn a_record_of_the_wrong_shape_does_not_stop_an_array() {
        let got = read(b"[{\"id\": \"R1\"}, {\"x\": 1}]".to_vec());
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got.iter().all(|r| matches!(r, Err(JsonError::Record { .. }))));
    }

    #[test]
    fn a_record_larger_than_its_budget_ends_the_document_unread() {
        let limits = Limits { max_record_bytes: 4096, ..Limits::default() };
        let huge = format!("[{{\"id\": \"{}\"}}]", "x".repeat(10 * 1024 * 1024));
        let mut reader =
            JsonReader::<TraceRecord>::open(std::io::Cursor::new(huge.into_bytes()), limits).expect("open");
        let e = reader.next().expect("an outcome").expect_err("too large");
        assert!(matches!(e, JsonError::TooLarge { index: 0, limit: 4096 }), "{e:?}");
        assert!(reader.next().is_none());
        let long_line = format!("{{\"id\": \"{}\"}}\n", "x".repeat(10_000));
        let mut reader =
            JsonReader::<TraceRecord>::open(std::io::Cursor::new(long_line.into_bytes()), limits).expect("open");
        assert_eq!(reader.next().expect("outcome").err().map(|e| e.code()), Some("json_line_too_long"));
    }
}
