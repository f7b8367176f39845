//! `liverec remux INPUT.flv --to flv|mp4|aac|ts|hls [--segment SECONDS] [--out PATH]`: offline
//! remuxing of an FLV file with the same sans-IO core the server uses. Streams the input
//! in fixed-size reads (memory does not grow with its length), prints a JSON summary of
//! the files written on stdout, and exits non-zero with the byte offset when the input is
//! not FLV. A truncated input still yields valid files of what was complete (reported in
//! the summary).
//!
//! Formats so far: `flv` (tags as received + onMetaData index; files of `--segment`),
//! `aac` (ADTS), `ts` (one MPEG-TS file, or segments with `--segment`), `hls` (`.m3u8` +
//! `NAME_00000.ts` segments, default 6 s), `mp4` (fragmented while written, rewritten
//! moov-first when each file closes).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde_json::{json, Value};

use super::CliError;

/// One written file, kept compact until the JSON summary is printed at the end (its
/// path is the sink's name for its index): a long input cut in small segments stays
/// small in memory.
#[derive(Debug, Clone, Copy)]
struct FileSummary {
    index: u32,
    bytes: u64,
    frames: u64,
    start_ms: i64,
    end_ms: i64,
    discontinuity: Option<bool>,
}

impl FileSummary {
    fn new(bytes: u64, info: &SegmentInfo, discontinuity: Option<bool>) -> Self {
        Self {
            index: info.index,
            bytes,
            frames: info.frames,
            start_ms: info.start_ms,
            end_ms: info.end_ms,
            discontinuity,
        }
    }
}

/// One file as the summary prints it.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct FileJson {
    path: String,
    bytes: u64,
    frames: u64,
    start_ms: i64,
    end_ms: i64,
    duration_seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    discontinuity: Option<bool>,
}

/// The files written, serialized one at a time as the summary is printed.
struct Files<'a> {
    files: &'a [FileSummary],
    name: &'a dyn Fn(u32) -> PathBuf,
}

impl serde::Serialize for Files<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.files.iter().map(|f| FileJson {
            path: (self.name)(f.index).display().to_string(),
            bytes: f.bytes,
            frames: f.frames,
            start_ms: f.start_ms,
            end_ms: f.end_ms,
            duration_seconds: Micros::from_millis(f.end_ms - f.start_ms).as_secs_f64(),
            discontinuity: f.discontinuity,
        }))
    }
}

/// The summary: `fields` in order, the `files` entry serialized from [`Files`].
struct Report<'a> {
    fields: &'a serde_json::Map<String, Value>,
    files: Files<'a>,
}

impl serde::Serialize for Report<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.fields.len()))?;
        for (key, value) in self.fields {
            if key == "files" {
                map.serialize_entry(key, &self.files)?;
            } else {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}
use crate::formats::flv::FlvTag;
use crate::formats::flv::{FlvDemuxer, FlvError, FrameEvent, FrameReader};
use crate::formats::hls::writer::{RecordedSegment, RecordingPlaylist};
use crate::formats::hls::Micros;
use crate::record::aac::AacSegmenter;
use crate::record::flv::{index_reserve, FlvEvent, FlvWriter};
use crate::record::mp4::Mp4Segmenter;
use crate::record::ts::TsSegmenter;
use crate::record::{SegmentEvent, SegmentInfo, Segmenter};
use crate::storage::scratch::ScratchFile;

/// Bytes read per step.
pub const READ_BYTES: usize = 256 * 1024;
/// Bytes gathered per output write: on ext4 the kernel's cost per byte falls up to
/// about this size (measured here: 1 MiB writes cost more again).
pub const WRITE_BUFFER_BYTES: usize = 2 * 1024 * 1024;
/// Default HLS segment duration, seconds.
pub const DEFAULT_HLS_SEGMENT_S: f64 = 6.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    /// Audio-only AAC (ADTS).
    Aac,
    /// MPEG-TS: one file, or segments with --segment.
    Ts,
    /// HLS: an .m3u8 playlist and MPEG-TS segments.
    Hls,
    /// FLV: the tags as received, with onMetaData (duration, filesize, keyframe index).
    Flv,
    /// MP4, fragmented (about one fragment per second).
    Mp4,
}

#[derive(Debug, Args)]
pub(super) struct RemuxArgs {
    /// FLV file to read.
    input: PathBuf,
    /// Output format.
    #[arg(long, value_enum)]
    to: Output,
    /// Seconds per file (cut at the first keyframe at or after the boundary).
    #[arg(long)]
    segment: Option<f64>,
    /// Output file (HLS: the playlist); default: the input's name with the format's extension.
    #[arg(long)]
    out: Option<PathBuf>,
    /// MP4: keep the files fragmented (skip the moov-first rewrite at close).
    #[arg(long)]
    fragmented: bool,
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> CliError + '_ {
    move |source| CliError::Read {
        path: path.display().to_string(),
        source,
    }
}

/// Where tags and frame events go.
trait Sink {
    fn tag(&mut self, _tag: &FlvTag) -> Result<(), CliError> {
        Ok(())
    }
    fn event(&mut self, event: &FrameEvent) -> Result<(), CliError>;
    /// The summary's fields (`files` a placeholder, see [`Self::files`]).
    fn finish(&mut self) -> Result<Value, CliError>;
    /// The files written.
    fn files(&self) -> Files<'_>;
}

struct FlvSink {
    writer: Option<FlvWriter>,
    target_ms: Option<i64>,
    name: Box<dyn Fn(u32) -> PathBuf>,
    file: Option<ScratchFile>,
    files: Vec<FileSummary>,
    events: Vec<FlvEvent>,
    flags: (bool, bool),
}

impl FlvSink {
    fn apply(&mut self) -> Result<(), CliError> {
        for event in std::mem::take(&mut self.events) {
            match event {
                FlvEvent::Open { index } => {
                    let path = (self.name)(index);
                    let file = ScratchFile::create_direct(path.clone(), WRITE_BUFFER_BYTES)
                        .map_err(io_err(&path))?;
                    self.file = Some(file);
                }
                FlvEvent::Data(bytes) => {
                    if let Some(file) = self.file.as_mut() {
                        file.append(&bytes).map_err(|e| io_err(file.path())(e))?;
                    }
                }
                FlvEvent::Patch { offset, bytes } => {
                    if let Some(file) = self.file.as_mut() {
                        file.patch(offset, &bytes)
                            .map_err(|e| io_err(file.path())(e))?;
                    }
                }
                FlvEvent::Rewrite { head, replace } => {
                    if let Some(file) = self.file.as_mut() {
                        file.rewrite_head(&head, replace)
                            .map_err(|e| io_err(file.path())(e))?;
                    }
                }
                FlvEvent::Close(info) => {
                    if let Some(file) = self.file.take() {
                        let at = file.path().to_owned();
                        let path = file.close().map_err(io_err(&at))?;
                        let bytes = std::fs::metadata(&path)
                            .map(|m| m.len())
                            .unwrap_or(info.bytes);
                        self.files.push(FileSummary::new(bytes, &info, None));
                    }
                }
            }
        }
        Ok(())
    }
}

impl Sink for FlvSink {
    fn files(&self) -> Files<'_> {
        Files {
            files: &self.files,
            name: &self.name,
        }
    }

    fn tag(&mut self, tag: &FlvTag) -> Result<(), CliError> {
        let (video, audio) = self.flags;
        let target = self.target_ms;
        let writer = self
            .writer
            .get_or_insert_with(|| FlvWriter::new(target, index_reserve(target), video, audio));
        writer.push(tag, &mut self.events);
        self.apply()
    }

    fn event(&mut self, _event: &FrameEvent) -> Result<(), CliError> {
        Ok(())
    }

    fn finish(&mut self) -> Result<Value, CliError> {
        if let Some(writer) = self.writer.as_mut() {
            writer.finish(&mut self.events);
        }
        self.apply()?;
        Ok(json!({"files": null}))
    }
}

struct SegmentSink {
    segmenter: Box<dyn Segmenter>,
    /// Path of segment `index`.
    name: Box<dyn Fn(u32) -> PathBuf>,
    playlist_path: Option<PathBuf>,
    playlist: RecordingPlaylist,
    /// Segments in the playlist file and the target duration its header says.
    playlist_written: (usize, u64),
    file: Option<ScratchFile>,
    files: Vec<FileSummary>,
    events: Vec<SegmentEvent>,
}

impl SegmentSink {
    fn apply(&mut self) -> Result<(), CliError> {
        for event in std::mem::take(&mut self.events) {
            match event {
                SegmentEvent::Open { index, .. } => {
                    let path = (self.name)(index);
                    let file = ScratchFile::create_direct(path.clone(), WRITE_BUFFER_BYTES)
                        .map_err(io_err(&path))?;
                    self.file = Some(file);
                }
                SegmentEvent::Data(bytes) => {
                    if let Some(file) = self.file.as_mut() {
                        file.append(&bytes).map_err(|e| io_err(file.path())(e))?;
                    }
                }
                // The offline remuxer writes MPEG-TS segments.
                SegmentEvent::Init { .. } => {}
                SegmentEvent::FinishMp4(finish) => {
                    if let Some(file) = self.file.as_mut() {
                        file.finish_mp4(*finish)
                            .map_err(|e| io_err(file.path())(e))?;
                    }
                }
                SegmentEvent::Close(info) => self.closed(&info)?,
                SegmentEvent::Refused(_, why) => eprintln!("liverec remux: {why}"),
            }
        }
        Ok(())
    }

    fn closed(&mut self, info: &SegmentInfo) -> Result<(), CliError> {
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        let at = file.path().to_owned();
        let path = file.close().map_err(io_err(&at))?;
        // An MP4 finish may have rebuilt the file: its size is the truth.
        let bytes = std::fs::metadata(&path).map_or(info.bytes, |m| m.len());
        let duration = Micros::from_millis(info.end_ms - info.start_ms);
        self.files
            .push(FileSummary::new(bytes, info, Some(info.discontinuity)));
        if let Some(playlist_path) = self.playlist_path.clone() {
            let uri = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            self.playlist.push(RecordedSegment {
                uri,
                duration,
                program_date_time_ms: None,
                discontinuity: info.discontinuity,
                map: None,
            });
            self.write_growing_playlist(&playlist_path)
                .map_err(io_err(&playlist_path))?;
        }
        Ok(())
    }
}

impl SegmentSink {
    /// The growing (EVENT) playlist: the new segment's lines appended while the target
    /// duration holds, the whole text rewritten when it changes — linear in the number
    /// of segments, not quadratic.
    fn write_growing_playlist(&mut self, path: &Path) -> std::io::Result<()> {
        let target = self.playlist.target_duration();
        let (written, written_target) = self.playlist_written;
        if written > 0 && target == written_target {
            let mut file = std::fs::OpenOptions::new().append(true).open(path)?;
            std::io::Write::write_all(&mut file, self.playlist.render_from(written).as_bytes())?;
        } else {
            std::fs::write(path, self.playlist.render(false))?;
        }
        self.playlist_written = (self.playlist.segments().len(), target);
        Ok(())
    }
}

impl Sink for SegmentSink {
    fn files(&self) -> Files<'_> {
        Files {
            files: &self.files,
            name: &self.name,
        }
    }

    fn event(&mut self, event: &FrameEvent) -> Result<(), CliError> {
        self.segmenter.push(event, &mut self.events);
        self.apply()
    }

    fn finish(&mut self) -> Result<Value, CliError> {
        self.segmenter.finish(&mut self.events);
        self.apply()?;
        if let Some(playlist_path) = &self.playlist_path {
            std::fs::write(playlist_path, self.playlist.render(true))
                .map_err(io_err(playlist_path))?;
        }
        Ok(json!({
            "playlist": self.playlist_path.as_ref().map(|p| p.display().to_string()),
            "files": null,
            "droppedFrames": self.segmenter.dropped(),
        }))
    }
}

fn sink(args: &RemuxArgs) -> Result<Box<dyn Sink>, CliError> {
    let extension = match args.to {
        Output::Aac => "aac",
        Output::Ts => "ts",
        Output::Hls => "m3u8",
        Output::Flv => "flv",
        Output::Mp4 => "mp4",
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.input.with_extension(extension));
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    if args.to == Output::Flv && args.out.as_deref() == Some(args.input.as_path()) {
        return Err(CliError::Usage("the output must not be the input".into()));
    }
    let seconds = match (args.to, args.segment) {
        (_, Some(s)) if !(s.is_finite() && s > 0.0) => {
            return Err(CliError::Usage(
                "--segment must be a positive number of seconds".into(),
            ))
        }
        (Output::Hls, None) => Some(DEFAULT_HLS_SEGMENT_S),
        (_, s) => s,
    };
    let target_ms = seconds.map(|s| (s * 1000.0).round() as i64);
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let dir = out.parent().map(Path::to_path_buf).unwrap_or_default();
    // One file unless --segment; a codec change or timestamp jump continues in
    // NAME_00001.ext (and so on) rather than overwriting it.
    let single = target_ms.is_none();
    let single_path = out.clone();
    let extension = match args.to {
        Output::Flv => "flv",
        Output::Aac => "aac",
        Output::Mp4 => "mp4",
        _ => "ts",
    };
    let name: Box<dyn Fn(u32) -> PathBuf> = Box::new(move |i| {
        if single && i == 0 {
            single_path.clone()
        } else {
            dir.join(format!("{stem}_{i:05}.{extension}"))
        }
    });
    if args.to == Output::Flv {
        return Ok(Box::new(FlvSink {
            writer: None,
            target_ms,
            name,
            file: None,
            files: Vec::new(),
            events: Vec::new(),
            flags: (false, false),
        }));
    }
    let segmenter: Box<dyn Segmenter> = match args.to {
        Output::Aac => Box::new(AacSegmenter::new(target_ms)),
        Output::Mp4 => {
            let input_bytes = std::fs::metadata(&args.input).ok().map(|m| m.len());
            Box::new(
                Mp4Segmenter::new(target_ms)
                    .keep_fragmented(args.fragmented)
                    .input_bytes(input_bytes),
            )
        }
        _ => Box::new(TsSegmenter::new(target_ms)),
    };
    Ok(Box::new(SegmentSink {
        segmenter,
        name,
        playlist_path: (args.to == Output::Hls).then_some(out),
        playlist: RecordingPlaylist::new(),
        playlist_written: (0, 0),
        file: None,
        files: Vec::new(),
        events: Vec::new(),
    }))
}

/// A byte progress bar on a terminal; hidden otherwise (indicatif draws only to a TTY).
fn progress(total: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {eta}",
    ) {
        bar.set_style(style);
    }
    bar
}

fn print_report(summary: &Value, files: Files<'_>) -> Result<(), CliError> {
    let empty = serde_json::Map::new();
    let report = Report {
        fields: summary.as_object().unwrap_or(&empty),
        files,
    };
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &report).map_err(std::io::Error::from)?;
    std::io::Write::write_all(&mut out, b"\n")?;
    Ok(())
}

pub(super) fn run(args: &RemuxArgs) -> Result<ExitCode, CliError> {
    let mut input = File::open(&args.input).map_err(io_err(&args.input))?;
    let bar = progress(input.metadata().map(|m| m.len()).unwrap_or(0));
    let mut sink = sink(args)?;
    let mut demuxer = FlvDemuxer::new();
    if args.to == Output::Aac {
        demuxer = demuxer.ignore_video();
    }
    let mut reader = FrameReader::default();
    let mut skipped = 0u64;
    let mut failure: Option<FlvError> = None;
    'read: loop {
        let n = demuxer
            .push_with(READ_BYTES, |room| input.read(room))
            .map_err(io_err(&args.input))?;
        if n == 0 {
            break;
        }
        bar.inc(n as u64);
        loop {
            match demuxer.pull() {
                Ok(Some(tag)) => {
                    sink.tag(&tag)?;
                    for event in reader.push_tag(&tag) {
                        skipped += u64::from(matches!(event, FrameEvent::Skipped { .. }));
                        sink.event(&event)?;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    failure = Some(e);
                    break 'read;
                }
            }
        }
    }
    if failure.is_none() {
        while let Ok(Some(tag)) = demuxer.pull_final() {
            sink.tag(&tag)?;
            for event in reader.push_tag(&tag) {
                skipped += u64::from(matches!(event, FrameEvent::Skipped { .. }));
                sink.event(&event)?;
            }
        }
    }
    bar.finish_and_clear();
    let truncated = if failure.is_none() {
        demuxer.finish().err()
    } else {
        None
    };
    let mut summary = sink.finish()?;
    if let Value::Object(map) = &mut summary {
        map.insert("input".into(), json!(args.input.display().to_string()));
        map.insert(
            "format".into(),
            json!(format!("{:?}", args.to).to_lowercase()),
        );
        map.insert("skippedTags".into(), json!(skipped));
        map.insert(
            "truncated".into(),
            json!(truncated.as_ref().map(ToString::to_string)),
        );
        map.insert(
            "error".into(),
            json!(failure.as_ref().map(ToString::to_string)),
        );
    }
    print_report(&summary, sink.files())?;
    match failure {
        Some(e) => Err(CliError::Usage(format!("{}: {e}", args.input.display()))),
        None => Ok(ExitCode::SUCCESS),
    }
}
