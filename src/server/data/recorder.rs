//! Carries out a push session's [`Action`]s: scratch-file writes, commits to storage,
//! recordings-index rows and record callbacks (event 100).
//!
//! A storage error on one output (disk full, no file handle, permissions) stops that
//! output only; the push and the other outputs carry on. The file being written is
//! removed; an HLS recording keeps the segments it stored and is finalised at once
//! (ENDLIST, index row, callback) — or removed when even that fails, never left
//! growing. A recording-exception callback (341) announces the stop, once until the
//! output stores a file again. A transient error ([`crate::storage::is_transient`])
//! only pauses the output: the session starts it anew, as new files, after a back-off.

use std::collections::HashSet;
use std::sync::Arc;

use crate::storage::StorageError;

use super::stream::{hls_sidecar_name, PushStream, Sidecar};
use super::DataPlane;
use crate::config::callback::CallbackTemplate;
use crate::config::callback_event::{record_exception_event, record_file_event, RecordFile};
use crate::config::template::Format;
use crate::record::session::{
    extension, live_playlist_name, segment_name, Action, DoneFile, FileRef, MediaInfo, OutputSpec,
    ParkedHls, PushSession,
};
use crate::server::db::{Database, Recording};
use crate::server::notify::now_ms;
use crate::storage::scratch::{ScratchFile, SERVER_WRITE_BUFFER_BYTES};

fn write_sidecar(app: &DataPlane, name: &str, sidecar: &Sidecar) -> std::io::Result<()> {
    let text = serde_json::to_vec(sidecar).map_err(std::io::Error::other)?;
    std::fs::write(app.storage.scratch_path(name), text)
}

fn remove_sidecar(app: &DataPlane, name: &str) {
    let _ = std::fs::remove_file(app.storage.scratch_path(name));
}

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
    file: ScratchFile,
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
    /// Files committed, by format (for logs and tests).
    pub committed: u64,
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
    /// Storing the last HLS segment failed: the playlist must not list it.
    pub lost_segment: bool,
}

/// Why an action failed, and whether trying again later may work.
#[derive(Debug)]
pub struct Failed {
    message: String,
    transient: bool,
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
    fn permanent(message: String) -> Self {
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

fn action_output(action: &Action) -> usize {
    match action {
        Action::Open(f) | Action::Append(f, _) | Action::Patch(f, ..) => f.output,
        Action::RewriteHead(f, ..) | Action::FinishMp4(f, ..) | Action::Close(f, _) => f.output,
        Action::Playlist(o, _) | Action::HlsFinished(o, ..) | Action::OutputEnded(o) => *o,
    }
}

/// Open files are flushed to the OS at least this often, which bounds what a crash of
/// the process loses (the page cache survives it; a power loss is the file system's
/// business).
pub const FLUSH_INTERVAL_MS: i64 = 500;

impl Recorder {
    /// A recorder for `stream`.
    pub fn new(app: Arc<DataPlane>, stream: PushStream) -> Self {
        Self {
            app,
            stream,
            open: OpenFiles::default(),
            newly_failed: Vec::new(),
            announced: HashSet::new(),
            last_flush_ms: now_ms(),
            committed: 0,
        }
    }

    /// Applies actions in order; `session` maps an output index to its spec. An output
    /// that fails skips the rest of its actions here; [`Self::take_failed`] reports it.
    pub async fn apply(&mut self, actions: impl Iterator<Item = Action>, session: &PushSession) {
        // Outputs stopped in this batch, and whether their last HLS segment was lost.
        let mut stopped: Vec<(usize, bool)> = Vec::new();
        for action in actions {
            let output = action_output(&action);
            let Some(spec) = session.spec(output) else {
                continue;
            };
            if let Some(&(_, lost)) = stopped.iter().find(|(o, _)| *o == output) {
                if let Action::HlsFinished(_, mut hls) = action {
                    // The output ended right after storage failed under it: what it
                    // stored is finalised all the same.
                    if lost {
                        hls.drop_last();
                    }
                    match hls.segments() {
                        0 => self.remove_hls(spec, &[]).await,
                        _ => self.finalise_or_remove(*hls).await,
                    }
                }
                continue;
            }
            let close = matches!(action, Action::Close(..));
            let media = matches!(action, Action::Open(_)).then(|| session.media());
            match self.apply_one(action, spec, media).await {
                Ok(()) if close => {
                    self.announced.remove(&output);
                }
                Ok(()) => {}
                Err(failed) => {
                    let lost_segment = close && spec.format == Format::Hls;
                    stopped.push((output, lost_segment));
                    self.stop_output(output, spec, failed, lost_segment).await;
                }
            }
        }
        let now = now_ms();
        if now - self.last_flush_ms >= FLUSH_INTERVAL_MS {
            self.last_flush_ms = now;
            let mut broken = Vec::new();
            for (f, open) in self.open.iter_mut() {
                if let Err(e) = open.file.flush() {
                    broken.push((f.output, Failed::from(e).context("flushing")));
                }
            }
            for (output, failed) in broken {
                if let Some(spec) = session.spec(output) {
                    self.stop_output(output, spec, failed, false).await;
                }
            }
        }
    }

    /// Outputs stopped by an error since the last call: the session must end or restart
    /// them ([`PushSession::fail_output`]), then [`Self::end_failed_hls`] deals with the
    /// HLS recording it returns.
    pub fn take_failed(&mut self) -> Vec<OutputFailure> {
        std::mem::take(&mut self.newly_failed)
    }

    async fn stop_output(
        &mut self,
        output: usize,
        spec: &OutputSpec,
        failed: Failed,
        lost_segment: bool,
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
            lost_segment,
        });
        self.fail(output);
        self.app.metrics.output_failures.inc();
        if first {
            self.announce_exception(spec, &failed.message).await;
        }
    }

    /// Finalises an HLS recording storage stopped with the segments it stored — or,
    /// when that fails too, removes it: never left growing.
    pub async fn finalise_or_remove(&self, hls: ParkedHls) {
        let (done, text) = hls.finalize();
        if let Err(e) = finish_hls(&self.app, &self.stream, &hls.spec, &done, text).await {
            tracing::error!(stream = %self.stream.key(), error = %e,
                "finalising a stopped HLS recording failed; removing it");
            let segments: Vec<&str> = hls.segment_names().collect();
            self.remove_hls(&hls.spec, &segments).await;
        }
    }

    /// Removes an HLS recording: the named segments, its growing playlist, its sidecar.
    pub async fn remove_hls(&self, spec: &OutputSpec, segments: &[&str]) {
        let dir = self.stream.dir();
        let live = format!("{dir}/{}", live_playlist_name(&spec.recording_id));
        self.app.live.clear_live_playlist(&self.stream, &live);
        for key in segments
            .iter()
            .map(|name| format!("{dir}/{name}"))
            .chain([live])
        {
            if let Err(e) = self.app.storage.delete(&key).await {
                tracing::warn!(file = %key, error = %e, "removing a stopped HLS recording");
            }
        }
        remove_sidecar(&self.app, &hls_sidecar_name(&spec.recording_id));
    }

    async fn announce_exception(&self, spec: &OutputSpec, message: &str) {
        let format = spec.format.name();
        announce_exception(&self.app, &self.stream, &spec.recording_id, format, message).await;
    }

    fn fail(&mut self, output: usize) {
        if let Some(open) = self.open.remove_output(output) {
            let _ = std::fs::remove_file(open.file.path());
            remove_sidecar(&self.app, &format!("{}.json", open.scratch_name));
        }
    }

    fn file(&mut self, f: FileRef) -> Result<&mut ScratchFile, Failed> {
        self.open
            .get_mut(&f)
            .map(|o| &mut o.file)
            .ok_or_else(|| Failed {
                message: format!("file {f:?} is not open"),
                transient: false,
            })
    }

    /// Creates the scratch file of `f` and its sidecar (an HLS recording has one sidecar
    /// for all its segments).
    fn open_file(
        &mut self,
        f: FileRef,
        spec: &OutputSpec,
        media: Option<MediaInfo>,
    ) -> Result<(), Failed> {
        let (file_id, scratch_name) = if spec.format == Format::Hls {
            let name = segment_name(&spec.recording_id, f.seq);
            (spec.recording_id.clone(), name)
        } else {
            let id = uuid::Uuid::new_v4().simple().to_string();
            let name = format!("{id}.{}", extension(spec.format));
            (id, name)
        };
        let path = self.app.storage.scratch_path(&scratch_name);
        let file = ScratchFile::create(path, SERVER_WRITE_BUFFER_BYTES)
            .map_err(|e| Failed::from(e).context(&format!("creating {scratch_name}")))?;
        let hls = spec.format == Format::Hls;
        let sidecar_name = if hls {
            hls_sidecar_name(&spec.recording_id)
        } else {
            format!("{scratch_name}.json")
        };
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
            };
            if let Err(e) = write_sidecar(&self.app, &sidecar_name, &sidecar) {
                let _ = std::fs::remove_file(file.path());
                return Err(Failed::from(e).context(&format!("writing {sidecar_name}")));
            }
        }
        self.open.insert(
            f,
            OpenFile {
                file_id,
                scratch_name,
                file,
            },
        );
        Ok(())
    }

    async fn apply_one(
        &mut self,
        action: Action,
        spec: &OutputSpec,
        media: Option<MediaInfo>,
    ) -> Result<(), Failed> {
        match action {
            Action::Open(f) => self.open_file(f, spec, media)?,
            Action::Append(f, bytes) => self.file(f)?.append(&bytes)?,
            Action::Patch(f, offset, bytes) => self.file(f)?.patch(offset, &bytes)?,
            Action::RewriteHead(f, head, replace) => self.file(f)?.rewrite_head(&head, replace)?,
            Action::FinishMp4(f, finish) => self.file(f)?.finish_mp4(*finish)?,
            Action::Close(f, done) => self.close(f, &done, spec).await?,
            Action::Playlist(_, text) => {
                let path = format!(
                    "{}/{}",
                    self.stream.dir(),
                    live_playlist_name(&spec.recording_id)
                );
                self.app.storage.put(&path, text.into_bytes()).await?;
                self.app.live.set_live_playlist(&self.stream, &path);
            }
            Action::HlsFinished(_, hls) => {
                let (done, text) = hls.finalize();
                if let Err(e) = finish_hls(&self.app, &self.stream, spec, &done, text).await {
                    let segments: Vec<&str> = hls.segment_names().collect();
                    self.remove_hls(spec, &segments).await;
                    return Err(Failed::permanent(e));
                }
            }
            Action::OutputEnded(_) => {}
        }
        Ok(())
    }

    async fn close(
        &mut self,
        f: FileRef,
        done: &DoneFile,
        spec: &OutputSpec,
    ) -> Result<(), Failed> {
        let Some(open) = self.open.remove(&f) else {
            return Ok(());
        };
        let OpenFile {
            file_id,
            scratch_name,
            file,
        } = open;
        let scratch_path = file.path().to_owned();
        let path = match file.close() {
            Ok(path) => path,
            Err(e) => {
                // Not storable: drop it rather than leave it behind (or to recovery).
                let _ = std::fs::remove_file(&scratch_path);
                remove_sidecar(&self.app, &format!("{scratch_name}.json"));
                return Err(e.into());
            }
        };
        // FLV heads may have been rewritten: the file's size is the truth.
        let mut done = done.clone();
        done.bytes = std::fs::metadata(&path).map_or(done.bytes, |m| m.len());
        let dir = self.stream.dir();
        let storage = &self.app.storage;
        let committed = if spec.format == Format::Hls {
            storage.commit_exact(&scratch_name, &dir, &done.name).await
        } else {
            storage.commit(&scratch_name, &dir, &done.name).await
        };
        let key = match committed {
            Ok(key) => key,
            Err(e) => {
                // The file cannot be stored: drop it rather than leave it to recovery.
                let _ = std::fs::remove_file(&path);
                remove_sidecar(&self.app, &format!("{scratch_name}.json"));
                return Err(e.into());
            }
        };
        self.committed += 1;
        if spec.format == Format::Hls {
            return Ok(());
        }
        index_and_announce(&self.app, &self.stream, spec, &file_id, &key, &done)
            .await
            .map_err(Failed::permanent)?;
        remove_sidecar(&self.app, &format!("{scratch_name}.json"));
        Ok(())
    }

    /// The bytes of open file `f` from `offset` to its end (flushed first).
    pub fn read_from(&mut self, f: FileRef, offset: u64) -> std::io::Result<Vec<u8>> {
        use std::io::{Read, Seek, SeekFrom};
        let open = self
            .open
            .get_mut(&f)
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "file not open"))?;
        open.file.flush()?;
        let mut file = std::fs::File::open(open.file.path())?;
        file.seek(SeekFrom::Start(offset))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    /// Removes the scratch files still open (the push ended without closing them).
    pub fn abandon(&mut self) {
        for open in self.open.drain() {
            let _ = std::fs::remove_file(open.file.path());
            remove_sidecar(&self.app, &format!("{}.json", open.scratch_name));
        }
    }
}

/// The callback template bound to `stream`'s domain and app, if any.
pub async fn callback_template(app: &DataPlane, stream: &PushStream) -> Option<CallbackTemplate> {
    let control = app.config.read().await;
    control
        .callbacks
        .template_for(&stream.domain, &stream.app)
        .cloned()
}

/// Queues a recording-exception callback (event 341) for `stream` where its callback
/// template asks for them; `session_id` names the recording (or the refused push).
pub async fn announce_exception(
    app: &DataPlane,
    stream: &PushStream,
    session_id: &str,
    format: &str,
    message: &str,
) {
    let template = callback_template(app, stream).await;
    let Some(template) = template.filter(|t| !t.record_exception_notify_url.is_empty()) else {
        return;
    };
    let event_id = format!("exc-{}", uuid::Uuid::new_v4().simple());
    let body = record_exception_event(
        &event_id,
        &stream.as_ref(),
        session_id,
        format,
        now_ms(),
        message,
    );
    let url = &template.record_exception_notify_url;
    if let Err(e) = app
        .notifier
        .enqueue(url, &template.callback_key, &body)
        .await
    {
        tracing::warn!(error = %e, "queueing an exception callback");
    }
}

/// Stores a finished HLS recording's final playlist, removes the growing one, indexes
/// and announces it.
pub async fn finish_hls(
    app: &Arc<DataPlane>,
    stream: &PushStream,
    spec: &OutputSpec,
    done: &DoneFile,
    text: String,
) -> Result<(), String> {
    let dir = stream.dir();
    let key = format!("{dir}/{}", done.name);
    let key = if app.storage.size(&key).await.is_ok() {
        format!(
            "{dir}/{}_{}.m3u8",
            done.name.trim_end_matches(".m3u8"),
            spec.recording_id
        )
    } else {
        key
    };
    app.storage
        .put(&key, text.into_bytes())
        .await
        .map_err(|e| e.to_string())?;
    if let Err(e) = index_and_announce(app, stream, spec, &spec.recording_id, &key, done).await {
        // Not indexed, not final: the growing playlist and the sidecar stay for recovery.
        let _ = app.storage.delete(&key).await;
        return Err(e);
    }
    let live = format!("{dir}/{}", live_playlist_name(&spec.recording_id));
    app.live.clear_live_playlist(stream, &live);
    if let Err(e) = app.storage.delete(&live).await {
        tracing::warn!(error = %e, "removing the growing playlist");
    }
    remove_sidecar(app, &hls_sidecar_name(&spec.recording_id));
    Ok(())
}

/// Finalises a parked HLS recording whose splice timeout passed.
pub async fn finish_parked(app: &Arc<DataPlane>, stream: &PushStream, parked: &ParkedHls) {
    let (done, text) = parked.finalize();
    if let Err(e) = finish_hls(app, stream, &parked.spec, &done, text).await {
        tracing::error!(stream = %stream.key(), error = %e, "finalising an HLS recording");
    }
}

/// Attempts at an index row before the file counts as failed (a busy or briefly
/// unwritable database), with [`INDEX_RETRY_MS`] doubling between them.
pub const INDEX_ATTEMPTS: u32 = 4;
/// First wait before retrying an index row, ms.
pub const INDEX_RETRY_MS: u64 = 100;

async fn insert_with_retries(db: &dyn Database, row: &Recording) -> Result<(), String> {
    let mut wait = INDEX_RETRY_MS;
    for attempt in 1..=INDEX_ATTEMPTS {
        match db.insert(row).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt == INDEX_ATTEMPTS => {
                return Err(format!("indexing {}: {e}", row.storage_path))
            }
            Err(e) => {
                tracing::warn!(file = %row.storage_path, error = %e, attempt, "indexing; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
                wait *= 2;
            }
        }
    }
    Ok(())
}

/// Adds the index row of a final file and queues its record callback.
pub async fn index_and_announce(
    app: &Arc<DataPlane>,
    stream: &PushStream,
    spec: &OutputSpec,
    file_id: &str,
    key: &str,
    done: &DoneFile,
) -> Result<(), String> {
    let now = now_ms();
    let url = crate::server::urls::vod_url(&app.public_url(), key);
    let format = spec.format.name();
    let row = Recording {
        file_id: file_id.to_owned(),
        domain_name: stream.domain.clone(),
        app_name: stream.app.clone(),
        stream_name: stream.stream.clone(),
        format: format.to_owned(),
        start_ms: done.start_wall_ms,
        end_ms: done.end_wall_ms,
        duration_ms: done.duration_ms,
        size_bytes: done.bytes as i64,
        video_codec: done.media.video_codec.clone(),
        audio_codec: done.media.audio_codec.clone(),
        width: done.media.dimensions.map(|d| i64::from(d.0)),
        height: done.media.dimensions.map(|d| i64::from(d.1)),
        task_id: spec.task_id.clone(),
        template_id: spec.template_id,
        storage_path: key.to_owned(),
        url: url.clone(),
        created_ms: now,
        expires_ms: (spec.storage_time_s > 0).then(|| now + spec.storage_time_s * 1000),
    };
    insert_with_retries(app.db.as_ref(), &row).await?;
    app.metrics
        .files
        .get_or_create(&crate::server::metrics::FormatLabels {
            format: format.to_owned(),
        })
        .inc();
    tracing::info!(stream = %stream.key(), format, file = %key, bytes = done.bytes,
        duration_ms = done.duration_ms, "recording file ready");
    announce_file(app, stream, spec, file_id, &url, done).await;
    Ok(())
}

/// Queues the record callback (event 100) of an indexed file where one is configured.
async fn announce_file(
    app: &DataPlane,
    stream: &PushStream,
    spec: &OutputSpec,
    file_id: &str,
    url: &str,
    done: &DoneFile,
) {
    let format = spec.format.name();
    let template = callback_template(app, stream).await;
    let Some(template) = template.filter(|t| !t.record_notify_url.is_empty()) else {
        return;
    };
    let resolution = done.media.resolution();
    let file = RecordFile {
        file_id,
        format,
        task_id: &spec.task_id,
        template_id: spec.task_id.is_empty().then_some(spec.template_id),
        start_ms: done.start_wall_ms,
        end_ms: done.end_wall_ms,
        duration_ms: done.duration_ms,
        size: done.bytes,
        url,
        media_start_ms: done.media_start_ms,
        video_codec: done.media.video_codec.as_deref(),
        audio_codec: done.media.audio_codec.as_deref(),
        resolution: &resolution,
    };
    let event_id = format!("rec-{file_id}");
    let body = record_file_event(&event_id, &stream.as_ref(), &file);
    if let Err(e) = app
        .notifier
        .enqueue(&template.record_notify_url, &template.callback_key, &body)
        .await
    {
        // The file is stored and indexed; a lost notification must not stop the output.
        tracing::error!(file = %url, error = %e, "queueing a record callback");
    }
}
