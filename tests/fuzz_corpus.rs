//! Replays the fuzz targets' seed corpora (`tests/fuzz/corpus/<target>/`) under plain
//! `cargo test`, so every seed is checked on every run without a fuzzer.
#![allow(clippy::panic)]

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/corpus")
        .join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        run(&data);
        count += 1;
    }
    assert!(count > 0, "no seeds in {}", dir.display());
}

#[test]
fn request_json_corpus() {
    replay("request_json", liverec::fuzzing::request_json);
}

#[test]
fn vod_file_name_corpus() {
    replay("vod_file_name", liverec::fuzzing::vod_file_name);
}

#[test]
fn push_auth_corpus() {
    replay("push_auth", liverec::fuzzing::push_auth);
}

#[test]
fn playlist_corpus() {
    replay("playlist", liverec::fuzzing::playlist);
}

#[test]
fn flv_demux_corpus() {
    replay("flv_demux", liverec::fuzzing::flv_demux);
}

#[test]
fn rtmp_chunks_corpus() {
    replay("rtmp_chunks", liverec::fuzzing::rtmp_chunks);
}

#[test]
fn amf0_corpus() {
    replay("amf0", liverec::fuzzing::amf0);
}

#[test]
fn push_session_corpus() {
    replay("push_session", liverec::fuzzing::push_session);
}
