//! Everything Munjigi knows about certificate providers, and nothing about sites.
//!
//! A provider adapter turns one provider's relying-party API (push a request to the
//! citizen's app, poll, fetch the signed result once) into the small [`adapter::Provider`]
//! contract, and checks the provider's signed result before anything is
//! believed: one check for every family ([`binding`]: the content asked, the
//! request window, the person asked) over the format's own ([`cms`]). The
//! gateway builds the normalised [`assertion::Assertion`] from the adapter's
//! [`adapter::Verified`] result, so sites never see provider differences.
//!
//! A family is one folder: its wire types and codes (the provider's API as
//! documented), its adapter, and how it is configured.
//!
//! Not here: OIDC, SAML, proxy or any server type of the gateway (this crate
//! only uses an HTTP client); the shared value types (`munjigi-model`,
//! re-exported here); and anything that makes what the adapters check — the
//! simulator, test PKIs, CMS signing and BER writing live in `munjigi-sim`,
//! so a production build can only verify.
//!
//! Logs from this crate carry ids, codes and durations; never personal data
//! ([`person`] types have no `Display`), keys, tokens or signed data.

pub mod adapter;
pub mod barocert;
pub mod binding;
pub mod callback;
pub mod cms;
pub mod config;
pub mod declarative;
pub mod error;
pub mod hmac;
pub mod http_client;
pub mod json;
pub mod kakao_direct;
pub mod mobile_id;
pub mod openid4vp;
pub mod signing;
pub mod toss_direct;
pub mod trace;
pub mod url_rule;

pub use adapter::{
    app_link_is_safe, market_link_is_safe, AppToApp, AppToAppSupport, Carrier, Challenge, Pending,
    PhoneOs, Provider, Reach, Status, Verified,
};
pub use error::ProviderError;
// The shared values live in `munjigi-model` (so `policy` need not compile this
// crate); re-exported under their old paths.
pub use munjigi_model::{assertion, person, signer_cn};
pub use munjigi_model::{
    Assertion, BirthDate, Ci, Citizen, CmsEvidence, Evidence, Gender, Level, Name, Person, Phone,
    PresentationEvidence, ProviderId, SignerCn,
};
