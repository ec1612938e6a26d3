//! The one outbound HTTP client for calls the gateway makes to sites (signing
//! webhooks, back-channel logout), as opposed to providers, which each have
//! their own client and CA.
//!
//! Sites are reached with the system's CA certificates (`SSL_CERT_FILE`
//! honoured). Plain http is allowed by the client because config already
//! refused it for anything but loopback (the one URL rule at `munjigi
//! check`); nothing a request says picks a URL. A site's answer is read for
//! its status only, so the body is capped small, and every call has one
//! deadline for connect, send and answer.

use munjigi_providers::http_client::HttpClient;
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
