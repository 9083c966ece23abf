//! The HTTP side of alert webhooks: [`HttpWebhookSender`], the domain's
//! [`WebhookSender`](lvyue_domain::delivery::WebhookSender) over a real HTTP client (reqwest on
//! rustls), which the delivery worker (`crate::workers`) hands to `deliver_due`.
//!
//! The domain signs and records; this module only POSTs. A request is bounded by
//! [`WEBHOOK_TIMEOUT_SECS`], far inside the domain's claim on a delivery
//! ([`DELIVERY_LEASE_SECS`]), so a slow receiver can never be sent the same delivery twice at
//! once. Redirects are not followed (a receiver answers where it was registered, or the attempt
//! fails), and what is stored about a failure never names the URL, which may carry a token.

use std::time::Duration;

use anyhow::Context as _;

use lvyue_domain::delivery::{DELIVERY_LEASE_SECS, SendFuture, WebhookRequest, WebhookSender};

/// The whole request, connection to answer headers.
pub const WEBHOOK_TIMEOUT_SECS: u64 = 10;
/// Establishing the connection (TCP and TLS).
pub const WEBHOOK_CONNECT_TIMEOUT_SECS: u64 = 5;

// A send must end well within the lease that keeps other workers off its delivery.
const _: () = assert!(WEBHOOK_TIMEOUT_SECS * 10 <= DELIVERY_LEASE_SECS as u64);

/// POSTs webhooks over HTTP(S).
#[derive(Clone)]
pub struct HttpWebhookSender {
    client: reqwest::Client,
}

impl HttpWebhookSender {
    /// # Errors
    /// The TLS backend cannot be initialised.
    pub fn new() -> anyhow::Result<HttpWebhookSender> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(WEBHOOK_TIMEOUT_SECS))
            .connect_timeout(Duration::from_secs(WEBHOOK_CONNECT_TIMEOUT_SECS))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("lvyue-webhook/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot build the webhook HTTP client")?;
        Ok(HttpWebhookSender { client })
    }
}

impl WebhookSender for HttpWebhookSender {
    fn post<'a>(&'a self, request: &'a WebhookRequest) -> SendFuture<'a> {
        Box::pin(async move {
            let mut req = self
                .client
                .post(request.url.as_str())
                .body(request.body.clone());
            for (name, value) in &request.headers {
                req = req.header(*name, value.as_str());
            }
            match req.send().await {
                // The answer's body is not read: the status says everything.
                Ok(resp) => Ok(resp.status().as_u16()),
                Err(e) => Err(describe(&e)),
            }
        })
    }
}

/// Why no answer came, without the URL or any other part of the request.
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!("no answer within {WEBHOOK_TIMEOUT_SECS} s")
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else if e.is_builder() {
        "the endpoint URL cannot be used".to_owned()
    } else {
        "the request failed".to_owned()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use lvyue_domain::ids::DeliveryId;

    use super::*;

    fn request(url: &str) -> WebhookRequest {
        WebhookRequest {
            delivery: DeliveryId(1),
            url: url.into(),
            headers: vec![("Content-Type", "application/json".into())],
            body: "{}".into(),
        }
    }

    #[tokio::test]
    async fn a_refused_connection_is_reported_without_the_url() {
        // Bind and drop a listener: its port is now (very likely) closed.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let sender = HttpWebhookSender::new().unwrap();
        let url = format!("http://127.0.0.1:{port}/hook?token=s3cret");
        let err = sender.post(&request(&url)).await.unwrap_err();
        assert!(
            !err.contains("s3cret") && !err.contains("127.0.0.1"),
            "{err}"
        );
    }
}
