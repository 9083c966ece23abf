//! The GraphQL endpoint `POST /graphql` (`/graphql/ws` is [`super::ws`], the console at `/`
//! [`super::console`]).
//!
//! A request is, in order: authenticated (a bad token is refused outright, no token is an
//! anonymous caller), rate-limited (by subject, or by client address when anonymous or
//! refused), read up to the body limit, parsed as one JSON GraphQL request (batches and
//! multipart uploads are not accepted), then executed with the principal in the request data.

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;

use super::access::{answer, supervised};
use super::{AppState, ClientAddr};
use crate::auth::AuthError;
use crate::error::{self, ErrorCode};
use crate::graphql::loaders::Loaders;
use crate::rate_limit::RateKey;

/// The request as `principal` may make it: with the console off (production), the schema is
/// introspected only by authenticated callers.
pub(super) fn as_caller(
    state: &AppState,
    principal: Option<&lvyue_domain::principal::Principal>,
    request: async_graphql::Request,
) -> async_graphql::Request {
    if principal.is_none() && state.config.graphiql == crate::config::Console::Off {
        request.disable_introspection()
    } else {
        request
    }
}

/// The `Authorization` header as text (`None` when absent).
pub(super) fn authorization(headers: &HeaderMap) -> Result<Option<&str>, AuthError> {
    match headers.get(header::AUTHORIZATION) {
        None => Ok(None),
        Some(v) => v.to_str().map(Some).map_err(|_| AuthError::MalformedHeader),
    }
}

/// Answers a request refused before execution (and counts the error).
pub(super) fn refuse(
    state: &AppState,
    status: StatusCode,
    code: ErrorCode,
    message: &str,
) -> Response {
    state.metrics.graphql_error(code.as_str());
    error::http_error(status, code, message)
}

/// A domain refusal before the request ran: the registration did not honour the token (401),
/// or the lookup failed (500, logged, nothing leaked).
pub(super) fn refuse_domain(state: &AppState, e: &lvyue_domain::DomainError) -> Response {
    match e.code() {
        ErrorCode::Unauthenticated => refuse(
            state,
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            &e.to_string(),
        ),
        _ => {
            tracing::error!(error = ?e, "could not read the caller's registration");
            refuse(
                state,
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::Internal,
                error::INTERNAL_MESSAGE,
            )
        }
    }
}

pub(super) fn rate_limited(state: &AppState, retry_after: std::time::Duration) -> Response {
    let mut r = refuse(
        state,
        StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::LimitExceeded,
        "too many requests; slow down",
    );
    if let Ok(v) = HeaderValue::from_str(&retry_after.as_secs().max(1).to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

fn too_large(state: &AppState, limit: usize) -> Response {
    let message = format!("request body is larger than {limit} bytes");
    refuse(
        state,
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::LimitExceeded,
        &message,
    )
}

pub(super) async fn graphql(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<ClientAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let principal = authorization(&headers).and_then(|h| state.auth.authenticate_header(h));
    let key = match &principal {
        Ok(Some(p)) => RateKey::subject(&p.subject),
        // Anonymous and refused callers are limited by address.
        _ => RateKey::address(client.0.ip()),
    };
    if let Err(retry_after) = state.rate_limiter.check(&key) {
        return rate_limited(&state, retry_after);
    }
    let principal = match principal {
        Ok(p) => p,
        Err(e) => {
            return refuse(
                &state,
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthenticated,
                &e.to_string(),
            );
        }
    };
    let principal = match crate::auth::registered(&state.escrow, principal).await {
        Ok(p) => p,
        Err(e) => return refuse_domain(&state, &e),
    };

    let limit = state.config.limits.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large(&state, limit);
    }
    let bytes = match read_body(body, limit).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => return too_large(&state, limit),
        Err(BodyError::Broken) => {
            return refuse(
                &state,
                StatusCode::BAD_REQUEST,
                ErrorCode::Validation,
                "request body could not be read",
            );
        }
    };
    let request: async_graphql::Request = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(e) => {
            let message = format!(
                "request body is not a GraphQL request in JSON ({})",
                describe_json_error(&e)
            );
            return refuse(
                &state,
                StatusCode::BAD_REQUEST,
                ErrorCode::Validation,
                &message,
            );
        }
    };
    let request = as_caller(&state, principal.as_ref(), request).data(Loaders::new(&state.escrow));
    let request = match &principal {
        Some(p) => request.data(p.clone()),
        None => request,
    };
    let response = match principal.as_ref().filter(|p| supervised(p)) {
        // Every read by a regulator or a court is on the record before it is answered.
        Some(p) => match answer(&state, p, request).await {
            Ok(r) => r,
            Err(w) => {
                let status = if w.code == ErrorCode::LimitExceeded {
                    StatusCode::UNPROCESSABLE_ENTITY
                } else {
                    StatusCode::INTERNAL_SERVER_ERROR
                };
                return refuse(&state, status, w.code, &w.message);
            }
        },
        None => state.schema.execute(request).await,
    };
    axum::Json(response).into_response()
}

/// What is wrong with a request body, without echoing any of it.
fn describe_json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Io => "unreadable",
        Category::Syntax => "malformed JSON",
        Category::Data => "not an object with a `query` string",
        Category::Eof => "truncated JSON",
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

enum BodyError {
    TooLarge,
    Broken,
}

/// Reads at most `limit` bytes of body, refusing as soon as the limit is passed.
async fn read_body(body: Body, limit: usize) -> Result<Vec<u8>, BodyError> {
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| BodyError::Broken)?;
        if buf.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}
