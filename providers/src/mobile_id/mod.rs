//! The Korean mobile ID (모바일 신분증) as a provider family: the gateway is
//! the service provider (SP) of the government's mobile-ID verification
//! interface (message specification v1.8.0, `mip` messages), and the
//! citizen's wallet app presents a driving licence or resident ID.
//!
//! Unlike the certificate providers, the result does not come from polling
//! a provider: the wallet calls the SP back (`/mip/profile`, `/mip/vp`,
//! `/mip/error`) with a verifiable presentation encrypted to the SP, through
//! the contract's callbacks ([`crate::callback`]; the [`adapter`] keeps each
//! login's step in the gateway's store). The [`push`] server delivers the
//! request to the citizen's phone; the [`trust`] list stands in for the
//! DID registry; [`config`] is the SP's registration. What can be decided
//! without I/O is apart, so it can be tested and fuzzed alone: the wire's encodings ([`b64`]) and messages ([`msg`]), the
//! JSON form that is signed ([`canon`]), the profile the SP serves
//! ([`profile`]), the signatures of profiles, presentations and credentials
//! ([`sig`]), the presentation's encryption to the SP ([`seal`]), and the
//! checks a decrypted presentation must pass ([`vp`]).
//!
//! The specification leaves the signed form and the signature encoding
//! unsaid; they were established from the reference SP's published test
//! material (see each module). Where it is ambiguous, the strict reading is
//! taken and named in the module that takes it.

pub mod adapter;
pub mod b64;
pub mod canon;
pub mod config;
pub mod msg;
pub mod profile;
pub mod push;
pub mod seal;
pub mod sig;
pub mod trust;
pub mod vp;
