//! One engine generation: an ffmpeg child composing a mix's live inputs
//! ([`crate::mix::plan`]). Each input is FLV written to a Unix socket of the
//! generation's own (ffmpeg connects to it), its timestamps moved onto the generation's
//! clock from its first keyframe on; ffmpeg's FLV output comes back on its standard
//! output and is read into [`Input`]s. Nothing here waits on ffmpeg: frames for an input
//! go through a bounded queue to a writer task (a full queue drops frames, counted), and
//! the output reader runs in its own task.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use crate::config::mix::MixSession;
use crate::formats::flv::demux::{write_header, write_tag, FlvDemuxer};
use crate::formats::flv::ingest::FlvIngest;
use crate::formats::flv::mux::{config_body, frame_body, tag_type};
use crate::media::{Config, Frame, Input, Track};
use crate::mix::{plan, EnginePlan, LiveInput, GENERATION_LEAD_MS};

/// Frames queued for one input's writer before frames are dropped (≈ 8 s of 30 fps
/// video with its audio).
pub const INPUT_QUEUE_FRAMES: usize = 512;
/// Output units queued for the runner before the reader waits.
pub const OUTPUT_QUEUE: usize = 256;
/// How long ffmpeg may take to connect to an input's socket.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How far before a generation's clock an input's newest frame is put when it starts.
pub const GOP_MARGIN_MS: i64 = 100;
/// Bytes read from ffmpeg's standard output at once.
const READ_CHUNK: usize = 64 * 1024;
/// Longest socket path (`sun_path` holds 108 bytes with its NUL).
const MAX_SOCKET_PATH: usize = 100;

/// What one input has been fed.
struct Sink {
    queue: mpsc::Sender<Bytes>,
    /// Added to the input's decode times: set at its first keyframe.
    offset: Option<i64>,
    video: Option<Arc<Config>>,
    audio: Option<Arc<Config>>,
    dropped: u64,
}

impl Sink {
    /// A sink whose writer waits for ffmpeg on a socket at `path`.
    fn listen(path: PathBuf) -> std::io::Result<Sink> {
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)?;
        let (queue, frames) = mpsc::channel(INPUT_QUEUE_FRAMES);
        tokio::spawn(write_input(listener, frames, path));
        Ok(Sink {
            queue,
            offset: None,
            video: None,
            audio: None,
            dropped: 0,
        })
    }
}

/// Gives each of `live` its socket in `dir` (its `url`); the paths by input name.
fn socket_paths(
    dir: &Path,
    number: u64,
    live: &mut [LiveInput],
) -> std::io::Result<HashMap<String, PathBuf>> {
    let mut paths = HashMap::new();
    for (n, input) in live.iter_mut().enumerate() {
        let path = dir.join(format!("{number}-{n}.sock"));
        if path.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(std::io::Error::other(format!(
                "socket path {} is too long; use a shorter scratch directory",
                path.display()
            )));
        }
        input.url = format!("unix:{}", path.display());
        paths.insert(input.name.clone(), path);
    }
    Ok(paths)
}

/// See the module doc.
pub struct Generation {
    /// Its number within the mix (1, 2, …).
    pub number: u64,
    /// Its plan.
    pub plan: EnginePlan,
    child: Child,
    sinks: HashMap<String, Sink>,
    started: Instant,
    /// Units of its output, in order; closed when ffmpeg's output ends.
    pub output: mpsc::Receiver<Input>,
    dir: PathBuf,
}

impl Generation {
    /// Starts ffmpeg (`program`) composing `live` as `session` lays them out, its
    /// sockets in `dir` (created; removed with the generation).
    pub fn start(
        program: &str,
        session: &MixSession,
        mut live: Vec<LiveInput>,
        number: u64,
        dir: PathBuf,
    ) -> std::io::Result<Generation> {
        std::fs::create_dir_all(&dir)?;
        let mut paths = socket_paths(&dir, number, &mut live)?;
        let plan = plan(session, &live).map_err(std::io::Error::other)?;
        let mut sinks = HashMap::new();
        for name in &plan.inputs {
            if let Some(path) = paths.remove(name) {
                sinks.insert(name.clone(), Sink::listen(path)?);
            }
        }
        let args = plan.args.clone();
        let mut child = Command::new(program)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let (tx, output) = mpsc::channel(OUTPUT_QUEUE);
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(read_output(stdout, tx));
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(log_errors(stderr, number));
        }
        Ok(Generation {
            number,
            plan,
            child,
            sinks,
            started: Instant::now(),
            output,
            dir,
        })
    }

    /// Time since it was started.
    pub fn age(&self) -> Duration {
        self.started.elapsed()
    }

    /// Whether it reads input `name`.
    pub fn reads(&self, name: &str) -> bool {
        self.sinks.contains_key(name)
    }

    /// Starts input `name` with `gop`, its frames since its latest keyframe: the
    /// newest lands [`GOP_MARGIN_MS`] before the generation's clock now, so the first
    /// picture composed shows it.
    pub fn feed_gop(&mut self, name: &str, gop: &[Arc<Frame>]) {
        let (Some(first), Some(newest)) = (gop.first(), gop.last()) else {
            return;
        };
        if !(first.track == Track::Video && first.keyframe) {
            return;
        }
        let now_ms = GENERATION_LEAD_MS + self.started.elapsed().as_millis() as i64;
        if let Some(sink) = self.sinks.get_mut(name) {
            sink.offset = Some(now_ms - GOP_MARGIN_MS - newest.dts_ms);
        }
        for frame in gop {
            self.feed(name, frame);
        }
    }

    /// Feeds one frame of input `name` (from its first keyframe on).
    pub fn feed(&mut self, name: &str, frame: &Frame) {
        let now_ms = GENERATION_LEAD_MS + self.started.elapsed().as_millis() as i64;
        let Some(sink) = self.sinks.get_mut(name) else {
            return;
        };
        let offset = match sink.offset {
            Some(offset) => offset,
            None if frame.track == Track::Video && frame.keyframe => {
                let offset = now_ms - frame.dts_ms;
                sink.offset = Some(offset);
                offset
            }
            None => return,
        };
        let ts = u32::try_from((frame.dts_ms + offset).max(0)).unwrap_or(0);
        let mut bytes = Vec::new();
        if let Some(config) = &frame.config {
            let last = match frame.track {
                Track::Video => &mut sink.video,
                Track::Audio => &mut sink.audio,
            };
            if !last.as_ref().is_some_and(|l| Arc::ptr_eq(l, config)) {
                if let Some(body) = config_body(config) {
                    write_tag(&mut bytes, tag_type(frame.track), ts, &body);
                }
                *last = Some(Arc::clone(config));
            }
        }
        let Some(body) = frame.flv.clone().or_else(|| frame_body(frame)) else {
            return;
        };
        write_tag(&mut bytes, tag_type(frame.track), ts, &body);
        if sink.queue.try_send(Bytes::from(bytes)).is_err() {
            sink.dropped += 1;
            if sink.dropped == 1 {
                tracing::warn!(
                    input = name,
                    generation = self.number,
                    "mix engine is not keeping up: input frames dropped"
                );
            }
        }
    }

    /// Stops feeding input `name`: ffmpeg reads the end of it (its layer shows what is
    /// below it from then on).
    pub fn end_input(&mut self, name: &str) {
        self.sinks.remove(name);
    }

    /// Whether ffmpeg has exited.
    pub fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Stops it: ffmpeg is killed, its sockets removed.
    pub async fn stop(mut self) {
        self.sinks.clear();
        let _ = self.child.kill().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits for ffmpeg to connect, then writes the FLV header and each queued tag.
async fn write_input(listener: UnixListener, mut frames: mpsc::Receiver<Bytes>, path: PathBuf) {
    let accepted = tokio::time::timeout(CONNECT_TIMEOUT, listener.accept()).await;
    let _ = std::fs::remove_file(&path);
    let Ok(Ok((mut socket, _))) = accepted else {
        return;
    };
    let mut header = Vec::new();
    write_header(&mut header, true, true);
    if socket.write_all(&header).await.is_err() {
        return;
    }
    while let Some(bytes) = frames.recv().await {
        if socket.write_all(&bytes).await.is_err() {
            return;
        }
    }
    let _ = socket.shutdown().await;
}

/// Reads ffmpeg's FLV output into inputs until it ends.
async fn read_output(mut stdout: tokio::process::ChildStdout, tx: mpsc::Sender<Input>) {
    let mut demuxer = FlvDemuxer::new();
    let mut ingest = FlvIngest::default();
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let n = match stdout.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        demuxer.push(buf.get(..n).unwrap_or_default());
        loop {
            match demuxer.pull() {
                Ok(Some(tag)) => {
                    let input = ingest.push_tag(&tag);
                    if !matches!(input, Input::Nothing) && tx.send(input).await.is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "mix engine output is not FLV");
                    return;
                }
            }
        }
    }
}

/// Logs what ffmpeg says (it runs with `-loglevel error`).
async fn log_errors(mut stderr: tokio::process::ChildStderr, generation: u64) {
    let mut text = String::new();
    let mut buf = vec![0u8; 4096];
    while let Ok(n) = stderr.read(&mut buf).await {
        if n == 0 {
            break;
        }
        text.push_str(&String::from_utf8_lossy(buf.get(..n).unwrap_or_default()));
        while let Some(end) = text.find('\n') {
            let line: String = text.drain(..=end).collect();
            tracing::warn!(generation, engine = line.trim_end(), "mix engine");
        }
    }
}

/// The directory of a mix's sockets under `scratch`.
pub fn socket_dir(scratch: &Path, session_id: &str) -> PathBuf {
    let short: String = session_id.chars().take(24).collect();
    scratch.join(format!("mix-{short}"))
}
