//! Codec configuration records and bitstream helpers: H.264 (ISO/IEC 14496-15 §5.3.3
//! AVCDecoderConfigurationRecord, ITU-T H.264 §7.3.2.1 SPS), H.265 (ISO/IEC 14496-15
//! §8.3.3 HEVCDecoderConfigurationRecord) and AAC (ISO/IEC 14496-3 §1.6.2.1
//! AudioSpecificConfig, §1.A.2 ADTS). Written by hand: liverec needs only the fields a
//! remuxer reads (parameter sets, NAL length size, picture size, sample rate, channels),
//! and the crates that parse them pull in decoders.

pub mod aac;
pub mod av1;
pub mod avc;
pub mod bits;
pub mod entry;
pub mod hevc;
pub mod opus;
