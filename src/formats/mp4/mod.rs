//! MP4 (ISO/IEC 14496-12) written as fragmented MP4 while a recording grows: an
//! initialization segment (`ftyp` + `moov` with `mvex`, ISO/IEC 14496-12 §8.8) and then
//! about one `moof` + `mdat` per second (§8.8.4), each starting at a video keyframe. A
//! process killed at any moment leaves a file that players read up to the last complete
//! fragment. Boxes are mp4-atom's; the sample tables are liverec's own.
//!
//! Payloads are untouched: video samples are the FLV's length-prefixed NAL units (the
//! `avcC`/`hvcC` is the FLV sequence header itself), audio samples the raw AAC frames
//! (the `esds` carries the AudioSpecificConfig verbatim). Both tracks use a 1 ms timescale,
//! so every decode and composition time is the source millisecond value, unchanged.
//! A sample's duration is the next sample's DTS minus its own (the last one repeats the
//! previous duration).

use mp4_atom::esds::{DecoderConfig, DecoderSpecific, EsDescriptor, SLConfig};
use mp4_atom::{
    Atom, Audio, Avc1, Avcc, Co64, Codec, Ctts, CttsEntry, Dinf, Dref, Edts, Elst, ElstEntry,
    Encode, Esds, FourCC, Ftyp, Hdlr, Hvc1, Hvcc, Mdhd, Mdia, Mfhd, Minf, Moof, Moov, Mp4a, Mvex,
    Mvhd, Smhd, Stbl, Stco, Stsc, StscEntry, Stsd, Stss, Stsz, StszSamples, Stts, SttsEntry, Tfdt,
    Tfhd, Tkhd, Traf, Trak, Trex, Trun, TrunEntry, Url, Visual, Vmhd,
};

use crate::formats::codec::aac::AacConfig;
use crate::formats::flv::frames::{MediaFrame, Track, VideoConfig};

/// Timescale of both tracks: milliseconds, the unit FLV and RTMP timestamps come in.
pub const TIMESCALE: u32 = 1000;
/// Target fragment length, ms (the crash-loss bound).
pub const FRAGMENT_MS: i64 = 1000;
const VIDEO_TRACK: u32 = 1;
const AUDIO_TRACK: u32 = 2;
const SYNC_FLAGS: u32 = 0x0200_0000;
const NON_SYNC_FLAGS: u32 = 0x0101_0000;

/// Why an MP4 cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mp4Error {
    /// A decoder configuration mp4-atom cannot read or write.
    #[error("MP4 box: {0}")]
    Box(String),
    /// Nothing to write a track for.
    #[error("no video or AAC audio configuration")]
    NoTracks,
}

fn box_err(e: mp4_atom::Error) -> Mp4Error {
    Mp4Error::Box(e.to_string())
}

/// The tracks of one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mp4Tracks {
    /// Video configuration (track 1).
    pub video: Option<VideoConfig>,
    /// AAC configuration (track 2).
    pub audio: Option<AacConfig>,
}

fn trak(id: u32, handler: &[u8; 4], codec: Codec, size: (u16, u16), audio: bool) -> Trak {
    Trak {
        tkhd: Tkhd {
            track_id: id,
            enabled: true,
            in_movie: true,
            volume: if audio { 1.into() } else { 0.into() },
            width: size.0.into(),
            height: size.1.into(),
            ..Default::default()
        },
        mdia: Mdia {
            mdhd: Mdhd {
                timescale: TIMESCALE,
                language: "und".into(),
                ..Default::default()
            },
            hdlr: Hdlr {
                handler: FourCC::new(handler),
                name: if audio {
                    "SoundHandler".into()
                } else {
                    "VideoHandler".into()
                },
            },
            minf: Minf {
                vmhd: (!audio).then(Vmhd::default),
                smhd: audio.then(Smhd::default),
                dinf: Dinf {
                    dref: Dref {
                        urls: vec![Url::default()],
                    },
                },
                stbl: Stbl {
                    stsd: Stsd {
                        codecs: vec![codec],
                    },
                    ..Default::default()
                },
                ..Default::default()
            },
        },
        ..Default::default()
    }
}

fn video_trak(config: &VideoConfig) -> Result<Trak, Mp4Error> {
    let (size, codec) = match config {
        VideoConfig::Avc(c) => {
            let (w, h) = c.dimensions.unwrap_or((0, 0));
            let size = (u16::try_from(w).unwrap_or(0), u16::try_from(h).unwrap_or(0));
            let avcc = Avcc::decode_body(&mut c.raw.as_slice()).map_err(box_err)?;
            let visual = Visual {
                data_reference_index: 1,
                width: size.0,
                height: size.1,
                ..Default::default()
            };
            (
                size,
                Codec::Avc1(Avc1 {
                    visual,
                    avcc,
                    ..Default::default()
                }),
            )
        }
        VideoConfig::Hevc(c) => {
            let hvcc = Hvcc::decode_body(&mut c.raw.as_slice()).map_err(box_err)?;
            let visual = Visual {
                data_reference_index: 1,
                ..Default::default()
            };
            (
                (0, 0),
                Codec::Hvc1(Hvc1 {
                    visual,
                    hvcc,
                    ..Default::default()
                }),
            )
        }
    };
    Ok(trak(VIDEO_TRACK, b"vide", codec, size, false))
}

fn audio_trak(config: &AacConfig) -> Trak {
    let dec_config = DecoderConfig {
        object_type_indication: 0x40,
        stream_type: 0x05,
        up_stream: 0,
        buffer_size_db: Default::default(),
        max_bitrate: 0,
        avg_bitrate: 0,
        dec_specific: Some(DecoderSpecific {
            profile: config.object_type,
            freq_index: config.frequency_index,
            chan_conf: config.channels,
            raw: config.raw.clone(),
        }),
    };
    let mp4a = Mp4a {
        audio: Audio {
            data_reference_index: 1,
            channel_count: u16::from(config.channels.max(1)),
            sample_size: 16,
            sample_rate: u16::try_from(config.sample_rate).unwrap_or(0).into(),
        },
        esds: Esds {
            es_desc: EsDescriptor {
                es_id: AUDIO_TRACK as u16,
                dec_config,
                sl_config: SLConfig {},
            },
        },
        btrt: None,
        taic: None,
    };
    trak(AUDIO_TRACK, b"soun", Codec::Mp4a(mp4a), (0, 0), true)
}

fn ftyp() -> Ftyp {
    Ftyp {
        major_brand: FourCC::new(b"isom"),
        minor_version: 512,
        compatible_brands: vec![
            FourCC::new(b"isom"),
            FourCC::new(b"iso6"),
            FourCC::new(b"mp41"),
        ],
    }
}

fn traks(tracks: &Mp4Tracks) -> Result<Vec<Trak>, Mp4Error> {
    let mut traks = Vec::new();
    if let Some(v) = &tracks.video {
        traks.push(video_trak(v)?);
    }
    if let Some(a) = &tracks.audio {
        traks.push(audio_trak(a));
    }
    if traks.is_empty() {
        return Err(Mp4Error::NoTracks);
    }
    Ok(traks)
}

/// `ftyp` + `moov` for a fragmented file.
pub fn init_segment(tracks: &Mp4Tracks) -> Result<Vec<u8>, Mp4Error> {
    let traks = traks(tracks)?;
    let trex = traks
        .iter()
        .map(|t| Trex {
            track_id: t.tkhd.track_id,
            default_sample_description_index: 1,
            ..Default::default()
        })
        .collect();
    let ftyp = ftyp();
    let moov = Moov {
        mvhd: Mvhd {
            timescale: TIMESCALE,
            rate: 1.into(),
            volume: 1.into(),
            next_track_id: AUDIO_TRACK + 1,
            ..Default::default()
        },
        mvex: Some(Mvex { mehd: None, trex }),
        trak: traks,
        ..Default::default()
    };
    let mut out = Vec::new();
    ftyp.encode(&mut out).map_err(box_err)?;
    moov.encode(&mut out).map_err(box_err)?;
    Ok(out)
}

#[derive(Debug, Clone)]
struct Sample {
    dts_ms: i64,
    cts_ms: i64,
    duration_ms: i64,
    sync: bool,
    data: Vec<u8>,
}

#[derive(Debug, Default)]
struct TrackQueue {
    ready: Vec<Sample>,
    last: Option<Sample>,
    previous_duration: i64,
}

impl TrackQueue {
    fn add(&mut self, frame: &MediaFrame) {
        if let Some(mut last) = self.last.take() {
            last.duration_ms = (frame.dts_ms - last.dts_ms).max(1);
            self.previous_duration = last.duration_ms;
            self.ready.push(last);
        }
        self.last = Some(Sample {
            dts_ms: frame.dts_ms,
            cts_ms: frame.pts_ms - frame.dts_ms,
            duration_ms: 0,
            sync: frame.keyframe,
            data: frame.data.clone(),
        });
    }

    fn drain_all(&mut self) {
        if let Some(mut last) = self.last.take() {
            last.duration_ms = self.previous_duration.max(1);
            self.ready.push(last);
        }
    }
}

/// Appends `value` to a run-length list.
fn push_run<T: PartialEq + Copy>(runs: &mut Vec<(u32, T)>, value: T) {
    match runs.last_mut() {
        Some((n, last)) if *last == value => *n += 1,
        _ => runs.push((1, value)),
    }
}

/// One track's sample tables, kept compact while the file grows: 4 bytes per sample
/// (its size) plus run-length lists of durations, composition offsets and sync flags —
/// constant-rate streams need a handful of runs, video one pair per GOP.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrackTable {
    /// Sample sizes, bytes.
    pub sizes: Vec<u32>,
    /// (count, duration ms) runs.
    pub durations: Vec<(u32, u32)>,
    /// (count, composition offset ms) runs.
    pub cts: Vec<(u32, i32)>,
    /// (count, is sync) runs.
    pub sync: Vec<(u32, bool)>,
}

impl TrackTable {
    /// Adds one sample.
    pub fn push(&mut self, size: u32, duration: u32, cts: i32, sync: bool) {
        self.sizes.push(size);
        push_run(&mut self.durations, duration);
        push_run(&mut self.cts, cts);
        push_run(&mut self.sync, sync);
    }
}

/// One track's run of samples in one fragment: a chunk of the progressive file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkInfo {
    /// Track id.
    pub track: u32,
    /// Samples in it.
    pub samples: u32,
    /// Where its bytes are in the fragmented file.
    pub source_offset: u64,
    /// Decode time of its first sample, ms.
    pub first_dts_ms: i64,
    /// Bytes.
    pub len: u64,
}

/// What the progressive rewrite needs: the chunks in file order and each track's table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SampleTables {
    /// Chunks, in file order.
    pub chunks: Vec<ChunkInfo>,
    /// Video track (id 1).
    pub video: TrackTable,
    /// Audio track (id 2).
    pub audio: TrackTable,
}

impl SampleTables {
    fn track(&self, id: u32) -> &TrackTable {
        if id == VIDEO_TRACK {
            &self.video
        } else {
            &self.audio
        }
    }

    /// About how many bytes the progressive head (ftyp + moov) takes: the sample
    /// tables' encoded sizes plus room for the other boxes. Sizes the output buffer so
    /// building the head does not double its capacity (the head is the large part of a
    /// progressive MP4's memory).
    fn head_size_hint(&self) -> usize {
        const FIXED_BYTES_PER_TRACK: usize = 4096;
        let track = |t: &TrackTable| {
            FIXED_BYTES_PER_TRACK
                + 4 * t.sizes.len()
                + 8 * (t.durations.len() + t.cts.len())
                + 4 * t
                    .sync
                    .iter()
                    .filter(|(_, sync)| *sync)
                    .map(|&(n, _)| n as usize)
                    .sum::<usize>()
        };
        // Per chunk: an offset (co64) and at worst an stsc entry.
        track(&self.video) + track(&self.audio) + 20 * self.chunks.len()
    }
}

/// Frames in, fragments out; see the module doc.
#[derive(Debug)]
pub struct Fragmenter {
    has_video: bool,
    sequence: u32,
    /// Bytes of the fragmented file so far (init segment included).
    written: u64,
    tables: SampleTables,
    video: TrackQueue,
    audio: TrackQueue,
    fragment_start_ms: Option<i64>,
}

impl Fragmenter {
    /// The sample tables so far (for the progressive rewrite).
    pub fn tables(&self) -> &SampleTables {
        &self.tables
    }

    /// A fragmenter for a file with (or without) a video track whose init segment is
    /// `init_len` bytes.
    pub fn new(has_video: bool, init_len: u64) -> Self {
        Self {
            has_video,
            sequence: 0,
            written: init_len,
            tables: SampleTables::default(),
            video: TrackQueue::default(),
            audio: TrackQueue::default(),
            fragment_start_ms: None,
        }
    }

    /// Adds a frame; returns a finished fragment when this frame starts the next one.
    pub fn push(&mut self, frame: &MediaFrame) -> Result<Option<Vec<u8>>, Mp4Error> {
        let queue = match frame.track {
            Track::Video => &mut self.video,
            Track::Audio => &mut self.audio,
        };
        if let Some(last) = queue.last.as_mut() {
            last.duration_ms = (frame.dts_ms - last.dts_ms).max(1);
        }
        let boundary = if self.has_video {
            frame.track == Track::Video && frame.keyframe
        } else {
            true
        };
        let start = *self.fragment_start_ms.get_or_insert(frame.dts_ms);
        let mut fragment = None;
        if boundary && frame.dts_ms - start >= FRAGMENT_MS {
            let queue = match frame.track {
                Track::Video => &mut self.video,
                Track::Audio => &mut self.audio,
            };
            if let Some(last) = queue.last.take() {
                queue.previous_duration = last.duration_ms;
                queue.ready.push(last);
            }
            fragment = self.fragment()?;
            self.fragment_start_ms = Some(frame.dts_ms);
        }
        match frame.track {
            Track::Video => self.video.add(frame),
            Track::Audio => self.audio.add(frame),
        }
        Ok(fragment)
    }

    /// Everything still queued, as a last fragment.
    pub fn finish(&mut self) -> Result<Option<Vec<u8>>, Mp4Error> {
        self.video.drain_all();
        self.audio.drain_all();
        self.fragment()
    }

    fn fragment(&mut self) -> Result<Option<Vec<u8>>, Mp4Error> {
        let tracks: Vec<(u32, Vec<Sample>)> = [
            (VIDEO_TRACK, &mut self.video),
            (AUDIO_TRACK, &mut self.audio),
        ]
        .into_iter()
        .filter(|(_, q)| !q.ready.is_empty())
        .map(|(id, q)| (id, std::mem::take(&mut q.ready)))
        .collect();
        if tracks.is_empty() {
            return Ok(None);
        }
        self.sequence += 1;
        let mut moof = Moof {
            mfhd: Mfhd {
                sequence_number: self.sequence,
            },
            traf: Vec::new(),
        };
        for (id, samples) in &tracks {
            let entries = samples
                .iter()
                .map(|s| TrunEntry {
                    duration: Some(u32::try_from(s.duration_ms).unwrap_or(0)),
                    size: Some(u32::try_from(s.data.len()).unwrap_or(u32::MAX)),
                    flags: Some(if s.sync { SYNC_FLAGS } else { NON_SYNC_FLAGS }),
                    cts: Some(i32::try_from(s.cts_ms).unwrap_or(0)),
                })
                .collect();
            let base = samples.first().map_or(0, |s| s.dts_ms.max(0) as u64);
            moof.traf.push(Traf {
                tfhd: Tfhd {
                    track_id: *id,
                    default_base_is_moof: true,
                    ..Default::default()
                },
                tfdt: Some(Tfdt {
                    base_media_decode_time: base,
                }),
                trun: vec![Trun {
                    data_offset: Some(0),
                    entries,
                }],
                ..Default::default()
            });
        }
        let mut probe = Vec::new();
        moof.encode(&mut probe).map_err(box_err)?;
        let mut offset = probe.len() as i64 + 8;
        for (traf, (id, samples)) in moof.traf.iter_mut().zip(&tracks) {
            if let Some(trun) = traf.trun.first_mut() {
                trun.data_offset = Some(i32::try_from(offset).unwrap_or(i32::MAX));
            }
            let len = samples.iter().map(|s| s.data.len() as u64).sum::<u64>();
            let table = if *id == VIDEO_TRACK {
                &mut self.tables.video
            } else {
                &mut self.tables.audio
            };
            for s in samples {
                table.push(
                    u32::try_from(s.data.len()).unwrap_or(u32::MAX),
                    u32::try_from(s.duration_ms).unwrap_or(0),
                    i32::try_from(s.cts_ms).unwrap_or(0),
                    s.sync,
                );
            }
            self.tables.chunks.push(ChunkInfo {
                track: *id,
                samples: samples.len() as u32,
                source_offset: self.written + offset as u64,
                first_dts_ms: samples.first().map_or(0, |s| s.dts_ms),
                len,
            });
            offset += len as i64;
        }
        let payload: usize = tracks
            .iter()
            .flat_map(|(_, s)| s.iter())
            .map(|x| x.data.len())
            .sum();
        let mut out = Vec::with_capacity(probe.len() + payload + 16);
        moof.encode(&mut out).map_err(box_err)?;
        // The mdat header by hand, then each sample copied once (fragments stay far below
        // 4 GiB, so the 32-bit size form always fits).
        out.extend_from_slice(&u32::try_from(payload + 8).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(b"mdat");
        for (_, samples) in &tracks {
            for sample in samples {
                out.extend_from_slice(&sample.data);
            }
        }
        self.written += out.len() as u64;
        Ok(Some(out))
    }
}

/// A byte range of a file: (offset, length).
pub type ByteRange = (u64, u64);

/// The progressive (moov-first) form of a finished fragmented file: the bytes to write
/// first (`ftyp`, a `moov` with complete sample tables, the `mdat` header), then the
/// ranges of the fragmented file to copy after them, in order — the sample data itself,
/// untouched. Chunk offsets are 64-bit (`co64`) when the file passes 4 GiB.
pub fn progressive(
    tracks: &Mp4Tracks,
    tables: &SampleTables,
) -> Result<(Vec<u8>, Vec<ByteRange>), Mp4Error> {
    let chunks = &tables.chunks;
    let payload: u64 = chunks.iter().map(|c| c.len).sum();
    let mdat_header: u64 = if payload + 8 > u64::from(u32::MAX) {
        16
    } else {
        8
    };
    let wide = payload + (1 << 20) > u64::from(u32::MAX);
    let first_dts = |id: u32| {
        chunks
            .iter()
            .find(|c| c.track == id)
            .map(|c| c.first_dts_ms)
    };
    let movie_start = [VIDEO_TRACK, AUDIO_TRACK]
        .into_iter()
        .filter_map(first_dts)
        .min()
        .unwrap_or(0);
    let build = |head_len: u64| -> Result<Vec<u8>, Mp4Error> {
        let mut traks = traks(tracks)?;
        let mut movie_ms = 0u64;
        for trak in &mut traks {
            let id = trak.tkhd.track_id;
            let duration = fill_tables(trak, tables, id, head_len + mdat_header, wide);
            // A track that starts after the other keeps its offset: an empty edit first
            // (ISO/IEC 14496-12 §8.6.6), then the media.
            let delay = first_dts(id).map_or(0, |d| (d - movie_start).max(0) as u64);
            let presented = duration + delay;
            if delay > 0 {
                let edit = |segment_duration, media_time| ElstEntry {
                    segment_duration,
                    media_time,
                    media_rate: 1.into(),
                };
                trak.edts = Some(Edts {
                    elst: Some(Elst {
                        entries: vec![edit(delay, None), edit(duration, Some(0))],
                    }),
                });
            }
            trak.tkhd.duration = presented;
            trak.mdia.mdhd.duration = duration;
            movie_ms = movie_ms.max(presented);
        }
        let mvhd = Mvhd {
            timescale: TIMESCALE,
            duration: movie_ms,
            rate: 1.into(),
            volume: 1.into(),
            next_track_id: AUDIO_TRACK + 1,
            ..Default::default()
        };
        let moov = Moov {
            mvhd,
            trak: traks,
            ..Default::default()
        };
        let mut out = Vec::with_capacity(if head_len > 0 {
            usize::try_from(head_len).unwrap_or(0) + 16
        } else {
            tables.head_size_hint()
        });
        ftyp().encode(&mut out).map_err(box_err)?;
        moov.encode(&mut out).map_err(box_err)?;
        Ok(out)
    };
    // The head's length does not depend on the offsets it holds (fixed-width entries):
    // build once to measure it, drop that, then build for real.
    let head_len = build(0)?.len() as u64;
    let mut head = build(head_len)?;
    if mdat_header == 16 {
        head.extend_from_slice(&1u32.to_be_bytes());
        head.extend_from_slice(b"mdat");
        head.extend_from_slice(&(payload + 16).to_be_bytes());
    } else {
        head.extend_from_slice(&((payload + 8) as u32).to_be_bytes());
        head.extend_from_slice(b"mdat");
    }
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    for c in chunks {
        match ranges.last_mut() {
            Some((start, len)) if *start + *len == c.source_offset => *len += c.len,
            _ => ranges.push((c.source_offset, c.len)),
        }
    }
    Ok((head, ranges))
}

/// Fills `trak`'s sample tables from `tables` for track `id`; `data_start` is where the
/// mdat payload begins. Returns the track duration, ms.
fn fill_tables(
    trak: &mut Trak,
    tables: &SampleTables,
    id: u32,
    data_start: u64,
    wide: bool,
) -> u64 {
    let mut position = data_start;
    let mut offsets = Vec::new();
    let mut stsc: Vec<StscEntry> = Vec::new();
    for chunk in &tables.chunks {
        if chunk.track == id {
            offsets.push(position);
            if stsc
                .last()
                .is_none_or(|e| e.samples_per_chunk != chunk.samples)
            {
                stsc.push(StscEntry {
                    first_chunk: offsets.len() as u32,
                    samples_per_chunk: chunk.samples,
                    sample_description_index: 1,
                });
            }
        }
        position += chunk.len;
    }
    let table = tables.track(id);
    let stbl = &mut trak.mdia.minf.stbl;
    stbl.stts = Stts {
        entries: table
            .durations
            .iter()
            .map(|&(n, d)| SttsEntry {
                sample_count: n,
                sample_delta: d,
            })
            .collect(),
    };
    if table.cts.iter().any(|&(_, o)| o != 0) {
        stbl.ctts = Some(Ctts {
            entries: table
                .cts
                .iter()
                .map(|&(n, o)| CttsEntry {
                    sample_count: n,
                    sample_offset: i64::from(o),
                })
                .collect(),
        });
    }
    if table.sync.iter().any(|&(_, sync)| !sync) {
        let mut number = 1u32;
        let mut sync_samples = Vec::new();
        for &(n, sync) in &table.sync {
            if sync {
                sync_samples.extend(number..number + n);
            }
            number += n;
        }
        stbl.stss = Some(Stss {
            entries: sync_samples,
        });
    }
    stbl.stsc = Stsc { entries: stsc };
    stbl.stsz = Stsz {
        samples: StszSamples::Different {
            sizes: table.sizes.clone(),
        },
    };
    if wide {
        stbl.co64 = Some(Co64 { entries: offsets });
    } else {
        stbl.stco = Some(Stco {
            entries: offsets
                .iter()
                .map(|o| u32::try_from(*o).unwrap_or(u32::MAX))
                .collect(),
        });
    }
    table
        .durations
        .iter()
        .map(|&(n, d)| u64::from(n) * u64::from(d))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::codec::aac::parse_audio_specific_config;

    fn tables(chunks: &[(u32, u64, u64)]) -> SampleTables {
        let mut t = SampleTables::default();
        for &(samples, len, source_offset) in chunks {
            for _ in 0..samples {
                t.audio.push((len / u64::from(samples)) as u32, 21, 0, true);
            }
            t.chunks.push(ChunkInfo {
                track: AUDIO_TRACK,
                samples,
                source_offset,
                first_dts_ms: 0,
                len,
            });
        }
        t
    }

    fn tracks() -> Mp4Tracks {
        Mp4Tracks {
            video: None,
            audio: parse_audio_specific_config(&[0x11, 0x90]),
        }
    }

    fn find(head: &[u8], name: &[u8; 4]) -> bool {
        head.windows(4).any(|w| w == name)
    }

    #[test]
    fn small_files_use_stco_and_a_32_bit_mdat() {
        let chunks = tables(&[(10, 1000, 500), (10, 1000, 1600)]);
        let (head, ranges) = progressive(&tracks(), &chunks).unwrap();
        assert!(find(&head, b"stco") && !find(&head, b"co64"));
        assert_eq!(&head[head.len() - 4..], b"mdat");
        assert_eq!(
            u32::from_be_bytes(head[head.len() - 8..head.len() - 4].try_into().unwrap()),
            2008
        );
        assert_eq!(ranges, [(500, 1000), (1600, 1000)]);
    }

    #[test]
    fn files_over_4_gib_use_co64_and_a_64_bit_mdat() {
        let gib = 1u64 << 30;
        let list: Vec<(u32, u64, u64)> = (0..5).map(|i| (4, gib, 100 + i * gib)).collect();
        let (head, ranges) = progressive(&tracks(), &tables(&list)).unwrap();
        assert!(find(&head, b"co64") && !find(&head, b"stco"));
        assert_eq!(&head[head.len() - 12..head.len() - 8], b"mdat");
        assert_eq!(
            u32::from_be_bytes(head[head.len() - 16..head.len() - 12].try_into().unwrap()),
            1,
            "largesize follows"
        );
        assert_eq!(
            u64::from_be_bytes(head[head.len() - 8..].try_into().unwrap()),
            5 * gib + 16
        );
        assert_eq!(
            ranges,
            [(100, 5 * gib)],
            "adjacent chunks are copied as one range"
        );
    }
}
