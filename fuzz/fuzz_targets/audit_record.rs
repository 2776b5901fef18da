#![no_main]
//! Fuzz target `audit_record`: the properties are in `mig06_fuzz::check_audit_record` (see docs/FUZZING.md).
libfuzzer_sys::fuzz_target!(|data: &[u8]| mig06_fuzz::check_audit_record(data));
