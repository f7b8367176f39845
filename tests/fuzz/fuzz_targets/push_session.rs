#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| liverec::fuzzing::push_session(data));
