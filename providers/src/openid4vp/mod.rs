//! OpenID for Verifiable Presentations 1.0 (final), the verifier's side,
//! for wallets that speak the international protocol. What a wallet
//! presents: an SD-JWT VC with key binding ([`sd_jwt`]: RFC 9901, SD-JWT
//! VC draft -09 as OpenID4VP pins it) and its revocation by Token Status
//! List ([`status_list`]: draft -20). What the verifier asks: a request
//! object by reference under the `x509_san_dns:` client identifier
//! ([`request`]) with a DCQL query for exactly the claims a site may have
//! ([`dcql`]). Over the few JOSE pieces they need ([`jose`], on openssl).
//!
//! The provider family around them ([`adapter`], [`config`]) answers the
//! wallet's calls and decrypts `direct_post.jwt` responses ([`jwe`]).
//! Not yet here: ISO mdoc.

pub mod adapter;
pub mod config;
pub mod dcql;
pub mod jose;
pub mod jwe;
pub mod request;
pub mod sd_jwt;
pub mod status_list;
