//! Secrets referenced from the config: by environment variable, by file, or inline.
//!
//! A [`Secret`] never prints (`Debug` shows `Secret(..)`), has no `Display`,
//! `Serialize` or `PartialEq`, and compares in constant time.

use serde::Deserialize;
use subtle::ConstantTimeEq;

/// Where a secret comes from; inline values are for demos and tests.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    pub env: Option<String>,
    pub file: Option<String>,
    #[serde(default)]
    pub value: Option<InlineSecret>,
}

/// An inline secret as read from the file; debug-redacted.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct InlineSecret(String);

impl std::fmt::Debug for InlineSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InlineSecret(..)")
    }
}

impl SecretRef {
    /// Resolves the reference, relative files against `base`.
    pub fn resolve(&self, base: &std::path::Path) -> Result<Secret, String> {
        let given = [
            self.env.is_some(),
            self.file.is_some(),
            self.value.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err("give exactly one of `env`, `file` or `value`".into());
        }
        if let Some(name) = &self.env {
            return std::env::var(name)
                .map(|v| Secret::new(v.into_bytes()))
                .map_err(|_| format!("environment variable `{name}` is not set"));
        }
        if let Some(path) = &self.file {
            let p = base.join(path);
            return std::fs::read(&p)
                .map(|mut v| {
                    while v.last().is_some_and(|b| b.is_ascii_whitespace()) {
                        v.pop();
                    }
                    Secret::new(v)
                })
                .map_err(|e| format!("cannot read secret file `{}`: {e}", p.display()));
        }
        match &self.value {
            Some(v) => Ok(Secret::new(v.0.clone().into_bytes())),
            None => Err("give exactly one of `env`, `file` or `value`".into()),
        }
    }
}

/// A resolved secret.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    pub fn new(v: Vec<u8>) -> Self {
        Self(v)
    }
    /// Constant-time comparison; lengths may differ (then false, still without
    /// an early exit on content).
    pub fn matches(&self, given: &[u8]) -> bool {
        self.0.len() == given.len() && bool::from(self.0.ct_eq(given))
    }
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

/// How a provider family's builder reads the secret it was configured with.
impl AsRef<[u8]> for Secret {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_matches_only_exact_bytes() {
        let s = Secret::new(b"abc".to_vec());
        assert!(s.matches(b"abc"));
        assert!(!s.matches(b"abd"));
        assert!(!s.matches(b"abcd"));
        assert!(!s.matches(b""));
        assert_eq!(format!("{s:?}"), "Secret(..)");
    }

    #[test]
    fn exactly_one_source() {
        let r: SecretRef = toml::from_str("value = \"x\"\nenv = \"Y\"").unwrap();
        assert!(r.resolve(std::path::Path::new(".")).is_err());
        let r: SecretRef = toml::from_str("value = \"x\"").unwrap();
        assert!(r.resolve(std::path::Path::new(".")).unwrap().matches(b"x"));
    }
}
