//! `liverec/liverec_export.js`: the clip export as a second wasm module of the npm
//! package, built with the `clip-export` feature (`scripts/build-pkg.sh`). A module of
//! its own because it carries the MPEG-TS demuxer and the MP4 writer, which the core
//! module's size budget cannot hold; a console loads it only when the user exports.
//!
//! [`ClipExportJs`] wraps [`TsClip`]: segments go in one at a time, whole
//! (`pushSegment`) or in chunks as they arrive (`beginSegment`, `write`, `endSegment`),
//! their sample bytes come back at the segment's end (the caller keeps them, e.g. as
//! `Blob`s), and `finish` returns the file's head and the extents to concatenate
//! behind it.

use js_sys::{Float64Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

use super::{misuse, MisuseCode};
use crate::formats::mp4::from_ts::{TsClip, TsClipError};

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** What `ClipExport.finish` returns: the MP4 is `head` followed by the extents. */
export interface ClipExportResult {
  /** `ftyp` + `moov` + the `mdat` header. */
  head: Uint8Array<ArrayBuffer>;
  /** Triples `[segment, offset, length]`: bytes of the sample data `pushSegment`
   * returned for segment number `segment` (0 = the first pushed), in file order. */
  extents: Float64Array;
  /** Length of the whole file. */
  bytes: number;
  /** Its presentation length (out − in, less what the recordings do not cover). */
  durationSeconds: number;
}
"#;

/// Largest `write` accepted (the demuxer takes any split; a caller reading a response
/// stream writes what each read returns).
const MAX_WRITE_BYTES: usize = 16 * 1024 * 1024;
/// Largest time accepted, seconds (a year).
const MAX_SECONDS: f64 = 366.0 * 86_400.0;

/// A clip being exported.
#[wasm_bindgen(js_name = ClipExport)]
pub struct ClipExportJs {
    inner: TsClip,
    /// The bytes of the last `write`, reused.
    chunk: Vec<u8>,
}

fn fail(error: &TsClipError) -> JsValue {
    misuse(MisuseCode::InvalidValue(error.code()), &error.to_string())
}

/// A time in seconds as ms.
fn ms_arg(value: &JsValue, name: &str) -> Result<i64, JsValue> {
    let Some(seconds) = value.as_f64() else {
        let code = if value.is_undefined() {
            MisuseCode::MissingArgument
        } else {
            MisuseCode::InvalidArgument
        };
        return Err(misuse(code, &format!("{name} must be a number of seconds")));
    };
    if !seconds.is_finite() || !(0.0..=MAX_SECONDS).contains(&seconds) {
        return Err(misuse(
            MisuseCode::InvalidArgument,
            &format!("{name} must be between 0 and {MAX_SECONDS} seconds"),
        ));
    }
    Ok((seconds * 1000.0).round() as i64)
}

#[wasm_bindgen(js_class = ClipExport)]
impl ClipExportJs {
    /// An empty clip.
    #[wasm_bindgen(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> ClipExportJs {
        ClipExportJs {
            inner: TsClip::new(),
            chunk: Vec::new(),
        }
    }

    /// The next segments belong to another recording (after a discontinuity).
    #[wasm_bindgen(js_name = beginRecording)]
    pub fn begin_recording(&mut self) -> Result<(), JsValue> {
        self.inner.begin_recording().map_err(|e| fail(&e))
    }

    /// Demuxes one `.ts` segment starting at `startSeconds` of the playlist; returns
    /// its sample data (keep it: `finish`'s extents point into it).
    #[wasm_bindgen(js_name = pushSegment, unchecked_return_type = "Uint8Array<ArrayBuffer>")]
    pub fn push_segment(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] segment: JsValue,
        #[wasm_bindgen(js_name = startSeconds, unchecked_param_type = "number")]
        start_seconds: JsValue,
    ) -> Result<Vec<u8>, JsValue> {
        let Some(bytes) = segment.dyn_ref::<Uint8Array>() else {
            return Err(misuse(
                MisuseCode::InvalidArgument,
                "segment must be a Uint8Array of MPEG-TS",
            ));
        };
        let start = ms_arg(&start_seconds, "startSeconds")?;
        self.chunk.resize(bytes.length() as usize, 0);
        bytes.copy_to(&mut self.chunk);
        self.inner
            .push_segment(&self.chunk, start)
            .map_err(|e| fail(&e))
    }

    /// Starts the next segment, at `startSeconds` of the playlist: its bytes follow in
    /// `write`s of any size, then `endSegment` (the page never holds a whole segment).
    #[wasm_bindgen(js_name = beginSegment)]
    pub fn begin_segment(
        &mut self,
        #[wasm_bindgen(js_name = startSeconds, unchecked_param_type = "number")]
        start_seconds: JsValue,
    ) -> Result<(), JsValue> {
        let start = ms_arg(&start_seconds, "startSeconds")?;
        self.inner.begin_segment(start).map_err(|e| fail(&e))
    }

    /// The next bytes of the segment begun last (copied in; the array can be reused).
    pub fn write(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] bytes: JsValue,
    ) -> Result<(), JsValue> {
        let Some(bytes) = bytes.dyn_ref::<Uint8Array>() else {
            return Err(misuse(
                MisuseCode::InvalidArgument,
                "bytes must be a Uint8Array of MPEG-TS",
            ));
        };
        let len = bytes.length() as usize;
        if len > MAX_WRITE_BYTES {
            return Err(misuse(
                MisuseCode::InvalidArgument,
                &format!("write at most {MAX_WRITE_BYTES} bytes at a time"),
            ));
        }
        self.chunk.resize(len, 0);
        bytes.copy_to(&mut self.chunk);
        self.inner.write(&self.chunk).map_err(|e| fail(&e))
    }

    /// Ends the segment begun last; returns its sample data as a **view into the
    /// module's memory**, valid until the next call on this object: copy it at once
    /// (`new Blob([view])` does, straight from wasm memory, leaving no garbage behind;
    /// `view.slice()` for bytes) and keep the copy — `finish`'s extents point into it.
    #[wasm_bindgen(js_name = endSegment, unchecked_return_type = "Uint8Array<ArrayBuffer>")]
    pub fn end_segment(&mut self) -> Result<Uint8Array, JsValue> {
        let file = self.inner.end_segment().map_err(|e| fail(&e))?;
        let memory: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
        // wasm32 addresses and lengths are u32.
        let (at, len) = (file.as_ptr() as usize as u32, file.len() as u32);
        Ok(Uint8Array::new_with_byte_offset_and_length(
            &memory.buffer(),
            at,
            len,
        ))
    }

    /// Segments pushed so far.
    #[wasm_bindgen(getter)]
    pub fn segments(&self) -> usize {
        self.inner.segments()
    }

    /// What the demuxer skipped (unsupported streams, bytes without a sync byte).
    #[wasm_bindgen(getter)]
    pub fn notes(&self) -> Vec<String> {
        self.inner.notes().to_vec()
    }

    /// The MP4 of `[inSeconds, outSeconds)`: its head and the extents behind it.
    #[wasm_bindgen(unchecked_return_type = "ClipExportResult")]
    pub fn finish(
        &mut self,
        #[wasm_bindgen(js_name = inSeconds, unchecked_param_type = "number")] in_seconds: JsValue,
        #[wasm_bindgen(js_name = outSeconds, unchecked_param_type = "number")] out_seconds: JsValue,
    ) -> Result<JsValue, JsValue> {
        let (start, end) = (
            ms_arg(&in_seconds, "inSeconds")?,
            ms_arg(&out_seconds, "outSeconds")?,
        );
        let stitched = self.inner.finish(start, end).map_err(|e| fail(&e))?;
        let extents: Vec<f64> = stitched
            .extents
            .iter()
            .flat_map(|e| [f64::from(e.source), e.offset as f64, e.len as f64])
            .collect();
        let result = Object::new();
        let set =
            |key: &str, value: JsValue| Reflect::set(&result, &JsValue::from_str(key), &value);
        set("head", Uint8Array::from(stitched.head.as_slice()).into())?;
        set("extents", Float64Array::from(extents.as_slice()).into())?;
        set("bytes", JsValue::from_f64(stitched.len as f64))?;
        set(
            "durationSeconds",
            JsValue::from_f64(stitched.duration_ms as f64 / 1000.0),
        )?;
        Ok(result.into())
    }
}
