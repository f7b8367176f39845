//! Callback templates and rules (reference §3.14). Modify is a partial update like the
//! recording templates'.

use crate::config::problem::ErrorCode;
use serde_json::{json, Value};

use super::templates::template_id_of;
use super::{mutate, out, read_id, read_params, Ctx};
use crate::config::callback::validate_callback_template;
use crate::config::modify::merge;
use crate::config::wall_time::beijing_datetime;
use crate::server::control::wire::ApiError;
use crate::server::db::{Change, PENDING_ID};

fn not_found(id: i64) -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        format!("callback template {id} does not exist"),
    )
}

pub async fn create(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    let (_, applied) = mutate(ctx, |state| {
        let template = state
            .callbacks
            .create_template(PENDING_ID, params)
            .map_err(|e| ApiError::from_config(&e))?
            .clone();
        Ok((
            Value::Null,
            vec![Change::NewCallbackTemplate(Box::new(template))],
        ))
    })
    .await?;
    Ok(json!({"TemplateId": applied.ids.first()}))
}

pub async fn modify(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    let id = template_id_of(params)?;
    mutate(ctx, |state| {
        let existing = state.callbacks.template(id).ok_or_else(|| not_found(id))?;
        let mut merged = out(existing);
        merge(&mut merged, params);
        let template =
            validate_callback_template(&merged, true).map_err(|p| ApiError::from_problems(&p))?;
        state
            .callbacks
            .replace_template(template.clone())
            .map_err(|e| ApiError::from_config(&e))?;
        Ok((
            json!({}),
            vec![Change::PutCallbackTemplate(Box::new(template))],
        ))
    })
    .await
    .map(|(output, _)| output)
}

pub async fn delete(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    let id = read_id(params, "TemplateId")?;
    mutate(ctx, |state| {
        state
            .callbacks
            .delete_template(id)
            .map_err(|e| ApiError::from_config(&e))?;
        Ok((json!({}), vec![Change::DeleteCallbackTemplate(id)]))
    })
    .await
    .map(|(output, _)| output)
}

pub async fn describe(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    let id = read_id(params, "TemplateId")?;
    let state = ctx.app.config.read();
    let template = state.callbacks.template(id).ok_or_else(|| not_found(id))?;
    Ok(json!({"Template": template}))
}

pub async fn describe_all(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    read_params(params, |_| ())?;
    let state = ctx.app.config.read();
    Ok(json!({"Templates": state.callbacks.templates}))
}

/// `2022-05-16T10:59:38+08:00`, the reference examples' format for callback rules.
fn iso_beijing(now: i64) -> String {
    beijing_datetime(now)
        .map(|t| format!("{}+08:00", t.replace(' ', "T")))
        .unwrap_or_default()
}

pub async fn create_rule(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    let stamp = iso_beijing(ctx.now);
    mutate(ctx, |state| {
        let rule = state
            .callbacks
            .create_rule(params, &stamp)
            .map_err(|e| ApiError::from_config(&e))?
            .clone();
        Ok((json!({}), vec![Change::PutCallbackRule(rule)]))
    })
    .await
    .map(|(output, _)| output)
}

pub async fn delete_rule(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    let (domain, app) = read_params(params, |f| {
        let domain = f
            .required_string("DomainName")
            .unwrap_or_default()
            .to_owned();
        let app = f.required_string("AppName").unwrap_or_default().to_owned();
        (domain, app)
    })?;
    mutate(ctx, |state| {
        let removed = state
            .callbacks
            .delete_rule(&domain, &app)
            .map_err(|e| ApiError::from_config(&e))?;
        Ok((json!({}), vec![Change::DeleteCallbackRule(removed)]))
    })
    .await
    .map(|(output, _)| output)
}

pub async fn describe_rules(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    read_params(params, |_| ())?;
    let state = ctx.app.config.read();
    Ok(json!({"Rules": state.callbacks.rules}))
}
