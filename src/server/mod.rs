//! `liverec serve`: the recording server, in three wings over shared services.
//!
//! ```text
//! control/  the reference API over HTTP, /vod          data/  pushes in, recordings out
//!      \        (asks the data plane through               /   (never imports control/)
//!       \        streams::LiveStreams)                    /
//!        configuration · settings · metrics · notify · limits · urls · streams
//!                                  |
//!                                 db/   persistence ports (imports neither wing)
//! ```
//!
//! This module is the composition root only: it builds the parts, wires them and runs
//! them. It moves bytes between sockets, the database and the pure core; every rule
//! lives in `crate::config`, `crate::record` and `crate::formats`.
//!
//! Routes: `POST /` and `GET /` (the API, reference §1), `GET /healthz`, `GET /metrics`,
//! `GET /vod/…`, `GET /live/…`.

pub mod configuration;
pub mod control;
pub mod data;
pub mod db;
pub mod error;
pub mod limits;
pub mod metrics;
pub mod notify;
pub mod settings;
pub mod streams;
pub mod urls;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

pub use control::http::router;
use control::ControlPlane;
use data::DataPlane;
pub use error::ServerError;
pub use settings::Settings;

/// Opens the database, loads the configuration, and builds both planes over them;
/// `file_limit` is the open-file limit shared out among connections.
pub async fn prepare(
    settings: Settings,
    file_limit: u64,
) -> Result<(Arc<ControlPlane>, Arc<DataPlane>), ServerError> {
    let (db, repo) = open_database(&settings).await?;
    let config = configuration::Configuration::load(repo)
        .await
        .map_err(|e| ServerError::Database(e.to_string()))?;
    let config = Arc::new(config);
    let storage = open_storage(&settings)?;
    let metrics = Arc::new(metrics::Metrics::default());
    metrics.set_node(&settings.node_id);
    let limits = &settings.file.limits;
    let budget = limits::Budget::of(settings.file.testing.file_limit.unwrap_or(file_limit));
    let admission = data::admission::Admission::new(
        budget,
        limits.max_connections,
        limits.max_connections_per_ip,
    );
    let data = Arc::new(DataPlane {
        notifier: notify::Notifier::new(Arc::clone(&db), settings.file.callbacks.clone()),
        settings: settings.clone(),
        db: Arc::clone(&db),
        config: Arc::clone(&config),
        metrics: Arc::clone(&metrics),
        storage: storage.clone(),
        live: Arc::new(data::live::Live::default()),
        admission: Arc::new(admission),
        space: Arc::new(data::space::SpaceGuard::default()),
    });
    metrics.on_render(data.gauges());
    let control = Arc::new(ControlPlane {
        settings,
        db,
        config,
        metrics,
        storage,
        streams: Arc::clone(&data) as Arc<dyn streams::LiveStreams>,
        task_counter: AtomicU64::new(0),
        mp4_cache: control::range_mp4::Mp4Cache::default(),
        playlist_cache: control::playback::PlaylistCache::default(),
        notifier: data.notifier.clone(),
    });
    Ok((control, data))
}

/// The database the settings name: PostgreSQL for `[database] url`, else SQLite in the
/// data directory. Both handles are one database.
async fn open_database(
    settings: &Settings,
) -> Result<(Arc<dyn db::Database>, Arc<dyn db::ConfigRepo>), ServerError> {
    let failed = |e: db::DbError| ServerError::Database(e.to_string());
    match settings.file.database.url.as_deref() {
        Some(url) if !url.is_empty() => {
            let database = db::PgDb::connect(url).await.map_err(failed)?;
            Ok((Arc::new(database.clone()), Arc::new(database)))
        }
        _ => {
            let database = db::SqliteDb::open(&settings.data_dir)
                .await
                .map_err(failed)?;
            Ok((Arc::new(database.clone()), Arc::new(database)))
        }
    }
}

/// The recordings store the settings name: an S3 bucket for `[storage] url`, else the
/// data directory; scratch space in `[storage] scratch_dir` or `DATA/.scratch`.
fn open_storage(settings: &Settings) -> Result<crate::storage::Storage, ServerError> {
    let storage_settings = &settings.file.storage;
    let scratch = storage_settings.scratch_dir.as_deref();
    let failed = |e: crate::storage::StorageError| ServerError::Config(format!("storage: {e}"));
    let storage = match storage_settings.s3() {
        Some(options) => {
            let scratch = scratch.map_or_else(
                || settings.data_dir.join(crate::storage::SCRATCH_DIR),
                std::path::Path::to_path_buf,
            );
            let presign = storage_settings
                .presign_seconds
                .filter(|s| *s > 0)
                .map(std::time::Duration::from_secs);
            crate::storage::Storage::s3(&options, scratch, presign).map_err(failed)?
        }
        None => crate::storage::Storage::local(&settings.data_dir, scratch).map_err(failed)?,
    };
    let delay =
        std::time::Duration::from_millis(settings.file.testing.commit_delay_ms.unwrap_or(0));
    let memory = storage_settings
        .segment_memory_bytes
        .unwrap_or(crate::storage::memory::DEFAULT_SEGMENT_MEMORY_BYTES);
    Ok(storage.with_commit_delay(delay).with_segment_memory(memory))
}

async fn bind(
    addr: std::net::SocketAddr,
    what: &str,
) -> Result<(tokio::net::TcpListener, std::net::SocketAddr), ServerError> {
    let io = |source| ServerError::Io {
        context: format!("listening for {what} on {addr}"),
        source,
    };
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(io)?;
    let local = listener.local_addr().map_err(io)?;
    Ok((listener, local))
}

/// Recovers what a crash left, checks free space, and starts the background tasks
/// (free-space guard, callback outbox, retention, stream leases, configuration
/// refresh).
async fn start_background(data: &Arc<DataPlane>) {
    data::recovery::recover(data).await;
    if let Err(e) = data::space::check(data).await {
        tracing::warn!(error = %e, "free-space check");
    }
    tokio::spawn(data::space::guard_forever(Arc::clone(data)));
    tokio::spawn(data.notifier.clone().run());
    tokio::spawn(data::retention::sweep_forever(Arc::clone(data)));
    tokio::spawn(data::ownership::renew_forever(Arc::clone(data)));
    tokio::spawn(data::handover::sweep_forever(Arc::clone(data)));
    // A change made through another node: live pushes re-plan their tasks too, and
    // those it forbids end.
    let changed = Arc::clone(data);
    tokio::spawn(Arc::clone(&data.config).refresh_forever(move || {
        changed.live.replan_all();
        changed.drop_forbidden();
    }));
}

/// An ingest listener, with its TLS acceptor for RTMPS.
type IngestListener = (tokio::net::TcpListener, Option<tokio_rustls::TlsAcceptor>);

/// The bound ingest ports.
struct Listeners {
    /// RTMP, and RTMPS when enabled.
    tcp: Vec<IngestListener>,
    /// SRT when enabled, and its address.
    srt: Option<(
        (srt_tokio::SrtListener, srt_tokio::SrtIncoming),
        std::net::SocketAddr,
    )>,
    /// RTMP's address.
    rtmp_local: std::net::SocketAddr,
}

/// Binds the ingest ports: RTMP, RTMPS when enabled (its certificate loaded first), SRT
/// when enabled.
async fn bind_ingest(settings: &Settings) -> Result<Listeners, ServerError> {
    let (rtmp, rtmp_local) = bind(settings.rtmp, "RTMP").await?;
    let mut tcp = vec![(rtmp, None)];
    if let Some(addr) = settings.rtmps {
        let acceptor = data::tls::acceptor(&settings.file.tls)?;
        let (listener, local) = bind(addr, "RTMPS").await?;
        tracing::info!(rtmps = %local, "RTMPS listening");
        tcp.push((listener, Some(acceptor)));
    }
    let srt = match settings.srt {
        Some(addr) => {
            let listener = data::srt::bind(addr, &settings.file.srt).await?;
            tracing::info!(srt = %addr, "SRT listening");
            Some((listener, addr))
        }
        None => None,
    };
    Ok(Listeners {
        tcp,
        srt,
        rtmp_local,
    })
}

/// Serves the API and RTMP ingest until SIGINT or SIGTERM, then ends every push (their
/// files are finalised, indexed and announced), finalises parked HLS recordings, and
/// returns.
pub async fn serve(mut settings: Settings) -> Result<(), ServerError> {
    let (data_dir, credentials) = (settings.data_dir.clone(), settings.file.credentials.len());
    let (http_listener, local) = bind(settings.http, "HTTP").await?;
    if settings.http.port() == 0 {
        settings.http = local;
        settings.node_id = settings::node_id(&settings.file.database, local);
    }
    let listeners = bind_ingest(&settings).await?;
    let rtmp_local = listeners.rtmp_local;
    let (control, data) = prepare(settings, limits::raise_file_limit()).await?;
    let budget = data.admission.budget();
    tracing::info!(%local, node = %control.settings.node_id, rtmp = %rtmp_local, data = %data_dir.display(), credentials,
        file_limit = budget.file_limit, streams = budget.streams(), "liverec listening");
    if credentials == 0 {
        tracing::warn!(
            "no API credentials configured: unsigned requests are accepted from loopback only"
        );
    }
    start_background(&data).await;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let ingest = start_ingest(&data, listeners, &stop_rx);
    let mut http_stop = stop_rx;
    let listener = control::listener::CappedListener::new(http_listener, budget.http_connections);
    // `tap_io` adds nothing but gives `ConnectInfo<SocketAddr>` for a custom listener.
    let served = axum::serve(
        axum::serve::ListenerExt::tap_io(listener, |_| {}),
        router(control).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = http_stop.changed().await;
    });
    let signal = async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    };
    let (served, ()) = tokio::join!(served, signal);
    served.map_err(|source| ServerError::Io {
        context: "serving HTTP".into(),
        source,
    })?;
    for task in ingest {
        let _ = task.await;
    }
    for (stream, hls) in data.live.take_all_parked() {
        data::publish::finish_parked(&data, &stream, &hls).await;
    }
    tracing::info!("liverec stopped");
    Ok(())
}

/// Starts the ingest listeners and the mix supervisor; each ends (its pushes finalised)
/// once `stop` turns true.
fn start_ingest(
    data: &Arc<DataPlane>,
    listeners: Listeners,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let lanes = match data.settings.file.ingest.lane_count() {
        0 => None,
        count => Some(data::lanes::Lanes::start(count)),
    };
    let lanes = match lanes.transpose() {
        Ok(lanes) => lanes.map(Arc::new),
        Err(e) => {
            tracing::warn!(error = %e, "ingest threads not started: RTMP runs on the shared runtime");
            None
        }
    };
    let mut ingest: Vec<_> = listeners
        .tcp
        .into_iter()
        .map(|(listener, tls)| {
            let lanes = lanes.clone();
            let serving =
                data::rtmp::serve_rtmp(Arc::clone(data), listener, tls, lanes, stop.clone());
            tokio::spawn(serving)
        })
        .collect();
    if let Some((listener, addr)) = listeners.srt {
        let serving = data::srt::serve_srt(Arc::clone(data), listener, addr, stop.clone());
        ingest.push(tokio::spawn(serving));
    }
    let mixing = data::mix::serve_mixes(Arc::clone(data), stop.clone());
    ingest.push(tokio::spawn(mixing));
    ingest
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
