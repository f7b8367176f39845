//! Shared helpers of the integration tests: a `liverec serve` child process on a free
//! loopback port with its own data directory, and an API client.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod ffmpeg9;
pub mod hevc;
pub mod postgres;
pub mod publisher;
pub mod recording;
pub mod s3;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// A running server.
pub struct Server {
    pub port: u16,
    pub rtmp_port: u16,
    pub data: PathBuf,
    child: Child,
    pub client: reqwest::Client,
}

/// A loopback port free for TCP and UDP, below the kernel's ephemeral range (32768 on):
/// a port the kernel hands out is also given to clients' outgoing connections (ffmpeg
/// pushers), which could take it before the server binds it. Each process walks its
/// own slice of 20000–32000 (by pid), so parallel tests never get the same one.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20_000 + (std::process::id() % 100) as u16 * 120;
    loop {
        let port = base + NEXT.fetch_add(1, Ordering::Relaxed) % 120;
        let tcp = std::net::TcpListener::bind(("127.0.0.1", port));
        let udp = std::net::UdpSocket::bind(("127.0.0.1", port));
        if tcp.is_ok() && udp.is_ok() {
            return port;
        }
    }
}

pub fn temp_dir(name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static SERIAL: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "liverec-{name}-{}-{}",
        std::process::id(),
        SERIAL.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Server {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts `liverec serve` on `data` with optional credentials.
    pub async fn start(data: &Path, credentials: Option<(&str, &str)>) -> Server {
        Self::start_with(data, credentials, &[]).await
    }

    /// Starts `liverec serve` with extra arguments (`--config FILE`).
    pub async fn start_with(
        data: &Path,
        credentials: Option<(&str, &str)>,
        extra: &[&str],
    ) -> Server {
        Self::start_limited(data, credentials, extra, None).await
    }

    /// Starts `liverec serve`, under an open-file limit of `nofile` (soft and hard)
    /// when given.
    pub async fn start_limited(
        data: &Path,
        credentials: Option<(&str, &str)>,
        extra: &[&str],
        nofile: Option<u64>,
    ) -> Server {
        let port = free_port();
        let rtmp_port = free_port();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data.with_extension("log"))
            .unwrap();
        let mut command = match nofile {
            Some(n) => {
                let mut c = Command::new("bash");
                c.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                    .arg(env!("CARGO_BIN_EXE_liverec"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_liverec")),
        };
        command
            .args([
                "serve",
                "--data",
                data.to_str().unwrap(),
                "--http",
                &format!("127.0.0.1:{port}"),
            ])
            .args(["--rtmp", &format!("127.0.0.1:{rtmp_port}")])
            .args(extra)
            .env_remove("LIVEREC_SECRET_ID")
            .env_remove("LIVEREC_SECRET_KEY")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log));
        if let Some((id, key)) = credentials {
            command
                .env("LIVEREC_SECRET_ID", id)
                .env("LIVEREC_SECRET_KEY", key);
        }
        let child = command.spawn().unwrap();
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = client
                .get(format!("http://127.0.0.1:{port}/healthz"))
                .send()
                .await
            {
                if r.status().is_success() {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Server {
            port,
            rtmp_port,
            data: data.to_owned(),
            child,
            client,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// The text of `GET /metrics`.
    pub async fn metrics(&self) -> String {
        self.get_text("metrics").await
    }

    /// The text of `GET /PATH` (redirects followed).
    pub async fn get_text(&self, path: &str) -> String {
        let url = format!("{}{path}", self.url());
        self.client
            .get(url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Calls `action` with a JSON body (unsigned); returns the `Response` object.
    pub async fn call(&self, action: &str, params: Value) -> Value {
        let r = self
            .client
            .post(self.url())
            .header("X-TC-Action", action)
            .header("X-TC-Version", "2018-08-01")
            .header("Content-Type", "application/json")
            .body(params.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/json");
        let body: Value = r.json().await.unwrap();
        assert!(body["Response"]["RequestId"].is_string(), "{body}");
        body["Response"].clone()
    }

    /// The error code of a call, or "ok".
    pub async fn code(&self, action: &str, params: Value) -> String {
        let response = self.call(action, params).await;
        response["Error"]["Code"]
            .as_str()
            .unwrap_or("ok")
            .to_owned()
    }

    /// `rtmp://127.0.0.1:PORT/APP/STREAM`.
    pub fn rtmp(&self, app: &str, stream: &str) -> String {
        format!("rtmp://127.0.0.1:{}/{app}/{stream}", self.rtmp_port)
    }

    /// Kills the server with SIGKILL (a crash).
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the server (SIGTERM, then waits).
    pub fn stop(self) {
        self.stop_within(Duration::from_secs(10));
    }

    /// Stops the server with SIGTERM; kills it if it has not exited within `limit`.
    /// Returns whether it exited by itself.
    pub fn stop_within(mut self, limit: Duration) -> bool {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal valid template body.
pub fn template(name: &str) -> Value {
    json!({"TemplateName": name, "HlsParam": {"Enable": 1}})
}

/// The `X-TC-Timestamp` and `Authorization` a client with `key` sends (the SDK's algorithm).
pub fn sign(host: &str, id: &str, key: &str, body: &[u8]) -> (String, String) {
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let date = liverec::server::control::auth::utc_date(timestamp);
    let lookup = |name: &str| match name {
        "content-type" => Some("application/json".to_owned()),
        "host" => Some(host.to_owned()),
        _ => None,
    };
    let parts = liverec::server::control::auth::SignedParts {
        method: "POST",
        query: "",
        header: &lookup,
        payload: body,
    };
    let signature = liverec::server::control::auth::signature(
        &parts,
        "content-type;host",
        &timestamp.to_string(),
        &date,
        "live",
        key,
    );
    let authorization = format!("TC3-HMAC-SHA256 Credential={id}/{date}/live/tc3_request, SignedHeaders=content-type;host, Signature={signature}");
    (timestamp.to_string(), authorization)
}

/// Signs and sends `body` for `action`.
pub async fn signed_call(
    client: &reqwest::Client,
    port: u16,
    id: &str,
    key: &str,
    action: &str,
    body: Vec<u8>,
) -> Value {
    let host = format!("127.0.0.1:{port}");
    let (timestamp, authorization) = sign(&host, id, key, &body);
    let r = client
        .post(format!("http://{host}/"))
        .header("Content-Type", "application/json")
        .header("X-TC-Action", action)
        .header("X-TC-Version", "2018-08-01")
        .header("X-TC-Timestamp", timestamp)
        .header("Authorization", authorization)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// A loopback callback receiver; the first `fail_first` posts get HTTP 500.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub events: Arc<Mutex<Vec<Value>>>,
    pub posts: Arc<Mutex<usize>>,
}

pub async fn receiver(fail_first: usize) -> Receiver {
    use axum::routing::post;
    let events = Arc::new(Mutex::new(Vec::new()));
    let posts = Arc::new(Mutex::new(0usize));
    let (e, p) = (events.clone(), posts.clone());
    let app = axum::Router::new().route(
        "/cb",
        post(move |body: String| {
            let (e, p) = (e.clone(), p.clone());
            async move {
                let mut n = p.lock().unwrap();
                *n += 1;
                if *n <= fail_first {
                    return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                }
                e.lock().unwrap().push(serde_json::from_str(&body).unwrap());
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cb", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { url, events, posts }
}

impl Receiver {
    pub fn of_type(&self, event_type: i64) -> Vec<Value> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e["event_type"] == event_type)
            .cloned()
            .collect()
    }

    pub async fn wait_for(&self, event_type: i64, count: usize, limit: Duration) -> Vec<Value> {
        let deadline = Instant::now() + limit;
        loop {
            let found = self.of_type(event_type);
            if found.len() >= count || Instant::now() > deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Top-level MP4 box types of a file, in order.
pub fn mp4_boxes(path: &std::path::Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + 8 <= bytes.len() {
        let small = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as u64;
        let size = if small == 1 {
            u64::from_be_bytes(bytes[at + 8..at + 16].try_into().unwrap())
        } else {
            small
        } as usize;
        out.push(String::from_utf8_lossy(&bytes[at + 4..at + 8]).into_owned());
        if size < 8 {
            break;
        }
        at += size;
    }
    out
}
