//! GraphQL over WebSocket (`/graphql/ws`, graphql-transport-ws and graphql-ws): the same rules
//! as `POST /graphql`. The token arrives in `connection_init` and is honoured only as the
//! party's registration allows; then every operation started on the socket (a query, a
//! mutation, a subscription) is rate-limited like an HTTP request of the same caller, and
//! every answer to a regulator or a court — each subscription event too — is recorded before
//! it is sent.

use std::sync::{Arc, OnceLock};

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::{Data, Executor, Request, Response};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::response::Response as HttpResponse;
use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;

use lvyue_domain::Escrow;
use lvyue_domain::principal::Principal;

use super::access::{Withheld, label, recorded, supervised};
use super::graphql::rate_limited;
use super::{AppState, ClientAddr};
use crate::auth::Authenticator;
use crate::error::{self, ErrorCode};
use crate::graphql::loaders::Loaders;
use crate::graphql::trail::{self, Trail};
use crate::rate_limit::RateKey;

pub(super) async fn graphql_ws(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<ClientAddr>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> HttpResponse {
    // The token arrives later, in connection_init: the upgrade itself is limited by address.
    if let Err(retry_after) = state.rate_limiter.check(&RateKey::address(client.0.ip())) {
        return rate_limited(&state, retry_after);
    }
    let limit = state.config.limits.max_body_bytes;
    let caller: Arc<OnceLock<Option<Principal>>> = Arc::new(OnceLock::new());
    let session = Session {
        state: state.clone(),
        caller: caller.clone(),
        address: RateKey::address(client.0.ip()),
    };
    let auth = state.auth.clone();
    let escrow = state.escrow.clone();
    let stop = state.shutdown.clone();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| async move {
            let session = GraphQLWebSocket::new(socket, session, protocol)
                .on_connection_init(move |payload| async move {
                    let (mut data, principal) = connection_init(&auth, &escrow, &payload).await?;
                    // Set once per socket: a second connection_init is refused by the protocol.
                    let _ = caller.set(principal);
                    data.insert(Loaders::new(&escrow));
                    Ok(data)
                })
                .serve();
            tokio::select! {
                () = session => {}
                // Sessions are long-lived: they end with the server instead of holding shutdown up.
                () = stop.stopped() => {}
            }
        })
}

/// Reads `{"Authorization": "Bearer …"}` from the `connection_init` payload. A bad token, or one
/// the registration does not honour, closes the connection; no token makes an anonymous
/// session (public fields only).
async fn connection_init(
    auth: &Authenticator,
    escrow: &Escrow,
    payload: &serde_json::Value,
) -> async_graphql::Result<(Data, Option<Principal>)> {
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
    let principal = auth
        .authenticate_header(header)
        .map_err(|e| error::unauthenticated(e.to_string()))?;
    let principal = crate::auth::registered(escrow, principal)
        .await
        .map_err(error::from_domain)?;
    if let Some(p) = &principal {
        data.insert::<Principal>(p.clone());
    }
    Ok((data, principal))
}

/// The schema as one socket's caller reaches it.
#[derive(Clone)]
struct Session {
    state: AppState,
    /// The caller named in connection_init (`None`: anonymous).
    caller: Arc<OnceLock<Option<Principal>>>,
    address: RateKey,
}

impl Session {
    fn principal(&self) -> Option<Principal> {
        self.caller.get().cloned().flatten()
    }
}

impl Executor for Session {
    async fn execute(&self, request: Request) -> Response {
        let mut stream = self.execute_stream(request, None);
        match stream.next().await {
            Some(r) => r,
            None => Response::from_errors(vec![error::server_error(
                ErrorCode::Internal,
                error::INTERNAL_MESSAGE,
            )]),
        }
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let principal = self.principal();
        let key = match &principal {
            Some(p) => RateKey::subject(&p.subject),
            None => self.address.clone(),
        };
        if self.state.rate_limiter.check(&key).is_err() {
            self.state
                .metrics
                .graphql_error(ErrorCode::LimitExceeded.as_str());
            let refused = Response::from_errors(vec![error::server_error(
                ErrorCode::LimitExceeded,
                "too many requests; slow down",
            )]);
            return futures_util::stream::once(async move { refused }).boxed();
        }
        let operation = label(&request);
        let state = self.state.clone();
        // The registration may have changed since connection_init (a party suspended): every
        // operation is checked against it again, as every HTTP request is.
        futures_util::stream::once(async move {
            if let Some(p) = &principal
                && let Err(e) =
                    lvyue_domain::registration::registered(state.escrow.db(), p.clone()).await
            {
                let refused = Response::from_errors(vec![
                    error::from_domain(e).into_server_error(async_graphql::Pos::default()),
                ]);
                return futures_util::stream::once(async move { refused }).boxed();
            }
            let request = super::graphql::as_caller(&state, principal.as_ref(), request);
            let answers = Executor::execute_stream(&state.schema, request, session_data);
            match principal.filter(supervised) {
                None => answers,
                Some(p) => {
                    // Each answer (a subscription sends many) is recorded with what it carried.
                    let trail = Trail::new();
                    trail::within_stream(trail.clone(), answers)
                        .then(move |r| {
                            let (state, p, operation) =
                                (state.clone(), p.clone(), operation.clone());
                            let noted = trail.take();
                            async move {
                                recorded(&state, &p, operation.as_deref(), noted, r)
                                    .await
                                    .unwrap_or_else(Withheld::into_response)
                            }
                        })
                        .boxed()
                }
            }
        })
        .flatten()
        .boxed()
    }
}
