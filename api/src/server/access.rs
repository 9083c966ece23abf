//! The record of supervised reads: every answer a regulator or a court receives, over HTTP or
//! over a WebSocket, is recorded in the log (an `access.read` event, and one per order read)
//! before it leaves the server, refusals included. What is recorded is what the server read in
//! the request (root fields by name, with arguments) and what it produced for the answer
//! ([`crate::graphql::trail`]), never what the client chose to call things. When the record
//! cannot be written, the answer is withheld.

use lvyue_domain::access::{MAX_ASKED, MAX_OBJECTS, MAX_ORDERS, RecordAccess};
use lvyue_domain::principal::{Principal, Role};

use super::AppState;
use crate::error::{self, ErrorCode};
use crate::graphql::trail::{self, Noted, Trail};

/// Whether `p`'s reads are recorded.
pub(super) fn supervised(p: &Principal) -> bool {
    matches!(p.role, Role::Regulator | Role::Court)
}

/// Runs one supervised operation inside a fresh trail and gives its answer once its record is
/// written.
///
/// # Errors
/// [`Withheld`] in place of the answer when the record could not be written or would not hold
/// everything the answer carries.
pub(super) async fn answer(
    state: &AppState,
    p: &Principal,
    request: async_graphql::Request,
) -> Result<async_graphql::Response, Withheld> {
    let operation = label(&request);
    let trail = Trail::new();
    let response = trail::within(trail.clone(), state.schema.execute(request)).await;
    recorded(state, p, operation.as_deref(), trail.take(), response).await
}

/// A client's label for a request: the `operationName` it sent, or the name in its document.
pub(super) fn label(request: &async_graphql::Request) -> Option<String> {
    request
        .operation_name
        .clone()
        .or_else(|| operation_name(&request.query))
}

/// Why an answer was not sent.
#[derive(Debug, Clone)]
pub(super) struct Withheld {
    pub code: ErrorCode,
    pub message: String,
}

impl Withheld {
    /// The withheld answer as a GraphQL response (over a WebSocket).
    pub(super) fn into_response(self) -> async_graphql::Response {
        async_graphql::Response::from_errors(vec![error::server_error(self.code, self.message)])
    }
}

/// `response` once its record is written.
///
/// # Errors
/// [`Withheld`] when the record could not be written or would not hold everything `noted`.
pub(super) async fn recorded(
    state: &AppState,
    p: &Principal,
    operation: Option<&str>,
    noted: Noted,
    response: async_graphql::Response,
) -> Result<async_graphql::Response, Withheld> {
    if noted.orders.len() > MAX_ORDERS || noted.objects.len() > MAX_OBJECTS {
        return Err(Withheld {
            code: ErrorCode::LimitExceeded,
            message: format!(
                "a regulator's or court's answer is recorded whole and may carry at most {MAX_ORDERS} orders and {MAX_OBJECTS} other objects; ask for smaller pages"
            ),
        });
    }
    match record_access(state, p, operation, noted, &response).await {
        Ok(()) => Ok(response),
        Err(e) => {
            tracing::error!(error = ?e, "could not record a supervised read; withholding the answer");
            Err(Withheld {
                code: ErrorCode::Internal,
                message: error::INTERNAL_MESSAGE.to_owned(),
            })
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

/// Records what a regulator's or court's request asked and what its answer carried (noted
/// where each object was produced). A refused read is recorded too (a probe for an order is on
/// the record whether or not the order was found); a refused change, which neither read nor
/// changed anything, is not.
async fn record_access(
    state: &AppState,
    p: &Principal,
    operation: Option<&str>,
    noted: Noted,
    response: &async_graphql::Response,
) -> Result<(), lvyue_domain::DomainError> {
    let answered = !matches!(&response.data, async_graphql::Value::Null)
        && !matches!(&response.data, async_graphql::Value::Object(o) if o.is_empty());
    let read = noted.asked.as_ref().is_some_and(|a| !a.mutation);
    if !answered && !read {
        return Ok(());
    }
    let asked = noted.asked.unwrap_or_default();
    let mut refused: Vec<String> = response
        .errors
        .iter()
        .map(|e| error::code_of(e).unwrap_or("INTERNAL").to_owned())
        .collect();
    refused.dedup();
    let text = (!asked.text.is_empty()).then(|| asked.text.join("\n"));
    let cmd = RecordAccess {
        operation: operation
            .filter(|o| !o.is_empty())
            .unwrap_or("graphql")
            .chars()
            .take(200)
            .collect(),
        asked: asked.fields.into_iter().take(MAX_ASKED).collect(),
        asked_text: text,
        objects: noted.objects.into_iter().collect(),
        refused: refused.into_iter().take(MAX_ASKED).collect(),
        orders: noted.orders.into_iter().collect(),
        ..RecordAccess::default()
    };
    state.recorder.record(p.clone(), cmd).await.map(|_| ())
}
