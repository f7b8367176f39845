//! A throwaway PostgreSQL cluster for integration tests: `initdb` into a fresh directory
//! under /tmp, `pg_ctl start` on a random loopback port with durability off, trust
//! authentication for user `liverec`. [`Postgres::start`] gives one cluster that `Drop`
//! stops (`pg_ctl -m fast -w stop`) and deletes; [`Postgres::shared`] gives the test
//! binary's one cluster (about a second to start), with a database per test from
//! [`Postgres::create_database`].
//!
//! Each cluster also has a watchdog shell that stops and deletes it once the test
//! process is gone (it waits for end-of-file on a pipe only this process holds), so a
//! crash or the never-dropped shared cluster leaves no server behind.
//!
//! As root (the usual container), the server runs as the `postgres` user through
//! `runuser`, since PostgreSQL refuses to run as root; otherwise the binaries run
//! directly. The binaries are PostgreSQL 15's (`LIVEREC_PG_BIN` overrides the
//! directory); without them every test using this fails, loudly.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Where Debian's postgresql-15 puts its binaries.
pub const DEFAULT_BIN: &str = "/usr/lib/postgresql/15/bin";

/// The superuser `initdb` creates (trusted on loopback).
pub const USER: &str = "liverec";

/// Ports are picked at random in this range: below Linux's ephemeral ports (32768…),
/// so the clients' own sockets do not collide with them.
const PORTS: std::ops::Range<u16> = 20000..32000;

/// Start attempts (a random port may be taken).
const ATTEMPTS: usize = 10;

/// A running cluster.
pub struct Postgres {
    /// `postgres://liverec@127.0.0.1:PORT/postgres`.
    pub url: String,
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
    watchdog: Option<(Child, ChildStdin)>,
}

fn bin_dir() -> PathBuf {
    std::env::var_os("LIVEREC_PG_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_BIN))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs PostgreSQL's `program` as the `postgres` user when we are root.
fn pg_command(program: &str) -> Command {
    let path = bin_dir().join(program);
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(path);
        c
    } else {
        Command::new(path)
    }
}

fn random() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish()
}

fn random_port() -> u16 {
    let span = u64::from(PORTS.end - PORTS.start);
    PORTS.start + (random() % span) as u16
}

fn run(mut command: Command, what: &str) -> std::process::Output {
    command.output().unwrap_or_else(|e| {
        panic!(
            "{what}: cannot run {command:?}: {e} (is PostgreSQL 15 installed in {}?)",
            bin_dir().display()
        )
    })
}

impl Postgres {
    /// Starts a new cluster; panics (failing the test) if PostgreSQL is missing or
    /// will not start.
    pub fn start() -> Postgres {
        assert!(
            bin_dir().join("initdb").exists(),
            "PostgreSQL not found: no {}/initdb (install postgresql-15 or set LIVEREC_PG_BIN)",
            bin_dir().display()
        );
        let dir = PathBuf::from(format!(
            "/tmp/liverec-pg-{}-{:x}",
            std::process::id(),
            random()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        if is_root() {
            let mut chown = Command::new("chown");
            chown.arg("postgres:").arg(&dir);
            let chown = run(chown, "chown");
            assert!(chown.status.success(), "chown: {chown:?}");
        }
        let data = dir.join("data");
        let mut initdb = pg_command("initdb");
        initdb.arg("-D").arg(&data).args([
            "-U",
            USER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ]);
        let out = run(initdb, "initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = start_on_free_port(&dir);
        let watchdog = Some(watchdog(&dir));
        Postgres {
            url: format!("postgres://{USER}@127.0.0.1:{port}/postgres"),
            port,
            dir,
            watchdog,
        }
    }

    /// The test binary's shared cluster, started on first use and stopped by its
    /// watchdog when the process exits.
    pub fn shared() -> &'static Postgres {
        static SHARED: OnceLock<Postgres> = OnceLock::new();
        SHARED.get_or_init(Postgres::start)
    }

    /// The URL of database `name` on this cluster.
    pub fn url_for(&self, name: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates a fresh, empty database (named after `prefix`, made unique); its URL.
    pub fn create_database(&self, prefix: &str) -> String {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let clean: String = prefix
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let name = format!("{clean}_{}", NEXT.fetch_add(1, Ordering::Relaxed));
        self.psql(&format!("CREATE DATABASE \"{name}\""));
        self.url_for(&name)
    }

    /// Runs `sql` in database `postgres` with psql; panics if it fails.
    pub fn psql(&self, sql: &str) -> String {
        self.psql_in("postgres", sql)
    }

    /// Runs `sql` in database `database` with psql; panics if it fails.
    pub fn psql_in(&self, database: &str, sql: &str) -> String {
        let mut c = Command::new(bin_dir().join("psql"));
        c.args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
        ])
        .args([
            "-p",
            &self.port.to_string(),
            "-U",
            USER,
            "-d",
            database,
            "-c",
            sql,
        ]);
        let out = run(c, "psql");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Its directory (data, log, socket).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }
}

/// Starts the server in `dir/data` on a random free port; retries on another port when
/// it fails (taken between our check and its bind).
fn start_on_free_port(dir: &Path) -> u16 {
    let mut last = String::new();
    for _ in 0..ATTEMPTS {
        let port = random_port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
            continue;
        }
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c synchronous_commit=off",
            dir.display()
        );
        let mut pg_ctl = pg_command("pg_ctl");
        pg_ctl
            .arg("-D")
            .arg(dir.join("data"))
            .arg("-l")
            .arg(dir.join("log"))
            .args(["-w", "-o", &options, "start"])
            .stdin(Stdio::null());
        let out = run(pg_ctl, "pg_ctl start");
        if out.status.success() {
            return port;
        }
        last = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(dir.join("log")).unwrap_or_default()
        );
    }
    panic!("PostgreSQL did not start in {ATTEMPTS} attempts: {last}");
}

/// The shell lines that stop the cluster in `dir` and delete it.
fn teardown_script(dir: &Path) -> String {
    let pg_ctl = bin_dir().join("pg_ctl");
    let runuser = if is_root() {
        "runuser -u postgres -- "
    } else {
        ""
    };
    format!(
        "{runuser}'{}' -D '{}' -m fast -w stop >/dev/null 2>&1; rm -rf '{}'",
        pg_ctl.display(),
        dir.join("data").display(),
        dir.display()
    )
}

/// A shell that tears the cluster down once its stdin closes (this process exited, or
/// dropped the pipe).
fn watchdog(dir: &Path) -> (Child, ChildStdin) {
    let script = format!("read -r _; {}", teardown_script(dir));
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    (child, stdin)
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some((mut child, stdin)) = self.watchdog.take() {
            let _ = child.kill();
            let _ = child.wait();
            drop(stdin);
        }
        let mut pg_ctl = pg_command("pg_ctl");
        pg_ctl
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "fast", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let _ = pg_ctl.status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
