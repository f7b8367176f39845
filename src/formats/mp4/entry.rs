//! MP4 sample entries of the audio codecs [`AudioEntry`] describes, and back (recovery):
//! AC-3 `ac-3` + `dac3` and E-AC-3 `ec-3` + `dec3` (ETSI TS 102 366 Annex F), FLAC
//! `fLaC` + `dfLa` (the FLAC-in-ISOBMFF mapping), MP3 as `mp4a` with object type 0x6B
//! (ISO/IEC 14496-1 Table 5; what ffmpeg writes and browsers play).

use mp4_atom::esds::{DecoderConfig, EsDescriptor, SLConfig};
use mp4_atom::{
    Ac3, Ac3SpecificBox, Atom, Audio, Codec, Dfla, Eac3, Ec3IndependentSubstream, Ec3SpecificBox,
    Esds, Mp4a,
};

use super::{box_err, Mp4Error};
use crate::formats::codec::entry::{
    parse_flac_streaminfo, Ac3Info, AudioEntry, Eac3Info, Mp3Info, STREAMINFO_BYTES,
};

/// MPEG-1/2 audio (MP3) in an `esds` (ISO/IEC 14496-1 `objectTypeIndication`).
const MP3_OBJECT_TYPE: u8 = 0x6B;

fn audio(entry: &AudioEntry) -> Audio {
    Audio {
        data_reference_index: 1,
        channel_count: u16::from(entry.channels().max(1)),
        sample_size: 16,
        sample_rate: u16::try_from(entry.sample_rate()).unwrap_or(0).into(),
    }
}

/// The sample entry of `entry` in `trak` `id`.
pub(super) fn entry_codec(entry: &AudioEntry, id: u32) -> Result<Codec, Mp4Error> {
    let audio = audio(entry);
    Ok(match entry {
        AudioEntry::Ac3(a) => Codec::Ac3(Ac3 {
            audio,
            dac3: Ac3SpecificBox {
                fscod: a.fscod,
                bsid: a.bsid,
                bsmod: a.bsmod,
                acmod: a.acmod,
                lfeon: a.lfeon,
                bit_rate_code: a.bit_rate_code,
            },
        }),
        AudioEntry::Eac3(e) => Codec::Eac3(Eac3 {
            audio,
            dec3: Ec3SpecificBox {
                data_rate: e.data_rate,
                substreams: vec![Ec3IndependentSubstream {
                    fscod: e.fscod,
                    bsid: e.bsid,
                    asvc: false,
                    bsmod: 0,
                    acmod: e.acmod,
                    lfeon: e.lfeon,
                    num_dep_sub: 0,
                    chan_loc: None,
                }],
            },
        }),
        AudioEntry::Flac(f) => {
            let mut body = vec![0, 0, 0, 0, 0x80, 0, 0, STREAMINFO_BYTES as u8];
            body.extend_from_slice(&f.streaminfo);
            let dfla = Dfla::decode_body(&mut body.as_slice()).map_err(box_err)?;
            Codec::Flac(mp4_atom::Flac { audio, dfla })
        }
        AudioEntry::Mp3(_) => Codec::Mp4a(Mp4a {
            audio,
            esds: Esds {
                es_desc: EsDescriptor {
                    es_id: u16::try_from(id).unwrap_or(0),
                    dec_config: DecoderConfig {
                        object_type_indication: MP3_OBJECT_TYPE,
                        stream_type: 0x05,
                        up_stream: 0,
                        buffer_size_db: Default::default(),
                        max_bitrate: 0,
                        avg_bitrate: 0,
                        dec_specific: None,
                    },
                    sl_config: SLConfig {},
                },
            },
            btrt: None,
            taic: None,
        }),
    })
}

/// The [`AudioEntry`] a sample entry of ours describes (`None`: another codec).
pub(super) fn entry_of(codec: &Codec) -> Result<Option<AudioEntry>, Mp4Error> {
    Ok(Some(match codec {
        Codec::Ac3(a) => AudioEntry::Ac3(Ac3Info {
            fscod: a.dac3.fscod,
            bsid: a.dac3.bsid,
            bsmod: a.dac3.bsmod,
            acmod: a.dac3.acmod,
            lfeon: a.dac3.lfeon,
            bit_rate_code: a.dac3.bit_rate_code,
        }),
        Codec::Eac3(e) => {
            let Some(s) = e.dec3.substreams.first() else {
                return Err(Mp4Error::Box("dec3 without a substream".into()));
            };
            AudioEntry::Eac3(Eac3Info {
                data_rate: e.dec3.data_rate,
                fscod: s.fscod,
                bsid: s.bsid,
                acmod: s.acmod,
                lfeon: s.lfeon,
                sample_rate: u32::from(e.audio.sample_rate.integer()),
            })
        }
        Codec::Flac(f) => {
            let mut body = Vec::new();
            f.dfla.encode_body(&mut body).map_err(box_err)?;
            // Version and flags, then the STREAMINFO block with its header.
            body.get(4..)
                .and_then(parse_flac_streaminfo)
                .ok_or_else(|| Mp4Error::Box("unreadable dfLa".into()))?
        }
        Codec::Mp4a(m) if m.esds.es_desc.dec_config.object_type_indication == MP3_OBJECT_TYPE => {
            AudioEntry::Mp3(Mp3Info {
                sample_rate: u32::from(m.audio.sample_rate.integer()),
                channels: u8::try_from(m.audio.channel_count).unwrap_or(2),
            })
        }
        _ => return Ok(None),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::codec::entry::{parse_ac3_frame, parse_mp3_frame, FlacInfo};
    use mp4_atom::{Decode, Encode};

    #[test]
    fn every_entry_reads_back_as_written() {
        let mut info = vec![0x04, 0, 0x04, 0, 0, 0, 0, 0, 0, 0, 0x0B, 0xB8, 0x00, 0xF0];
        info.resize(STREAMINFO_BYTES, 7);
        let entries = [
            parse_ac3_frame(&[0x0B, 0x77, 0x48, 0x0D, 0x0C, 0x40, 0x2F, 0x84, 0x2B]).unwrap(),
            parse_ac3_frame(&[0x0B, 0x77, 0x00, 0xBF, 0x32, 0x87, 0xC0, 0x00]).unwrap(),
            AudioEntry::Flac(FlacInfo {
                streaminfo: info,
                sample_rate: 48_000,
                channels: 1,
                bits_per_sample: 16,
            }),
            parse_mp3_frame(&[0xFF, 0xFB, 0x54, 0xC4]).unwrap(),
        ];
        for entry in entries {
            let codec = entry_codec(&entry, 2).unwrap();
            let mut bytes = Vec::new();
            codec.encode(&mut bytes).unwrap();
            let decoded = Codec::decode(&mut bytes.as_slice()).unwrap();
            assert_eq!(
                entry_of(&decoded).unwrap(),
                Some(entry.clone()),
                "{entry:?}"
            );
        }
    }
}
