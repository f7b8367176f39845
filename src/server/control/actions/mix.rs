//! Stream mixing (reference §7): `CreateCommonMixStream` stores a session (a second
//! create with the same id changes its layout; its output stream may not change) and
//! `CancelCommonMixStream` removes it; the data plane's mix supervisor follows the
//! stored sessions ([`crate::server::data::mix`]).
//!
//! Beyond the body's own checks ([`validate_mix_stream`]): a create with one input
//! cancels the session, as the reference's `AllowCopy` describes (unless `AllowCopy`
//! with a new output stream); a new output stream (`OutputStreamType` 1) must not be
//! live nor another session's output (`FailedOperation.ProcessMixError`); at most
//! `[mix] max_sessions` sessions (`LimitExceeded`).

use serde_json::{json, Value};

use super::{mutate, Ctx};
use crate::config::mix::{validate_cancel_mix, validate_mix_stream, MixSession};
use crate::config::problem::ErrorCode;
use crate::server::control::wire::ApiError;
use crate::server::db::{Change, ControlState};

pub async fn create(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    let session = validate_mix_stream(params).map_err(|p| ApiError::from_problems(&p))?;
    if session.is_cancel() {
        return remove(ctx, &session.mix_stream_session_id, false).await;
    }
    let output = &session.output_params;
    let live_output =
        !output.replaces_input() && ctx.app.streams.is_live_name(&output.output_stream_name);
    let limit = ctx.app.settings.file.mix.session_limit();
    mutate(ctx, |state| {
        check_create(state, &session, live_output, limit)?;
        let id = session.mix_stream_session_id.clone();
        state.mixes.insert(id, session.clone());
        Ok((
            json!({}),
            vec![Change::PutMixSession(Box::new(session.clone()))],
        ))
    })
    .await?;
    // A stream the output replaces stops recording now (its pushes re-plan).
    ctx.app.streams.tasks_changed();
    Ok(json!({}))
}

fn check_create(
    state: &ControlState,
    session: &MixSession,
    live_output: bool,
    limit: usize,
) -> Result<(), ApiError> {
    let id = &session.mix_stream_session_id;
    let output = &session.output_params;
    if let Some(existing) = state.mixes.get(id) {
        let before = &existing.output_params;
        if before.output_stream_name != output.output_stream_name
            || before.output_stream_type != output.output_stream_type
        {
            return Err(ApiError::new(
                ErrorCode::SessionOutputStreamChanged,
                format!("mix session {id:?} outputs {:?}: a session's output stream cannot change (cancel it first)", before.output_stream_name),
            ));
        }
        return Ok(());
    }
    if state.mixes.len() >= limit {
        return Err(ApiError::new(
            ErrorCode::LimitExceeded,
            format!("{limit} mix sessions run already ([mix] max_sessions)"),
        ));
    }
    let name = &output.output_stream_name;
    if let Some(other) = state
        .mixes
        .values()
        .find(|m| &m.output_params.output_stream_name == name)
    {
        return Err(ApiError::new(
            ErrorCode::ProcessMixError,
            format!(
                "stream {name:?} is the output of mix session {:?} already",
                other.mix_stream_session_id
            ),
        ));
    }
    if live_output {
        return Err(ApiError::new(
            ErrorCode::ProcessMixError,
            format!(
                "stream {name:?} is live: a new output stream (OutputStreamType 1) must not be"
            ),
        ));
    }
    Ok(())
}

pub async fn cancel(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    let id = validate_cancel_mix(params).map_err(|p| ApiError::from_problems(&p))?;
    let output = remove(ctx, &id, true).await?;
    // A stream the output replaced records by its rule again.
    ctx.app.streams.tasks_changed();
    Ok(output)
}

/// Removes session `id`; an unknown one is an error only when `must_exist`.
async fn remove(ctx: &Ctx<'_>, id: &str, must_exist: bool) -> Result<Value, ApiError> {
    mutate(ctx, |state| {
        if state.mixes.remove(id).is_none() {
            if must_exist {
                return Err(ApiError::new(
                    ErrorCode::CancelSessionNotExist,
                    format!("no mix session {id:?}"),
                ));
            }
            return Ok((json!({}), Vec::new()));
        }
        Ok((json!({}), vec![Change::DeleteMixSession(id.to_owned())]))
    })
    .await
    .map(|(output, _)| output)
}
