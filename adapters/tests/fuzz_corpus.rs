//! The fuzz targets' corpora (`fuzz/corpus/<target>/`), replayed as ordinary tests: every
//! input that ever found a problem, and the seeds, must decode to records, itemised errors or
//! one fatal error — never a panic or a hang.

use std::path::Path;

use tracenode_adapters::adapter::Format;
use tracenode_adapters::fuzzing::{decode_all, decode_vendor};

fn replay(target: &str, run: impl Fn(&[u8]) -> usize) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target);
    let mut inputs = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("entry").path();
        let data = std::fs::read(&path).expect("input");
        run(&data);
        inputs += 1;
    }
    assert!(inputs >= 3, "{target}: the corpus has {inputs} inputs");
}

#[test]
fn exchange_corpus() {
    replay("exchange", |d| decode_all(Format::Exchange, d));
}

#[test]
fn csv_corpus() {
    replay("csv", |d| decode_all(Format::Csv, d));
}

#[test]
fn json_corpus() {
    replay("json", |d| decode_all(Format::Json, d));
}

#[test]
fn epcis_corpus() {
    replay("epcis", |d| decode_all(Format::Epcis, d));
}

#[test]
fn vendor_corpus() {
    replay("vendor", decode_vendor);
}

#[test]
fn replay_sees_what_the_decoders_yield() {
    // The seeds are not all refused: the valid ones decode to records.
    let csv = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/csv/good.csv")).expect("seed");
    assert_eq!(decode_all(Format::Csv, &csv), 1);
    let trades =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/vendor/trades.json")).expect("seed");
    assert_eq!(decode_vendor(&trades), 1);
}
