//! Fuzzes the exchange decoder: any bytes give records, itemised errors or one fatal error, and
//! never a panic, a hang or unbounded memory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracenode_adapters::adapter::Format;

fuzz_target!(|data: &[u8]| {
    tracenode_adapters::fuzzing::decode_all(Format::Exchange, data);
});
