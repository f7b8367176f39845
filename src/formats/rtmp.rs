//! RTMP chunk streams (Adobe RTMP specification 1.0, §5.3 "Chunking"): the bytes a
//! publisher sends after the handshake, demultiplexed into whole messages.
//!
//! Written by hand because the one maintained RTMP crate, `rml_rtmp`, joins its input
//! into a buffer of its own, copies each chunk out of it again and builds a typed
//! message for every audio and video payload; at a hundred streams that was a visible
//! part of the server's own work. [`ChunkDemux`] copies each payload byte once, from the
//! caller's read buffer into the message it belongs to, and hands the message over as
//! shared [`Bytes`]. The server still lets `rml_rtmp` answer commands: it gives it the
//! non-media messages again, re-chunked.
//!
//! Handled here, because they change how the following bytes are read: Set Chunk Size
//! (type 1, bounded by the caller's limit) and Abort Message (type 2). Every other
//! message is returned. Chunks of different chunk streams may interleave (the
//! specification allows it; `rml_rtmp` did not). Timestamps follow what ffmpeg and
//! librtmp write: a type-3 header that starts a message repeats the previous header's
//! timestamp field (the absolute timestamp after a type-0 header, otherwise the delta),
//! and carries the extended timestamp when the previous header did.
//!
//! Bounds: [`MAX_CHUNK_STREAMS`] chunk streams per connection, and the caller's limit
//! on the bytes of messages in assembly at once ([`Limits`]); a message's buffer is
//! allocated at its announced length (at most 16 MiB − 1, the field's range), within
//! that limit.

use bytes::{BufMut, Bytes, BytesMut};

/// Most chunk streams one connection may use (encoders use three to six).
pub const MAX_CHUNK_STREAMS: usize = 64;
/// The longest chunk header: a 3-byte basic header, an 11-byte message header and an
/// extended timestamp.
const MAX_HEADER_BYTES: usize = 18;
/// The timestamp field's value that says an extended timestamp follows.
const EXTENDED: u32 = 0xFF_FFFF;
/// The chunk size until the peer sets one (§5.4.1).
const INITIAL_CHUNK_SIZE: usize = 128;
/// Message type ids handled here (§5.4).
const SET_CHUNK_SIZE: u8 = 1;
const ABORT: u8 = 2;

/// A complete message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The chunk stream it came on.
    pub csid: u32,
    /// The message type id (8 audio, 9 video, 20 AMF0 command, ...).
    pub type_id: u8,
    /// Its timestamp in milliseconds, on RTMP's 32-bit clock (wraps).
    pub timestamp_ms: u32,
    /// The message stream id.
    pub stream_id: u32,
    /// The payload.
    pub payload: Bytes,
}

/// What the chunk stream may not exceed.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest chunk size a Set Chunk Size may set.
    pub max_chunk_size: u32,
    /// Most bytes of messages in assembly at once (announced lengths, summed).
    pub max_assembly_bytes: usize,
}

/// Why the chunk stream cannot be read on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// A compressed header on a chunk stream without a full header before.
    #[error("chunk stream {csid} starts without a full header (ending at byte {offset})")]
    NoFirstHeader {
        /// The chunk stream.
        csid: u32,
        /// Bytes read up to the header's end.
        offset: u64,
    },
    /// A Set Chunk Size of 0 or above the limit.
    #[error("chunk size {size} outside 1..={max}")]
    ChunkSize {
        /// The size asked for.
        size: u32,
        /// The limit.
        max: u32,
    },
    /// More chunk streams than [`MAX_CHUNK_STREAMS`].
    #[error("more than {MAX_CHUNK_STREAMS} chunk streams")]
    TooManyStreams,
    /// Messages in assembly would exceed the limit.
    #[error("{bytes} bytes of messages in assembly > {max}")]
    Assembly {
        /// What they would reach.
        bytes: usize,
        /// The limit.
        max: usize,
    },
}

/// What a chunk stream remembers of its last header.
#[derive(Debug, Default)]
struct Stream {
    csid: u32,
    timestamp_ms: u32,
    /// The last header's timestamp field (extended value when there was one).
    field: u32,
    /// Whether that field was extended (then type-3 chunks carry it too).
    extended: bool,
    length: u32,
    type_id: u8,
    stream_id: u32,
    /// The message in assembly, if any.
    partial: Option<BytesMut>,
}

/// A decoded chunk header.
#[derive(Debug, Clone, Copy)]
struct Header {
    format: u8,
    csid: u32,
    /// Timestamp field (3 bytes, or the extended value).
    field: u32,
    extended: bool,
    length: u32,
    type_id: u8,
    stream_id: u32,
}

/// Demultiplexes a connection's chunk streams into messages.
#[derive(Debug)]
pub struct ChunkDemux {
    limits: Limits,
    chunk_size: usize,
    streams: Vec<Stream>,
    /// Header bytes received so far, when a header straddles inputs.
    header: [u8; MAX_HEADER_BYTES],
    header_len: usize,
    /// Inside a chunk's payload: the index of its stream and the bytes left in it.
    chunk: Option<(usize, usize)>,
    /// Announced lengths of the messages in assembly.
    assembly_bytes: usize,
    /// Bytes consumed so far.
    offset: u64,
}

impl ChunkDemux {
    /// A demultiplexer at the initial chunk size of 128.
    pub fn new(limits: Limits) -> Self {
        ChunkDemux {
            limits,
            chunk_size: INITIAL_CHUNK_SIZE,
            streams: Vec::new(),
            header: [0; MAX_HEADER_BYTES],
            header_len: 0,
            chunk: None,
            assembly_bytes: 0,
            offset: 0,
        }
    }

    /// Consumes `input` up to the end of the next complete message and returns it;
    /// `Ok(None)` when all of `input` is consumed without completing one.
    pub fn pull(&mut self, input: &mut &[u8]) -> Result<Option<Message>, ChunkError> {
        loop {
            if input.is_empty() {
                return Ok(None);
            }
            let message = match self.chunk {
                Some((index, left)) => self.payload(index, left, input),
                None => self.next_chunk(input)?,
            };
            if let Some(message) = message {
                if let Some(message) = self.control(message)? {
                    return Ok(Some(message));
                }
            }
        }
    }

    /// Reads a chunk header and starts its chunk (a message of length 0 is complete).
    fn next_chunk(&mut self, input: &mut &[u8]) -> Result<Option<Message>, ChunkError> {
        let Some(header) = self.take_header(input)? else {
            return Ok(None);
        };
        let index = self.stream_index(&header)?;
        let chunk_size = self.chunk_size;
        let max = self.limits.max_assembly_bytes;
        let Some(stream) = self.streams.get_mut(index) else {
            return Ok(None);
        };
        if stream.partial.is_none() || header.format != 3 {
            if stream.partial.take().is_some() {
                // A new message before the last one ended: the last one is dropped.
                self.assembly_bytes -= (stream.length as usize).min(self.assembly_bytes);
            }
            stream.start(&header);
            let length = stream.length as usize;
            if length == 0 {
                return Ok(Some(stream.message(Bytes::new())));
            }
            let bytes = self.assembly_bytes + length;
            if bytes > max {
                return Err(ChunkError::Assembly { bytes, max });
            }
            self.assembly_bytes = bytes;
            // Bounded by `max_assembly_bytes`; capacity not yet written is not resident.
            stream.partial = Some(BytesMut::with_capacity(length));
        }
        let filled = stream.partial.as_ref().map_or(0, BytesMut::len);
        let left = (stream.length as usize - filled).min(chunk_size);
        self.chunk = Some((index, left));
        Ok(None)
    }

    /// Copies payload bytes of the current chunk; returns the message it completes.
    fn payload(&mut self, index: usize, left: usize, input: &mut &[u8]) -> Option<Message> {
        let n = left.min(input.len());
        let (bytes, rest) = input.split_at(n);
        *input = rest;
        self.offset += n as u64;
        let stream = self.streams.get_mut(index)?;
        let partial = stream.partial.as_mut()?;
        partial.put_slice(bytes);
        if n < left {
            self.chunk = Some((index, left - n));
            return None;
        }
        self.chunk = None;
        if partial.len() < stream.length as usize {
            return None;
        }
        let data = stream.partial.take()?.freeze();
        self.assembly_bytes -= data.len().min(self.assembly_bytes);
        Some(stream.message(data))
    }

    /// Applies Set Chunk Size and Abort Message; returns every other message.
    fn control(&mut self, message: Message) -> Result<Option<Message>, ChunkError> {
        let value = || {
            let bytes = message.payload.get(..4)?;
            Some(u32::from_be_bytes(bytes.try_into().ok()?) & 0x7FFF_FFFF)
        };
        match message.type_id {
            SET_CHUNK_SIZE => match value() {
                Some(size) if size >= 1 && size <= self.limits.max_chunk_size => {
                    self.chunk_size = size as usize;
                    Ok(None)
                }
                Some(size) => Err(ChunkError::ChunkSize {
                    size,
                    max: self.limits.max_chunk_size,
                }),
                None => Ok(None),
            },
            ABORT => {
                let csid = value();
                // Between chunks here: no chunk of the aborted message is under way.
                let aborted = self.streams.iter_mut().find(|s| Some(s.csid) == csid);
                if let Some(stream) = aborted.filter(|s| s.partial.is_some()) {
                    stream.partial = None;
                    self.assembly_bytes -= (stream.length as usize).min(self.assembly_bytes);
                }
                Ok(None)
            }
            _ => Ok(Some(message)),
        }
    }

    /// The next chunk header, taken from `input` (and bytes kept from earlier inputs).
    fn take_header(&mut self, input: &mut &[u8]) -> Result<Option<Header>, ChunkError> {
        if self.header_len == 0 && input.len() >= MAX_HEADER_BYTES {
            let Some((header, used)) = decode_header(input, |csid| self.previous(csid)) else {
                return Ok(None); // unreachable: 18 bytes always hold a header
            };
            *input = input.get(used..).unwrap_or_default();
            self.offset += used as u64;
            return Ok(Some(header));
        }
        let kept = self.header_len;
        let n = (MAX_HEADER_BYTES - kept).min(input.len());
        if let (Some(to), Some(from)) = (self.header.get_mut(kept..kept + n), input.get(..n)) {
            to.copy_from_slice(from);
        }
        self.header_len += n;
        let bytes = self.header.get(..self.header_len).unwrap_or_default();
        match decode_header(bytes, |csid| self.previous(csid)) {
            None => {
                *input = input.get(n..).unwrap_or_default();
                self.offset += n as u64;
                Ok(None)
            }
            Some((header, used)) => {
                let from_input = used - kept;
                *input = input.get(from_input..).unwrap_or_default();
                self.offset += from_input as u64;
                self.header_len = 0;
                Ok(Some(header))
            }
        }
    }

    /// Whether the last header of `csid` had an extended timestamp.
    fn previous(&self, csid: u32) -> bool {
        self.streams.iter().any(|s| s.csid == csid && s.extended)
    }

    /// The stream a header belongs to (created on a full header).
    fn stream_index(&mut self, header: &Header) -> Result<usize, ChunkError> {
        if let Some(index) = self.streams.iter().position(|s| s.csid == header.csid) {
            return Ok(index);
        }
        if header.format != 0 {
            return Err(ChunkError::NoFirstHeader {
                csid: header.csid,
                offset: self.offset,
            });
        }
        if self.streams.len() >= MAX_CHUNK_STREAMS {
            return Err(ChunkError::TooManyStreams);
        }
        self.streams.push(Stream {
            csid: header.csid,
            ..Stream::default()
        });
        Ok(self.streams.len() - 1)
    }
}

impl Stream {
    /// Applies the header of a chunk that starts a message.
    fn start(&mut self, header: &Header) {
        // A type-3 header repeats the last field (carried again only when extended).
        let field = match header.format {
            3 if !header.extended => self.field,
            _ => header.field,
        };
        match header.format {
            0 => self.timestamp_ms = field,
            _ => self.timestamp_ms = self.timestamp_ms.wrapping_add(field),
        }
        if header.format < 3 {
            self.field = header.field;
            self.extended = header.extended;
        }
        if header.format < 2 {
            self.length = header.length;
            self.type_id = header.type_id;
        }
        if header.format == 0 {
            self.stream_id = header.stream_id;
        }
    }

    fn message(&self, payload: Bytes) -> Message {
        Message {
            csid: self.csid,
            type_id: self.type_id,
            timestamp_ms: self.timestamp_ms,
            stream_id: self.stream_id,
            payload,
        }
    }
}

/// Decodes a chunk header at the start of `bytes`: the header and its length, or `None`
/// when `bytes` ends inside it. `extended(csid)` says whether the chunk stream's last
/// header had an extended timestamp (a type-3 header then carries one too).
fn decode_header(bytes: &[u8], extended: impl Fn(u32) -> bool) -> Option<(Header, usize)> {
    let first = *bytes.first()?;
    let format = first >> 6;
    let (csid, mut at) = match first & 0x3F {
        0 => (64 + u32::from(*bytes.get(1)?), 2),
        1 => {
            let low = u32::from(*bytes.get(1)?);
            (64 + low + 256 * u32::from(*bytes.get(2)?), 3)
        }
        csid => (u32::from(csid), 1),
    };
    let mut header = Header {
        format,
        csid,
        field: 0,
        extended: false,
        length: 0,
        type_id: 0,
        stream_id: 0,
    };
    if format < 3 {
        header.field = u24(bytes.get(at..at + 3)?);
        header.extended = header.field == EXTENDED;
        at += 3;
    }
    if format < 2 {
        header.length = u24(bytes.get(at..at + 3)?);
        header.type_id = *bytes.get(at + 3)?;
        at += 4;
    }
    if format == 0 {
        let id: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        header.stream_id = u32::from_le_bytes(id);
        at += 4;
    }
    if header.extended || (format == 3 && extended(csid)) {
        let field: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        header.field = u32::from_be_bytes(field);
        header.extended = true;
        at += 4;
    }
    Some((header, at))
}

fn u24(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .fold(0, |value, byte| (value << 8) | u32::from(*byte))
}

#[cfg(test)]
#[path = "rtmp_tests.rs"]
mod tests;
