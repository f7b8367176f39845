//! `liverec playlist …`: the HLS playlist toolkit on files, the same code as the npm
//! package's `Playlist` class.
//!
//! - `inspect FILE [--base-url URL]` — JSON summary on stdout.
//! - `validate FILE` — diagnostics as JSON; exit 1 when any is an error.
//! - `splice FILE... [--base-url URL]... [--order given|pdt] [--gaps discontinuity|gap-segments]
//!   [--tolerance-ms N] [-o OUT]` — one VOD playlist; give one `--base-url` for all files or
//!   one per file, in order.
//! - `clip FILE --start T [--end T] [--base-url URL] [-o OUT]` — T is seconds from the
//!   start or an ISO 8601 date-time (through PROGRAM-DATE-TIME).
//!
//! Splice and clip write the playlist to OUT (or stdout) and their summary as JSON on
//! stderr.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;

use super::{print_json, read_input, CliError};
use crate::formats::hls::clip::{clip, ClipTime};
use crate::formats::hls::datetime::decode_date_time;
use crate::formats::hls::playlist::MAX_PLAYLIST_BYTES;
use crate::formats::hls::splice::{splice, GapPolicy, Order, SpliceOptions, DEFAULT_TOLERANCE_MS};
use crate::formats::hls::{inspect, validate, Micros, Playlist, Severity};

#[derive(Debug, Subcommand)]
pub(super) enum PlaylistCommand {
    /// Durations, discontinuities, PROGRAM-DATE-TIME span and gaps, diagnostics (JSON).
    Inspect(Source),
    /// RFC 8216 diagnostics (JSON); exit 1 when there is an error.
    Validate(Source),
    /// Splice media playlists into one VOD playlist.
    Splice(SpliceArgs),
    /// Cut the segments covering a time range, with the exact start offset.
    Clip(ClipArgs),
}

#[derive(Debug, Args)]
pub(super) struct Source {
    /// Playlist file, or - for standard input.
    file: PathBuf,
    /// URL the playlist is served from (resolves relative URIs).
    #[arg(long)]
    base_url: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OrderArg {
    /// As given on the command line.
    Given,
    /// By each playlist's first PROGRAM-DATE-TIME.
    Pdt,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum GapsArg {
    /// Mark gaps with EXT-X-DISCONTINUITY.
    Discontinuity,
    /// Fill gaps with EXT-X-GAP segments.
    GapSegments,
}

#[derive(Debug, Args)]
pub(super) struct SpliceArgs {
    /// Playlist files, in order.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Base URL: once for all files, or once per file in order.
    #[arg(long)]
    base_url: Vec<String>,
    /// Source order.
    #[arg(long, value_enum, default_value = "given")]
    order: OrderArg,
    /// Gap handling.
    #[arg(long, value_enum, default_value = "discontinuity")]
    gaps: GapsArg,
    /// Largest PROGRAM-DATE-TIME mismatch still counted as continuous, ms.
    #[arg(long, default_value_t = DEFAULT_TOLERANCE_MS)]
    tolerance_ms: i64,
    /// Output file (default: stdout).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(super) struct ClipArgs {
    #[command(flatten)]
    source: Source,
    /// Start: seconds from the start, or an ISO 8601 date-time.
    #[arg(long)]
    start: String,
    /// End (exclusive): seconds, or an ISO 8601 date-time; default the end.
    #[arg(long)]
    end: Option<String>,
    /// Output file (default: stdout).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

pub(super) fn run(command: PlaylistCommand) -> Result<ExitCode, CliError> {
    match command {
        PlaylistCommand::Inspect(source) => {
            let playlist = load(&source.file, source.base_url.clone())?;
            print_json(&to_value(&inspect(&playlist)))?;
            Ok(ExitCode::SUCCESS)
        }
        PlaylistCommand::Validate(source) => {
            let diagnostics = validate(&load(&source.file, None)?);
            print_json(&to_value(&diagnostics))?;
            let failed = diagnostics.iter().any(|d| d.severity == Severity::Error);
            Ok(if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        PlaylistCommand::Splice(args) => run_splice(&args),
        PlaylistCommand::Clip(args) => run_clip(&args),
    }
}

fn to_value<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

fn load(path: &Path, base_url: Option<String>) -> Result<Playlist, CliError> {
    let name = path.display().to_string();
    let bytes = read_input(path, MAX_PLAYLIST_BYTES as u64)?;
    let text = String::from_utf8(bytes).map_err(|e| CliError::NotUtf8 {
        path: name.clone(),
        offset: e.utf8_error().valid_up_to(),
    })?;
    let playlist = Playlist::parse_owned(text).map_err(|source| CliError::Playlist {
        context: name,
        source,
    })?;
    Ok(playlist.with_base_url(base_url))
}

fn run_splice(args: &SpliceArgs) -> Result<ExitCode, CliError> {
    let bases = match args.base_url.len() {
        0 => vec![None; args.files.len()],
        1 => vec![args.base_url.first().cloned(); args.files.len()],
        n if n == args.files.len() => args.base_url.iter().cloned().map(Some).collect(),
        n => {
            return Err(CliError::Usage(format!(
                "{n} --base-url values for {} files: give one for all, or one per file",
                args.files.len()
            )))
        }
    };
    let playlists = args
        .files
        .iter()
        .zip(bases)
        .map(|(file, base)| load(file, base))
        .collect::<Result<Vec<_>, _>>()?;
    let options = SpliceOptions {
        order: match args.order {
            OrderArg::Given => Order::Given,
            OrderArg::Pdt => Order::ProgramDateTime,
        },
        gaps: match args.gaps {
            GapsArg::Discontinuity => GapPolicy::Discontinuity,
            GapsArg::GapSegments => GapPolicy::GapSegments,
        },
        tolerance_ms: args.tolerance_ms.max(0),
    };
    let refs: Vec<&Playlist> = playlists.iter().collect();
    let (spliced, summary) = splice(&refs, options).map_err(|source| CliError::Playlist {
        context: "splice".into(),
        source,
    })?;
    emit(&spliced, args.output.as_deref(), &to_value(&summary))
}

fn clip_time(text: &str) -> Result<ClipTime, CliError> {
    if let Some(seconds) = text.parse::<f64>().ok().and_then(Micros::from_secs_f64) {
        return Ok(ClipTime::Offset(seconds));
    }
    decode_date_time(text)
        .map(|d| ClipTime::WallClockMs(d.unix_ms))
        .ok_or_else(|| {
            CliError::Usage(format!(
                "{text:?} is neither seconds nor an ISO 8601 date-time"
            ))
        })
}

fn run_clip(args: &ClipArgs) -> Result<ExitCode, CliError> {
    let playlist = load(&args.source.file, args.source.base_url.clone())?;
    let start = clip_time(&args.start)?;
    let end = args.end.as_deref().map(clip_time).transpose()?;
    let (clipped, summary) = clip(&playlist, start, end).map_err(|source| CliError::Playlist {
        context: "clip".into(),
        source,
    })?;
    emit(&clipped, args.output.as_deref(), &to_value(&summary))
}

fn emit(
    playlist: &Playlist,
    output: Option<&Path>,
    summary: &serde_json::Value,
) -> Result<ExitCode, CliError> {
    let text = playlist.to_text();
    match output {
        Some(path) => std::fs::write(path, text).map_err(|source| CliError::Read {
            path: path.display().to_string(),
            source,
        })?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    let mut err = std::io::stderr().lock();
    serde_json::to_writer(&mut err, summary).map_err(std::io::Error::from)?;
    writeln!(err)?;
    Ok(ExitCode::SUCCESS)
}
