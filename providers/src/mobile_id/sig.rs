//! The signatures of the mobile-ID interface: ECDSA over SHA-256 of the
//! signed JSON form ([`super::canon`]), on secp256k1 (`K1`, the SP's and
//! some issuers' keys) or secp256r1 (`R1`, the holder's wallet key and other
//! issuers'), written in the compact form the reference platform (EOSIO's)
//! uses: 65 bytes `header ‖ r ‖ s`, the header `31 + recovery id`, in
//! Bitcoin-alphabet base58.
//!
//! - Profiles, presentations and DID documents carry that base58 in
//!   `proof.signatureValue`.
//! - Credentials carry EOSIO's key-typed form: `SIG_K1_` or `SIG_R1_`, then
//!   base58 of the 65 bytes followed by the first four bytes of
//!   RIPEMD-160(65 bytes ‖ "K1" or "R1"), a checksum that is checked.
//!
//! Public keys are compressed SEC1 points in base58 (`publicKeyBase58`).
//! A signature is verified against the key the DID document names, never
//! against a key recovered from the signature; recovery is only used to
//! write a correct header when we sign.

use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey, EcPoint, PointConversionForm};
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use openssl::pkey::{Private, Public};
use ripemd::Digest as _;

/// The two curves of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// secp256k1 (`Secp256k1VerificationKey2018`).
    K1,
    /// secp256r1 / P-256 (`Secp256r1VerificationKey2018`).
    R1,
}

impl Curve {
    fn nid(self) -> Nid {
        match self {
            Curve::K1 => Nid::SECP256K1,
            Curve::R1 => Nid::X9_62_PRIME256V1,
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Curve::K1 => "K1",
            Curve::R1 => "R1",
        }
    }

    /// The curve a proof's or key's `type` names.
    pub fn of_type(t: &str) -> Option<Curve> {
        match t {
            "Secp256k1VerificationKey2018" => Some(Curve::K1),
            "Secp256r1VerificationKey2018" => Some(Curve::R1),
            _ => None,
        }
    }

    fn group(self) -> Result<EcGroup, SigError> {
        EcGroup::from_curve_name(self.nid()).map_err(|_| SigError::Crypto)
    }
}

/// Why a signature or key is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    #[error("not base58")]
    Encoding,
    #[error("not a 65-byte compact signature")]
    Length,
    #[error("the signature's header is not 31 to 34")]
    Header,
    #[error("the SIG_ prefix names another curve")]
    CurvePrefix,
    #[error("the SIG_ checksum does not match")]
    Checksum,
    #[error("not a compressed public key on the curve")]
    Key,
    #[error("the signature does not verify")]
    Mismatch,
    #[error("the cryptographic library failed")]
    Crypto,
}

/// A compact signature: `header ‖ r ‖ s`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compact {
    header: u8,
    r: [u8; 32],
    s: [u8; 32],
}

impl Compact {
    /// From base58 (`proof.signatureValue` of profiles and presentations).
    pub fn from_base58(text: &str) -> Result<Self, SigError> {
        let raw = bs58::decode(text)
            .into_vec()
            .map_err(|_| SigError::Encoding)?;
        Self::from_bytes(&raw)
    }

    fn from_bytes(raw: &[u8]) -> Result<Self, SigError> {
        let (&header, rest) = raw.split_first().ok_or(SigError::Length)?;
        let (r, rest) = rest.split_first_chunk::<32>().ok_or(SigError::Length)?;
        let s: &[u8; 32] = rest.try_into().map_err(|_| SigError::Length)?;
        if !(31..=34).contains(&header) {
            return Err(SigError::Header);
        }
        Ok(Compact {
            header,
            r: *r,
            s: *s,
        })
    }

    fn bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(65);
        v.push(self.header);
        v.extend_from_slice(&self.r);
        v.extend_from_slice(&self.s);
        v
    }

    /// From EOSIO's `SIG_K1_…` / `SIG_R1_…` (credentials), checksum checked;
    /// the prefix must name `curve`.
    pub fn from_eosio(text: &str, curve: Curve) -> Result<Self, SigError> {
        let body = text
            .strip_prefix("SIG_")
            .and_then(|t| t.strip_prefix(curve.tag()))
            .and_then(|t| t.strip_prefix('_'))
            .ok_or(SigError::CurvePrefix)?;
        let raw = bs58::decode(body)
            .into_vec()
            .map_err(|_| SigError::Encoding)?;
        if raw.len() != 69 {
            return Err(SigError::Length);
        }
        let (sig, sum) = raw.split_at_checked(65).ok_or(SigError::Length)?;
        if checksum(sig, curve) != sum {
            return Err(SigError::Checksum);
        }
        Self::from_bytes(sig)
    }

    pub fn to_base58(&self) -> String {
        bs58::encode(self.bytes()).into_string()
    }

    pub fn to_eosio(&self, curve: Curve) -> String {
        let mut raw = self.bytes();
        raw.extend_from_slice(&checksum(&self.bytes(), curve));
        format!("SIG_{}_{}", curve.tag(), bs58::encode(raw).into_string())
    }

    fn ecdsa(&self) -> Result<EcdsaSig, SigError> {
        let r = BigNum::from_slice(&self.r).map_err(|_| SigError::Crypto)?;
        let s = BigNum::from_slice(&self.s).map_err(|_| SigError::Crypto)?;
        EcdsaSig::from_private_components(r, s).map_err(|_| SigError::Crypto)
    }
}

fn checksum(sig: &[u8], curve: Curve) -> [u8; 4] {
    let mut h = ripemd::Ripemd160::new();
    h.update(sig);
    h.update(curve.tag().as_bytes());
    let d = h.finalize();
    d.first_chunk::<4>().copied().unwrap_or_default()
}

/// A public key of `curve` from its compressed SEC1 base58 form.
pub fn public_key(curve: Curve, base58: &str) -> Result<EcKey<Public>, SigError> {
    let raw = bs58::decode(base58)
        .into_vec()
        .map_err(|_| SigError::Encoding)?;
    if raw.len() != 33 || !matches!(raw.first(), Some(2 | 3)) {
        return Err(SigError::Key);
    }
    let group = curve.group()?;
    let mut ctx = BigNumContext::new().map_err(|_| SigError::Crypto)?;
    let point = EcPoint::from_bytes(&group, &raw, &mut ctx).map_err(|_| SigError::Key)?;
    let key = EcKey::from_public_key(&group, &point).map_err(|_| SigError::Key)?;
    key.check_key().map_err(|_| SigError::Key)?;
    Ok(key)
}

/// A key's compressed SEC1 base58 form (what a DID document publishes).
pub fn public_key_base58<T: openssl::pkey::HasPublic>(
    curve: Curve,
    key: &EcKey<T>,
) -> Result<String, SigError> {
    let group = curve.group()?;
    let mut ctx = BigNumContext::new().map_err(|_| SigError::Crypto)?;
    let raw = key
        .public_key()
        .to_bytes(&group, PointConversionForm::COMPRESSED, &mut ctx)
        .map_err(|_| SigError::Crypto)?;
    Ok(bs58::encode(raw).into_string())
}

/// Checks `sig` over `message` (the signed JSON form) against `key`.
pub fn verify(key: &EcKey<Public>, message: &[u8], sig: &Compact) -> Result<(), SigError> {
    let digest = openssl::sha::sha256(message);
    match sig.ecdsa()?.verify(&digest, key) {
        Ok(true) => Ok(()),
        _ => Err(SigError::Mismatch),
    }
}

/// Signs `message` with `key` on `curve`, with the header a verifier that
/// recovers the key expects.
pub fn sign(curve: Curve, key: &EcKey<Private>, message: &[u8]) -> Result<Compact, SigError> {
    let digest = openssl::sha::sha256(message);
    let sig = EcdsaSig::sign(&digest, key).map_err(|_| SigError::Crypto)?;
    let fixed = |b: &openssl::bn::BigNumRef| -> Result<[u8; 32], SigError> {
        b.to_vec_padded(32)
            .ok()
            .and_then(|v| <[u8; 32]>::try_from(v.as_slice()).ok())
            .ok_or(SigError::Crypto)
    };
    let (r, s) = (fixed(sig.r())?, fixed(sig.s())?);
    let group = curve.group()?;
    let mut ctx = BigNumContext::new().map_err(|_| SigError::Crypto)?;
    let mine = key
        .public_key()
        .to_bytes(&group, PointConversionForm::COMPRESSED, &mut ctx)
        .map_err(|_| SigError::Crypto)?;
    for recid in 0u8..4 {
        let candidate = Compact {
            header: 31 + recid,
            r,
            s,
        };
        if let Ok(p) = recover(curve, &digest, &candidate) {
            if p == mine {
                return Ok(candidate);
            }
        }
    }
    Err(SigError::Crypto)
}

/// The compressed public key a compact signature over `digest` recovers to
/// (SEC 1 §4.1.6), for [`sign`]'s header and for tests.
pub fn recover(curve: Curve, digest: &[u8; 32], sig: &Compact) -> Result<Vec<u8>, SigError> {
    let c = |_| SigError::Crypto;
    let recid = sig.header.checked_sub(31).ok_or(SigError::Header)?;
    let group = curve.group()?;
    let mut ctx = BigNumContext::new().map_err(c)?;
    let mut n = BigNum::new().map_err(c)?;
    group.order(&mut n, &mut ctx).map_err(c)?;
    let (mut p, mut a, mut b) = (
        BigNum::new().map_err(c)?,
        BigNum::new().map_err(c)?,
        BigNum::new().map_err(c)?,
    );
    group
        .components_gfp(&mut p, &mut a, &mut b, &mut ctx)
        .map_err(c)?;
    let r = BigNum::from_slice(&sig.r).map_err(c)?;
    let s = BigNum::from_slice(&sig.s).map_err(c)?;
    let mut x = BigNum::new().map_err(c)?;
    if recid >= 2 {
        x.checked_add(&r, &n).map_err(c)?;
    } else {
        x = r.to_owned().map_err(c)?;
    }
    if x >= p {
        return Err(SigError::Mismatch);
    }
    let mut enc = vec![2 | (recid & 1)];
    enc.extend(x.to_vec_padded(32).map_err(c)?);
    let big_r = EcPoint::from_bytes(&group, &enc, &mut ctx).map_err(|_| SigError::Mismatch)?;
    let e = BigNum::from_slice(digest).map_err(c)?;
    let mut rinv = BigNum::new().map_err(c)?;
    rinv.mod_inverse(&r, &n, &mut ctx).map_err(c)?;
    let mut er = BigNum::new().map_err(c)?;
    er.mod_mul(&e, &rinv, &n, &mut ctx).map_err(c)?;
    let mut u1 = BigNum::new().map_err(c)?;
    u1.mod_sub(&n, &er, &n, &mut ctx).map_err(c)?;
    let mut u2 = BigNum::new().map_err(c)?;
    u2.mod_mul(&s, &rinv, &n, &mut ctx).map_err(c)?;
    let mut q = EcPoint::new(&group).map_err(c)?;
    q.mul_full(&group, &u1, &big_r, &u2, &mut ctx).map_err(c)?;
    q.to_bytes(&group, PointConversionForm::COMPRESSED, &mut ctx)
        .map_err(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(curve: Curve) -> EcKey<Private> {
        EcKey::generate(&curve.group().unwrap()).unwrap()
    }

    #[test]
    fn a_signature_verifies_under_its_key_only_and_recovers_to_it() {
        for curve in [Curve::K1, Curve::R1] {
            for _ in 0..20 {
                let k = key(curve);
                let public = public_key(curve, &public_key_base58(curve, &k).unwrap()).unwrap();
                let sig = sign(curve, &k, b"{\"a\":1}").unwrap();
                verify(&public, b"{\"a\":1}", &sig).unwrap();
                assert_eq!(verify(&public, b"{\"a\":2}", &sig), Err(SigError::Mismatch));
                let other = key(curve);
                let other = public_key(curve, &public_key_base58(curve, &other).unwrap()).unwrap();
                assert_eq!(verify(&other, b"{\"a\":1}", &sig), Err(SigError::Mismatch));
                // Base58 and EOSIO forms read back the same.
                assert_eq!(Compact::from_base58(&sig.to_base58()).unwrap(), sig);
                assert_eq!(
                    Compact::from_eosio(&sig.to_eosio(curve), curve).unwrap(),
                    sig
                );
                let mine = public_key_base58(curve, &k).unwrap();
                let recovered = recover(curve, &openssl::sha::sha256(b"{\"a\":1}"), &sig).unwrap();
                assert_eq!(bs58::encode(recovered).into_string(), mine);
            }
        }
    }

    #[test]
    fn malformed_signatures_and_keys_are_refused_with_their_reason() {
        let k = key(Curve::R1);
        let sig = sign(Curve::R1, &k, b"x").unwrap();
        let eos = sig.to_eosio(Curve::R1);
        assert_eq!(
            Compact::from_eosio(&eos, Curve::K1),
            Err(SigError::CurvePrefix)
        );
        // One character changed in the base58 body: checksum (or encoding).
        let mut tampered = eos.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'2' { b'3' } else { b'2' };
        assert!(matches!(
            Compact::from_eosio(std::str::from_utf8(&tampered).unwrap(), Curve::R1),
            Err(SigError::Checksum | SigError::Length)
        ));
        assert_eq!(Compact::from_base58("0OIl"), Err(SigError::Encoding));
        assert_eq!(Compact::from_base58("abc"), Err(SigError::Length));
        let mut bad_header = sig.bytes();
        bad_header[0] = 27;
        assert_eq!(
            Compact::from_base58(&bs58::encode(bad_header).into_string()),
            Err(SigError::Header)
        );
        // An x beyond the field, a wrong length, an uncompressed point.
        let mut beyond = [0xffu8; 33];
        beyond[0] = 2;
        assert_eq!(
            public_key(Curve::K1, &bs58::encode(beyond).into_string()).err(),
            Some(SigError::Key)
        );
        assert_eq!(
            public_key(Curve::K1, &bs58::encode([2u8; 32]).into_string()).err(),
            Some(SigError::Key)
        );
        assert_eq!(
            public_key(Curve::K1, &bs58::encode([4u8; 33]).into_string()).err(),
            Some(SigError::Key)
        );
    }
}
