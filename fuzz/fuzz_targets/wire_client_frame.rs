//! cargo-fuzz target: see [`mchat_fuzz::wire`] for the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mchat_fuzz::wire(data));
