//! The per-push GOP cache, kept in a scratch file rather than in memory: a 2-second GOP
//! at 2.7 Mbit/s is 0.7 MB, more than everything else a push holds. The file lives in the
//! page cache; it is emptied at every video keyframe (audio-only pushes: every second),
//! read back only when an output is added mid-push (a real-time task), and removed with
//! the push. Sequence headers and metadata stay in memory (they are small). What to do
//! with each tag is decided by the pure [`gop_reset`].

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use crate::formats::flv::demux::{write_tag, FlvDemuxer, FlvTag, TagKind};
use crate::record::session::{gop_reset, GopStep, MAX_GOP_CACHE_BYTES};

/// Bytes buffered before a write to the cache file.
pub const GOP_WRITE_BUFFER_BYTES: usize = 32 * 1024;

/// See the module doc.
#[derive(Debug)]
pub struct GopCache {
    path: PathBuf,
    file: Option<File>,
    buffer: Vec<u8>,
    video_header: Option<FlvTag>,
    audio_header: Option<FlvTag>,
    metadata: Option<FlvTag>,
    has_video: bool,
    first_ms: Option<u32>,
    bytes: u64,
    /// Over [`MAX_GOP_CACHE_BYTES`]: nothing is kept until the next reset.
    overflow: bool,
}

fn tag_type(kind: TagKind) -> u8 {
    match kind {
        TagKind::Audio => 8,
        TagKind::Video => 9,
        TagKind::Script => 18,
        TagKind::Other(t) => t,
    }
}

impl GopCache {
    /// A cache in `path` (created on first use).
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            file: None,
            buffer: Vec::new(),
            video_header: None,
            audio_header: None,
            metadata: None,
            has_video: false,
            first_ms: None,
            bytes: 0,
            overflow: false,
        }
    }

    /// Records one tag.
    pub fn push(&mut self, tag: &FlvTag) -> std::io::Result<()> {
        self.has_video |= tag.kind == TagKind::Video;
        match gop_reset(tag, self.has_video, self.first_ms) {
            GopStep::Skip => Ok(()),
            GopStep::Header => {
                let slot = match tag.kind {
                    TagKind::Video => &mut self.video_header,
                    TagKind::Audio => &mut self.audio_header,
                    _ => &mut self.metadata,
                };
                *slot = Some(tag.clone());
                Ok(())
            }
            GopStep::Reset => {
                self.reset()?;
                self.append(tag)
            }
            GopStep::Append => self.append(tag),
        }
    }

    fn reset(&mut self) -> std::io::Result<()> {
        self.buffer.clear();
        self.bytes = 0;
        self.first_ms = None;
        self.overflow = false;
        if let Some(file) = self.file.as_mut() {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
        }
        Ok(())
    }

    fn append(&mut self, tag: &FlvTag) -> std::io::Result<()> {
        if self.overflow {
            return Ok(());
        }
        if self.bytes + tag.data.len() as u64 > MAX_GOP_CACHE_BYTES {
            self.reset()?;
            self.overflow = true;
            return Ok(());
        }
        self.first_ms.get_or_insert(tag.timestamp_ms);
        let before = self.buffer.len();
        write_tag(
            &mut self.buffer,
            tag_type(tag.kind),
            tag.timestamp_ms,
            &tag.data,
        );
        self.bytes += (self.buffer.len() - before) as u64;
        if self.buffer.len() >= GOP_WRITE_BUFFER_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        if self.file.is_none() {
            self.file = Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(true)
                    .read(true)
                    .write(true)
                    .open(&self.path)?,
            );
        }
        if let Some(file) = self.file.as_mut() {
            file.write_all(&self.buffer)?;
        }
        self.buffer.clear();
        Ok(())
    }

    /// The headers, then every cached tag in order.
    pub fn replay(&mut self) -> std::io::Result<Vec<FlvTag>> {
        self.flush()?;
        let mut tags: Vec<FlvTag> = [&self.metadata, &self.video_header, &self.audio_header]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        let Some(file) = self.file.as_mut() else {
            return Ok(tags);
        };
        let mut bytes = Vec::new();
        file.seek(SeekFrom::Start(0))?;
        file.read_to_end(&mut bytes)?;
        let mut demuxer = FlvDemuxer::without_header();
        demuxer.push(&bytes);
        while let Ok(Some(tag)) = demuxer.pull() {
            tags.push(tag);
        }
        Ok(tags)
    }
}

impl Drop for GopCache {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(kind: TagKind, ms: u32, data: &[u8]) -> FlvTag {
        FlvTag {
            offset: 0,
            kind,
            timestamp_ms: ms,
            data: bytes::Bytes::copy_from_slice(data),
        }
    }

    #[test]
    fn keeps_headers_and_the_tags_since_the_last_keyframe() {
        let path = std::env::temp_dir().join(format!("liverec-gop-{}.flv", std::process::id()));
        let mut cache = GopCache::new(path.clone());
        let avc_header = tag(TagKind::Video, 0, &[0x17, 0, 0, 0, 0, 1]);
        let aac_header = tag(TagKind::Audio, 0, &[0xAF, 0, 0x12, 0x10]);
        let key = |ms| tag(TagKind::Video, ms, &[0x17, 1, 0, 0, 0, 9, 9]);
        let inter = |ms| tag(TagKind::Video, ms, &[0x27, 1, 0, 0, 0, 8]);
        let audio = |ms| tag(TagKind::Audio, ms, &[0xAF, 1, 7]);
        for t in [
            avc_header.clone(),
            aac_header.clone(),
            key(0),
            audio(10),
            inter(40),
            key(2000),
        ] {
            cache.push(&t).unwrap();
        }
        cache.push(&audio(2010)).unwrap();
        let big = vec![0x27u8; GOP_WRITE_BUFFER_BYTES];
        cache.push(&tag(TagKind::Video, 2040, &big)).unwrap();
        let replay = cache.replay().unwrap();
        let got: Vec<(TagKind, u32, usize)> = replay
            .iter()
            .map(|t| (t.kind, t.timestamp_ms, t.data.len()))
            .collect();
        assert_eq!(
            got,
            [
                (TagKind::Video, 0, 6),
                (TagKind::Audio, 0, 4),
                (TagKind::Video, 2000, 7),
                (TagKind::Audio, 2010, 3),
                (TagKind::Video, 2040, big.len()),
            ]
        );
        assert!(path.exists());
        drop(cache);
        assert!(!path.exists(), "removed with the push");
    }
}
