//! Record tasks (reference §3.9–3.12): stored and validated here; the data plane runs them.

use serde_json::{json, Value};

use super::{mutate, read_text, Ctx};
use crate::config::task_query::{page, validate_task_query};
use crate::server::control::wire::ApiError;
use crate::server::db::Change;

pub async fn create(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    let id = ctx.app.new_task_id();
    let now = ctx.now;
    mutate(ctx, |state| {
        let task = state
            .config
            .create_task(&id, params, now)
            .map_err(|e| ApiError::from_config(&e))?
            .clone();
        Ok((json!({"TaskId": id}), vec![Change::PutTask(task)]))
    })
    .await
    .map(|(output, _)| output)
    .inspect(|_| ctx.app.streams.tasks_changed())
}

pub async fn stop(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    let id = read_text(params, "TaskId")?;
    let now = ctx.now;
    mutate(ctx, |state| {
        let task = state
            .config
            .stop_task(&id, now)
            .map_err(|e| ApiError::from_config(&e))?
            .clone();
        Ok((json!({}), vec![Change::PutTask(task)]))
    })
    .await
    .map(|(output, _)| output)
    .inspect(|_| ctx.app.streams.tasks_changed())
}

pub async fn delete(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    let id = read_text(params, "TaskId")?;
    mutate(ctx, |state| {
        state
            .config
            .delete_task(&id)
            .map_err(|e| ApiError::from_config(&e))?;
        Ok((json!({}), vec![Change::DeleteTask(id.clone())]))
    })
    .await
    .map(|(output, _)| output)
    .inspect(|_| ctx.app.streams.tasks_changed())
}

pub async fn describe(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    let query = validate_task_query(params, ctx.now).map_err(|p| ApiError::from_problems(&p))?;
    let state = ctx.app.config.read();
    let (tasks, token) = page(&state.config.tasks, &query);
    let list: Vec<Value> = tasks
        .iter()
        .map(|t| {
            json!({"TaskId": t.task_id, "DomainName": t.domain_name, "AppName": t.app_name, "StreamName": t.stream_name,
                "StartTime": t.start_time, "EndTime": t.end_time, "TemplateId": t.template_id, "Stopped": t.stopped})
        })
        .collect();
    Ok(json!({"ScrollToken": token, "TaskList": list}))
}
