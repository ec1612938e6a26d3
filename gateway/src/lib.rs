//! Munjigi (문지기): the federated simple-authentication gateway.
//!
//! Public websites integrate one SSO endpoint; citizens log in with the
//! private certificate provider they already use. This crate is the server.
//! Fronts translate a protocol in and out: the OIDC provider ([`oidc`]), the
//! SAML IdP ([`saml`]), the identity-aware [`proxy`] (and forward-auth for a
//! site's own nginx) and document [`signing`]. Between them sits one login
//! core ([`login`]: begin, session reuse, the citizen's pages, provider steps,
//! claim release, the ends of a login) over the login transaction ([`txn`])
//! in a shared [`store`] (memory, Redis or a Redis Cluster). Errors become
//! responses in [`rescue`]; configuration ([`config`]) is reloaded live by
//! [`reload`].
//!
//! Split by what ships: provider APIs live in `munjigi-providers`, the shared
//! values in `munjigi-model`, site rules in `munjigi-policy`, the receipt schema
//! and its offline verifier in `munjigi-receipt`. The `munjigi` binary
//! (`cli/`: the commands, `munjigi demo` and `munjigi simulate`,
//! `verify-receipt`) is the one thing that depends on this library, and the
//! only one that links the simulator (`munjigi-sim`); this library ships
//! without it.
//!
//! Logs carry ids, codes and durations, never personal data, tokens or keys.

pub mod admin;
pub mod app;
pub mod audit;
pub mod callbacks;
pub mod circuit;
pub mod clock;
pub mod config;
pub mod demo;
pub mod failure;
pub mod keys;
pub mod limits;
pub mod login;
pub mod logout;
pub mod metrics;
pub mod oidc;
pub mod otlp;
pub mod outbound;
pub mod pages;
pub mod pairwise;
pub mod proxy;
pub mod random;
pub mod reload;
pub mod rescue;
pub mod runtime;
pub mod saml;
pub mod server;
pub mod signers;
pub mod signing;
pub mod sso;
pub mod store;
pub mod txn;
pub mod web;
