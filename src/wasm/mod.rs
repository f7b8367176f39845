//! JavaScript bindings of the pure core (compiled only for wasm32).
//!
//! A thin shell: every function converts its arguments to JSON values, calls the core,
//! and converts the result back. Conventions (see `../shared/STYLE.md`):
//! - validation problems are data: `{ok, errors: [{code, field, message}], ...}`;
//! - misuse — an argument of the wrong kind, or a value that cannot be represented —
//!   throws a real JS `Error` whose `code` property says what was wrong
//!   ([`MisuseCode`]);
//! - arguments cross the boundary through `JSON.stringify` and come back through
//!   `JSON.parse`: cyclic or BigInt-holding objects throw instead of recursing, and
//!   nesting is bounded by `serde_json`'s recursion limit, so no input can trap;
//! - `console_error_panic_hook` is installed at start-up, so a bug that panics reports a
//!   readable message in the console instead of an opaque `unreachable` trap.
//!
//! TypeScript declarations for every argument and result live in `types.d.ts`.
//!
//! Two modules come from this crate: the core (this default) and, with the
//! `clip-export` feature, the clip export alone ([`export`]) — wasm-bindgen exports
//! everything compiled in, so the feature swaps the core's bindings out.
#![cfg_attr(feature = "clip-export", allow(dead_code))]

#[cfg(not(feature = "clip-export"))]
mod api;
#[cfg(feature = "clip-export")]
mod export;
#[cfg(not(feature = "clip-export"))]
mod playlist;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use wasm_bindgen::prelude::*;

#[cfg(not(feature = "clip-export"))]
pub use api::*;
#[cfg(feature = "clip-export")]
pub use export::ClipExportJs;
#[cfg(not(feature = "clip-export"))]
pub use playlist::PlaylistJs;

#[cfg(not(feature = "clip-export"))]
#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = include_str!("types.d.ts");

/// Installs the panic hook; runs when the module is initialised (not exported).
#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

/// Codes of the errors thrown for misuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MisuseCode {
    /// A required argument is `undefined`.
    MissingArgument,
    /// An argument has the wrong type or shape.
    InvalidArgument,
    /// A well-formed argument with a value the function cannot use (a bad pattern, a
    /// time out of range).
    InvalidValue(&'static str),
}

impl MisuseCode {
    fn as_str(self) -> &'static str {
        match self {
            MisuseCode::MissingArgument => "MissingArgument",
            MisuseCode::InvalidArgument => "InvalidArgument",
            MisuseCode::InvalidValue(code) => code,
        }
    }
}

/// A JS `Error` with a `code` property.
pub fn misuse(code: MisuseCode, message: &str) -> JsValue {
    let error = js_sys::Error::new(message);
    let _ = js_sys::Reflect::set(
        &error,
        &JsValue::from_str("code"),
        &JsValue::from_str(code.as_str()),
    );
    error.into()
}

/// Reads a JS argument as JSON. `undefined` is a missing argument.
pub fn json_arg(value: &JsValue, name: &str) -> Result<Value, JsValue> {
    if value.is_undefined() {
        return Err(misuse(
            MisuseCode::MissingArgument,
            &format!("{name} is required"),
        ));
    }
    let text = js_sys::JSON::stringify(value).map_err(|e| {
        let reason = js_sys::Error::from(e).message();
        misuse(
            MisuseCode::InvalidArgument,
            &format!("{name} cannot be read as JSON: {}", String::from(reason)),
        )
    })?;
    let text = text.as_string().unwrap_or_default();
    serde_json::from_str(&text).map_err(|e| {
        misuse(
            MisuseCode::InvalidArgument,
            &format!("{name} cannot be read as JSON: {e}"),
        )
    })
}

/// Reads a JS argument that must be a plain object.
pub fn object_arg(value: &JsValue, name: &str) -> Result<Value, JsValue> {
    let json = json_arg(value, name)?;
    if json.is_object() {
        Ok(json)
    } else {
        Err(misuse(
            MisuseCode::InvalidArgument,
            &format!(
                "{name} must be an object, not {}",
                crate::config::json::type_name(&json)
            ),
        ))
    }
}

/// Reads a JS argument into a typed value, naming the offending field on failure.
pub fn typed_arg<T: DeserializeOwned + Serialize + Default>(
    value: &JsValue,
    name: &str,
) -> Result<T, JsValue> {
    typed_value(json_arg(value, name)?, name)
}

/// Reads a JS array argument element by element, naming `name[i].Field` on failure.
pub fn typed_list<T: DeserializeOwned + Serialize + Default>(
    value: &JsValue,
    name: &str,
) -> Result<Vec<T>, JsValue> {
    list_value(json_arg(value, name)?, name)
}

/// [`typed_list`] on an already converted value.
pub fn list_value<T: DeserializeOwned + Serialize + Default>(
    json: Value,
    name: &str,
) -> Result<Vec<T>, JsValue> {
    match json {
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| typed_value(item, &format!("{name}[{i}]")))
            .collect(),
        other => Err(misuse(
            MisuseCode::InvalidArgument,
            &format!(
                "{name} must be an array, not {}",
                crate::config::json::type_name(&other)
            ),
        )),
    }
}

/// Converts a JSON value to `T`. Before asking serde (whose messages name no field), the
/// value is compared with `T::default()` serialised, so a mistyped field is reported by
/// its path: `rules[0].DomainName must be a string, not a number`.
pub fn typed_value<T: DeserializeOwned + Serialize + Default>(
    json: Value,
    name: &str,
) -> Result<T, JsValue> {
    let schema = serde_json::to_value(T::default()).unwrap_or(Value::Null);
    if let Some(problem) = mismatch(&json, &schema, name) {
        return Err(misuse(MisuseCode::InvalidArgument, &problem));
    }
    serde_json::from_value(json)
        .map_err(|e| misuse(MisuseCode::InvalidArgument, &format!("{name}: {e}")))
}

fn mismatch(value: &Value, schema: &Value, path: &str) -> Option<String> {
    use crate::config::json::type_name;
    let same = match (value, schema) {
        (_, Value::Null) => true,
        (Value::Object(v), Value::Object(s)) => {
            return s.iter().find_map(|(key, expected)| {
                v.get(key)
                    .and_then(|found| mismatch(found, expected, &format!("{path}.{key}")))
            });
        }
        (Value::Number(v), Value::Number(s)) => {
            !(s.is_i64() || s.is_u64()) || v.is_i64() || v.is_u64()
        }
        (Value::String(_), Value::String(_))
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Array(_), Value::Array(_)) => true,
        _ => false,
    };
    if same {
        return None;
    }
    let expected = match schema {
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        other => type_name(other),
    };
    Some(format!(
        "{path} must be {expected}, not {}",
        type_name(value)
    ))
}

/// Reads a string argument.
pub fn string_arg(value: &JsValue, name: &str) -> Result<String, JsValue> {
    if value.is_undefined() {
        return Err(misuse(
            MisuseCode::MissingArgument,
            &format!("{name} is required"),
        ));
    }
    value.as_string().ok_or_else(|| {
        misuse(
            MisuseCode::InvalidArgument,
            &format!("{name} must be a string"),
        )
    })
}

/// Reads a large string argument through the host's `TextEncoder.encode` and one
/// bulk copy. wasm-bindgen's own string passing copies ASCII one character at a time in
/// JavaScript, which costs more than parsing a multi-megabyte playlist.
pub fn large_string_arg(value: &JsValue, name: &str) -> Result<String, JsValue> {
    if !value.is_string() {
        return string_arg(value, name);
    }
    let bytes = ENCODE.with(|encode| {
        let (encoder, method) = encode.as_ref()?;
        let array = method.call1(encoder, value).ok()?;
        Some(js_sys::Uint8Array::new(&array).to_vec())
    });
    match bytes {
        Some(bytes) => String::from_utf8(bytes).map_err(|_| {
            misuse(
                MisuseCode::InvalidArgument,
                &format!("{name} is not valid text"),
            )
        }),
        None => string_arg(value, name),
    }
}

thread_local! {
    /// A `TextEncoder` and its `encode` method, when the host has one.
    static ENCODE: Option<(JsValue, js_sys::Function)> = {
        let constructor = js_sys::Reflect::get(&js_sys::global(), &"TextEncoder".into()).ok();
        constructor.and_then(|c| {
            let encoder = js_sys::Reflect::construct(c.dyn_ref::<js_sys::Function>()?, &js_sys::Array::new()).ok()?;
            let method = js_sys::Reflect::get(&encoder, &"encode".into()).ok()?.dyn_into::<js_sys::Function>().ok()?;
            Some((encoder, method))
        })
    };
}

/// Reads a Unix-seconds argument: a finite integer within the core's time range.
pub fn seconds_arg(value: &JsValue, name: &str) -> Result<i64, JsValue> {
    const MAX_S: f64 = crate::config::task::MAX_UNIX_S as f64;
    let n = value.as_f64().ok_or_else(|| {
        misuse(
            MisuseCode::InvalidArgument,
            &format!("{name} must be a number"),
        )
    })?;
    if !(n.is_finite() && n.fract() == 0.0 && (0.0..=MAX_S).contains(&n)) {
        return Err(misuse(
            MisuseCode::InvalidArgument,
            &format!("{name} must be whole Unix seconds between 0 and {MAX_S}, not {n}"),
        ));
    }
    Ok(n as i64)
}

/// Converts a result to a plain JS value through JSON.
pub fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    let text = serde_json::to_string(value).map_err(|e| {
        misuse(
            MisuseCode::InvalidArgument,
            &format!("result cannot be encoded: {e}"),
        )
    })?;
    js_sys::JSON::parse(&text)
}
