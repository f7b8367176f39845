//! `liverec serve`: the recording server. This layer is the control plane (the reference
//! API over HTTP, persisted in SQLite); the data plane (RTMP ingest, recording) joins it
//! later. It moves bytes between sockets, the database and the pure core; every rule
//! lives in `crate::config`.
//!
//! Routes: `POST /` and `GET /` (the API, reference §1), `GET /healthz`, `GET /metrics`.

mod actions;
pub mod auth;
pub mod db;
mod http;
mod metrics;
pub mod recordings;
pub mod settings;
pub mod state;
pub mod wire;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use tokio::sync::Mutex;

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

/// Opens the database, loads the state, and returns the shared application state.
pub async fn prepare(settings: Settings) -> Result<Arc<AppState>, ServerError> {
    let db = db::open(&settings.data_dir).await?;
    let control = db::load(&db).await?;
    Ok(Arc::new(AppState {
        settings,
        db,
        control: Arc::new(Mutex::new(control)),
        metrics: metrics::Metrics::default(),
        task_counter: AtomicU64::new(0),
    }))
}

/// Serves until SIGINT or SIGTERM, then finishes in-flight requests and returns.
pub async fn serve(settings: Settings) -> Result<(), ServerError> {
    let http = settings.http;
    let data_dir = settings.data_dir.clone();
    let credentials = settings.file.credentials.len();
    let app = prepare(settings).await?;
    let listener = tokio::net::TcpListener::bind(http)
        .await
        .map_err(|source| ServerError::Io {
            context: format!("listening on {http}"),
            source,
        })?;
    let local = listener.local_addr().map_err(|source| ServerError::Io {
        context: "reading the listening address".into(),
        source,
    })?;
    tracing::info!(%local, data = %data_dir.display(), credentials, "liverec API listening");
    if credentials == 0 {
        tracing::warn!(
            "no API credentials configured: unsigned requests are accepted from loopback only"
        );
    }
    axum::serve(
        listener,
        router(app).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .map_err(|source| ServerError::Io {
        context: "serving HTTP".into(),
        source,
    })?;
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
