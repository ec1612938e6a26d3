//! The one outbound HTTP client for calls the gateway makes to sites (signing
//! webhooks, CIBA pings, back-channel logout), as opposed to providers,
//! which each have their own client and CA, and the one way a notification
//! is delivered to a site ([`deliver`]).
//!
//! Sites are reached with the system's CA certificates (`SSL_CERT_FILE`
//! honoured). Plain http is allowed by the client because config already
//! refused it for anything but loopback (the one URL rule at `munjigi
//! check`); nothing a request says picks a URL. A site's answer is read for
//! its status only, so the body is capped small, and every call has one
//! deadline for connect, send and answer.

use munjigi_providers::http_client::HttpClient;
use munjigi_providers::ProviderError;
use std::sync::OnceLock;
use std::time::Duration;

/// One call's deadline: connect, send and the answer's headers and body.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// A site's answer is not read for anything: a small cap.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The shared client; None if it cannot be built (logged once).
pub fn client() -> Option<&'static HttpClient> {
    static CLIENT: OnceLock<Option<HttpClient>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let roots = munjigi_receipt::verify::system_roots_pem().ok();
            if roots.is_none() {
                tracing::warn!("no system CA certificates: https calls to sites cannot be made");
            }
            match HttpClient::new(roots.as_deref(), TIMEOUT) {
                Ok(c) => Some(
                    c.allow_plain_http(true)
                        .with_max_response_bytes(MAX_ANSWER_BYTES),
                ),
                Err(e) => {
                    tracing::error!(error = %e, "the outbound client for sites could not be built");
                    None
                }
            }
        })
        .as_ref()
}

/// Waits before the second, third and fourth attempt of a delivery.
const BACKOFF: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(5),
    Duration::from_secs(25),
];

/// What one attempt came to.
enum Attempt {
    Delivered(u16),
    Retry(String),
    GiveUp(String),
}

async fn attempt(
    client: &HttpClient,
    url: &str,
    headers: &http::HeaderMap,
    body: &bytes::Bytes,
) -> Attempt {
    match client.post(url, headers.clone(), body.clone()).await {
        Ok(resp) if resp.status.is_success() => Attempt::Delivered(resp.status.as_u16()),
        Ok(resp)
            if resp.status.is_server_error()
                || resp.status == http::StatusCode::REQUEST_TIMEOUT
                || resp.status == http::StatusCode::TOO_MANY_REQUESTS =>
        {
            Attempt::Retry(format!("HTTP {}", resp.status.as_u16()))
        }
        Ok(resp) => Attempt::GiveUp(format!("HTTP {}", resp.status.as_u16())),
        Err(ProviderError::Transport(e)) => Attempt::Retry(e),
        Err(e) => Attempt::GiveUp(e.to_string()),
    }
}

/// POSTs a notification to a site (a signing webhook, a CIBA ping) at least
/// once: retried after 1 s, 5 s and 25 s on network errors, timeouts, 5xx,
/// 408 and 429; any 2xx is delivered; any other answer gives up (redirects
/// are not followed). `what` names it in the log lines, with `request` and
/// `site`. Whether it was delivered.
pub async fn deliver(
    url: &str,
    headers: http::HeaderMap,
    body: bytes::Bytes,
    what: &'static str,
    request: &str,
    site: &str,
) -> bool {
    let Some(client) = client() else {
        tracing::error!(request, site, what, "not delivered: no HTTP client");
        return false;
    };
    let attempts = BACKOFF.len() + 1;
    for n in 1..=attempts {
        match attempt(client, url, &headers, &body).await {
            Attempt::Delivered(status) => {
                tracing::info!(
                    request,
                    site,
                    what,
                    attempt = n,
                    status,
                    "notification delivered"
                );
                return true;
            }
            Attempt::GiveUp(why) => {
                tracing::warn!(request, site, what, attempt = n, outcome = %why, "notification refused: not retried");
                return false;
            }
            Attempt::Retry(why) => match BACKOFF.get(n - 1) {
                Some(wait) => {
                    tracing::warn!(request, site, what, attempt = n, outcome = %why, retry_in_s = wait.as_secs(), "notification attempt failed: will retry");
                    tokio::time::sleep(*wait).await;
                }
                None => {
                    tracing::error!(request, site, what, attempt = n, outcome = %why, "notification not delivered: attempts exhausted");
                }
            },
        }
    }
    false
}
