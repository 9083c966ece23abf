//! The transparency log over HTTP: the newest signed checkpoint, the verifier key, and the
//! C2SP tlog-tiles (hash tiles for anyone, entry bundles for the bank).

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use lvyue_domain::log::{cosignatures_at, latest_checkpoint};
use lvyue_domain::principal::Role;
use lvyue_notary::tiles::{TileKind, TilePath, encode_entry_bundle, encode_tile};

use super::AppState;

/// `GET /checkpoint`: the newest signed checkpoint note, with the witnesses' cosignatures on it
/// as further signature lines.
pub async fn checkpoint(State(state): State<AppState>) -> Response {
    let newest = match latest_checkpoint(&state.db).await {
        Ok(Some(c)) => cosignatures_at(&state.db, c.size)
            .await
            .map(|lines| Some(format!("{}{}", c.note, lines.concat()))),
        other => other.map(|_| None),
    };
    match newest {
        Ok(Some(note)) => (
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            note,
        )
            .into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "the log is empty\n").into_response(),
        Err(e) => {
            tracing::error!(error = ?e, "reading the checkpoint");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
    }
}

/// `GET /verifier-key`: the log's public key in C2SP vkey form.
pub async fn verifier_key(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{}\n", state.log.verifier_key()),
    )
        .into_response()
}

/// `GET /tile/*path`: hash tiles (public) and entry bundles (bank only), C2SP tlog-tiles.
pub async fn tile(
    State(state): State<AppState>,
    UrlPath(rest): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let Ok(path) = TilePath::parse(&format!("tile/{rest}")) else {
        return (StatusCode::NOT_FOUND, "no such tile\n").into_response();
    };
    let width = (!path.is_full()).then_some(path.width);
    match path.kind {
        TileKind::Hashes { level } => match state.log.tile(level, path.index, width) {
            Some(hashes) => octets(encode_tile(&hashes), width.is_none()),
            None => (StatusCode::NOT_FOUND, "no such tile\n").into_response(),
        },
        TileKind::Entries => {
            let principal = headers
                .get(header::AUTHORIZATION)
                .and_then(|h| h.to_str().ok())
                .map(|h| state.auth.authenticate_header(Some(h)));
            match principal {
                Some(Ok(Some(p))) if p.role == Role::Bank => {}
                Some(Ok(Some(_))) => {
                    return (
                        StatusCode::FORBIDDEN,
                        "entry bundles carry event contents: bank only\n",
                    )
                        .into_response();
                }
                _ => {
                    return (
                        StatusCode::UNAUTHORIZED,
                        "entry bundles carry event contents: send a bank token\n",
                    )
                        .into_response();
                }
            }
            entries(&state, path.index, path.width).await
        }
    }
}

async fn entries(state: &AppState, index: u64, width: u16) -> Response {
    let first = index * 256;
    let count = u64::from(width);
    if first + count > state.log.size() {
        return (StatusCode::NOT_FOUND, "no such tile\n").into_response();
    }
    let rows = lvyue_entity::event::Entity::find()
        .filter(lvyue_entity::event::Column::Seq.gte(first as i64))
        .filter(lvyue_entity::event::Column::Seq.lt((first + count) as i64))
        .order_by_asc(lvyue_entity::event::Column::Seq)
        .all(&state.db)
        .await;
    let internal = || (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response();
    match rows {
        Ok(rows) if rows.len() as u64 == count => {
            let bodies: Vec<&[u8]> = rows.iter().map(|r| r.canonical.as_bytes()).collect();
            match encode_entry_bundle(&bodies) {
                Ok(b) => octets(b, width == 256),
                Err(e) => {
                    tracing::error!(error = %e, index, "cannot encode an entry bundle");
                    internal()
                }
            }
        }
        // Within the tree's size the events exist: fewer rows is a broken store, not a
        // missing tile.
        Ok(rows) => {
            tracing::error!(
                index,
                expected = count,
                found = rows.len(),
                "events missing below the log's size"
            );
            internal()
        }
        Err(e) => {
            tracing::error!(error = %e, index, "cannot read an entry bundle");
            internal()
        }
    }
}

fn octets(bytes: Vec<u8>, immutable: bool) -> Response {
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, cache),
        ],
        bytes,
    )
        .into_response()
}
