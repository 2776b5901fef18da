#![no_main]
//! Fuzz target `checkpoint`: the properties are in `mig06_fuzz::check_checkpoint` (see docs/FUZZING.md).
libfuzzer_sys::fuzz_target!(|data: &[u8]| mig06_fuzz::check_checkpoint(data));
