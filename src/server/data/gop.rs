//! The per-push GOP cache, kept in a scratch file rather than in memory: a 2-second GOP
//! at 2.7 Mbit/s is 0.7 MB, more than everything else a push holds. The file lives in the
//! page cache; it is emptied at every video keyframe (audio-only pushes: every second),
//! read back only when an output is added mid-push (a real-time task), and removed with
//! the push. Frames are stored by [`crate::media::spool`]; their configurations stay in
//! memory (they are small). When to restart is decided by the pure [`gop_step`].

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Arc;

use crate::media::spool::{read_frame, write_frame, NO_CONFIG};
use crate::media::{Config, Frame, Track};
use crate::record::session::{gop_step, GopStep, MAX_GOP_CACHE_BYTES};

/// Bytes buffered before a write to the cache file.
pub const GOP_WRITE_BUFFER_BYTES: usize = 32 * 1024;

/// See the module doc.
#[derive(Debug)]
pub struct GopCache {
    path: PathBuf,
    file: Option<File>,
    buffer: Vec<u8>,
    /// The configurations the cached frames name, by index.
    configs: Vec<Arc<Config>>,
    has_video: bool,
    first_ms: Option<i64>,
    bytes: u64,
    /// Over [`MAX_GOP_CACHE_BYTES`]: nothing is kept until the next reset.
    overflow: bool,
}

impl GopCache {
    /// A cache in `path` (created on first use).
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            file: None,
            buffer: Vec::new(),
            configs: Vec::new(),
            has_video: false,
            first_ms: None,
            bytes: 0,
            overflow: false,
        }
    }

    /// Records one frame.
    pub fn push(&mut self, frame: &Frame) -> std::io::Result<()> {
        self.has_video |= frame.track == Track::Video;
        if gop_step(frame, self.has_video, self.first_ms) == GopStep::Reset {
            self.reset()?;
        }
        self.append(frame)
    }

    fn reset(&mut self) -> std::io::Result<()> {
        self.buffer.clear();
        self.configs.clear();
        self.bytes = 0;
        self.first_ms = None;
        self.overflow = false;
        if let Some(file) = self.file.as_mut() {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
        }
        Ok(())
    }

    /// The index naming `config` in this GOP's records.
    fn config_index(&mut self, config: Option<&Arc<Config>>) -> u16 {
        let Some(config) = config else {
            return NO_CONFIG;
        };
        if let Some(i) = self.configs.iter().position(|c| Arc::ptr_eq(c, config)) {
            return i as u16;
        }
        if self.configs.len() >= usize::from(NO_CONFIG) {
            return NO_CONFIG;
        }
        self.configs.push(Arc::clone(config));
        (self.configs.len() - 1) as u16
    }

    fn append(&mut self, frame: &Frame) -> std::io::Result<()> {
        if self.overflow {
            return Ok(());
        }
        let size = frame.flv.as_ref().unwrap_or(&frame.payload).len() as u64;
        if self.bytes + size > MAX_GOP_CACHE_BYTES {
            self.reset()?;
            self.overflow = true;
            return Ok(());
        }
        self.first_ms.get_or_insert(frame.dts_ms);
        let config = self.config_index(frame.config.as_ref());
        let before = self.buffer.len();
        write_frame(&mut self.buffer, frame, config);
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

    /// Every cached frame in order, with its configuration.
    pub fn replay(&mut self) -> std::io::Result<Vec<Frame>> {
        self.flush()?;
        let Some(file) = self.file.as_mut() else {
            return Ok(Vec::new());
        };
        let mut bytes = Vec::new();
        file.seek(SeekFrom::Start(0))?;
        file.read_to_end(&mut bytes)?;
        let bytes = bytes::Bytes::from(bytes);
        let (mut at, mut frames) = (0, Vec::new());
        while let Some((mut frame, config)) =
            read_frame(&bytes, &mut at).map_err(std::io::Error::other)?
        {
            frame.config = self.configs.get(usize::from(config)).cloned();
            frames.push(frame);
        }
        Ok(frames)
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
    use crate::formats::flv::demux::{FlvTag, TagKind};
    use crate::formats::flv::ingest::FlvIngest;
    use crate::media::Input;

    #[test]
    fn keeps_the_frames_since_the_last_keyframe_with_their_configurations() {
        let path = std::env::temp_dir().join(format!("liverec-gop-{}.bin", std::process::id()));
        let mut cache = GopCache::new(path.clone());
        let mut ingest = FlvIngest::default();
        let mut tag = |kind, ms, data: &[u8]| {
            ingest.push_tag(&FlvTag {
                offset: 0,
                kind,
                timestamp_ms: ms,
                data: bytes::Bytes::copy_from_slice(data),
            })
        };
        let avc_header: &[u8] = &[0x17, 0, 0, 0, 0, 1, 0x42, 0xC0, 0x1E, 0xFF, 0xE0, 0];
        let mut big = vec![0x27, 1, 0, 0, 0];
        big.resize(GOP_WRITE_BUFFER_BYTES, 7);
        let inputs = [
            tag(TagKind::Video, 0, avc_header),
            tag(TagKind::Audio, 0, &[0xAF, 0, 0x12, 0x10]),
            tag(TagKind::Video, 0, &[0x17, 1, 0, 0, 0, 9, 9]),
            tag(TagKind::Audio, 10, &[0xAF, 1, 7]),
            tag(TagKind::Video, 40, &[0x27, 1, 0, 0, 0, 8]),
            tag(TagKind::Video, 2000, &[0x17, 1, 0, 0, 0, 9, 9]),
            tag(TagKind::Audio, 2010, &[0xAF, 1, 7]),
            tag(TagKind::Video, 2040, &big),
        ];
        for input in &inputs {
            if let Input::Frame(frame) = input {
                cache.push(frame).unwrap();
            }
        }
        let replay = cache.replay().unwrap();
        let times: Vec<i64> = replay.iter().map(|f| f.dts_ms).collect();
        assert_eq!(times, [2000, 2010, 2040], "since the last keyframe");
        assert!(
            replay.iter().all(|f| f.config.is_some()),
            "with their configurations"
        );
        let expected: Vec<&Frame> = inputs[5..]
            .iter()
            .filter_map(|i| match i {
                Input::Frame(f) => Some(f),
                _ => None,
            })
            .collect();
        assert_eq!(
            replay.iter().collect::<Vec<_>>(),
            expected,
            "the frames as pushed"
        );
        assert!(path.exists());
        drop(cache);
        assert!(!path.exists(), "removed with the push");
    }
}
