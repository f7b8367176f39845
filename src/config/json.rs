//! Reading untrusted JSON parameters into typed values while collecting problems.
//!
//! Requests arrive as JSON objects (the API body, a file given to the CLI, an object
//! handed over from JavaScript). Deserialising them with derived `serde` impls would stop
//! at the first problem and say nothing useful about unknown fields; the reference API
//! reports per-parameter codes instead. [`Fields`] walks one object, reads each known
//! parameter with its type, records a [`Problem`] for every missing, mistyped or
//! out-of-range value, and finally reports every parameter it was never asked about as
//! `UnknownParameter`.
//!
//! `null` is treated as absent: the official SDKs never send `null`, consoles sometimes do.
//! Integers may arrive as JSON floats with no fraction (JavaScript numbers do).

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use serde_json::{Map, Value};

use super::problem::{ErrorCode, Problem};

/// Largest integer a JavaScript number holds exactly (2^53 − 1).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// Joins a parent path and a field name into a dotted path.
pub fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    }
}

/// A human-readable name of a JSON value's type, for messages.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The integer a JSON number holds exactly, if any.
pub fn as_integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            let f = n.as_f64()?;
            (f.fract() == 0.0 && f.abs() <= MAX_SAFE_INTEGER).then_some(f as i64)
        }),
        _ => None,
    }
}

/// One JSON object being read; see the module doc.
pub struct Fields<'a> {
    object: &'a Map<String, Value>,
    path: String,
    read: BTreeSet<&'static str>,
    problems: &'a mut Vec<Problem>,
}

impl<'a> Fields<'a> {
    /// Starts reading `value` found at `path`; records a problem and returns `None` when
    /// it is not an object.
    pub fn open(value: &'a Value, path: &str, problems: &'a mut Vec<Problem>) -> Option<Self> {
        match value {
            Value::Object(object) => Some(Self {
                object,
                path: path.to_owned(),
                read: BTreeSet::new(),
                problems,
            }),
            other => {
                let field = if path.is_empty() { "" } else { path };
                let what = if path.is_empty() { "the request" } else { path };
                problems.push(Problem::new(
                    ErrorCode::InvalidParameter,
                    field,
                    format!("{what} must be an object, not {}", type_name(other)),
                ));
                None
            }
        }
    }

    /// Path of parameter `name` inside this object.
    pub fn path_of(&self, name: &str) -> String {
        join(&self.path, name)
    }

    /// Records a problem.
    pub fn problem(&mut self, code: ErrorCode, name: &str, message: impl Into<String>) {
        let field = self.path_of(name);
        self.problems.push(Problem::new(code, field, message));
    }

    /// The raw value of `name`, `None` when absent or `null`. Marks `name` as known.
    pub fn raw(&mut self, name: &'static str) -> Option<&'a Value> {
        self.read.insert(name);
        self.object.get(name).filter(|v| !v.is_null())
    }

    /// Reports a missing required parameter.
    pub fn missing(&mut self, name: &str) {
        let field = self.path_of(name);
        let message = format!("{field} is required");
        self.problems
            .push(Problem::new(ErrorCode::MissingParameter, field, message));
    }

    /// An optional integer.
    pub fn int(&mut self, name: &'static str) -> Option<i64> {
        let value = self.raw(name)?;
        let int = as_integer(value);
        if int.is_none() {
            let message = format!(
                "{} must be an integer, not {}",
                self.path_of(name),
                describe(value)
            );
            self.problem(ErrorCode::InvalidParameter, name, message);
        }
        int
    }

    /// An optional integer that must lie in `range`; out-of-range values are reported and
    /// yield `None`.
    pub fn int_in(&mut self, name: &'static str, range: RangeInclusive<i64>) -> Option<i64> {
        let value = self.int(name)?;
        if range.contains(&value) {
            return Some(value);
        }
        let message = format!(
            "{} must be between {} and {}, not {value}",
            self.path_of(name),
            range.start(),
            range.end()
        );
        self.problem(ErrorCode::InvalidParameterValue, name, message);
        None
    }

    /// A required integer in `range`.
    pub fn required_int_in(
        &mut self,
        name: &'static str,
        range: RangeInclusive<i64>,
    ) -> Option<i64> {
        if self.raw(name).is_none() {
            self.missing(name);
            return None;
        }
        self.int_in(name, range)
    }

    /// An optional string.
    pub fn string(&mut self, name: &'static str) -> Option<&'a str> {
        let value = self.raw(name)?;
        match value {
            Value::String(s) => Some(s.as_str()),
            other => {
                let message = format!(
                    "{} must be a string, not {}",
                    self.path_of(name),
                    type_name(other)
                );
                self.problem(ErrorCode::InvalidParameter, name, message);
                None
            }
        }
    }

    /// A required, non-empty string.
    pub fn required_string(&mut self, name: &'static str) -> Option<&'a str> {
        match self.raw(name) {
            None => {
                self.missing(name);
                None
            }
            Some(_) => {
                let s = self.string(name)?;
                if s.is_empty() {
                    self.missing(name);
                    return None;
                }
                Some(s)
            }
        }
    }

    /// An optional boolean.
    pub fn boolean(&mut self, name: &'static str) -> Option<bool> {
        let value = self.raw(name)?;
        match value {
            Value::Bool(b) => Some(*b),
            other => {
                let message = format!(
                    "{} must be true or false, not {}",
                    self.path_of(name),
                    describe(other)
                );
                self.problem(ErrorCode::InvalidParameter, name, message);
                None
            }
        }
    }

    /// An optional nested object, opened for reading with its own path.
    pub fn object(&mut self, name: &'static str) -> Option<&'a Value> {
        let value = self.raw(name)?;
        if value.is_object() {
            return Some(value);
        }
        let message = format!(
            "{} must be an object, not {}",
            self.path_of(name),
            type_name(value)
        );
        self.problem(ErrorCode::InvalidParameter, name, message);
        None
    }

    /// Borrow of the shared problem list, for nested readers.
    pub fn problems(&mut self) -> &mut Vec<Problem> {
        self.problems
    }

    /// Reports every parameter that was present but never read as `UnknownParameter`.
    pub fn finish(self) {
        for name in self.object.keys() {
            if !self.read.contains(name.as_str()) {
                let field = join(&self.path, name);
                let message = format!("{field} is not a parameter of this request");
                self.problems
                    .push(Problem::new(ErrorCode::UnknownParameter, field, message));
            }
        }
    }
}

/// A short rendering of a value for messages: numbers and short strings verbatim.
fn describe(value: &Value) -> String {
    const MAX_SHOWN: usize = 40;
    match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.chars().count() <= MAX_SHOWN => format!("the string {s:?}"),
        other => type_name(other).to_owned(),
    }
}
