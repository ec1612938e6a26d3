//! Small HTTP building blocks shared by every front: strict parameter parsing,
//! cookies, bodies with limits, and response builders.
//!
//! We use hyper directly (no framework), so these few helpers are the whole
//! "framework": each refuses malformed input with a typed error instead of guessing.

pub mod authorization;
pub mod cookies;
pub mod layers;
pub mod params;
pub mod path;
pub mod respond;

pub use params::Params;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};

pub type Body = Full<Bytes>;
pub type Response = http::Response<Body>;

/// A gateway-made body, or an upstream's streamed through (proxy mode).
pub type AnyBody = http_body_util::Either<Body, crate::proxy::pool::TrackedBody>;
pub type AnyResponse = http::Response<AnyBody>;

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("request body larger than {0} bytes")]
    TooLarge(usize),
    #[error("request body could not be read")]
    Read,
}

/// Reads a request body, refusing more than `limit` bytes.
pub async fn read_body<B>(body: B, limit: usize) -> Result<Bytes, BodyError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(BodyError::TooLarge(limit))
        }
        Err(_) => Err(BodyError::Read),
    }
}
