//! Push authentication keys per domain (reference §3.14, §6). liverec has no domain
//! registry: a domain never configured is described with authentication off.

use crate::config::problem::ErrorCode;
use serde_json::{json, Value};

use super::{mutate, read_text, Ctx};
use crate::config::push_auth::{modify_push_auth_key, PushAuthKey};
use crate::config::rule::is_valid_domain;
use crate::server::control::wire::ApiError;
use crate::server::db::Change;

fn checked_domain(domain: String) -> Result<String, ApiError> {
    if is_valid_domain(&domain) {
        Ok(domain)
    } else {
        Err(ApiError::new(
            ErrorCode::DomainFormatError,
            format!("DomainName {domain:?} is not a valid domain name"),
        ))
    }
}

pub async fn describe(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    let domain = checked_domain(read_text(params, "DomainName")?)?;
    let state = ctx.app.config.read();
    let info = state
        .push_auth
        .get(&domain.to_ascii_lowercase())
        .cloned()
        .unwrap_or(PushAuthKey {
            domain_name: domain,
            ..PushAuthKey::default()
        });
    Ok(json!({"PushAuthKeyInfo": info}))
}

pub async fn modify(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    let domain = params
        .get("DomainName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if !domain.is_empty() {
        checked_domain(domain.clone())?;
    }
    mutate(ctx, |state| {
        let key = domain.to_ascii_lowercase();
        let current = state.push_auth.get(&key).cloned().unwrap_or(PushAuthKey {
            domain_name: domain.clone(),
            ..PushAuthKey::default()
        });
        let next =
            modify_push_auth_key(&current, params).map_err(|p| ApiError::from_problems(&p))?;
        state.push_auth.insert(key, next.clone());
        Ok((json!({}), vec![Change::PutPushAuthKey(next)]))
    })
    .await
    .map(|(output, _)| output)
}
