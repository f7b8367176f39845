//! The actions of the reference API (reference §3), dispatched by name.
//!
//! Each action reads its parameters with the configuration layer's validators (so the
//! codes and field paths are the ones `validateTemplate` reports), applies the change
//! through [`mutate`] (copy, change, persist, swap: see [`crate::server::configuration`]), and returns the
//! output fields of its `Response`.

mod callback_log;
mod callbacks;
mod clip;
mod media;
mod mix;
mod push_auth;
mod rules;
mod streams;
mod tasks;
mod templates;

use crate::config::problem::ErrorCode;
use serde_json::Value;

use super::wire::ApiError;
use super::ControlPlane;
use crate::config::json::Fields;
use crate::config::problem::Problem;
use crate::server::configuration::ChangeError;
use crate::server::db::ControlState;
use crate::server::db::{Applied, Change};

/// What a handler gets.
pub struct Ctx<'a> {
    /// Server state.
    pub app: &'a std::sync::Arc<ControlPlane>,
    /// Now, Unix seconds.
    pub now: i64,
}

/// Every action this server answers, in the reference's grouping.
pub const ACTIONS: [&str; 34] = [
    "CreateLiveRecordTemplate",
    "ModifyLiveRecordTemplate",
    "DeleteLiveRecordTemplate",
    "DescribeLiveRecordTemplate",
    "DescribeLiveRecordTemplates",
    "CreateLiveRecordRule",
    "DeleteLiveRecordRule",
    "DescribeLiveRecordRules",
    "CreateRecordTask",
    "StopRecordTask",
    "DeleteRecordTask",
    "DescribeRecordTask",
    "CreateLiveCallbackTemplate",
    "ModifyLiveCallbackTemplate",
    "DeleteLiveCallbackTemplate",
    "DescribeLiveCallbackTemplate",
    "DescribeLiveCallbackTemplates",
    "CreateLiveCallbackRule",
    "DeleteLiveCallbackRule",
    "DescribeLiveCallbackRules",
    "DescribeLivePushAuthKey",
    "ModifyLivePushAuthKey",
    "SearchMedia",
    "DescribeMediaInfos",
    "CreateRecordClip",
    "CreateCommonMixStream",
    "CancelCommonMixStream",
    "DescribeLiveStreamOnlineList",
    "DescribeLiveStreamPushInfoList",
    "DescribeLiveStreamState",
    "DropLiveStream",
    "ForbidLiveStream",
    "ResumeLiveStream",
    "DescribeCallbackRecordsList",
];

/// Runs `action` with `params`.
pub async fn dispatch(ctx: &Ctx<'_>, action: &str, params: &Value) -> Result<Value, ApiError> {
    match action {
        "CreateLiveRecordTemplate" => templates::create(ctx, params).await,
        "ModifyLiveRecordTemplate" => templates::modify(ctx, params).await,
        "DeleteLiveRecordTemplate" => templates::delete(ctx, params).await,
        "DescribeLiveRecordTemplate" => templates::describe(ctx, params).await,
        "DescribeLiveRecordTemplates" => templates::describe_all(ctx, params).await,
        "CreateLiveRecordRule" => rules::create(ctx, params).await,
        "DeleteLiveRecordRule" => rules::delete(ctx, params).await,
        "DescribeLiveRecordRules" => rules::describe_all(ctx, params).await,
        "CreateRecordTask" => tasks::create(ctx, params).await,
        "StopRecordTask" => tasks::stop(ctx, params).await,
        "DeleteRecordTask" => tasks::delete(ctx, params).await,
        "DescribeRecordTask" => tasks::describe(ctx, params).await,
        "CreateLiveCallbackTemplate" => callbacks::create(ctx, params).await,
        "ModifyLiveCallbackTemplate" => callbacks::modify(ctx, params).await,
        "DeleteLiveCallbackTemplate" => callbacks::delete(ctx, params).await,
        "DescribeLiveCallbackTemplate" => callbacks::describe(ctx, params).await,
        "DescribeLiveCallbackTemplates" => callbacks::describe_all(ctx, params).await,
        "CreateLiveCallbackRule" => callbacks::create_rule(ctx, params).await,
        "DeleteLiveCallbackRule" => callbacks::delete_rule(ctx, params).await,
        "DescribeLiveCallbackRules" => callbacks::describe_rules(ctx, params).await,
        "DescribeLivePushAuthKey" => push_auth::describe(ctx, params).await,
        "ModifyLivePushAuthKey" => push_auth::modify(ctx, params).await,
        "SearchMedia" => media::search(ctx, params).await,
        "DescribeMediaInfos" => media::describe(ctx, params).await,
        "CreateRecordClip" => clip::create(ctx, params).await,
        "CreateCommonMixStream" => mix::create(ctx, params).await,
        "CancelCommonMixStream" => mix::cancel(ctx, params).await,
        "DescribeLiveStreamOnlineList" => streams::online_list(ctx, params).await,
        "DescribeLiveStreamPushInfoList" => streams::push_info_list(ctx, params).await,
        "DescribeLiveStreamState" => streams::state(ctx, params).await,
        "DropLiveStream" => streams::drop_stream(ctx, params).await,
        "ForbidLiveStream" => streams::forbid(ctx, params).await,
        "ResumeLiveStream" => streams::resume(ctx, params).await,
        "DescribeCallbackRecordsList" => callback_log::records_list(ctx, params).await,
        other => Err(ApiError::new(
            ErrorCode::InvalidAction,
            format!("{other:?} is not an action of this server (API version 2018-08-01 recording actions)"),
        )),
    }
}

/// Applies a change under the state lock: `f` edits a copy and lists the rows to write;
/// the copy replaces the state only once the database has them (with the ids it gave
/// new templates). Returns `f`'s output and what the database did.
pub async fn mutate<F>(ctx: &Ctx<'_>, f: F) -> Result<(Value, Applied), ApiError>
where
    F: FnMut(&mut ControlState) -> Result<(Value, Vec<Change>), ApiError>,
{
    ctx.app.config.mutate(f).await.map_err(|e| match e {
        ChangeError::Refused(e) => e,
        ChangeError::Stored(e) => ApiError::new(
            ErrorCode::InternalError,
            format!("the change could not be stored: {e}"),
        ),
    })
}

/// Reads parameters with `read`, then reports unknown ones; problems become an error.
pub fn read_params<T>(
    params: &Value,
    read: impl FnOnce(&mut Fields<'_>) -> T,
) -> Result<T, ApiError> {
    let mut problems: Vec<Problem> = Vec::new();
    let value = match Fields::open(params, "", &mut problems) {
        Some(mut fields) => {
            let value = read(&mut fields);
            fields.finish();
            Some(value)
        }
        None => None,
    };
    match value {
        Some(v) if problems.is_empty() => Ok(v),
        _ => Err(ApiError::from_problems(&problems)),
    }
}

/// Reads a required positive id parameter (and nothing else).
pub fn read_id(params: &Value, name: &'static str) -> Result<i64, ApiError> {
    read_params(params, |f| {
        f.required_int_in(name, 1..=crate::config::template::MAX_ID)
            .unwrap_or(0)
    })
}

/// Reads a required string parameter (and nothing else).
pub fn read_text(params: &Value, name: &'static str) -> Result<String, ApiError> {
    read_params(params, |f| {
        f.required_string(name)
            .map(str::to_owned)
            .unwrap_or_default()
    })
}

/// Serialises an output value.
pub fn out<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}
