//! The record of supervised reads: every answer a regulator or a court receives, over HTTP or
//! over a WebSocket, is recorded in the log (an `access.read` event, and one per order read)
//! before it leaves the server. When the record cannot be written, the answer is withheld.

use lvyue_domain::access::RecordAccess;
use lvyue_domain::ids::OrderId;
use lvyue_domain::principal::{Principal, Role};

use super::AppState;
use crate::error::{self, ErrorCode};

/// Whether `p`'s reads are recorded.
pub(super) fn supervised(p: &Principal) -> bool {
    matches!(p.role, Role::Regulator | Role::Court)
}

/// The answer to send: `response` once its record is written, or an internal error in its
/// place when the record could not be written.
pub(super) async fn recorded(
    state: &AppState,
    p: &Principal,
    operation: Option<&str>,
    response: async_graphql::Response,
) -> async_graphql::Response {
    match record_access(state, p, operation, &response).await {
        Ok(()) => response,
        Err(e) => {
            tracing::error!(error = ?e, "could not record a supervised read; withholding the answer");
            async_graphql::Response::from_errors(vec![error::server_error(
                ErrorCode::Internal,
                error::INTERNAL_MESSAGE,
            )])
        }
    }
}

/// The name of the first operation in a query document (`query ListOrders { … }`), when the
/// client did not send `operationName`.
pub(super) fn operation_name(query: &str) -> Option<String> {
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
pub(super) async fn record_access(
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
