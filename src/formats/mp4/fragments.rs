//! The samples of a fragmented-MP4 HLS media segment (`moof` + `mdat` pairs, ISO/IEC
//! 14496-12 §8.8) with its initialization section (`ftyp` + `moov`), as [`SampleRef`]s
//! on a wall clock: what [`super::stitch`] needs to put an fMP4 HLS recording into a
//! range. The samples are byte ranges of the segment file itself.

use mp4_atom::{Decode, Moof, Moov, Traf};

use super::scan::boxes;
use super::stitch::{Piece, SampleRef};
use super::{tracks_of_moov, Mp4Error, Mp4Tracks, AUDIO_TRACK, VIDEO_TRACK};

/// Most samples read from one segment.
pub const MAX_SEGMENT_SAMPLES: usize = 1 << 20;
const NON_SYNC: u32 = 0x0001_0000;

fn bad(what: &str) -> Mp4Error {
    Mp4Error::Box(format!("fragmented segment: {what}"))
}

fn top_boxes(bytes: &[u8]) -> Vec<super::scan::BoxAt> {
    let read = |at: u64, buf: &mut [u8; 16]| -> Result<usize, ()> {
        let from = usize::try_from(at).map_err(|_| ())?;
        let rest = bytes.get(from..).unwrap_or_default();
        let n = rest.len().min(16);
        for (to, from) in buf.iter_mut().zip(rest) {
            *to = *from;
        }
        Ok(n)
    };
    boxes(0, bytes.len() as u64, read).unwrap_or_default()
}

fn body<'a>(bytes: &'a [u8], b: &super::scan::BoxAt) -> Option<&'a [u8]> {
    let from = usize::try_from(b.offset).ok()?;
    bytes.get(from..from.checked_add(usize::try_from(b.size).ok()?)?)
}

/// The `moov` of initialization section `init`.
pub fn init_moov(init: &[u8]) -> Result<Moov, Mp4Error> {
    let found = top_boxes(init).into_iter().find(|b| &b.kind == b"moov");
    let bytes = found
        .and_then(|b| body(init, &b))
        .ok_or_else(|| bad("no moov in the initialization section"))?;
    Moov::decode(&mut &bytes[..]).map_err(|e| Mp4Error::Box(e.to_string()))
}

/// The tracks and samples of `segment` (source `source`) with initialization section
/// `init`; its first sample is at `wall_start_ms`.
pub fn segment_samples(
    init: &[u8],
    segment: &[u8],
    source: u32,
    wall_start_ms: i64,
) -> Result<(Mp4Tracks, Piece), Mp4Error> {
    let moov = init_moov(init)?;
    let tracks = tracks_of_moov(&moov)?;
    // The first video and audio tracks (liverec's segments have no others).
    let kind = |id: u32| match id {
        VIDEO_TRACK => Some(true),
        AUDIO_TRACK => Some(false),
        _ => None,
    };
    let mut piece = Piece::default();
    for b in top_boxes(segment).iter().filter(|b| &b.kind == b"moof") {
        let bytes = body(segment, b).ok_or_else(|| bad("moof outside the segment"))?;
        let moof = Moof::decode(&mut &bytes[..]).map_err(|e| Mp4Error::Box(e.to_string()))?;
        for traf in &moof.traf {
            let list = match kind(traf.tfhd.track_id) {
                Some(true) => &mut piece.video,
                Some(false) => &mut piece.audio,
                None => continue,
            };
            traf_samples(traf, b.offset, source, list)?;
            if list.len() > MAX_SEGMENT_SAMPLES {
                return Err(bad("too many samples"));
            }
        }
    }
    let first = [piece.video.first(), piece.audio.first()]
        .into_iter()
        .flatten()
        .map(|s| s.dts_ms)
        .min()
        .unwrap_or(0);
    for s in piece.video.iter_mut().chain(piece.audio.iter_mut()) {
        s.dts_ms = wall_start_ms + (s.dts_ms - first);
    }
    Ok((tracks, piece))
}

/// Appends the samples of `traf` (in the `moof` at `moof_offset`) to `list`; decode
/// times in the track's timescale, which liverec's own files keep at 1 ms.
fn traf_samples(
    traf: &Traf,
    moof_offset: u64,
    source: u32,
    list: &mut Vec<SampleRef>,
) -> Result<(), Mp4Error> {
    let tfhd = &traf.tfhd;
    let base = tfhd.base_data_offset.unwrap_or(moof_offset);
    let mut dts = traf.tfdt.as_ref().map_or(0, |t| {
        i64::try_from(t.base_media_decode_time).unwrap_or(i64::MAX / 2)
    });
    let mut next_offset = base;
    for trun in &traf.trun {
        let mut offset = match trun.data_offset {
            Some(d) => base
                .checked_add_signed(i64::from(d))
                .ok_or_else(|| bad("data offset"))?,
            None => next_offset,
        };
        for e in &trun.entries {
            let size = e.size.or(tfhd.default_sample_size).unwrap_or(0);
            let duration = e.duration.or(tfhd.default_sample_duration).unwrap_or(0);
            let flags = e.flags.or(tfhd.default_sample_flags).unwrap_or(0);
            list.push(SampleRef {
                dts_ms: dts,
                cts_ms: e.cts.unwrap_or(0),
                size,
                sync: flags & NON_SYNC == 0,
                source,
                offset,
            });
            dts += i64::from(duration);
            offset += u64::from(size);
        }
        next_offset = offset;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::flv::frames::{MediaFrame, Track};
    use crate::formats::mp4::test_support::avc;
    use crate::formats::mp4::{init_segment, Fragmenter};

    #[test]
    fn a_media_segment_reads_back_as_byte_ranges_of_itself() {
        let tracks = Mp4Tracks {
            video: Some(avc()),
            ..Mp4Tracks::default()
        };
        let init = init_segment(&tracks).unwrap();
        let mut fragmenter = Fragmenter::media_segment(tracks.clone(), 7).unwrap();
        let mut out = Vec::new();
        for i in 0..90i64 {
            let frame = MediaFrame {
                track: Track::Video,
                dts_ms: 5000 + i * 40,
                pts_ms: 5000 + i * 40 + 80,
                keyframe: i % 30 == 0,
                data: vec![i as u8; 100 + i as usize].into(),
                offset: 0,
            };
            fragmenter.push(&frame, &mut out).unwrap();
        }
        fragmenter.finish(&mut out).unwrap();
        assert_eq!(
            fragmenter.sequence(),
            10,
            "three fragments after the seventh"
        );
        let segment = out.concat();
        assert_eq!(&segment[4..8], b"moof", "no head in a media segment");
        let (read, piece) = segment_samples(&init, &segment, 3, 1_000).unwrap();
        assert_eq!(read.video, tracks.video);
        assert_eq!(piece.video.len(), 90);
        for (i, s) in piece.video.iter().enumerate() {
            let at = s.offset as usize;
            assert_eq!(s.size as usize, 100 + i);
            assert!(segment[at..at + s.size as usize]
                .iter()
                .all(|&b| b == i as u8));
            assert_eq!(
                (s.dts_ms, s.cts_ms, s.sync),
                (1_000 + i as i64 * 40, 80, i % 30 == 0)
            );
        }
    }
}
