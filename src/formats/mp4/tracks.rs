//! The tracks of liverec's MP4 files: their `trak`s and initialization `moov` built from
//! the push's configurations, and read back from a `moov` (recovery, playback).

use mp4_atom::esds::{DecoderConfig, DecoderSpecific, EsDescriptor, SLConfig};
use mp4_atom::{
    Atom, Audio, Av01, Av1c, Avc1, Avcc, Codec, Dinf, Dops, Dref, Encode, Esds, FourCC, Ftyp, Hdlr,
    Hvc1, Hvcc, Mdhd, Mdia, Minf, Moov, Mp4a, Mvex, Mvhd, Opus, Smhd, Stbl, Stsd, Tkhd, Trak, Trex,
    Url, Visual, Vmhd, Vp09, VpcC,
};

use super::{box_err, Mp4Error, AUDIO_TRACK, TIMESCALE, VIDEO_TRACK};
use crate::formats::codec::aac::AacConfig;
use crate::formats::codec::av1::{parse_av1_config, parse_vp9_config};
use crate::formats::codec::entry::AudioEntry;
use crate::formats::codec::opus::{OpusConfig, OPUS_RATE};
use crate::formats::flv::frames::VideoConfig;
use crate::media::CodecConfig;

/// The tracks of one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mp4Tracks {
    /// Video configuration (track 1).
    pub video: Option<VideoConfig>,
    /// AAC configuration (track 2).
    pub audio: Option<AacConfig>,
    /// Opus configuration (track 2, when there is no AAC).
    pub opus: Option<OpusConfig>,
    /// AC-3, E-AC-3, FLAC or MP3 (track 2, when there is neither AAC nor Opus).
    pub entry: Option<AudioEntry>,
    /// Further tracks (tracks 3, 4, …, in this order).
    pub extra: Vec<ExtraTrack>,
}

/// Most tracks beyond the first video and audio one a file carries.
pub const MAX_EXTRA_TRACKS: usize = 14;

/// A track beyond the first video and audio one — an Enhanced RTMP multitrack push's
/// other renditions and languages: MP4 files carry each as a `trak` of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraTrack {
    /// Its `TrackId` in the push's multitrack packets (0 when read back from a file).
    pub source_id: u8,
    /// Its configuration: [`CodecConfig::Video`], [`CodecConfig::Audio`] or
    /// [`CodecConfig::Opus`].
    pub config: CodecConfig,
}

impl Mp4Tracks {
    /// Whether the file has an audio track.
    pub fn has_audio(&self) -> bool {
        self.audio.is_some() || self.opus.is_some() || self.entry.is_some()
    }

    /// The `trak` id of extra track `index`.
    pub fn extra_id(index: usize) -> u32 {
        AUDIO_TRACK + 1 + u32::try_from(index).unwrap_or(u32::MAX - AUDIO_TRACK - 1)
    }

    /// Whether `trak` id `id` is a video track.
    pub fn is_video(&self, id: u32) -> bool {
        match id {
            VIDEO_TRACK => true,
            AUDIO_TRACK => false,
            _ => (id as usize)
                .checked_sub(AUDIO_TRACK as usize + 1)
                .and_then(|i| self.extra.get(i))
                .is_some_and(|e| matches!(e.config, CodecConfig::Video(_))),
        }
    }
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

fn video_trak(config: &VideoConfig, id: u32) -> Result<Trak, Mp4Error> {
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
        VideoConfig::Av1(c) | VideoConfig::Vp9(c) => ((0, 0), record_entry(config, &c.raw)?),
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
    Ok(trak(id, b"vide", codec, size, false))
}

fn audio_trak(config: &AacConfig, id: u32) -> Trak {
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
                es_id: u16::try_from(id).unwrap_or(0),
                dec_config,
                sl_config: SLConfig {},
            },
        },
        btrt: None,
        taic: None,
    };
    trak(id, b"soun", Codec::Mp4a(mp4a), (0, 0), true)
}

/// The sample entry of an AV1 (`av01` + `av1C`) or VP9 (`vp09` + `vpcC`) track, from
/// the record as received.
fn record_entry(config: &VideoConfig, raw: &[u8]) -> Result<Codec, Mp4Error> {
    let visual = Visual {
        data_reference_index: 1,
        ..Default::default()
    };
    if let VideoConfig::Vp9(_) = config {
        let vpcc = VpcC::decode_body(&mut &raw[..]).map_err(box_err)?;
        let vp09 = Vp09 {
            visual,
            vpcc,
            btrt: None,
            colr: None,
            pasp: None,
        };
        return Ok(Codec::Vp09(vp09));
    }
    let av1c = Av1c::decode_body(&mut &raw[..]).map_err(box_err)?;
    Ok(Codec::Av01(Av01 {
        visual,
        av1c,
        ..Default::default()
    }))
}

fn opus_trak(config: &OpusConfig, id: u32) -> Result<Trak, Mp4Error> {
    let dops = Dops::decode_body(&mut config.dops_body().as_slice()).map_err(box_err)?;
    let opus = Opus {
        audio: Audio {
            data_reference_index: 1,
            channel_count: u16::from(config.channels),
            sample_size: 16,
            sample_rate: u16::try_from(OPUS_RATE).unwrap_or(0).into(),
        },
        dops,
        btrt: None,
    };
    Ok(trak(id, b"soun", Codec::Opus(opus), (0, 0), true))
}

fn entry_trak(entry: &AudioEntry, id: u32) -> Result<Trak, Mp4Error> {
    let codec = super::entry::entry_codec(entry, id)?;
    Ok(trak(id, b"soun", codec, (0, 0), true))
}

pub(super) fn ftyp() -> Ftyp {
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

pub(super) fn traks(tracks: &Mp4Tracks) -> Result<Vec<Trak>, Mp4Error> {
    let mut traks = Vec::new();
    if let Some(v) = &tracks.video {
        traks.push(video_trak(v, VIDEO_TRACK)?);
    }
    if let Some(a) = &tracks.audio {
        traks.push(audio_trak(a, AUDIO_TRACK));
    } else if let Some(o) = &tracks.opus {
        traks.push(opus_trak(o, AUDIO_TRACK)?);
    } else if let Some(e) = &tracks.entry {
        traks.push(entry_trak(e, AUDIO_TRACK)?);
    }
    for (i, extra) in tracks.extra.iter().enumerate() {
        let id = Mp4Tracks::extra_id(i);
        traks.push(match &extra.config {
            CodecConfig::Video(v) => video_trak(v, id)?,
            CodecConfig::Audio(a) => audio_trak(a, id),
            CodecConfig::Opus(o) => opus_trak(o, id)?,
            CodecConfig::Entry(e) => entry_trak(e, id)?,
            CodecConfig::Other { .. } => return Err(Mp4Error::Box("extra track codec".into())),
        });
    }
    if traks.is_empty() {
        return Err(Mp4Error::NoTracks);
    }
    Ok(traks)
}

/// The tracks an initialization `moov` of ours describes (the inverse of
/// [`Fragmenter::new`]'s, for recovery: a file's configurations read back from it).
pub fn tracks_of_moov(moov: &Moov) -> Result<Mp4Tracks, Mp4Error> {
    let mut tracks = Mp4Tracks::default();
    for trak in &moov.trak {
        let Some(codec) = trak.mdia.minf.stbl.stsd.codecs.first() else {
            continue;
        };
        let Some(config) = codec_config(codec)? else {
            continue;
        };
        match (trak.tkhd.track_id, config) {
            (VIDEO_TRACK, CodecConfig::Video(v)) => tracks.video = Some(v),
            (AUDIO_TRACK, CodecConfig::Audio(a)) => tracks.audio = Some(a),
            (AUDIO_TRACK, CodecConfig::Opus(o)) => tracks.opus = Some(o),
            (AUDIO_TRACK, CodecConfig::Entry(e)) => tracks.entry = Some(e),
            (id, config) if id > AUDIO_TRACK && tracks.extra.len() < MAX_EXTRA_TRACKS => {
                tracks.extra.push(ExtraTrack {
                    source_id: 0,
                    config,
                });
            }
            _ => {}
        }
    }
    if tracks.video.is_none() && !tracks.has_audio() {
        return Err(Mp4Error::NoTracks);
    }
    Ok(tracks)
}

/// The configuration a sample entry of ours carries (`None`: a codec liverec does not
/// write).
fn codec_config(codec: &Codec) -> Result<Option<CodecConfig>, Mp4Error> {
    use crate::formats::codec::aac::parse_audio_specific_config;
    use crate::formats::codec::avc::parse_avc_config;
    use crate::formats::codec::hevc::parse_hevc_config;
    if let Some(entry) = super::entry::entry_of(codec)? {
        return Ok(Some(CodecConfig::Entry(entry)));
    }
    let unreadable = |what: &str| Mp4Error::Box(format!("unreadable {what} configuration"));
    let mut raw = Vec::new();
    let video = match codec {
        Codec::Avc1(avc) => {
            avc.avcc.encode_body(&mut raw).map_err(box_err)?;
            VideoConfig::Avc(parse_avc_config(&raw).ok_or_else(|| unreadable("avcC"))?)
        }
        Codec::Hvc1(hevc) => {
            hevc.hvcc.encode_body(&mut raw).map_err(box_err)?;
            VideoConfig::Hevc(parse_hevc_config(&raw).ok_or_else(|| unreadable("hvcC"))?)
        }
        Codec::Av01(av01) => {
            av01.av1c.encode_body(&mut raw).map_err(box_err)?;
            VideoConfig::Av1(parse_av1_config(&raw).ok_or_else(|| unreadable("av1C"))?)
        }
        Codec::Vp09(vp09) => {
            vp09.vpcc.encode_body(&mut raw).map_err(box_err)?;
            VideoConfig::Vp9(parse_vp9_config(&raw).ok_or_else(|| unreadable("vpcC"))?)
        }
        Codec::Opus(opus) => return Ok(Some(CodecConfig::Opus(opus_config(&opus.dops)))),
        Codec::Mp4a(mp4a) => {
            let specific = mp4a.esds.es_desc.dec_config.dec_specific.as_ref();
            let config = specific
                .and_then(|d| parse_audio_specific_config(&d.raw))
                .ok_or_else(|| unreadable("AAC"))?;
            return Ok(Some(CodecConfig::Audio(config)));
        }
        _ => return Ok(None),
    };
    Ok(Some(CodecConfig::Video(video)))
}

/// An Opus configuration from a `dOps` (mapping family 0: all mp4-atom reads).
fn opus_config(dops: &Dops) -> OpusConfig {
    let mut raw = b"OpusHead".to_vec();
    raw.extend_from_slice(&[1, dops.output_channel_count]);
    raw.extend_from_slice(&dops.pre_skip.to_le_bytes());
    raw.extend_from_slice(&dops.input_sample_rate.to_le_bytes());
    raw.extend_from_slice(&dops.output_gain.to_le_bytes());
    raw.push(0);
    OpusConfig {
        channels: dops.output_channel_count,
        pre_skip: dops.pre_skip,
        input_sample_rate: dops.input_sample_rate,
        output_gain: dops.output_gain,
        mapping_family: 0,
        mapping: Vec::new(),
        raw,
    }
}

/// The initialization segment of fragmented files with `tracks`: `ftyp` + `moov`
/// (HLS `EXT-X-MAP`, RFC 8216 §4.3.2.5).
pub fn init_segment(tracks: &Mp4Tracks) -> Result<Vec<u8>, Mp4Error> {
    let mut out = Vec::new();
    ftyp().encode(&mut out).map_err(box_err)?;
    out.extend_from_slice(&init_moov(tracks)?);
    Ok(out)
}

/// `moov` for a fragmented file (its initialization segment follows `ftyp`).
pub(super) fn init_moov(tracks: &Mp4Tracks) -> Result<Vec<u8>, Mp4Error> {
    let traks = traks(tracks)?;
    let trex = traks
        .iter()
        .map(|t| Trex {
            track_id: t.tkhd.track_id,
            default_sample_description_index: 1,
            ..Default::default()
        })
        .collect();
    let moov = Moov {
        mvhd: Mvhd {
            timescale: TIMESCALE,
            rate: 1.into(),
            volume: 1.into(),
            next_track_id: Mp4Tracks::extra_id(tracks.extra.len()),
            ..Default::default()
        },
        mvex: Some(Mvex { mehd: None, trex }),
        trak: traks,
        ..Default::default()
    };
    let mut out = Vec::new();
    moov.encode(&mut out).map_err(box_err)?;
    Ok(out)
}

#[cfg(test)]
#[path = "tests/multitrack.rs"]
mod tests;
