#![no_main]
//! Fuzz target `phi`: the properties are in `mig06_fuzz::check_phi` (see docs/FUZZING.md).
libfuzzer_sys::fuzz_target!(|data: &[u8]| mig06_fuzz::check_phi(data));
