//! The finalisation worker of a push: a final file goes from the push's read path to
//! this worker, which stores it, indexes it and announces it — commit → index row →
//! callback, in that order, each step retried on transient errors — so a slow store
//! never stalls the push's reads. HLS segments, the growing playlist and the final
//! playlist go the same way, in the order the session made them.
//!
//! The queue is bounded by the number of files and segments waiting
//! ([`MAX_PENDING_FILES`]): past it a final file is refused and its output pauses like
//! one whose storage failed (a transient error: it starts anew later). Playlists and
//! the end of a recording are always accepted. When a commit fails for good, the
//! worker reports it to the push ([`Finalizer::failures`]) and drops what depended on
//! it: later segments of that HLS recording, which the final playlist then leaves out.
//! At the end of the push [`Finalizer::drain`] waits for the queue to empty; a server
//! that stops drains every push's queue before it exits.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::publish::{
    finalise_or_remove, forget_final, index_and_announce, remove_hls, remove_sidecar, store_final,
};
use super::recorder::{Failed, OutputFailure};
use super::stream::{PushStream, Sidecar};
use super::DataPlane;
use crate::record::session::{live_playlist_name, DoneFile, OutputSpec, ParkedHls};
use crate::storage::memory::SegmentBytes;
use crate::storage::Grown;

/// Files and segments waiting for the worker, per push, before more are refused.
pub const MAX_PENDING_FILES: usize = 64;
/// Attempts at a storage step that fails with a transient error.
pub const STEP_ATTEMPTS: u32 = 3;
/// First wait between attempts (doubling).
pub const STEP_RETRY: Duration = Duration::from_millis(500);

/// What the worker does.
#[derive(Debug)]
pub enum Job {
    /// A closed FLV/MP4/AAC file: commit, index row, callback; then its sidecar goes.
    File {
        /// Output index.
        output: usize,
        /// Its spec.
        spec: OutputSpec,
        /// Its file id.
        file_id: String,
        /// Its scratch name.
        scratch_name: String,
        /// Its facts (the name to store it under).
        done: DoneFile,
    },
    /// A closed HLS segment: committed under its own name.
    Segment {
        /// Output index.
        output: usize,
        /// Its spec.
        spec: OutputSpec,
        /// Its scratch name, which is its name.
        name: String,
        /// Its bytes, when it was written in memory rather than to scratch space.
        bytes: Option<SegmentBytes>,
    },
    /// An fMP4 initialization section of an HLS recording, stored before the segments
    /// that use it.
    Init {
        /// Output index.
        output: usize,
        /// Its spec.
        spec: OutputSpec,
        /// Its name.
        name: String,
        /// The first segment that uses it (lost with it when it cannot be stored).
        first_segment: String,
        /// Its bytes.
        bytes: bytes::Bytes,
    },
    /// The growing playlist of an HLS recording.
    Playlist {
        /// Output index.
        output: usize,
        /// Its spec.
        spec: OutputSpec,
        /// The EVENT playlist.
        text: String,
    },
    /// An HLS recording is over (its output ended, or storage stopped it): finalised
    /// with the segments stored, or removed.
    Hls(Box<ParkedHls>),
    /// An HLS recording that stored no segment: its growing playlist and sidecar go.
    Discard(OutputSpec),
}

/// The push's side of its worker.
pub struct Finalizer {
    jobs: mpsc::UnboundedSender<Job>,
    pending: Arc<AtomicUsize>,
    failures: mpsc::UnboundedReceiver<OutputFailure>,
    worker: tokio::task::JoinHandle<u64>,
}

impl Finalizer {
    /// Starts the worker of `stream`'s push.
    pub fn start(app: Arc<DataPlane>, stream: PushStream) -> Self {
        let (jobs, rx) = mpsc::unbounded_channel();
        let (report, failures) = mpsc::unbounded_channel();
        let pending = Arc::new(AtomicUsize::new(0));
        let worker = Worker {
            app,
            stream,
            report,
            pending: Arc::clone(&pending),
            lost: HashMap::new(),
            grown: HashMap::new(),
            committed: 0,
        };
        Self {
            jobs,
            pending,
            failures,
            worker: tokio::spawn(worker.run(rx)),
        }
    }

    /// Hands a job over; a file or segment is refused (given back) when
    /// [`MAX_PENDING_FILES`] wait already.
    pub fn submit(&self, job: Job) -> Result<(), Box<Job>> {
        let file = matches!(job, Job::File { .. } | Job::Segment { .. });
        if file && self.pending.fetch_add(1, Ordering::AcqRel) >= MAX_PENDING_FILES {
            self.pending.fetch_sub(1, Ordering::AcqRel);
            return Err(Box::new(job));
        }
        self.jobs.send(job).map_err(|e| Box::new(e.0))
    }

    /// Failures the worker reported since the last call.
    pub fn failures(&mut self) -> Vec<OutputFailure> {
        let mut found = Vec::new();
        while let Ok(f) = self.failures.try_recv() {
            found.push(f);
        }
        found
    }

    /// Waits for every job to be done; the files committed and the failures not yet
    /// taken.
    pub async fn drain(mut self) -> (u64, Vec<OutputFailure>) {
        drop(self.jobs);
        let committed = self.worker.await.unwrap_or(0);
        let mut found = Vec::new();
        while let Some(f) = self.failures.recv().await {
            found.push(f);
        }
        (committed, found)
    }
}

struct Worker {
    app: Arc<DataPlane>,
    stream: PushStream,
    report: mpsc::UnboundedSender<OutputFailure>,
    pending: Arc<AtomicUsize>,
    /// HLS recordings storage failed under, and the first segment they lost ("" when
    /// none was: a playlist write failed).
    lost: HashMap<String, String>,
    /// What was written last to each growing playlist (by recording id).
    grown: HashMap<String, Grown>,
    committed: u64,
}

/// Runs a storage step, retrying transient failures.
/// Waits between attempts at a storage step: [`STEP_RETRY`], doubling, at most
/// [`STEP_ATTEMPTS`] attempts, transient errors only.
struct Backoff {
    wait: Duration,
    attempt: u32,
}

impl Backoff {
    fn new() -> Self {
        Self {
            wait: STEP_RETRY,
            attempt: 1,
        }
    }

    /// Whether to try again after `e` (having waited).
    async fn again(&mut self, e: &Failed) -> bool {
        if !e.transient || self.attempt >= STEP_ATTEMPTS {
            return false;
        }
        tokio::time::sleep(self.wait).await;
        self.wait *= 2;
        self.attempt += 1;
        true
    }
}

async fn with_retries<T, F, Fut>(mut step: F) -> Result<T, Failed>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Failed>>,
{
    let mut backoff = Backoff::new();
    loop {
        match step().await {
            Err(e) if backoff.again(&e).await => {}
            other => return other,
        }
    }
}

impl Worker {
    async fn run(mut self, mut jobs: mpsc::UnboundedReceiver<Job>) -> u64 {
        while let Some(job) = jobs.recv().await {
            let file = matches!(job, Job::File { .. } | Job::Segment { .. });
            self.process(job).await;
            if file {
                self.pending.fetch_sub(1, Ordering::AcqRel);
            }
        }
        self.committed
    }

    async fn process(&mut self, job: Job) {
        match job {
            Job::File {
                output,
                spec,
                file_id,
                scratch_name,
                done,
            } => {
                self.file(output, spec, &file_id, &scratch_name, &done)
                    .await
            }
            Job::Segment {
                output,
                spec,
                name,
                bytes,
            } => self.segment(output, spec, &name, bytes).await,
            Job::Init {
                output,
                spec,
                name,
                first_segment,
                bytes,
            } => self.init(output, spec, &name, first_segment, bytes).await,
            Job::Playlist { output, spec, text } => self.playlist(output, spec, text).await,
            Job::Hls(mut hls) => {
                self.grown.remove(&hls.spec.recording_id);
                if let Some(name) = self.lost.remove(&hls.spec.recording_id) {
                    hls.drop_from(&name);
                }
                finalise_or_remove(&self.app, &self.stream, *hls).await;
            }
            Job::Discard(spec) => {
                self.lost.remove(&spec.recording_id);
                self.grown.remove(&spec.recording_id);
                remove_hls(&self.app, &self.stream, &spec, &[]).await;
            }
        }
    }

    fn failed(
        &mut self,
        output: usize,
        spec: OutputSpec,
        failed: Failed,
        lost_from: Option<String>,
    ) {
        tracing::error!(stream = %self.stream.key(), format = spec.format.name(), error = %failed.message,
            "storing a final file failed");
        let _ = self.report.send(OutputFailure {
            output,
            spec,
            transient: failed.transient,
            lost_from,
            message: failed.message,
        });
    }

    async fn file(
        &mut self,
        output: usize,
        spec: OutputSpec,
        file_id: &str,
        scratch: &str,
        done: &DoneFile,
    ) {
        let app = &self.app;
        let mut sidecar = Sidecar {
            stream: self.stream.clone(),
            spec: spec.clone(),
            file_id: file_id.to_owned(),
            scratch_name: scratch.to_owned(),
            opened_ms: done.start_wall_ms,
            media: done.media.clone(),
            node: app.settings.node_id.clone(),
            committing: None,
        };
        let mut backoff = Backoff::new();
        let stored = loop {
            match store_final(app, &mut sidecar, done)
                .await
                .map_err(Failed::from)
            {
                Err(e) if backoff.again(&e).await => {}
                other => break other,
            }
        };
        let key = match stored {
            Ok(key) => key,
            Err(e) => {
                // The file cannot be stored: dropped rather than left to recovery.
                remove_sidecar(app, scratch);
                remove_sidecar(app, &format!("{scratch}.json"));
                return self.failed(output, spec, e, None);
            }
        };
        self.committed += 1;
        if let Err(e) = index_and_announce(app, &self.stream, &spec, file_id, &key, done).await {
            // Stored, not indexed: the scratch copy and its sidecar stay for recovery to
            // index when the node restarts.
            return self.failed(output, spec, Failed::permanent(e.to_string()), None);
        }
        forget_final(app, scratch);
    }

    async fn segment(
        &mut self,
        output: usize,
        spec: OutputSpec,
        name: &str,
        bytes: Option<SegmentBytes>,
    ) {
        let app = &self.app;
        if self.lost.contains_key(&spec.recording_id) {
            remove_sidecar(app, name); // after a lost one: never listed
            return;
        }
        let dir = self.stream.dir();
        let committed = with_retries(|| async {
            match &bytes {
                Some(bytes) => app.storage.commit_bytes(bytes, &dir, name).await,
                None => app.storage.commit_exact(name, &dir, name).await,
            }
            .map_err(Failed::from)
        })
        .await;
        match committed {
            Ok(_) => self.committed += 1,
            Err(e) => {
                remove_sidecar(app, name);
                self.lost.insert(spec.recording_id.clone(), name.to_owned());
                self.failed(output, spec, e, Some(name.to_owned()));
            }
        }
    }

    async fn init(
        &mut self,
        output: usize,
        spec: OutputSpec,
        name: &str,
        first_segment: String,
        bytes: bytes::Bytes,
    ) {
        if self.lost.contains_key(&spec.recording_id) {
            return;
        }
        let path = format!("{}/{name}", self.stream.dir());
        let app = &self.app;
        let put = with_retries(|| async {
            app.storage
                .put(&path, bytes.to_vec())
                .await
                .map_err(Failed::from)
        })
        .await;
        if let Err(e) = put {
            self.lost
                .insert(spec.recording_id.clone(), first_segment.clone());
            self.failed(output, spec, e, Some(first_segment));
        }
    }

    async fn playlist(&mut self, output: usize, spec: OutputSpec, text: String) {
        if self.lost.contains_key(&spec.recording_id) {
            return;
        }
        let path = format!(
            "{}/{}",
            self.stream.dir(),
            live_playlist_name(&spec.recording_id)
        );
        let app = &self.app;
        let before = self.grown.get(&spec.recording_id).copied();
        let put = with_retries(|| async {
            app.storage
                .put_growing(&path, &text, before)
                .await
                .map_err(Failed::from)
        })
        .await;
        match put {
            Ok(grown) => {
                self.grown.insert(spec.recording_id.clone(), grown);
                app.live.set_live_playlist(&self.stream, &path);
            }
            Err(e) => {
                self.lost.insert(spec.recording_id.clone(), String::new());
                self.failed(output, spec, e, None);
            }
        }
    }
}
