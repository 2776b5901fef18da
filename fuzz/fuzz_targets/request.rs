#![no_main]
//! Fuzz target `request`: the properties are in `mig06_fuzz::check_request` (see docs/FUZZING.md).
libfuzzer_sys::fuzz_target!(|data: &[u8]| mig06_fuzz::check_request(data));
