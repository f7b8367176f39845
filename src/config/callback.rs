//! Callback templates and rules (reference §3.14 "Callback templates", §8): where event
//! notifications go and with which key they are signed.
//!
//! A template names notification URLs per event kind and a `CallbackKey`; a rule binds a
//! template to a (domain, app) pair — callbacks have no stream-level rules. Checks: a
//! template needs `TemplateName` (≤ 255 bytes; letters, digits, `_`, `-`), at most one
//! `Description` of 1024 bytes, at least one URL, every URL `http://` or `https://` with a
//! host and at most [`MAX_URL_BYTES`] (`InvalidParameter.InvalidCallbackUrl`), a key of at
//! most [`MAX_CALLBACK_KEY_BYTES`] printable ASCII characters, and
//! `RecordExceptionLevels` from `error`, `warning`, `info`. At most [`MAX_CALLBACK_TEMPLATES`]
//! templates; one rule per exact (domain, app); a template bound by a rule cannot be
//! deleted.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::json::Fields;
use super::problem::{ConfigError, ErrorCode, Problem, Subject};
use super::rule::{check_path_name, is_valid_domain, MAX_APP_NAME_BYTES};
use super::template::{
    is_template_name_char, MAX_DESCRIPTION_BYTES, MAX_ID, MAX_TEMPLATE_NAME_BYTES,
};

/// Callback templates per installation (reference: 50).
pub const MAX_CALLBACK_TEMPLATES: usize = 50;
/// Callback rules per installation (one per domain+app; bounded like recording rules).
pub const MAX_CALLBACK_RULES: usize = 50;
/// Longest notification URL, bytes.
pub const MAX_URL_BYTES: usize = 2048;
/// Longest CallbackKey, bytes.
pub const MAX_CALLBACK_KEY_BYTES: usize = 256;

/// The URL fields of a callback template, in the reference's order.
pub const URL_FIELDS: [&str; 10] = [
    "StreamBeginNotifyUrl",
    "StreamEndNotifyUrl",
    "RecordNotifyUrl",
    "SnapshotNotifyUrl",
    "PornCensorshipNotifyUrl",
    "StreamMixNotifyUrl",
    "PushExceptionNotifyUrl",
    "AudioAuditNotifyUrl",
    "RecordStatusNotifyUrl",
    "RecordExceptionNotifyUrl",
];

/// A callback template (`CallBackTemplateInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CallbackTemplate {
    /// Assigned when stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_id: Option<i64>,
    /// Name.
    pub template_name: String,
    /// Free text.
    pub description: String,
    /// Push started (event_type 1).
    pub stream_begin_notify_url: String,
    /// Push ended (event_type 0).
    pub stream_end_notify_url: String,
    /// Recording file final (event_type 100).
    pub record_notify_url: String,
    /// Snapshots (kept; liverec takes none).
    pub snapshot_notify_url: String,
    /// Moderation (kept; unused).
    pub porn_censorship_notify_url: String,
    /// Deprecated by the reference; kept.
    pub stream_mix_notify_url: String,
    /// Push exceptions.
    pub push_exception_notify_url: String,
    /// Audio moderation (kept; unused).
    pub audio_audit_notify_url: String,
    /// Recording status (event_type 332).
    pub record_status_notify_url: String,
    /// Recording exceptions (event_type 341).
    pub record_exception_notify_url: String,
    /// Levels of recording exceptions to send.
    pub record_exception_levels: Vec<String>,
    /// Signing key: `sign = md5(CallbackKey + t)`.
    pub callback_key: String,
}

impl CallbackTemplate {
    fn url_mut(&mut self, name: &str) -> Option<&mut String> {
        Some(match name {
            "StreamBeginNotifyUrl" => &mut self.stream_begin_notify_url,
            "StreamEndNotifyUrl" => &mut self.stream_end_notify_url,
            "RecordNotifyUrl" => &mut self.record_notify_url,
            "SnapshotNotifyUrl" => &mut self.snapshot_notify_url,
            "PornCensorshipNotifyUrl" => &mut self.porn_censorship_notify_url,
            "StreamMixNotifyUrl" => &mut self.stream_mix_notify_url,
            "PushExceptionNotifyUrl" => &mut self.push_exception_notify_url,
            "AudioAuditNotifyUrl" => &mut self.audio_audit_notify_url,
            "RecordStatusNotifyUrl" => &mut self.record_status_notify_url,
            "RecordExceptionNotifyUrl" => &mut self.record_exception_notify_url,
            _ => return None,
        })
    }
}

/// A callback rule (`CallBackRuleInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CallbackRule {
    /// Creation time, ISO 8601 at UTC+8 (as the reference's examples).
    pub create_time: String,
    /// Update time, same format.
    pub update_time: String,
    /// Bound template.
    pub template_id: i64,
    /// Push domain.
    pub domain_name: String,
    /// Push path.
    pub app_name: String,
}

/// Whether `url` is an absolute `http`/`https` URL with a host and no whitespace.
pub fn is_valid_callback_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && !host.starts_with(':')
    }) && url.len() <= MAX_URL_BYTES
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Validates a CreateLiveCallbackTemplate body (or, with `TemplateId` allowed, a merged
/// ModifyLiveCallbackTemplate body).
pub fn validate_callback_template(
    input: &Value,
    allow_id: bool,
) -> Result<CallbackTemplate, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut t = CallbackTemplate::default();
    if let Some(mut fields) = Fields::open(input, "", &mut problems) {
        if allow_id {
            t.template_id = fields.int_in("TemplateId", 1..=MAX_ID);
        }
        read_names(&mut fields, &mut t);
        read_urls(&mut fields, &mut t);
        read_levels(&mut fields, &mut t);
        if let Some(key) = fields.string("CallbackKey") {
            if key.len() > MAX_CALLBACK_KEY_BYTES || !key.chars().all(|c| c.is_ascii_graphic()) {
                let message = format!("CallbackKey must be at most {MAX_CALLBACK_KEY_BYTES} printable ASCII characters");
                fields.problem(ErrorCode::InvalidParameterValue, "CallbackKey", message);
            }
            t.callback_key = key.to_owned();
        }
        fields.finish();
    }
    if problems.is_empty() {
        Ok(t)
    } else {
        Err(problems)
    }
}

fn read_names(fields: &mut Fields<'_>, t: &mut CallbackTemplate) {
    if let Some(name) = fields.required_string("TemplateName") {
        if name.len() > MAX_TEMPLATE_NAME_BYTES || !name.chars().all(is_template_name_char) {
            let message = format!(
                "TemplateName must be at most {MAX_TEMPLATE_NAME_BYTES} bytes of Chinese or English letters, digits, '_' and '-'"
            );
            fields.problem(ErrorCode::InvalidParameterValue, "TemplateName", message);
        }
        t.template_name = name.to_owned();
    }
    if let Some(description) = fields.string("Description") {
        if description.len() > MAX_DESCRIPTION_BYTES {
            let message = format!("Description is longer than {MAX_DESCRIPTION_BYTES} bytes");
            fields.problem(ErrorCode::InvalidParameterValue, "Description", message);
        }
        t.description = description.to_owned();
    }
}

fn read_urls(fields: &mut Fields<'_>, t: &mut CallbackTemplate) {
    let mut any = false;
    for name in URL_FIELDS {
        let Some(url) = fields.string(name) else {
            continue;
        };
        if url.is_empty() {
            continue;
        }
        any = true;
        if !is_valid_callback_url(url) {
            let message = format!("{name} {url:?} is not an http:// or https:// URL");
            fields.problem(ErrorCode::InvalidCallbackUrl, name, message);
        }
        if let Some(slot) = t.url_mut(name) {
            *slot = url.to_owned();
        }
    }
    if !any {
        fields.problem(
            ErrorCode::MissingParameter,
            "RecordNotifyUrl",
            "a callback template needs at least one notification URL",
        );
    }
}

fn read_levels(fields: &mut Fields<'_>, t: &mut CallbackTemplate) {
    let Some(value) = fields.raw("RecordExceptionLevels") else {
        return;
    };
    let levels: Option<Vec<String>> = value.as_array().and_then(|items| {
        items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect()
    });
    match levels {
        Some(levels)
            if levels
                .iter()
                .all(|l| matches!(l.as_str(), "error" | "warning" | "info")) =>
        {
            t.record_exception_levels = levels;
        }
        _ => fields.problem(
            ErrorCode::InvalidParameterValue,
            "RecordExceptionLevels",
            "RecordExceptionLevels must be an array of \"error\", \"warning\", \"info\"",
        ),
    }
}

/// Callback templates and rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CallbackStore {
    /// Templates with ids.
    pub templates: Vec<CallbackTemplate>,
    /// Rules.
    pub rules: Vec<CallbackRule>,
}

impl CallbackStore {
    /// The template with `id`.
    pub fn template(&self, id: i64) -> Option<&CallbackTemplate> {
        self.templates.iter().find(|t| t.template_id == Some(id))
    }

    /// `CreateLiveCallbackTemplate` under `id`.
    pub fn create_template(
        &mut self,
        id: i64,
        input: &Value,
    ) -> Result<&CallbackTemplate, ConfigError> {
        let mut template =
            validate_callback_template(input, false).map_err(ConfigError::Invalid)?;
        if self.templates.len() >= MAX_CALLBACK_TEMPLATES {
            return Err(ConfigError::ConfOutLimit {
                of: Subject::Callback,
                limit: MAX_CALLBACK_TEMPLATES,
            });
        }
        template.template_id = Some(id);
        self.templates.push(template);
        self.templates.last().ok_or(ConfigError::ConfNotFound {
            of: Subject::Callback,
            template_id: id,
        })
    }

    /// Replaces template `template.template_id` (after a merge and validation).
    pub fn replace_template(&mut self, template: CallbackTemplate) -> Result<(), ConfigError> {
        let id = template.template_id.unwrap_or(0);
        let slot = self
            .templates
            .iter_mut()
            .find(|t| t.template_id == Some(id))
            .ok_or(ConfigError::ConfNotFound {
                of: Subject::Callback,
                template_id: id,
            })?;
        *slot = template;
        Ok(())
    }

    /// `DeleteLiveCallbackTemplate`: refused while a rule binds it.
    pub fn delete_template(&mut self, id: i64) -> Result<CallbackTemplate, ConfigError> {
        let index = self
            .templates
            .iter()
            .position(|t| t.template_id == Some(id))
            .ok_or(ConfigError::ConfNotFound {
                of: Subject::Callback,
                template_id: id,
            })?;
        let rules = self.rules.iter().filter(|r| r.template_id == id).count();
        if rules > 0 {
            return Err(ConfigError::ConfInUsed {
                of: Subject::Callback,
                template_id: id,
                rules,
            });
        }
        Ok(self.templates.remove(index))
    }

    /// `CreateLiveCallbackRule`; `stamp` is the creation time text.
    pub fn create_rule(
        &mut self,
        input: &Value,
        stamp: &str,
    ) -> Result<&CallbackRule, ConfigError> {
        let rule = validate_callback_rule(input).map_err(ConfigError::Invalid)?;
        if self.template(rule.template_id).is_none() {
            let message = format!(
                "TemplateId {} does not name a callback template",
                rule.template_id
            );
            return Err(ConfigError::Invalid(vec![Problem::new(
                ErrorCode::ConfNotFoundParameter,
                "TemplateId",
                message,
            )]));
        }
        if self.find_rule(&rule.domain_name, &rule.app_name).is_some() {
            return Err(ConfigError::RuleAlreadyExist {
                of: Subject::Callback,
                domain: rule.domain_name,
                app: rule.app_name,
                stream: String::new(),
            });
        }
        if self.rules.len() >= MAX_CALLBACK_RULES {
            return Err(ConfigError::RuleOutLimit {
                of: Subject::Callback,
                limit: MAX_CALLBACK_RULES,
            });
        }
        self.rules.push(CallbackRule {
            create_time: stamp.to_owned(),
            update_time: stamp.to_owned(),
            ..rule
        });
        self.rules.last().ok_or(ConfigError::RuleOutLimit {
            of: Subject::Callback,
            limit: MAX_CALLBACK_RULES,
        })
    }

    fn find_rule(&self, domain: &str, app: &str) -> Option<usize> {
        self.rules
            .iter()
            .position(|r| r.domain_name.eq_ignore_ascii_case(domain) && r.app_name == app)
    }

    /// `DeleteLiveCallbackRule` (exact domain and app).
    pub fn delete_rule(&mut self, domain: &str, app: &str) -> Result<CallbackRule, ConfigError> {
        let index = self
            .find_rule(domain, app)
            .ok_or_else(|| ConfigError::RuleNotFound {
                of: Subject::Callback,
                domain: domain.to_owned(),
                app: app.to_owned(),
                stream: String::new(),
            })?;
        Ok(self.rules.remove(index))
    }

    /// The template that receives events of pushes to (domain, app).
    pub fn template_for(&self, domain: &str, app: &str) -> Option<&CallbackTemplate> {
        self.find_rule(domain, app)
            .and_then(|i| self.rules.get(i))
            .and_then(|r| self.template(r.template_id))
    }
}

/// Reads a CreateLiveCallbackRule body.
pub fn validate_callback_rule(input: &Value) -> Result<CallbackRule, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut rule = CallbackRule::default();
    if let Some(mut fields) = Fields::open(input, "", &mut problems) {
        if let Some(domain) = fields.required_string("DomainName") {
            if !is_valid_domain(domain) {
                let message = format!("DomainName {domain:?} is not a valid domain name");
                fields.problem(ErrorCode::DomainFormatError, "DomainName", message);
            }
            rule.domain_name = domain.to_owned();
        }
        if let Some(app) = fields.required_string("AppName") {
            if let Err(e) = check_path_name("AppName", app, MAX_APP_NAME_BYTES) {
                fields.problem(ErrorCode::InvalidParameterValue, "AppName", e.to_string());
            }
            rule.app_name = app.to_owned();
        }
        rule.template_id = fields
            .required_int_in("TemplateId", 1..=MAX_ID)
            .unwrap_or(0);
        fields.finish();
    }
    if problems.is_empty() {
        Ok(rule)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn codes(input: Value) -> Vec<(ErrorCode, String)> {
        validate_callback_template(&input, false)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|p| (p.code, p.field))
            .collect()
    }

    #[test]
    fn template_validation_table() {
        let ok = json!({"TemplateName": "cb", "RecordNotifyUrl": "http://127.0.0.1:9/cb", "CallbackKey": "k1", "RecordExceptionLevels": ["error"]});
        assert!(codes(ok).is_empty());
        let cases = [
            (
                json!({"RecordNotifyUrl": "http://h/"}),
                vec![(ErrorCode::MissingParameter, "TemplateName".to_owned())],
            ),
            (
                json!({"TemplateName": "cb"}),
                vec![(ErrorCode::MissingParameter, "RecordNotifyUrl".to_owned())],
            ),
            (
                json!({"TemplateName": "cb", "RecordNotifyUrl": "ftp://h/"}),
                vec![(ErrorCode::InvalidCallbackUrl, "RecordNotifyUrl".to_owned())],
            ),
            (
                json!({"TemplateName": "cb", "StreamEndNotifyUrl": "http://"}),
                vec![(
                    ErrorCode::InvalidCallbackUrl,
                    "StreamEndNotifyUrl".to_owned(),
                )],
            ),
            (
                json!({"TemplateName": "cb", "RecordNotifyUrl": "http://h/ x"}),
                vec![(ErrorCode::InvalidCallbackUrl, "RecordNotifyUrl".to_owned())],
            ),
            (
                json!({"TemplateName": "c b", "RecordNotifyUrl": "http://h/"}),
                vec![(ErrorCode::InvalidParameterValue, "TemplateName".to_owned())],
            ),
            (
                json!({"TemplateName": "cb", "RecordNotifyUrl": "http://h/", "CallbackKey": "a b"}),
                vec![(ErrorCode::InvalidParameterValue, "CallbackKey".to_owned())],
            ),
            (
                json!({"TemplateName": "cb", "RecordNotifyUrl": "http://h/", "RecordExceptionLevels": ["fatal"]}),
                vec![(
                    ErrorCode::InvalidParameterValue,
                    "RecordExceptionLevels".to_owned(),
                )],
            ),
            (
                json!({"TemplateName": "cb", "RecordNotifyUrl": "http://h/", "Bogus": 1}),
                vec![(ErrorCode::UnknownParameter, "Bogus".to_owned())],
            ),
        ];
        for (input, want) in cases {
            assert_eq!(codes(input.clone()), want, "{input}");
        }
    }

    #[test]
    fn store_limits_conflicts_and_lookup() {
        let mut store = CallbackStore::default();
        store
            .create_template(
                1,
                &json!({"TemplateName": "a", "RecordNotifyUrl": "http://h/a"}),
            )
            .unwrap();
        let rule = json!({"DomainName": "d.com", "AppName": "live", "TemplateId": 1});
        store
            .create_rule(&rule, "2026-11-24T10:00:00+08:00")
            .unwrap();
        let duplicate = store.create_rule(&rule, "").unwrap_err();
        assert_eq!(duplicate.code(), ErrorCode::RuleAlreadyExist);
        assert_eq!(
            duplicate.to_string(),
            r#"a callback rule for domain "d.com", app "live" already exists"#
        );
        let missing = json!({"DomainName": "d.com", "AppName": "x", "TemplateId": 9});
        assert_eq!(
            store.create_rule(&missing, "").unwrap_err().code(),
            ErrorCode::ConfNotFoundParameter
        );
        assert_eq!(
            store.template_for("D.COM", "live").map(|t| t.template_id),
            Some(Some(1))
        );
        assert_eq!(store.template_for("d.com", "other"), None);
        let bound = store.delete_template(1).unwrap_err();
        assert_eq!(bound.code(), ErrorCode::ConfInUsed);
        assert_eq!(
            bound.to_string(),
            "callback template 1 is bound by 1 callback rule(s); delete them first"
        );
        let missing_rule = store.delete_rule("d.com", "nope").unwrap_err();
        assert_eq!(missing_rule.code(), ErrorCode::RuleNotFound);
        assert_eq!(
            missing_rule.to_string(),
            r#"no callback rule for domain "d.com", app "nope""#
        );
        assert_eq!(
            store.delete_template(7).unwrap_err().to_string(),
            "callback template 7 does not exist"
        );
        store.delete_rule("d.com", "live").unwrap();
        store.delete_template(1).unwrap();
        for id in 0..MAX_CALLBACK_TEMPLATES as i64 {
            store
                .create_template(
                    id + 10,
                    &json!({"TemplateName": "t", "RecordNotifyUrl": "https://h/"}),
                )
                .unwrap();
        }
        let err = store
            .create_template(
                99,
                &json!({"TemplateName": "t", "RecordNotifyUrl": "https://h/"}),
            )
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::ConfOutLimit);
        assert_eq!(err.to_string(), "at most 50 callback templates may exist");
    }
}
