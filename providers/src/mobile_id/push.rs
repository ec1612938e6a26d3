//! The push server (한국조폐공사's `sendVPAPI.do`): it finds the phone of
//! the person named and delivers the request (M200) to its mobile ID app.
//!
//! The request is `{"data": base64url-with-padding(JSON)}`, the JSON being
//! the SP's `mscode`, `pushType` `MIP-USP-001`, the person's `name`,
//! `birth` (YYYYMMDD) and `telno`, and the M200 as base64url in `data`. The
//! answer is always HTTP 200 with `result` and an `errcode`: 10305 (no such
//! recipient) is the person being unknown; 10301 (unregistered `mscode`) is
//! our configuration; anything else is the server's fault, retryable only
//! for 10306 (its own write failed) and 10399.

use super::b64;
use crate::http_client::{self, HttpClient};
use crate::{Citizen, ProviderError};
use http::HeaderMap;
use serde::Deserialize;
use std::time::Duration;

pub struct PushServer {
    url: String,
    mscode: String,
    http: HttpClient,
}

#[derive(Deserialize)]
struct PushAnswer {
    result: bool,
    #[serde(default)]
    errcode: Option<serde_json::Value>,
}

impl PushServer {
    pub fn new(
        url: &str,
        mscode: &str,
        tls_ca_pem: Option<&[u8]>,
        timeout: Duration,
        allow_plain: bool,
    ) -> Result<PushServer, ProviderError> {
        let (url, plain) = http_client::endpoint(url, "push_url", allow_plain, true)?;
        let http = HttpClient::new(tls_ca_pem, timeout)?
            .allow_plain_http(plain)
            .with_max_response_bytes(16 * 1024);
        Ok(PushServer {
            url,
            mscode: mscode.to_owned(),
            http,
        })
    }

    /// Sends the M200 (`request`, base64url) to `who`'s phone.
    pub async fn send(&self, who: &Citizen, request: &str) -> Result<(), ProviderError> {
        let inner = serde_json::json!({
            "mscode": self.mscode,
            "pushType": "MIP-USP-001",
            "name": who.name.expose(),
            "birth": who.birthdate.yyyymmdd(),
            "telno": who.phone.national(),
            "data": request,
        });
        let bytes = serde_json::to_vec(&inner)
            .map_err(|_| ProviderError::Config("the push request does not write".into()))?;
        let body = serde_json::json!({ "data": b64::encode_padded(&bytes) });
        let r = self
            .http
            .post_json(&self.url, HeaderMap::new(), &body)
            .await?;
        if !r.status.is_success() {
            return Err(ProviderError::Unavailable {
                code: format!("http {}", r.status.as_u16()),
                retryable: r.status.is_server_error(),
            });
        }
        let a: PushAnswer = r.json()?;
        if a.result {
            return Ok(());
        }
        let code = match &a.errcode {
            Some(serde_json::Value::Number(n)) => n.as_u64().unwrap_or(0),
            Some(serde_json::Value::String(s)) => s.parse().unwrap_or(0),
            _ => 0,
        };
        Err(match code {
            10305 => ProviderError::UnknownPerson,
            10301 => ProviderError::Unauthorized {
                code: "10301".into(),
            },
            10302..=10304 => ProviderError::BadRequest {
                code: code.to_string(),
                message: "the push server found an item missing".into(),
            },
            10306 | 10399 => ProviderError::Unavailable {
                code: code.to_string(),
                retryable: true,
            },
            _ => ProviderError::Protocol(format!("push server error code {code}")),
        })
    }
}
