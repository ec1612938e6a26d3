//! `direct_post.jwt` (OpenID4VP 1.0 §8.3): the wallet's response encrypted
//! to a key the verifier put in the request, as a compact JWE with `alg`
//! `ECDH-ES` (direct key agreement, RFC 7518 §4.6) and `enc` `A128GCM` or
//! `A256GCM`.
//!
//! Each login gets its own P-256 key, derived from the verifier's secret
//! and the login's id ([`response_key`]), so nothing secret is stored per
//! login and any replica can open any response; its `kid` is the login's
//! id, which a JWE must repeat. Strict choices: no `zip` (a compressed
//! plaintext is a decompression bomb waiting), no `crit`, an empty
//! encrypted key (direct agreement has none), a 96-bit IV and 128-bit tag,
//! an ephemeral key on P-256 (checked on the curve before any agreement).
//! Why not josekit: it would inflate `zip` and take any `enc` it knows.

use super::jose::{b64url, p256_jwk};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use openssl::bn::{BigNum, BigNumContext};
use openssl::derive::Deriver;
use openssl::ec::{EcGroup, EcKey, EcPoint};
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::symm::Cipher;
use serde_json::{json, Map, Value};

/// The largest JWE opened (a presentation or two, with room).
pub const MAX_LEN: usize = 192 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JweError {
    #[error("not a JWE of the expected shape: {0}")]
    Shape(&'static str),
    #[error("not for this login's key")]
    Kid,
    #[error("does not decrypt")]
    Decrypt,
}

type R<T> = Result<T, JweError>;

/// This login's response key: a P-256 private key from `secret` and `id`,
/// the same on every replica.
pub fn response_key(secret: &[u8], id: &str) -> Option<EcKey<Private>> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).ok()?;
    let mut ctx = BigNumContext::new().ok()?;
    let mut order = BigNum::new().ok()?;
    group.order(&mut order, &mut ctx).ok()?;
    // 384 bits reduced modulo the order: no bias worth the name.
    let a = crate::hmac::sha256(
        secret,
        &[b"munjigi-oid4vp-response-key-v1\0", id.as_bytes()],
    );
    let b = crate::hmac::sha256(
        secret,
        &[b"munjigi-oid4vp-response-key-v1\x01", id.as_bytes()],
    );
    let mut wide = a.to_vec();
    wide.extend(b.get(..16)?);
    let raw = BigNum::from_slice(&wide).ok()?;
    let mut d = BigNum::new().ok()?;
    d.nnmod(&raw, &order, &mut ctx).ok()?;
    if d.num_bits() == 0 {
        return None;
    }
    let mut point = EcPoint::new(&group).ok()?;
    point.mul_generator2(&group, &d, &mut ctx).ok()?;
    EcKey::from_private_components(&group, &d, &point).ok()
}

/// The public JWK the request object carries for `key`, named `kid`.
pub fn public_jwk(key: &EcKey<Private>, kid: &str) -> Option<Value> {
    let group = key.group();
    let mut ctx = BigNumContext::new().ok()?;
    let (mut x, mut y) = (BigNum::new().ok()?, BigNum::new().ok()?);
    key.public_key()
        .affine_coordinates(group, &mut x, &mut y, &mut ctx)
        .ok()?;
    Some(json!({
        "kty": "EC", "crv": "P-256", "use": "enc", "alg": "ECDH-ES", "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(x.to_vec_padded(32).ok()?),
        "y": URL_SAFE_NO_PAD.encode(y.to_vec_padded(32).ok()?),
    }))
}

/// The `kid` of a compact JWE's header, read before anything is opened (to
/// find the login it is for).
pub fn kid(compact: &str) -> Option<String> {
    let h = header(compact.split('.').next()?)?;
    h.get("kid")?.as_str().map(str::to_owned)
}

/// A protected header: a JSON object naming no member twice.
fn header(b64: &str) -> Option<Map<String, Value>> {
    let bytes = b64url(b64)?;
    crate::json::unique_keys(&bytes).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Concat KDF (NIST SP 800-56A, RFC 7518 §4.6.2) for one SHA-256 round.
fn concat_kdf(z: &[u8], enc: &str, apu: &[u8], apv: &[u8], bits: u32) -> Vec<u8> {
    let mut h = openssl::sha::Sha256::new();
    h.update(&1u32.to_be_bytes());
    h.update(z);
    for part in [enc.as_bytes(), apu, apv] {
        h.update(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
        h.update(part);
    }
    h.update(&bits.to_be_bytes());
    let out = h.finish();
    out.get(..(bits / 8) as usize).unwrap_or(&out).to_vec()
}

/// Seals `plaintext` to `to` (a public P-256 JWK with its `kid`) as a
/// wallet seals a response: ECDH-ES with a fresh ephemeral key, `enc`
/// A128GCM or A256GCM. For the simulator's wallet and the tests; the
/// gateway only opens.
pub fn seal(to: &Value, enc: &str, plaintext: &[u8]) -> Option<String> {
    let peer = p256_jwk(to.as_object()?)?;
    let (cipher, bits) = match enc {
        "A128GCM" => (Cipher::aes_128_gcm(), 128),
        "A256GCM" => (Cipher::aes_256_gcm(), 256),
        _ => return None,
    };
    let eph = EcKey::generate(peer.group()).ok()?;
    let mut epk = public_jwk(&eph, "")?;
    if let Some(o) = epk.as_object_mut() {
        for k in ["kid", "use", "alg"] {
            o.remove(k);
        }
    }
    let header = json!({"alg": "ECDH-ES", "enc": enc, "kid": to.get("kid")?, "epk": epk});
    let h64 = URL_SAFE_NO_PAD.encode(header.to_string());
    let (mine, theirs) = (PKey::from_ec_key(eph).ok()?, PKey::from_ec_key(peer).ok()?);
    let mut d = Deriver::new(&mine).ok()?;
    d.set_peer(&theirs).ok()?;
    let z = d.derive_to_vec().ok()?;
    let cek = concat_kdf(&z, enc, b"", b"", bits);
    let mut iv = [0u8; 12];
    openssl::rand::rand_bytes(&mut iv).ok()?;
    let mut tag = [0u8; 16];
    let ct =
        openssl::symm::encrypt_aead(cipher, &cek, Some(&iv), h64.as_bytes(), plaintext, &mut tag)
            .ok()?;
    Some(format!(
        "{h64}..{}.{}.{}",
        URL_SAFE_NO_PAD.encode(iv),
        URL_SAFE_NO_PAD.encode(ct),
        URL_SAFE_NO_PAD.encode(tag)
    ))
}

/// Opens a compact JWE made for `key` (named `kid`); the plaintext.
pub fn open(compact: &str, key: &EcKey<Private>, kid: &str) -> R<Vec<u8>> {
    if compact.len() > MAX_LEN {
        return Err(JweError::Shape("too long"));
    }
    let parts: Vec<&str> = compact.split('.').collect();
    let [header_b64, encrypted_key, iv, ciphertext, tag] = parts.as_slice() else {
        return Err(JweError::Shape("not five parts"));
    };
    let header = header(header_b64).ok_or(JweError::Shape("header"))?;
    let text = |k: &str| header.get(k).and_then(Value::as_str);
    if text("alg") != Some("ECDH-ES") {
        return Err(JweError::Shape("alg"));
    }
    let (cipher, bits) = match text("enc") {
        Some("A128GCM") => (Cipher::aes_128_gcm(), 128),
        Some("A256GCM") => (Cipher::aes_256_gcm(), 256),
        _ => return Err(JweError::Shape("enc")),
    };
    if header.contains_key("zip") || header.contains_key("crit") {
        return Err(JweError::Shape("zip or crit"));
    }
    if text("kid") != Some(kid) {
        return Err(JweError::Kid);
    }
    if !encrypted_key.is_empty() {
        return Err(JweError::Shape("an encrypted key with direct agreement"));
    }
    let epk = header
        .get("epk")
        .and_then(Value::as_object)
        .and_then(p256_jwk)
        .ok_or(JweError::Shape("epk"))?;
    let party = |k: &str| match header.get(k) {
        None => Some(Vec::new()),
        Some(v) => v.as_str().and_then(b64url),
    };
    let (apu, apv) = (
        party("apu").ok_or(JweError::Shape("apu"))?,
        party("apv").ok_or(JweError::Shape("apv"))?,
    );
    let iv = b64url(iv)
        .filter(|v| v.len() == 12)
        .ok_or(JweError::Shape("iv"))?;
    let tag = b64url(tag)
        .filter(|t| t.len() == 16)
        .ok_or(JweError::Shape("tag"))?;
    let ciphertext = b64url(ciphertext).ok_or(JweError::Shape("ciphertext"))?;
    let ours = PKey::from_ec_key(key.clone()).map_err(|_| JweError::Decrypt)?;
    let theirs = PKey::from_ec_key(epk).map_err(|_| JweError::Decrypt)?;
    let z = Deriver::new(&ours)
        .and_then(|mut d| {
            d.set_peer(&theirs)?;
            d.derive_to_vec()
        })
        .map_err(|_| JweError::Decrypt)?;
    let enc = text("enc").unwrap_or_default();
    let cek = concat_kdf(&z, enc, &apu, &apv, bits);
    openssl::symm::decrypt_aead(
        cipher,
        &cek,
        Some(&iv),
        header_b64.as_bytes(),
        &ciphertext,
        &tag,
    )
    .map_err(|_| JweError::Decrypt)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seals as a wallet would, with extra header members (the e2e test
    /// seals with jwcrypto; this reaches every refusal).
    fn seal_with(to: &Value, enc: &str, plaintext: &[u8], extra: &Map<String, Value>) -> String {
        let sealed = seal(to, enc, plaintext).unwrap_or_else(|| {
            // An `enc` seal refuses: made by hand with A128GCM's key size.
            let mut t = seal(to, "A128GCM", plaintext).unwrap();
            let h: Value = serde_json::from_slice(
                &URL_SAFE_NO_PAD
                    .decode(t.split('.').next().unwrap())
                    .unwrap(),
            )
            .unwrap();
            let mut h = h;
            h["enc"] = json!(enc);
            let rest = t.split_off(t.find('.').unwrap());
            format!("{}{rest}", URL_SAFE_NO_PAD.encode(h.to_string()))
        });
        if extra.is_empty() {
            return sealed;
        }
        let mut h: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(sealed.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        h.as_object_mut().unwrap().extend(extra.clone());
        let rest = &sealed[sealed.find('.').unwrap()..];
        format!("{}{rest}", URL_SAFE_NO_PAD.encode(h.to_string()))
    }

    #[test]
    fn a_response_opens_only_with_this_logins_key_and_kid() {
        let k = response_key(b"secret", "login-1").unwrap();
        assert_eq!(
            k.private_key().to_vec(),
            response_key(b"secret", "login-1")
                .unwrap()
                .private_key()
                .to_vec(),
            "every replica derives the same key"
        );
        let other = response_key(b"secret", "login-2").unwrap();
        assert_ne!(k.private_key().to_vec(), other.private_key().to_vec());
        let jwk = public_jwk(&k, "login-1").unwrap();
        for enc in ["A128GCM", "A256GCM"] {
            let jwe = seal(&jwk, enc, b"{\"vp_token\":{}}").unwrap();
            assert_eq!(kid(&jwe).as_deref(), Some("login-1"));
            assert_eq!(open(&jwe, &k, "login-1").unwrap(), b"{\"vp_token\":{}}");
            assert_eq!(open(&jwe, &other, "login-1"), Err(JweError::Decrypt));
            assert_eq!(open(&jwe, &k, "login-2"), Err(JweError::Kid));
        }
    }

    /// RFC 7518 Appendix C: the published ECDH-ES key agreement (Alice's
    /// ephemeral key, Bob's key, `apu` Alice, `apv` Bob, A128GCM).
    #[test]
    fn the_key_agreement_of_rfc_7518_appendix_c() {
        let n = |s: &str| BigNum::from_slice(&URL_SAFE_NO_PAD.decode(s).unwrap()).unwrap();
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let alice = EcKey::from_public_key_affine_coordinates(
            &group,
            &n("gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0"),
            &n("SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps"),
        )
        .unwrap();
        let bob_d = n("VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw");
        let mut ctx = BigNumContext::new().unwrap();
        let mut bob_pub = EcPoint::new(&group).unwrap();
        bob_pub.mul_generator2(&group, &bob_d, &mut ctx).unwrap();
        let bob = EcKey::from_private_components(&group, &bob_d, &bob_pub).unwrap();
        let (mut x, mut y) = (BigNum::new().unwrap(), BigNum::new().unwrap());
        bob_pub
            .affine_coordinates(&group, &mut x, &mut y, &mut ctx)
            .unwrap();
        assert_eq!(
            URL_SAFE_NO_PAD.encode(x.to_vec()),
            "weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ"
        );
        let (mine, theirs) = (
            PKey::from_ec_key(bob).unwrap(),
            PKey::from_ec_key(alice).unwrap(),
        );
        let mut d = Deriver::new(&mine).unwrap();
        d.set_peer(&theirs).unwrap();
        let z = d.derive_to_vec().unwrap();
        assert_eq!(
            URL_SAFE_NO_PAD.encode(concat_kdf(&z, "A128GCM", b"Alice", b"Bob", 128)),
            "VqqN6vgjbSBcIijNcacQGg"
        );
    }

    #[test]
    fn every_bent_header_or_part_is_refused() {
        let k = response_key(b"secret", "l").unwrap();
        let jwk = public_jwk(&k, "l").unwrap();
        let good = seal(&jwk, "A128GCM", b"{}").unwrap();
        for (k2, v) in [("zip", json!("DEF")), ("crit", json!(["exp"]))] {
            let mut extra = Map::new();
            extra.insert(k2.into(), v);
            let jwe = seal_with(&jwk, "A128GCM", b"{}", &extra);
            assert_eq!(open(&jwe, &k, "l"), Err(JweError::Shape("zip or crit")));
        }
        assert_eq!(
            open(&seal_with(&jwk, "A192GCM", b"{}", &Map::new()), &k, "l"),
            Err(JweError::Shape("enc"))
        );
        let parts: Vec<&str> = good.split('.').collect();
        let with = |i: usize, v: &str| {
            let mut p = parts.clone();
            p[i] = v;
            p.join(".")
        };
        assert_eq!(
            open(&with(1, "AAAA"), &k, "l"),
            Err(JweError::Shape("an encrypted key with direct agreement"))
        );
        assert_eq!(open(&with(2, "AAAA"), &k, "l"), Err(JweError::Shape("iv")));
        assert_eq!(open(&with(4, "AAAA"), &k, "l"), Err(JweError::Shape("tag")));
        let mut ct = URL_SAFE_NO_PAD.decode(parts[3]).unwrap();
        ct[0] ^= 1;
        assert_eq!(
            open(&with(3, &URL_SAFE_NO_PAD.encode(ct)), &k, "l"),
            Err(JweError::Decrypt)
        );
        assert_eq!(
            open("a.b.c", &k, "l"),
            Err(JweError::Shape("not five parts"))
        );
        // A header naming a member twice.
        let twice = format!(
            "{}{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"ECDH-ES","kid":"x","kid":"l"}"#),
            &good[good.find('.').unwrap()..]
        );
        assert_eq!(open(&twice, &k, "l"), Err(JweError::Shape("header")));
        assert_eq!(kid(&twice), None);
        // An ephemeral key off the curve.
        let mut header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        header["epk"]["y"] = json!(URL_SAFE_NO_PAD.encode([1u8; 32]));
        let bent = with(0, &URL_SAFE_NO_PAD.encode(header.to_string()));
        assert_eq!(open(&bent, &k, "l"), Err(JweError::Shape("epk")));
    }
}
