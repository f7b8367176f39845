//! A scriptable RTMP publisher for the data-plane tests (rml_rtmp's client session):
//! exact app and stream names, the status of each publish, tags sent with any
//! timestamps, and whether the server closed the connection.

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use liverec::formats::flv::demux::{FlvDemuxer, FlvTag, TagKind};
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::rml_amf0::Amf0Value;
use rml_rtmp::sessions::{
    ClientSession, ClientSessionConfig, ClientSessionEvent, ClientSessionResult, PublishRequestType,
};
use rml_rtmp::time::RtmpTimestamp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Publisher {
    socket: TcpStream,
    session: ClientSession,
}

/// What the server answered to a publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Accepted,
    /// An `onStatus` code (`NetStream.Publish.BadName`, …).
    Refused(String),
    /// The connection closed.
    Closed,
    /// No answer within 10 s.
    Silent,
}

impl Publisher {
    /// Connects to `rtmp://127.0.0.1:PORT/APP` (tcUrl host `host`).
    pub async fn connect(port: u16, app: &str) -> Publisher {
        let mut socket = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        socket.set_nodelay(true).unwrap();
        let mut hs = Handshake::new(PeerType::Client);
        socket
            .write_all(&hs.generate_outbound_p0_and_p1().unwrap())
            .await
            .unwrap();
        let mut buf = vec![0u8; 8192];
        let remaining = loop {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed during the handshake");
            match hs.process_bytes(&buf[..n]).unwrap() {
                HandshakeProcessResult::InProgress { response_bytes } => {
                    socket.write_all(&response_bytes).await.unwrap()
                }
                HandshakeProcessResult::Completed {
                    response_bytes,
                    remaining_bytes,
                } => {
                    socket.write_all(&response_bytes).await.unwrap();
                    break remaining_bytes;
                }
            }
        };
        let mut config = ClientSessionConfig::new();
        config.tc_url = Some(format!("rtmp://127.0.0.1:{port}/{app}"));
        let (session, results) = ClientSession::new(config).unwrap();
        let mut p = Publisher { socket, session };
        p.send_results(results).await;
        let connect = p.session.request_connection(app.to_owned()).unwrap();
        p.send_results(vec![connect]).await;
        let answer = p
            .until(remaining, |e| {
                matches!(e, ClientSessionEvent::ConnectionRequestAccepted)
            })
            .await;
        assert_eq!(answer, Answer::Accepted, "connect to app {app:?}");
        p
    }

    async fn send_results(&mut self, results: Vec<ClientSessionResult>) {
        for r in results {
            if let ClientSessionResult::OutboundResponse(packet) = r {
                // A closed connection shows in the next read.
                let _ = self.socket.write_all(&packet.bytes).await;
            }
        }
    }

    /// Reads until an event `accepted` likes, a refusal, or the end of the connection.
    async fn until(
        &mut self,
        pending: Vec<u8>,
        accepted: fn(&ClientSessionEvent) -> bool,
    ) -> Answer {
        let mut input = pending;
        let mut buf = vec![0u8; 65536];
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if !input.is_empty() {
                let results = match self.session.handle_input(&input) {
                    Ok(r) => r,
                    Err(_) => return Answer::Closed,
                };
                input.clear();
                let mut out = Vec::new();
                let mut answer = None;
                for r in results {
                    match r {
                        ClientSessionResult::RaisedEvent(e) if accepted(&e) => {
                            answer = Some(Answer::Accepted)
                        }
                        ClientSessionResult::RaisedEvent(
                            ClientSessionEvent::UnhandleableOnStatusCode { code },
                        ) => answer = Some(Answer::Refused(code)),
                        ClientSessionResult::RaisedEvent(
                            ClientSessionEvent::ConnectionRequestRejected { description },
                        ) => answer = Some(Answer::Refused(description)),
                        // rml_rtmp's servers refuse with an `_error` carrying the status
                        // object (ffmpeg and librtmp stop on it).
                        ClientSessionResult::RaisedEvent(
                            ClientSessionEvent::UnknownTransactionResultReceived {
                                additional_values,
                                ..
                            },
                        ) => answer = Some(Answer::Refused(status_code(&additional_values))),
                        other => out.push(other),
                    }
                }
                self.send_results(out).await;
                if let Some(answer) = answer {
                    return answer;
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.socket.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return Answer::Closed,
                Ok(Ok(n)) => input.extend_from_slice(&buf[..n]),
                Err(_) => return Answer::Silent,
            }
        }
    }

    /// Publishes `stream_key` (`name[?query]`); the server's answer.
    pub async fn publish(&mut self, stream_key: &str) -> Answer {
        let request = match self
            .session
            .request_publishing(stream_key.to_owned(), PublishRequestType::Live)
        {
            Ok(r) => r,
            Err(e) => panic!("publish request: {e:?}"),
        };
        self.send_results(vec![request]).await;
        self.until(Vec::new(), |e| {
            matches!(e, ClientSessionEvent::PublishRequestAccepted)
        })
        .await
    }

    /// Sends a `publish` command for `stream_key` on the publishing stream while
    /// already publishing (rml_rtmp's client session refuses to), and returns the
    /// server's answer.
    pub async fn publish_again(&mut self, stream_key: &str) -> Answer {
        use rml_rtmp::chunk_io::ChunkSerializer;
        use rml_rtmp::messages::RtmpMessage;
        let command = RtmpMessage::Amf0Command {
            command_name: "publish".into(),
            transaction_id: 0.0,
            command_object: Amf0Value::Null,
            additional_arguments: vec![
                Amf0Value::Utf8String(stream_key.into()),
                Amf0Value::Utf8String("live".into()),
            ],
        };
        let payload = command
            .into_message_payload(RtmpTimestamp::new(0), 1)
            .unwrap();
        let mut serializer = ChunkSerializer::new();
        // The chunk size this client announced; full headers need no earlier state.
        let _ = serializer
            .set_max_chunk_size(ClientSessionConfig::new().chunk_size, RtmpTimestamp::new(0));
        let packet = serializer.serialize(&payload, true, false).unwrap();
        let _ = self.socket.write_all(&packet.bytes).await;
        self.until(Vec::new(), |_| false).await
    }

    /// Sends one audio or video tag with the timestamp `ms`.
    pub async fn send(&mut self, tag: &FlvTag, ms: u32) {
        let time = RtmpTimestamp::new(ms);
        let packet = match tag.kind {
            TagKind::Video => self
                .session
                .publish_video_data(tag.data.clone(), time, false),
            TagKind::Audio => self
                .session
                .publish_audio_data(tag.data.clone(), time, false),
            _ => return,
        };
        if let Ok(packet) = packet {
            self.send_results(vec![packet]).await;
        }
    }

    /// Sends `tags` paced in real time (by their own timestamps, from the first), each
    /// with the timestamp `stamp(index, tag)`.
    pub async fn replay(&mut self, tags: &[FlvTag], stamp: impl Fn(usize, &FlvTag) -> u32) {
        let start = Instant::now();
        let first = tags.first().map_or(0, |t| t.timestamp_ms);
        for (i, tag) in tags.iter().enumerate() {
            let due = Duration::from_millis(u64::from(tag.timestamp_ms - first));
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                tokio::time::sleep(wait).await;
            }
            self.send(tag, stamp(i, tag)).await;
        }
    }

    /// Whether the server closes the connection within `limit`.
    pub async fn closed_within(&mut self, limit: Duration) -> bool {
        let mut buf = vec![0u8; 65536];
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.socket.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => {}
                Err(_) => return false,
            }
        }
    }

    /// Ends the push (unpublish) and closes the connection.
    pub async fn close(mut self) {
        if let Ok(results) = self.session.stop_publishing() {
            self.send_results(results).await;
        }
        let _ = self.socket.shutdown().await;
    }
}

fn status_code(values: &[Amf0Value]) -> String {
    values
        .iter()
        .find_map(|v| match v {
            Amf0Value::Object(o) => match o.get("code") {
                Some(Amf0Value::Utf8String(code)) => Some(code.clone()),
                _ => None,
            },
            _ => None,
        })
        .unwrap_or_default()
}

/// H.264 (1 s GOP, no B-frames) + AAC test media, made once per path by ffmpeg.
pub fn media_flv(path: &Path, seconds: u32) -> Vec<FlvTag> {
    if !path.exists() {
        let status = std::process::Command::new("ffmpeg")
            .args([
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=320x240:rate=25",
            ])
            .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"])
            .args([
                "-t",
                &seconds.to_string(),
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
            ])
            .args(["-bf", "0", "-g", "25", "-c:a", "aac", "-f", "flv"])
            .arg(path)
            .status()
            .expect("ffmpeg is needed (scripts/test-all.sh installs it)");
        assert!(status.success());
    }
    flv_tags(path)
}

/// The audio and video tags of an FLV file.
pub fn flv_tags(path: &Path) -> Vec<FlvTag> {
    let mut demuxer = FlvDemuxer::new();
    demuxer.push(&std::fs::read(path).unwrap());
    let mut tags = Vec::new();
    while let Ok(Some(tag)) = demuxer.pull() {
        if matches!(tag.kind, TagKind::Audio | TagKind::Video) {
            tags.push(tag);
        }
    }
    while let Ok(Some(tag)) = demuxer.pull_final() {
        if matches!(tag.kind, TagKind::Audio | TagKind::Video) {
            tags.push(tag);
        }
    }
    tags
}

/// Bytes of a tag payload (for building tags by hand).
pub fn tag(kind: TagKind, ms: u32, data: &[u8]) -> FlvTag {
    FlvTag {
        offset: 0,
        kind,
        timestamp_ms: ms,
        data: Bytes::copy_from_slice(data),
    }
}
