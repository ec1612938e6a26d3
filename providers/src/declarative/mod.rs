//! Family D: providers with no adapter of their own (KB국민인증서, 신한인증서, Hana,
//! NH, Woori …), added by config alone.
//!
//! They follow the one pattern every provider follows (start a request, poll its
//! status, fetch the signed result once), so an operator describes the API in a
//! typed [`Description`] — base URL, auth scheme (`hmac`, `bearer`, `api_key`),
//! the three calls with their field mapping (optionally AES-256-GCM encrypted
//! fields), JSON dot paths of the answers, a table of state values and one of
//! error codes — and [`DeclarativeAdapter`] follows it. The result is checked
//! exactly as every provider's: [`crate::cms::verify`] over the nonce sent,
//! inside the request window, against this provider's own roots, and the person
//! the provider names must be the citizen who was asked.
//!
//! Not here: anything specific to one provider (that is what the description is
//! for), webhooks, document signing, or per-login state (all in
//! [`crate::adapter::Pending`]).

mod adapter;
pub mod config;
pub mod description;
pub(crate) mod json;

pub use adapter::DeclarativeAdapter;
pub use description::{
    ApiKeyAuth, Auth, BearerAuth, CmsEncoding, Description, DescriptionError, Encryption, Errors,
    HmacAuth, HttpMethod, NormalState, Reason, RequestField, ResultField, ResultOp, SignedPart,
    Source, StartOp, StatusOp,
};

use std::collections::BTreeMap;

/// The secret values a description names, by name. `Debug` prints names only;
/// no `Display`, `Serialize` or `PartialEq`.
#[derive(Clone, Default)]
pub struct DeclarativeSecrets(BTreeMap<String, Vec<u8>>);

impl std::fmt::Debug for DeclarativeSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl DeclarativeSecrets {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the secret `name`.
    pub fn insert(&mut self, name: impl Into<String>, value: Vec<u8>) {
        self.0.insert(name.into(), value);
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    pub(crate) fn get(&self, name: &str) -> Option<&[u8]> {
        self.0.get(name).map(Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_debug_shows_names_only() {
        let mut s = DeclarativeSecrets::new();
        s.insert("hmac_key", b"very-secret".to_vec());
        let d = format!("{s:?}");
        assert!(d.contains("hmac_key") && !d.contains("very-secret"), "{d}");
    }
}
