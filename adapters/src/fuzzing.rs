//! What the fuzz targets (`fuzz/`) and the replay of their corpora (`tests/fuzz_corpus.rs`) run:
//! a decoder over arbitrary bytes, to the end. A decoder may yield records, itemised errors and
//! at most one fatal error, after which it must stop.

use std::sync::Arc;

use crate::adapter::{Decoder, Format};
use crate::exchange::Limits;
use crate::vendor::{Mapping, VendorDecoder};

/// The JSON example mapping shipped with the node.
const VENDOR_MAPPING: &str = include_str!("../../config/vendors/hz-wholesale.toml");

/// Records decoded before a decoder is cut off (a fuzz input is small; more means a loop).
const MAX_ITEMS: usize = 100_000;

fn drain(mut d: Box<dyn Decoder>) -> usize {
    let mut n = 0;
    while let Some(item) = d.next_record() {
        n += 1;
        assert!(n < MAX_ITEMS, "the decoder does not end");
        if let Err(e) = item {
            if e.fatal {
                assert!(d.next_record().is_none(), "a decoder went on after a fatal error: {e}");
                break;
            }
        }
    }
    n
}

/// Decodes `data` in `format` to the end; returns the items seen.
pub fn decode_all(format: Format, data: &[u8]) -> usize {
    match format.decoder(std::io::Cursor::new(data.to_vec()), Limits::default()) {
        Ok(d) => drain(d),
        Err(e) => {
            assert!(e.fatal, "opening failed without a fatal error: {e}");
            0
        }
    }
}

/// Decodes `data` through the shipped JSON vendor mapping; returns the items seen.
pub fn decode_vendor(data: &[u8]) -> usize {
    let mapping = Arc::new(Mapping::parse("hz-wholesale.toml", VENDOR_MAPPING).expect("the shipped mapping"));
    match VendorDecoder::open(mapping, std::io::Cursor::new(data.to_vec()), crate::exchange::Limits::default()) {
        Ok(d) => drain(Box::new(d)),
        Err(_) => 0,
    }
}
