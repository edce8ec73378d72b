#![no_main]
// tinychat::fuzzing::template_overrides: see its documentation for what the input is and what must hold.
libfuzzer_sys::fuzz_target!(|data: &[u8]| tinychat::fuzzing::template_overrides(data));
