//! CSV of trace records: a header row naming the columns (in any order; see [`COLUMNS`]),
//! one record per row. UTF-8 with or without a byte-order mark, or GBK/GB18030 as exported
//! by spreadsheet programs in China (recognised when the start of the file is not UTF-8).
//! Reading streams row by row; a row that cannot become a record is reported with its line
//! and column and the rows after it are still read.
//!
//! [`Rows`] is the reading shared with vendor CSV mappings: each cell is decoded strictly in
//! the file's encoding (a cell that does not decode is an error naming its line and column,
//! never a replacement character), each row within the byte budget of
//! [`Limits::max_record_bytes`], and a last row cut short (fewer cells than the header) means
//! the document ended early, which refuses it whole.

use std::io::{BufRead, BufReader, Read, Write};

use encoding_rs::{Encoding, GB18030, UTF_8};

use crate::budget::{Budget, Budgeted};
use crate::exchange::Limits;
use crate::records::{Act, Party, TraceRecord, TracedProduct};

/// The columns, in the order the writer uses.
pub const COLUMNS: [&str; 26] = [
    "id",
    "corrects",
    "from_code",
    "from_name",
    "from_region",
    "to_code",
    "to_name",
    "to_region",
    "trace_code",
    "scheme",
    "product_name",
    "category",
    "specification",
    "batch",
    "production_date",
    "shelf_life_days",
    "origin",
    "stage",
    "direction",
    "quantity",
    "unit",
    "price",
    "amount",
    "time",
    "place",
    "voucher",
];

/// Columns a file must have.
pub const REQUIRED: [&str; 5] = ["id", "trace_code", "stage", "quantity", "time"];

/// Why a file or a row was refused. Messages are bilingual (Chinese / English).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CsvError {
    /// The header lacks a required column.
    #[error("缺少列“{0}” / column {0} is missing")]
    MissingColumn(String),
    /// The header names a column twice or one this format does not know.
    #[error("未知或重复的列“{0}” / unknown or repeated column {0}")]
    BadColumn(String),
    /// A row that is not well-formed CSV (quoting, field count).
    #[error("第{line}行格式错误：{message} / line {line} is malformed: {message}")]
    Malformed {
        /// Line number from 1.
        line: u64,
        /// The parser's message.
        message: String,
    },
    /// A cell that does not decode in the file's encoding.
    #[error("第{line}行“{column}”列不是有效的{encoding}编码 / line {line}, column {column}: not valid {encoding}")]
    Encoding {
        /// Line.
        line: u64,
        /// Column.
        column: String,
        /// The encoding the file was read in.
        encoding: &'static str,
    },
    /// The last row has fewer cells than the header: the document ended early.
    #[error("文档在第{0}行提前结束（最后一行不完整），整份文档未接收 / the document ends early at line {0} (its last row is incomplete); the document was refused")]
    Truncated(u64),
    /// A row larger than the byte budget (the limit, bytes).
    #[error("一行超过 {0} 字节 / a row is larger than {0} bytes")]
    TooLarge(u64),
    /// A value that does not parse.
    #[error("第{line}行“{column}”应为数字，实际为“{value}” / line {line}: {column} must be a number, got {value:?}")]
    Number {
        /// Line.
        line: u64,
        /// Column.
        column: String,
        /// Value.
        value: String,
    },
    /// Reading failed.
    #[error("读取失败：{0} / read failed: {0}")]
    Io(String),
}

impl CsvError {
    /// A stable code.
    pub fn code(&self) -> &'static str {
        match self {
            CsvError::MissingColumn(_) => "csv_missing_column",
            CsvError::BadColumn(_) => "csv_bad_column",
            CsvError::Malformed { .. } => "csv_malformed",
            CsvError::Number { .. } => "bad_number",
            CsvError::Encoding { .. } => "bad_encoding",
            CsvError::Truncated(_) => "document_truncated",
            CsvError::TooLarge(_) => "record_too_large",
            CsvError::Io(_) => "read_failed",
        }
    }

    /// Whether the error ends the document (nothing it carried may be stored), as opposed to
    /// refusing one row.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            CsvError::MissingColumn(_)
                | CsvError::BadColumn(_)
                | CsvError::Io(_)
                | CsvError::Truncated(_)
                | CsvError::TooLarge(_)
        )
    }
}

/// The encoding of a file, from its start: UTF-8 if it starts with a byte-order mark or is
/// UTF-8 as far as the first 64 KiB go, else GB18030 (a superset of GBK and GB2312).
fn detect(input: &mut BufReader<Box<dyn Read>>) -> Result<&'static Encoding, CsvError> {
    let head = input.fill_buf().map_err(|e| CsvError::Io(e.to_string()))?;
    if head.starts_with(b"\xEF\xBB\xBF") {
        input.consume(3);
        return Ok(UTF_8);
    }
    Ok(match std::str::from_utf8(head) {
        Ok(_) => UTF_8,
        // A multi-byte character cut at the end of the buffer is still UTF-8.
        Err(e) if e.error_len().is_none() => UTF_8,
        Err(_) => GB18030,
    })
}

/// The rows of a CSV file, each cell decoded strictly, each row within its byte budget.
pub struct Rows {
    reader: csv::Reader<Budgeted<BufReader<Box<dyn Read>>>>,
    encoding: &'static Encoding,
    budget: Budget,
    header: Vec<String>,
    ahead: Option<Result<csv::ByteRecord, CsvError>>,
}

impl Rows {
    /// Opens a file and reads its header row.
    pub fn open(input: Box<dyn Read>, limits: Limits) -> Result<Rows, CsvError> {
        let mut buffered = BufReader::with_capacity(64 * 1024, input);
        let encoding = detect(&mut buffered)?;
        let budget = Budget::new(limits.max_record_bytes);
        let reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(budget.wrap(buffered));
        let mut rows = Rows { reader, encoding, budget, header: Vec::new(), ahead: None };
        let header = match rows.pull() {
            Some(row) => row?,
            None => return Err(CsvError::MissingColumn("id".into())),
        };
        rows.header = rows.cells(&header, 1, None)?;
        rows.ahead = rows.pull();
        Ok(rows)
    }

    /// The header's column names, trimmed.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// Reads one raw row within a fresh budget.
    fn pull(&mut self) -> Option<Result<csv::ByteRecord, CsvError>> {
        self.budget.reset();
        let mut row = csv::ByteRecord::new();
        match self.reader.read_byte_record(&mut row) {
            Ok(true) => Some(Ok(row)),
            Ok(false) => None,
            Err(_) if self.budget.exceeded() => Some(Err(CsvError::TooLarge(self.budget.limit()))),
            Err(e) => Some(Err(malformed(&e))),
        }
    }

    /// The cells of a row as text in the file's encoding, trimmed.
    fn cells(&self, row: &csv::ByteRecord, line: u64, header: Option<&[String]>) -> Result<Vec<String>, CsvError> {
        row.iter()
            .enumerate()
            .map(|(i, bytes)| {
                let text = if self.encoding == UTF_8 {
                    std::str::from_utf8(bytes).ok().map(str::to_owned)
                } else {
                    self.encoding.decode_without_bom_handling_and_without_replacement(bytes).map(|c| c.into_owned())
                };
                text.map(|t| t.trim().to_owned()).ok_or_else(|| CsvError::Encoding {
                    line,
                    column: header.and_then(|h| h.get(i)).cloned().unwrap_or_else(|| (i + 1).to_string()),
                    encoding: self.encoding.name(),
                })
            })
            .collect()
    }
}

impl Iterator for Rows {
    /// A row's line (from 1) and cells.
    type Item = Result<(u64, Vec<String>), CsvError>;

    fn next(&mut self) -> Option<Self::Item> {
        let row = match self.ahead.take()? {
            Ok(row) => row,
            Err(e) => return Some(Err(e)),
        };
        self.ahead = self.pull();
        let line = row.position().map(|p| p.line()).unwrap_or(0);
        if row.len() != self.header.len() {
            if self.ahead.is_none() {
                return Some(Err(CsvError::Truncated(line)));
            }
            return Some(Err(CsvError::Malformed {
                line,
                message: format!("{} fields, the header has {}", row.len(), self.header.len()),
            }));
        }
        Some(self.cells(&row, line, Some(&self.header)).map(|cells| (line, cells)))
    }
}

/// Reads trace records from CSV, row by row.
pub struct CsvReader {
    rows: Rows,
    positions: Vec<Option<usize>>,
}

impl CsvReader {
    /// Opens a file and checks its header.
    pub fn open(input: impl Read + 'static, limits: Limits) -> Result<CsvReader, CsvError> {
        let rows = Rows::open(Box::new(input), limits)?;
        let mut positions = vec![None; COLUMNS.len()];
        for (i, name) in rows.header().iter().enumerate() {
            match COLUMNS.iter().position(|c| c == name) {
                Some(k) if positions[k].is_none() => positions[k] = Some(i),
                _ => return Err(CsvError::BadColumn(name.clone())),
            }
        }
        if let Some(missing) =
            REQUIRED.iter().find(|c| COLUMNS.iter().position(|x| x == *c).and_then(|k| positions[k]).is_none())
        {
            return Err(CsvError::MissingColumn((*missing).to_owned()));
        }
        Ok(CsvReader { rows, positions })
    }
}

fn malformed(e: &csv::Error) -> CsvError {
    let line = e.position().map(|p| p.line()).unwrap_or(0);
    CsvError::Malformed { line, message: e.to_string() }
}

impl Iterator for CsvReader {
    type Item = Result<TraceRecord, CsvError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (line, cells) = match self.rows.next()? {
            Ok(row) => row,
            Err(e) => return Some(Err(e)),
        };
        let get = |name: &str| -> String {
            COLUMNS
                .iter()
                .position(|c| *c == name)
                .and_then(|k| self.positions[k])
                .and_then(|i| cells.get(i))
                .cloned()
                .unwrap_or_default()
        };
        Some(record(&get, line))
    }
}

fn number<T: std::str::FromStr>(get: &dyn Fn(&str) -> String, column: &str, line: u64) -> Result<Option<T>, CsvError> {
    match get(column) {
        v if v.is_empty() => Ok(None),
        v => v.parse().map(Some).map_err(|_| CsvError::Number { line, column: column.into(), value: v }),
    }
}

fn record(get: &dyn Fn(&str) -> String, line: u64) -> Result<TraceRecord, CsvError> {
    let party = |prefix: &str| Party {
        code: get(&format!("{prefix}_code")),
        name: get(&format!("{prefix}_name")),
        region: get(&format!("{prefix}_region")),
    };
    Ok(TraceRecord {
        id: get("id"),
        corrects: Some(get("corrects")).filter(|c| !c.is_empty()),
        retraction: false,
        from: party("from"),
        to: party("to"),
        product: TracedProduct {
            trace_code: get("trace_code"),
            scheme: get("scheme"),
            name: get("product_name"),
            category: get("category"),
            specification: get("specification"),
            batch: get("batch"),
            production_date: Some(get("production_date")).filter(|d| !d.is_empty()),
            shelf_life_days: number(get, "shelf_life_days", line)?,
            origin: get("origin"),
        },
        act: Act {
            stage: get("stage"),
            direction: get("direction"),
            quantity: number(get, "quantity", line)?.unwrap_or(0.0),
            unit: get("unit"),
            price: number(get, "price", line)?,
            amount: number(get, "amount", line)?,
            time: get("time"),
            place: get("place"),
            voucher: get("voucher"),
        },
    })
}

/// Writes records as UTF-8 CSV with a header row.
pub fn write_csv<W: Write>(out: W, records: &[TraceRecord]) -> Result<(), CsvError> {
    let io = |e: csv::Error| CsvError::Io(e.to_string());
    let mut w = csv::Writer::from_writer(out);
    w.write_record(COLUMNS).map_err(io)?;
    let text = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    for r in records {
        let p = &r.product;
        let a = &r.act;
        w.write_record([
            r.id.as_str(),
            r.corrects.as_deref().unwrap_or(""),
            &r.from.code,
            &r.from.name,
            &r.from.region,
            &r.to.code,
            &r.to.name,
            &r.to.region,
            &p.trace_code,
            &p.scheme,
            &p.name,
            &p.category,
            &p.specification,
            &p.batch,
            p.production_date.as_deref().unwrap_or(""),
            &p.shelf_life_days.map(|d| d.to_string()).unwrap_or_default(),
            &p.origin,
            &a.stage,
            &a.direction,
            &a.quantity.to_string(),
            &a.unit,
            &text(a.price),
            &text(a.amount),
            &a.time,
            &a.place,
            &a.voucher,
        ])
        .map_err(io)?;
    }
    w.flush().map_err(|e| CsvError::Io(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records() -> Vec<TraceRecord> {
        (1..=3)
            .map(|n| TraceRecord {
                id: format!("R{n}"),
                corrects: None,
                retraction: false,
                from: Party {
                    code: "91330106MA2B000001".into(),
                    name: "西湖批发市场, 一号".into(),
                    region: "330106".into(),
                },
                to: Party {
                    code: "92330102MA2C000002".into(), name: "上城\"摊位\"".into(), region: "330102".into()
                },
                product: TracedProduct {
                    trace_code: format!("T{n}"),
                    scheme: "local".into(),
                    name: "白菜".into(),
                    category: "0150".into(),
                    specification: "散装".into(),
                    batch: "B1".into(),
                    production_date: None,
                    shelf_life_days: Some(7),
                    origin: "杭州".into(),
                },
                act: Act {
                    stage: "distribution_sale".into(),
                    direction: "out".into(),
                    quantity: 3.5,
                    unit: "kg".into(),
                    price: Some(4.2),
                    amount: None,
                    time: "2026-04-01T09:30:00+08:00".into(),
                    place: "杭州".into(),
                    voucher: String::new(),
                },
            })
            .collect()
    }

    fn read(bytes: Vec<u8>) -> Result<Vec<Result<TraceRecord, CsvError>>, CsvError> {
        Ok(CsvReader::open(std::io::Cursor::new(bytes), Limits::default())?.collect())
    }

    fn csv(records: &[TraceRecord]) -> Vec<u8> {
        let mut out = Vec::new();
        write_csv(&mut out, records).expect("write");
        out
    }

    #[test]
    fn round_trip_with_and_without_bom_and_in_gbk() {
        let recs = records();
        let plain = csv(&recs);
        let back: Vec<_> = read(plain.clone()).expect("read").into_iter().map(|r| r.expect("row")).collect();
        assert_eq!(back, recs);
        assert_eq!(csv(&back), plain, "encode → decode → encode is stable");
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(&plain);
        assert_eq!(read(bom).expect("bom").len(), 3);
        let (gbk, _, bad) = encoding_rs::GBK.encode(std::str::from_utf8(&plain).expect("utf8"));
        assert!(!bad);
        let back: Vec<_> = read(gbk.into_owned()).expect("gbk").into_iter().map(|r| r.expect("row")).collect();
        assert_eq!(back, recs);
    }

    #[test]
    fn bad_headers_and_rows_are_named() {
        assert_eq!(
            read(b"id,trace_code,stage,quantity\n".to_vec()).err(),
            Some(CsvError::MissingColumn("time".into()))
        );
        assert_eq!(read(b"id,id\n".to_vec()).err().map(|e| e.code()), Some("csv_bad_column"));
        assert_eq!(read(b"id,colour\n".to_vec()).err().map(|e| e.code()), Some("csv_bad_column"));
        let rows = read(
            b"id,trace_code,stage,quantity,time\nR1,T1,processing,lots,2026-01-01\nR2,T2,processing,2,2026-01-01\n"
                .to_vec(),
        )
        .expect("open");
        assert_eq!(
            rows[0].clone().err(),
            Some(CsvError::Number { line: 2, column: "quantity".into(), value: "lots".into() })
        );
        assert!(rows[1].is_ok(), "the rows after a bad one are still read");
        let broken =
            read(b"id,trace_code,stage,quantity,time\nR1,\"T1,processing,1,2026-01-01\n".to_vec()).expect("open");
        assert_eq!(broken[0].clone().err().map(|e| e.code()), Some("document_truncated"), "an open quote at the end");
        let short =
            read(b"id,trace_code,stage,quantity,time\nR1,T1\nR2,T2,processing,2,2026-01-01\n".to_vec()).expect("open");
        assert_eq!(short[0].clone().err().map(|e| e.code()), Some("csv_malformed"), "a short row in the middle");
        assert!(short[1].is_ok());
    }

    #[test]
    fn a_document_that_ends_early_is_refused_whole() {
        let plain = csv(&records());
        let cut = read(plain[..plain.len() - 30].to_vec()).expect("open");
        let last = cut.last().expect("rows").clone().expect_err("refused");
        assert_eq!(last.code(), "document_truncated");
        assert!(last.is_fatal());
    }

    #[test]
    fn a_cell_that_does_not_decode_is_named_never_replaced() {
        // UTF-8 for the first 64 KiB, then a GBK row.
        let mut bytes = b"id,trace_code,stage,quantity,time,product_name\n".to_vec();
        for i in 0..2000 {
            bytes.extend_from_slice(format!("R{i},T{i},retail,1,2026-01-01T00:00:00Z,cabbage\n").as_bytes());
        }
        let (gbk, _, _) = encoding_rs::GBK.encode("R9999,T9999,retail,1,2026-01-01T00:00:00Z,白菜\n");
        bytes.extend_from_slice(&gbk);
        bytes.extend_from_slice(b"R10000,T10000,retail,1,2026-01-01T00:00:00Z,x\n");
        let rows = read(bytes).expect("open");
        assert_eq!(rows.len(), 2002);
        let bad = rows[2000].clone().expect_err("not UTF-8");
        assert_eq!(bad, CsvError::Encoding { line: 2002, column: "product_name".into(), encoding: "UTF-8" });
        assert!(!bad.is_fatal());
        assert!(rows[2001].is_ok(), "the rows after it are still read");
    }

    #[test]
    fn a_row_larger_than_its_budget_ends_the_document_unread() {
        let limits = Limits { max_record_bytes: 64 * 1024, ..Limits::default() };
        let mut bytes =
            b"id,trace_code,stage,quantity,time,product_name\nR1,T1,retail,1,2026-01-01T00:00:00Z,".to_vec();
        bytes.extend(std::iter::repeat_n(b'x', 50 * 1024 * 1024));
        bytes.extend_from_slice(b"\nR2,T2,retail,1,2026-01-01T00:00:00Z,y\n");
        let mut reader = CsvReader::open(std::io::Cursor::new(bytes), limits).expect("open");
        assert_eq!(reader.next().expect("outcome").err(), Some(CsvError::TooLarge(64 * 1024)));
    }
}
