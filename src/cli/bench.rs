//! `liverec bench publish --streams N --input FILE.flv [--url rtmp://HOST:PORT/APP/STREAM]
//! [--seconds S] [--stagger S]`: a lightweight load publisher. It reads the FLV once,
//! then replays its audio and video tags in real time over N RTMP connections
//! (`rml_rtmp`'s client session, one tokio task each, tags shared by reference), looping
//! the input with continuous timestamps until S seconds have passed. Stream `k` is
//! `STREAM-k` when N > 1; the URL's query string (`?txSecret=…`) is kept.
//!
//! Prints a JSON summary on stdout: streams published, frames sent (total and the
//! smallest per stream), bytes, failures — the recorder's frame counts are compared with
//! it. One publisher process costs a fraction of N ffmpeg processes, so hundreds of
//! streams fit on a small machine.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clap::{Args, Subcommand};
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ClientSession, ClientSessionConfig, ClientSessionEvent, ClientSessionResult, PublishRequestType,
};
use rml_rtmp::time::RtmpTimestamp;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{print_json, CliError};
use crate::formats::flv::demux::{FlvDemuxer, TagKind};

/// Most streams one publisher opens.
pub const MAX_STREAMS: usize = 5000;
/// Largest input read into memory.
pub const MAX_INPUT_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// Tags due within this tick are sent together.
const TICK: Duration = Duration::from_millis(20);
/// Connect, handshake and publish must complete within this.
const SETUP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a publisher waits, after its last frame, for the server to read everything.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, Subcommand)]
pub(super) enum BenchCommand {
    /// Replay an FLV file in real time over many RTMP connections.
    Publish(PublishArgs),
}

#[derive(Debug, Args)]
pub(super) struct PublishArgs {
    /// Concurrent streams.
    #[arg(long, default_value_t = 1)]
    streams: usize,
    /// FLV file to replay (audio and video tags).
    #[arg(long)]
    input: PathBuf,
    /// Push URL; stream k gets the name STREAM-k when --streams > 1.
    #[arg(long, default_value = "rtmp://127.0.0.1:1935/live/bench")]
    url: String,
    /// Seconds to publish (the input loops); default: the input's length once.
    #[arg(long)]
    seconds: Option<f64>,
    /// Spread the stream starts over this many seconds.
    #[arg(long, default_value_t = 2.0)]
    stagger: f64,
}

struct Tag {
    video: bool,
    ms: u32,
    data: Bytes,
}

struct Target {
    host_port: String,
    app: String,
    stream: String,
    query: String,
    tc_url: String,
}

fn parse_url(url: &str) -> Result<Target, CliError> {
    let bad = || {
        CliError::Usage(format!(
            "--url must be rtmp://HOST[:PORT]/APP/STREAM, not {url}"
        ))
    };
    let rest = url.strip_prefix("rtmp://").ok_or_else(bad)?;
    let (authority, path) = rest.split_once('/').ok_or_else(bad)?;
    let (app, stream_key) = path.rsplit_once('/').ok_or_else(bad)?;
    let (stream, query) = stream_key.split_once('?').unwrap_or((stream_key, ""));
    if authority.is_empty() || app.is_empty() || stream.is_empty() {
        return Err(bad());
    }
    let host_port = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:1935")
    };
    Ok(Target {
        host_port,
        app: app.to_owned(),
        stream: stream.to_owned(),
        query: query.to_owned(),
        tc_url: format!("rtmp://{authority}/{app}"),
    })
}

fn read_tags(path: &PathBuf) -> Result<Vec<Tag>, CliError> {
    let io = |source| CliError::Read {
        path: path.display().to_string(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_INPUT_BYTES {
        return Err(CliError::TooLarge {
            path: path.display().to_string(),
            limit: MAX_INPUT_BYTES,
        });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let mut demuxer = FlvDemuxer::new();
    demuxer.push(&bytes);
    let mut tags = Vec::new();
    let mut last = false;
    loop {
        let tag = match (last, demuxer.pull()) {
            (false, Ok(Some(tag))) => tag,
            (false, _) => {
                last = true;
                continue;
            }
            (true, _) => match demuxer.pull_final() {
                Ok(Some(tag)) => tag,
                _ => break,
            },
        };
        let video = match tag.kind {
            TagKind::Video => true,
            TagKind::Audio => false,
            _ => continue,
        };
        tags.push(Tag {
            video,
            ms: tag.timestamp_ms,
            data: tag.data,
        });
    }
    if tags.is_empty() {
        return Err(CliError::Usage(format!(
            "{}: no audio or video tags",
            path.display()
        )));
    }
    Ok(tags)
}

/// Runs `liverec bench …`.
pub(super) fn run(command: BenchCommand) -> Result<ExitCode, CliError> {
    let BenchCommand::Publish(args) = command;
    if args.streams == 0 || args.streams > MAX_STREAMS {
        return Err(CliError::Usage(format!(
            "--streams must be 1 to {MAX_STREAMS}"
        )));
    }
    let target = parse_url(&args.url)?;
    let tags = Arc::new(read_tags(&args.input)?);
    let first = tags.first().map_or(0, |t| t.ms);
    let last = tags.last().map_or(0, |t| t.ms);
    let loop_ms = u64::from(last.saturating_sub(first)) + 40;
    let seconds = args
        .seconds
        .unwrap_or(loop_ms as f64 / 1000.0)
        .clamp(0.1, 7.0 * 86_400.0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Write)?;
    let summary = runtime.block_on(async move {
        let mut set = tokio::task::JoinSet::new();
        let target = Arc::new(target);
        for k in 0..args.streams {
            let stream = if args.streams == 1 {
                target.stream.clone()
            } else {
                format!("{}-{k}", target.stream)
            };
            let delay = Duration::from_secs_f64(args.stagger.max(0.0) * k as f64 / args.streams as f64);
            let (tags, target) = (Arc::clone(&tags), Arc::clone(&target));
            set.spawn(async move {
                tokio::time::sleep(delay).await;
                publish_one(&target, &stream, &tags, loop_ms, seconds).await
            });
        }
        let (mut ok, mut frames, mut min_frames, mut bytes, mut errors) = (0, 0u64, u64::MAX, 0u64, Vec::new());
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(Ok((f, b))) => {
                    ok += 1;
                    frames += f;
                    bytes += b;
                    min_frames = min_frames.min(f);
                }
                Ok(Err(e)) => errors.push(e),
                Err(e) => errors.push(e.to_string()),
            }
        }
        json!({
            "streams": args.streams, "published": ok, "seconds": seconds,
            "framesSent": frames, "minFramesPerStream": if ok > 0 { min_frames } else { 0 },
            "bytesSent": bytes, "failures": errors.len(), "firstErrors": errors.iter().take(5).collect::<Vec<_>>(),
        })
    });
    print_json(&summary)?;
    Ok(if summary.get("failures") == Some(&json!(0)) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn handshake(socket: &mut TcpStream) -> Result<Vec<u8>, String> {
    let mut hs = Handshake::new(PeerType::Client);
    let p0p1 = hs
        .generate_outbound_p0_and_p1()
        .map_err(|e| format!("{e:?}"))?;
    socket.write_all(&p0p1).await.map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 8192];
    loop {
        let n = socket.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed during the handshake".into());
        }
        match hs
            .process_bytes(buf.get(..n).unwrap_or_default())
            .map_err(|e| format!("{e:?}"))?
        {
            HandshakeProcessResult::InProgress { response_bytes } => socket
                .write_all(&response_bytes)
                .await
                .map_err(|e| e.to_string())?,
            HandshakeProcessResult::Completed {
                response_bytes,
                remaining_bytes,
            } => {
                socket
                    .write_all(&response_bytes)
                    .await
                    .map_err(|e| e.to_string())?;
                return Ok(remaining_bytes);
            }
        }
    }
}

/// Feeds server bytes to the session until `want` is raised; writes its responses.
async fn until(
    socket: &mut TcpStream,
    session: &mut ClientSession,
    mut pending: Vec<u8>,
    want: fn(&ClientSessionEvent) -> bool,
) -> Result<(), String> {
    let mut buf = vec![0u8; 8192];
    loop {
        let results = session
            .handle_input(&pending)
            .map_err(|e| format!("{e:?}"))?;
        let mut found = false;
        for result in results {
            match result {
                ClientSessionResult::OutboundResponse(p) => socket
                    .write_all(&p.bytes)
                    .await
                    .map_err(|e| e.to_string())?,
                ClientSessionResult::RaisedEvent(
                    ClientSessionEvent::ConnectionRequestRejected { description },
                ) => return Err(format!("connect rejected: {description}")),
                ClientSessionResult::RaisedEvent(ClientSessionEvent::UnhandleableAmf0Command {
                    command_name,
                    additional_values,
                    ..
                }) if command_name == "onStatus" || command_name == "_error" => {
                    return Err(format!("{command_name}: {additional_values:?}"))
                }
                ClientSessionResult::RaisedEvent(e) => found |= want(&e),
                _ => {}
            }
        }
        if found {
            return Ok(());
        }
        let n = socket.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed by the server".into());
        }
        pending = buf.get(..n).unwrap_or_default().to_vec();
    }
}

async fn setup(target: &Target, stream: &str) -> Result<(TcpStream, ClientSession), String> {
    let mut socket = TcpStream::connect(&target.host_port)
        .await
        .map_err(|e| format!("connect {}: {e}", target.host_port))?;
    let _ = socket.set_nodelay(true);
    let remaining = handshake(&mut socket).await?;
    let mut config = ClientSessionConfig::new();
    config.tc_url = Some(target.tc_url.clone());
    let (mut session, results) = ClientSession::new(config).map_err(|e| format!("{e:?}"))?;
    for r in results {
        if let ClientSessionResult::OutboundResponse(p) = r {
            socket
                .write_all(&p.bytes)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    if let ClientSessionResult::OutboundResponse(p) = session
        .request_connection(target.app.clone())
        .map_err(|e| format!("{e:?}"))?
    {
        socket
            .write_all(&p.bytes)
            .await
            .map_err(|e| e.to_string())?;
    }
    until(&mut socket, &mut session, remaining, |e| {
        matches!(e, ClientSessionEvent::ConnectionRequestAccepted)
    })
    .await?;
    let key = if target.query.is_empty() {
        stream.to_owned()
    } else {
        format!("{stream}?{}", target.query)
    };
    if let ClientSessionResult::OutboundResponse(p) = session
        .request_publishing(key, PublishRequestType::Live)
        .map_err(|e| format!("{e:?}"))?
    {
        socket
            .write_all(&p.bytes)
            .await
            .map_err(|e| e.to_string())?;
    }
    until(&mut socket, &mut session, Vec::new(), |e| {
        matches!(e, ClientSessionEvent::PublishRequestAccepted)
    })
    .await?;
    Ok((socket, session))
}

async fn publish_one(
    target: &Target,
    stream: &str,
    tags: &[Tag],
    loop_ms: u64,
    seconds: f64,
) -> Result<(u64, u64), String> {
    let (socket, mut session) = tokio::time::timeout(SETUP_TIMEOUT, setup(target, stream))
        .await
        .map_err(|_| format!("{stream}: setup timed out"))?
        .map_err(|e| format!("{stream}: {e}"))?;
    let (mut reader, mut writer) = socket.into_split();
    // The server's acknowledgements and pings are read and dropped.
    let drain = tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while matches!(reader.read(&mut buf).await, Ok(n) if n > 0) {}
    });
    let (frames, bytes) = replay(&mut writer, &mut session, tags, loop_ms, seconds)
        .await
        .map_err(|e| format!("{stream}: {e}"))?;
    for result in session.stop_publishing().unwrap_or_default() {
        if let ClientSessionResult::OutboundResponse(p) = result {
            let _ = writer.write_all(&p.bytes).await;
        }
    }
    let _ = writer.shutdown().await;
    // The server reads up to this end and closes. Until then the server's acknowledgements
    // are still read: closing with some unread would reset the connection, and the kernel
    // would drop what is still queued to send (a server behind real time has not taken it
    // yet) — frames counted as sent but never delivered.
    if tokio::time::timeout(DRAIN_TIMEOUT, drain).await.is_err() {
        return Err(format!(
            "{stream}: the server did not read to the end within {DRAIN_TIMEOUT:?}"
        ));
    }
    Ok((frames, bytes))
}

/// Sends `tags` in real time, looped every `loop_ms`, for `seconds`: the frames and
/// payload bytes sent.
async fn replay(
    writer: &mut tokio::net::tcp::OwnedWriteHalf,
    session: &mut ClientSession,
    tags: &[Tag],
    loop_ms: u64,
    seconds: f64,
) -> std::io::Result<(u64, u64)> {
    let base = u64::from(tags.first().map_or(0, |t| t.ms));
    let end_ms = (seconds * 1000.0) as u64;
    let start = tokio::time::Instant::now();
    let mut ticker = tokio::time::interval(TICK);
    let (mut i, mut lap, mut frames, mut bytes) = (0usize, 0u64, 0u64, 0u64);
    let mut out = Vec::with_capacity(256 * 1024);
    'send: loop {
        ticker.tick().await;
        let now = start.elapsed().as_millis() as u64;
        loop {
            let Some(tag) = tags.get(i) else {
                i = 0;
                lap += 1;
                continue;
            };
            let media_ms = lap * loop_ms + u64::from(tag.ms).saturating_sub(base);
            if media_ms >= end_ms {
                break 'send;
            }
            if media_ms > now {
                break;
            }
            let timestamp = RtmpTimestamp::new(media_ms as u32);
            let packet = if tag.video {
                session.publish_video_data(tag.data.clone(), timestamp, false)
            } else {
                session.publish_audio_data(tag.data.clone(), timestamp, false)
            };
            if let Ok(ClientSessionResult::OutboundResponse(p)) = packet {
                out.extend_from_slice(&p.bytes);
            }
            frames += 1;
            bytes += tag.data.len() as u64;
            i += 1;
        }
        if !out.is_empty() {
            writer.write_all(&out).await?;
            out.clear();
        }
    }
    if !out.is_empty() {
        writer.write_all(&out).await?;
    }
    Ok((frames, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = parse_url("rtmp://127.0.0.1:1936/live/cam?txSecret=a&txTime=B").unwrap();
        assert_eq!(
            (
                t.host_port.as_str(),
                t.app.as_str(),
                t.stream.as_str(),
                t.query.as_str()
            ),
            ("127.0.0.1:1936", "live", "cam", "txSecret=a&txTime=B")
        );
        assert_eq!(t.tc_url, "rtmp://127.0.0.1:1936/live");
        assert_eq!(parse_url("rtmp://h/a/s").unwrap().host_port, "h:1935");
        assert!(parse_url("http://h/a/s").is_err());
        assert!(parse_url("rtmp://h/s").is_err());
    }
}
