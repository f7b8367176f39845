//! Recording rules: which template records which stream (reference §2.5, §3.6–3.8, §4).
//!
//! A rule binds a template to `DomainName` [+ `AppName`] [+ `StreamName`]; an empty
//! `AppName` or `StreamName` matches any. When several rules match a push the most
//! specific wins, in the reference's order ([`Priority`]). Keys are exact: one binding
//! per (domain, app, stream), domains compared without regard to ASCII case (DNS names
//! are case-insensitive), app and stream names compared exactly. Among duplicate keys —
//! which a validated [`super::store::ConfigStore`] never holds, but a list handed in
//! from JavaScript may — the first in the list wins.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::json::Fields;
use super::problem::{ErrorCode, Problem};
use super::template::MAX_ID;

/// Longest domain name, bytes (RFC 1035 §2.3.4).
pub const MAX_DOMAIN_BYTES: usize = 253;
/// Longest domain label, bytes (RFC 1035 §2.3.4).
pub const MAX_DOMAIN_LABEL_BYTES: usize = 63;
/// Longest `AppName`, bytes.
pub const MAX_APP_NAME_BYTES: usize = 128;
/// Longest `StreamName`, bytes.
pub const MAX_STREAM_NAME_BYTES: usize = 256;

/// Which streams a rule applies to: the exact (domain, app, stream) key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct StreamKey {
    /// Push domain.
    pub domain_name: String,
    /// Push path (`live`); empty in a rule means any.
    pub app_name: String,
    /// Stream name; empty in a rule means any.
    pub stream_name: String,
}

impl StreamKey {
    /// A key from its three parts.
    pub fn new(domain: &str, app: &str, stream: &str) -> Self {
        Self {
            domain_name: domain.to_owned(),
            app_name: app.to_owned(),
            stream_name: stream.to_owned(),
        }
    }

    /// Whether two keys name the same binding (domain case-insensitive).
    pub fn same_binding(&self, other: &StreamKey) -> bool {
        self.domain_name.eq_ignore_ascii_case(&other.domain_name)
            && self.app_name == other.app_name
            && self.stream_name == other.stream_name
    }

    /// `domain/app/stream`, for messages.
    pub fn display(&self) -> String {
        format!(
            "{}/{}/{}",
            self.domain_name, self.app_name, self.stream_name
        )
    }
}

/// A recording rule (`RuleInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RecordRule {
    /// The template the rule applies.
    pub template_id: i64,
    /// Push domain.
    pub domain_name: String,
    /// Push path; empty matches any.
    pub app_name: String,
    /// Stream name; empty matches any.
    pub stream_name: String,
    /// Creation time, `YYYY-MM-DD hh:mm:ss` at UTC+8 (reference §2.5).
    pub create_time: String,
    /// Last update time, same format.
    pub update_time: String,
}

impl RecordRule {
    /// The rule's exact key.
    pub fn key(&self) -> StreamKey {
        StreamKey::new(&self.domain_name, &self.app_name, &self.stream_name)
    }
}

/// How specific a matching rule is; 1 is the most specific (reference §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Priority {
    /// Domain + app + stream.
    DomainAppStream = 1,
    /// Domain + stream (any app).
    DomainStream = 2,
    /// Domain + app (any stream).
    DomainApp = 3,
    /// Domain only.
    Domain = 4,
}

impl Priority {
    /// The level as the reference numbers it (1–4).
    pub fn level(self) -> u8 {
        self as u8
    }
}

/// The rule that applies to a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved<'r> {
    /// The winning rule.
    pub rule: &'r RecordRule,
    /// Its priority level.
    pub priority: Priority,
}

/// How `rule` matches `push`, if it does.
pub fn match_priority(rule: &RecordRule, push: &StreamKey) -> Option<Priority> {
    if !rule.domain_name.eq_ignore_ascii_case(&push.domain_name) {
        return None;
    }
    let app = rule.app_name.is_empty() || rule.app_name == push.app_name;
    let stream = rule.stream_name.is_empty() || rule.stream_name == push.stream_name;
    if !(app && stream) {
        return None;
    }
    Some(
        match (rule.app_name.is_empty(), rule.stream_name.is_empty()) {
            (false, false) => Priority::DomainAppStream,
            (true, false) => Priority::DomainStream,
            (false, true) => Priority::DomainApp,
            (true, true) => Priority::Domain,
        },
    )
}

/// The most specific rule matching `push`; the first in `rules` among equals.
pub fn resolve<'r>(rules: &'r [RecordRule], push: &StreamKey) -> Option<Resolved<'r>> {
    let mut best: Option<Resolved<'r>> = None;
    for rule in rules {
        let Some(priority) = match_priority(rule, push) else {
            continue;
        };
        if best.is_none_or(|b| priority < b.priority) {
            best = Some(Resolved { rule, priority });
        }
    }
    best
}

/// Whether `domain` is a host name: dot-separated labels of ASCII letters, digits and
/// `-` (not at a label's ends), within the RFC 1035 lengths. IPv4 literals qualify.
pub fn is_valid_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= MAX_DOMAIN_BYTES
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= MAX_DOMAIN_LABEL_BYTES
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Whether `name` may be an AppName or StreamName: printable, no whitespace, no URL
/// delimiters (`/ ? # &`), no `%`, and not `.` or `..` (a path component that names no
/// folder of its own).
pub fn is_valid_path_name(name: &str) -> bool {
    name != "."
        && name != ".."
        && name.chars().all(|c| {
            !c.is_control() && !c.is_whitespace() && !matches!(c, '/' | '?' | '#' | '&' | '%')
        })
}

/// Why an AppName or StreamName cannot name a stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty where a name is needed (a push).
    #[error("{what} is empty")]
    Empty {
        /// `AppName` or `StreamName`.
        what: &'static str,
    },
    /// Longer than the bound.
    #[error("{what} is {len} bytes long; at most {max} are allowed")]
    TooLong {
        /// `AppName` or `StreamName`.
        what: &'static str,
        /// Its length, bytes.
        len: usize,
        /// The bound, bytes.
        max: usize,
    },
    /// A character or form no name may have.
    #[error("{what} {name:?} must not be . or .., nor contain whitespace, control characters or / ? # & %")]
    Invalid {
        /// `AppName` or `StreamName`.
        what: &'static str,
        /// The name (its first 64 characters).
        name: String,
    },
}

/// Checks an AppName or StreamName against its bound and [`is_valid_path_name`]; empty
/// passes (the API's "any app"). One rule for the API's keys and for pushes.
pub fn check_path_name(what: &'static str, name: &str, max: usize) -> Result<(), NameError> {
    if name.len() > max {
        return Err(NameError::TooLong {
            what,
            len: name.len(),
            max,
        });
    }
    if !is_valid_path_name(name) {
        return Err(NameError::Invalid {
            what,
            name: name.chars().take(64).collect(),
        });
    }
    Ok(())
}

/// The names of a push: both present and valid as the API would take them in a rule,
/// so every push can be recorded and bound.
pub fn check_push_names(app: &str, stream: &str) -> Result<(), NameError> {
    for (what, name, max) in [
        ("AppName", app, MAX_APP_NAME_BYTES),
        ("StreamName", stream, MAX_STREAM_NAME_BYTES),
    ] {
        if name.is_empty() {
            return Err(NameError::Empty { what });
        }
        check_path_name(what, name, max)?;
    }
    Ok(())
}

/// A `CreateLiveRecordRule` request read from JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRequest {
    /// Key to bind.
    pub key: StreamKey,
    /// Template to bind it to.
    pub template_id: i64,
}

/// Reads and checks a `CreateLiveRecordRule` body. Template existence is checked by the
/// store, which knows the templates.
pub fn validate_rule_request(input: &Value) -> Result<RuleRequest, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut request = RuleRequest {
        key: StreamKey::default(),
        template_id: 0,
    };
    if let Some(mut fields) = Fields::open(input, "", &mut problems) {
        request.key = read_key(&mut fields, KeyParts::DomainOnly);
        request.template_id = fields
            .required_int_in("TemplateId", 1..=MAX_ID)
            .unwrap_or(0);
        fields.finish();
    }
    if problems.is_empty() {
        Ok(request)
    } else {
        Err(problems)
    }
}

/// Which parts of a key a request must carry besides `DomainName`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyParts {
    /// `AppName` and `StreamName` optional (rules).
    DomainOnly,
    /// All three required (record tasks).
    All,
}

/// Reads `DomainName` (always required), `AppName` and `StreamName` from a request.
pub fn read_key(fields: &mut Fields<'_>, required: KeyParts) -> StreamKey {
    let mut key = StreamKey::default();
    if let Some(domain) = fields.required_string("DomainName") {
        if !is_valid_domain(domain) {
            let message = format!("DomainName {domain:?} is not a valid domain name");
            fields.problem(ErrorCode::DomainFormatError, "DomainName", message);
        }
        key.domain_name = domain.to_owned();
    }
    let all = required == KeyParts::All;
    let app = if all {
        fields.required_string("AppName")
    } else {
        fields.string("AppName")
    };
    key.app_name = checked_path_name(fields, "AppName", app, MAX_APP_NAME_BYTES);
    let stream = if all {
        fields.required_string("StreamName")
    } else {
        fields.string("StreamName")
    };
    key.stream_name = checked_path_name(fields, "StreamName", stream, MAX_STREAM_NAME_BYTES);
    key
}

fn checked_path_name(
    fields: &mut Fields<'_>,
    name: &'static str,
    value: Option<&str>,
    max: usize,
) -> String {
    let Some(value) = value else {
        return String::new();
    };
    if let Err(e) = check_path_name(name, value, max) {
        fields.problem(ErrorCode::InvalidParameterValue, name, e.to_string());
    }
    value.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: i64, domain: &str, app: &str, stream: &str) -> RecordRule {
        RecordRule {
            template_id: id,
            domain_name: domain.into(),
            app_name: app.into(),
            stream_name: stream.into(),
            ..RecordRule::default()
        }
    }

    fn all_levels() -> Vec<RecordRule> {
        vec![
            rule(4, "d.com", "", ""),
            rule(3, "d.com", "live", ""),
            rule(2, "d.com", "", "s1"),
            rule(1, "d.com", "live", "s1"),
            rule(9, "other.com", "", ""),
        ]
    }

    #[test]
    fn every_priority_level() {
        let rules = all_levels();
        let cases = [
            (
                ("d.com", "live", "s1"),
                Some((1, Priority::DomainAppStream)),
            ),
            (("d.com", "other", "s1"), Some((2, Priority::DomainStream))),
            (("d.com", "live", "s2"), Some((3, Priority::DomainApp))),
            (("d.com", "other", "s2"), Some((4, Priority::Domain))),
            (
                ("D.COM", "live", "s1"),
                Some((1, Priority::DomainAppStream)),
            ),
            (("d.com", "Live", "s1"), Some((2, Priority::DomainStream))),
            (("x.com", "live", "s1"), None),
            (("other.com", "a", "b"), Some((9, Priority::Domain))),
        ];
        for ((d, a, s), want) in cases {
            let got =
                resolve(&rules, &StreamKey::new(d, a, s)).map(|r| (r.rule.template_id, r.priority));
            assert_eq!(got, want, "{d}/{a}/{s}");
        }
    }

    #[test]
    fn order_of_rules_does_not_change_the_winner() {
        let mut rules = all_levels();
        for _ in 0..rules.len() {
            rules.rotate_left(1);
            let got =
                resolve(&rules, &StreamKey::new("d.com", "live", "s1")).map(|r| r.rule.template_id);
            assert_eq!(got, Some(1));
            let got =
                resolve(&rules, &StreamKey::new("d.com", "x", "s1")).map(|r| r.rule.template_id);
            assert_eq!(got, Some(2));
        }
    }

    #[test]
    fn ties_go_to_the_first_rule() {
        let rules = vec![rule(7, "d.com", "live", ""), rule(8, "D.com", "live", "")];
        let got =
            resolve(&rules, &StreamKey::new("d.com", "live", "x")).map(|r| r.rule.template_id);
        assert_eq!(got, Some(7));
        let rules = vec![rule(8, "D.com", "live", ""), rule(7, "d.com", "live", "")];
        let got =
            resolve(&rules, &StreamKey::new("d.com", "live", "x")).map(|r| r.rule.template_id);
        assert_eq!(got, Some(8));
    }

    #[test]
    fn no_rules_no_match() {
        assert_eq!(resolve(&[], &StreamKey::new("d.com", "live", "s")), None);
    }

    #[test]
    fn domain_format_table() {
        let long_label = "a".repeat(MAX_DOMAIN_LABEL_BYTES);
        let too_long_label = "a".repeat(MAX_DOMAIN_LABEL_BYTES + 1);
        let long_domain = vec!["a".repeat(49); 5].join("."); // 249
        let too_long_domain = format!("{long_domain}.abcd"); // 254
        let cases: Vec<(&str, bool)> = vec![
            ("livepush.tcloud.com", true),
            ("127.0.0.1", true),
            ("localhost", true),
            ("a-b.c", true),
            (&long_label, true),
            (&long_domain, true),
            ("", false),
            ("-a.com", false),
            ("a-.com", false),
            ("a..com", false),
            (".a.com", false),
            ("a_b.com", false),
            ("a.com/", false),
            ("a b.com", false),
            (&too_long_label, false),
            (&too_long_domain, false),
        ];
        for (domain, want) in cases {
            assert_eq!(is_valid_domain(domain), want, "{domain:?}");
        }
    }

    /// One name rule for the API's keys and for pushes: what a push may use, a rule can
    /// bind, and every name that can be bound names a folder.
    #[test]
    fn push_and_rule_names_share_one_rule() {
        let long = "s".repeat(MAX_STREAM_NAME_BYTES);
        let cjk = "流".repeat(MAX_STREAM_NAME_BYTES / 3);
        let accepted = [
            ".hidden",
            "....",
            "a.b",
            "cam-1_(x)",
            long.as_str(),
            cjk.as_str(),
        ];
        for name in accepted {
            assert_eq!(check_push_names("live", name), Ok(()), "{name:?}");
            let rule = serde_json::json!({"DomainName": "d.com", "AppName": "live", "StreamName": name, "TemplateId": 1});
            assert!(validate_rule_request(&rule).is_ok(), "{name:?}");
        }
        let too_long = "s".repeat(MAX_STREAM_NAME_BYTES + 1);
        let refused = [".", "..", "", "a b", "a/b", "a%2F", too_long.as_str()];
        for name in refused {
            assert!(check_push_names("live", name).is_err(), "{name:?}");
            let rule = serde_json::json!({"DomainName": "d.com", "AppName": "live", "StreamName": name, "TemplateId": 1});
            assert_eq!(
                validate_rule_request(&rule).is_ok(),
                name.is_empty(),
                "{name:?}"
            );
        }
        let app = "a".repeat(MAX_APP_NAME_BYTES + 1);
        assert_eq!(
            check_push_names(&app, "s").unwrap_err().to_string(),
            "AppName is 129 bytes long; at most 128 are allowed"
        );
        assert!(check_push_names("..", "s").is_err());
        assert!(check_push_names("", "s").is_err());
    }

    #[test]
    fn rule_request_validation() {
        let ok = serde_json::json!({"DomainName": "d.com", "AppName": "live", "StreamName": "s", "TemplateId": 3});
        let req = validate_rule_request(&ok).unwrap();
        assert_eq!(req.key, StreamKey::new("d.com", "live", "s"));
        assert_eq!(req.template_id, 3);
        let bad = serde_json::json!({"DomainName": "bad domain", "AppName": "a/b", "StreamName": 5, "TemplateId": 0, "X": 1});
        let codes: Vec<(String, String)> = validate_rule_request(&bad)
            .unwrap_err()
            .into_iter()
            .map(|p| (p.code.as_str().to_owned(), p.field))
            .collect();
        assert_eq!(
            codes,
            vec![
                (
                    "InvalidParameter.DomainFormatError".into(),
                    "DomainName".into()
                ),
                ("InvalidParameterValue".into(), "AppName".into()),
                ("InvalidParameter".into(), "StreamName".into()),
                ("InvalidParameterValue".into(), "TemplateId".into()),
                ("UnknownParameter".into(), "X".into()),
            ]
        );
        let missing = validate_rule_request(&serde_json::json!({})).unwrap_err();
        let fields: Vec<&str> = missing.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["DomainName", "TemplateId"]);
        assert!(missing
            .iter()
            .all(|p| p.code == ErrorCode::MissingParameter));
    }
}
