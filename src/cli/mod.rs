//! The native command line: offline tools over the pure core.
//!
//! - `liverec template validate FILE.json` — validates a recording template body exactly
//!   as the npm package's `validateTemplate` does; prints `{ok, errors, template}`.
//!   Exit 0 when valid, 1 when invalid, 2 when the file cannot be read or parsed.
//! - `liverec rule resolve --rules FILE.json --domain D [--app A] [--stream S]` — prints
//!   the winning rule and its priority, or `null`. The file holds an array of rules or a
//!   `DescribeLiveRecordRules` response (`{"Rules": [...]}`, optionally inside
//!   `{"Response": ...}`).
//!
//! - `liverec playlist inspect|validate|splice|clip` — the HLS playlist toolkit on files
//!   (see [`playlist`]).
//!
//! - `liverec remux INPUT.flv --to flv|hls|mp4|aac|ts [--segment S] [--out PATH]` — see [`remux`].
//! - `liverec serve [--data DIR] [--http ADDR] [--rtmp ADDR] [--rtmps ADDR] [--srt ADDR]
//!   [--config FILE]` — the
//!   recording server ([`crate::server`]).
//! - `liverec bench publish --streams N --input FILE.flv [--url URL]` — a load publisher
//!   (see [`bench`]).
//!
//! `-` reads standard input.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use serde_json::{json, Value};

mod bench;
mod playlist;
mod remux;

use crate::config::rule::{resolve, RecordRule, StreamKey};
use crate::config::template::{validate_template, TemplateIdField};

/// Largest JSON input read, bytes: configuration files are small; a mistaken path to a
/// media file should fail fast instead of filling memory.
pub const MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;

/// Why a command could not run (as opposed to reporting an invalid input).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path given.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file exceeds the size accepted for its kind.
    #[error("{path} is larger than {limit} bytes")]
    TooLarge {
        /// The path given.
        path: String,
        /// The limit.
        limit: u64,
    },
    /// The file is not UTF-8 text.
    #[error("{path} is not UTF-8 text (invalid byte at offset {offset})")]
    NotUtf8 {
        /// The path given.
        path: String,
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// A playlist operation failed.
    #[error("{context}: {source}")]
    Playlist {
        /// Which file or operation.
        context: String,
        /// Why.
        source: crate::formats::hls::PlaylistError,
    },
    /// Arguments that do not fit together.
    #[error("{0}")]
    Usage(String),
    /// The file is not JSON.
    #[error("{path} is not valid JSON: {source}")]
    Json {
        /// The path given.
        path: String,
        /// Where and why parsing failed.
        source: serde_json::Error,
    },
    /// The rules file has the wrong shape.
    #[error("{path}: {message}")]
    Shape {
        /// The path given.
        path: String,
        /// What is wrong, with the JSON path.
        message: String,
    },
    /// Writing the result failed.
    #[error("cannot write the result: {0}")]
    Write(#[from] std::io::Error),
}

#[derive(Debug, Parser)]
#[command(name = "liverec", version, about = "Self-hosted live stream recording")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Recording templates.
    #[command(subcommand)]
    Template(TemplateCommand),
    /// Recording rules.
    #[command(subcommand)]
    Rule(RuleCommand),
    /// HLS playlists: inspect, validate, splice, clip.
    #[command(subcommand)]
    Playlist(playlist::PlaylistCommand),
    /// Run the recording server (the reference API on --http).
    Serve(ServeArgs),
    /// Remux an FLV file without re-encoding.
    Remux(remux::RemuxArgs),
    /// Load generation: `bench publish` replays an FLV over many RTMP connections.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Data directory: metadata database and recordings.
    #[arg(long, default_value = "./liverec-data")]
    data: PathBuf,
    /// HTTP API address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    http: std::net::SocketAddr,
    /// RTMP ingest address.
    #[arg(long, default_value = "127.0.0.1:1935")]
    rtmp: std::net::SocketAddr,
    /// RTMPS ingest address (off by default; the certificate is `[tls]` in --config).
    #[arg(long)]
    rtmps: Option<std::net::SocketAddr>,
    /// SRT ingest address, UDP (off by default; `[srt]` in --config tunes it).
    #[arg(long)]
    srt: Option<std::net::SocketAddr>,
    /// Optional TOML settings file: credentials, limits, default push domain, public URL,
    /// callback delivery, retention sweep (see src/server/settings.rs).
    #[arg(long)]
    config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum TemplateCommand {
    /// Validate a CreateLiveRecordTemplate body (JSON); exit 1 when invalid.
    Validate {
        /// JSON file, or - for standard input.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum RuleCommand {
    /// Print the rule that applies to a stream, and its priority (1 = most specific).
    Resolve(ResolveArgs),
}

#[derive(Debug, Args)]
struct ResolveArgs {
    /// JSON file with an array of rules or a DescribeLiveRecordRules response.
    #[arg(long)]
    rules: PathBuf,
    /// Push domain.
    #[arg(long)]
    domain: String,
    /// Push path (AppName).
    #[arg(long, default_value = "")]
    app: String,
    /// Stream name.
    #[arg(long, default_value = "")]
    stream: String,
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("liverec: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(command: Command) -> Result<ExitCode, CliError> {
    match command {
        Command::Template(TemplateCommand::Validate { file }) => template_validate(&file),
        Command::Rule(RuleCommand::Resolve(args)) => rule_resolve(&args),
        Command::Playlist(command) => playlist::run(command),
        Command::Serve(args) => serve(args),
        Command::Remux(args) => remux::run(&args),
        Command::Bench(command) => bench::run(command),
    }
}

fn serve(args: ServeArgs) -> Result<ExitCode, CliError> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "liverec=info".into());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .try_init();
    let env = |name: &str| std::env::var(name).ok();
    let mut settings = crate::server::Settings::load(
        args.data,
        args.http,
        args.rtmp,
        args.config.as_deref(),
        &env,
    )
    .map_err(|e| CliError::Usage(e.to_string()))?;
    settings.rtmps = args.rtmps;
    settings.srt = args.srt;
    settings
        .check()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Write)?;
    runtime
        .block_on(crate::server::serve(settings))
        .map_err(|e| CliError::Usage(e.to_string()))?;
    Ok(ExitCode::SUCCESS)
}

fn template_validate(file: &Path) -> Result<ExitCode, CliError> {
    let input = read_json(file)?;
    let validation = validate_template(&input, TemplateIdField::Allowed);
    print_json(&serde_json::to_value(&validation).unwrap_or(Value::Null))?;
    Ok(if validation.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn rule_resolve(args: &ResolveArgs) -> Result<ExitCode, CliError> {
    let input = read_json(&args.rules)?;
    let rules = rules_from(&input).map_err(|message| CliError::Shape {
        path: args.rules.display().to_string(),
        message,
    })?;
    let push = StreamKey::new(&args.domain, &args.app, &args.stream);
    let result = match resolve(&rules, &push) {
        Some(found) => json!({"rule": found.rule, "priority": found.priority.level()}),
        None => Value::Null,
    };
    print_json(&result)?;
    Ok(ExitCode::SUCCESS)
}

/// Extracts the rule list from an array, `{"Rules": [...]}` or `{"Response": {"Rules": [...]}}`.
pub fn rules_from(input: &Value) -> Result<Vec<RecordRule>, String> {
    let list = input
        .get("Response")
        .unwrap_or(input)
        .get("Rules")
        .unwrap_or(input);
    if !list.is_array() {
        return Err("expected an array of rules or an object with \"Rules\"".to_owned());
    }
    serde_path_to_error::deserialize(list)
        .map_err(|e| format!("rules{}: {}", path_suffix(e.path()), e.inner()))
}

fn path_suffix(path: &serde_path_to_error::Path) -> String {
    let text = path.to_string();
    if text == "." {
        String::new()
    } else if text.starts_with('[') {
        text
    } else {
        format!(".{text}")
    }
}

/// Reads a file (or standard input for `-`) of at most `limit` bytes.
fn read_input(path: &Path, limit: u64) -> Result<Vec<u8>, CliError> {
    let name = path.display().to_string();
    let read_err = |source| CliError::Read {
        path: name.clone(),
        source,
    };
    let mut bytes = Vec::new();
    if path == Path::new("-") {
        std::io::stdin()
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(read_err)?;
    } else {
        std::fs::File::open(path)
            .and_then(|f| f.take(limit + 1).read_to_end(&mut bytes))
            .map_err(read_err)?;
    }
    if bytes.len() as u64 > limit {
        return Err(CliError::TooLarge { path: name, limit });
    }
    Ok(bytes)
}

fn read_json(path: &Path) -> Result<Value, CliError> {
    let bytes = read_input(path, MAX_INPUT_BYTES)?;
    serde_json::from_slice(&bytes).map_err(|source| CliError::Json {
        path: path.display().to_string(),
        source,
    })
}

fn print_json(value: &Value) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value).map_err(std::io::Error::from)?;
    writeln!(out)?;
    Ok(())
}
