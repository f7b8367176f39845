//! The mixing engine's plan, pure: from a [`MixSession`] and what is known of its live
//! inputs, where each layer is drawn and the `ffmpeg` command line that composes them
//! (liverec writes no pixel code: ffmpeg's `scale`, `crop`, `overlay` and `amix` do).
//!
//! The composition (one engine *generation*: the server starts a new one when the
//! live inputs or the layout change, and after a crash):
//! - input 0 is the canvas: a `color` source of the output size in the background
//!   canvas's colour (black under a stream background), read in real time (`-re`), so
//!   the output keeps a steady frame rate whatever the inputs do; input 1 is silence
//!   (`anullsrc`), so the sound never stops either. Both start at [`GENERATION_LEAD_MS`];
//! - each live stream input is FLV read from a socket the server feeds, with its
//!   timestamps already on the generation's clock (`-copyts` keeps them): the server
//!   starts each with its latest keyframe and what followed, the newest frame at the
//!   lead — so the first picture of a generation shows every input already;
//! - layers are drawn in `ImageLayer` order with `overlay` (`eof_action=pass`: an input
//!   that ends leaves the layers below it in its place), each picture cropped
//!   (`CropParams`), then scaled to its layer (with `UseMixCropCenter`, scaled to cover
//!   the layer and cut centre-wise instead of stretched); a stream not live draws
//!   nothing; a canvas layer is a `color` source of its size;
//! - sound: every live input with sound (`InputType` 0 and 4) and the silence go
//!   through `amix` at the output's sample rate;
//! - out: H.264 (libx264, `zerolatency`: no B-frames, no lookahead) and AAC in FLV on
//!   standard output, flushed per packet, which the server ingests as the output's push.

use std::fmt::Write as _;

use crate::config::mix::{parse_color, Dim, InputType, MixInput, MixSession};

/// Output frame rate when `OutputStreamFrameRate` is not given.
pub const DEFAULT_FRAME_RATE: u32 = 25;
/// Output GOP, seconds, when `OutputStreamGop` is not given.
pub const DEFAULT_GOP_SECONDS: u32 = 2;
/// Audio sample rate when `OutputAudioSampleRate` is not given.
pub const DEFAULT_SAMPLE_RATE: u32 = 44_100;
/// Audio bit rate, kbit/s, when `OutputAudioBitRate` is not given.
pub const DEFAULT_AUDIO_KBPS: u32 = 96;
/// Bits per pixel and frame of the default video bit rate (≈ 1.6 Mbit/s at 720p25).
pub const DEFAULT_BITS_PER_PIXEL: f64 = 0.07;
/// Media time ffmpeg may read from an input to learn its streams, µs (the delay before
/// a generation's first frame).
pub const INPUT_ANALYZE_US: u32 = 100_000;
/// Where a generation's clock starts, ms: an input's frames since its latest keyframe
/// (at most this old) fit before it.
pub const GENERATION_LEAD_MS: i64 = 10_000;
/// libx264 preset.
pub const X264_PRESET: &str = "veryfast";

/// A live stream input as the server found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveInput {
    /// Its `InputStreamName`.
    pub name: String,
    /// Its picture size (0 × 0 when it has no video).
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Whether it carries video.
    pub video: bool,
    /// Whether it carries audio.
    pub audio: bool,
    /// Where ffmpeg reads it (`unix:/path`).
    pub url: String,
}

/// Where one layer is drawn, pixels on the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

/// Why a generation cannot be planned yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The output's size comes from a background stream that is not live.
    #[error("the background stream {0:?} is not live and its layer gives no size")]
    BackgroundUnknown(String),
    /// The session has no background (validation prevents it).
    #[error("no background layer")]
    NoBackground,
}

/// One generation's plan.
#[derive(Debug, Clone, PartialEq)]
pub struct EnginePlan {
    /// Output width.
    pub width: u32,
    /// Output height.
    pub height: u32,
    /// Output frames per second.
    pub frame_rate: u32,
    /// The live inputs it reads, in the order of its `-i` after the canvas and silence.
    pub inputs: Vec<String>,
    /// ffmpeg's arguments (without the program).
    pub args: Vec<String>,
}

/// Rounds down to an even size of at least 2 (4:2:0 pictures need one).
fn even(n: u32) -> u32 {
    (n & !1).max(2)
}

/// The output's size: the background's layer size in pixels, else its stream's own.
pub fn output_size(session: &MixSession, live: &[LiveInput]) -> Result<(u32, u32), PlanError> {
    let background = session.background().ok_or(PlanError::NoBackground)?;
    let layout = &background.layout_params;
    let given = |d: Option<Dim>| match d {
        Some(Dim::Pixels(p)) if p > 0 => Some(p),
        _ => None,
    };
    let own = live.iter().find(|l| {
        l.video && l.name == background.input_stream_name && layout.input_type.is_stream()
    });
    let width = given(layout.image_width).or(own.map(|l| l.width));
    let height = given(layout.image_height).or(own.map(|l| l.height));
    match (width, height) {
        (Some(w), Some(h)) => Ok((even(w), even(h))),
        _ => Err(PlanError::BackgroundUnknown(
            background.input_stream_name.clone(),
        )),
    }
}

/// Where `input` is drawn on a `width` × `height` output (its own size `own` when its
/// layer gives none).
pub fn placement(input: &MixInput, own: (u32, u32), output: (u32, u32)) -> Placement {
    let layout = &input.layout_params;
    if layout.image_layer == 1 {
        return Placement {
            x: 0,
            y: 0,
            width: output.0,
            height: output.1,
        };
    }
    let size = |d: Option<Dim>, of: u32, own: u32| match d {
        Some(d) if d != Dim::Pixels(0) => d.pixels(of),
        _ => own,
    };
    let at = |d: Option<Dim>, of: u32| d.map_or(0, |d| d.pixels(of));
    Placement {
        x: at(layout.location_x, output.0),
        y: at(layout.location_y, output.1),
        width: even(size(layout.image_width, output.0, own.0)),
        height: even(size(layout.image_height, output.1, own.1)),
    }
}

/// Plans a generation over the inputs live now.
pub fn plan(session: &MixSession, live: &[LiveInput]) -> Result<EnginePlan, PlanError> {
    let (width, height) = output_size(session, live)?;
    let out = &session.output_params;
    let frame_rate = out
        .output_stream_frame_rate
        .map_or(DEFAULT_FRAME_RATE, |f| f as u32);
    let sample_rate = out
        .output_audio_sample_rate
        .map_or(DEFAULT_SAMPLE_RATE, |r| r as u32);
    let channels = out.output_audio_channels.unwrap_or(2);
    let layout = channel_layout(channels);
    let mut args = source_args(session, (width, height), frame_rate, sample_rate, layout);
    let mut used = Vec::new();
    for input in session.stream_inputs() {
        let Some(l) = live.iter().find(|l| l.name == input.input_stream_name) else {
            continue;
        };
        let probe = INPUT_ANALYZE_US.to_string();
        let reading = [
            "-thread_queue_size",
            "1024",
            "-analyzeduration",
            &probe,
            "-f",
            "flv",
            "-i",
            &l.url,
        ];
        args.extend(reading.map(String::from));
        used.push(l.name.clone());
    }
    let graph = graph(
        session,
        live,
        &used,
        (width, height),
        frame_rate,
        sample_rate,
        layout,
    );
    args.extend(["-filter_complex".to_owned(), graph]);
    args.extend(encoder_args(
        session,
        (width, height),
        frame_rate,
        sample_rate,
        channels,
    ));
    Ok(EnginePlan {
        width,
        height,
        frame_rate,
        inputs: used,
        args,
    })
}

/// The first inputs: the canvas (the background canvas's colour, else black) and
/// silence, both in real time from the generation's lead.
fn source_args(
    session: &MixSession,
    (width, height): (u32, u32),
    frame_rate: u32,
    sample_rate: u32,
    layout: &str,
) -> Vec<String> {
    let base = session
        .background()
        .filter(|b| b.layout_params.input_type == InputType::Canvas)
        .and_then(|b| parse_color(&b.layout_params.color))
        .unwrap_or(0);
    let lead = GENERATION_LEAD_MS / 1000;
    let common = ["-hide_banner", "-nostdin", "-loglevel", "error", "-copyts"];
    let mut args: Vec<String> = common.map(String::from).to_vec();
    args.extend(["-re", "-f", "lavfi", "-i"].map(String::from));
    args.push(format!(
        "color=c=0x{base:06X}:s={width}x{height}:r={frame_rate},setpts=PTS+{lead}/TB"
    ));
    args.extend(["-re", "-f", "lavfi", "-i"].map(String::from));
    args.push(format!(
        "anullsrc=r={sample_rate}:cl={layout},asetpts=PTS+{lead}/TB"
    ));
    args
}

fn channel_layout(channels: i64) -> &'static str {
    if channels == 1 {
        "mono"
    } else {
        "stereo"
    }
}

/// The filter graph: layers over the canvas, sounds over the silence.
fn graph(
    session: &MixSession,
    live: &[LiveInput],
    used: &[String],
    output: (u32, u32),
    frame_rate: u32,
    sample_rate: u32,
    layout: &str,
) -> String {
    let mut g = String::new();
    let mut below = "0:v".to_owned();
    let mut sounds = vec!["1:a".to_owned()];
    let mut layers: Vec<&MixInput> = session.input_stream_list.iter().collect();
    layers.sort_by_key(|i| i.layout_params.image_layer);
    for (n, input) in layers.into_iter().enumerate() {
        let kind = input.layout_params.input_type;
        let picture = match kind {
            InputType::Canvas if input.layout_params.image_layer == 1 => continue,
            InputType::Canvas => canvas_layer(&mut g, input, n, output, frame_rate),
            _ => {
                let Some(index) = used.iter().position(|u| *u == input.input_stream_name) else {
                    continue;
                };
                let Some(l) = live.iter().find(|l| l.name == input.input_stream_name) else {
                    continue;
                };
                let stream = index + 2;
                if kind.has_sound() && l.audio {
                    let _ = write!(g, "[{stream}:a]aresample={sample_rate},aformat=sample_fmts=fltp:channel_layouts={layout}[a{n}];");
                    sounds.push(format!("a{n}"));
                }
                if !(kind.has_picture() && l.video) {
                    continue;
                }
                stream_layer(&mut g, session, input, l, stream, n, output)
            }
        };
        let next = format!("v{n}");
        let _ = write!(
            g,
            "[{below}][{}]overlay=x={}:y={}:eof_action=pass[{next}];",
            picture.0, picture.1.x, picture.1.y
        );
        below = next;
    }
    let _ = write!(g, "[{below}]format=yuv420p[vout];");
    if sounds.len() == 1 {
        g.push_str("[1:a]anull[aout]");
    } else {
        for s in &sounds {
            let _ = write!(g, "[{s}]");
        }
        let _ = write!(
            g,
            "amix=inputs={}:duration=first:dropout_transition=0:normalize=0[aout]",
            sounds.len()
        );
    }
    g
}

/// A canvas layer: a colour source of its size. Returns its label and placement.
fn canvas_layer(
    g: &mut String,
    input: &MixInput,
    n: usize,
    output: (u32, u32),
    frame_rate: u32,
) -> (String, Placement) {
    let p = placement(input, (2, 2), output);
    let color = parse_color(&input.layout_params.color).unwrap_or(0);
    let label = format!("c{n}");
    let _ = write!(
        g,
        "color=c=0x{color:06X}:s={}x{}:r={frame_rate}[{label}];",
        p.width, p.height
    );
    (label, p)
}

/// A live stream's picture: cropped, then scaled (or covered and cut) to its layer.
fn stream_layer(
    g: &mut String,
    session: &MixSession,
    input: &MixInput,
    live: &LiveInput,
    stream: usize,
    n: usize,
    output: (u32, u32),
) -> (String, Placement) {
    let mut own = (live.width.max(2), live.height.max(2));
    let _ = write!(g, "[{stream}:v]");
    if let Some(c) = input.crop_params {
        let x = c.crop_start_location_x.min(own.0 - 2);
        let y = c.crop_start_location_y.min(own.1 - 2);
        let w = even(c.crop_width.min(own.0 - x));
        let h = even(c.crop_height.min(own.1 - y));
        let _ = write!(g, "crop={w}:{h}:{x}:{y},");
        own = (w, h);
    }
    let p = placement(input, own, output);
    let (w, h) = (p.width, p.height);
    if session.control_params.use_mix_crop_center == 1 {
        let _ = write!(
            g,
            "scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h},"
        );
    } else {
        let _ = write!(g, "scale={w}:{h},");
    }
    let label = format!("p{n}");
    let _ = write!(g, "setsar=1[{label}];");
    (label, p)
}

/// H.264 + AAC in FLV on standard output.
fn encoder_args(
    session: &MixSession,
    (width, height): (u32, u32),
    frame_rate: u32,
    sample_rate: u32,
    channels: i64,
) -> Vec<String> {
    let out = &session.output_params;
    let default_kbps =
        (f64::from(width) * f64::from(height) * f64::from(frame_rate) * DEFAULT_BITS_PER_PIXEL
            / 1000.0) as i64;
    let kbps = out.output_stream_bit_rate.unwrap_or(default_kbps.max(100));
    let gop = out
        .output_stream_gop
        .map_or(DEFAULT_GOP_SECONDS, |g| g as u32)
        * frame_rate;
    let audio_kbps = out
        .output_audio_bit_rate
        .map_or(DEFAULT_AUDIO_KBPS, |k| k as u32);
    let args = [
        "-map",
        "[vout]",
        "-map",
        "[aout]",
        "-c:v",
        "libx264",
        "-preset",
        X264_PRESET,
        "-tune",
        "zerolatency",
        "-pix_fmt",
        "yuv420p",
    ];
    let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    for (k, val) in [
        ("-g", gop.to_string()),
        ("-keyint_min", gop.to_string()),
        ("-sc_threshold", "0".into()),
        ("-b:v", format!("{kbps}k")),
        ("-maxrate", format!("{kbps}k")),
        ("-bufsize", format!("{}k", kbps * 2)),
        ("-c:a", "aac".into()),
        ("-b:a", format!("{audio_kbps}k")),
        ("-ar", sample_rate.to_string()),
        ("-ac", channels.to_string()),
        ("-flush_packets", "1".into()),
        ("-f", "flv".into()),
        ("-flvflags", "no_duration_filesize".into()),
    ] {
        v.push(k.to_owned());
        v.push(val);
    }
    v.push("pipe:1".into());
    v
}

#[cfg(test)]
mod tests;
