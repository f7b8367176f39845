//! Live streams (reference §3.14): which pushes are live and what they carry, a stream's
//! state, and ending or forbidding a push — what a console needs beside recording.
//!
//! Where liverec differs on purpose:
//! - `DescribeLiveStreamOnlineList` and `DescribeLiveStreamPushInfoList` list the pushes
//!   of the node asked (each node of a cluster lists its own); `DescribeLiveStreamState`
//!   sees every node sharing the database (by the stream's lease).
//! - `DropLiveStream` of a stream pushed to another node is refused
//!   (`UnsupportedOperation`: ask that node); of a stream not live, it succeeds.
//! - A forbid matches the exact `domain/app/stream` ([`crate::config::forbid`]) and
//!   reaches every node with the configuration.
//! - `PushDataInfo` rates are measured over the last seconds ([`RATE_WINDOW_MS`]); the
//!   `Meta*` fields are 0 (liverec does not read `onMetaData`). Beside the reference's
//!   fields each entry carries `Protocol` and `RecordFormats` (the formats recorded now).
//!
//! [`RATE_WINDOW_MS`]: crate::server::data::presence::RATE_WINDOW_MS

use serde_json::{json, Value};

use super::{mutate, read_params, Ctx};
use crate::config::forbid::{read_forbid, read_stream_name, StreamName};
use crate::config::problem::ErrorCode;
use crate::formats::hls::datetime::encode_date_time;
use crate::server::control::wire::ApiError;
use crate::server::db::Change;
use crate::server::streams::LivePush;

/// A page of `items`: (total, pages, the page's items).
fn page<T>(items: Vec<T>, num: i64, size: i64) -> (usize, i64, Vec<T>) {
    let total = items.len();
    let pages = (total as i64 + size - 1) / size;
    let skip = usize::try_from((num - 1).saturating_mul(size)).unwrap_or(usize::MAX);
    let take = usize::try_from(size).unwrap_or(usize::MAX);
    (
        total,
        pages,
        items.into_iter().skip(skip).take(take).collect(),
    )
}

/// `2018-06-29T19:00:00Z`, the reference's format for push times.
fn utc(ms: i64) -> String {
    let text = encode_date_time(ms.div_euclid(1000) * 1000);
    text.replace(".000Z", "Z")
}

/// The live pushes whose domain, app and stream are the ones given (absent or empty:
/// any).
fn live_pushes(ctx: &Ctx<'_>, [domain, app, stream]: [Option<String>; 3]) -> Vec<LivePush> {
    let wanted = |filter: &Option<String>, value: &str| {
        filter.as_deref().is_none_or(|f| f.is_empty() || f == value)
    };
    let pushes = ctx.app.streams.pushes().into_iter();
    pushes
        .filter(|p| {
            wanted(&domain, &p.domain) && wanted(&app, &p.app) && wanted(&stream, &p.stream)
        })
        .collect()
}

pub async fn online_list(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    let (domain, app, stream, num, size) = read_params(params, |f| {
        (
            f.string("DomainName").map(str::to_ascii_lowercase),
            f.string("AppName").map(str::to_owned),
            f.string("StreamName").map(str::to_owned),
            f.int_in("PageNum", 1..=i64::from(u32::MAX)).unwrap_or(1),
            f.int_in("PageSize", 10..=300_000).unwrap_or(10),
        )
    })?;
    let pushes = live_pushes(ctx, [domain, app, stream]);
    let (total, pages, pushes) = page(pushes, num, size);
    let online: Vec<Value> = pushes
        .iter()
        .map(|p| {
            json!({
                "StreamName": p.stream,
                "AppName": p.app,
                "DomainName": p.domain,
                "PublishTimeList": [{"PublishTime": utc(p.begin_ms)}],
                "PushToDelay": 0,
            })
        })
        .collect();
    Ok(json!({
        "TotalNum": total, "TotalPage": pages, "PageNum": num, "PageSize": size,
        "OnlineInfo": online,
    }))
}

pub async fn push_info_list(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    let (domain, app, num, size) = read_params(params, |f| {
        (
            f.string("PushDomain").map(str::to_ascii_lowercase),
            f.string("AppName").map(str::to_owned),
            f.int_in("PageNum", 1..=10_000).unwrap_or(1),
            f.int_in("PageSize", 1..=100_000).unwrap_or(200),
        )
    })?;
    let pushes = live_pushes(ctx, [domain, app, None]);
    let (total, pages, pushes) = page(pushes, num, size);
    let list: Vec<Value> = pushes.iter().map(push_data_info).collect();
    Ok(json!({
        "DataInfoList": list, "TotalNum": total, "TotalPage": pages, "PageNum": num,
        "PageSize": size,
    }))
}

/// One `PushDataInfo`.
fn push_data_info(p: &LivePush) -> Value {
    let upper = |c: &Option<String>| c.as_deref().unwrap_or("").to_ascii_uppercase();
    let resolution = p
        .dimensions
        .map_or(String::new(), |(w, h)| format!("{w}*{h}"));
    json!({
        "StreamName": p.stream,
        "AppName": p.app,
        "ClientIp": p.client.ip().to_string(),
        "ServerIp": p.server.ip().to_string(),
        "VideoFps": p.video_fps.round() as i64,
        "VideoSpeed": p.video_bps,
        "AudioFps": p.audio_fps.round() as i64,
        "AudioSpeed": p.audio_bps,
        "PushDomain": p.domain,
        "BeginPushTime": utc(p.begin_ms),
        "Acodec": upper(&p.audio_codec),
        "Vcodec": upper(&p.video_codec),
        "Resolution": resolution,
        "AsampleRate": p.sample_rate,
        "MetaAudioSpeed": 0,
        "MetaVideoSpeed": 0,
        "MetaFps": 0,
        "Protocol": p.protocol,
        "RecordFormats": p.recording,
    })
}

fn stream_name(params: &Value) -> Result<StreamName, ApiError> {
    read_params(params, read_stream_name)
}

pub async fn state(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    let name = stream_name(params)?;
    let key = name.key();
    let forbidden =
        (ctx.app.config.read().forbidden.get(&key)).is_some_and(|f| f.active_at(ctx.now));
    let state = if forbidden {
        "forbid"
    } else if ctx.app.streams.is_active(&key).await {
        "active"
    } else {
        "inactive"
    };
    Ok(json!({"StreamState": state}))
}

pub async fn drop_stream(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    let key = stream_name(params)?.key();
    if !ctx.app.streams.drop_push(&key, "DropLiveStream") && ctx.app.streams.is_active(&key).await {
        return Err(ApiError::new(
            ErrorCode::UnsupportedOperation,
            format!("{key} is pushed to another node: send DropLiveStream to that node"),
        ));
    }
    Ok(json!({}))
}

pub async fn forbid(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    let now = ctx.now;
    let forbidden = read_params(params, |f| read_forbid(f, now))?;
    let key = forbidden.key();
    mutate(ctx, |state| {
        state.forbidden.insert(key.clone(), forbidden.clone());
        Ok((json!({}), vec![Change::PutForbidden(forbidden.clone())]))
    })
    .await?;
    ctx.app.streams.drop_push(&key, "ForbidLiveStream");
    Ok(json!({}))
}

pub async fn resume(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    let key = stream_name(params)?.key();
    mutate(ctx, |state| match state.forbidden.remove(&key) {
        Some(_) => Ok((json!({}), vec![Change::DeleteForbidden(key.clone())])),
        None => Ok((json!({}), Vec::new())),
    })
    .await?;
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_times() {
        let (total, pages, items) = page((0..25).collect(), 3, 10);
        assert_eq!((total, pages, items), (25, 3, vec![20, 21, 22, 23, 24]));
        assert_eq!(
            page((0..25).collect::<Vec<i32>>(), 4, 10).2,
            Vec::<i32>::new()
        );
        assert_eq!(page(Vec::<i32>::new(), 1, 10).1, 0);
        assert_eq!(utc(1_530_298_800_123), "2018-06-29T19:00:00Z");
    }
}
