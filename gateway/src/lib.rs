//! Munjigi (문지기): the federated simple-authentication gateway.
//!
//! Public websites integrate one OpenID Connect endpoint; citizens log in with the
//! private certificate provider they already use. This crate is the server: the
//! OIDC provider ([`oidc`]), the citizen's pages ([`login`], [`pages`]), the login
//! transaction ([`txn`]) in a shared [`store`] (memory, Redis or a Redis Cluster),
//! configuration ([`config`], reloaded live by [`reload`]) and the
//! demo ([`demo`]). Provider APIs live in `munjigi-providers`, site rules in
//! `munjigi-policy`; nothing depends on this crate.
//!
//! Sites with no SSO code sit behind the identity-aware [`proxy`] (or ask it
//! from their own nginx). Not yet here: SAML (a later issue). Logs carry ids,
//! codes and durations, never personal data, tokens or keys.

pub mod app;
pub mod audit;
pub mod config;
pub mod demo;
pub mod keys;
pub mod limits;
pub mod login;
pub mod oidc;
pub mod pages;
pub mod pairwise;
pub mod proxy;
pub mod random;
pub mod reload;
pub mod rescue;
pub mod saml;
pub mod server;
pub mod signing;
pub mod sso;
pub mod store;
pub mod txn;
pub mod verify_receipt;
pub mod web;
