//! Recording templates (reference §3.1–3.5). Modify is a field-by-field partial update
//! ([`crate::config::modify`]).

use crate::config::problem::ErrorCode;
use serde_json::{json, Value};

use super::{mutate, out, read_id, read_params, Ctx};
use crate::config::modify::merge;
use crate::config::template::{validate_template, TemplateIdField};
use crate::server::control::wire::ApiError;
use crate::server::db::{Change, PENDING_ID};

pub async fn create(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    let (_, applied) = mutate(ctx, |state| {
        let template = state
            .config
            .create_template(PENDING_ID, params)
            .map_err(|e| ApiError::from_config(&e))?
            .clone();
        Ok((
            Value::Null,
            vec![Change::NewRecordTemplate(Box::new(template))],
        ))
    })
    .await?;
    Ok(json!({"TemplateId": applied.ids.first()}))
}

fn not_found(id: i64) -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        format!("recording template {id} does not exist"),
    )
}

pub async fn modify(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    let id = template_id_of(params)?;
    for forbidden in ["IsDelayLive", "CosStore"] {
        if params.get(forbidden).is_some() {
            return Err(ApiError::new(
                ErrorCode::UnknownParameter,
                format!("{forbidden} cannot be changed by ModifyLiveRecordTemplate"),
            ));
        }
    }
    mutate(ctx, |state| {
        let existing = state.config.template(id).ok_or_else(|| not_found(id))?;
        let mut merged = out(existing);
        merge(&mut merged, params);
        let validation = validate_template(&merged, TemplateIdField::Allowed);
        if !validation.ok {
            return Err(ApiError::from_problems(&validation.errors));
        }
        let template = validation.template;
        if let Some(slot) = state
            .config
            .templates
            .iter_mut()
            .find(|t| t.template_id == Some(id))
        {
            *slot = template.clone();
        }
        Ok((
            json!({}),
            vec![Change::PutRecordTemplate(Box::new(template))],
        ))
    })
    .await
    .map(|(output, _)| output)
}

pub async fn delete(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    let id = read_id(params, "TemplateId")?;
    mutate(ctx, |state| {
        state
            .config
            .delete_template(id)
            .map_err(|e| ApiError::from_config(&e))?;
        Ok((json!({}), vec![Change::DeleteRecordTemplate(id)]))
    })
    .await
    .map(|(output, _)| output)
}

pub async fn describe(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    let id = read_id(params, "TemplateId")?;
    let state = ctx.app.config.read();
    let template = state.config.template(id).ok_or_else(|| not_found(id))?;
    Ok(json!({"Template": template}))
}

pub async fn describe_all(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    let delay = read_params(params, |f| f.int_in("IsDelayLive", 0..=1).unwrap_or(0))?;
    let state = ctx.app.config.read();
    let templates: Vec<Value> = state
        .config
        .templates
        .iter()
        .filter(|t| t.is_delay_live == delay)
        .map(out)
        .collect();
    Ok(json!({"Templates": templates}))
}

/// The required `TemplateId` of a Modify body (the other fields are checked after the merge).
pub fn template_id_of(params: &Value) -> Result<i64, ApiError> {
    let only_id = json!({"TemplateId": params.get("TemplateId").cloned().unwrap_or(Value::Null)});
    read_params(&only_id, |f| {
        f.required_int_in("TemplateId", 1..=crate::config::template::MAX_ID)
            .unwrap_or(0)
    })
}
