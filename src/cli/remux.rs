//! `liverec remux INPUT.flv --to aac [--out PATH]`: offline remuxing of an FLV file with
//! the same sans-IO core the server uses. Streams the input in fixed-size reads (memory
//! does not grow with its length), prints a JSON summary of the files written on stdout,
//! and exits non-zero with the byte offset when the input is not FLV. A truncated input
//! still yields a valid file of what was complete (reported in the summary).
//!
//! Formats so far: `aac` (ADTS). FLV, MPEG-TS/HLS and MP4 outputs follow (media core
//! issue, open).

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde_json::json;

use super::{print_json, CliError};
use crate::formats::adts::AdtsMuxer;
use crate::formats::flv::{FlvDemuxer, FlvError, FrameEvent, FrameReader};

/// Bytes read per step.
pub const READ_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Output {
    /// Audio-only AAC (ADTS).
    Aac,
}

#[derive(Debug, Args)]
pub(super) struct RemuxArgs {
    /// FLV file to read.
    input: PathBuf,
    /// Output format.
    #[arg(long, value_enum)]
    to: Output,
    /// Output file (default: the input's name with the format's extension).
    #[arg(long)]
    out: Option<PathBuf>,
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> CliError + '_ {
    move |source| CliError::Read {
        path: path.display().to_string(),
        source,
    }
}

pub(super) fn run(args: &RemuxArgs) -> Result<ExitCode, CliError> {
    let out_path = args
        .out
        .clone()
        .unwrap_or_else(|| args.input.with_extension("aac"));
    let mut input = File::open(&args.input).map_err(io_err(&args.input))?;
    let mut output = BufWriter::new(File::create(&out_path).map_err(io_err(&out_path))?);
    let mut demuxer = FlvDemuxer::new();
    let mut reader = FrameReader::default();
    let mut muxer = AdtsMuxer::new();
    let mut chunk = vec![0u8; READ_BYTES];
    let mut bytes = Vec::with_capacity(READ_BYTES);
    let mut skipped = 0u64;
    let mut failure: Option<FlvError> = None;
    loop {
        let n = input.read(&mut chunk).map_err(io_err(&args.input))?;
        if n == 0 {
            break;
        }
        demuxer.push(chunk.get(..n).unwrap_or_default());
        loop {
            match demuxer.pull() {
                Ok(Some(tag)) => {
                    for event in reader.push_tag(&tag) {
                        skipped += u64::from(matches!(event, FrameEvent::Skipped { .. }));
                        muxer.push(&event, &mut bytes);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        output.write_all(&bytes).map_err(io_err(&out_path))?;
        bytes.clear();
        if failure.is_some() {
            break;
        }
    }
    output.flush().map_err(io_err(&out_path))?;
    let truncated = if failure.is_none() {
        demuxer.finish().err()
    } else {
        None
    };
    let stats = muxer.stats();
    let summary = json!({
        "input": args.input.display().to_string(),
        "format": "aac",
        "files": [{
            "path": out_path.display().to_string(),
            "bytes": stats.bytes,
            "frames": stats.frames,
            "durationSeconds": muxer.duration_ms() as f64 / 1000.0,
            "startMs": stats.first_dts_ms,
            "endMs": stats.last_dts_ms,
            "sampleRate": muxer.config().map(|c| c.sample_rate),
            "channels": muxer.config().map(|c| c.channels),
        }],
        "droppedFrames": stats.dropped,
        "skippedTags": skipped,
        "discontinuities": stats.discontinuities,
        "truncated": truncated.as_ref().map(ToString::to_string),
        "error": failure.as_ref().map(ToString::to_string),
    });
    print_json(&summary)?;
    match failure {
        Some(e) => Err(CliError::Usage(format!("{}: {e}", args.input.display()))),
        None => Ok(ExitCode::SUCCESS),
    }
}
