//! Playback of any time range of a stream, across its recordings — the pure part: time
//! ranges in the API's forms ([`range`]), what the recordings cover ([`spans`]), signed
//! playback URLs ([`sign`]) and the VOD playlist of a range ([`playlist`]). The server
//! (`server::control::playback`) fetches rows and objects and answers HTTP; everything it
//! decides is decided here, with time passed in.

pub mod playlist;
pub mod range;
pub mod sign;
pub mod spans;
