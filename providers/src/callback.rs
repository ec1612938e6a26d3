//! Results that reach the gateway by a call from outside, instead of by
//! polling the provider.
//!
//! Why a general mechanism: most families push a request and poll the
//! provider until the citizen approved; a wallet (the mobile ID, and next
//! OpenID4VP's `direct_post`) instead calls the gateway back with its
//! result. Such a family implements [`Callbacks`] beside [`crate::Provider`]:
//! the gateway routes every request under the family's [`Callbacks::prefix`]
//! (on its own origin) to it, and the family keeps what a login needs between
//! calls in the [`Inbox`] the gateway gives it at build time (the gateway's
//! shared store), so any replica can answer any call and any replica's
//! `status` sees it. The rest of the contract is unchanged: `status` reads
//! the inbox instead of the provider, `verify` takes the result from it
//! once.
//!
//! Not here: HTTP types (a call is a path and a body, the answer a status,
//! a content type and a body, the method GET or POST), or which provider a call is for: a family
//! finds its login from the call itself (the mobile ID's `trxcode`).

use crate::person::{BirthDate, Ci, Name, Person};
use crate::{Citizen, ProviderError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;

/// The gateway's shared store, as a family sees it: its own keys only (the
/// gateway puts them in a family of their own), values it encodes itself.
#[async_trait::async_trait]
pub trait Inbox: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ProviderError>;
    /// Writes only if nothing lives under `key`; true if written.
    async fn put_new(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, ProviderError>;
    /// Replaces the value only if it still equals `expected`; true if replaced.
    async fn swap(
        &self,
        key: &str,
        expected: &[u8],
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, ProviderError>;
}

/// What the gateway answers a call with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// Every family's [`Callbacks::prefix`]: the gateway owns these paths on
/// its origin whether or not such a provider is configured (a proxied site
/// behind the gateway never sees them), so a reload that adds a wallet
/// family never takes paths away from a site.
pub const PREFIXES: [&str; 2] = ["mip", "oid4vp"];

/// How a call came: wallets fetch some things (OpenID4VP's request object
/// may be fetched with GET) and post the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallMethod {
    Get,
    Post,
}

impl Answer {
    /// A plain-text answer (404, 405), for calls no family step takes.
    pub fn text(status: u16, body: &str) -> Answer {
        Answer {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.as_bytes().to_vec(),
        }
    }
}

/// A family whose results arrive by calls to the gateway.
#[async_trait::async_trait]
pub trait Callbacks: Send + Sync {
    /// The first path segment the family's callers use on the gateway's
    /// origin (`mip` for `/mip/profile`); one family per prefix.
    fn prefix(&self) -> &'static str;
    /// The largest body a call may have; the gateway refuses larger ones
    /// (413) before the family sees them.
    fn max_body(&self) -> usize;
    /// Answers `GET` or `POST /{prefix}/{path}` (a GET has an empty body).
    /// Never fails: a refusal is an answer the caller understands (and a
    /// log line naming why). Other methods never reach the family (405).
    async fn call(&self, method: CallMethod, path: &str, body: &[u8]) -> Answer;
}

/// A login's record in an [`Inbox`] as JSON: what it is now, and the bytes
/// a compare-and-swap must see. `what` names the record in errors ("a
/// mobile ID").
pub async fn load<T: DeserializeOwned>(
    inbox: &dyn Inbox,
    key: &str,
    what: &str,
) -> Result<Option<(Vec<u8>, T)>, ProviderError> {
    let Some(raw) = inbox.get(key).await? else {
        return Ok(None);
    };
    let r: T = serde_json::from_slice(&raw)
        .map_err(|_| ProviderError::Protocol(format!("{what} record does not read")))?;
    Ok(Some((raw, r)))
}

/// Moves a record from `raw` to `next`, kept for `ttl`: the bytes now
/// stored, or `None` when it changed meanwhile (another call won).
pub async fn swap<T: Serialize>(
    inbox: &dyn Inbox,
    key: &str,
    raw: &[u8],
    next: &T,
    ttl: Duration,
    what: &str,
) -> Result<Option<Vec<u8>>, ProviderError> {
    let bytes = serde_json::to_vec(next)
        .map_err(|_| ProviderError::Protocol(format!("{what} record does not write")))?;
    let swapped = inbox.swap(key, raw, bytes.clone(), ttl).await?;
    Ok(swapped.then_some(bytes))
}

/// The person a wallet's presentation names, who must be the one who
/// started the login. A wallet proves name, birth date and CI, not the
/// phone number: that is the one typed (whether it counts as proven is the
/// family's to say in its evidence).
pub fn wallet_person(
    name: &str,
    birth: &str,
    ci: &str,
    who: &Citizen,
) -> Result<Person, ProviderError> {
    let bad = |_| ProviderError::BadPresentation("claim_value");
    let person = Person {
        name: Name::parse(name).map_err(bad)?,
        birthdate: BirthDate::parse(birth).map_err(bad)?,
        phone: who.phone.clone(),
        gender: None,
        ci: Ci::parse(ci).map_err(bad)?,
    };
    if !person.is(who) {
        return Err(ProviderError::WrongSigner);
    }
    Ok(person)
}
