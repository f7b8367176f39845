//! FLV framing (FLV spec v10.1 §E.2–E.4): the 9-byte header, then tags of an 11-byte
//! header, data, and a 4-byte PreviousTagSize.
//!
//! `push(bytes)` appends input; `pull()` returns the next whole tag, `Ok(None)` when more
//! bytes are needed (consuming nothing), or an error with the byte offset. Tags larger
//! than [`MAX_TAG_BYTES`] are refused. PreviousTagSize values are not checked: many
//! writers get them wrong and nothing depends on them. Unknown tag types are returned
//! (as [`TagKind::Other`]) for the caller to report and skip.

use bytes::Bytes;

/// Largest tag body accepted: a 4K keyframe at very high bitrate stays below 16 MiB; the
/// format's own limit is 2^24 − 1.
pub const MAX_TAG_BYTES: usize = (1 << 24) - 1;

/// Why the input is not FLV.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlvError {
    /// The file does not start with `FLV`.
    #[error("byte {offset}: not an FLV file (signature {found:02x?}, expected \"FLV\")")]
    BadSignature {
        /// Offset of the header.
        offset: u64,
        /// The first bytes seen.
        found: [u8; 3],
    },
    /// The header's data offset is below 9 or absurd.
    #[error("byte {offset}: FLV header declares a data offset of {data_offset}")]
    BadHeader {
        /// Offset of the header.
        offset: u64,
        /// Declared offset.
        data_offset: u32,
    },
    /// A tag header with a reserved bit pattern that cannot be a tag.
    #[error("byte {offset}: tag header is not a tag (type byte {type_byte:#04x})")]
    BadTag {
        /// Offset of the tag.
        offset: u64,
        /// The type byte.
        type_byte: u8,
    },
    /// A tag over [`MAX_TAG_BYTES`].
    #[error("byte {offset}: tag of {size} bytes exceeds the limit")]
    TagTooLarge {
        /// Offset of the tag.
        offset: u64,
        /// Declared size.
        size: usize,
    },
    /// Input ended inside a tag.
    #[error("byte {offset}: input ends inside a tag ({missing} bytes missing)")]
    Truncated {
        /// Offset of the incomplete tag.
        offset: u64,
        /// Bytes missing.
        missing: usize,
    },
}

/// The FLV header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlvHeader {
    /// Version (1).
    pub version: u8,
    /// Declares audio tags.
    pub has_audio: bool,
    /// Declares video tags.
    pub has_video: bool,
}

/// Tag types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagKind {
    /// 8.
    Audio,
    /// 9.
    Video,
    /// 18: AMF0 script data (`onMetaData`).
    Script,
    /// Anything else (reported and skipped by readers).
    Other(u8),
}

/// One tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlvTag {
    /// Offset of the tag header in the input.
    pub offset: u64,
    /// Type.
    pub kind: TagKind,
    /// The 32-bit millisecond timestamp (24 bits plus the extension byte).
    pub timestamp_ms: u32,
    /// The tag body (its own allocation: what is built from it shares it, not copies).
    pub data: Bytes,
}

/// The push/pull FLV demuxer; see the module doc.
#[derive(Debug, Default)]
pub struct FlvDemuxer {
    /// Input bytes `buf[start..end]` are unread; the rest of `buf` is room to read into
    /// (initialised once, reused: no zeroing per push).
    buf: Vec<u8>,
    start: usize,
    end: usize,
    base: u64,
    header: Option<FlvHeader>,
    /// Bytes to skip before the first tag (header data offset + PreviousTagSize0).
    skip: usize,
    /// Video tags are passed over, not returned (audio-only output).
    ignore_video: bool,
}

/// Bytes of a tag's header.
pub const TAG_HEADER: usize = 11;
const PREVIOUS_TAG_SIZE: usize = 4;

impl FlvDemuxer {
    /// A demuxer expecting a file header first.
    pub fn new() -> Self {
        Self::default()
    }

    /// A demuxer for a tag stream without the file header (RTMP message bodies framed as
    /// FLV tags).
    pub fn without_header() -> Self {
        Self {
            header: Some(FlvHeader {
                version: 1,
                has_audio: true,
                has_video: true,
            }),
            ..Self::default()
        }
    }

    /// Passes video tags over without copying or returning them (for audio-only output:
    /// framing is still checked).
    pub fn ignore_video(mut self) -> Self {
        self.ignore_video = true;
        self
    }

    /// The header, once read.
    pub fn header(&self) -> Option<FlvHeader> {
        self.header
    }

    /// Offset of the next unread byte.
    pub fn position(&self) -> u64 {
        self.base + self.start as u64
    }

    /// Bytes held but not yet consumed.
    pub fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Appends input.
    pub fn push(&mut self, bytes: &[u8]) {
        let room = self.room(bytes.len());
        if let Some(place) = room.get_mut(..bytes.len()) {
            place.copy_from_slice(bytes);
        }
        self.end += bytes.len();
    }

    /// Appends input that `fill` writes into the room it is given (at least `min` bytes;
    /// it returns how many it wrote): a reader reads straight into the demuxer, no copy.
    pub fn push_with<E>(
        &mut self,
        min: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<usize, E> {
        let room = self.room(min);
        let len = room.len();
        let n = fill(room)?.min(len);
        self.end += n;
        Ok(n)
    }

    /// Free space after the unread bytes, at least `min`: the unread bytes move to the
    /// front when that makes room, the buffer grows otherwise.
    fn room(&mut self, min: usize) -> &mut [u8] {
        if self.buf.len() - self.end < min && self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.base += self.start as u64;
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.end < min {
            self.buf.resize(self.end + min, 0);
        }
        self.buf.get_mut(self.end..).unwrap_or_default()
    }

    fn available(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or_default()
    }

    fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
    }

    /// The next tag, `Ok(None)` when more input is needed.
    pub fn pull(&mut self) -> Result<Option<FlvTag>, FlvError> {
        if self.header.is_none() && !self.read_header()? {
            return Ok(None);
        }
        if self.skip > 0 {
            let n = self.skip.min(self.available().len());
            self.consume(n);
            self.skip -= n;
            if self.skip > 0 {
                return Ok(None);
            }
        }
        self.read_tag(true)
    }

    /// At end of input: the last tag even when its 4-byte PreviousTagSize is missing
    /// (a recording cut right after the tag body). Call after `pull` returns `Ok(None)`.
    pub fn pull_final(&mut self) -> Result<Option<FlvTag>, FlvError> {
        if self.header.is_none() || self.skip > 0 {
            return Ok(None);
        }
        self.read_tag(false)
    }

    fn read_header(&mut self) -> Result<bool, FlvError> {
        let offset = self.position();
        let b = self.available();
        if let Some(sig) = b.get(..3) {
            if sig != b"FLV" {
                let found = [
                    sig.first().copied().unwrap_or(0),
                    sig.get(1).copied().unwrap_or(0),
                    sig.get(2).copied().unwrap_or(0),
                ];
                return Err(FlvError::BadSignature { offset, found });
            }
        }
        let Some(h) = b.get(..9).and_then(|s| <[u8; 9]>::try_from(s).ok()) else {
            return Ok(false);
        };
        let data_offset = u32::from_be_bytes([h[5], h[6], h[7], h[8]]);
        if !(9..=1024).contains(&data_offset) {
            return Err(FlvError::BadHeader {
                offset,
                data_offset,
            });
        }
        self.header = Some(FlvHeader {
            version: h[3],
            has_audio: h[4] & 0x04 != 0,
            has_video: h[4] & 0x01 != 0,
        });
        self.consume(9);
        self.skip = data_offset as usize - 9 + PREVIOUS_TAG_SIZE;
        Ok(true)
    }

    fn read_tag(&mut self, require_trailer: bool) -> Result<Option<FlvTag>, FlvError> {
        loop {
            match self.read_one(require_trailer)? {
                Some(tag) if self.ignore_video && tag.kind == TagKind::Video => continue,
                other => return Ok(other),
            }
        }
    }

    fn read_one(&mut self, require_trailer: bool) -> Result<Option<FlvTag>, FlvError> {
        let offset = self.position();
        let b = self.available();
        let Some(h) = b
            .get(..TAG_HEADER)
            .and_then(|s| <[u8; TAG_HEADER]>::try_from(s).ok())
        else {
            return Ok(None);
        };
        let type_byte = h[0];
        if type_byte & 0xC0 != 0 {
            return Err(FlvError::BadTag { offset, type_byte });
        }
        let size = usize::from(h[1]) << 16 | usize::from(h[2]) << 8 | usize::from(h[3]);
        if size > MAX_TAG_BYTES {
            return Err(FlvError::TagTooLarge { offset, size });
        }
        let timestamp_ms =
            u32::from(h[7]) << 24 | u32::from(h[4]) << 16 | u32::from(h[5]) << 8 | u32::from(h[6]);
        let total = TAG_HEADER + size + PREVIOUS_TAG_SIZE;
        let Some(data) = b.get(TAG_HEADER..TAG_HEADER + size) else {
            return Ok(None);
        };
        if require_trailer && b.len() < total {
            return Ok(None);
        }
        let total = total.min(b.len());
        let kind = match type_byte & 0x1F {
            8 => TagKind::Audio,
            9 => TagKind::Video,
            18 => TagKind::Script,
            other => TagKind::Other(other),
        };
        let skipped = self.ignore_video && kind == TagKind::Video;
        let tag = FlvTag {
            offset,
            kind,
            timestamp_ms,
            data: if skipped {
                Bytes::new()
            } else {
                Bytes::copy_from_slice(data)
            },
        };
        self.consume(total);
        Ok(Some(tag))
    }

    /// At end of input: an error when a tag was cut off.
    pub fn finish(&self) -> Result<(), FlvError> {
        let left = self.available().len();
        if left == 0 || (self.header.is_some() && self.skip > 0) {
            return Ok(());
        }
        let b = self.available();
        let needed = match b
            .get(..TAG_HEADER)
            .and_then(|s| <[u8; TAG_HEADER]>::try_from(s).ok())
        {
            Some(h) => {
                TAG_HEADER
                    + (usize::from(h[1]) << 16 | usize::from(h[2]) << 8 | usize::from(h[3]))
                    + PREVIOUS_TAG_SIZE
            }
            None => TAG_HEADER,
        };
        Err(FlvError::Truncated {
            offset: self.position(),
            missing: needed.saturating_sub(left),
        })
    }
}

/// Writes the 9-byte FLV header and PreviousTagSize0.
pub fn write_header(out: &mut Vec<u8>, has_audio: bool, has_video: bool) {
    out.extend_from_slice(b"FLV\x01");
    out.push(u8::from(has_audio) << 2 | u8::from(has_video));
    out.extend_from_slice(&9u32.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
}

/// Writes one tag with its PreviousTagSize. `data` longer than [`MAX_TAG_BYTES`] is cut
/// by the caller's contract; this writes the low 24 bits of the size.
pub fn write_tag(out: &mut Vec<u8>, type_byte: u8, timestamp_ms: u32, data: &[u8]) {
    let size = data.len().min(MAX_TAG_BYTES);
    out.extend_from_slice(&tag_header(type_byte, timestamp_ms, size));
    out.extend_from_slice(data.get(..size).unwrap_or(data));
    out.extend_from_slice(&((size + TAG_HEADER) as u32).to_be_bytes());
}

/// The header of a tag of `size` (≤ [`MAX_TAG_BYTES`]) body bytes; the body and its
/// PreviousTagSize (`size + TAG_HEADER`, big-endian) follow it.
pub fn tag_header(type_byte: u8, timestamp_ms: u32, size: usize) -> [u8; TAG_HEADER] {
    let size = (size.min(MAX_TAG_BYTES) as u32).to_be_bytes();
    let ts = timestamp_ms.to_be_bytes();
    [
        type_byte, size[1], size[2], size[3], ts[1], ts[2], ts[3], ts[0], 0, 0, 0,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut out = Vec::new();
        write_header(&mut out, true, true);
        write_tag(&mut out, 18, 0, &[2, 0, 2, b'h', b'i', 5]);
        write_tag(&mut out, 9, 0, &[0x17, 0, 0, 0, 0, 1, 2, 3]);
        write_tag(&mut out, 8, 0x0123_4567, &[0xAF, 1, 9, 9, 9]);
        write_tag(&mut out, 15, 7, &[]);
        write_tag(&mut out, 9, 0xFFFF_FFFF, &vec![0x27; 300]);
        out
    }

    fn all(d: &mut FlvDemuxer) -> Vec<FlvTag> {
        let mut tags = Vec::new();
        while let Some(t) = d.pull().unwrap() {
            tags.push(t);
        }
        tags
    }

    #[test]
    fn reads_every_tag_whole() {
        let bytes = sample();
        let mut d = FlvDemuxer::new();
        d.push(&bytes);
        let tags = all(&mut d);
        let kinds: Vec<TagKind> = tags.iter().map(|t| t.kind).collect();
        assert_eq!(
            kinds,
            [
                TagKind::Script,
                TagKind::Video,
                TagKind::Audio,
                TagKind::Other(15),
                TagKind::Video
            ]
        );
        assert_eq!(tags[2].timestamp_ms, 0x0123_4567);
        assert_eq!(tags[4].timestamp_ms, 0xFFFF_FFFF);
        assert_eq!(tags[1].offset, 13 + 11 + 6 + 4);
        assert!(d.finish().is_ok());
        assert_eq!(
            d.header().map(|h| (h.has_audio, h.has_video)),
            Some((true, true))
        );
    }

    #[test]
    fn reading_into_the_demuxer_gives_the_same_tags() {
        let bytes = sample();
        let mut whole = FlvDemuxer::new();
        whole.push(&bytes);
        let expected = all(&mut whole);
        for step in [1, 3, 7, 64] {
            let mut d = FlvDemuxer::new();
            let mut input = bytes.as_slice();
            let mut tags = Vec::new();
            loop {
                let n = d
                    .push_with(step, |room| {
                        std::io::Read::read(&mut input, &mut room[..step])
                    })
                    .unwrap();
                tags.extend(all(&mut d));
                if n == 0 {
                    break;
                }
            }
            assert_eq!(tags, expected, "{step}-byte reads");
            assert!(d.finish().is_ok());
        }
    }

    #[test]
    fn video_can_be_passed_over() {
        let bytes = sample();
        let mut d = FlvDemuxer::new().ignore_video();
        d.push(&bytes);
        let kinds: Vec<TagKind> = all(&mut d).iter().map(|t| t.kind).collect();
        assert_eq!(kinds, [TagKind::Script, TagKind::Audio, TagKind::Other(15)]);
        assert!(d.finish().is_ok());
        assert_eq!(d.position(), bytes.len() as u64, "every byte consumed");
    }

    #[test]
    fn split_at_every_offset_gives_the_same_tags() {
        let bytes = sample();
        let mut whole = FlvDemuxer::new();
        whole.push(&bytes);
        let want = all(&mut whole);
        for cut in 0..=bytes.len() {
            let mut d = FlvDemuxer::new();
            d.push(&bytes[..cut]);
            let mut got = all(&mut d);
            d.push(&bytes[cut..]);
            got.extend(all(&mut d));
            assert_eq!(got, want, "cut at {cut}");
        }
        for step in [1, 2, 3, 7] {
            let mut d = FlvDemuxer::new();
            let mut got = Vec::new();
            for chunk in bytes.chunks(step) {
                d.push(chunk);
                got.extend(all(&mut d));
            }
            assert_eq!(got, want, "chunks of {step}");
        }
    }

    #[test]
    fn garbage_and_truncation_report_offsets() {
        let mut d = FlvDemuxer::new();
        d.push(b"GIF89a");
        assert_eq!(
            d.pull(),
            Err(FlvError::BadSignature {
                offset: 0,
                found: *b"GIF"
            })
        );
        let mut bytes = sample();
        bytes.truncate(bytes.len() - 10);
        let mut d = FlvDemuxer::new();
        d.push(&bytes);
        let tags = all(&mut d);
        assert_eq!(tags.len(), 4, "complete tags before the cut are kept");
        assert!(matches!(
            d.finish(),
            Err(FlvError::Truncated { missing: 10, .. })
        ));
        let mut bad = Vec::new();
        write_header(&mut bad, true, false);
        bad.extend_from_slice(&[0xC8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let mut d = FlvDemuxer::new();
        d.push(&bad);
        assert_eq!(
            d.pull(),
            Err(FlvError::BadTag {
                offset: 13,
                type_byte: 0xC8
            })
        );
        let mut d = FlvDemuxer::without_header();
        let mut tag = Vec::new();
        write_tag(&mut tag, 8, 1, &[0xAF, 1, 5]);
        d.push(&tag);
        assert_eq!(all(&mut d).len(), 1);
    }

    #[test]
    fn last_tag_without_its_trailer_is_kept_at_the_end() {
        let mut whole = sample();
        whole.truncate(whole.len() - 4);
        let mut d = FlvDemuxer::new();
        d.push(&whole);
        assert_eq!(all(&mut d).len(), 4);
        assert_eq!(d.pull_final().unwrap().map(|t| t.data.len()), Some(300));
        assert_eq!(d.pull_final(), Ok(None));
        assert!(d.finish().is_ok());
    }
}
