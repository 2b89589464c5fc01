//! Fuzzes the vendor decoder with the shipped JSON mapping: any bytes give records, itemised
//! errors or one fatal error, and never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tracenode_adapters::fuzzing::decode_vendor(data);
});
