//! A data plane without sockets: SQLite in a temporary directory, recordings in an
//! in-memory store that logs what is done to it in order (the model: gst-plugins-rs
//! hlssink3's tests), and FLV tags of a small H.264 + AAC stream.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, UploadPart,
};
use serde_json::{json, Value};

use crate::formats::flv::demux::{FlvTag, TagKind};
use crate::formats::flv::ingest::FlvIngest;
use crate::media::Input;
use crate::server::configuration::Configuration;
use crate::server::data::admission::{Admission, Slot};
use crate::server::data::live::Live;
use crate::server::data::space::SpaceGuard;
use crate::server::data::DataPlane;
use crate::server::db::{Change, Database, SqliteDb, PENDING_ID};
use crate::server::limits::Budget;
use crate::server::metrics::Metrics;
use crate::server::notify::Notifier;
use crate::server::settings::Settings;
use crate::storage::Storage;

/// What was done to the store, in order: `put KEY` (a whole object or a completed
/// upload), `delete KEY`, `copy FROM TO`.
pub type Events = Arc<Mutex<Vec<String>>>;

/// An in-memory store that logs its effects.
#[derive(Debug, Default)]
pub struct EventStore {
    inner: InMemory,
    events: Events,
}

impl fmt::Display for EventStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventStore")
    }
}

fn log(events: &Events, what: String) {
    events.lock().unwrap().push(what);
}

#[derive(Debug)]
struct LoggedUpload {
    inner: Box<dyn MultipartUpload>,
    location: Path,
    events: Events,
}

#[async_trait]
impl MultipartUpload for LoggedUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        self.inner.put_part(data)
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        let done = self.inner.complete().await?;
        log(&self.events, format!("put {}", self.location));
        Ok(done)
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.inner.abort().await
    }
}

#[async_trait]
impl ObjectStore for EventStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let done = self.inner.put_opts(location, payload, opts).await?;
        log(&self.events, format!("put {location}"));
        Ok(done)
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let inner = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(LoggedUpload {
            inner,
            location: location.clone(),
            events: Arc::clone(&self.events),
        }))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        let events = Arc::clone(&self.events);
        self.inner
            .delete_stream(locations)
            .map(move |done| {
                if let Ok(path) = &done {
                    log(&events, format!("delete {path}"));
                }
                done
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await?;
        log(&self.events, format!("copy {from} {to}"));
        Ok(())
    }
}

/// A data plane over an [`EventStore`], and what tests look at.
pub struct Plane {
    /// The plane.
    pub app: Arc<DataPlane>,
    /// The store's log.
    pub events: Events,
    /// The store.
    pub store: Arc<EventStore>,
    dir: PathBuf,
}

impl Drop for Plane {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fresh plane in a directory of its own; files cut every `interval_s` seconds; file
/// handles as under an open-file limit of `file_limit`.
pub async fn plane(name: &str, interval_s: u64, file_limit: u64) -> Plane {
    plane_with(name, interval_s, file_limit, 0).await
}

/// [`plane`], holding up to `segment_memory` bytes of HLS segments in memory.
pub async fn plane_with(
    name: &str,
    interval_s: u64,
    file_limit: u64,
    segment_memory: u64,
) -> Plane {
    let dir = std::env::temp_dir().join(format!("liverec-seam-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut settings = Settings::load(dir.clone(), loopback, loopback, None, &|_| None).unwrap();
    settings.file.testing.record_interval_seconds = Some(interval_s);
    let sqlite = SqliteDb::open(&dir).await.unwrap();
    let db: Arc<dyn Database> = Arc::new(sqlite.clone());
    let config = Arc::new(Configuration::load(Arc::new(sqlite)).await.unwrap());
    let store = Arc::new(EventStore::default());
    let events = Arc::clone(&store.events);
    let storage = Storage::new(
        Arc::clone(&store) as Arc<dyn ObjectStore>,
        None,
        dir.join("scratch"),
    )
    .unwrap()
    .with_segment_memory(segment_memory);
    let app = Arc::new(DataPlane {
        notifier: Notifier::new(Arc::clone(&db), settings.file.callbacks.clone()),
        settings,
        db,
        config,
        metrics: Arc::new(Metrics::default()),
        storage,
        live: Arc::new(Live::default()),
        admission: Arc::new(Admission::new(Budget::of(file_limit), 100, 100)),
        space: Arc::new(SpaceGuard::default()),
    });
    Plane {
        app,
        events,
        store,
        dir,
    }
}

impl Plane {
    /// Creates a recording template from API `params` and binds it to `d.example/live`.
    pub async fn record(&self, params: Value) -> i64 {
        let (_, applied) = self
            .app
            .config
            .mutate(|state| {
                let t = state.config.create_template(PENDING_ID, &params)?.clone();
                Ok::<_, crate::config::problem::ConfigError>((
                    (),
                    vec![Change::NewRecordTemplate(Box::new(t))],
                ))
            })
            .await
            .map_err(|_| "template")
            .unwrap();
        let id = applied.ids[0];
        let rule = json!({"DomainName": "d.example", "AppName": "live", "TemplateId": id});
        self.change(move |state| {
            let rule = state.config.create_rule(&rule, 0)?.clone();
            Ok(vec![Change::PutRecordRule(rule)])
        })
        .await;
        id
    }

    /// Creates a record task from API `params`.
    pub async fn task(&self, id: &str, params: Value) {
        let id = id.to_owned();
        let now = crate::server::notify::now_ms() / 1000;
        self.change(move |state| {
            let task = state.config.create_task(&id, &params, now)?.clone();
            Ok(vec![Change::PutTask(task)])
        })
        .await;
    }

    /// Sends every callback of `d.example` to `url`.
    pub async fn callbacks(&self, url: &str) {
        let params = json!({"TemplateName": "cb", "RecordNotifyUrl": url, "StreamBeginNotifyUrl": url, "StreamEndNotifyUrl": url});
        let (_, applied) = self
            .app
            .config
            .mutate(|state| {
                let t = state
                    .callbacks
                    .create_template(PENDING_ID, &params)?
                    .clone();
                Ok::<_, crate::config::problem::ConfigError>((
                    (),
                    vec![Change::NewCallbackTemplate(Box::new(t))],
                ))
            })
            .await
            .map_err(|_| "callback template")
            .unwrap();
        let rule =
            json!({"DomainName": "d.example", "AppName": "live", "TemplateId": applied.ids[0]});
        self.change(move |state| {
            let rule = state
                .callbacks
                .create_rule(&rule, "2026-11-30 00:00:00")?
                .clone();
            Ok(vec![Change::PutCallbackRule(rule)])
        })
        .await;
    }

    /// Applies a configuration change.
    pub async fn change(
        &self,
        mut f: impl FnMut(
            &mut crate::server::db::ControlState,
        ) -> Result<Vec<Change>, crate::config::problem::ConfigError>,
    ) {
        self.app
            .config
            .mutate(|state| f(state).map(|changes| ((), changes)))
            .await
            .map_err(|_| "change")
            .unwrap();
    }

    /// A connection's admission slot.
    pub fn slot(&self) -> Slot {
        self.app
            .admission
            .connect("127.0.0.1".parse().unwrap())
            .unwrap()
    }

    /// The store's log so far.
    pub fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }

    /// The object at `key`.
    pub async fn object(&self, key: &str) -> Bytes {
        self.store
            .get_opts(&Path::from(key), GetOptions::default())
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
    }
}

/// x264 baseline 320x180 SPS and a PPS, as an avcC.
fn avcc() -> Vec<u8> {
    const SPS: [u8; 24] = [
        0x67, 0x42, 0xC0, 0x0D, 0xD9, 0x01, 0x41, 0x9F, 0x9E, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10,
        0x00, 0x00, 0x03, 0x03, 0x20, 0xF1, 0x42, 0xA4, 0x80,
    ];
    let mut record = vec![1, 0x42, 0xC0, 0x0D, 0xFF, 0xE1];
    record.extend_from_slice(&(SPS.len() as u16).to_be_bytes());
    record.extend_from_slice(&SPS);
    record.extend_from_slice(&[1, 0, 4, 0x68, 0xCB, 0x83, 0xCB]);
    record
}

fn tag(kind: TagKind, ms: u32, data: Vec<u8>) -> FlvTag {
    FlvTag {
        offset: 0,
        kind,
        timestamp_ms: ms,
        data: data.into(),
    }
}

/// An RTMP stream as FLV tags: sequence headers, then 25 fps video with a keyframe
/// every second and AAC audio every 23 ms, over `from_ms..to_ms` of media time.
pub fn stream_tags(from_ms: u32, to_ms: u32, headers: bool) -> Vec<FlvTag> {
    let mut tags = Vec::new();
    if headers {
        let mut video = vec![0x17, 0, 0, 0, 0];
        video.extend_from_slice(&avcc());
        tags.push(tag(TagKind::Video, from_ms, video));
        tags.push(tag(TagKind::Audio, from_ms, vec![0xAF, 0, 0x12, 0x10]));
    }
    let (mut video_ms, mut audio_ms) = (from_ms, from_ms);
    while video_ms < to_ms || audio_ms < to_ms {
        if video_ms <= audio_ms {
            let key = (video_ms - from_ms) % 1000 == 0;
            let nal = if key { 0x65 } else { 0x41 };
            let first = if key { 0x17 } else { 0x27 };
            tags.push(tag(
                TagKind::Video,
                video_ms,
                vec![first, 1, 0, 0, 0, 0, 0, 0, 2, nal, 0x88],
            ));
            video_ms += 40;
        } else {
            tags.push(tag(
                TagKind::Audio,
                audio_ms,
                vec![0xAF, 1, 0x21, 0x10, 0x04],
            ));
            audio_ms += 23;
        }
    }
    tags
}

/// The protocol-neutral inputs an RTMP push of `tags` makes.
pub fn inputs(tags: &[FlvTag]) -> Vec<Input> {
    let mut ingest = FlvIngest::default();
    tags.iter().map(|t| ingest.push_tag(t)).collect()
}
