//! The GraphQL endpoints: `POST /graphql`, `/graphql/ws` and GraphiQL at `GET /`.
//!
//! A request is, in order: authenticated (a bad token is refused outright, no token is an
//! anonymous caller), rate-limited (by subject, or by client address when anonymous or
//! refused), read up to the body limit, parsed as one JSON GraphQL request (batches and
//! multipart uploads are not accepted), then executed with the principal in the request data.

use async_graphql::Data;
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, GraphiQLSource};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::body::Body;
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use futures_util::StreamExt as _;

use lvyue_domain::access::RecordAccess;
use lvyue_domain::ids::OrderId;
use lvyue_domain::principal::{Principal, Role};

use super::rate_limit::RateKey;
use super::{AppState, ClientAddr};
use crate::auth::{AuthError, Authenticator};
use crate::error::{self, ErrorCode};
use crate::graphql::loaders::Loaders;

pub(super) async fn graphiql() -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .title("Lvyue GraphQL")
            .finish(),
    )
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
    let operation = request
        .operation_name
        .clone()
        .or_else(|| operation_name(&request.query));
    let request = request.data(Loaders::new(&state.escrow));
    let request = match &principal {
        Some(p) => request.data(p.clone()),
        None => request,
    };
    let response = state.schema.execute(request).await;
    if let Some(p) = principal
        .as_ref()
        .filter(|p| matches!(p.role, Role::Regulator | Role::Court))
    {
        // Every read by a regulator or a court is on the record before it is answered.
        if let Err(e) = record_access(&state, p, operation.as_deref(), &response).await {
            tracing::error!(error = ?e, "could not record a supervised read; withholding the answer");
            return refuse(
                &state,
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::Internal,
                error::INTERNAL_MESSAGE,
            );
        }
    }
    axum::Json(response).into_response()
}

/// The name of the first operation in a query document (`query ListOrders { … }`), when the
/// client did not send `operationName`.
fn operation_name(query: &str) -> Option<String> {
    let mut words = query
        .trim_start()
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty());
    match words.next()? {
        "query" | "mutation" | "subscription" => words.next().map(str::to_owned),
        _ => None,
    }
}

/// Most objects named in one access record.
const MAX_ACCESS_OBJECTS: usize = 200;

/// Records which objects a regulator's or court's request returned (the ids in the answer).
async fn record_access(
    state: &AppState,
    p: &Principal,
    operation: Option<&str>,
    response: &async_graphql::Response,
) -> Result<(), lvyue_domain::DomainError> {
    let data = response.data.clone().into_json().unwrap_or_default();
    let Some(top) = data.as_object().filter(|o| !o.is_empty()) else {
        return Ok(());
    };
    let mut ids = Vec::new();
    collect_ids(&data, &mut ids);
    let orders = ids
        .iter()
        .filter_map(|i| i.parse::<OrderId>().ok())
        .take(MAX_ACCESS_OBJECTS)
        .collect::<Vec<_>>();
    let mut objects: Vec<String> = top.keys().map(|k| format!("field {k}")).collect();
    objects.extend(ids);
    objects.truncate(MAX_ACCESS_OBJECTS);
    let cmd = RecordAccess {
        operation: operation.unwrap_or("graphql").chars().take(200).collect(),
        objects,
        case_no: None,
        orders,
        merchant: None,
    };
    state.escrow.execute(p, None, &cmd).await.map(|_| ())
}

/// Ids of objects in an answer (`"id": "ord_12"`), depth first, without repeats.
fn collect_ids(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::String(id)) = map.get("id")
                && !out.contains(id)
                && out.len() < MAX_ACCESS_OBJECTS
            {
                out.push(id.clone());
            }
            map.values().for_each(|x| collect_ids(x, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|x| collect_ids(x, out)),
        _ => {}
    }
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

pub(super) async fn graphql_ws(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<ClientAddr>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    // The token arrives later, in connection_init: the upgrade itself is limited by address.
    if let Err(retry_after) = state.rate_limiter.check(&RateKey::address(client.0.ip())) {
        return rate_limited(&state, retry_after);
    }
    let limit = state.config.limits.max_body_bytes;
    let schema = state.schema.clone();
    let auth = state.auth.clone();
    let escrow = state.escrow.clone();
    let stop = state.shutdown.clone();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| async move {
            let session = GraphQLWebSocket::new(socket, schema, protocol)
                .on_connection_init(move |payload| async move {
                    connection_init(&auth, &payload).map(|mut data| {
                        data.insert(Loaders::new(&escrow));
                        data
                    })
                })
                .serve();
            tokio::select! {
                () = session => {}
                // Sessions are long-lived: they end with the server instead of holding shutdown up.
                () = stop.stopped() => {}
            }
        })
}

/// Reads `{"Authorization": "Bearer …"}` from the `connection_init` payload. A bad token closes
/// the connection; no token makes an anonymous session (public subscriptions only).
fn connection_init(
    auth: &Authenticator,
    payload: &serde_json::Value,
) -> async_graphql::Result<Data> {
    let header = match payload
        .get("Authorization")
        .or_else(|| payload.get("authorization"))
    {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s.as_str()),
        Some(_) => {
            return Err(error::unauthenticated(
                "Authorization must be a string `Bearer <token>`",
            ));
        }
    };
    let mut data = Data::default();
    match auth.authenticate_header(header) {
        Ok(Some(p)) => data.insert::<Principal>(p),
        Ok(None) => {}
        Err(e) => return Err(error::unauthenticated(e.to_string())),
    }
    Ok(data)
}
