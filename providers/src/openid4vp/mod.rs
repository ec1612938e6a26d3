//! OpenID for Verifiable Presentations 1.0 (final), the verifier's side,
//! for wallets that speak the international protocol: this first part
//! checks what a wallet presents. An SD-JWT VC with key binding
//! ([`sd_jwt`]: RFC 9901, SD-JWT VC draft -09 as OpenID4VP pins it) and
//! its revocation by Token Status List ([`status_list`]: draft -20), over
//! the few JOSE pieces they need ([`jose`], on openssl).
//!
//! Not yet here: the request (a signed request object by reference,
//! `x509_san_dns:` client identifier, DCQL), the `direct_post` and
//! `direct_post.jwt` responses, the provider family around them, and ISO
//! mdoc.

pub mod jose;
pub mod sd_jwt;
pub mod status_list;
