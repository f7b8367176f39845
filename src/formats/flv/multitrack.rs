//! Enhanced RTMP v2 (Veovera) packet prefixes shared by audio and video tags: `ModEx`
//! (packet type 7) and `Multitrack` (video 6, audio 5) — pure.
//!
//! After the first byte (audio: `SoundFormat` 9 and `AudioPacketType`; video: `IsExHeader`,
//! `FrameType` and `VideoPacketType`):
//! - `ModEx`, repeated: `ModExDataSize` (UI8 + 1; 256 means a UI16 + 1 follows), the
//!   data, then `ModExType(4) PacketType(4)`.
//! - `Multitrack`: `AvMultitrackType(4) PacketType(4)` (OneTrack 0, ManyTracks 1,
//!   ManyTracksManyCodecs 2), then the FourCC unless ManyTracksManyCodecs; then per
//!   track `[FourCC if ManyTracksManyCodecs] TrackId(UI8) [SizeOfTrack(UI24) unless
//!   OneTrack] data`.
//! - otherwise the FourCC, then the data.

/// `PacketType` of a `ModEx` prefix.
const MOD_EX: u8 = 7;
/// Most `ModEx` prefixes read before the packet is given up (each is at least 2 bytes).
const MAX_MOD_EX: usize = 16;

/// What precedes the payload of an enhanced tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExHeader {
    /// The packet type (after any `ModEx` prefixes and a `Multitrack` wrapper).
    pub packet_type: u8,
    /// The codec's FourCC (of the default track, in a multitrack packet).
    pub fourcc: u32,
    /// The byte range of the track read: all of the data for a single-track packet;
    /// in a multitrack packet the default track's (id 0), else the first one's. `None`
    /// when a multitrack packet holds no track.
    pub track: Option<(usize, usize)>,
    /// Its `TrackId` (0: the default track, and every single-track packet).
    pub track_id: u8,
}

fn fourcc_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

/// Reads an enhanced tag's prefixes: `packet_type` is the one in the first byte,
/// `multitrack` the packet type that means `Multitrack` for this kind of tag. `None`
/// when the tag is too short for what it announces.
pub fn ex_header(data: &[u8], packet_type: u8, multitrack: u8) -> Option<ExHeader> {
    let (packet_type, at) = skip_mod_ex(data, packet_type)?;
    if packet_type != multitrack {
        let fourcc = fourcc_at(data, at)?;
        return Some(ExHeader {
            packet_type,
            fourcc,
            track: Some((at + 4, data.len())),
            track_id: 0,
        });
    }
    let (packet_type, fourcc, tracks) = multitrack_tracks(data, at)?;
    let pick = tracks.iter().position(|t| t.track_id == 0).unwrap_or(0);
    Some(tracks.get(pick).copied().unwrap_or(ExHeader {
        packet_type,
        fourcc,
        track: None,
        track_id: 0,
    }))
}

/// Every track of an enhanced tag but the one [`ex_header`] reads (a `ManyTracks`
/// packet can carry several); none for a single-track packet.
pub fn other_tracks(data: &[u8], packet_type: u8, multitrack: u8) -> Vec<ExHeader> {
    let Some((packet_type, at)) = skip_mod_ex(data, packet_type) else {
        return Vec::new();
    };
    if packet_type != multitrack {
        return Vec::new();
    }
    let Some((_, _, mut tracks)) = multitrack_tracks(data, at) else {
        return Vec::new();
    };
    let pick = tracks.iter().position(|t| t.track_id == 0).unwrap_or(0);
    if pick < tracks.len() {
        tracks.remove(pick);
    }
    tracks
}

/// Skips `ModEx` prefixes: the packet type after them and where the rest starts.
fn skip_mod_ex(data: &[u8], mut packet_type: u8) -> Option<(u8, usize)> {
    let mut at = 1;
    let mut prefixes = 0;
    while packet_type == MOD_EX {
        prefixes += 1;
        if prefixes > MAX_MOD_EX {
            return None;
        }
        let mut size = usize::from(*data.get(at)?) + 1;
        at += 1;
        if size == 256 {
            size = usize::from(u16::from_be_bytes(data.get(at..at + 2)?.try_into().ok()?)) + 1;
            at += 2;
        }
        at += size;
        packet_type = data.get(at)? & 0x0F;
        at += 1;
    }
    Some((packet_type, at))
}

/// Most tracks read from one `Multitrack` packet.
const MAX_TRACKS_PER_PACKET: usize = 16;

/// The tracks of a `Multitrack` packet whose `AvMultitrackType` byte is at `at` (at most
/// [`MAX_TRACKS_PER_PACKET`]), with its packet type and first FourCC.
fn multitrack_tracks(data: &[u8], mut at: usize) -> Option<(u8, u32, Vec<ExHeader>)> {
    let byte = *data.get(at)?;
    let (kind, packet_type) = (byte >> 4, byte & 0x0F);
    at += 1;
    let shared = if kind == 2 {
        None
    } else {
        at += 4;
        Some(fourcc_at(data, at - 4)?)
    };
    let mut first_fourcc = shared;
    let mut tracks = Vec::new();
    while at < data.len() && tracks.len() < MAX_TRACKS_PER_PACKET {
        let fourcc = match shared {
            Some(f) => f,
            None => {
                at += 4;
                fourcc_at(data, at - 4)?
            }
        };
        first_fourcc.get_or_insert(fourcc);
        let id = *data.get(at)?;
        at += 1;
        let end = if kind == 0 {
            data.len()
        } else {
            let [b0, b1, b2]: [u8; 3] = data.get(at..at + 3)?.try_into().ok()?;
            at += 3;
            at + (usize::from(b0) << 16 | usize::from(b1) << 8 | usize::from(b2))
        };
        if end > data.len() {
            return None;
        }
        tracks.push(ExHeader {
            packet_type,
            fourcc,
            track: Some((at, end)),
            track_id: id,
        });
        at = end;
    }
    Some((packet_type, first_fourcc.unwrap_or(0), tracks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_track_mod_ex_and_multitrack() {
        // Plain: FourCC then data.
        let plain = [0x91, b'a', b'v', b'0', b'1', 9, 9];
        let h = ex_header(&plain, 1, 6).unwrap();
        assert_eq!((h.packet_type, h.track), (1, Some((5, 7))));
        // ModEx (2 bytes of data), then CodedFrames.
        let modex = [0x97, 1, 0xAA, 0xBB, 0x01, b'a', b'v', b'0', b'1', 9];
        let h = ex_header(&modex, 7, 6).unwrap();
        assert_eq!(
            (h.packet_type, h.fourcc, h.track),
            (1, u32::from_be_bytes(*b"av01"), Some((9, 10)))
        );
        // OneTrack, track 1 only: that track, with its id.
        let one = [0x96, 0x03, b'a', b'v', b'c', b'1', 1, 7, 7];
        let h = ex_header(&one, 6, 6).unwrap();
        assert_eq!((h.track, h.track_id), (Some((7, 9)), 1));
        // ManyTracks: track 1 (2 bytes), then track 0 (1 byte).
        let many = [
            0x96, 0x13, b'a', b'v', b'c', b'1', 1, 0, 0, 2, 5, 5, 0, 0, 0, 1, 6,
        ];
        let h = ex_header(&many, 6, 6).unwrap();
        assert_eq!((h.packet_type, h.track), (3, Some((16, 17))));
        let others = other_tracks(&many, 6, 6);
        assert_eq!(others.len(), 1);
        assert_eq!((others[0].track_id, others[0].track), (1, Some((10, 12))));
        assert!(other_tracks(&plain, 1, 6).is_empty());
        // ManyTracksManyCodecs: each track names its codec.
        let codecs = [0x95, 0x21, b'O', b'p', b'u', b's', 0, 0, 0, 1, 4];
        let h = ex_header(&codecs, 5, 5).unwrap();
        assert_eq!(
            (h.fourcc, h.track),
            (u32::from_be_bytes(*b"Opus"), Some((10, 11)))
        );
        // Truncated: a size past the end, a missing FourCC.
        assert_eq!(
            ex_header(&[0x96, 0x13, b'a', b'v', b'c', b'1', 0, 0, 0, 9], 6, 6),
            None
        );
        assert_eq!(ex_header(&[0x91, b'a'], 1, 6), None);
        assert_eq!(ex_header(&[0x97; 64], 7, 6), None);
    }
}
