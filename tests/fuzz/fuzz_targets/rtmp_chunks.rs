#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| liverec::fuzzing::rtmp_chunks(data));
