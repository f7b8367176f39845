//! A connection's RTMP session: what `rml_rtmp` makes of the bytes, the publish and its
//! checks, media into the push.

use crate::server::data::stream::MixRole;
use rml_rtmp::chunk_io::ChunkDeserializer;
use rml_rtmp::messages::RtmpMessage;
use rml_rtmp::rml_amf0::Amf0Value;
use rml_rtmp::sessions::{ServerSessionEvent, ServerSessionResult};

use super::{Conn, FEED_BYTES, MAX_CHUNK_SIZE, MAX_PENDING_BYTES, MAX_PUBLISHES_PER_CONNECTION};
use crate::formats::flv::demux::{FlvTag, TagKind};
use crate::formats::flv::ingest::FlvIngest;
use crate::media::Input;
use crate::server::data::error::DataError;
use crate::server::data::push::{Admitted, PublishRequest, Refusal, RefusalKind};

impl Conn {
    pub(super) async fn input(&mut self, bytes: &[u8]) -> Result<(), DataError> {
        let mut results = Vec::new();
        self.feed(bytes, &mut results)?;
        self.results(results).await
    }

    /// Feeds received bytes to the RTMP session, at most [`FEED_BYTES`] at a time (it
    /// keeps unparsed input in a buffer of its own, which then stays small).
    pub(super) fn feed(
        &mut self,
        bytes: &[u8],
        results: &mut Vec<ServerSessionResult>,
    ) -> Result<(), DataError> {
        for piece in bytes.chunks(FEED_BYTES) {
            self.pending_bytes += piece.len();
            if self.pending_bytes > MAX_PENDING_BYTES {
                return Err(DataError::Limit(format!(
                    "{} bytes without a complete message",
                    self.pending_bytes
                )));
            }
            if let Some(shadow) = self.shadow.as_mut() {
                match shadow_read(shadow, piece) {
                    Shadow::Pending => {}
                    Shadow::Connect(url) => {
                        self.tc_url = Some(url);
                        self.shadow = None;
                    }
                    Shadow::ChunkTooLarge(size) => {
                        return Err(DataError::Limit(format!(
                            "chunk size {size} > {MAX_CHUNK_SIZE}"
                        )))
                    }
                    Shadow::Broken => self.shadow = None,
                }
            }
            let produced = self
                .rtmp
                .handle_input(piece)
                .map_err(|e| DataError::Protocol(format!("{e:?}")))?;
            if produced
                .iter()
                .any(|r| !matches!(r, ServerSessionResult::OutboundResponse(_)))
            {
                self.pending_bytes = 0;
            }
            results.extend(produced);
        }
        Ok(())
    }

    pub(super) async fn results(
        &mut self,
        results: Vec<ServerSessionResult>,
    ) -> Result<(), DataError> {
        let mut queue = std::collections::VecDeque::from(results);
        while let Some(result) = queue.pop_front() {
            match result {
                ServerSessionResult::OutboundResponse(packet) => {
                    self.out.extend_from_slice(&packet.bytes)
                }
                ServerSessionResult::RaisedEvent(event) => {
                    self.pending_bytes = 0;
                    queue.extend(self.event(event).await?);
                }
                ServerSessionResult::UnhandleableMessageReceived(_) => self.pending_bytes = 0,
            }
        }
        Ok(())
    }

    async fn event(
        &mut self,
        event: ServerSessionEvent,
    ) -> Result<Vec<ServerSessionResult>, DataError> {
        let protocol =
            |e: rml_rtmp::sessions::ServerSessionError| DataError::Protocol(format!("{e:?}"));
        match event {
            ServerSessionEvent::ClientChunkSizeChanged { new_chunk_size }
                if new_chunk_size > MAX_CHUNK_SIZE =>
            {
                Err(DataError::Limit(format!(
                    "chunk size {new_chunk_size} > {MAX_CHUNK_SIZE}"
                )))
            }
            ServerSessionEvent::ConnectionRequested { request_id, .. } => {
                self.rtmp.accept_request(request_id).map_err(protocol)
            }
            ServerSessionEvent::PublishStreamRequested {
                request_id,
                app_name,
                stream_key,
                ..
            } => self.publish(request_id, &app_name, &stream_key).await,
            ServerSessionEvent::PublishStreamFinished { .. } => {
                self.end_push("unpublished").await;
                Ok(Vec::new())
            }
            ServerSessionEvent::VideoDataReceived {
                data, timestamp, ..
            } => {
                self.media(TagKind::Video, timestamp.value, data).await;
                Ok(Vec::new())
            }
            ServerSessionEvent::AudioDataReceived {
                data, timestamp, ..
            } => {
                self.media(TagKind::Audio, timestamp.value, data).await;
                Ok(Vec::new())
            }
            ServerSessionEvent::PlayStreamRequested { request_id, .. } => self
                .rtmp
                .reject_request(
                    request_id,
                    "NetStream.Play.Failed",
                    "liverec records; it does not play",
                )
                .map_err(protocol),
            _ => Ok(Vec::new()),
        }
    }

    /// A `publish`: a second one on the connection is refused and the connection
    /// dropped; otherwise the push's checks decide ([`Admitted::check`]).
    async fn publish(
        &mut self,
        request_id: u32,
        app_name: &str,
        stream_key: &str,
    ) -> Result<Vec<ServerSessionResult>, DataError> {
        if self.publishes >= MAX_PUBLISHES_PER_CONNECTION || self.push.is_some() {
            // Refused, then dropped: the status goes out before the connection closes.
            let refusal = refuse(RefusalKind::BadName, "one publish per connection");
            for result in self.reject(request_id, &refusal)? {
                if let ServerSessionResult::OutboundResponse(packet) = result {
                    self.out.extend_from_slice(&packet.bytes);
                }
            }
            return Err(DataError::Limit(
                "a second publish on one connection".into(),
            ));
        }
        self.publishes += 1;
        let request = PublishRequest {
            app: app_name.to_owned(),
            stream_key: stream_key.to_owned(),
            url: self.tc_url.clone().unwrap_or_default(),
            peer: self.peer,
            local: self.local,
            protocol: self.protocol,
            mix: MixRole::None,
        };
        let control = self.control_tx.clone();
        let admitted = match Admitted::check(&self.app, &mut self.slot, request, control).await {
            Ok(admitted) => admitted,
            Err(refusal) => return self.reject(request_id, &refusal),
        };
        let results = match self.rtmp.accept_request(request_id) {
            Ok(results) => results,
            Err(e) => {
                admitted.abandon(&mut self.slot).await;
                return Err(DataError::Protocol(format!("{e:?}")));
            }
        };
        self.ingest = FlvIngest::default();
        self.push = Some(admitted.start().await);
        Ok(results)
    }

    /// Audio or video from the publisher, through the FLV adapter into the push.
    async fn media(&mut self, kind: TagKind, timestamp_ms: u32, data: bytes::Bytes) {
        let Some(push) = self.push.as_mut() else {
            return;
        };
        // rml_rtmp assembles each message in a buffer of its own: shared, not copied.
        let tag = FlvTag {
            offset: 0,
            kind,
            timestamp_ms,
            data,
        };
        let input = self.ingest.push_tag(&tag);
        if !matches!(input, Input::Nothing) {
            push.input(&input).await;
        }
        // The other tracks of a multitrack packet (MP4 outputs record them).
        while let Some(more) = self.ingest.take_more() {
            push.input(&more).await;
        }
    }

    /// Ends the connection's push, if it has one.
    pub(super) async fn end_push(&mut self, why: &str) {
        if let Some(push) = self.push.take() {
            push.end(&mut self.slot, why).await;
        }
    }

    fn reject(
        &mut self,
        request_id: u32,
        refusal: &Refusal,
    ) -> Result<Vec<ServerSessionResult>, DataError> {
        let code = match refusal.kind {
            RefusalKind::BadName => "NetStream.Publish.BadName",
            RefusalKind::Unauthorized => "NetStream.Publish.Unauthorized",
            RefusalKind::NoRoom => "NetStream.Publish.Rejected",
        };
        tracing::warn!(peer = %self.peer, code, why = %refusal.reason, "publish rejected");
        self.app.metrics.pushes_rejected.inc();
        self.rtmp
            .reject_request(request_id, code, &refusal.reason)
            .map_err(|e| DataError::Protocol(format!("{e:?}")))
    }
}

fn refuse(kind: RefusalKind, reason: &str) -> Refusal {
    Refusal {
        kind,
        reason: reason.to_owned(),
    }
}

/// What the shadow deserializer found before `connect`.
enum Shadow {
    /// Still waiting for `connect`.
    Pending,
    /// The tcUrl (empty when absent).
    Connect(String),
    /// A SetChunkSize above [`MAX_CHUNK_SIZE`].
    ChunkTooLarge(u32),
    /// Bytes the deserializer rejects (the session will report them).
    Broken,
}

/// Reads the `connect` command's tcUrl from the first messages, checking the chunk size
/// the client announces on the way.
fn shadow_read(shadow: &mut ChunkDeserializer, bytes: &[u8]) -> Shadow {
    let mut input = bytes;
    loop {
        let payload = match shadow.get_next_message(input) {
            Ok(Some(p)) => p,
            Ok(None) => return Shadow::Pending,
            Err(_) => return Shadow::Broken,
        };
        input = &[];
        match payload.to_rtmp_message() {
            Ok(RtmpMessage::SetChunkSize { size }) if size > MAX_CHUNK_SIZE => {
                return Shadow::ChunkTooLarge(size)
            }
            Ok(RtmpMessage::SetChunkSize { size }) => {
                if shadow.set_max_chunk_size(size as usize).is_err() {
                    return Shadow::Broken;
                }
            }
            Ok(RtmpMessage::Amf0Command {
                command_name,
                command_object: Amf0Value::Object(properties),
                ..
            }) if command_name == "connect" => {
                return Shadow::Connect(match properties.get("tcUrl") {
                    Some(Amf0Value::Utf8String(url)) => url.clone(),
                    _ => String::new(),
                });
            }
            Ok(_) => {}
            Err(_) => return Shadow::Broken,
        }
    }
}
