//! The gateway's token signing keys, loaded once and kept loaded.
//!
//! Signing must never re-import a key per token (that would cost more than the
//! signature), so each key is parsed at start into a ready signer. The public
//! halves are published at `/jwks`, with RFC 7638 thumbprints as `kid`.
//! Key rotation (a next key published ahead of use) is a later step.

use crate::config::model::{IdTokenAlg, KeySettings};
use base64::Engine as _;
use bytes::Bytes;
use josekit::jwk::Jwk;
use josekit::jws::{JwsHeader, JwsSigner, ES256, RS256};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("signing key file `{path}`: {reason}")]
    File { path: String, reason: String },
    #[error("signing failed: {0}")]
    Sign(String),
}

struct KeyEntry {
    kid: String,
    signer: Box<dyn JwsSigner>,
    public: Jwk,
}

/// The JWK `use` of the receipt-sealing key (RFC 7517 allows a
/// collision-resistant name besides `sig` and `enc`).
pub use munjigi_receipt::KEY_USE as RECEIPT_USE;

/// The receipt-sealing key's file in the keys folder; `receipt-es256.next.pem`
/// is published ahead of use like the others.
pub const RECEIPT_KEY_FILE: &str = "receipt-es256.pem";

pub struct SigningKeys {
    es256: KeyEntry,
    rs256: KeyEntry,
    /// The receipt-sealing key, when document signing is on.
    receipt: Option<KeyEntry>,
    jwks: Bytes,
    /// When each key file in use was last written (`es256`, `rs256`), for
    /// the key-age gauge: an operator sees a rotation overdue.
    written: Vec<(&'static str, std::time::SystemTime)>,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeys")
            .field("es256", &self.es256.kid)
            .field("rs256", &self.rs256.kid)
            .field("receipt", &self.receipt.as_ref().map(|r| &r.kid))
            .finish()
    }
}

fn file_err(path: &Path, reason: impl ToString) -> KeyError {
    KeyError::File {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// Reads a PEM key, or creates one when allowed (demo, tests).
fn read_or_generate(
    path: &Path,
    generate: bool,
    make: impl FnOnce() -> Result<Vec<u8>, String>,
) -> Result<Vec<u8>, KeyError> {
    match std::fs::read(path) {
        Ok(pem) => Ok(pem),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && generate => {
            let pem = make().map_err(|r| file_err(path, r))?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| file_err(path, e))?;
            }
            write_private(path, &pem).map_err(|e| file_err(path, e))?;
            tracing::warn!(path = %path.display(), "generated a new signing key");
            Ok(pem)
        }
        Err(e) => Err(file_err(
            path,
            format!("{e} (set keys.generate_missing = true to create it)"),
        )),
    }
}

#[cfg(unix)]
pub(crate) fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)
}

#[cfg(not(unix))]
pub(crate) fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, data)
}

/// RFC 7638 JWK thumbprint over the required members, in lexicographic order.
fn thumbprint(jwk: &Jwk, members: &[&str]) -> String {
    let mut canon = serde_json::Map::new();
    for m in members {
        if let Some(v) = jwk.parameter(m) {
            canon.insert((*m).to_owned(), v.clone());
        }
    }
    let json = serde_json::Value::Object(canon).to_string();
    let digest = openssl::sha::sha256(json.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

/// Files of receipt keys no longer used to seal, still published so that
/// receipts sealed with them verify against `/jwks`: `receipt-es256.retired*.pem`.
const RETIRED_RECEIPT_PREFIX: &str = "receipt-es256.retired";

/// The public JWKs (`use` [`RECEIPT_USE`], `key_ops` `verify`) of every
/// retired receipt key in `dir`, from a public or a private P-256 PEM.
fn retired_receipt_keys(dir: &Path) -> Result<Vec<Jwk>, KeyError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(file_err(dir, e)),
    };
    let mut paths: Vec<std::path::PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(RETIRED_RECEIPT_PREFIX) && n.ends_with(".pem"))
        })
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let pem = std::fs::read(path).map_err(|e| file_err(path, e))?;
            let mut jwk = p256_public_jwk(&pem).map_err(|e| file_err(path, e))?;
            jwk.set_key_use(RECEIPT_USE);
            jwk.set_key_operations(vec!["verify"]);
            Ok(jwk)
        })
        .collect()
}

/// The public JWK (thumbprint `kid`, `alg` ES256) of a P-256 key in PEM,
/// public or private.
fn p256_public_jwk(pem: &[u8]) -> Result<Jwk, String> {
    use openssl::ec::EcKey;
    use openssl::pkey::PKey;
    let ec = match PKey::private_key_from_pem(pem) {
        Ok(k) => {
            let private = k.ec_key().map_err(|_| "not an EC key".to_owned())?;
            EcKey::from_public_key(private.group(), private.public_key())
                .map_err(|e| e.to_string())?
        }
        Err(_) => PKey::public_key_from_pem(pem)
            .map_err(|_| "neither a public nor a private key PEM".to_owned())?
            .ec_key()
            .map_err(|_| "not an EC key".to_owned())?,
    };
    if ec.group().curve_name() != Some(openssl::nid::Nid::X9_62_PRIME256V1) {
        return Err("not a P-256 key".into());
    }
    let mut ctx = openssl::bn::BigNumContext::new().map_err(|e| e.to_string())?;
    let mut x = openssl::bn::BigNum::new().map_err(|e| e.to_string())?;
    let mut y = openssl::bn::BigNum::new().map_err(|e| e.to_string())?;
    ec.public_key()
        .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)
        .map_err(|_| "not a P-256 key".to_owned())?;
    let pad = |n: &openssl::bn::BigNum| {
        n.to_vec_padded(32)
            .map_err(|_| "not a P-256 key".to_owned())
    };
    let b64 = |v: Vec<u8>| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let map = serde_json::json!({
        "kty": "EC",
        "crv": "P-256",
        "x": b64(pad(&x)?),
        "y": b64(pad(&y)?),
    });
    let serde_json::Value::Object(map) = map else {
        return Err("a JWK is not an object".into());
    };
    let mut jwk = Jwk::from_map(map).map_err(|e| e.to_string())?;
    let kid = thumbprint(&jwk, &["crv", "kty", "x", "y"]);
    jwk.set_key_id(&kid);
    jwk.set_algorithm("ES256");
    Ok(jwk)
}

/// The public JWK (with its thumbprint `kid`, `use` `sig`) of a private key file.
fn public_jwk(pem: &[u8], alg: IdTokenAlg) -> Result<Jwk, String> {
    let (mut jwk, kid) = match alg {
        IdTokenAlg::Es256 => {
            let jwk = ES256
                .key_pair_from_pem(pem)
                .map_err(|e| format!("not a P-256 private key: {e}"))?
                .to_jwk_public_key();
            let kid = thumbprint(&jwk, &["crv", "kty", "x", "y"]);
            (jwk, kid)
        }
        IdTokenAlg::Rs256 => {
            let jwk = RS256
                .key_pair_from_pem(pem)
                .map_err(|e| format!("not an RSA private key: {e}"))?
                .to_jwk_public_key();
            let kid = thumbprint(&jwk, &["e", "kty", "n"]);
            (jwk, kid)
        }
    };
    jwk.set_key_id(&kid);
    jwk.set_key_use("sig");
    jwk.set_algorithm(match alg {
        IdTokenAlg::Es256 => "ES256",
        IdTokenAlg::Rs256 => "RS256",
    });
    Ok(jwk)
}

impl SigningKeys {
    /// The keys in `settings.dir`; with `receipts` (document signing is
    /// configured) the receipt-sealing key too.
    pub fn load(settings: &KeySettings, receipts: bool) -> Result<Self, KeyError> {
        let es_path = settings.dir.join("es256.pem");
        let es_pem = read_or_generate(&es_path, settings.generate_missing, || {
            ES256
                .generate_key_pair()
                .map(|k| k.to_pem_private_key())
                .map_err(|e| e.to_string())
        })?;
        let rs_path = settings.dir.join("rs256.pem");
        let rs_pem = read_or_generate(&rs_path, settings.generate_missing, || {
            RS256
                .generate_key_pair(2048)
                .map(|k| k.to_pem_private_key())
                .map_err(|e| e.to_string())
        })?;
        let mut keys = Self::from_pem(&es_pem, &rs_pem).map_err(|e| file_err(&settings.dir, e))?;
        let mut in_use = vec![("es256", es_path), ("rs256", rs_path)];
        // Published whenever the file is there, so a receipt key never
        // leaves /jwks because signing was switched off on one replica.
        let receipts = receipts || settings.dir.join(RECEIPT_KEY_FILE).exists();
        if receipts {
            let path = settings.dir.join(RECEIPT_KEY_FILE);
            let pem = read_or_generate(&path, settings.generate_missing, || {
                ES256
                    .generate_key_pair()
                    .map(|k| k.to_pem_private_key())
                    .map_err(|e| e.to_string())
            })?;
            keys = keys
                .with_receipt_pem(&pem)
                .map_err(|e| file_err(&path, e))?;
            in_use.push(("receipt", path));
        }
        for (name, path) in &in_use {
            if let Ok(at) = std::fs::metadata(path).and_then(|m| m.modified()) {
                keys.written.push((name, at));
            }
        }
        let mut next = Vec::new();
        let mut upcoming = vec![
            ("es256.next.pem", IdTokenAlg::Es256, "sig"),
            ("rs256.next.pem", IdTokenAlg::Rs256, "sig"),
        ];
        if receipts {
            upcoming.push(("receipt-es256.next.pem", IdTokenAlg::Es256, RECEIPT_USE));
        }
        for (file, alg, key_use) in upcoming {
            let path = settings.dir.join(file);
            match std::fs::read(&path) {
                Ok(pem) => {
                    let mut jwk = public_jwk(&pem, alg).map_err(|e| file_err(&path, e))?;
                    jwk.set_key_use(key_use);
                    next.push(jwk);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(file_err(&path, e)),
            }
        }
        next.extend(retired_receipt_keys(&settings.dir)?);
        keys.publish_also(&next)
            .map_err(|e| file_err(&settings.dir, e))?;
        Ok(keys)
    }

    /// When each key file in use was last written.
    pub fn written(&self) -> &[(&'static str, std::time::SystemTime)] {
        &self.written
    }

    /// Publishes the keys in use and `extra`; two keys with one `kid` are an
    /// error (a verifier would refuse both, and a receipt key could pass for
    /// a login key).
    fn publish_also(&mut self, extra: &[Jwk]) -> Result<(), String> {
        let mut all: Vec<&serde_json::Map<String, serde_json::Value>> =
            vec![self.es256.public.as_ref(), self.rs256.public.as_ref()];
        all.extend(self.receipt.iter().map(|r| r.public.as_ref()));
        all.extend(extra.iter().map(AsRef::as_ref));
        let mut kids = std::collections::HashSet::new();
        for k in &all {
            let kid = k.get("kid").and_then(|v| v.as_str()).unwrap_or_default();
            if !kids.insert(kid) {
                return Err(format!("two published keys have the kid `{kid}` (one key file copied to another name?)"));
            }
        }
        self.jwks = Bytes::from(serde_json::json!({ "keys": all }).to_string());
        Ok(())
    }

    /// The same keys with `pem` (a P-256 private key) as the receipt-sealing
    /// key, published with `use` [`RECEIPT_USE`].
    pub fn with_receipt_pem(mut self, pem: &[u8]) -> Result<Self, String> {
        let mut public =
            public_jwk(pem, IdTokenAlg::Es256).map_err(|e| format!("{RECEIPT_KEY_FILE}: {e}"))?;
        public.set_key_use(RECEIPT_USE);
        let kid = public.key_id().unwrap_or_default().to_owned();
        if kid == self.es256.kid {
            return Err(format!(
                "{RECEIPT_KEY_FILE} is the ID token key es256.pem: receipts need a key of their own"
            ));
        }
        let mut signer = ES256.signer_from_pem(pem).map_err(|e| e.to_string())?;
        signer.set_key_id(&kid);
        self.receipt = Some(KeyEntry {
            kid,
            signer: Box::new(signer),
            public,
        });
        self.publish_also(&[])?;
        Ok(self)
    }

    /// A receipt (`typ` its own) sealed with the receipt key; an error when
    /// the gateway was started without one (document signing off).
    pub fn seal_receipt<T: serde::Serialize>(
        &self,
        typ: &str,
        claims: &T,
    ) -> Result<String, KeyError> {
        let entry = self
            .receipt
            .as_ref()
            .ok_or_else(|| KeyError::Sign("no receipt key is loaded".into()))?;
        sign_with(entry, typ, claims)
    }

    pub fn from_pem(es_pem: &[u8], rs_pem: &[u8]) -> Result<Self, String> {
        let es_pair = ES256
            .key_pair_from_pem(es_pem)
            .map_err(|e| format!("es256.pem is not a P-256 private key: {e}"))?;
        let mut es_public = es_pair.to_jwk_public_key();
        let es_kid = thumbprint(&es_public, &["crv", "kty", "x", "y"]);
        es_public.set_key_id(&es_kid);
        es_public.set_key_use("sig");
        es_public.set_algorithm("ES256");
        let mut es_signer = ES256.signer_from_pem(es_pem).map_err(|e| e.to_string())?;
        es_signer.set_key_id(&es_kid);

        let rs_pair = RS256
            .key_pair_from_pem(rs_pem)
            .map_err(|e| format!("rs256.pem is not an RSA private key: {e}"))?;
        let mut rs_public = rs_pair.to_jwk_public_key();
        let rs_kid = thumbprint(&rs_public, &["e", "kty", "n"]);
        rs_public.set_key_id(&rs_kid);
        rs_public.set_key_use("sig");
        rs_public.set_algorithm("RS256");
        let mut rs_signer = RS256.signer_from_pem(rs_pem).map_err(|e| e.to_string())?;
        rs_signer.set_key_id(&rs_kid);

        let jwks = serde_json::json!({ "keys": [es_public.as_ref(), rs_public.as_ref()] });
        Ok(Self {
            es256: KeyEntry {
                kid: es_kid,
                signer: Box::new(es_signer),
                public: es_public,
            },
            rs256: KeyEntry {
                kid: rs_kid,
                signer: Box::new(rs_signer),
                public: rs_public,
            },
            receipt: None,
            jwks: Bytes::from(jwks.to_string()),
            written: Vec::new(),
        })
    }

    /// The JWK Set document served at `/jwks`.
    pub fn jwks(&self) -> Bytes {
        self.jwks.clone()
    }

    pub fn public_jwk(&self, alg: IdTokenAlg) -> &Jwk {
        &self.entry(alg).public
    }

    fn entry(&self, alg: IdTokenAlg) -> &KeyEntry {
        match alg {
            IdTokenAlg::Es256 => &self.es256,
            IdTokenAlg::Rs256 => &self.rs256,
        }
    }

    /// A compact JWS over `claims` (serialised as is), `typ` in the header.
    pub fn sign<T: serde::Serialize>(
        &self,
        alg: IdTokenAlg,
        typ: &str,
        claims: &T,
    ) -> Result<String, KeyError> {
        sign_with(self.entry(alg), typ, claims)
    }
}

fn sign_with<T: serde::Serialize>(
    entry: &KeyEntry,
    typ: &str,
    claims: &T,
) -> Result<String, KeyError> {
    let payload = serde_json::to_vec(claims).map_err(|e| KeyError::Sign(e.to_string()))?;
    let mut header = JwsHeader::new();
    header.set_token_type(typ);
    header.set_key_id(&entry.kid);
    josekit::jws::serialize_compact(&payload, &header, entry.signer.as_ref())
        .map_err(|e| KeyError::Sign(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_sign_and_verify_against_jwks() {
        let dir = std::env::temp_dir().join(format!("munjigi-keys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let settings = KeySettings {
            dir: dir.clone(),
            generate_missing: true,
        };
        let keys = SigningKeys::load(&settings, false).unwrap();
        // Loading again reads the same files: same kids.
        let again = SigningKeys::load(&settings, false).unwrap();
        assert_eq!(keys.jwks(), again.jwks());
        for alg in [IdTokenAlg::Es256, IdTokenAlg::Rs256] {
            let token = keys
                .sign(alg, "JWT", &serde_json::json!({"sub": "x"}))
                .unwrap();
            let jwk = keys.public_jwk(alg);
            let (payload, header) = match alg {
                IdTokenAlg::Es256 => josekit::jwt::decode_with_verifier(
                    &token,
                    &ES256.verifier_from_jwk(jwk).unwrap(),
                ),
                IdTokenAlg::Rs256 => josekit::jwt::decode_with_verifier(
                    &token,
                    &RS256.verifier_from_jwk(jwk).unwrap(),
                ),
            }
            .unwrap();
            assert_eq!(payload.subject(), Some("x"));
            assert_eq!(header.key_id(), jwk.key_id());
        }
        let refused = SigningKeys::load(
            &KeySettings {
                dir: dir.join("absent"),
                generate_missing: false,
            },
            false,
        );
        assert!(refused.is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn next_keys_are_published_but_not_used() {
        let dir = std::env::temp_dir().join(format!("munjigi-next-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let settings = KeySettings {
            dir: dir.clone(),
            generate_missing: true,
        };
        let before = SigningKeys::load(&settings, false).unwrap();
        let next = ES256.generate_key_pair().unwrap().to_pem_private_key();
        std::fs::write(dir.join("es256.next.pem"), &next).unwrap();
        let keys = SigningKeys::load(&settings, false).unwrap();
        let jwks: serde_json::Value = serde_json::from_slice(&keys.jwks()).unwrap();
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 3);
        let next_kid = public_jwk(&next, IdTokenAlg::Es256)
            .unwrap()
            .key_id()
            .unwrap()
            .to_owned();
        assert!(jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == next_kid.as_str()));
        // Tokens are still signed with the current key.
        let token = keys
            .sign(IdTokenAlg::Es256, "JWT", &serde_json::json!({"sub": "x"}))
            .unwrap();
        let header = josekit::jwt::decode_header(&token).unwrap();
        assert_eq!(
            header.claim("kid").and_then(|v| v.as_str()),
            before.public_jwk(IdTokenAlg::Es256).key_id()
        );
        std::fs::write(dir.join("rs256.next.pem"), b"not a key").unwrap();
        assert!(
            SigningKeys::load(&settings, false).is_err(),
            "a broken next key is an error"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn receipts_have_a_key_of_their_own() {
        let dir = std::env::temp_dir().join(format!("munjigi-rk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let settings = KeySettings {
            dir: dir.clone(),
            generate_missing: true,
        };
        // Without document signing: no receipt key, nothing sealed.
        let plain = SigningKeys::load(&settings, false).unwrap();
        assert!(!dir.join(RECEIPT_KEY_FILE).exists());
        assert!(plain.seal_receipt("t", &serde_json::json!({})).is_err());
        let keys = SigningKeys::load(&settings, true).unwrap();
        assert!(dir.join(RECEIPT_KEY_FILE).exists());
        let jwks: serde_json::Value = serde_json::from_slice(&keys.jwks()).unwrap();
        let all = jwks["keys"].as_array().unwrap();
        assert_eq!(all.len(), 3);
        let receipt: Vec<_> = all.iter().filter(|k| k["use"] == RECEIPT_USE).collect();
        assert_eq!(receipt.len(), 1, "{jwks}");
        assert_eq!(receipt[0]["alg"], "ES256");
        let kid = receipt[0]["kid"].as_str().unwrap();
        // Sealed with the receipt key, verifiable with it alone.
        let token = keys
            .seal_receipt("munjigi-receipt+jwt", &serde_json::json!({"a": 1}))
            .unwrap();
        let header = josekit::jwt::decode_header(&token).unwrap();
        assert_eq!(header.claim("kid").and_then(|v| v.as_str()), Some(kid));
        assert_ne!(Some(kid), keys.public_jwk(IdTokenAlg::Es256).key_id());
        // josekit verifies only with `sig` keys: the verifier checks `use` itself.
        let mut map = receipt[0].as_object().unwrap().clone();
        map.remove("use");
        let jwk = Jwk::from_map(map).unwrap();
        josekit::jws::deserialize_compact(&token, &ES256.verifier_from_jwk(&jwk).unwrap()).unwrap();
        let id_key = keys.public_jwk(IdTokenAlg::Es256);
        assert!(josekit::jws::deserialize_compact(
            &token,
            &ES256.verifier_from_jwk(id_key).unwrap()
        )
        .is_err());
        // The key age gauge sees it; its next key is published as a receipt key.
        assert!(keys.written().iter().any(|(n, _)| *n == "receipt"));
        let next = ES256.generate_key_pair().unwrap().to_pem_private_key();
        std::fs::write(dir.join("receipt-es256.next.pem"), &next).unwrap();
        let keys = SigningKeys::load(&settings, true).unwrap();
        let jwks: serde_json::Value = serde_json::from_slice(&keys.jwks()).unwrap();
        let receipt_keys = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["use"] == RECEIPT_USE)
            .count();
        assert_eq!(receipt_keys, 2, "{jwks}");
        // Published whenever its file is there, signing on or not.
        let without = SigningKeys::load(&settings, false).unwrap();
        assert_eq!(without.jwks(), keys.jwks());
        // Retired: still published, for verifying only, from a private or a
        // public PEM, with the kid it had.
        std::fs::remove_file(dir.join("receipt-es256.next.pem")).unwrap();
        std::fs::rename(
            dir.join(RECEIPT_KEY_FILE),
            dir.join("receipt-es256.retired-1.pem"),
        )
        .unwrap();
        let public = openssl::pkey::PKey::private_key_from_pem(&next)
            .unwrap()
            .public_key_to_pem()
            .unwrap();
        std::fs::write(dir.join("receipt-es256.retired-2.pem"), public).unwrap();
        let next_kid = public_jwk(&next, IdTokenAlg::Es256)
            .unwrap()
            .key_id()
            .unwrap()
            .to_owned();
        let keys = SigningKeys::load(&settings, true).unwrap();
        let jwks: serde_json::Value = serde_json::from_slice(&keys.jwks()).unwrap();
        let retired: Vec<&serde_json::Value> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["key_ops"] == serde_json::json!(["verify"]))
            .collect();
        assert_eq!(retired.len(), 2, "{jwks}");
        assert!(retired
            .iter()
            .all(|k| k["use"] == RECEIPT_USE && k["alg"] == "ES256"));
        assert!(retired.iter().any(|k| k["kid"] == kid), "{jwks}");
        assert!(
            retired.iter().any(|k| k["kid"] == next_kid.as_str()),
            "{jwks}"
        );
        assert!(keys
            .receipt
            .as_ref()
            .is_some_and(|r| r.kid != kid && r.kid != next_kid));
        std::fs::remove_file(dir.join("receipt-es256.retired-2.pem")).unwrap();
        std::fs::remove_file(dir.join("receipt-es256.retired-1.pem")).unwrap();
        // One kid twice (a key file copied to another name) is refused.
        std::fs::copy(dir.join("es256.pem"), dir.join("receipt-es256.next.pem")).unwrap();
        let e = SigningKeys::load(&settings, true).unwrap_err().to_string();
        assert!(e.contains("two published keys"), "{e}");
        std::fs::remove_file(dir.join("receipt-es256.next.pem")).unwrap();
        // The ID token key can never double as the receipt key.
        std::fs::copy(dir.join("es256.pem"), dir.join(RECEIPT_KEY_FILE)).unwrap();
        let e = SigningKeys::load(&settings, true).unwrap_err().to_string();
        assert!(e.contains("own"), "{e}");
        // Missing and not to be generated: an error naming the file.
        std::fs::remove_file(dir.join(RECEIPT_KEY_FILE)).unwrap();
        let e = SigningKeys::load(
            &KeySettings {
                dir: dir.clone(),
                generate_missing: false,
            },
            true,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains(RECEIPT_KEY_FILE), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
