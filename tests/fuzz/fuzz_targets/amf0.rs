#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| liverec::fuzzing::amf0(data));
