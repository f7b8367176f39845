//! Carries out a push session's [`Action`]s on the read path: scratch-file writes in
//! place; a final file, segment or playlist goes to the push's finalisation worker
//! ([`super::finalize`]), which stores, indexes and announces it off the read path.
//!
//! A storage error on one output (disk full, no file handle, permissions) stops that
//! output only; the push and the other outputs carry on. The file being written is
//! removed; an HLS recording keeps the segments it stored and is finalised at once
//! (ENDLIST, index row, callback) — or removed when even that fails, never left
//! growing. A recording-exception callback (341) announces the stop, once until the
//! output stores a file again. A transient error ([`crate::storage::is_transient`])
//! only pauses the output: the session starts it anew, as new files, after a back-off.
//! Errors found by the worker come back through [`Recorder::take_failed`] the same way.

use std::collections::HashSet;
use std::sync::Arc;

use super::finalize::{Finalizer, Job};
use super::publish::{announce_exception, remove_sidecar, write_sidecar};
use super::stream::{hls_sidecar_name, PushStream, Sidecar};
use super::DataPlane;
use crate::config::callback_event::{Exception, EXCEPTION_NO_AUDIO, EXCEPTION_NO_VIDEO};
use crate::config::template::Format;
use crate::record::session::{
    extension, init_name, segment_name, Action, DoneFile, FileRef, MediaInfo, OutputSpec,
    PushSession,
};
use crate::server::notify::now_ms;
use crate::storage::memory::MemorySegment;
use crate::storage::scratch::ScratchFile;
use crate::storage::StorageError;

/// The open file of each output (an output has at most one), indexed by output: a
/// lookup per written chunk without hashing.
#[derive(Default)]
struct OpenFiles(Vec<Option<(FileRef, OpenFile)>>);

impl OpenFiles {
    fn get_mut(&mut self, f: &FileRef) -> Option<&mut OpenFile> {
        match self.0.get_mut(f.output) {
            Some(Some((at, open))) if at == f => Some(open),
            _ => None,
        }
    }

    fn insert(&mut self, f: FileRef, open: OpenFile) {
        if self.0.len() <= f.output {
            self.0.resize_with(f.output + 1, || None);
        }
        if let Some(slot) = self.0.get_mut(f.output) {
            *slot = Some((f, open));
        }
    }

    fn remove(&mut self, f: &FileRef) -> Option<OpenFile> {
        let slot = self.0.get_mut(f.output)?;
        match slot {
            Some((at, _)) if at == f => slot.take().map(|(_, open)| open),
            _ => None,
        }
    }

    fn remove_output(&mut self, output: usize) -> Option<OpenFile> {
        self.0.get_mut(output)?.take().map(|(_, open)| open)
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = (&FileRef, &mut OpenFile)> {
        self.0.iter_mut().flatten().map(|(f, open)| (&*f, open))
    }

    fn drain(&mut self) -> impl Iterator<Item = OpenFile> + '_ {
        self.0.drain(..).flatten().map(|(_, open)| open)
    }
}

struct OpenFile {
    file_id: String,
    scratch_name: String,
    file: Sink,
}

/// Where an open file's bytes go: a scratch file, or memory (an HLS segment for a network
/// store, [`crate::storage::memory`]).
enum Sink {
    Scratch(ScratchFile),
    Memory(MemorySegment),
}

impl Sink {
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Scratch(file) => file.flush(),
            Sink::Memory(_) => Ok(()),
        }
    }

    /// Removes what was written (the file is dropped).
    fn discard(self) {
        if let Sink::Scratch(file) = self {
            let _ = std::fs::remove_file(file.path());
        }
    }
}

/// The data plane's side of one push.
pub struct Recorder {
    app: Arc<DataPlane>,
    stream: PushStream,
    open: OpenFiles,
    newly_failed: Vec<OutputFailure>,
    /// Outputs whose failure was announced and that stored nothing since.
    announced: HashSet<usize>,
    last_flush_ms: i64,
    /// The finalisation worker (taken when the push ends).
    finalizer: Option<Finalizer>,
}

/// An output storage stopped: the session ends or restarts it ([`PushSession::fail_output`]).
#[derive(Debug, Clone)]
pub struct OutputFailure {
    /// Output index.
    pub output: usize,
    /// Its spec when it failed.
    pub spec: OutputSpec,
    /// The error may go away: retry.
    pub transient: bool,
    /// The first HLS segment not stored: the playlist must leave it and those after out.
    pub lost_from: Option<String>,
    /// What went wrong.
    pub message: String,
}

/// Why an action failed, and whether trying again later may work.
#[derive(Debug)]
pub struct Failed {
    /// What went wrong.
    pub message: String,
    /// Trying again later may work.
    pub transient: bool,
}

impl From<std::io::Error> for Failed {
    fn from(e: std::io::Error) -> Self {
        Failed {
            transient: crate::storage::is_transient(&e),
            message: e.to_string(),
        }
    }
}

impl From<StorageError> for Failed {
    fn from(e: StorageError) -> Self {
        Failed {
            transient: e.is_transient(),
            message: e.to_string(),
        }
    }
}

impl Failed {
    /// A failure that trying again will not cure.
    pub fn permanent(message: String) -> Self {
        Failed {
            message,
            transient: false,
        }
    }

    fn context(self, what: &str) -> Self {
        Failed {
            message: format!("{what}: {}", self.message),
            ..self
        }
    }
}

/// What opening a file needs to know from the session.
struct Opening {
    /// Codec facts so far (for the sidecar).
    media: MediaInfo,
    /// An HLS segment's name.
    segment: Option<String>,
}

/// The file id and scratch name of file `f` of `spec`: an HLS segment's are its
/// recording's id and its own name (`segment`, as the session named it).
fn file_names(f: FileRef, spec: &OutputSpec, segment: Option<String>) -> (String, String) {
    if spec.format == Format::Hls {
        let name = segment.unwrap_or_else(|| segment_name(&spec.recording_id, f.seq, false));
        (spec.recording_id.clone(), name)
    } else {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("{id}.{}", extension(spec.format));
        (id, name)
    }
}

fn action_output(action: &Action) -> usize {
    match action {
        Action::Open(f) | Action::Append(f, _) | Action::Patch(f, ..) => f.output,
        Action::RewriteHead(f, ..) | Action::FinishMp4(f, ..) | Action::Close(f, _) => f.output,
        Action::Playlist(o, _) | Action::HlsFinished(o, ..) | Action::OutputEnded(o) => *o,
        Action::StoreInit(f, _) => f.output,
        Action::Refused(o, ..) => *o,
    }
}

/// Open files are flushed to the OS at least this often, which bounds what a crash of
/// the process loses (the page cache survives it; a power loss is the file system's
/// business).
pub const FLUSH_INTERVAL_MS: i64 = 500;

impl Recorder {
    /// A recorder for `stream`, with its finalisation worker.
    pub fn new(app: Arc<DataPlane>, stream: PushStream) -> Self {
        Self {
            finalizer: Some(Finalizer::start(Arc::clone(&app), stream.clone())),
            app,
            stream,
            open: OpenFiles::default(),
            newly_failed: Vec::new(),
            announced: HashSet::new(),
            last_flush_ms: now_ms(),
        }
    }

    /// Hands the end of an HLS recording to the worker (finalised with what it stored,
    /// or removed).
    pub fn finish_hls_later(&self, hls: crate::record::session::ParkedHls) {
        self.submit(Job::Hls(Box::new(hls)));
    }

    /// Hands an HLS recording that stored nothing to the worker, to be removed.
    pub fn discard_hls_later(&self, spec: OutputSpec) {
        self.submit(Job::Discard(spec));
    }

    fn submit(&self, job: Job) {
        if let Err(job) = self.try_submit(job) {
            tracing::error!(stream = %self.stream.key(), "finalisation worker gone: {job:?}");
        }
    }

    fn try_submit(&self, job: Job) -> Result<(), Box<Job>> {
        match &self.finalizer {
            Some(f) => f.submit(job),
            None => Err(Box::new(job)),
        }
    }

    /// Waits for the finalisation worker to empty its queue (the push ended): the files
    /// it committed, and the failures it found since the last [`Self::take_failed`]
    /// (announced like any other).
    pub async fn drain(&mut self) -> (u64, Vec<OutputFailure>) {
        let Some(finalizer) = self.finalizer.take() else {
            return (0, Vec::new());
        };
        let (committed, late) = finalizer.drain().await;
        for f in late {
            let failed = Failed {
                message: f.message.clone(),
                transient: f.transient,
            };
            let spec = f.spec.clone();
            self.stop_output(f.output, &spec, failed, f.lost_from).await;
        }
        (committed, std::mem::take(&mut self.newly_failed))
    }

    /// Applies actions in order; `session` maps an output index to its spec. An output
    /// that fails skips the rest of its actions here; [`Self::take_failed`] reports it.
    pub async fn apply(&mut self, actions: impl Iterator<Item = Action>, session: &PushSession) {
        // Outputs stopped in this batch, and the HLS segment they lost, if one.
        let mut stopped: Vec<(usize, Option<String>)> = Vec::new();
        for action in actions {
            let output = action_output(&action);
            let Some(spec) = session.spec(output) else {
                continue;
            };
            if let Some((_, lost)) = stopped.iter().find(|(o, _)| *o == output) {
                if let Action::HlsFinished(_, mut hls) = action {
                    // The output ended right after storage failed under it: what it
                    // stored is finalised all the same.
                    if let Some(name) = lost {
                        hls.drop_from(name);
                    }
                    self.finish_hls_later(*hls);
                }
                continue;
            }
            let lost = match &action {
                Action::Close(_, done) if spec.format == Format::Hls => Some(done.name.clone()),
                _ => None,
            };
            let opening = match &action {
                Action::Open(f) => Some(Opening {
                    media: session.media(),
                    segment: session.segment_name(*f),
                }),
                _ => None,
            };
            if let Err(failed) = self.apply_one(action, spec, opening).await {
                stopped.push((output, lost.clone()));
                self.stop_output(output, spec, failed, lost).await;
            }
        }
        if now_ms() - self.last_flush_ms >= FLUSH_INTERVAL_MS {
            self.flush(session).await;
        }
    }

    /// Writes what the open files hold: once per read tick (the protocol's adapter calls
    /// it after taking a tick's bytes from the socket), and at least every
    /// [`FLUSH_INTERVAL_MS`] while actions are applied.
    pub async fn flush(&mut self, session: &PushSession) {
        self.last_flush_ms = now_ms();
        let mut broken = Vec::new();
        for (f, open) in self.open.iter_mut() {
            if let Err(e) = open.file.flush() {
                broken.push((f.output, Failed::from(e).context("flushing")));
            }
        }
        for (output, failed) in broken {
            if let Some(spec) = session.spec(output) {
                self.stop_output(output, spec, failed, None).await;
            }
        }
    }

    /// Outputs stopped by an error since the last call — on the read path, or found by
    /// the finalisation worker (announced here): the session must end or restart them
    /// ([`PushSession::fail_output`]).
    pub async fn take_failed(&mut self, session: &PushSession) -> Vec<OutputFailure> {
        let found = self
            .finalizer
            .as_mut()
            .map(Finalizer::failures)
            .unwrap_or_default();
        for f in found {
            // Stale: the output started anew (another recording) since.
            let current = session.spec(f.output).map(|s| s.recording_id.as_str());
            if current == Some(f.spec.recording_id.as_str()) {
                let failed = Failed {
                    message: f.message.clone(),
                    transient: f.transient,
                };
                let spec = f.spec.clone();
                self.stop_output(f.output, &spec, failed, f.lost_from).await;
            }
        }
        std::mem::take(&mut self.newly_failed)
    }

    async fn stop_output(
        &mut self,
        output: usize,
        spec: &OutputSpec,
        failed: Failed,
        lost_from: Option<String>,
    ) {
        let first = self.announced.insert(output);
        let (stream, format) = (self.stream.key(), spec.format.name());
        let what = if failed.transient {
            "paused: retrying as a new file"
        } else {
            "stopped"
        };
        if first {
            tracing::error!(%stream, format, error = %failed.message, "recording output {what}");
        } else {
            tracing::warn!(%stream, format, error = %failed.message, "recording output {what}");
        }
        self.newly_failed.push(OutputFailure {
            output,
            spec: spec.clone(),
            transient: failed.transient,
            lost_from,
            message: failed.message.clone(),
        });
        self.fail(output);
        self.app.metrics.output_failures.inc();
        if first {
            self.announce_exception(spec, Exception::storage(&failed.message))
                .await;
        }
    }

    async fn announce_exception(&self, spec: &OutputSpec, exception: Exception<'_>) {
        let format = spec.format.name();
        announce_exception(
            &self.app,
            &self.stream,
            &spec.recording_id,
            format,
            exception,
        )
        .await;
    }

    fn fail(&mut self, output: usize) {
        if let Some(open) = self.open.remove_output(output) {
            open.file.discard();
            remove_sidecar(&self.app, &format!("{}.json", open.scratch_name));
        }
    }

    fn sink(&mut self, f: FileRef) -> Result<&mut Sink, Failed> {
        self.open
            .get_mut(&f)
            .map(|o| &mut o.file)
            .ok_or_else(|| Failed {
                message: format!("file {f:?} is not open"),
                transient: false,
            })
    }

    fn file(&mut self, f: FileRef) -> Result<&mut ScratchFile, Failed> {
        match self.sink(f)? {
            Sink::Scratch(file) => Ok(file),
            Sink::Memory(_) => Err(Failed::permanent(format!(
                "file {f:?} is an HLS segment in memory"
            ))),
        }
    }

    fn append(&mut self, f: FileRef, bytes: bytes::Bytes) -> Result<(), Failed> {
        match self.sink(f)? {
            Sink::Scratch(file) => file.append_shared(bytes)?,
            Sink::Memory(segment) => segment.append(&bytes),
        }
        Ok(())
    }

    /// Creates the scratch file of `f` and its sidecar (an HLS recording has one sidecar
    /// for all its segments); returns the sidecar of an HLS recording just opened.
    fn open_file(
        &mut self,
        f: FileRef,
        spec: &OutputSpec,
        opening: Option<Opening>,
    ) -> Result<Option<Sidecar>, Failed> {
        let (media, segment) = opening.map_or((None, None), |o| (Some(o.media), o.segment));
        let (file_id, scratch_name) = file_names(f, spec, segment);
        let hls = spec.format == Format::Hls;
        let in_memory = hls.then(|| self.app.storage.segment_in_memory()).flatten();
        let file = match in_memory {
            Some(segment) => Sink::Memory(segment),
            None => {
                let path = self.app.storage.scratch_path(&scratch_name);
                let file = ScratchFile::create_gathered(path)
                    .map_err(|e| Failed::from(e).context(&format!("creating {scratch_name}")))?;
                Sink::Scratch(file)
            }
        };
        let sidecar_name = if hls {
            hls_sidecar_name(&spec.recording_id)
        } else {
            format!("{scratch_name}.json")
        };
        let mut opened = None;
        if !hls || !self.app.storage.scratch_path(&sidecar_name).exists() {
            let sidecar = Sidecar {
                stream: self.stream.clone(),
                spec: spec.clone(),
                file_id: file_id.clone(),
                scratch_name: if hls {
                    String::new()
                } else {
                    scratch_name.clone()
                },
                opened_ms: now_ms(),
                media: media.unwrap_or_default(),
                node: self.app.settings.node_id.clone(),
                committing: None,
            };
            if let Err(e) = write_sidecar(&self.app, &sidecar_name, &sidecar) {
                file.discard();
                return Err(Failed::from(e).context(&format!("writing {sidecar_name}")));
            }
            opened = hls.then_some(sidecar);
        }
        self.open.insert(
            f,
            OpenFile {
                file_id,
                scratch_name,
                file,
            },
        );
        Ok(opened)
    }

    async fn apply_one(
        &mut self,
        action: Action,
        spec: &OutputSpec,
        opening: Option<Opening>,
    ) -> Result<(), Failed> {
        match action {
            Action::Open(f) => {
                if let Some(sidecar) = self.open_file(f, spec, opening)? {
                    super::handover::opened(&self.app, &sidecar).await;
                }
            }
            Action::StoreInit(f, bytes) => {
                let job = Job::Init {
                    output: f.output,
                    spec: spec.clone(),
                    name: init_name(&spec.recording_id, f.seq),
                    first_segment: segment_name(&spec.recording_id, f.seq, true),
                    bytes,
                };
                if self.try_submit(job).is_err() {
                    return Err(Failed {
                        message: "the finalisation worker is gone".into(),
                        transient: true,
                    });
                }
            }
            Action::Append(f, bytes) => self.append(f, bytes)?,
            Action::Patch(f, offset, bytes) => self.file(f)?.patch(offset, &bytes)?,
            Action::RewriteHead(f, head, replace) => self.file(f)?.rewrite_head(&head, replace)?,
            Action::FinishMp4(f, finish) => self.file(f)?.finish_mp4(*finish)?,
            Action::Close(f, done) => self.close(f, done, spec)?,
            Action::Playlist(output, text) => {
                let spec = spec.clone();
                // A growing playlist left out (queue gone) is written again with the next.
                let _ = self.try_submit(Job::Playlist { output, spec, text });
            }
            Action::HlsFinished(_, hls) => self.finish_hls_later(*hls),
            Action::OutputEnded(_) => {}
            Action::Refused(_, track, why) => {
                let (stream, format) = (self.stream.key(), spec.format.name());
                tracing::warn!(%stream, format, why, "recording output refused the codec");
                let kind = match track {
                    crate::media::Track::Video => EXCEPTION_NO_VIDEO,
                    crate::media::Track::Audio => EXCEPTION_NO_AUDIO,
                };
                let exception = Exception {
                    kind,
                    level: "warning",
                    desc: &why,
                };
                self.announce_exception(spec, exception).await;
            }
        }
        Ok(())
    }

    /// Closes file `f` (its bytes flushed) and hands it to the worker; refused there
    /// (too many waiting), it is dropped as a transient failure.
    fn close(&mut self, f: FileRef, mut done: DoneFile, spec: &OutputSpec) -> Result<(), Failed> {
        let Some(open) = self.open.remove(&f) else {
            return Ok(());
        };
        let OpenFile {
            file_id,
            scratch_name,
            file,
        } = open;
        let (segment, scratch_path) = match file {
            Sink::Memory(segment) => {
                let bytes = segment.finish();
                done.bytes = bytes.len();
                (Some(bytes), None)
            }
            Sink::Scratch(file) => (
                None,
                Some(self.close_scratch(file, &scratch_name, &mut done)?),
            ),
        };
        let drop_it = |app: &DataPlane| {
            // Not storable: dropped rather than left behind (or to recovery).
            if let Some(path) = &scratch_path {
                let _ = std::fs::remove_file(path);
            }
            remove_sidecar(app, &format!("{scratch_name}.json"));
        };
        let (output, spec) = (f.output, spec.clone());
        let job = if spec.format == Format::Hls {
            Job::Segment {
                output,
                spec,
                name: scratch_name.clone(),
                bytes: segment,
            }
        } else {
            Job::File {
                output,
                spec,
                file_id,
                scratch_name: scratch_name.clone(),
                done,
            }
        };
        if self.try_submit(job).is_err() {
            drop_it(&self.app);
            return Err(Failed {
                message: "the finalisation queue is full (storage too slow)".into(),
                transient: true,
            });
        }
        self.announced.remove(&f.output);
        Ok(())
    }

    /// Closes scratch file `file` (its bytes flushed) and sets `done`'s size; returns
    /// its path.
    fn close_scratch(
        &self,
        file: ScratchFile,
        scratch_name: &str,
        done: &mut DoneFile,
    ) -> Result<std::path::PathBuf, Failed> {
        let scratch_path = file.path().to_owned();
        match file.close() {
            Ok(path) => {
                // FLV heads may have been rewritten: the file's size is the truth.
                done.bytes = std::fs::metadata(&path).map_or(done.bytes, |m| m.len());
                Ok(path)
            }
            Err(e) => {
                // Not storable: dropped rather than left behind (or to recovery).
                let _ = std::fs::remove_file(&scratch_path);
                remove_sidecar(&self.app, &format!("{scratch_name}.json"));
                Err(e.into())
            }
        }
    }

    /// The bytes of open file `f` from `offset` to its end (flushed first).
    pub fn read_from(&mut self, f: FileRef, offset: u64) -> std::io::Result<Vec<u8>> {
        use std::io::{Read, Seek, SeekFrom};
        let open = self
            .open
            .get_mut(&f)
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "file not open"))?;
        let Sink::Scratch(scratch) = &mut open.file else {
            return Err(std::io::Error::other("an HLS segment in memory"));
        };
        scratch.flush()?;
        let mut file = std::fs::File::open(scratch.path())?;
        file.seek(SeekFrom::Start(offset))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    /// Removes the scratch files still open (the push ended without closing them).
    pub fn abandon(&mut self) {
        for open in self.open.drain() {
            open.file.discard();
            remove_sidecar(&self.app, &format!("{}.json", open.scratch_name));
        }
    }
}
