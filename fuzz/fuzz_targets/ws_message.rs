//! GraphQL over WebSocket, in process: any bytes, cut at newlines, as the client's messages on
//! one socket (either sub-protocol, anonymous or as the bank), driven through the same
//! protocol handler and schema that `/graphql/ws` serves. Nothing panics, every message the
//! server sends is JSON or a close frame, and every error it carries has a documented
//! `extensions.code`.
//!
//! As in `graphql_request`, the schema runs without a database. The server's own layer around
//! the socket (the token check in `connection_init`, per-operation rate limits and access
//! records) needs one and is covered by the integration tests; what is fuzzed here is the
//! protocol state machine (init, start, stop, ping, malformed and out-of-order messages) and
//! the operations it starts.

#![no_main]
// The schema's types nest deeper than the default limit (as in api/src/lib.rs).
#![recursion_limit = "256"]

use std::sync::OnceLock;
use std::time::Duration;

use async_graphql::Data;
use async_graphql::http::{WebSocket, WebSocketProtocols, WsMessage};
use futures_util::StreamExt as _;
use libfuzzer_sys::fuzz_target;
use lvyue_api::config::Limits;
use lvyue_api::graphql::limits::QueryLimits;
use lvyue_api::graphql::schema::{AppSchema, builder};
use lvyue_domain::ErrorCode;
use lvyue_domain::principal::Principal;

/// The schema and one runtime for every run. Paused time: the runtime jumps the clock only when
/// every task is idle, so each run is deterministic and the operations started get to answer
/// before the client goes away.
fn setup() -> &'static (AppSchema, tokio::runtime::Runtime) {
    static S: OnceLock<(AppSchema, tokio::runtime::Runtime)> = OnceLock::new();
    S.get_or_init(|| {
        let schema = builder(QueryLimits::from(&Limits::default()), None).finish();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("runtime");
        (schema, rt)
    })
}

/// Every `errors` array anywhere in a server message names a documented code.
fn check_codes(v: &serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::Array(errors)) = map.get("errors") {
                for e in errors {
                    let code = e.pointer("/extensions/code").and_then(|c| c.as_str());
                    assert!(
                        code.is_some_and(|c| ErrorCode::named(c).is_some()),
                        "an error without a documented code: {e}"
                    );
                }
            }
            map.values().for_each(check_codes);
        }
        serde_json::Value::Array(items) => items.iter().for_each(check_codes),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let protocol = if mode & 1 == 1 {
        WebSocketProtocols::GraphQLWS
    } else {
        WebSocketProtocols::SubscriptionsTransportWS
    };
    let as_bank = mode & 2 == 2;
    let messages: Vec<Vec<u8>> = body.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
    let (schema, rt) = setup();
    rt.block_on(async move {
        // The client's messages, then a quiet second before it hangs up.
        let client = futures_util::stream::iter(messages).chain(
            futures_util::stream::once(tokio::time::sleep(Duration::from_secs(1)))
                .filter_map(|()| async { None }),
        );
        let socket = WebSocket::new(schema.clone(), client, protocol).on_connection_init(
            move |_payload| async move {
                let mut data = Data::default();
                if as_bank {
                    data.insert(Principal::bank("fuzz"));
                }
                Ok(data)
            },
        );
        let sent = tokio::time::timeout(Duration::from_secs(60), socket.collect::<Vec<_>>())
            .await
            .expect("the socket ends once the client has gone");
        for message in sent {
            match message {
                WsMessage::Text(text) => {
                    let v: serde_json::Value =
                        serde_json::from_str(&text).expect("the server sends JSON");
                    check_codes(&v);
                }
                WsMessage::Close(_, _) => {}
            }
        }
    });
});
