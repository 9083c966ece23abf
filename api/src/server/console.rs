//! The GraphQL console at `GET /`: GraphiQL and React at pinned versions, embedded in the
//! binary (`api/assets/console/`, where `SOURCES.md` says which and why), so that it works on an
//! intranet with no internet access. Its Content-Security-Policy lets the page load and call
//! nothing but this server: a token pasted into it can reach no other origin. With
//! `LVYUE_GRAPHIQL=off` none of it is served.

use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::config::Console;

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            bytes: include_bytes!(concat!("../../assets/console/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Everything the page loads, under `/console/<name>`.
const ASSETS: [Asset; 6] = [
    asset!("graphiql.min.js", JS),
    asset!("graphiql.min.css", CSS),
    asset!("react.production.min.js", JS),
    asset!("react-dom.production.min.js", JS),
    asset!("console.js", JS),
    asset!("console.css", CSS),
];

const INDEX: &str = include_str!("../../assets/console/index.html");

/// Scripts and styles from this server only, calls to this server only, fonts and icons from
/// the stylesheet's inline data; no frames, forms, plugins or base URL. GraphiQL's editor sets
/// element styles at run time, hence the inline styles.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub(super) async fn index(State(state): State<AppState>) -> Response {
    if state.config.graphiql == Console::Off {
        return StatusCode::NOT_FOUND.into_response();
    }
    with_page_headers(
        "text/html; charset=utf-8",
        INDEX.as_bytes(),
        "no-cache",
        CONTENT_SECURITY_POLICY,
    )
}

pub(super) async fn asset(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    if state.config.graphiql == Console::Off {
        return StatusCode::NOT_FOUND.into_response();
    }
    match ASSETS.iter().find(|a| a.name == name) {
        // The names do not change with the versions, so browsers revalidate after an hour.
        Some(a) => with_page_headers(
            a.content_type,
            a.bytes,
            "public, max-age=3600",
            CONTENT_SECURITY_POLICY,
        ),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A page or one of its files, with its Content-Security-Policy and the headers every page of
/// this server carries: no type sniffing, no referrer, no window shared with other origins.
pub(super) fn with_page_headers(
    content_type: &'static str,
    body: &'static [u8],
    cache: &'static str,
    csp: &str,
) -> Response {
    let Ok(csp) = HeaderValue::from_str(csp) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        (header::CONTENT_SECURITY_POLICY, csp),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
    ];
    (headers, body).into_response()
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    /// The third-party files are the registry's, byte for byte: their hashes are the ones
    /// `SOURCES.md` records.
    #[test]
    fn the_embedded_files_are_the_pinned_ones() {
        let sources = include_str!("../../assets/console/SOURCES.md");
        let pinned: Vec<(&str, &str)> = sources
            .lines()
            .filter_map(|l| l.split_once("  "))
            .filter(|(hash, _)| hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(|(hash, name)| (name.trim(), hash))
            .collect();
        assert_eq!(pinned.len(), 4, "{pinned:?}");
        for (name, hash) in pinned {
            let asset = ASSETS
                .iter()
                .find(|a| a.name == name)
                .unwrap_or_else(|| panic!("{name} is pinned but not served"));
            assert_eq!(hex::encode(Sha256::digest(asset.bytes)), hash, "{name}");
        }
    }

    /// Every script and stylesheet the page names is one the server has.
    #[test]
    fn the_page_names_only_embedded_files() {
        let named: Vec<&str> = INDEX
            .split("/console/")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap_or(rest))
            .collect();
        assert_eq!(named.len(), 6, "{named:?}");
        for name in named {
            assert!(ASSETS.iter().any(|a| a.name == name), "{name}");
        }
        assert!(!INDEX.contains("http://") && !INDEX.contains("https://"));
    }
}
