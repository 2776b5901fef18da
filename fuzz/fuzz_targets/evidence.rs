#![no_main]
//! Fuzz target `evidence`: the properties are in `mig06_fuzz::check_evidence` (see docs/FUZZING.md).
libfuzzer_sys::fuzz_target!(|data: &[u8]| mig06_fuzz::check_evidence(data));
