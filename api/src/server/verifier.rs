//! `GET /verify`: a court's evidence bundle checked in the clerk's own browser, with nothing
//! installed. One self-contained page (`api/assets/verify/index.html`, embedded in the binary),
//! so that saved to disk it still works offline. It checks what `lvyue verify --bundle` checks —
//! each event's leaf hash and seq, its inclusion proof and tlog-proof, the checkpoint's Ed25519
//! signature by the key the clerk enters — with the browser's WebCrypto (SHA-256 and Ed25519):
//! a second implementation, independent of the Rust one, and no WebAssembly build to ship.
//! Its policy allows no network at all: the evidence cannot leave the page.

use std::sync::LazyLock;

use axum::response::Response;
use base64::Engine as _;
use sha2::{Digest, Sha256};

const PAGE: &str = include_str!("../../assets/verify/index.html");

/// The page's one inline script, allowed by its hash and nothing else.
static CONTENT_SECURITY_POLICY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; script-src 'sha256-{}'; style-src 'unsafe-inline'; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(inline_script(PAGE)))
    )
});

/// The text between the page's `<script>` and `</script>`.
fn inline_script(page: &str) -> &str {
    page.split_once("<script>")
        .and_then(|(_, rest)| rest.split_once("</script>"))
        .map_or("", |(script, _)| script)
}

pub(super) async fn page() -> Response {
    super::console::with_page_headers(
        "text/html; charset=utf-8",
        PAGE.as_bytes(),
        "no-cache",
        &CONTENT_SECURITY_POLICY,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_one_inline_script_and_loads_nothing() {
        assert_eq!(PAGE.matches("<script").count(), 1);
        assert!(inline_script(PAGE).contains("crypto.subtle.verify"));
        for outside in [
            "src=",
            "href=",
            "http://",
            "https://",
            "fetch(",
            "XMLHttpRequest",
        ] {
            assert!(!PAGE.contains(outside), "the page names {outside}");
        }
    }
}
