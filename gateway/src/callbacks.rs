//! Calls from outside that carry a provider's result (a wallet's
//! presentation): routed to the family that owns the path's first segment,
//! with the store as its inbox.
//!
//! Why here and not in each family: the HTTP edge (method, body limit, the
//! answer's headers, the log line) is the gateway's, and the store keys a
//! family writes must stay inside one key family of their own
//! ([`Family::Inbox`]), whatever the family names them. The family decides
//! everything about the call itself ([`munjigi_providers::callback`]).

use crate::app::App;
use crate::rescue::GatewayError;
use crate::store::keys::Family;
use crate::store::{Store, StoreError};
use crate::web::Response;
use bytes::Bytes;
use http::{Method, StatusCode};
use hyper::body::Incoming;
use munjigi_providers::callback::{CallMethod, Callbacks, Inbox};
use munjigi_providers::ProviderError;
use std::sync::Arc;
use std::time::Duration;

/// A family's view of the store: every key inside [`Family::Inbox`].
pub struct StoreInbox(pub Arc<dyn Store>);

fn unavailable(e: StoreError) -> ProviderError {
    ProviderError::Unavailable {
        code: format!("store: {e}"),
        retryable: true,
    }
}

#[async_trait::async_trait]
impl Inbox for StoreInbox {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ProviderError> {
        self.0
            .get(&Family::Inbox.key(key))
            .await
            .map_err(unavailable)
    }
    async fn put_new(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, ProviderError> {
        self.0
            .put_new_pending(&Family::Inbox.key(key), value, ttl)
            .await
            .map_err(unavailable)
    }
    async fn swap(
        &self,
        key: &str,
        expected: &[u8],
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, ProviderError> {
        self.0
            .swap(&Family::Inbox.key(key), expected, value, ttl)
            .await
            .map_err(unavailable)
    }
}

/// The family answering paths under `/{prefix}/`, if one is configured.
pub fn owner<'a>(app: &'a App, prefix: &str) -> Option<&'a dyn Callbacks> {
    app.providers
        .values()
        .filter_map(|p| p.callbacks())
        .find(|c| c.prefix() == prefix)
}

/// `GET` or `POST /{prefix}/{rest}` from a wallet. `None` when no family owns the
/// prefix (the caller goes on routing).
pub async fn handle(
    app: &App,
    req: http::Request<Incoming>,
    path: &str,
) -> Option<Result<Response, GatewayError>> {
    let (prefix, rest) = path.trim_start_matches('/').split_once('/')?;
    let family = owner(app, prefix)?;
    let method = match *req.method() {
        Method::POST => CallMethod::Post,
        Method::GET => CallMethod::Get,
        _ => return Some(Err(GatewayError::MethodNotAllowed)),
    };
    let body = match crate::web::read_body(req.into_body(), family.max_body()).await {
        Ok(b) => b,
        Err(crate::web::BodyError::TooLarge(n)) => {
            tracing::info!(prefix, limit = n, "callback body too large");
            return Some(Ok(crate::web::respond::text(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body too large\n",
            )));
        }
        Err(crate::web::BodyError::Read) => {
            return Some(Err(GatewayError::BadRequest(
                "the request body could not be read".into(),
            )))
        }
    };
    let answer = family.call(method, rest, &body).await;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut r = crate::web::respond::json_bytes(status, Bytes::from(answer.body));
    if let Ok(v) = http::HeaderValue::from_str(answer.content_type) {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    Some(Ok(r))
}
