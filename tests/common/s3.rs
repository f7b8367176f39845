//! A throwaway S3 server for the tests: `s3s-fs` (installed by `scripts/test-all.sh`) on a
//! free loopback port, serving buckets that are directories under its root. Dropping it
//! kills the server and removes the root.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Access key of the test server.
pub const ACCESS_KEY: &str = "liverec-test";
/// Secret key of the test server.
pub const SECRET_KEY: &str = "liverec-test-secret";
/// The bucket every test uses.
pub const BUCKET: &str = "recordings";

/// A running s3s-fs.
pub struct S3 {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The directory it serves (`ROOT/BUCKET/KEY` are the objects).
    pub root: PathBuf,
    child: Child,
}

impl S3 {
    /// Starts s3s-fs with bucket [`BUCKET`]; panics when it is not installed.
    pub fn start(root: &Path) -> S3 {
        std::fs::create_dir_all(root.join(BUCKET)).unwrap();
        let port = super::free_port();
        let child = Command::new("s3s-fs")
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("s3s-fs (cargo install s3s-fs --version 0.14.1 --features binary --locked)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "s3s-fs did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        S3 {
            endpoint: format!("http://127.0.0.1:{port}"),
            root: root.to_owned(),
            child,
        }
    }

    /// The `[storage]` table of a liverec config using this server under `prefix`.
    pub fn storage_toml(&self, prefix: &str) -> String {
        format!(
            "[storage]\nurl = \"s3://{BUCKET}/{prefix}\"\nendpoint = \"{}\"\nregion = \"us-east-1\"\n\
             path_style = true\nallow_http = true\naccess_key_id = \"{ACCESS_KEY}\"\n\
             secret_access_key = \"{SECRET_KEY}\"\n",
            self.endpoint
        )
    }

    /// The local path of object `key` of the bucket.
    pub fn object(&self, key: &str) -> PathBuf {
        self.root.join(BUCKET).join(key)
    }

    /// The objects under `prefix` whose names end with `.ext` (s3s-fs keeps dot-files
    /// beside them: those are not objects).
    pub fn objects(&self, prefix: &str, ext: &str) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut dirs = vec![self.root.join(BUCKET).join(prefix)];
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if path.is_dir() {
                    dirs.push(path);
                } else if !name.starts_with('.') && name.ends_with(&format!(".{ext}")) {
                    out.push(path);
                }
            }
        }
        out.sort();
        out
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
