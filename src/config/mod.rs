//! The recording configuration core: templates, rules, tasks, file naming, push
//! authentication and the recording plan, following the reference API
//! (`../shared/reference/recording-api.md`).
//!
//! Pure: no I/O and no clock. Every function that depends on the time takes `now` as an
//! argument (Unix seconds, or Unix milliseconds where names need them). Requests are
//! read from `serde_json::Value`s with the reference's PascalCase names, so a body copied
//! from its documentation validates as is; problems come back as data
//! ([`problem::Problem`]), operations fail with [`problem::ConfigError`].

pub mod callback;
pub mod callback_event;
pub mod forbid;
pub mod json;
pub mod mix;
pub mod modify;
pub mod naming;
pub mod plan;
pub mod problem;
pub mod push_auth;
pub mod push_url;
pub mod rule;
pub mod srt_stream_id;
pub mod store;
pub mod task;
pub mod task_query;
pub mod template;
pub mod wall_time;

pub use plan::{plan_recording, RecordingPlan};
pub use problem::{ConfigError, ErrorCode, Problem, Subject};
pub use rule::{resolve, Priority, RecordRule, StreamKey};
pub use store::ConfigStore;
pub use task::{validate_task, RecordTask};
pub use template::{validate_template, Format, RecordTemplate, TemplateIdField};
