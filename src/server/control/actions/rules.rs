//! Recording rules (reference §3.6–3.8).

use serde_json::{json, Value};

use super::{mutate, read_params, Ctx};
use crate::config::rule::{read_key, KeyParts};
use crate::server::control::wire::ApiError;
use crate::server::db::Change;

pub async fn create(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    let now = ctx.now;
    mutate(ctx, |state| {
        let rule = state
            .config
            .create_rule(params, now)
            .map_err(|e| ApiError::from_config(&e))?
            .clone();
        Ok((json!({}), vec![Change::PutRecordRule(rule)]))
    })
    .await
    .map(|(output, _)| output)
}

pub async fn delete(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    let key = read_params(params, |f| read_key(f, KeyParts::DomainOnly))?;
    mutate(ctx, |state| {
        let removed = state
            .config
            .delete_rule(&key)
            .map_err(|e| ApiError::from_config(&e))?;
        Ok((json!({}), vec![Change::DeleteRecordRule(removed)]))
    })
    .await
    .map(|(output, _)| output)
}

pub async fn describe_all(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    read_params(params, |_| ())?;
    let state = ctx.app.config.read();
    Ok(json!({"Rules": state.config.rules}))
}
