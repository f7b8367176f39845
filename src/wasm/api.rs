//! The exported functions; see `types.d.ts` for their TypeScript signatures.

use serde::{Deserialize, Serialize};
use serde_json::json;
use wasm_bindgen::prelude::*;

use super::{
    list_value, misuse, object_arg, seconds_arg, string_arg, to_js, typed_arg, typed_list,
    MisuseCode,
};
use crate::config::mix::validate_mix_stream;
use crate::config::naming::{self, NameInputs, RenderError, DEFAULT_UTC_OFFSET_MINUTES};
use crate::config::push_auth::{self, PushCredentials};
use crate::config::rule::{resolve, RecordRule, StreamKey};
use crate::config::store::ConfigStore;
use crate::config::task::validate_task;
use crate::config::template::{validate_template, TemplateIdField};
use crate::config::{plan_recording, ConfigError};

/// `validateTemplate(template)`: `{ok, errors, template}`.
#[wasm_bindgen(js_name = validateTemplate, unchecked_return_type = "TemplateValidation")]
pub fn validate_template_js(
    #[wasm_bindgen(unchecked_param_type = "RecordTemplateInput")] template: JsValue,
) -> Result<JsValue, JsValue> {
    let input = object_arg(&template, "template")?;
    to_js(&validate_template(&input, TemplateIdField::Allowed))
}

/// `validateMixStream(request)`: `{ok, errors, session}` for a `CreateCommonMixStream`
/// body (`session` is `null` when it is not valid).
#[wasm_bindgen(js_name = validateMixStream, unchecked_return_type = "MixValidation")]
pub fn validate_mix_stream_js(
    #[wasm_bindgen(unchecked_param_type = "MixStreamInput")] request: JsValue,
) -> Result<JsValue, JsValue> {
    let input = object_arg(&request, "request")?;
    let (ok, errors, session) = match validate_mix_stream(&input) {
        Ok(session) => (true, Vec::new(), Some(session)),
        Err(errors) => (false, errors, None),
    };
    to_js(&json!({"ok": ok, "errors": errors, "session": session}))
}

/// `resolveRule(rules, stream)`: `{rule, priority}` or `null`.
#[wasm_bindgen(js_name = resolveRule, unchecked_return_type = "RuleResolution | null")]
pub fn resolve_rule_js(
    #[wasm_bindgen(unchecked_param_type = "RecordRuleInput[]")] rules: JsValue,
    #[wasm_bindgen(unchecked_param_type = "StreamRef")] stream: JsValue,
) -> Result<JsValue, JsValue> {
    let rules: Vec<RecordRule> = typed_list(&rules, "rules")?;
    let push = stream_arg(&stream)?;
    match resolve(&rules, &push) {
        Some(found) => to_js(&json!({"rule": found.rule, "priority": found.priority.level()})),
        None => Ok(JsValue::NULL),
    }
}

/// `validateRecordTask(task, nowUnixSeconds)`: `{ok, errors, task}`.
#[wasm_bindgen(js_name = validateRecordTask, unchecked_return_type = "TaskValidation")]
pub fn validate_record_task_js(
    #[wasm_bindgen(unchecked_param_type = "RecordTaskInput")] task: JsValue,
    #[wasm_bindgen(js_name = nowUnixSeconds, unchecked_param_type = "number")] now: JsValue,
) -> Result<JsValue, JsValue> {
    let input = object_arg(&task, "task")?;
    let now = seconds_arg(&now, "nowUnixSeconds")?;
    to_js(&validate_task(&input, now))
}

/// `planRecording(config, stream, nowUnixSeconds)`: the recording plan.
#[wasm_bindgen(js_name = planRecording, unchecked_return_type = "RecordingPlan")]
pub fn plan_recording_js(
    #[wasm_bindgen(unchecked_param_type = "RecordingConfig")] config: JsValue,
    #[wasm_bindgen(unchecked_param_type = "StreamRef")] stream: JsValue,
    #[wasm_bindgen(js_name = nowUnixSeconds, unchecked_param_type = "number")] now: JsValue,
) -> Result<JsValue, JsValue> {
    let config = config_arg(&config)?;
    let push = stream_arg(&stream)?;
    let now = seconds_arg(&now, "nowUnixSeconds")?;
    to_js(&plan_recording(&config, &push, now))
}

#[derive(Deserialize, Serialize, Default)]
#[serde(rename_all = "PascalCase")]
struct FileNameArgs {
    #[serde(rename = "StreamID")]
    stream_id: String,
    start_ms: f64,
    end_ms: f64,
    utc_offset_minutes: Option<f64>,
}

/// `renderFileName(pattern, {StreamID, StartMs, EndMs, UtcOffsetMinutes?})`: the base
/// file name. Throws with `code` `InvalidParameter.InvalidVodFileName` for a bad pattern
/// and `InvalidParameterValue` for times or offsets out of range.
#[wasm_bindgen(js_name = renderFileName)]
pub fn render_file_name_js(
    #[wasm_bindgen(unchecked_param_type = "string")] pattern: JsValue,
    #[wasm_bindgen(unchecked_param_type = "FileNameInputs")] inputs: JsValue,
) -> Result<String, JsValue> {
    let pattern = string_arg(&pattern, "pattern")?;
    object_arg(&inputs, "inputs")?;
    let args: FileNameArgs = typed_arg(&inputs, "inputs")?;
    let inputs = NameInputs {
        stream_id: &args.stream_id,
        start_ms: whole(args.start_ms, "StartMs")?,
        end_ms: whole(args.end_ms, "EndMs")?,
        utc_offset_minutes: match args.utc_offset_minutes {
            Some(m) => i32::try_from(whole(m, "UtcOffsetMinutes")?).unwrap_or(i32::MAX),
            None => DEFAULT_UTC_OFFSET_MINUTES,
        },
    };
    naming::render(&pattern, &inputs).map_err(|e| {
        let code = match e {
            RenderError::Pattern(_) => "InvalidParameter.InvalidVodFileName",
            _ => "InvalidParameterValue",
        };
        misuse(MisuseCode::InvalidValue(code), &e.to_string())
    })
}

fn whole(n: f64, name: &str) -> Result<i64, JsValue> {
    const LIMIT: f64 = 9_007_199_254_740_991.0;
    if n.is_finite() && n.fract() == 0.0 && n.abs() <= LIMIT {
        Ok(n as i64)
    } else {
        Err(misuse(
            MisuseCode::InvalidValue("InvalidParameterValue"),
            &format!("{name} must be a whole number of milliseconds"),
        ))
    }
}

/// `pushSecret(key, streamName, txTime)`: lowercase hex MD5(key + streamName + txTime).
#[wasm_bindgen(js_name = pushSecret)]
pub fn push_secret_js(
    #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
    #[wasm_bindgen(js_name = streamName, unchecked_param_type = "string")] stream_name: JsValue,
    #[wasm_bindgen(js_name = txTime, unchecked_param_type = "string")] tx_time: JsValue,
) -> Result<String, JsValue> {
    let key = string_arg(&key, "key")?;
    let stream_name = string_arg(&stream_name, "streamName")?;
    let tx_time = string_arg(&tx_time, "txTime")?;
    Ok(push_auth::push_secret(&key, &stream_name, &tx_time))
}

#[derive(Deserialize, Serialize, Default)]
struct VerifyArgs {
    keys: Vec<String>,
    #[serde(rename = "AuthDelta", default)]
    auth_delta: i64,
    #[serde(rename = "StreamName")]
    stream_name: String,
    #[serde(rename = "txSecret")]
    tx_secret: String,
    #[serde(rename = "txTime")]
    tx_time: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Verification {
    ok: bool,
    code: Option<&'static str>,
    message: String,
    key_index: Option<usize>,
}

/// `verifyPush({keys, AuthDelta, StreamName, txSecret, txTime}, nowUnixSeconds)`:
/// `{ok, code, message, keyIndex}`.
#[wasm_bindgen(js_name = verifyPush, unchecked_return_type = "PushVerification")]
pub fn verify_push_js(
    #[wasm_bindgen(unchecked_param_type = "PushVerificationInput")] push: JsValue,
    #[wasm_bindgen(js_name = nowUnixSeconds, unchecked_param_type = "number")] now: JsValue,
) -> Result<JsValue, JsValue> {
    object_arg(&push, "push")?;
    let args: VerifyArgs = typed_arg(&push, "push")?;
    let now = seconds_arg(&now, "nowUnixSeconds")?;
    let creds = PushCredentials {
        keys: &args.keys,
        auth_delta_s: args.auth_delta,
        stream_name: &args.stream_name,
        tx_secret: &args.tx_secret,
        tx_time: &args.tx_time,
    };
    let verdict = match push_auth::verify_push(&creds, now) {
        Ok(index) => Verification {
            ok: true,
            code: None,
            message: format!("signed with key {}", index.0),
            key_index: Some(index.0),
        },
        Err(e) => failed(&e),
    };
    to_js(&verdict)
}

fn failed(e: &ConfigError) -> Verification {
    Verification {
        ok: false,
        code: Some(e.code().as_str()),
        message: e.to_string(),
        key_index: None,
    }
}

fn config_arg(config: &JsValue) -> Result<ConfigStore, JsValue> {
    let mut json = object_arg(config, "config")?;
    let mut take = |key: &str| {
        json.get_mut(key)
            .map(serde_json::Value::take)
            .unwrap_or_else(|| json!([]))
    };
    let (templates, rules, tasks) = (take("templates"), take("rules"), take("tasks"));
    Ok(ConfigStore {
        templates: list_value(templates, "config.templates")?,
        rules: list_value(rules, "config.rules")?,
        tasks: list_value(tasks, "config.tasks")?,
    })
}

fn stream_arg(stream: &JsValue) -> Result<StreamKey, JsValue> {
    object_arg(stream, "stream")?;
    let key: StreamKey = typed_arg(stream, "stream")?;
    if key.domain_name.is_empty() {
        return Err(misuse(
            MisuseCode::MissingArgument,
            "stream.DomainName is required",
        ));
    }
    Ok(key)
}
