//! `liverec serve`: the recording server. This layer is the control plane (the reference
//! API over HTTP, persisted in SQLite); the data plane (RTMP ingest, recording) joins it
//! later. It moves bytes between sockets, the database and the pure core; every rule
//! lives in `crate::config`.
//!
//! Routes: `POST /` and `GET /` (the API, reference §1), `GET /healthz`, `GET /metrics`.

mod actions;
pub mod admission;
pub mod auth;
pub mod configuration;
pub mod db;
pub mod gop;
mod http;
pub mod ingest;
pub mod limits;
pub mod listener;
pub mod live;
mod metrics;
pub mod notify;
mod push;
pub mod recorder;
mod recovery;
pub mod retention;
pub mod settings;
pub mod space;
pub mod state;
pub mod stream;
pub mod streams;
pub mod vod;
pub mod wire;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

pub use http::router;
pub use settings::Settings;
use state::AppState;

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Bad settings.
    #[error("configuration: {0}")]
    Config(String),
    /// File system or socket failure.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Database failure.
    #[error("database: {0}")]
    Database(String),
}

/// Opens the database, loads the state, and returns the shared application state;
/// `file_limit` is the open-file limit shared out among connections.
pub async fn prepare(settings: Settings, file_limit: u64) -> Result<Arc<AppState>, ServerError> {
    let database = db::SqliteDb::open(&settings.data_dir)
        .await
        .map_err(|e| ServerError::Database(e.to_string()))?;
    let db: Arc<dyn db::Database> = Arc::new(database.clone());
    let config = configuration::Configuration::load(Arc::new(database))
        .await
        .map_err(|e| ServerError::Database(e.to_string()))?;
    let storage = crate::storage::Storage::local(&settings.data_dir)
        .map_err(|e| ServerError::Config(format!("storage: {e}")))?;
    let notifier = notify::Notifier::new(db.clone(), settings.file.callbacks.clone());
    let limits = &settings.file.limits;
    let budget = limits::Budget::of(settings.file.testing.file_limit.unwrap_or(file_limit));
    let admission = Arc::new(admission::Admission::new(
        budget,
        limits.max_connections,
        limits.max_connections_per_ip,
    ));
    let live = Arc::new(live::Live::default());
    let space = Arc::new(space::SpaceGuard::default());
    let metrics = metrics::Metrics::default();
    metrics.on_render(data_gauges(Arc::clone(&admission), Arc::clone(&space)));
    Ok(Arc::new(AppState {
        settings,
        db,
        config: Arc::new(config),
        metrics,
        task_counter: AtomicU64::new(0),
        storage,
        notifier,
        streams: Arc::clone(&live) as Arc<dyn streams::LiveStreams>,
        live,
        admission,
        space,
    }))
}

/// The data plane's gauges, read when `/metrics` is rendered.
fn data_gauges(
    admission: Arc<admission::Admission>,
    space: Arc<space::SpaceGuard>,
) -> metrics::Refresh {
    let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    Box::new(move |m: &metrics::Metrics| {
        m.rtmp_connections
            .set(gauge(admission.connections() as u64));
        m.stream_capacity.set(gauge(admission.budget().streams()));
        let (free, floor) = space.last();
        m.free_bytes.set(gauge(free));
        m.free_floor_bytes.set(gauge(floor));
    })
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
/// (free-space guard, callback outbox, retention).
async fn start_background(app: &Arc<AppState>) {
    recovery::recover(app).await;
    if let Err(e) = space::check(app).await {
        tracing::warn!(error = %e, "free-space check");
    }
    tokio::spawn(space::guard_forever(Arc::clone(app)));
    tokio::spawn(app.notifier.clone().run());
    tokio::spawn(retention::sweep_forever(Arc::clone(app)));
}

/// Serves the API and RTMP ingest until SIGINT or SIGTERM, then ends every push (their
/// files are finalised, indexed and announced), finalises parked HLS recordings, and
/// returns.
pub async fn serve(settings: Settings) -> Result<(), ServerError> {
    let (data_dir, credentials) = (settings.data_dir.clone(), settings.file.credentials.len());
    let (http_listener, local) = bind(settings.http, "HTTP").await?;
    let (rtmp_listener, rtmp_local) = bind(settings.rtmp, "RTMP").await?;
    let app = prepare(settings, limits::raise_file_limit()).await?;
    let budget = app.admission.budget();
    tracing::info!(%local, rtmp = %rtmp_local, data = %data_dir.display(), credentials,
        file_limit = budget.file_limit, streams = budget.streams(), "liverec listening");
    if credentials == 0 {
        tracing::warn!(
            "no API credentials configured: unsigned requests are accepted from loopback only"
        );
    }
    start_background(&app).await;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let ingest = tokio::spawn(ingest::serve_rtmp(
        Arc::clone(&app),
        rtmp_listener,
        stop_rx.clone(),
    ));
    let mut http_stop = stop_rx;
    let listener = listener::CappedListener::new(http_listener, budget.http_connections);
    // `tap_io` adds nothing but gives `ConnectInfo<SocketAddr>` for a custom listener.
    let served = axum::serve(
        axum::serve::ListenerExt::tap_io(listener, |_| {}),
        router(Arc::clone(&app)).into_make_service_with_connect_info::<std::net::SocketAddr>(),
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
    let _ = ingest.await;
    for (stream, hls) in app.live.take_all_parked() {
        recorder::finish_parked(&app, &stream, &hls).await;
    }
    tracing::info!("liverec stopped");
    Ok(())
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
