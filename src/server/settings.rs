//! Server settings: command-line flags, an optional TOML file, and environment variables.
//!
//! ```toml
//! # liverec.toml
//! default_domain = "push.example.com"   # push domain when the tcUrl host is an IP
//! public_url = "http://127.0.0.1:8080"  # base of recording URLs (default: http://HTTP-ADDR)
//! [[credentials]]                        # API keys (TC3-HMAC-SHA256), any number
//! secret_id = "AKID..."
//! secret_key = "..."
//! [limits]
//! max_body_bytes = 1048576
//! max_connections = 10000                # RTMP connections at once (and the file limit's share)
//! max_connections_per_ip = 100           # RTMP connections from one address
//! [callbacks]
//! timeout_seconds = 20
//! retry_interval_seconds = 60
//! max_retries = 12
//! [retention]
//! sweep_interval_seconds = 60
//! min_free_bytes = 1073741824            # free space to keep on the data file system
//! min_free_percent = 0                   # ... or this share of it, whichever is larger
//! free_space_check_seconds = 5
//! delete_oldest_for_space = true         # below it, delete the oldest expiring recordings
//! delete_kept_forever_for_space = false  # ... and those kept forever (StorageTime 0)
//! [storage]
//! scratch_dir = "/var/lib/liverec/scratch"  # files being written (default DATA/.scratch)
//! # url = "s3://recordings/liverec"      # an S3 bucket (and prefix) instead of DATA
//! # endpoint = "http://127.0.0.1:9000"   # an S3-compatible server (default: AWS)
//! # region = "us-east-1"
//! # path_style = true                    # ENDPOINT/BUCKET/KEY requests (self-hosted stores)
//! # allow_http = false
//! # access_key_id = "..."                # else AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
//! # secret_access_key = "..."
//! # presign_seconds = 3600               # GET /vod/… redirects to a presigned URL
//! # sign_payload = false                 # true: SHA-256 of every byte in the signature
//! # segment_memory_bytes = 268435456     # HLS segments held in memory for S3 (0: none)
//! [database]
//! # url = "postgres://liverec@db.example.com/liverec"  # default: SQLite in DATA
//! # node_id = "rec-1"                      # default: host name and HTTP port
//! [playback]
//! # key = "..."                          # /vod and /playback need ?t=HEX&sign=MD5 (else
//! #                                      #   loopback clients only)
//! # url_seconds = 86400                  # validity of the URLs liverec hands out
//! [tls]                                  # RTMPS (--rtmps ADDR): certificate chain and key
//! # cert_file = "/etc/liverec/cert.pem"  # PEM, leaf first
//! # key_file = "/etc/liverec/key.pem"    # PEM, PKCS#8, PKCS#1 or SEC1
//! [srt]                                  # SRT ingest (--srt ADDR)
//! latency_ms = 300                       # receive latency (SRTO_RCVLATENCY): time to recover losses
//! loss_max_ttl = 0                       # reorder tolerance, packets (SRTO_LOSSMAXTTL)
//! peer_idle_timeout_seconds = 5          # a caller silent this long is dropped
//! [ingest]
//! # threads = 2                          # RTMP(S) ingest threads (default: one per core;
//! #                                      #   0: none, RTMP on the shared runtime)
//! [mix]                                  # stream mixing (CreateCommonMixStream)
//! ffmpeg = "ffmpeg"                      # the engine: an ffmpeg with libx264
//! # max_sessions = 4                     # mix sessions at most (default: the cores)
//! [testing]                              # test-only: every RecordInterval becomes this
//! record_interval_seconds = 2            # (the reference's minimum is 60 s)
//! ```
//!
//! A key the file does not define is an error naming the key and its line (a setting
//! under the wrong table would otherwise be silently ignored).
//!
//! `LIVEREC_SECRET_ID` / `LIVEREC_SECRET_KEY` add one more credential. With none at all,
//! unsigned requests are accepted from loopback only, and listening on a non-loopback
//! address is refused.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::ServerError;
use crate::record::session::HlsSegments;

/// Default request body limit (reference: 1 MiB → RequestSizeLimitExceeded).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// One API key pair.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    /// Public id (`AKID…`).
    pub secret_id: String,
    /// Secret signing key.
    pub secret_key: String,
}

/// Request and connection limits.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest request body, bytes.
    pub max_body_bytes: usize,
    /// RTMP connections at once (the open-file limit may allow fewer; see
    /// [`super::admission`]).
    pub max_connections: usize,
    /// RTMP connections from one source address at once.
    pub max_connections_per_ip: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_connections: super::limits::DEFAULT_MAX_CONNECTIONS,
            max_connections_per_ip: super::limits::DEFAULT_MAX_CONNECTIONS_PER_IP,
        }
    }
}

/// Callback delivery defaults (used by the data plane).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallbackSettings {
    /// Seconds to wait for an answer.
    pub timeout_seconds: u64,
    /// Seconds between attempts.
    pub retry_interval_seconds: u64,
    /// Retries after the first attempt.
    pub max_retries: u32,
}

impl Default for CallbackSettings {
    fn default() -> Self {
        Self {
            timeout_seconds: 20,
            retry_interval_seconds: 60,
            max_retries: 12,
        }
    }
}

/// Default free space kept on the data and scratch file systems: 1 GiB.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 1 << 30;

/// Retention sweeper and free-space guard ([`super::space`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionSettings {
    /// Seconds between sweeps.
    pub sweep_interval_seconds: u64,
    /// Free space to keep, bytes (the floor is the larger of this and the percentage).
    pub min_free_bytes: u64,
    /// Free space to keep, percent of the file system (0–100).
    pub min_free_percent: u8,
    /// Seconds between free-space checks.
    pub free_space_check_seconds: u64,
    /// Below the floor, delete the oldest recordings that have a StorageTime (they
    /// would expire anyway).
    pub delete_oldest_for_space: bool,
    /// Below the floor, delete recordings kept forever (StorageTime 0) too.
    pub delete_kept_forever_for_space: bool,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            sweep_interval_seconds: 60,
            min_free_bytes: DEFAULT_MIN_FREE_BYTES,
            min_free_percent: 0,
            free_space_check_seconds: 5,
            delete_oldest_for_space: true,
            delete_kept_forever_for_space: false,
        }
    }
}

/// Where recordings are stored and written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageSettings {
    /// Scratch space for files being written (default `DATA/.scratch`); a local
    /// directory, on the data directory's file system for commits without a copy.
    pub scratch_dir: Option<PathBuf>,
    /// `s3://BUCKET[/PREFIX]`: recordings in S3 instead of the data directory.
    pub url: Option<String>,
    /// S3 endpoint (an S3-compatible server).
    pub endpoint: Option<String>,
    /// S3 region.
    pub region: Option<String>,
    /// Path-style S3 requests.
    pub path_style: bool,
    /// Plain-HTTP S3 endpoint allowed.
    pub allow_http: bool,
    /// S3 access key id (else from the environment).
    pub access_key_id: Option<String>,
    /// S3 secret key (else from the environment).
    pub secret_access_key: Option<String>,
    /// When set, `GET /vod/…` redirects to presigned URLs valid this long.
    pub presign_seconds: Option<u64>,
    /// Sign S3 payloads (SHA-256 of every byte; default off: TLS protects them).
    pub sign_payload: bool,
    /// Bytes of HLS segments held in memory on their way to S3 (default
    /// [`crate::storage::memory::DEFAULT_SEGMENT_MEMORY_BYTES`]; 0: all in scratch space).
    pub segment_memory_bytes: Option<u64>,
}

impl StorageSettings {
    /// The S3 options, when recordings go to S3.
    pub fn s3(&self) -> Option<crate::storage::s3::S3Options> {
        let url = self.url.clone()?;
        Some(crate::storage::s3::S3Options {
            url,
            endpoint: self.endpoint.clone(),
            region: self.region.clone(),
            path_style: self.path_style,
            allow_http: self.allow_http,
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
            sign_payload: self.sign_payload,
        })
    }
}

/// The metadata database and this node's name in it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `postgres://…`: PostgreSQL shared by several nodes; default SQLite in the data
    /// directory.
    pub url: Option<String>,
    /// This node's name in leases and metrics (default: host name and HTTP port).
    pub node_id: Option<String>,
}

/// Access to recordings (`/vod`, `/playback`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlaybackSettings {
    /// Signing key of playback URLs ([`crate::playback::sign`]); without one, only
    /// loopback clients are served.
    pub key: Option<String>,
    /// How long the signed URLs liverec hands out (callbacks, SearchMedia) stay valid, s.
    pub url_seconds: u64,
}

/// Default validity of the signed URLs liverec hands out: one day.
pub const DEFAULT_URL_SECONDS: u64 = 86_400;

impl Default for PlaybackSettings {
    fn default() -> Self {
        Self {
            key: None,
            url_seconds: DEFAULT_URL_SECONDS,
        }
    }
}

impl PlaybackSettings {
    /// The key, when one is set (an empty one is none).
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref().filter(|k| !k.is_empty())
    }

    /// `url` signed until `url_seconds` after `now_s` when a key is set, else as it is.
    pub fn signed(&self, url: &str, now_s: u64) -> String {
        match self.key() {
            Some(key) => crate::server::urls::signed_url(url, key, now_s + self.url_seconds),
            None => url.to_owned(),
        }
    }
}

/// Test-only overrides (documented in the README).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TestingSettings {
    /// Replaces every RecordInterval (seconds), below the reference's 60 s minimum.
    pub record_interval_seconds: Option<u64>,
    /// Shares out this many file handles instead of the real open-file limit (to test
    /// what happens when the process runs out of them all the same).
    pub file_limit: Option<u64>,
    /// Every commit to storage takes this much longer, ms (a slow store).
    pub commit_delay_ms: Option<u64>,
}

/// RTMPS's certificate (`[tls]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM certificate chain, leaf first.
    pub cert_file: Option<PathBuf>,
    /// PEM private key.
    pub key_file: Option<PathBuf>,
}

/// SRT ingest (`[srt]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SrtSettings {
    /// Receive latency, ms: how long SRT may take to recover a lost packet, and how late
    /// a packet may be read before SRT drops it (the larger of this and the caller's
    /// applies). 300 by default rather than libsrt's 120: a recorder does not need low
    /// latency, and a busy server's scheduling stalls stay within it (50 pushers on 2
    /// cores lost frames at 120 ms in some runs, none at 300).
    pub latency_ms: u64,
    /// Reorder tolerance, packets (0: a gap is reported as a loss at once).
    pub loss_max_ttl: u32,
    /// A caller that sends nothing for this long is dropped, s.
    pub peer_idle_timeout_seconds: u64,
}

impl Default for SrtSettings {
    fn default() -> Self {
        Self {
            latency_ms: 300,
            loss_max_ttl: 0,
            peer_idle_timeout_seconds: 5,
        }
    }
}

/// HLS recording (`[hls]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HlsSettings {
    /// Segment container: `auto` (MPEG-TS, fMP4 for AV1/VP9/Opus), `ts` or `fmp4`.
    pub segments: HlsSegments,
}

/// RTMP(S) ingest (`[ingest]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestSettings {
    /// Ingest threads (lanes, see [`crate::server::data::lanes`]); default: one per core;
    /// 0: connections run on the shared runtime.
    pub threads: Option<usize>,
}

impl IngestSettings {
    /// The lanes to run: `threads`, else the number of cores.
    pub fn lane_count(&self) -> usize {
        self.threads.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        })
    }
}

/// Stream mixing (`[mix]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MixSettings {
    /// The engine: an ffmpeg with libx264 (a name on `PATH` or a path).
    pub ffmpeg: String,
    /// Mix sessions at most (each runs one engine); default: the number of cores.
    pub max_sessions: Option<usize>,
}

impl Default for MixSettings {
    fn default() -> Self {
        Self {
            ffmpeg: "ffmpeg".into(),
            max_sessions: None,
        }
    }
}

impl MixSettings {
    /// The session limit: `max_sessions`, else the number of cores.
    pub fn session_limit(&self) -> usize {
        self.max_sessions.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        })
    }
}

/// Push domain when the push URL's host is an address and none is configured.
pub const FALLBACK_DOMAIN: &str = "localhost";

/// The file's contents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileSettings {
    /// API credentials.
    pub credentials: Vec<Credential>,
    /// Push domain used when the push URL's host is an IP address or `localhost`.
    pub default_domain: Option<String>,
    /// Request limits.
    pub limits: Limits,
    /// Callback delivery.
    pub callbacks: CallbackSettings,
    /// Base URL of recording links (`…/vod/PATH`); default `http://HTTP-ADDR`.
    pub public_url: Option<String>,
    /// Retention sweeper and free-space guard.
    pub retention: RetentionSettings,
    /// Storage.
    pub storage: StorageSettings,
    /// Database and node.
    pub database: DatabaseSettings,
    /// Access to recordings.
    pub playback: PlaybackSettings,
    /// RTMPS's certificate.
    pub tls: TlsSettings,
    /// SRT ingest.
    pub srt: SrtSettings,
    /// HLS recording.
    pub hls: HlsSettings,
    /// RTMP(S) ingest threads.
    pub ingest: IngestSettings,
    /// Stream mixing.
    pub mix: MixSettings,
    /// Test-only overrides.
    pub testing: TestingSettings,
}

/// Everything the server runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Data directory (metadata DB, recordings).
    pub data_dir: PathBuf,
    /// HTTP API address.
    pub http: SocketAddr,
    /// RTMP ingest address (data plane).
    pub rtmp: SocketAddr,
    /// RTMPS ingest address, when enabled (needs `[tls]`).
    pub rtmps: Option<SocketAddr>,
    /// SRT ingest address (UDP), when enabled.
    pub srt: Option<SocketAddr>,
    /// File settings plus the environment's credential.
    pub file: FileSettings,
    /// This node's id: `[database] node_id`, else `HOSTNAME:HTTP-PORT`.
    pub node_id: String,
}

/// The node id of `database` for a server listening on `http`.
pub fn node_id(database: &DatabaseSettings, http: SocketAddr) -> String {
    if let Some(id) = database.node_id.as_ref().filter(|s| !s.is_empty()) {
        return id.clone();
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host}:{}", http.port())
}

impl Settings {
    /// The push domain for address pushes without `domain=`.
    pub fn default_domain(&self) -> String {
        self.file
            .default_domain
            .clone()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| FALLBACK_DOMAIN.to_owned())
            .to_ascii_lowercase()
    }

    /// Base of recording URLs, without a trailing `/`.
    pub fn public_url(&self) -> String {
        match &self.file.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.http),
        }
    }

    /// Builds settings from flags, the optional file and the environment.
    pub fn load(
        data_dir: PathBuf,
        http: SocketAddr,
        rtmp: SocketAddr,
        config: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, ServerError> {
        let mut file = match config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ServerError::Io {
                    context: format!("reading {}", path.display()),
                    source,
                })?;
                toml::from_str(&text)
                    .map_err(|e| ServerError::Config(format!("{}: {e}", path.display())))?
            }
            None => FileSettings::default(),
        };
        if let (Some(secret_id), Some(secret_key)) =
            (env("LIVEREC_SECRET_ID"), env("LIVEREC_SECRET_KEY"))
        {
            if !secret_id.is_empty() && !secret_key.is_empty() {
                file.credentials.push(Credential {
                    secret_id,
                    secret_key,
                });
            }
        }
        let node_id = node_id(&file.database, http);
        let settings = Settings {
            data_dir,
            http,
            rtmp,
            rtmps: None,
            srt: None,
            file,
            node_id,
        };
        settings.check()?;
        Ok(settings)
    }

    /// Checks what the flags and the file say together (the CLI sets the optional
    /// listeners after [`Settings::load`]).
    pub fn check(&self) -> Result<(), ServerError> {
        if self.rtmps.is_some()
            && (self.file.tls.cert_file.is_none() || self.file.tls.key_file.is_none())
        {
            return Err(ServerError::Config(
                "--rtmps needs [tls] cert_file and key_file in the config file".into(),
            ));
        }
        if self.file.credentials.is_empty() && !self.http.ip().is_loopback() {
            return Err(ServerError::Config(format!(
                "refusing to serve the API on {} without credentials: set LIVEREC_SECRET_ID and LIVEREC_SECRET_KEY \
                 or [[credentials]] in the config file, or listen on a loopback address",
                self.http
            )));
        }
        if self
            .file
            .credentials
            .iter()
            .any(|c| c.secret_id.is_empty() || c.secret_key.is_empty())
        {
            return Err(ServerError::Config(
                "a credential has an empty secret_id or secret_key".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<FileSettings, toml::de::Error> {
        toml::from_str(text)
    }

    /// The example in this module's doc is a valid file.
    #[test]
    fn the_documented_example_parses() {
        let source = include_str!("settings.rs");
        let example: String = source
            .lines()
            .skip_while(|l| !l.starts_with("//! ```toml"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| format!("{}\n", l.trim_start_matches("//!").trim_start()))
            .collect();
        let file = parse(&example).unwrap();
        assert_eq!(file.public_url.as_deref(), Some("http://127.0.0.1:8080"));
        assert_eq!(file.testing.record_interval_seconds, Some(2));
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name_and_line() {
        let err =
            parse("default_domain = \"a.com\"\n[limits]\npublic_url = \"http://x\"\n").unwrap_err();
        let err = err.to_string();
        assert!(err.contains("public_url"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        for text in [
            "colour = 1\n",
            "[callbacks]\ntimeout = 5\n",
            "[retention]\nsweep = 5\n",
            "[[credentials]]\nsecret_id = \"a\"\nsecret_key = \"b\"\nregion = \"x\"\n",
        ] {
            assert!(parse(text).is_err(), "{text}");
        }
    }
}
