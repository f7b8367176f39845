//! The `Playlist` class of the npm package: a parsed HLS playlist kept inside wasm, so
//! large playlists are not copied into JS objects unless asked (`segments(offset,
//! count)`). Methods return plain data; misuse and impossible operations throw an
//! `Error` with a `code`.
//!
//! `Playlist.splice([...])` must read other `Playlist` objects without consuming them.
//! wasm-bindgen can only pass exported structs by value (which would free the JS
//! objects), so each instance registers a weak reference under a handle (the untyped
//! `__liverecHandle` property), and splice looks the handles up: a freed playlist is
//! reported, never used.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use super::{json_arg, misuse, to_js, MisuseCode};
use crate::formats::hls::clip::{clip, ClipTime};
use crate::formats::hls::datetime::{decode_date_time, encode_date_time};
use crate::formats::hls::splice::{splice, GapPolicy, Order, SpliceOptions, DEFAULT_TOLERANCE_MS};
use crate::formats::hls::uri::resolve;
use crate::formats::hls::{inspect, validate, Micros, Playlist, PlaylistError};

/// Most segments one `segments()` call returns.
pub const MAX_SEGMENTS_PER_CALL: usize = 100_000;

thread_local! {
    static REGISTRY: RefCell<Registry> = RefCell::new(Registry::default());
}

#[derive(Default)]
struct Registry {
    next: u32,
    live: HashMap<u32, Weak<Playlist>>,
}

impl Registry {
    fn register(&mut self, playlist: &Rc<Playlist>) -> u32 {
        if self.live.len() >= 64 && self.live.len().is_power_of_two() {
            self.live.retain(|_, weak| weak.strong_count() > 0);
        }
        self.next = self.next.wrapping_add(1);
        self.live.insert(self.next, Rc::downgrade(playlist));
        self.next
    }
}

fn fail(e: &PlaylistError) -> JsValue {
    misuse(MisuseCode::InvalidValue(e.code()), &e.to_string())
}

/// A parsed HLS playlist.
#[wasm_bindgen(js_name = Playlist)]
pub struct PlaylistJs {
    inner: Rc<Playlist>,
    handle: u32,
}

impl PlaylistJs {
    fn wrap(playlist: Playlist) -> PlaylistJs {
        let inner = Rc::new(playlist);
        let handle = REGISTRY.with(|r| r.borrow_mut().register(&inner));
        PlaylistJs { inner, handle }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SegmentInfo {
    index: usize,
    uri: String,
    resolved_uri: String,
    duration: f64,
    media_sequence: u64,
    discontinuity: bool,
    program_date_time: Option<String>,
    byte_range: Option<ByteRangeInfo>,
    map_uri: Option<String>,
    gap: bool,
    line: u32,
}

#[derive(Serialize)]
struct ByteRangeInfo {
    length: u64,
    offset: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ClipArgs {
    start: Option<serde_json::Value>,
    end: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct SpliceArgs {
    order: Option<String>,
    gaps: Option<String>,
    tolerance_ms: Option<f64>,
    joins: Option<String>,
}

fn clip_time(value: &serde_json::Value, name: &str) -> Result<ClipTime, JsValue> {
    let bad = |why: &str| {
        misuse(
            MisuseCode::InvalidValue("InvalidRange"),
            &format!("range.{name} {why}"),
        )
    };
    match value {
        serde_json::Value::Number(n) => n
            .as_f64()
            .and_then(Micros::from_secs_f64)
            .map(ClipTime::Offset)
            .ok_or_else(|| bad("is not a usable number of seconds")),
        serde_json::Value::String(s) => decode_date_time(s)
            .map(|d| ClipTime::WallClockMs(d.unix_ms))
            .ok_or_else(|| bad("is not an ISO 8601 date-time")),
        _ => Err(bad(
            "must be seconds (number) or a date-time (string or Date)",
        )),
    }
}

/// The property `Playlist.splice` identifies instances by.
const HANDLE: &str = "__liverecHandle";

#[wasm_bindgen(js_class = Playlist)]
impl PlaylistJs {
    /// Parses playlist text; `baseUrl` resolves relative URIs when splicing or clipping.
    #[wasm_bindgen(unchecked_return_type = "Playlist")]
    pub fn parse(
        #[wasm_bindgen(unchecked_param_type = "string")] text: JsValue,
        #[wasm_bindgen(js_name = baseUrl, unchecked_optional_param_type = "string")]
        base_url: JsValue,
    ) -> Result<PlaylistJs, JsValue> {
        let text = super::large_string_arg(&text, "text")?;
        let base = if base_url.is_undefined() || base_url.is_null() {
            None
        } else {
            Some(super::string_arg(&base_url, "baseUrl")?)
        };
        let playlist = Playlist::parse_owned(text).map_err(|e| fail(&e))?;
        Ok(PlaylistJs::wrap(playlist.with_base_url(base)))
    }

    /// Identifies this instance to `Playlist.splice` (not part of the typed API).
    #[wasm_bindgen(getter, js_name = __liverecHandle, skip_typescript)]
    pub fn handle(&self) -> u32 {
        self.handle
    }

    /// Number of media segments.
    #[wasm_bindgen(getter, js_name = segmentCount)]
    pub fn segment_count(&self) -> usize {
        self.inner.segments().len()
    }

    /// The base URL given to `parse`, if any.
    #[wasm_bindgen(getter, js_name = baseUrl)]
    pub fn base_url(&self) -> Option<String> {
        self.inner.base_url().map(str::to_owned)
    }

    /// The playlist text.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_text(&self) -> String {
        self.inner.to_text()
    }

    /// Durations, discontinuities, PROGRAM-DATE-TIME span and gaps, diagnostics.
    #[wasm_bindgen(unchecked_return_type = "PlaylistInspection")]
    pub fn inspect(&self) -> Result<JsValue, JsValue> {
        to_js(&inspect(&self.inner))
    }

    /// Every RFC 8216 problem: `[{code, line, message, severity}]`.
    #[wasm_bindgen(unchecked_return_type = "PlaylistDiagnostic[]")]
    pub fn validate(&self) -> Result<JsValue, JsValue> {
        to_js(&validate(&self.inner))
    }

    /// `count` segments from `offset`, as plain objects.
    #[wasm_bindgen(unchecked_return_type = "SegmentInfo[]")]
    pub fn segments(
        &self,
        #[wasm_bindgen(unchecked_param_type = "number")] offset: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] count: JsValue,
    ) -> Result<JsValue, JsValue> {
        let offset = index_arg(&offset, "offset")?;
        let count = index_arg(&count, "count")?.min(MAX_SEGMENTS_PER_CALL);
        let p = &self.inner;
        let times = p.program_date_times();
        let end = offset.saturating_add(count).min(p.segments().len());
        let infos: Vec<SegmentInfo> = (offset.min(end)..end)
            .filter_map(|i| p.segments().get(i).map(|s| (i, s)))
            .map(|(i, s)| {
                let uri = p.segment_uri(s).to_owned();
                SegmentInfo {
                    index: i,
                    resolved_uri: p
                        .base_url()
                        .map_or_else(|| uri.clone(), |b| resolve(b, &uri)),
                    uri,
                    duration: s.duration.as_secs_f64(),
                    media_sequence: p.media_sequence_of(i),
                    discontinuity: s.discontinuity,
                    program_date_time: times.get(i).copied().flatten().map(encode_date_time),
                    byte_range: s.byte_range.map(|r| ByteRangeInfo {
                        length: r.length,
                        offset: r.offset,
                    }),
                    map_uri: s
                        .map_line
                        .and_then(|l| p.tag_attribute(l, "URI"))
                        .map(str::to_owned),
                    gap: s.gap,
                    line: p.lines().get(s.uri_line as usize).map_or(0, |l| l.number),
                }
            })
            .collect();
        to_js(&infos)
    }

    /// The segments covering `{start, end}`: `{playlist, summary}`. Times are seconds from
    /// the start (numbers) or wall-clock date-times (ISO strings or `Date`s).
    #[wasm_bindgen(unchecked_return_type = "ClipResult")]
    pub fn clip(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ClipRange")] range: JsValue,
    ) -> Result<JsValue, JsValue> {
        let json = json_arg(&range, "range")?;
        let args: ClipArgs = serde_json::from_value(json)
            .map_err(|e| misuse(MisuseCode::InvalidArgument, &format!("range: {e}")))?;
        let start = match &args.start {
            Some(v) => clip_time(v, "start")?,
            None => ClipTime::Offset(Micros::ZERO),
        };
        let end = args.end.as_ref().map(|v| clip_time(v, "end")).transpose()?;
        let (clipped, summary) = clip(&self.inner, start, end).map_err(|e| fail(&e))?;
        result(PlaylistJs::wrap(clipped), &summary)
    }

    /// Splices playlists into one VOD playlist: `{playlist, summary}`.
    #[wasm_bindgen(unchecked_return_type = "SpliceResult")]
    pub fn splice(
        #[wasm_bindgen(unchecked_param_type = "Playlist[]")] playlists: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "SpliceOptions")] options: JsValue,
    ) -> Result<JsValue, JsValue> {
        let sources = lookup(&playlists)?;
        let options = splice_options(&options)?;
        let refs: Vec<&Playlist> = sources.iter().map(Rc::as_ref).collect();
        let (spliced, summary) = splice(&refs, options).map_err(|e| fail(&e))?;
        result(PlaylistJs::wrap(spliced), &summary)
    }
}

fn result<T: Serialize>(playlist: PlaylistJs, summary: &T) -> Result<JsValue, JsValue> {
    let out = js_sys::Object::new();
    js_sys::Reflect::set(&out, &"playlist".into(), &JsValue::from(playlist))?;
    js_sys::Reflect::set(&out, &"summary".into(), &to_js(summary)?)?;
    Ok(out.into())
}

fn index_arg(value: &JsValue, name: &str) -> Result<usize, JsValue> {
    match value.as_f64() {
        Some(n) if n.is_finite() && n >= 0.0 && n.fract() == 0.0 => {
            Ok(n.min(u32::MAX as f64) as usize)
        }
        _ => Err(misuse(
            MisuseCode::InvalidArgument,
            &format!("{name} must be a whole number >= 0"),
        )),
    }
}

fn lookup(playlists: &JsValue) -> Result<Vec<Rc<Playlist>>, JsValue> {
    if !js_sys::Array::is_array(playlists) {
        return Err(misuse(
            MisuseCode::InvalidArgument,
            "playlists must be an array of Playlist objects",
        ));
    }
    let array = js_sys::Array::from(playlists);
    let mut out = Vec::with_capacity(array.length() as usize);
    for (i, item) in array.iter().enumerate() {
        let handle = js_sys::Reflect::get(&item, &HANDLE.into())
            .ok()
            .and_then(|h| h.as_f64());
        let found = handle.and_then(|h| {
            REGISTRY.with(|r| r.borrow().live.get(&(h as u32)).and_then(Weak::upgrade))
        });
        match found {
            Some(p) => out.push(p),
            None => {
                return Err(misuse(
                    MisuseCode::InvalidArgument,
                    &format!(
                    "playlists[{i}] is not a live Playlist (made by Playlist.parse and not freed)"
                ),
                ))
            }
        }
    }
    Ok(out)
}

fn splice_options(options: &JsValue) -> Result<SpliceOptions, JsValue> {
    if options.is_undefined() || options.is_null() {
        return Ok(SpliceOptions::default());
    }
    let json = json_arg(options, "options")?;
    let args: SpliceArgs = serde_json::from_value(json)
        .map_err(|e| misuse(MisuseCode::InvalidArgument, &format!("options: {e}")))?;
    let bad = |what: &str| misuse(MisuseCode::InvalidArgument, what);
    let order = match args.order.as_deref() {
        None | Some("given") => Order::Given,
        Some("programDateTime") => Order::ProgramDateTime,
        Some(_) => {
            return Err(bad(
                "options.order must be \"given\" or \"programDateTime\"",
            ))
        }
    };
    let gaps = match args.gaps.as_deref() {
        None | Some("discontinuity") => GapPolicy::Discontinuity,
        Some("gapSegments") => GapPolicy::GapSegments,
        Some(_) => {
            return Err(bad(
                "options.gaps must be \"discontinuity\" or \"gapSegments\"",
            ))
        }
    };
    let tolerance_ms = match args.tolerance_ms {
        None => DEFAULT_TOLERANCE_MS,
        Some(t) if t.is_finite() && (0.0..=86_400_000.0).contains(&t) => t as i64,
        Some(_) => return Err(bad("options.toleranceMs must be between 0 and 86400000")),
    };
    // Separate recordings: no join is continuous (the core's negative tolerance).
    let tolerance_ms = match args.joins.as_deref() {
        None | Some("auto") => tolerance_ms,
        Some("discontinuity") => -1,
        Some(_) => return Err(bad("options.joins must be \"auto\" or \"discontinuity\"")),
    };
    Ok(SpliceOptions {
        order,
        gaps,
        tolerance_ms,
    })
}
