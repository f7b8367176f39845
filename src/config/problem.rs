//! Error codes and validation problems of the configuration layer.
//!
//! Codes are the reference API's (`../shared/reference/recording-api.md` §9): a caller
//! that knows the Tencent CSS API reads them without a translation table. Validation
//! reports *every* problem found, each as `{code, field, message}` where `field` is the
//! dotted path of the offending parameter (`Mp4Param.RecordInterval`); operations that
//! fail for another reason (quota, conflict, not found) return a [`ConfigError`].

use serde::Serialize;

/// A stable, machine-readable error code, spelled exactly as the reference API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum ErrorCode {
    /// A required parameter is absent.
    MissingParameter,
    /// A parameter has the wrong type or shape.
    InvalidParameter,
    /// A parameter is of the right type but out of range or not an allowed value.
    InvalidParameterValue,
    /// A parameter the action does not define.
    UnknownParameter,
    /// `VodFileName` is not an acceptable file-name pattern.
    #[serde(rename = "InvalidParameter.InvalidVodFileName")]
    InvalidVodFileName,
    /// A domain name is not a host name.
    #[serde(rename = "InvalidParameter.DomainFormatError")]
    DomainFormatError,
    /// A record task's times break the task-time rules.
    #[serde(rename = "InvalidParameter.InvalidTaskTime")]
    InvalidTaskTime,
    /// A callback URL is not an http(s) URL.
    #[serde(rename = "InvalidParameter.InvalidCallbackUrl")]
    InvalidCallbackUrl,
    /// No record task has this id.
    #[serde(rename = "InvalidParameter.TaskNotExist")]
    TaskNotExist,
    /// A rule names a template that does not exist.
    #[serde(rename = "InvalidParameter.ConfNotFound")]
    ConfNotFoundParameter,
    /// The request asks for something liverec deliberately does not do.
    UnsupportedOperation,
    /// A binding for the exact (domain, app, stream) key already exists.
    #[serde(rename = "FailedOperation.RuleAlreadyExist")]
    RuleAlreadyExist,
    /// The template is bound by a rule and cannot be deleted.
    #[serde(rename = "FailedOperation.ConfInUsed")]
    ConfInUsed,
    /// The addressed record does not exist.
    #[serde(rename = "FailedOperation.NotFound")]
    NotFound,
    /// The template quota (50) is used up.
    #[serde(rename = "InternalError.ConfOutLimit")]
    ConfOutLimit,
    /// The rule quota (50) is used up.
    #[serde(rename = "InternalError.RuleOutLimit")]
    RuleOutLimit,
    /// No template with this id.
    #[serde(rename = "InternalError.ConfNotFound")]
    ConfNotFound,
    /// No rule with this exact key.
    #[serde(rename = "InternalError.RuleNotFound")]
    RuleNotFound,
    /// The task quota is used up.
    #[serde(rename = "LimitExceeded.MaximumTask")]
    MaximumTask,
    /// Too many tasks would record one stream at the same time.
    #[serde(rename = "LimitExceeded.MaximumRunningTask")]
    MaximumRunningTask,
    /// A push carries no usable txSecret/txTime.
    #[serde(rename = "AuthFailure.PushAuthMissing")]
    PushAuthMissing,
    /// txTime is neither hex (≤ 8 digits) nor decimal (9–10 digits).
    #[serde(rename = "AuthFailure.InvalidTxTime")]
    InvalidTxTime,
    /// txSecret does not match any key of the domain.
    #[serde(rename = "AuthFailure.PushSignatureFailure")]
    PushSignatureFailure,
    /// txTime + AuthDelta lies in the past.
    #[serde(rename = "AuthFailure.PushSignatureExpire")]
    PushSignatureExpire,
    /// A mix input's layout is wrong.
    #[serde(rename = "InvalidParameter.InvalidMixInputParam")]
    InvalidMixInputParam,
    /// No mix session has this id.
    #[serde(rename = "InvalidParameter.CancelSessionNotExist")]
    CancelSessionNotExist,
    /// A running mix session's output stream cannot change.
    #[serde(rename = "InvalidParameter.SessionOutputStreamChanged")]
    SessionOutputStreamChanged,
    /// The mix could not be made (its output stream is live, no engine slot free).
    #[serde(rename = "FailedOperation.ProcessMixError")]
    ProcessMixError,
    /// A quota is used up (concurrent mixes).
    LimitExceeded,
    /// The server failed (storage, database); the request may be retried.
    InternalError,
    /// No such action.
    InvalidAction,
    /// The API version is not the one served.
    NoSuchVersion,
    /// The request body is over the size limit.
    RequestSizeLimitExceeded,
    /// The `Authorization` header is malformed or missing.
    #[serde(rename = "AuthFailure.InvalidAuthorization")]
    InvalidAuthorization,
    /// The SecretId is unknown.
    #[serde(rename = "AuthFailure.SecretIdNotFound")]
    SecretIdNotFound,
    /// The request timestamp is too far from the server's time.
    #[serde(rename = "AuthFailure.SignatureExpire")]
    SignatureExpire,
    /// The signature does not match.
    #[serde(rename = "AuthFailure.SignatureFailure")]
    SignatureFailure,
    /// The request is not allowed (unsigned, or from a browser, where only signed or
    /// loopback same-origin requests are).
    #[serde(rename = "AuthFailure.UnauthorizedOperation")]
    UnauthorizedOperation,
}

impl ErrorCode {
    /// The code as the wire spells it (`InvalidParameter.InvalidVodFileName`).
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            MissingParameter => "MissingParameter",
            InvalidParameter => "InvalidParameter",
            InvalidParameterValue => "InvalidParameterValue",
            UnknownParameter => "UnknownParameter",
            InvalidVodFileName => "InvalidParameter.InvalidVodFileName",
            DomainFormatError => "InvalidParameter.DomainFormatError",
            InvalidTaskTime => "InvalidParameter.InvalidTaskTime",
            ConfNotFoundParameter => "InvalidParameter.ConfNotFound",
            InvalidCallbackUrl => "InvalidParameter.InvalidCallbackUrl",
            TaskNotExist => "InvalidParameter.TaskNotExist",
            UnsupportedOperation => "UnsupportedOperation",
            RuleAlreadyExist => "FailedOperation.RuleAlreadyExist",
            ConfInUsed => "FailedOperation.ConfInUsed",
            NotFound => "FailedOperation.NotFound",
            ConfOutLimit => "InternalError.ConfOutLimit",
            RuleOutLimit => "InternalError.RuleOutLimit",
            ConfNotFound => "InternalError.ConfNotFound",
            RuleNotFound => "InternalError.RuleNotFound",
            MaximumRunningTask => "LimitExceeded.MaximumRunningTask",
            MaximumTask => "LimitExceeded.MaximumTask",
            PushAuthMissing => "AuthFailure.PushAuthMissing",
            InvalidTxTime => "AuthFailure.InvalidTxTime",
            PushSignatureFailure => "AuthFailure.PushSignatureFailure",
            PushSignatureExpire => "AuthFailure.PushSignatureExpire",
            InvalidMixInputParam => "InvalidParameter.InvalidMixInputParam",
            CancelSessionNotExist => "InvalidParameter.CancelSessionNotExist",
            SessionOutputStreamChanged => "InvalidParameter.SessionOutputStreamChanged",
            ProcessMixError => "FailedOperation.ProcessMixError",
            LimitExceeded => "LimitExceeded",
            InternalError => "InternalError",
            InvalidAction => "InvalidAction",
            NoSuchVersion => "NoSuchVersion",
            RequestSizeLimitExceeded => "RequestSizeLimitExceeded",
            InvalidAuthorization => "AuthFailure.InvalidAuthorization",
            SecretIdNotFound => "AuthFailure.SecretIdNotFound",
            SignatureExpire => "AuthFailure.SignatureExpire",
            SignatureFailure => "AuthFailure.SignatureFailure",
            UnauthorizedOperation => "AuthFailure.UnauthorizedOperation",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One validation problem: what is wrong, where, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Machine-readable code from the reference API.
    pub code: ErrorCode,
    /// Dotted path of the parameter (`HlsSpecialParam.FlowContinueDuration`); empty for
    /// the request as a whole.
    pub field: String,
    /// Human-readable explanation naming the field and the allowed values.
    pub message: String,
}

impl Problem {
    /// A problem with `code` at `field`.
    pub fn new(code: ErrorCode, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code,
            field: field.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// Which kind of configuration object an error is about: recording and callback
/// templates and rules share the reference's error codes, not their messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    /// Recording templates and rules.
    Recording,
    /// Callback templates and rules.
    Callback,
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Subject::Recording => "recording",
            Subject::Callback => "callback",
        })
    }
}

/// The key of a rule as its messages show it: callback rules have no stream.
fn rule_key(of: Subject, domain: &str, app: &str, stream: &str) -> String {
    match of {
        Subject::Recording => format!("domain {domain:?}, app {app:?}, stream {stream:?}"),
        Subject::Callback => format!("domain {domain:?}, app {app:?}"),
    }
}

/// Why a configuration operation failed. One enum for the whole configuration layer;
/// [`ConfigError::code`] gives the reference API's code for each case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The input failed validation; every problem found is listed.
    #[error("{} invalid parameter(s): {}", .0.len(), first_message(.0))]
    Invalid(Vec<Problem>),
    /// A rule for exactly this key exists already.
    #[error("a {of} rule for {} already exists", rule_key(*.of, .domain, .app, .stream))]
    RuleAlreadyExist {
        /// Recording or callback rules.
        of: Subject,
        /// DomainName of the clashing key.
        domain: String,
        /// AppName of the clashing key.
        app: String,
        /// StreamName of the clashing key ("" for callback rules, which have none).
        stream: String,
    },
    /// No rule has exactly this key.
    #[error("no {of} rule for {}", rule_key(*.of, .domain, .app, .stream))]
    RuleNotFound {
        /// Recording or callback rules.
        of: Subject,
        /// DomainName looked up.
        domain: String,
        /// AppName looked up.
        app: String,
        /// StreamName looked up ("" for callback rules).
        stream: String,
    },
    /// The rule quota is used up.
    #[error("at most {limit} {of} rules may exist")]
    RuleOutLimit {
        /// Recording or callback rules.
        of: Subject,
        /// The quota.
        limit: usize,
    },
    /// The template quota is used up.
    #[error("at most {limit} {of} templates may exist")]
    ConfOutLimit {
        /// Recording or callback templates.
        of: Subject,
        /// The quota.
        limit: usize,
    },
    /// The template is bound by at least one rule.
    #[error("{of} template {template_id} is bound by {rules} {of} rule(s); delete them first")]
    ConfInUsed {
        /// Recording or callback templates.
        of: Subject,
        /// The template asked to be deleted.
        template_id: i64,
        /// How many rules bind it.
        rules: usize,
    },
    /// No template has this id.
    #[error("{of} template {template_id} does not exist")]
    ConfNotFound {
        /// Recording or callback templates.
        of: Subject,
        /// The id looked up.
        template_id: i64,
    },
    /// A template id is already taken (server bug or replayed insert).
    #[error("recording template id {template_id} is already taken")]
    TemplateIdTaken {
        /// The clashing id.
        template_id: i64,
    },
    /// No task has this id.
    #[error("record task {task_id:?} does not exist")]
    TaskNotFound {
        /// The id looked up.
        task_id: String,
    },
    /// A new task would make more than the allowed number record one stream at once.
    #[error("at most {limit} record tasks may record stream {stream:?} at the same time")]
    MaximumRunningTask {
        /// The stream (`domain/app/stream`).
        stream: String,
        /// The concurrency limit.
        limit: usize,
    },
    /// The task quota is used up.
    #[error("at most {limit} record tasks may be kept; delete old ones")]
    TaskOutLimit {
        /// The quota.
        limit: usize,
    },
    /// The push URL lacks txSecret or txTime.
    #[error("the push URL carries no txSecret and txTime")]
    PushAuthMissing,
    /// txTime is neither hex nor decimal Unix time.
    #[error(
        "txTime {tx_time:?} is not a Unix time in hex (up to 8 digits) or decimal (9-10 digits)"
    )]
    InvalidTxTime {
        /// The text given (first 16 characters).
        tx_time: String,
    },
    /// No key of the domain produces this txSecret.
    #[error("txSecret does not match any push key of the domain")]
    PushSignatureFailure,
    /// The push URL has expired.
    #[error("the push URL expired at {expires_at} (txTime + AuthDelta); now is {now}")]
    PushSignatureExpire {
        /// txTime + AuthDelta.
        expires_at: i64,
        /// The time of the check.
        now: i64,
    },
}

fn first_message(problems: &[Problem]) -> String {
    problems
        .first()
        .map(|p| p.message.clone())
        .unwrap_or_default()
}

impl ConfigError {
    /// The reference API's error code for this failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            ConfigError::Invalid(problems) => problems
                .first()
                .map(|p| p.code)
                .unwrap_or(ErrorCode::InvalidParameter),
            ConfigError::RuleAlreadyExist { .. } => ErrorCode::RuleAlreadyExist,
            ConfigError::RuleNotFound { .. } => ErrorCode::RuleNotFound,
            ConfigError::RuleOutLimit { .. } => ErrorCode::RuleOutLimit,
            ConfigError::ConfOutLimit { .. } => ErrorCode::ConfOutLimit,
            ConfigError::ConfInUsed { .. } => ErrorCode::ConfInUsed,
            ConfigError::ConfNotFound { .. } => ErrorCode::ConfNotFound,
            ConfigError::TemplateIdTaken { .. } => ErrorCode::InvalidParameterValue,
            ConfigError::TaskNotFound { .. } => ErrorCode::TaskNotExist,
            ConfigError::MaximumRunningTask { .. } => ErrorCode::MaximumRunningTask,
            ConfigError::TaskOutLimit { .. } => ErrorCode::MaximumTask,
            ConfigError::PushAuthMissing => ErrorCode::PushAuthMissing,
            ConfigError::InvalidTxTime { .. } => ErrorCode::InvalidTxTime,
            ConfigError::PushSignatureFailure => ErrorCode::PushSignatureFailure,
            ConfigError::PushSignatureExpire { .. } => ErrorCode::PushSignatureExpire,
        }
    }

    /// The problems behind this error: the validation list, or one problem built from
    /// the error itself.
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            ConfigError::Invalid(problems) => problems.clone(),
            other => vec![Problem::new(other.code(), "", other.to_string())],
        }
    }
}
