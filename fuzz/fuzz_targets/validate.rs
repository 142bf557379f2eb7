//! cargo-fuzz target: see [`mchat_fuzz::validate`] for the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mchat_fuzz::validate(data));
