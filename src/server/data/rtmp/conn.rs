//! A connection's RTMP session: what `rml_rtmp` makes of the bytes, the publish and its
//! checks, media into the push.

use crate::server::data::stream::MixRole;
use rml_rtmp::messages::{MessagePayload, RtmpMessage};
use rml_rtmp::rml_amf0::Amf0Value;
use rml_rtmp::sessions::{ServerSessionEvent, ServerSessionResult};
use rml_rtmp::time::RtmpTimestamp;

use super::{Conn, MAX_PUBLISHES_PER_CONNECTION};
use crate::formats::flv::demux::{FlvTag, TagKind};
use crate::formats::flv::ingest::FlvIngest;
use crate::formats::rtmp::{ChunkError, Message};
use crate::media::Input;
use crate::server::data::error::DataError;
use crate::server::data::push::{Admitted, PublishRequest, Refusal, RefusalKind};

/// Message type ids (RTMP specification §5.4, §7.1) the connection handles itself.
const ACKNOWLEDGEMENT: u8 = 3;
const WINDOW_ACKNOWLEDGEMENT_SIZE: u8 = 5;
const AUDIO: u8 = 8;
const VIDEO: u8 = 9;
const AMF0_COMMAND: u8 = 20;

impl Conn {
    pub(super) async fn input(&mut self, bytes: &[u8]) -> Result<(), DataError> {
        self.feed(bytes)?;
        self.messages().await
    }

    /// Demultiplexes received bytes into the connection's pending messages.
    pub(super) fn feed(&mut self, mut bytes: &[u8]) -> Result<(), DataError> {
        self.acks.count(bytes.len(), &mut self.out);
        while let Some(message) = self.chunks.pull(&mut bytes).map_err(chunk_error)? {
            self.messages.push(message);
        }
        Ok(())
    }

    /// Handles the pending messages in order: audio and video straight into the push,
    /// acknowledgement settings here, everything else through the RTMP session.
    pub(super) async fn messages(&mut self) -> Result<(), DataError> {
        let mut messages = std::mem::take(&mut self.messages);
        let mut result = Ok(());
        for message in messages.drain(..) {
            match message.type_id {
                AUDIO => self.media(TagKind::Audio, message).await,
                VIDEO => self.media(TagKind::Video, message).await,
                WINDOW_ACKNOWLEDGEMENT_SIZE => self.acks.window(&message.payload),
                ACKNOWLEDGEMENT => {}
                _ => result = self.relay(message).await,
            }
            if result.is_err() {
                break;
            }
        }
        messages.clear();
        self.messages = messages; // keeps its allocation
        result
    }

    /// A message for `rml_rtmp`'s session, chunked again (type-0 headers, its default
    /// chunk size: it sees neither Set Chunk Size nor media).
    async fn relay(&mut self, message: Message) -> Result<(), DataError> {
        let protocol = |e: &dyn std::fmt::Debug| DataError::Protocol(format!("{e:?}"));
        let payload = MessagePayload {
            timestamp: RtmpTimestamp::new(message.timestamp_ms),
            type_id: message.type_id,
            message_stream_id: message.stream_id,
            data: message.payload,
        };
        if self.tc_url.is_none() && payload.type_id == AMF0_COMMAND {
            self.tc_url = connect_url(&payload);
        }
        let packet = self
            .relay
            .serialize(&payload, true, false)
            .map_err(|e| protocol(&e))?;
        let results = self
            .rtmp
            .handle_input(&packet.bytes)
            .map_err(|e| protocol(&e))?;
        self.results(results).await
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
                ServerSessionResult::RaisedEvent(event) => queue.extend(self.event(event).await?),
                ServerSessionResult::UnhandleableMessageReceived(_) => {}
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
    async fn media(&mut self, kind: TagKind, message: Message) {
        let Some(push) = self.push.as_mut() else {
            return;
        };
        // The demultiplexer assembles each message in a buffer of its own: shared, not
        // copied.
        let tag = FlvTag {
            offset: 0,
            kind,
            timestamp_ms: message.timestamp_ms,
            data: message.payload,
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

fn chunk_error(e: ChunkError) -> DataError {
    match e {
        ChunkError::NoFirstHeader { .. } => DataError::Protocol(e.to_string()),
        _ => DataError::Limit(e.to_string()),
    }
}

/// The tcUrl of a `connect` command (empty when it has none); `None` for other messages.
fn connect_url(payload: &MessagePayload) -> Option<String> {
    match payload.to_rtmp_message() {
        Ok(RtmpMessage::Amf0Command {
            command_name,
            command_object: Amf0Value::Object(properties),
            ..
        }) if command_name == "connect" => Some(match properties.get("tcUrl") {
            Some(Amf0Value::Utf8String(url)) => url.clone(),
            _ => String::new(),
        }),
        _ => None,
    }
}
