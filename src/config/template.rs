//! Recording templates: `CreateLiveRecordTemplate` input and `RecordTemplateInfo`
//! output (reference §2.1–2.4, §3.1, §4).
//!
//! [`validate_template`] reads an untrusted JSON object with the API's PascalCase names,
//! reports every problem, and returns a [`RecordTemplate`] whose defaults are
//! materialised as the reference's Describe output shows them: all five `RecordParam`s
//! present (`Enable` 0, `RecordInterval` 1800, `StorageTime` 0, `StorageMode` "normal",
//! strings "", `ClassId` null), `HlsSpecialParam.FlowContinueDuration` 0,
//! `FlvSpecialParam.UploadInRecording` true, `IsDelayLive` 0, `CosStore` 0.
//!
//! Where liverec differs on purpose (it is self-hosted, there is no VOD or COS):
//! - `VodSubAppId`, `Procedure`, `ClassId`, `StorageMode` and the `Cos*` strings are
//!   checked and kept so API clients round-trip them, but they change nothing;
//! - `CosStore: 1` and `Mp3Param.Enable: 1` are rejected with `UnsupportedOperation`
//!   (recordings go to liverec's own storage; audio-only recording is AAC);
//! - `RemoveWatermark` is kept; liverec never transcodes, so it always records the
//!   stream as pushed;
//! - `TemplateName` is limited to [`MAX_TEMPLATE_NAME_BYTES`] and `Description` to
//!   [`MAX_DESCRIPTION_BYTES`] (the reference gives these bounds for callback templates
//!   and none for recording templates).

use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::json::Fields;
use super::naming;
use super::problem::{ErrorCode, Problem};

/// Default seconds per file.
pub const DEFAULT_RECORD_INTERVAL_S: i64 = 1800;
/// `RecordInterval` range for FLV and MP4, seconds.
pub const FLV_MP4_RECORD_INTERVAL_S: RangeInclusive<i64> = 60..=43_200;
/// `RecordInterval` range for AAC (and MP3), seconds.
pub const AAC_RECORD_INTERVAL_S: RangeInclusive<i64> = 60..=7_200;
/// `StorageTime` range: 0 (keep forever) to 1500 days, seconds.
pub const STORAGE_TIME_S: RangeInclusive<i64> = 0..=129_600_000;
/// `HlsSpecialParam.FlowContinueDuration` range, seconds.
pub const FLOW_CONTINUE_DURATION_S: RangeInclusive<i64> = 0..=1_800;
/// Longest `TemplateName`, bytes.
pub const MAX_TEMPLATE_NAME_BYTES: usize = 255;
/// Longest `Description`, bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 1024;
/// Longest free-text VOD/COS string (`Procedure`, `Cos*`), bytes.
pub const MAX_OPAQUE_STRING_BYTES: usize = 1024;
/// Largest id-like integer (`TemplateId`, `VodSubAppId`, `ClassId`): JavaScript-safe.
pub const MAX_ID: i64 = 9_007_199_254_740_991;

/// Output formats a template can enable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `.flv`
    Flv,
    /// `.m3u8` + `.ts`
    Hls,
    /// `.mp4`
    Mp4,
    /// audio-only `.aac` (ADTS)
    Aac,
}

impl Format {
    /// All formats liverec records, in the reference's field order.
    pub const ALL: [Format; 4] = [Format::Flv, Format::Hls, Format::Mp4, Format::Aac];

    /// Its name in the index, callbacks and logs (`flv`, `hls`, `mp4`, `aac`; also its
    /// serde form).
    pub fn name(self) -> &'static str {
        match self {
            Format::Flv => "flv",
            Format::Hls => "hls",
            Format::Mp4 => "mp4",
            Format::Aac => "aac",
        }
    }

    /// The template field holding this format's parameters.
    pub fn param_name(self) -> &'static str {
        match self {
            Format::Flv => "FlvParam",
            Format::Hls => "HlsParam",
            Format::Mp4 => "Mp4Param",
            Format::Aac => "AacParam",
        }
    }

    /// Allowed `RecordInterval`, or `None` where it is ignored (HLS: one file per push).
    pub fn interval_range(self) -> Option<RangeInclusive<i64>> {
        match self {
            Format::Flv | Format::Mp4 => Some(FLV_MP4_RECORD_INTERVAL_S),
            Format::Aac => Some(AAC_RECORD_INTERVAL_S),
            Format::Hls => None,
        }
    }
}

/// Parameters of one output format (`RecordParam`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RecordParam {
    /// Seconds per file (ignored for HLS).
    pub record_interval: i64,
    /// Retention in seconds; 0 keeps forever.
    pub storage_time: i64,
    /// 1 records this format, 0 does not.
    pub enable: i64,
    /// Kept for API compatibility; unused.
    pub vod_sub_app_id: i64,
    /// File-name pattern; empty means the default pattern.
    pub vod_file_name: String,
    /// Kept for API compatibility; unused.
    pub procedure: String,
    /// `normal` or `cold`; kept, unused.
    pub storage_mode: String,
    /// Kept for API compatibility; unused.
    pub class_id: Option<i64>,
    /// Kept for API compatibility; unused.
    pub cos_bucket_name: String,
    /// Kept for API compatibility; unused.
    pub cos_bucket_region: String,
    /// Kept for API compatibility; unused.
    pub cos_bucket_path: String,
}

impl Default for RecordParam {
    fn default() -> Self {
        Self {
            record_interval: DEFAULT_RECORD_INTERVAL_S,
            storage_time: 0,
            enable: 0,
            vod_sub_app_id: 0,
            vod_file_name: String::new(),
            procedure: String::new(),
            storage_mode: "normal".to_owned(),
            class_id: None,
            cos_bucket_name: String::new(),
            cos_bucket_region: String::new(),
            cos_bucket_path: String::new(),
        }
    }
}

impl RecordParam {
    /// Whether this format is recorded.
    pub fn enabled(&self) -> bool {
        self.enable == 1
    }
}

/// `HlsSpecialParam`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HlsSpecialParam {
    /// Auto-splice timeout, seconds; 0 makes every push its own recording.
    pub flow_continue_duration: i64,
}

/// `FlvSpecialParam`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct FlvSpecialParam {
    /// Kept for API compatibility (liverec always writes while recording).
    pub upload_in_recording: bool,
}

impl Default for FlvSpecialParam {
    fn default() -> Self {
        Self {
            upload_in_recording: true,
        }
    }
}

/// A recording template (`RecordTemplateInfo`), defaults materialised.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RecordTemplate {
    /// Assigned when stored; absent before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_id: Option<i64>,
    /// Name: letters, digits, `_`, `-`.
    pub template_name: String,
    /// Free text.
    pub description: String,
    /// FLV output.
    pub flv_param: RecordParam,
    /// HLS output.
    pub hls_param: RecordParam,
    /// MP4 output.
    pub mp4_param: RecordParam,
    /// AAC output.
    pub aac_param: RecordParam,
    /// 0 normal live, 1 slow live (kept as a filter).
    pub is_delay_live: i64,
    /// HLS auto-splice.
    pub hls_special_param: HlsSpecialParam,
    /// MP3 output: accepted only disabled.
    pub mp3_param: RecordParam,
    /// Kept; liverec always records the stream as pushed.
    pub remove_watermark: bool,
    /// Must be 0: recordings go to liverec's storage.
    pub cos_store: i64,
    /// FLV extras.
    pub flv_special_param: FlvSpecialParam,
}

impl RecordTemplate {
    /// The parameters of `format`.
    pub fn param(&self, format: Format) -> &RecordParam {
        match format {
            Format::Flv => &self.flv_param,
            Format::Hls => &self.hls_param,
            Format::Mp4 => &self.mp4_param,
            Format::Aac => &self.aac_param,
        }
    }

    fn param_mut(&mut self, format: Format) -> &mut RecordParam {
        match format {
            Format::Flv => &mut self.flv_param,
            Format::Hls => &mut self.hls_param,
            Format::Mp4 => &mut self.mp4_param,
            Format::Aac => &mut self.aac_param,
        }
    }

    /// The formats this template records; empty means "do not record".
    pub fn enabled_formats(&self) -> Vec<Format> {
        Format::ALL
            .into_iter()
            .filter(|f| self.param(*f).enabled())
            .collect()
    }

    /// The built-in template used by record tasks with no (or an unknown) TemplateId:
    /// HLS, kept forever (reference §3.9).
    pub fn default_for_tasks() -> Self {
        let mut template = Self {
            template_id: Some(0),
            template_name: "default".to_owned(),
            description: "HLS, kept forever: used by record tasks without a template".to_owned(),
            ..Self::default()
        };
        template.hls_param.enable = 1;
        template
    }
}

/// Whether the input may carry `TemplateId` (Describe output fed back, Modify) or not
/// (a Create request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateIdField {
    /// `TemplateId` is an unknown parameter.
    Forbidden,
    /// `TemplateId` may be present (a positive integer).
    Allowed,
}

/// The outcome of validation: the template with defaults filled in (as far as it could
/// be read) and every problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateValidation {
    /// True when `errors` is empty.
    pub ok: bool,
    /// Every problem, in field order.
    pub errors: Vec<Problem>,
    /// The template with defaults materialised.
    pub template: RecordTemplate,
}

/// Validates a template request body; see the module doc.
pub fn validate_template(input: &Value, id_field: TemplateIdField) -> TemplateValidation {
    let mut errors = Vec::new();
    let mut template = RecordTemplate::default();
    if let Some(mut fields) = Fields::open(input, "", &mut errors) {
        read_template(&mut fields, &mut template, id_field);
        fields.finish();
    }
    TemplateValidation {
        ok: errors.is_empty(),
        errors,
        template,
    }
}

fn read_template(fields: &mut Fields<'_>, t: &mut RecordTemplate, id_field: TemplateIdField) {
    if id_field == TemplateIdField::Allowed {
        t.template_id = fields.int_in("TemplateId", 1..=MAX_ID);
    }
    if let Some(name) = fields.required_string("TemplateName") {
        check_template_name(fields, name);
        t.template_name = name.to_owned();
    }
    if let Some(description) = fields.string("Description") {
        check_len(fields, "Description", description, MAX_DESCRIPTION_BYTES);
        t.description = description.to_owned();
    }
    for format in Format::ALL {
        if let Some(value) = fields.object(format.param_name()) {
            let path = fields.path_of(format.param_name());
            *t.param_mut(format) =
                read_record_param(value, &path, format.interval_range(), fields.problems());
        }
    }
    read_extras(fields, t);
}

fn read_extras(fields: &mut Fields<'_>, t: &mut RecordTemplate) {
    if let Some(value) = fields.object("Mp3Param") {
        let path = fields.path_of("Mp3Param");
        t.mp3_param =
            read_record_param(value, &path, Some(AAC_RECORD_INTERVAL_S), fields.problems());
        if t.mp3_param.enabled() {
            let message = "MP3 recording is not supported by liverec; record audio with AacParam";
            fields.problems().push(Problem::new(
                ErrorCode::UnsupportedOperation,
                "Mp3Param.Enable",
                message,
            ));
        }
    }
    t.is_delay_live = fields.int_in("IsDelayLive", 0..=1).unwrap_or(0);
    if let Some(value) = fields.object("HlsSpecialParam") {
        let path = fields.path_of("HlsSpecialParam");
        if let Some(mut special) = Fields::open(value, &path, fields.problems()) {
            t.hls_special_param.flow_continue_duration = special
                .int_in("FlowContinueDuration", FLOW_CONTINUE_DURATION_S)
                .unwrap_or(0);
            special.finish();
        }
    }
    if let Some(value) = fields.object("FlvSpecialParam") {
        let path = fields.path_of("FlvSpecialParam");
        if let Some(mut special) = Fields::open(value, &path, fields.problems()) {
            t.flv_special_param.upload_in_recording =
                special.boolean("UploadInRecording").unwrap_or(true);
            special.finish();
        }
    }
    t.remove_watermark = fields.boolean("RemoveWatermark").unwrap_or(false);
    t.cos_store = fields.int_in("CosStore", 0..=1).unwrap_or(0);
    if t.cos_store == 1 {
        let message =
            "CosStore: liverec stores recordings on its own storage (local disk or S3), not COS";
        fields.problem(ErrorCode::UnsupportedOperation, "CosStore", message);
    }
}

fn check_template_name(fields: &mut Fields<'_>, name: &str) {
    check_len(fields, "TemplateName", name, MAX_TEMPLATE_NAME_BYTES);
    if let Some(c) = name.chars().find(|c| !is_template_name_char(*c)) {
        let message = format!(
            "TemplateName may contain only Chinese or English letters, digits, '_' and '-'; found {c:?}"
        );
        fields.problem(ErrorCode::InvalidParameterValue, "TemplateName", message);
    }
}

/// Template names: ASCII letters and digits, CJK ideographs, `_`, `-` (reference §3.1).
pub fn is_template_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || c == '_'
        || c == '-'
        || ('\u{4E00}'..='\u{9FFF}').contains(&c)
        || ('\u{3400}'..='\u{4DBF}').contains(&c)
}

fn check_len(fields: &mut Fields<'_>, name: &str, value: &str, max: usize) {
    if value.len() > max {
        let message = format!(
            "{} is {} bytes long; at most {max} are allowed",
            fields.path_of(name),
            value.len()
        );
        fields.problem(ErrorCode::InvalidParameterValue, name, message);
    }
}

fn read_record_param(
    value: &Value,
    path: &str,
    interval: Option<RangeInclusive<i64>>,
    problems: &mut Vec<Problem>,
) -> RecordParam {
    let mut p = RecordParam::default();
    let Some(mut fields) = Fields::open(value, path, problems) else {
        return p;
    };
    p.enable = fields.int_in("Enable", 0..=1).unwrap_or(0);
    p.record_interval = match &interval {
        Some(range) => fields.int_in("RecordInterval", range.clone()),
        None => fields.int_in("RecordInterval", 0..=MAX_ID),
    }
    .unwrap_or(DEFAULT_RECORD_INTERVAL_S);
    p.storage_time = fields.int_in("StorageTime", STORAGE_TIME_S).unwrap_or(0);
    p.vod_sub_app_id = fields.int_in("VodSubAppId", 0..=MAX_ID).unwrap_or(0);
    p.class_id = fields.int_in("ClassId", 0..=MAX_ID);
    if let Some(pattern) = fields.string("VodFileName") {
        if let Err(e) = naming::validate_pattern(pattern) {
            let message = format!("{} {e}", fields.path_of("VodFileName"));
            fields.problem(ErrorCode::InvalidVodFileName, "VodFileName", message);
        }
        p.vod_file_name = pattern.to_owned();
    }
    read_storage_mode(&mut fields, &mut p);
    read_opaque_strings(&mut fields, &mut p);
    fields.finish();
    p
}

fn read_storage_mode(fields: &mut Fields<'_>, p: &mut RecordParam) {
    match fields.string("StorageMode") {
        None | Some("") => {}
        Some(mode @ ("normal" | "cold")) => p.storage_mode = mode.to_owned(),
        Some(other) => {
            let message = format!(
                "{} must be \"normal\" or \"cold\", not {other:?}",
                fields.path_of("StorageMode")
            );
            fields.problem(ErrorCode::InvalidParameterValue, "StorageMode", message);
        }
    }
}

fn read_opaque_strings(fields: &mut Fields<'_>, p: &mut RecordParam) {
    let targets: [(&'static str, &mut String); 4] = [
        ("Procedure", &mut p.procedure),
        ("CosBucketName", &mut p.cos_bucket_name),
        ("CosBucketRegion", &mut p.cos_bucket_region),
        ("CosBucketPath", &mut p.cos_bucket_path),
    ];
    for (name, target) in targets {
        if let Some(value) = fields.string(name) {
            check_len(fields, name, value, MAX_OPAQUE_STRING_BYTES);
            *target = value.to_owned();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn codes(input: Value) -> Vec<(String, String)> {
        validate_template(&input, TemplateIdField::Forbidden)
            .errors
            .into_iter()
            .map(|p| (p.code.as_str().to_owned(), p.field))
            .collect()
    }

    fn one(code: &str, field: &str) -> Vec<(String, String)> {
        vec![(code.to_owned(), field.to_owned())]
    }

    #[test]
    fn the_reference_example_validates() {
        // tccli's CreateLiveRecordTemplate example, as the Python SDK would send it.
        let body = json!({"TemplateName": "templat", "Description": "test",
            "FlvParam": {"Enable": 0, "RecordInterval": 1800, "StorageTime": 600},
            "HlsParam": {"Enable": 1, "RecordInterval": 1800, "StorageTime": 600}});
        let v = validate_template(&body, TemplateIdField::Forbidden);
        assert!(v.ok, "{:?}", v.errors);
        assert_eq!(v.template.enabled_formats(), vec![Format::Hls]);
        assert_eq!(v.template.hls_param.storage_time, 600);
    }

    #[test]
    fn defaults_are_materialised_like_describe_output() {
        let v = validate_template(&json!({"TemplateName": "t"}), TemplateIdField::Forbidden);
        assert!(v.ok);
        let out = serde_json::to_value(&v.template).unwrap();
        let param = json!({"RecordInterval": 1800, "StorageTime": 0, "Enable": 0, "VodSubAppId": 0,
            "VodFileName": "", "Procedure": "", "StorageMode": "normal", "ClassId": null,
            "CosBucketName": "", "CosBucketRegion": "", "CosBucketPath": ""});
        assert_eq!(
            out,
            json!({"TemplateName": "t", "Description": "", "FlvParam": param, "HlsParam": param,
                "Mp4Param": param, "AacParam": param, "IsDelayLive": 0,
                "HlsSpecialParam": {"FlowContinueDuration": 0}, "Mp3Param": param,
                "RemoveWatermark": false, "CosStore": 0, "FlvSpecialParam": {"UploadInRecording": true}})
        );
        assert!(
            v.template.enabled_formats().is_empty(),
            "no format enabled = do not record"
        );
    }

    #[test]
    fn record_interval_edges_per_format() {
        let cases = [
            ("FlvParam", 59, false),
            ("FlvParam", 60, true),
            ("FlvParam", 43_200, true),
            ("FlvParam", 43_201, false),
            ("Mp4Param", 59, false),
            ("Mp4Param", 60, true),
            ("Mp4Param", 43_200, true),
            ("Mp4Param", 43_201, false),
            ("AacParam", 59, false),
            ("AacParam", 60, true),
            ("AacParam", 7_200, true),
            ("AacParam", 7_201, false),
            ("Mp3Param", 7_201, false),
            ("HlsParam", 1, true),
            ("HlsParam", 43_201, true),
            ("HlsParam", -1, false),
        ];
        for (param, value, ok) in cases {
            let got =
                codes(json!({"TemplateName": "t", param: {"Enable": 1, "RecordInterval": value}}));
            let mp3 = param == "Mp3Param";
            let range_errors: Vec<_> = got
                .iter()
                .filter(|(c, _)| c != "UnsupportedOperation" || !mp3)
                .collect();
            if ok {
                assert!(range_errors.is_empty(), "{param} {value}: {got:?}");
            } else {
                let field = format!("{param}.RecordInterval");
                assert_eq!(
                    range_errors.first().map(|(c, f)| (c.as_str(), f.as_str())),
                    Some(("InvalidParameterValue", field.as_str())),
                    "{param} {value}"
                );
            }
        }
    }

    #[test]
    fn storage_time_and_flow_continue_edges() {
        let cases = [
            (json!({"HlsParam": {"StorageTime": -1}}), false),
            (json!({"HlsParam": {"StorageTime": 0}}), true),
            (json!({"HlsParam": {"StorageTime": 129_600_000}}), true),
            (json!({"HlsParam": {"StorageTime": 129_600_001}}), false),
            (
                json!({"HlsSpecialParam": {"FlowContinueDuration": -1}}),
                false,
            ),
            (
                json!({"HlsSpecialParam": {"FlowContinueDuration": 0}}),
                true,
            ),
            (
                json!({"HlsSpecialParam": {"FlowContinueDuration": 1800}}),
                true,
            ),
            (
                json!({"HlsSpecialParam": {"FlowContinueDuration": 1801}}),
                false,
            ),
            (json!({"HlsParam": {"Enable": 2}}), false),
            (json!({"HlsParam": {"Enable": -1}}), false),
            (json!({"IsDelayLive": 1}), true),
            (json!({"IsDelayLive": 2}), false),
            (json!({"CosStore": 2}), false),
        ];
        for (mut body, ok) in cases {
            body["TemplateName"] = json!("t");
            let got = codes(body.clone());
            assert_eq!(got.is_empty(), ok, "{body}: {got:?}");
            if !ok {
                assert!(
                    got.iter().all(|(c, _)| c == "InvalidParameterValue"),
                    "{body}: {got:?}"
                );
            }
        }
    }

    #[test]
    fn template_name_rules() {
        let long = "a".repeat(MAX_TEMPLATE_NAME_BYTES);
        let too_long = "a".repeat(MAX_TEMPLATE_NAME_BYTES + 1);
        let cases: Vec<(Value, Vec<(String, String)>)> = vec![
            (json!("ok_name-1"), vec![]),
            (json!("录制模板"), vec![]),
            (json!(long), vec![]),
            (
                json!(too_long),
                one("InvalidParameterValue", "TemplateName"),
            ),
            (
                json!("has space"),
                one("InvalidParameterValue", "TemplateName"),
            ),
            (
                json!("dot.name"),
                one("InvalidParameterValue", "TemplateName"),
            ),
            (
                json!("émoji😀"),
                one("InvalidParameterValue", "TemplateName"),
            ),
            (json!(""), one("MissingParameter", "TemplateName")),
            (json!(null), one("MissingParameter", "TemplateName")),
            (json!(5), one("InvalidParameter", "TemplateName")),
        ];
        for (name, want) in cases {
            assert_eq!(codes(json!({"TemplateName": name})), want, "{name}");
        }
        assert_eq!(codes(json!({})), one("MissingParameter", "TemplateName"));
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let body = json!({
            "Description": 7,
            "FlvParam": {"Enable": true, "RecordInterval": 30, "VodFileName": "a/b", "Bogus": 1},
            "Mp4Param": {"RecordInterval": 50000, "StorageMode": "hot"},
            "AacParam": "yes",
            "HlsSpecialParam": {"FlowContinueDuration": 3600},
            "Mp3Param": {"Enable": 1},
            "CosStore": 1,
            "RemoveWatermark": "no",
            "Extra": {}
        });
        let got = codes(body);
        let want: Vec<(String, String)> = [
            ("MissingParameter", "TemplateName"),
            ("InvalidParameter", "Description"),
            ("InvalidParameter", "FlvParam.Enable"),
            ("InvalidParameterValue", "FlvParam.RecordInterval"),
            (
                "InvalidParameter.InvalidVodFileName",
                "FlvParam.VodFileName",
            ),
            ("UnknownParameter", "FlvParam.Bogus"),
            ("InvalidParameterValue", "Mp4Param.RecordInterval"),
            ("InvalidParameterValue", "Mp4Param.StorageMode"),
            ("InvalidParameter", "AacParam"),
            ("UnsupportedOperation", "Mp3Param.Enable"),
            (
                "InvalidParameterValue",
                "HlsSpecialParam.FlowContinueDuration",
            ),
            ("InvalidParameter", "RemoveWatermark"),
            ("UnsupportedOperation", "CosStore"),
            ("UnknownParameter", "Extra"),
        ]
        .iter()
        .map(|(c, f)| ((*c).to_owned(), (*f).to_owned()))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn template_id_only_where_allowed() {
        let body = json!({"TemplateId": 5, "TemplateName": "t"});
        assert_eq!(codes(body.clone()), one("UnknownParameter", "TemplateId"));
        let v = validate_template(&body, TemplateIdField::Allowed);
        assert!(v.ok);
        assert_eq!(v.template.template_id, Some(5));
        let bad = validate_template(
            &json!({"TemplateId": 0, "TemplateName": "t"}),
            TemplateIdField::Allowed,
        );
        assert_eq!(
            bad.errors.first().map(|p| p.field.as_str()),
            Some("TemplateId")
        );
    }

    #[test]
    fn integers_from_javascript_floats_are_accepted_fractions_are_not() {
        assert!(
            codes(json!({"TemplateName": "t", "FlvParam": {"RecordInterval": 1800.0}})).is_empty()
        );
        assert_eq!(
            codes(json!({"TemplateName": "t", "FlvParam": {"RecordInterval": 1800.5}})),
            one("InvalidParameter", "FlvParam.RecordInterval")
        );
        assert_eq!(
            codes(json!({"TemplateName": "t", "FlvParam": {"RecordInterval": "1800"}})),
            one("InvalidParameter", "FlvParam.RecordInterval")
        );
    }

    #[test]
    fn empty_storage_mode_means_normal_and_not_an_object_is_reported() {
        let v = validate_template(
            &json!({"TemplateName": "t", "HlsParam": {"StorageMode": ""}}),
            TemplateIdField::Forbidden,
        );
        assert!(v.ok);
        assert_eq!(v.template.hls_param.storage_mode, "normal");
        let v = validate_template(&json!([1, 2]), TemplateIdField::Forbidden);
        assert_eq!(v.errors.len(), 1);
        assert_eq!(v.errors[0].code, ErrorCode::InvalidParameter);
    }

    #[test]
    fn default_task_template_is_hls_kept_forever() {
        let t = RecordTemplate::default_for_tasks();
        assert_eq!(t.enabled_formats(), vec![Format::Hls]);
        assert_eq!(t.hls_param.storage_time, 0);
    }
}
