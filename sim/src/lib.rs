//! Test machinery, kept out of every production crate: the provider
//! [`simulator`], a throw-away PKI per provider ([`testpki`]) and the CMS
//! signer and BER writer ([`cms`]) that make the results the adapters verify.
//!
//! A crate of its own so that `munjigi-providers` ships only what verifies:
//! nothing in it can issue a certificate or sign a result, and no production
//! code path can reach a test key by accident. The gateway binary uses it for
//! `munjigi demo` and `munjigi simulate`; the tests of every crate use it.
//!
//! Not here: anything a deployment trusts. PKI keys sit in files, the control
//! API is a bearer token, and state lives in memory.

pub mod cms;
pub mod simulator;
pub mod testpki;
