//! The reference API's wire format (reference §1): how requests arrive and answers leave.
//!
//! Requests: POST `/` with `X-TC-Action` and a JSON body (the SDKs), or the query/form
//! style the reference docs show (`?Action=CreateRecordTask&AppName=live&…`, nested fields
//! as `Mp4Param.Enable=1`, list items as `Names.0=a`). Form values are text; they are
//! turned into JSON numbers and booleans except for the parameters the API defines as
//! strings ([`STRING_PARAMETERS`]), so both styles reach the same validators.
//!
//! Answers: always HTTP 200, `Content-Type: application/json` exactly (with a charset the
//! Python SDK mistakes errors for success), `{"Response": {…, "RequestId"}}`, errors as
//! `{"Response": {"Error": {"Code", "Message"}, "RequestId"}}`.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::config::problem::{ConfigError, ErrorCode, Problem};

/// The API version served.
pub const API_VERSION: &str = "2018-08-01";

/// Parameters that are strings even when they look like numbers (form style only).
pub const STRING_PARAMETERS: [&str; 27] = [
    "FileIds",
    "TemplateName",
    "Description",
    "DomainName",
    "AppName",
    "StreamName",
    "VodFileName",
    "Procedure",
    "StorageMode",
    "CosBucketName",
    "CosBucketRegion",
    "CosBucketPath",
    "TaskId",
    "Extension",
    "ScrollToken",
    "CallbackKey",
    "MasterAuthKey",
    "BackupAuthKey",
    "StreamId",
    "StreamIds",
    "FileFormat",
    "After",
    "Before",
    "Field",
    "Order",
    "RecordExceptionLevels",
    "Region",
];

/// Common parameters of the form style that are not action parameters.
pub const COMMON_PARAMETERS: [&str; 10] = [
    "Action",
    "Version",
    "Region",
    "Timestamp",
    "Nonce",
    "SecretId",
    "Signature",
    "SignatureMethod",
    "Language",
    "RequestClient",
];

/// An API failure: a reference code and a message naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// `InvalidParameterValue`, `AuthFailure.SignatureFailure`, ...
    pub code: ErrorCode,
    /// Explanation.
    pub message: String,
}

impl ApiError {
    /// An error with `code`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// From validation problems: the first problem's code, every message joined.
    pub fn from_problems(problems: &[Problem]) -> Self {
        let code = problems
            .first()
            .map_or(ErrorCode::InvalidParameter, |p| p.code);
        let message = problems
            .iter()
            .map(|p| p.message.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        Self::new(code, message)
    }

    /// From a configuration failure.
    pub fn from_config(e: &ConfigError) -> Self {
        match e {
            ConfigError::Invalid(problems) => Self::from_problems(problems),
            other => Self::new(other.code(), other.to_string()),
        }
    }
}

/// The HTTP answer: status 200, exact content type.
pub fn respond(body: &Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(body).unwrap_or_default(),
    )
        .into_response()
}

/// `{"Response": {…output, "RequestId"}}`.
pub fn success(output: Value, request_id: &str) -> Value {
    let mut response = match output {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    response.insert("RequestId".into(), json!(request_id));
    json!({ "Response": response })
}

/// `{"Response": {"Error": {…}, "RequestId"}}`.
pub fn failure(error: &ApiError, request_id: &str) -> Value {
    json!({"Response": {"Error": {"Code": error.code.as_str(), "Message": error.message}, "RequestId": request_id}})
}

/// Deepest dotted parameter name accepted (`A.B.0.C`): the API nests three levels at most.
pub const MAX_PARAMETER_DEPTH: usize = 6;

/// Turns `key=value` pairs (query or form) into JSON parameters; common parameters are
/// returned separately. Names nested deeper than [`MAX_PARAMETER_DEPTH`] are refused.
pub fn form_params(pairs: &[(String, String)]) -> Result<(Value, Map<String, Value>), ApiError> {
    let mut params = Value::Object(Map::new());
    let mut common = Map::new();
    for (key, value) in pairs {
        if COMMON_PARAMETERS.contains(&key.as_str()) {
            common.insert(key.clone(), json!(value));
            continue;
        }
        let path: Vec<&str> = key.splitn(MAX_PARAMETER_DEPTH + 1, '.').collect();
        if path.len() > MAX_PARAMETER_DEPTH {
            let shown: String = key.chars().take(60).collect();
            return Err(ApiError::new(
                ErrorCode::InvalidParameter,
                format!("parameter name {shown:?} is nested too deeply"),
            ));
        }
        insert_path(&mut params, &path, typed(&path, value));
    }
    Ok((arrays(params), common))
}

fn typed(path: &[&str], value: &str) -> Value {
    let is_string = path
        .iter()
        .rev()
        .find(|p| !p.bytes().all(|b| b.is_ascii_digit()))
        .is_some_and(|name| STRING_PARAMETERS.contains(name) || name.ends_with("NotifyUrl"));
    if is_string {
        return json!(value);
    }
    if let Ok(n) = value.parse::<i64>() {
        return json!(n);
    }
    match value {
        "true" | "True" => json!(true),
        "false" | "False" => json!(false),
        _ => json!(value),
    }
}

fn insert_path(target: &mut Value, path: &[&str], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let Value::Object(map) = target else {
        return;
    };
    if rest.is_empty() {
        map.insert((*first).to_owned(), value);
        return;
    }
    let child = map
        .entry((*first).to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !child.is_object() {
        *child = Value::Object(Map::new());
    }
    insert_path(child, rest, value);
}

/// Objects whose keys are all indices (`Names.0`, `Names.1`) become arrays.
fn arrays(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let all_indices = !map.is_empty() && map.keys().all(|k| k.parse::<usize>().is_ok());
            if all_indices {
                let mut items: Vec<(usize, Value)> = map
                    .into_iter()
                    .map(|(k, v)| (k.parse().unwrap_or(usize::MAX), arrays(v)))
                    .collect();
                items.sort_by_key(|(i, _)| *i);
                Value::Array(items.into_iter().map(|(_, v)| v).collect())
            } else {
                Value::Object(map.into_iter().map(|(k, v)| (k, arrays(v))).collect())
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn form_style_becomes_the_json_body() {
        let (params, common) = form_params(&pairs(&[
            ("Action", "CreateLiveRecordTemplate"),
            ("Version", "2018-08-01"),
            ("TemplateName", "123"),
            ("Mp4Param.Enable", "1"),
            ("Mp4Param.RecordInterval", "3600"),
            ("Mp4Param.VodFileName", "007"),
            ("RemoveWatermark", "True"),
            ("RecordExceptionLevels.1", "warning"),
            ("RecordExceptionLevels.0", "error"),
            ("RecordNotifyUrl", "http://h/1"),
        ]))
        .unwrap();
        assert_eq!(
            params,
            json!({"TemplateName": "123", "Mp4Param": {"Enable": 1, "RecordInterval": 3600, "VodFileName": "007"},
                "RemoveWatermark": true, "RecordExceptionLevels": ["error", "warning"], "RecordNotifyUrl": "http://h/1"})
        );
        assert_eq!(
            common.get("Action"),
            Some(&json!("CreateLiveRecordTemplate"))
        );
    }

    #[test]
    fn deep_names_are_refused() {
        let deep = format!("a{}", ".a".repeat(500_000));
        assert_eq!(
            form_params(&pairs(&[(&deep, "1")])).unwrap_err().code,
            ErrorCode::InvalidParameter
        );
        assert!(form_params(&pairs(&[("A.B.0.C", "1")])).is_ok());
    }

    #[test]
    fn envelopes() {
        assert_eq!(
            success(json!({"TemplateId": 1}), "r"),
            json!({"Response": {"TemplateId": 1, "RequestId": "r"}})
        );
        let e = ApiError::new(ErrorCode::InvalidParameter, "x");
        assert_eq!(
            failure(&e, "r"),
            json!({"Response": {"Error": {"Code": "InvalidParameter", "Message": "x"}, "RequestId": "r"}})
        );
    }
}
