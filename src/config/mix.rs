//! Stream mixing requests (reference §7 "Stream mixing actions"): `CreateCommonMixStream`
//! and `CancelCommonMixStream` read and checked, into a [`MixSession`] the server stores
//! and its engine lays out ([`crate::mix`]).
//!
//! Checks (every problem is reported; layout problems carry the reference's
//! `InvalidParameter.InvalidMixInputParam`):
//! - `MixStreamSessionId`: required, at most [`MAX_MIX_NAME_BYTES`] bytes of letters,
//!   digits and `_`.
//! - `InputStreamList`: 1 to [`MAX_MIX_INPUTS`] inputs; each `InputStreamName` at most
//!   [`MAX_MIX_NAME_BYTES`] bytes and a valid stream name; a stream at most once;
//!   `ImageLayer` 1–16, unique, and layer 1 (the background, whose size is the output's)
//!   present and a picture (`InputType` 0, 3 or 5) with a size in pixels if it is a
//!   canvas; sizes and positions in pixels (whole, 0–2000) or as fractions of the
//!   background (0.01–0.99); a canvas `Color` as `0xRRGGBB`; crops in whole pixels,
//!   0–2000, with a width and a height.
//! - `OutputParams`: `OutputStreamName` required; `OutputStreamType` 0 (the output
//!   replaces the input of that name, which must be in the list) or 1 (a new stream,
//!   which must not be); bit rates, GOP, frame rate, sample rate and channels in the
//!   reference's ranges.
//!
//! Refused with `UnsupportedOperation` (documented in the README): picture inputs
//! (`InputType` 2, `WatermarkId`) and web-page inputs (`InputType` 8, `WebPageUrl`) —
//! liverec has no image store —, `PortraitSegmentParams`, `PassInputSei`, and the
//! preset layouts of `MixStreamTemplateId` (the reference shows them only as pictures).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::json::{as_integer, type_name, Fields};
use super::problem::{ErrorCode, Problem};
use super::rule::is_valid_path_name;

/// Inputs of one mix (reference: 16).
pub const MAX_MIX_INPUTS: usize = 16;
/// Longest session id or stream name in a mix request, bytes.
pub const MAX_MIX_NAME_BYTES: usize = 80;
/// Largest size, position or crop in pixels.
pub const MAX_MIX_PIXELS: u32 = 2000;
/// Longest `MixSei`, bytes.
pub const MAX_MIX_SEI_BYTES: usize = 4096;
/// Preset layouts the reference names (refused: see the module doc).
pub const PRESET_LAYOUTS: [i64; 12] = [10, 20, 30, 40, 50, 310, 390, 391, 410, 510, 590, 610];
/// Output audio sample rates the reference allows.
pub const SAMPLE_RATES: [i64; 12] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000,
];
/// Fractions are kept in units of 1/[`FRACTION_UNITS`].
pub const FRACTION_UNITS: u32 = 10_000;

/// A size or position: pixels, or a fraction of the background's width or height.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "f64", try_from = "f64")]
pub enum Dim {
    /// Whole pixels (0–2000).
    Pixels(u32),
    /// A fraction 0.01–0.99 of the background, in 1/[`FRACTION_UNITS`].
    Fraction(u32),
}

impl Dim {
    /// The value a request gives, if it is one: 0, whole pixels 1–2000, or a fraction
    /// 0.01–0.99.
    pub fn parse(value: f64) -> Option<Dim> {
        if value == 0.0 {
            return Some(Dim::Pixels(0));
        }
        if (0.01..=0.99).contains(&value) {
            return Some(Dim::Fraction(
                (value * f64::from(FRACTION_UNITS)).round() as u32
            ));
        }
        let whole = value.fract() == 0.0 && (1.0..=f64::from(MAX_MIX_PIXELS)).contains(&value);
        whole.then_some(Dim::Pixels(value as u32))
    }

    /// In pixels, against a background `of` pixels wide (or high).
    pub fn pixels(self, of: u32) -> u32 {
        match self {
            Dim::Pixels(p) => p,
            Dim::Fraction(f) => (u64::from(of) * u64::from(f) / u64::from(FRACTION_UNITS)) as u32,
        }
    }
}

impl From<Dim> for f64 {
    fn from(d: Dim) -> f64 {
        match d {
            Dim::Pixels(p) => f64::from(p),
            Dim::Fraction(f) => f64::from(f) / f64::from(FRACTION_UNITS),
        }
    }
}

impl TryFrom<f64> for Dim {
    type Error = String;
    fn try_from(value: f64) -> Result<Self, String> {
        Dim::parse(value).ok_or_else(|| format!("{value} is neither pixels nor a fraction"))
    }
}

/// What an input brings (`LayoutParams.InputType`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "i64", try_from = "i64")]
pub enum InputType {
    /// 0: a live stream's picture and sound.
    #[default]
    AudioVideo,
    /// 3: a plain canvas of one colour.
    Canvas,
    /// 4: a live stream's sound only.
    AudioOnly,
    /// 5: a live stream's picture only.
    VideoOnly,
}

impl InputType {
    /// Whether it is a live stream (rather than a canvas).
    pub fn is_stream(self) -> bool {
        !matches!(self, InputType::Canvas)
    }

    /// Whether it shows a picture.
    pub fn has_picture(self) -> bool {
        !matches!(self, InputType::AudioOnly)
    }

    /// Whether its sound is mixed.
    pub fn has_sound(self) -> bool {
        matches!(self, InputType::AudioVideo | InputType::AudioOnly)
    }
}

impl From<InputType> for i64 {
    fn from(t: InputType) -> i64 {
        match t {
            InputType::AudioVideo => 0,
            InputType::Canvas => 3,
            InputType::AudioOnly => 4,
            InputType::VideoOnly => 5,
        }
    }
}

impl TryFrom<i64> for InputType {
    type Error = String;
    fn try_from(value: i64) -> Result<Self, String> {
        match value {
            0 => Ok(InputType::AudioVideo),
            3 => Ok(InputType::Canvas),
            4 => Ok(InputType::AudioOnly),
            5 => Ok(InputType::VideoOnly),
            other => Err(format!("InputType {other} is not supported")),
        }
    }
}

/// Where and how big an input is drawn (`CommonMixLayoutParams`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MixLayout {
    /// 1–16; 1 is the background.
    pub image_layer: u8,
    /// What the input brings.
    #[serde(default)]
    pub input_type: InputType,
    /// Drawn width (default: the input's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_width: Option<Dim>,
    /// Drawn height (default: the input's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_height: Option<Dim>,
    /// Left edge from the background's (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_x: Option<Dim>,
    /// Top edge from the background's (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_y: Option<Dim>,
    /// A canvas's colour, `0xRRGGBB` (default black).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub color: String,
}

/// The part of an input's picture that is used (`CommonMixCropParams`), pixels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MixCrop {
    /// Width.
    pub crop_width: u32,
    /// Height.
    pub crop_height: u32,
    /// Left edge.
    pub crop_start_location_x: u32,
    /// Top edge.
    pub crop_start_location_y: u32,
}

/// One input (`CommonMixInputParam`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MixInput {
    /// The live stream's name (a label for a canvas).
    pub input_stream_name: String,
    /// Its layout.
    pub layout_params: MixLayout,
    /// Its crop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crop_params: Option<MixCrop>,
}

/// The output (`CommonMixOutputParams`); unset values are the engine's choice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MixOutput {
    /// Its stream name.
    pub output_stream_name: String,
    /// 0: it replaces the input of that name; 1: a new stream.
    pub output_stream_type: i64,
    /// Video kbit/s (1–10000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_stream_bit_rate: Option<i64>,
    /// GOP, seconds (1–10).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_stream_gop: Option<i64>,
    /// Frames per second (1–60).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_stream_frame_rate: Option<i64>,
    /// Audio kbit/s (1–500).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_audio_bit_rate: Option<i64>,
    /// Audio sample rate ([`SAMPLE_RATES`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_audio_sample_rate: Option<i64>,
    /// Audio channels (1–2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_audio_channels: Option<i64>,
    /// Kept as given (not written into the output).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mix_sei: String,
}

impl MixOutput {
    /// Whether the output replaces an input of the same name (`OutputStreamType` 0).
    pub fn replaces_input(&self) -> bool {
        self.output_stream_type == 0
    }
}

/// `CommonMixControlParams` (0/1 each).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MixControl {
    /// Crop centre-wise when a layer's aspect differs from its input's.
    pub use_mix_crop_center: i64,
    /// One input and a new output stream: mix that one input rather than cancel.
    pub allow_copy: i64,
    /// Refused when 1.
    pub pass_input_sei: i64,
    /// Kept (liverec has no picture inputs).
    pub use_picture_transparent: i64,
}

/// A mix as `CreateCommonMixStream` describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MixSession {
    /// Identifies the mix from create to cancel.
    pub mix_stream_session_id: String,
    /// Its inputs, as given.
    pub input_stream_list: Vec<MixInput>,
    /// Its output.
    pub output_params: MixOutput,
    /// Its control flags.
    #[serde(default)]
    pub control_params: MixControl,
}

impl MixSession {
    /// The background (layer 1; validation guarantees one).
    pub fn background(&self) -> Option<&MixInput> {
        self.input_stream_list
            .iter()
            .find(|i| i.layout_params.image_layer == 1)
    }

    /// The inputs that are live streams, in layer order.
    pub fn stream_inputs(&self) -> Vec<&MixInput> {
        let mut inputs: Vec<&MixInput> = self
            .input_stream_list
            .iter()
            .filter(|i| i.layout_params.input_type.is_stream())
            .collect();
        inputs.sort_by_key(|i| i.layout_params.image_layer);
        inputs
    }

    /// Whether a create with this body cancels the session instead (reference: one
    /// input, unless `AllowCopy` and a new output stream).
    pub fn is_cancel(&self) -> bool {
        let copy = self.control_params.allow_copy == 1 && !self.output_params.replaces_input();
        self.input_stream_list.len() == 1 && !copy
    }
}

/// Reads and checks a `CreateCommonMixStream` body.
pub fn validate_mix_stream(input: &Value) -> Result<MixSession, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut session = MixSession::default();
    if let Some(mut fields) = Fields::open(input, "", &mut problems) {
        session.mix_stream_session_id = read_session_id(&mut fields).unwrap_or_default();
        if let Some(id) = fields.int("MixStreamTemplateId") {
            check_template_id(&mut fields, id);
        }
        match fields.raw("InputStreamList") {
            None => fields.missing("InputStreamList"),
            Some(list) => session.input_stream_list = read_inputs(list, fields.problems()),
        }
        if fields.raw("OutputParams").is_none() {
            fields.missing("OutputParams");
        } else if let Some(output) = fields.object("OutputParams") {
            session.output_params = read_output(output, fields.problems());
        }
        if let Some(control) = fields.object("ControlParams") {
            session.control_params = read_control(control, fields.problems());
        }
        fields.finish();
    }
    if problems.is_empty() {
        check_layers(&session, &mut problems);
        check_output_name(&session, &mut problems);
    }
    if problems.is_empty() {
        Ok(session)
    } else {
        Err(problems)
    }
}

/// Reads and checks a `CancelCommonMixStream` body: the session id.
pub fn validate_cancel_mix(input: &Value) -> Result<String, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut id = None;
    if let Some(mut fields) = Fields::open(input, "", &mut problems) {
        id = read_session_id(&mut fields);
        fields.finish();
    }
    match id {
        Some(id) if problems.is_empty() => Ok(id),
        _ => Err(problems),
    }
}

fn read_session_id(fields: &mut Fields<'_>) -> Option<String> {
    let id = fields.required_string("MixStreamSessionId")?;
    let ok =
        id.len() <= MAX_MIX_NAME_BYTES && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        let message = format!("MixStreamSessionId must be at most {MAX_MIX_NAME_BYTES} bytes of letters, digits and '_'");
        fields.problem(
            ErrorCode::InvalidParameterValue,
            "MixStreamSessionId",
            message,
        );
        return None;
    }
    Some(id.to_owned())
}

fn check_template_id(fields: &mut Fields<'_>, id: i64) {
    if id == 0 {
        return;
    }
    let (code, message) = if PRESET_LAYOUTS.contains(&id) {
        (ErrorCode::UnsupportedOperation, format!("MixStreamTemplateId {id}: liverec has no preset layouts (the reference shows them only as pictures); give the layout in LayoutParams with MixStreamTemplateId 0"))
    } else {
        (
            ErrorCode::InvalidParameterValue,
            format!("MixStreamTemplateId must be 0 or one of {PRESET_LAYOUTS:?}, not {id}"),
        )
    };
    fields.problem(code, "MixStreamTemplateId", message);
}

fn read_inputs(list: &Value, problems: &mut Vec<Problem>) -> Vec<MixInput> {
    let Some(items) = list.as_array() else {
        let message = format!("InputStreamList must be an array, not {}", type_name(list));
        problems.push(Problem::new(
            ErrorCode::InvalidParameter,
            "InputStreamList",
            message,
        ));
        return Vec::new();
    };
    if items.is_empty() || items.len() > MAX_MIX_INPUTS {
        let message = format!(
            "InputStreamList must hold 1 to {MAX_MIX_INPUTS} inputs, not {}",
            items.len()
        );
        problems.push(Problem::new(
            ErrorCode::InvalidMixInputParam,
            "InputStreamList",
            message,
        ));
        return Vec::new();
    }
    let mut inputs = Vec::with_capacity(items.len());
    for (n, item) in items.iter().enumerate() {
        let path = format!("InputStreamList.{n}");
        if let Some(mut fields) = Fields::open(item, &path, problems) {
            inputs.push(read_input(&mut fields));
            fields.finish();
        }
    }
    inputs
}

fn read_input(fields: &mut Fields<'_>) -> MixInput {
    let mut input = MixInput::default();
    if let Some(name) = fields.required_string("InputStreamName") {
        if name.len() > MAX_MIX_NAME_BYTES || !is_valid_path_name(name) {
            let message = format!(
                "InputStreamName must be a stream name of at most {MAX_MIX_NAME_BYTES} bytes"
            );
            fields.problem(ErrorCode::InvalidMixInputParam, "InputStreamName", message);
        }
        input.input_stream_name = name.to_owned();
    }
    match fields.object("LayoutParams") {
        Some(layout) => {
            let path = fields.path_of("LayoutParams");
            if let Some(mut inner) = Fields::open(layout, &path, fields.problems()) {
                input.layout_params = read_layout(&mut inner);
                inner.finish();
            }
        }
        None => fields.missing("LayoutParams"),
    }
    if let Some(crop) = fields.object("CropParams") {
        let path = fields.path_of("CropParams");
        if let Some(mut inner) = Fields::open(crop, &path, fields.problems()) {
            input.crop_params = read_crop(&mut inner);
            inner.finish();
        }
    }
    if fields.raw("PortraitSegmentParams").is_some() {
        let message = "PortraitSegmentParams: liverec does not segment portraits";
        fields.problem(
            ErrorCode::UnsupportedOperation,
            "PortraitSegmentParams",
            message,
        );
    }
    input
}

fn read_layout(fields: &mut Fields<'_>) -> MixLayout {
    let mut layout = MixLayout::default();
    match fields.raw("ImageLayer").map(as_integer) {
        None => fields.missing("ImageLayer"),
        Some(Some(layer @ 1..=16)) => layout.image_layer = layer as u8,
        Some(_) => fields.problem(
            ErrorCode::InvalidMixInputParam,
            "ImageLayer",
            "ImageLayer must be an integer from 1 to 16",
        ),
    }
    layout.input_type = read_input_type(fields);
    layout.image_width = read_dim(fields, "ImageWidth");
    layout.image_height = read_dim(fields, "ImageHeight");
    layout.location_x = read_dim(fields, "LocationX");
    layout.location_y = read_dim(fields, "LocationY");
    if let Some(color) = fields.string("Color") {
        match parse_color(color) {
            Some(rgb) => layout.color = format!("0x{rgb:06X}"),
            None => fields.problem(
                ErrorCode::InvalidMixInputParam,
                "Color",
                format!("Color must be 0xRRGGBB, not {color:?}"),
            ),
        }
    }
    if fields.int("WatermarkId").is_some_and(|id| id != 0) {
        let message = "WatermarkId: liverec has no image store for picture inputs";
        fields.problem(ErrorCode::UnsupportedOperation, "WatermarkId", message);
    }
    if fields.string("WebPageUrl").is_some_and(|u| !u.is_empty()) {
        let message = "WebPageUrl: liverec does not render web pages";
        fields.problem(ErrorCode::UnsupportedOperation, "WebPageUrl", message);
    }
    layout
}

fn read_input_type(fields: &mut Fields<'_>) -> InputType {
    let Some(value) = fields.int("InputType") else {
        return InputType::AudioVideo;
    };
    match (InputType::try_from(value), value) {
        (Ok(t), _) => t,
        (Err(_), 2 | 8) => {
            let message = format!("InputType {value} (a picture or a web page) needs an image store liverec does not have");
            fields.problem(ErrorCode::UnsupportedOperation, "InputType", message);
            InputType::AudioVideo
        }
        (Err(_), _) => {
            let message = format!("InputType must be 0, 3, 4 or 5, not {value}");
            fields.problem(ErrorCode::InvalidMixInputParam, "InputType", message);
            InputType::AudioVideo
        }
    }
}

/// A size or position: whole pixels 0–2000 or a fraction 0.01–0.99.
fn read_dim(fields: &mut Fields<'_>, name: &'static str) -> Option<Dim> {
    let value = fields.raw(name)?;
    let dim = value.as_f64().and_then(Dim::parse);
    if dim.is_none() {
        let message = format!("{name} must be whole pixels from 0 to {MAX_MIX_PIXELS} or a fraction from 0.01 to 0.99 of the background, not {value}");
        fields.problem(ErrorCode::InvalidMixInputParam, name, message);
    }
    dim
}

fn read_crop(fields: &mut Fields<'_>) -> Option<MixCrop> {
    let pixels = |name: &'static str, fields: &mut Fields<'_>| -> Option<u32> {
        let value = fields.raw(name)?;
        match value.as_f64() {
            Some(v) if v.fract() == 0.0 && (0.0..=f64::from(MAX_MIX_PIXELS)).contains(&v) => {
                Some(v as u32)
            }
            _ => {
                let message =
                    format!("{name} must be whole pixels from 0 to {MAX_MIX_PIXELS}, not {value}");
                fields.problem(ErrorCode::InvalidMixInputParam, name, message);
                None
            }
        }
    };
    let crop = MixCrop {
        crop_width: pixels("CropWidth", fields).unwrap_or(0),
        crop_height: pixels("CropHeight", fields).unwrap_or(0),
        crop_start_location_x: pixels("CropStartLocationX", fields).unwrap_or(0),
        crop_start_location_y: pixels("CropStartLocationY", fields).unwrap_or(0),
    };
    if crop.crop_width == 0 || crop.crop_height == 0 {
        let message = "CropParams needs a CropWidth and a CropHeight above 0";
        fields.problem(ErrorCode::InvalidMixInputParam, "CropWidth", message);
        return None;
    }
    Some(crop)
}

/// `0xRRGGBB` (also `#RRGGBB` or `RRGGBB`) as a number.
pub fn parse_color(color: &str) -> Option<u32> {
    let hex = color
        .strip_prefix("0x")
        .or_else(|| color.strip_prefix("0X"))
        .or_else(|| color.strip_prefix('#'))
        .unwrap_or(color);
    if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(hex, 16).ok()
}

fn read_output(value: &Value, problems: &mut Vec<Problem>) -> MixOutput {
    let mut output = MixOutput::default();
    let Some(mut fields) = Fields::open(value, "OutputParams", problems) else {
        return output;
    };
    if let Some(name) = fields.required_string("OutputStreamName") {
        if name.len() > MAX_MIX_NAME_BYTES || !is_valid_path_name(name) {
            let message = format!(
                "OutputStreamName must be a stream name of at most {MAX_MIX_NAME_BYTES} bytes"
            );
            fields.problem(
                ErrorCode::InvalidParameterValue,
                "OutputStreamName",
                message,
            );
        }
        output.output_stream_name = name.to_owned();
    }
    output.output_stream_type = fields.int_in("OutputStreamType", 0..=1).unwrap_or(0);
    output.output_stream_bit_rate = fields.int_in("OutputStreamBitRate", 1..=10_000);
    output.output_stream_gop = fields.int_in("OutputStreamGop", 1..=10);
    output.output_stream_frame_rate = fields.int_in("OutputStreamFrameRate", 1..=60);
    output.output_audio_bit_rate = fields.int_in("OutputAudioBitRate", 1..=500);
    output.output_audio_channels = fields.int_in("OutputAudioChannels", 1..=2);
    if let Some(rate) = fields.int("OutputAudioSampleRate") {
        if SAMPLE_RATES.contains(&rate) {
            output.output_audio_sample_rate = Some(rate);
        } else {
            let message =
                format!("OutputAudioSampleRate must be one of {SAMPLE_RATES:?}, not {rate}");
            fields.problem(
                ErrorCode::InvalidParameterValue,
                "OutputAudioSampleRate",
                message,
            );
        }
    }
    if let Some(sei) = fields.string("MixSei") {
        if sei.len() > MAX_MIX_SEI_BYTES {
            let message = format!("MixSei is longer than {MAX_MIX_SEI_BYTES} bytes");
            fields.problem(ErrorCode::InvalidParameterValue, "MixSei", message);
        }
        output.mix_sei = sei.to_owned();
    }
    fields.finish();
    output
}

fn read_control(value: &Value, problems: &mut Vec<Problem>) -> MixControl {
    let mut control = MixControl::default();
    let Some(mut fields) = Fields::open(value, "ControlParams", problems) else {
        return control;
    };
    control.use_mix_crop_center = fields.int_in("UseMixCropCenter", 0..=1).unwrap_or(0);
    control.allow_copy = fields.int_in("AllowCopy", 0..=1).unwrap_or(0);
    control.use_picture_transparent = fields.int_in("UsePictureTransparent", 0..=1).unwrap_or(0);
    control.pass_input_sei = fields.int_in("PassInputSei", 0..=1).unwrap_or(0);
    if control.pass_input_sei == 1 {
        let message = "PassInputSei: the mix's output is encoded anew and carries no input SEI";
        fields.problem(ErrorCode::UnsupportedOperation, "PassInputSei", message);
    }
    fields.finish();
    control
}

/// Layers unique, layer 1 present and a picture, sizes a background needs, streams once.
fn check_layers(session: &MixSession, problems: &mut Vec<Problem>) {
    let mut bad = |n: usize, field: &str, message: String| {
        let field = format!("InputStreamList.{n}.{field}");
        problems.push(Problem::new(
            ErrorCode::InvalidMixInputParam,
            field,
            message,
        ));
    };
    let inputs = &session.input_stream_list;
    for (n, input) in inputs.iter().enumerate() {
        let layout = &input.layout_params;
        let earlier = inputs.get(..n).unwrap_or_default();
        if earlier
            .iter()
            .any(|e| e.layout_params.image_layer == layout.image_layer)
        {
            let message = format!("ImageLayer {} is given to two inputs", layout.image_layer);
            bad(n, "LayoutParams.ImageLayer", message);
        }
        let same_stream = |e: &MixInput| {
            e.layout_params.input_type.is_stream() && e.input_stream_name == input.input_stream_name
        };
        if layout.input_type.is_stream() && earlier.iter().any(same_stream) {
            let message = format!("stream {:?} is an input twice", input.input_stream_name);
            bad(n, "InputStreamName", message);
        }
        check_sizes(n, layout, &mut bad);
    }
    if session.background().is_none() {
        let message = "one input must be the background: ImageLayer 1".to_owned();
        problems.push(Problem::new(
            ErrorCode::InvalidMixInputParam,
            "InputStreamList",
            message,
        ));
    }
}

fn check_sizes(n: usize, layout: &MixLayout, bad: &mut impl FnMut(usize, &str, String)) {
    let background = layout.image_layer == 1;
    let in_pixels = |d: Option<Dim>| matches!(d, Some(Dim::Pixels(p)) if p > 0);
    if background && !layout.input_type.has_picture() {
        bad(
            n,
            "LayoutParams.InputType",
            "the background (ImageLayer 1) must be a picture: InputType 0, 3 or 5".into(),
        );
    }
    let fraction = |d: Option<Dim>| matches!(d, Some(Dim::Fraction(_)));
    if background && (fraction(layout.image_width) || fraction(layout.image_height)) {
        bad(
            n,
            "LayoutParams.ImageWidth",
            "the background's size is the output's: give it in pixels".into(),
        );
    }
    let canvas = layout.input_type == InputType::Canvas;
    let sized = |d: Option<Dim>| {
        if background {
            in_pixels(d)
        } else {
            d.is_some_and(|d| d != Dim::Pixels(0))
        }
    };
    if canvas && !(sized(layout.image_width) && sized(layout.image_height)) {
        bad(
            n,
            "LayoutParams.ImageWidth",
            "a canvas needs an ImageWidth and an ImageHeight (in pixels for the background)".into(),
        );
    }
}

/// `OutputStreamType` 0 names an input stream; 1 names none.
fn check_output_name(session: &MixSession, problems: &mut Vec<Problem>) {
    let output = &session.output_params;
    let is_input = session.input_stream_list.iter().any(|i| {
        i.layout_params.input_type.is_stream() && i.input_stream_name == output.output_stream_name
    });
    let message = match (output.replaces_input(), is_input) {
        (true, false) => "with OutputStreamType 0 the output replaces an input stream: OutputStreamName must name one (or set OutputStreamType 1 for a new stream)",
        (false, true) => "with OutputStreamType 1 the output is a new stream: OutputStreamName must not name an input",
        _ => return,
    };
    problems.push(Problem::new(
        ErrorCode::InvalidParameterValue,
        "OutputParams.OutputStreamName",
        message,
    ));
}

#[cfg(test)]
#[path = "mix_tests.rs"]
mod tests;
