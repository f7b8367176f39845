#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| liverec::fuzzing::vod_file_name(data));
