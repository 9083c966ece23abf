//! The one place where errors become GraphQL errors with `extensions.code`.
//!
//! Resolvers return `async_graphql::Result`. A [`DomainError`] may be returned with `?` as it
//! is: async-graphql keeps it as the error's source, and [`finalize`] (run on every response,
//! HTTP and WebSocket, by the [`RequestPolicy`](crate::graphql::limits::RequestPolicy)
//! extension) gives it its stable code from [`ErrorCode::as_str`]. Internal errors are logged here and answered "internal error".
//! Errors that reach [`finalize`] with no code and no source are async-graphql's own (parse,
//! validation, argument coercion): `VALIDATION`. Any other source is a bug: `INTERNAL`.

use async_graphql::{ErrorExtensions, ServerError};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub use lvyue_domain::{DomainError, ErrorCode};

/// The message every internal error is answered with: no SQL, paths or other internals.
pub const INTERNAL_MESSAGE: &str = "internal error";

/// An error carrying `code`.
pub fn coded(code: ErrorCode, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code.as_str()))
}

pub fn unauthenticated(message: impl Into<String>) -> async_graphql::Error {
    coded(ErrorCode::Unauthenticated, message)
}

pub fn forbidden(message: impl Into<String>) -> async_graphql::Error {
    coded(ErrorCode::Forbidden, message)
}

pub fn limit_exceeded(message: impl Into<String>) -> async_graphql::Error {
    coded(ErrorCode::LimitExceeded, message)
}

pub fn validation(message: impl Into<String>) -> async_graphql::Error {
    coded(ErrorCode::Validation, message)
}

/// A domain error as a GraphQL error. Internal ones are logged and answered "internal error".
pub fn from_domain(e: DomainError) -> async_graphql::Error {
    let code = e.code();
    if code == ErrorCode::Internal {
        tracing::error!(error = ?e, "internal error");
        return coded(code, INTERNAL_MESSAGE);
    }
    coded(code, e.to_string())
}

/// A search error as a GraphQL error: a request over a search limit is `LIMIT_EXCEEDED`;
/// anything else is internal (logged, answered "internal error").
pub fn from_search(e: lvyue_search::SearchError) -> async_graphql::Error {
    use lvyue_search::SearchError as E;
    match e {
        E::PageTooLarge { .. }
        | E::OffsetTooLarge { .. }
        | E::QueryTooLong { .. }
        | E::TooManyTerms { .. } => limit_exceeded(e.to_string()),
        other => {
            tracing::error!(error = ?other, "search failed");
            coded(ErrorCode::Internal, INTERNAL_MESSAGE)
        }
    }
}

/// `.gql()` on a domain result, for callers that want the conversion explicit (`?` alone works
/// too, see the module doc).
pub trait DomainResultExt<T> {
    /// # Errors
    /// The domain error, converted by [`from_domain`].
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> DomainResultExt<T> for Result<T, DomainError> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(from_domain)
    }
}

/// A request-level error (no position, no path) with `code`.
pub fn server_error(code: ErrorCode, message: impl Into<String>) -> ServerError {
    let mut e = ServerError::new(message, None);
    e.extensions
        .get_or_insert_with(Default::default)
        .set("code", code.as_str());
    e
}

/// The `extensions.code` of an error, if it has one.
pub fn code_of(e: &ServerError) -> Option<&str> {
    match e.extensions.as_ref()?.get("code")? {
        async_graphql::Value::String(s) => Some(s.as_str()),
        _ => None,
    }
}

/// Gives every error a code and strips internals from internal ones (see the module doc).
pub fn finalize(errors: &mut [ServerError]) {
    for e in errors {
        if code_of(e).is_some() {
            continue;
        }
        let (code, message) = if let Some(domain) = e.source::<DomainError>() {
            let code = domain.code();
            if code == ErrorCode::Internal {
                tracing::error!(error = ?domain, path = ?e.path, "internal error");
                (code, INTERNAL_MESSAGE.to_owned())
            } else {
                (code, domain.to_string())
            }
        } else if e.source.is_some() {
            tracing::error!(message = %e.message, path = ?e.path, "uncoded error from a resolver");
            (ErrorCode::Internal, INTERNAL_MESSAGE.to_owned())
        } else {
            (ErrorCode::Validation, std::mem::take(&mut e.message))
        };
        e.message = message;
        e.extensions
            .get_or_insert_with(Default::default)
            .set("code", code.as_str());
    }
}

/// An HTTP response whose body is a GraphQL response with one request-level error: how limits
/// (body size, rate, timeout) and bad tokens are answered, on every route.
pub fn http_error(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    let body = serde_json::json!({
        "data": null,
        "errors": [{ "message": message, "extensions": { "code": code.as_str() } }],
    });
    let mut response = (status, axum::Json(body)).into_response();
    if code == ErrorCode::Unauthenticated {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn with_source<T: std::any::Any + Send + Sync>(source: T) -> ServerError {
        let mut e = ServerError::new("whatever the Display said", None);
        e.source = Some(Arc::new(source));
        e
    }

    #[test]
    fn domain_errors_get_their_stable_code() {
        let mut errors = vec![with_source(DomainError::not_found("order", "ord_9"))];
        finalize(&mut errors);
        assert_eq!(code_of(&errors[0]), Some("NOT_FOUND"));
        assert_eq!(errors[0].message, "order ord_9 not found");
    }

    #[test]
    fn internal_errors_leak_nothing() {
        let mut errors = vec![
            with_source(DomainError::Internal("SELECT * FROM secret_table".into())),
            with_source(std::io::Error::other("/etc/passwd")),
        ];
        finalize(&mut errors);
        for e in &errors {
            assert_eq!(code_of(e), Some("INTERNAL"));
            assert_eq!(e.message, INTERNAL_MESSAGE);
        }
    }

    #[test]
    fn errors_without_source_are_request_validation_errors() {
        let mut errors = vec![
            ServerError::new("Unknown field \"x\"", None),
            server_error(ErrorCode::Forbidden, "no"),
        ];
        finalize(&mut errors);
        assert_eq!(code_of(&errors[0]), Some("VALIDATION"));
        assert_eq!(code_of(&errors[1]), Some("FORBIDDEN"));
    }

    #[test]
    fn explicit_conversion_keeps_the_message_of_user_errors() {
        let e = from_domain(DomainError::Conflict("idempotency key reused".into()));
        assert_eq!(e.message, "idempotency key reused");
        let e = from_domain(DomainError::Invariant("sum != 0".into()));
        assert_eq!(e.message, INTERNAL_MESSAGE);
    }
}
