//! A byte budget per record, so no single record of any format can make a decoder hold more
//! than [`crate::exchange::Limits::max_record_bytes`] (plus one read-ahead buffer).
//!
//! A decoder wraps its input in [`Budgeted`] and calls [`Budget::reset`] at each record
//! boundary (a CSV row, an element of a JSON array, an EPCIS event). Once a record has pulled
//! more than its budget from the input, reads fail, the parser stops, and the decoder reports
//! [`too_large`]: a 200 MiB field or an event with two million EPCs is refused after reading
//! about a megabyte of it, never held whole.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::adapter::DecodeError;

/// The budget of the record being read, shared by the reader and its decoder.
#[derive(Debug, Clone)]
pub struct Budget {
    used: Arc<AtomicU64>,
    limit: u64,
}

impl Budget {
    /// A budget of `limit` bytes per record.
    pub fn new(limit: u64) -> Budget {
        Budget { used: Arc::new(AtomicU64::new(0)), limit }
    }

    /// Starts the next record's budget.
    pub fn reset(&self) {
        self.used.store(0, Ordering::Relaxed);
    }

    /// Whether the current record overran its budget.
    pub fn exceeded(&self) -> bool {
        self.used.load(Ordering::Relaxed) > self.limit
    }

    /// The limit, bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Wraps `input` so that its reads count against this budget.
    pub fn wrap<R: Read>(&self, input: R) -> Budgeted<R> {
        Budgeted { inner: input, budget: self.clone() }
    }
}

/// A reader that fails once the current record has read more than its budget.
#[derive(Debug)]
pub struct Budgeted<R> {
    inner: R,
    budget: Budget,
}

impl<R: Read> Read for Budgeted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.budget.exceeded() {
            return Err(std::io::Error::other("record larger than its budget"));
        }
        let n = self.inner.read(buf)?;
        self.budget.used.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The error of a record that overran its budget: fatal, since the rest of the stream cannot
/// be found without reading the oversized record whole.
pub fn too_large(index: u64, limit: u64) -> DecodeError {
    DecodeError {
        code: "record_too_large",
        message: format!(
            "第{n}条记录超过 {limit} 字节，整份文档未接收 / record {n} is larger than {limit} bytes; the document was refused",
            n = index + 1
        ),
        index: Some(index),
        fatal: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stop_past_the_budget_and_resume_after_a_reset() {
        let budget = Budget::new(10);
        let mut r = budget.wrap(std::io::Cursor::new(vec![b'x'; 100]));
        let mut buf = [0u8; 8];
        assert_eq!(r.read(&mut buf).expect("first"), 8);
        assert_eq!(r.read(&mut buf).expect("second"), 8);
        assert!(budget.exceeded());
        assert!(r.read(&mut buf).is_err());
        budget.reset();
        assert_eq!(r.read(&mut buf).expect("after reset"), 8);
    }
}
