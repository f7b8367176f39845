//! Audio tag bodies (FLV spec v10.1 §E.4.2; Enhanced RTMP v2 `SoundFormat` 9 with a
//! FourCC): AAC (SoundFormat 10, FourCC `mp4a`) with its AudioSpecificConfig, MP3
//! (SoundFormat 2, FourCC `.mp3`), others reported as [`AudioCodec::Other`].

/// Audio codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioCodec {
    /// AAC.
    Aac,
    /// MP3.
    Mp3,
    /// Opus (Enhanced RTMP FourCC `Opus`).
    Opus,
    /// AC-3 (`ac-3`).
    Ac3,
    /// E-AC-3 (`ec-3`).
    Eac3,
    /// FLAC (`fLaC`).
    Flac,
    /// Anything else (SoundFormat, or the FourCC for enhanced tags).
    Other(u32),
}

/// What an audio tag carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioPacketKind {
    /// AudioSpecificConfig.
    SequenceHeader,
    /// A raw frame.
    Frame,
    /// Skipped.
    Other,
}

/// A parsed audio tag header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioTag {
    /// Codec.
    pub codec: AudioCodec,
    /// Kind.
    pub kind: AudioPacketKind,
    /// Where the payload starts.
    pub payload_start: usize,
    /// Where it ends (the body's end, or the track's end in a multitrack packet).
    pub payload_end: usize,
    /// Its multitrack `TrackId` (0: the default track, and legacy tags).
    pub track_id: u8,
}

/// Parses an audio tag body's header.
pub fn parse_audio_tag(data: &[u8]) -> Option<AudioTag> {
    let first = *data.first()?;
    match first >> 4 {
        10 => {
            let packet = *data.get(1)?;
            let kind = match packet {
                0 => AudioPacketKind::SequenceHeader,
                1 => AudioPacketKind::Frame,
                _ => AudioPacketKind::Other,
            };
            Some(AudioTag {
                codec: AudioCodec::Aac,
                kind,
                payload_start: 2,
                payload_end: data.len(),
                track_id: 0,
            })
        }
        2 => Some(AudioTag {
            codec: AudioCodec::Mp3,
            kind: AudioPacketKind::Frame,
            payload_start: 1,
            payload_end: data.len(),
            track_id: 0,
        }),
        9 => parse_enhanced(data, first),
        other => Some(AudioTag {
            codec: AudioCodec::Other(u32::from(other)),
            kind: AudioPacketKind::Other,
            payload_start: 1,
            payload_end: data.len(),
            track_id: 0,
        }),
    }
}

/// An Enhanced RTMP v2 audio tag: ModEx prefixes skipped, one track of a multitrack
/// packet read (see [`super::multitrack`]).
fn parse_enhanced(data: &[u8], first: u8) -> Option<AudioTag> {
    let ex = super::multitrack::ex_header(data, first & 0x0F, MULTITRACK)?;
    Some(enhanced_track(data, ex))
}

/// The tracks of a `Multitrack` audio tag other than the one [`parse_audio_tag`] reads.
pub fn other_audio_tracks(data: &[u8]) -> Vec<AudioTag> {
    let Some(&first) = data.first().filter(|b| *b >> 4 == 9) else {
        return Vec::new();
    };
    super::multitrack::other_tracks(data, first & 0x0F, MULTITRACK)
        .into_iter()
        .map(|ex| enhanced_track(data, ex))
        .collect()
}

/// One track of an enhanced audio tag.
fn enhanced_track(data: &[u8], ex: super::multitrack::ExHeader) -> AudioTag {
    let codec = match &ex.fourcc.to_be_bytes() {
        b"mp4a" => AudioCodec::Aac,
        b".mp3" => AudioCodec::Mp3,
        b"Opus" => AudioCodec::Opus,
        b"ac-3" => AudioCodec::Ac3,
        b"ec-3" => AudioCodec::Eac3,
        b"fLaC" => AudioCodec::Flac,
        _ => AudioCodec::Other(ex.fourcc),
    };
    let (kind, (start, end)) = match (ex.packet_type, ex.track) {
        (0, Some(track)) => (AudioPacketKind::SequenceHeader, track),
        (1, Some(track)) => (AudioPacketKind::Frame, track),
        (_, track) => (
            AudioPacketKind::Other,
            track.unwrap_or((data.len(), data.len())),
        ),
    };
    AudioTag {
        codec,
        kind,
        payload_start: start,
        payload_end: end,
        track_id: ex.track_id,
    }
}

/// Audio `PacketType` of a multitrack packet.
const MULTITRACK: u8 = 5;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_headers() {
        assert_eq!(
            parse_audio_tag(&[0xAF, 0, 0x12, 0x10]),
            Some(AudioTag {
                codec: AudioCodec::Aac,
                kind: AudioPacketKind::SequenceHeader,
                payload_start: 2,
                payload_end: 4,
                track_id: 0,
            })
        );
        assert_eq!(
            parse_audio_tag(&[0xAF, 1, 0x21]).map(|t| t.kind),
            Some(AudioPacketKind::Frame)
        );
        assert_eq!(
            parse_audio_tag(&[0x2F, 0xFF]).map(|t| t.codec),
            Some(AudioCodec::Mp3)
        );
        assert_eq!(
            parse_audio_tag(&[0x91, b'm', b'p', b'4', b'a', 1]).map(|t| (
                t.codec,
                t.kind,
                t.payload_start
            )),
            Some((AudioCodec::Aac, AudioPacketKind::Frame, 5))
        );
        assert_eq!(
            parse_audio_tag(&[0x6F, 1]).map(|t| t.codec),
            Some(AudioCodec::Other(6))
        );
        assert_eq!(parse_audio_tag(&[0xAF]), None);
    }
}
