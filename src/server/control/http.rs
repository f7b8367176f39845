//! The HTTP routes and the API request pipeline: read the body within the limit, decode
//! parameters (JSON or query/form), authenticate, dispatch, answer in the envelope.

use crate::config::problem::ErrorCode;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{Map, Value};

use super::actions::{dispatch, Ctx, ACTIONS};
use super::auth::{verify, SignedParts};
use super::wire::{failure, form_params, respond, success, ApiError, API_VERSION};
use super::ControlPlane;
use crate::server::metrics::RequestLabels;

/// The routes.
pub fn router(app: Arc<ControlPlane>) -> Router {
    Router::new()
        .route("/", get(api).post(api))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/vod/{*path}", get(super::vod::serve_file))
        .route("/live/{*path}", get(super::vod::live_playlist))
        .route("/playback/{*path}", get(super::playback::serve))
        .merge(console())
        .with_state(app)
}

/// The console's routes, their answers gzipped for clients that take it.
fn console() -> Router<Arc<ControlPlane>> {
    Router::new()
        .route("/console", get(super::console::redirect))
        .route("/console/", get(super::console::index))
        .route("/console/{*path}", get(super::console::file))
        .layer(tower_http::compression::CompressionLayer::new())
}

/// `GET /healthz`: 200 when the database and the recordings store answer, else 503;
/// the body names the node and each part's state.
async fn healthz(State(app): State<Arc<ControlPlane>>) -> Response {
    let (db, store) = tokio::join!(app.db.version(), app.storage.reachable());
    let healthy = db.is_ok() && store.is_ok();
    let state = |r: Result<(), String>| r.err().unwrap_or_else(|| "ok".to_owned());
    let body = format!(
        "{}\nnode: {}\ndatabase: {}\nstore: {}\n",
        if healthy { "ok" } else { "unavailable" },
        app.settings.node_id,
        state(db.map(drop).map_err(|e| e.to_string())),
        state(store.map_err(|e| e.to_string())),
    );
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, body).into_response()
}

async fn metrics(State(app): State<Arc<ControlPlane>>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(),
    )
        .into_response()
}

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// What a request carries, decoded.
struct Decoded {
    action: String,
    params: Value,
    body: Vec<u8>,
    query: String,
}

async fn api(
    State(app): State<Arc<ControlPlane>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let (action, result) = match handle(&app, peer, request).await {
        Ok((action, output)) => (action, Ok(output)),
        Err((action, error)) => (action, Err(error)),
    };
    let known = ACTIONS.contains(&action.as_str());
    let labels = RequestLabels {
        action: if known {
            action.clone()
        } else {
            "unknown".into()
        },
        result: result
            .as_ref()
            .map_or_else(|e| e.code.as_str().to_owned(), |_| "ok".into()),
    };
    app.metrics.requests.get_or_create(&labels).inc();
    match result {
        Ok(output) => respond(&success(output, &request_id)),
        Err(error) => {
            tracing::debug!(%action, code = %error.code, message = %error.message, "request refused");
            respond(&failure(&error, &request_id))
        }
    }
}

type Handled = Result<(String, Value), (String, ApiError)>;

async fn handle(app: &Arc<ControlPlane>, peer: SocketAddr, request: Request<Body>) -> Handled {
    let (parts, body) = request.into_parts();
    let limit = app.settings.file.limits.max_body_bytes;
    let action_header = header_text(&parts.headers, "x-tc-action");
    let fail = |e: ApiError| (action_header.clone().unwrap_or_default(), e);
    let body = to_bytes(body, limit).await.map_err(|_| {
        fail(ApiError::new(
            ErrorCode::RequestSizeLimitExceeded,
            format!("the request body exceeds {limit} bytes"),
        ))
    })?;
    let decoded = decode(
        &parts.method,
        parts.uri.query().unwrap_or(""),
        &parts.headers,
        body.to_vec(),
    )
    .map_err(fail)?;
    let action = decoded.action.clone();
    let fail = |e: ApiError| (action.clone(), e);
    authenticate(app, peer, &parts.method, &parts.headers, &decoded).map_err(fail)?;
    let ctx = Ctx { app, now: now_s() };
    let output = dispatch(&ctx, &decoded.action, &decoded.params)
        .await
        .map_err(fail)?;
    Ok((action.clone(), output))
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn decode(
    method: &Method,
    query: &str,
    headers: &HeaderMap,
    body: Vec<u8>,
) -> Result<Decoded, ApiError> {
    let content_type = header_text(headers, "content-type").unwrap_or_default();
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let looks_json = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let is_form = content_type.starts_with("application/x-www-form-urlencoded") && !looks_json;
    let mut json_body = None;
    if *method == Method::POST && is_form {
        pairs.extend(form_urlencoded::parse(&body).into_owned());
    } else if *method == Method::POST && !body.iter().all(u8::is_ascii_whitespace) {
        json_body = Some(json_object(&body)?);
    }
    let (form, common) = form_params(&pairs)?;
    let params = match json_body {
        Some(mut map) => {
            if let Value::Object(extra) = form {
                for (k, v) in extra {
                    map.entry(k).or_insert(v);
                }
            }
            Value::Object(map)
        }
        None => form,
    };
    let common_text = |name: &str| common.get(name).and_then(Value::as_str).map(str::to_owned);
    let action = header_text(headers, "x-tc-action")
        .or_else(|| common_text("Action"))
        .ok_or_else(|| {
            let why = "the action is missing: send X-TC-Action or Action";
            ApiError::new(ErrorCode::MissingParameter, why)
        })?;
    let version = header_text(headers, "x-tc-version").or_else(|| common_text("Version"));
    if let Some(v) = version.filter(|v| v != API_VERSION) {
        let why = format!("version {v:?} is not served; use {API_VERSION}");
        return Err(ApiError::new(ErrorCode::NoSuchVersion, why));
    }
    Ok(Decoded {
        action,
        params: strip_common(params),
        body,
        query: query.to_owned(),
    })
}

/// A JSON request body, which must be an object.
fn json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let invalid = |why: String| ApiError::new(ErrorCode::InvalidParameter, why);
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(invalid("the request body must be a JSON object".into())),
        Err(e) => Err(invalid(format!("the request body is not valid JSON: {e}"))),
    }
}

fn strip_common(params: Value) -> Value {
    match params {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| k != "Region")
                .collect::<Map<_, _>>(),
        ),
        other => other,
    }
}

/// Unsigned mode trusts the local machine, not the web pages its browser shows: requests
/// a browser made for another site (an `Origin` other than this server's own,
/// `Sec-Fetch-Site: cross-site`) and requests naming a non-loopback host (DNS
/// rebinding) are refused. The console's own requests (same origin, loopback host) pass.
fn not_from_a_browser(headers: &HeaderMap) -> Result<(), ApiError> {
    let refuse = |why: &str| {
        Err(ApiError::new(
            ErrorCode::UnauthorizedOperation,
            format!("unsigned requests {why}"),
        ))
    };
    if let Some(origin) = header_text(headers, "origin") {
        if !same_origin(&origin, headers) {
            return refuse("must not come from a web page of another origin (Origin header)");
        }
    }
    if header_text(headers, "sec-fetch-site").is_some_and(|s| s != "none" && s != "same-origin") {
        return refuse("must not come from another site (Sec-Fetch-Site)");
    }
    if !names_loopback_host(headers) {
        return refuse("must name a loopback host (Host header)");
    }
    Ok(())
}

/// Whether `origin` is this server's own (`http://HOST` of the request's `Host`).
fn same_origin(origin: &str, headers: &HeaderMap) -> bool {
    let host = header_text(headers, "host").unwrap_or_default();
    !host.is_empty()
        && ["http://", "https://"]
            .iter()
            .any(|scheme| origin.strip_prefix(scheme) == Some(host.as_str()))
}

/// Whether the `Host` header names this machine (`localhost` or a loopback address):
/// a request a DNS-rebinding page makes names the attacker's host instead.
pub(super) fn names_loopback_host(headers: &HeaderMap) -> bool {
    let host = header_text(headers, "host").unwrap_or_default();
    let name = match host.rsplit_once(':') {
        Some((h, _)) if !h.ends_with(']') && h.contains(':') => host.as_str(),
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host.as_str(),
    };
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn authenticate(
    app: &ControlPlane,
    peer: SocketAddr,
    method: &Method,
    headers: &HeaderMap,
    decoded: &Decoded,
) -> Result<(), ApiError> {
    let credentials = &app.settings.file.credentials;
    let has_authorization = headers.contains_key(header::AUTHORIZATION);
    if credentials.is_empty() {
        if has_authorization {
            return Err(ApiError::new(
                ErrorCode::SecretIdNotFound,
                "this server has no API credentials configured",
            ));
        }
        if !peer.ip().is_loopback() {
            return Err(ApiError::new(
                ErrorCode::UnauthorizedOperation,
                "unsigned requests are accepted from loopback only",
            ));
        }
        return not_from_a_browser(headers);
    }
    if *method != Method::GET && !decoded.query.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidParameter,
            "a signed POST covers its body only: send the parameters in the body, not the query string",
        ));
    }
    if !has_authorization {
        return Err(ApiError::new(
            ErrorCode::InvalidAuthorization,
            "the request is not signed: send an Authorization header (TC3-HMAC-SHA256)",
        ));
    }
    let lookup = |name: &str| header_text(headers, name);
    let parts = SignedParts {
        method: method.as_str(),
        query: if *method == Method::GET {
            &decoded.query
        } else {
            ""
        },
        header: &lookup,
        payload: if *method == Method::GET {
            b""
        } else {
            &decoded.body
        },
    };
    verify(&parts, credentials, now_s())
        .map(|_| ())
        .map_err(|e| ApiError::new(e.code(), e.to_string()))
}
