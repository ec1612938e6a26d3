//! `munjigi verify-receipt`: offline verification of a signing receipt.
//!
//! The checks and the receipt's schema are `munjigi-receipt`'s
//! ([`munjigi_receipt::verify`]): the same `Receipt` type the gateway seals is
//! the one read back. This module is the command around
//! them: its arguments, the trust anchors of a provider in a gateway config
//! (`--config`), and the exit codes.
//!
//! A receipt is verified for the place it is shown: `--aud` (the site) is
//! always required and `--iss` (the gateway) unless `--config` gives it, so a
//! forgotten argument cannot turn into "any site's receipt is fine".
//!
//! Exit codes: 0 valid; 1 the receipt failed a check (one line per failure,
//! naming the document); 2 the check could not be run (usage, an unreadable
//! file, an unreachable JWKS, no roots for the receipt's provider).

use munjigi_providers::cms::{self, CrlPolicy, TrustAnchors};
use std::path::PathBuf;

use munjigi_receipt::verify::*;

/// What the command was given.
#[derive(Debug, Clone)]
pub struct Args {
    /// The compact JWS, or the API's JSON answer with a `receipt` field.
    pub file: PathBuf,
    /// The gateway's JWKS: an http(s) URL or a file.
    pub jwks: Option<String>,
    /// Trust anchors per provider: `PROVIDER=PATH` values, or one folder
    /// with a subfolder per provider ([`Roots::parse`]).
    pub roots: Vec<String>,
    /// Trust anchors: the roots (and CRL) of the receipt's provider in a gateway config.
    pub config: Option<PathBuf>,
    /// The gateway's issuer the receipt must be sealed by (from `--config`
    /// when not given).
    pub iss: Option<String>,
    /// The site (client id) the receipt must be of.
    pub aud: Option<String>,
    /// Accept a receipt sealed with the ID token key (before receipts had a
    /// key of their own).
    pub accept_id_token_key: bool,
}

/// Why the command did not say "valid".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The check could not be run (exit 2).
    Usage(String),
    /// The receipt failed; one reason per line (exit 1).
    Invalid(Vec<String>),
}

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Invalid(_) => 1,
        }
    }

    fn receipt(reason: impl std::fmt::Display) -> Self {
        Self::Invalid(vec![format!("receipt: {reason}")])
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Usage(m) => write!(f, "verify-receipt: {m}"),
            Self::Invalid(lines) => f.write_str(&lines.join("\n")),
        }
    }
}

/// The roots, signer rules (policies, EKU, issuing CA) and CRL (if any) of
/// `provider` in a gateway config.
pub fn trust_from_config(cfg: &munjigi::config::Config, provider: &str) -> Result<Trust, String> {
    use munjigi::config::model::{CrlSource, ProviderFamily};
    let p = cfg
        .provider(provider)
        .ok_or_else(|| format!("provider `{provider}` is not in {}", cfg.source.display()))?;
    let (roots_pem, crl) = match &p.family {
        ProviderFamily::Barocert { roots_pem, crl, .. }
        | ProviderFamily::KakaoDirect { roots_pem, crl, .. }
        | ProviderFamily::TossDirect { roots_pem, crl, .. }
        | ProviderFamily::Declarative { roots_pem, crl, .. } => (roots_pem, crl.as_ref()),
        // No signing, so no receipt: nothing a receipt could be checked with.
        ProviderFamily::MobileId { .. } | ProviderFamily::OpenId4Vp { .. } => {
            return Err(format!(
            "provider `{provider}` is a wallet: it signs no documents, so it issues no receipts"
        ))
        }
    };
    let mut anchors = TrustAnchors::from_pem(roots_pem)
        .map_err(|e| format!("provider `{provider}` roots: {e}"))?
        .with_signer_rules(p.signer.clone());
    let revocation = match crl.map(|c| &c.source) {
        None => format!("not checked (provider `{provider}` has no crl in the config)"),
        Some(CrlSource::Url(url)) => format!(
            "not checked (provider `{provider}`'s CRL is the URL {url}; this check is offline)"
        ),
        Some(CrlSource::File(path)) => match std::fs::read(path)
            .ok()
            .map(|b| cms::parse_crls(&b).is_ok())
        {
            None => format!("not checked (the CRL file {} is absent)", path.display()),
            Some(false) => format!("not checked (the CRL file {} is not a CRL)", path.display()),
            Some(true) => {
                // Not required: a receipt is checked long after the CRL's
                // nextUpdate. Long-term: a serial refuses the receipt only if
                // revoked at or before its signing time.
                anchors = anchors.with_crl(CrlPolicy::from_file(path, false).long_term());
                format!(
                    "checked against the CRL {} (a serial revoked at or before the signing time is refused)",
                    path.display()
                )
            }
        },
    };
    Ok(Trust {
        anchors,
        source: format!("provider `{provider}` roots from {}", cfg.source.display()),
        revocation,
    })
}

/// The whole command: the report on success.
pub async fn run(args: &Args) -> Result<String, Failure> {
    let Some(jwks_src) = args.jwks.as_deref() else {
        return Err(Failure::Usage(
            "--jwks URL|FILE is required: a receipt is verified only against the gateway's \
             published keys (its /jwks), never a key it carries"
                .into(),
        ));
    };
    let Some(aud) = args.aud.clone() else {
        return Err(Failure::Usage(
            "--aud CLIENT_ID is required: the site the receipt must be of (a genuine receipt \
             of another site is not valid here)"
                .into(),
        ));
    };
    let config = match (args.roots.is_empty(), &args.config) {
        (true, None) => {
            return Err(Failure::Usage(
                "give the provider roots: --roots PROVIDER=PATH, --roots DIR or --config FILE"
                    .into(),
            ))
        }
        (false, Some(_)) => {
            return Err(Failure::Usage(
                "give either --roots or --config, not both".into(),
            ))
        }
        (true, Some(path)) => Some(
            munjigi::config::load(path)
                .map_err(|e| Failure::Usage(format!("--config {}: {e}", path.display())))?,
        ),
        (false, None) => None,
    };
    let roots = if args.roots.is_empty() {
        None
    } else {
        Some(Roots::parse(&args.roots).map_err(Failure::Usage)?)
    };
    let iss = match (&args.iss, &config) {
        (Some(iss), _) => iss.clone(),
        (None, Some(cfg)) => cfg.issuer().to_owned(),
        (None, None) => {
            return Err(Failure::Usage(
                "--iss URL is required with --roots: the gateway the receipt must be sealed by"
                    .into(),
            ))
        }
    };
    let expected = Expected { iss, aud };
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| Failure::Usage(format!("{}: {e}", args.file.display())))?;
    let jwks = load_jwks(jwks_src).await.map_err(Failure::Usage)?;

    let token = token_from_text(&text).map_err(Failure::receipt)?;
    // A key the JWKS does not have says nothing about the receipt: another
    // gateway's JWKS, or a key rotated out since; the check cannot be run.
    if let Some(kid) = kid_of(&token).filter(|kid| !has_kid(&jwks, kid)) {
        return Err(Failure::Usage(format!(
            "the JWKS from {jwks_src} has no key `{kid}`: give the JWKS of the gateway that sealed it \
             (one saved when the receipt was issued, if the key was rotated out since)"
        )));
    }
    let sealed = open_jws(&token, &jwks).map_err(Failure::receipt)?;
    if sealed.key == SealKey::IdToken && !args.accept_id_token_key {
        return Err(Failure::receipt(format!(
            "sealed with the ID token key `{}`, not a receipt key; receipts sealed before receipts \
             had their own key pass with --accept-id-token-key",
            sealed.kid
        )));
    }
    expected.check(&sealed.claims).map_err(Failure::receipt)?;
    let provider = &sealed.claims.signer.provider;
    let trust = match (&roots, &config) {
        (Some(roots), _) => roots.trust_for(provider).map_err(Failure::Usage)?,
        (None, Some(cfg)) => trust_from_config(cfg, provider).map_err(Failure::receipt)?,
        (None, None) => return Err(Failure::Usage("no trust anchors".into())),
    };
    let failures = check_documents(&sealed.claims, &trust.anchors);
    if !failures.is_empty() {
        return Err(Failure::Invalid(failures));
    }
    // A CRL that did not cover some level (the CA's, the root's for the CA)
    // checked nothing there: never say "checked" then.
    let mut trust = trust;
    if let Some(why) = trust.anchors.crl().and_then(|p| p.unchecked()) {
        trust.revocation = format!(
            "not fully checked ({why}: the CRL file needs the CRLs of the signer's CA and of the root)"
        );
    }
    Ok(report(&sealed, jwks_src, &trust))
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use josekit::jws::ES256;
    use munjigi::config::model::IdTokenAlg;
    use munjigi::keys::SigningKeys;
    use munjigi_providers::cms::Encoding;
    use munjigi_providers::cms::{Content, Expect};
    use munjigi_providers::signing::SignedForm;
    use munjigi_receipt::{Document, TYP};
    use munjigi_sim::testpki::{ProviderPki, Subscriber};
    use std::sync::OnceLock;

    struct Fixture {
        pki: ProviderPki,
        other: ProviderPki,
        hong: Subscriber,
        keys: SigningKeys,
        other_keys: SigningKeys,
        anchors: TrustAnchors,
    }

    fn keys() -> SigningKeys {
        let es = ES256.generate_key_pair().unwrap().to_pem_private_key();
        let rs = josekit::jws::RS256
            .generate_key_pair(2048)
            .unwrap()
            .to_pem_private_key();
        let receipt = ES256.generate_key_pair().unwrap().to_pem_private_key();
        SigningKeys::from_pem(&es, &rs)
            .unwrap()
            .with_receipt_pem(&receipt)
            .unwrap()
    }

    fn fx() -> &'static Fixture {
        static F: OnceLock<Fixture> = OnceLock::new();
        F.get_or_init(|| {
            let pki = ProviderPki::generate("Alpha").unwrap();
            let other = ProviderPki::generate("Other").unwrap();
            let hong = pki.issue_subscriber("홍길동", "ALPHA-UID-1", None).unwrap();
            let anchors = TrustAnchors::from_pem(&pki.root_pem().unwrap()).unwrap();
            Fixture {
                pki,
                other,
                hong,
                keys: keys(),
                other_keys: keys(),
                anchors,
            }
        })
    }

    /// A receipt document as the gateway writes it, from a real CMS.
    fn document(content: &[u8], form: SignedForm) -> Document {
        let f = fx();
        let digest = openssl::sha::sha256(content);
        let chain = [f.pki.ca().clone()];
        let der = match form {
            SignedForm::Digest => {
                munjigi_sim::cms::sign(&digest, &f.hong, &chain, Encoding::DerAttached)
            }
            SignedForm::DetachedDigest => munjigi_sim::cms::sign_sha256_detached(
                &digest,
                &f.hong,
                &chain,
                Encoding::BerIndefiniteDetached,
            ),
        }
        .unwrap();
        let c = match form {
            SignedForm::Digest => Content::Attached(&digest),
            SignedForm::DetachedDigest => Content::DetachedSha256(&digest),
        };
        let wide = Expect {
            content: c,
            not_before: 0,
            not_after: u64::MAX / 2,
            skew_secs: 0,
        };
        let v = cms::verify(&der, &wide, &f.anchors).unwrap();
        Document {
            title: "전입신고서".into(),
            media_type: "text/plain".into(),
            digest_alg: "SHA-256".into(),
            digest: hex::encode(digest),
            form: match form {
                SignedForm::Digest => "digest",
                SignedForm::DetachedDigest => "detached_digest",
            }
            .into(),
            cms: base64::engine::general_purpose::STANDARD.encode(der),
            signing_time: v.signing_time,
            signer_cert_issuer: v.signer_issuer,
            signer_cert_serial: v.signer_serial,
            signer_cn: munjigi_providers::SignerCn::Exact,
        }
    }

    fn claims_json(docs: &[Document]) -> serde_json::Value {
        serde_json::json!({
            "iss": "https://gw.example", "aud": "town", "iat": 1_800_000_000u64, "jti": "req-1",
            "title": "전입 신고",
            "signer": {"sub": "s".repeat(43), "name": "홍길동", "provider": "alpha",
                       "acr": "urn:munjigi:acr:substantial"},
            "documents": docs.iter().map(|d| serde_json::json!({
                "title": d.title, "media_type": d.media_type, "digest_alg": d.digest_alg,
                "digest": d.digest, "form": d.form, "cms": d.cms, "signing_time": d.signing_time,
                "signer_cert_issuer": d.signer_cert_issuer, "signer_cert_serial": d.signer_cert_serial,
            })).collect::<Vec<_>>(),
        })
    }

    fn jwks_of(k: &SigningKeys) -> serde_json::Value {
        serde_json::from_slice(&k.jwks()).unwrap()
    }

    #[test]
    fn genuine_documents_verify_in_both_forms() {
        let f = fx();
        for form in [SignedForm::Digest, SignedForm::DetachedDigest] {
            let d = document(b"a document", form);
            check_document(&d, "홍길동", &f.anchors).unwrap();
        }
    }

    #[test]
    fn a_tampered_cms_is_rejected() {
        let f = fx();
        let mut d = document(b"a document", SignedForm::Digest);
        // One byte inside the CMS (the attached digest): the messageDigest no
        // longer matches, so the signature check fails.
        let mut der = base64::engine::general_purpose::STANDARD
            .decode(&d.cms)
            .unwrap();
        let digest = hex::decode(&d.digest).unwrap();
        let at = der.windows(32).position(|w| w == digest).unwrap();
        der[at] ^= 0x01;
        d.cms = base64::engine::general_purpose::STANDARD.encode(&der);
        let e = check_document(&d, "홍길동", &f.anchors).unwrap_err();
        assert_eq!(e, "CMS signature or messageDigest does not verify");
        // Garbage is not a CMS at all.
        d.cms = base64::engine::general_purpose::STANDARD.encode(b"not a cms");
        let e = check_document(&d, "홍길동", &f.anchors).unwrap_err();
        assert!(e.starts_with("CMS: not a decodable CMS"), "{e}");
        d.cms = "!!not base64!!".into();
        assert_eq!(
            check_document(&d, "홍길동", &f.anchors).unwrap_err(),
            "cms is not base64"
        );
    }

    #[test]
    fn a_digest_the_cms_does_not_cover_is_a_content_mismatch() {
        let f = fx();
        let other = hex::encode(openssl::sha::sha256(b"another document"));
        let mut d = document(b"a document", SignedForm::Digest);
        d.digest.clone_from(&other);
        assert_eq!(
            check_document(&d, "홍길동", &f.anchors).unwrap_err(),
            "CMS content does not match the digest"
        );
        let mut d = document(b"a document", SignedForm::DetachedDigest);
        d.digest = other;
        assert_eq!(
            check_document(&d, "홍길동", &f.anchors).unwrap_err(),
            "CMS messageDigest does not match the digest"
        );
    }

    #[test]
    fn the_receipt_must_agree_with_the_cms() {
        let f = fx();
        let good = document(b"a document", SignedForm::Digest);
        let check = |d: &Document, name: &str| check_document(d, name, &f.anchors).unwrap_err();

        let mut d = good.clone();
        d.signing_time += 60;
        assert_eq!(
            check(&d, "홍길동"),
            "CMS signingTime is not the receipt's signing_time"
        );
        let mut d = good.clone();
        d.signing_time += 1; // inside the skew: still refused
        assert_eq!(
            check(&d, "홍길동"),
            "CMS signingTime is not the receipt's signing_time"
        );
        let mut d = good.clone();
        d.signer_cert_serial = "01".into();
        assert_eq!(
            check(&d, "홍길동"),
            "signer certificate serial is not the receipt's"
        );
        let mut d = good.clone();
        d.signer_cert_issuer = "CN=Someone Else".into();
        assert_eq!(
            check(&d, "홍길동"),
            "signer certificate issuer is not the receipt's"
        );
        assert_eq!(
            check(&good, "김철수"),
            "signer certificate does not name the receipt's signer"
        );
        // The CN is exactly the name in the document's format, by the
        // adapters' rule: "홍길동" is not "홍길" or "홍길동2" by prefix, and not
        // in the `()digits` form.
        for name in ["홍길", "홍 길동", "홍길동2"] {
            assert_eq!(
                check(&good, name),
                "signer certificate does not name the receipt's signer",
                "{name:?}"
            );
        }
        let mut d = good.clone();
        d.signer_cn = munjigi_providers::SignerCn::NameParenDigits;
        assert_eq!(
            check(&d, "홍길동"),
            "signer certificate does not name the receipt's signer"
        );
        let mut d = good.clone();
        d.form = "detached_digest".into();
        assert_eq!(
            check(&d, "홍길동"),
            "CMS carries content but the form is `detached_digest`"
        );
        let mut d = good.clone();
        d.form = "hash".into();
        assert_eq!(check(&d, "홍길동"), "unknown form `hash`");
        let mut d = good.clone();
        d.digest_alg = "SHA-1".into();
        assert_eq!(
            check(&d, "홍길동"),
            "digest algorithm `SHA-1` is not SHA-256"
        );
        let mut d = good;
        d.digest = "abcd".into();
        assert_eq!(check(&d, "홍길동"), "digest is not 64 hex digits");
    }

    #[test]
    fn another_providers_roots_or_a_crl_refuse_it() {
        let f = fx();
        let d = document(b"a document", SignedForm::Digest);
        let theirs = TrustAnchors::from_pem(&f.other.root_pem().unwrap()).unwrap();
        let e = check_document(&d, "홍길동", &theirs).unwrap_err();
        assert!(
            e.starts_with("signer certificate does not chain to the trust anchors"),
            "{e}"
        );
        // Revoked: a PKI of its own so the shared fixture stays clean.
        let pki = ProviderPki::generate("Revoking").unwrap();
        let kim = pki.issue_subscriber("김철수", "R-1", None).unwrap();
        let digest = openssl::sha::sha256(b"x");
        let der = munjigi_sim::cms::sign(&digest, &kim, &[pki.ca().clone()], Encoding::DerAttached)
            .unwrap();
        let anchors = TrustAnchors::from_pem(&pki.root_pem().unwrap()).unwrap();
        let wide = Expect {
            content: Content::Attached(&digest),
            not_before: 0,
            not_after: u64::MAX / 2,
            skew_secs: 0,
        };
        let v = cms::verify(&der, &wide, &anchors).unwrap();
        let doc = Document {
            title: "t".into(),
            media_type: "text/plain".into(),
            digest_alg: "SHA-256".into(),
            digest: hex::encode(digest),
            form: "digest".into(),
            cms: base64::engine::general_purpose::STANDARD.encode(&der),
            signing_time: v.signing_time,
            signer_cert_issuer: v.signer_issuer,
            signer_cert_serial: v.signer_serial,
            signer_cn: munjigi_providers::SignerCn::Exact,
        };
        check_document(&doc, "김철수", &anchors).unwrap();
        // A family writing `name()digits`: its receipts verify with that format only.
        let npki = pki
            .issue_subscriber("김철수()0011049", "R-2", None)
            .unwrap();
        let der2 =
            munjigi_sim::cms::sign(&digest, &npki, &[pki.ca().clone()], Encoding::DerAttached)
                .unwrap();
        let v2 = cms::verify(&der2, &wide, &anchors).unwrap();
        let mut paren = Document {
            cms: base64::engine::general_purpose::STANDARD.encode(&der2),
            signing_time: v2.signing_time,
            signer_cert_issuer: v2.signer_issuer,
            signer_cert_serial: v2.signer_serial,
            signer_cn: munjigi_providers::SignerCn::NameParenDigits,
            ..doc.clone()
        };
        check_document(&paren, "김철수", &anchors).unwrap();
        assert!(check_document(&paren, "김철", &anchors).is_err());
        paren.signer_cn = munjigi_providers::SignerCn::Exact;
        assert_eq!(
            check_document(&paren, "김철수", &anchors).unwrap_err(),
            "signer certificate does not name the receipt's signer"
        );
        pki.revoke(kim.cert.serial_number()).unwrap();
        let with_crl =
            anchors.with_crl(CrlPolicy::from_pem(&pki.crl_pem().unwrap(), false).unwrap());
        assert_eq!(
            check_document(&doc, "김철수", &with_crl).unwrap_err(),
            "CMS: the signer certificate is revoked by the provider's CRL"
        );
    }

    #[test]
    fn the_jws_is_checked_before_anything_is_believed() {
        let f = fx();
        let claims = claims_json(&[document(b"a", SignedForm::Digest)]);
        let token = f.keys.seal_receipt(TYP, &claims).unwrap();
        let jwks = jwks_of(&f.keys);
        let sealed = open_jws(&token, &jwks).unwrap();
        assert_eq!(sealed.claims.signer.name, "홍길동");
        assert_eq!(sealed.key, SealKey::Receipt);
        assert_ne!(
            Some(sealed.kid.as_str()),
            f.keys.public_jwk(IdTokenAlg::Es256).key_id()
        );
        assert!(check_documents(&sealed.claims, &f.anchors).is_empty());
        // Sealed before receipts had their own key: the ID token key, said so.
        let legacy = f.keys.sign(IdTokenAlg::Es256, TYP, &claims).unwrap();
        assert_eq!(open_jws(&legacy, &jwks).unwrap().key, SealKey::IdToken);
        // A key published for something else is never used.
        let mut enc = jwks.clone();
        for k in enc["keys"].as_array_mut().unwrap() {
            k["use"] = "enc".into();
        }
        let e = open_jws(&token, &enc).unwrap_err();
        assert!(e.contains("not published for signatures"), "{e}");
        let mut sign_only = jwks.clone();
        for k in sign_only["keys"].as_array_mut().unwrap() {
            k["key_ops"] = serde_json::json!(["sign"]);
        }
        let e = open_jws(&token, &sign_only).unwrap_err();
        assert!(e.contains("not published for verifying"), "{e}");

        // Another gateway's keys.
        let e = open_jws(&token, &jwks_of(&f.other_keys)).unwrap_err();
        assert!(e.starts_with("no key"), "{e}");
        // The other gateway's JWKS holding a key with our kid is still refused.
        let mut forged = jwks_of(&f.other_keys);
        forged["keys"][2]["kid"] = sealed.kid.clone().into();
        let e = open_jws(&token, &forged).unwrap_err();
        assert!(e.starts_with("the JWS signature does not verify"), "{e}");
        // One byte of the payload changed.
        let parts: Vec<&str> = token.split('.').collect();
        let mut payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .unwrap();
        let at = payload.windows(3).position(|w| w == b"req").unwrap();
        payload[at] = b'x';
        let changed = format!(
            "{}.{}.{}",
            parts[0],
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&payload),
            parts[2]
        );
        let e = open_jws(&changed, &jwks).unwrap_err();
        assert!(e.starts_with("the JWS signature does not verify"), "{e}");
        // Other typ, other algorithm.
        let jwt = f.keys.sign(IdTokenAlg::Es256, "JWT", &claims).unwrap();
        assert_eq!(
            open_jws(&jwt, &jwks).unwrap_err(),
            "`typ` is `JWT`, not munjigi-receipt+jwt"
        );
        let rs = f.keys.sign(IdTokenAlg::Rs256, TYP, &claims).unwrap();
        assert_eq!(
            open_jws(&rs, &jwks).unwrap_err(),
            "algorithm `RS256` refused: receipts are ES256"
        );
        // alg "none" with an empty signature.
        let none = format!(
            "{}.{}.",
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(format!(r#"{{"alg":"none","typ":"{TYP}"}}"#)),
            parts[1]
        );
        assert_eq!(
            open_jws(&none, &jwks).unwrap_err(),
            "algorithm `none` refused: receipts are ES256"
        );
        assert!(open_jws("a.b", &jwks).is_err());
        assert!(open_jws("....", &jwks).is_err());
    }

    #[test]
    fn the_file_may_hold_the_jws_or_the_api_answer() {
        assert_eq!(token_from_text(" a.b.c\n").unwrap(), "a.b.c");
        assert_eq!(
            token_from_text(r#"{"id": "x", "status": "completed", "receipt": "a.b.c"}"#).unwrap(),
            "a.b.c"
        );
        assert_eq!(
            token_from_text(r#"{"id": "x", "status": "pending"}"#).unwrap_err(),
            "the JSON has no `receipt` (status: pending)"
        );
        assert!(token_from_text("hello world").is_err());
        assert!(token_from_text("{not json").is_err());
    }

    #[test]
    fn times_are_iso_8601_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_795_000_000), "2026-11-18T11:06:40Z");
        assert_eq!(iso8601(u64::MAX), format!("@{}", u64::MAX));
    }

    #[tokio::test]
    async fn run_reads_files_and_reports_or_refuses() {
        let f = fx();
        let dir = std::env::temp_dir().join(format!("munjigi-verify-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("pki/alpha")).unwrap();
        std::fs::create_dir_all(dir.join("pki/other")).unwrap();
        std::fs::write(dir.join("pki/alpha/root.pem"), f.pki.root_pem().unwrap()).unwrap();
        std::fs::write(
            dir.join("pki/alpha/ca.key.pem"),
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        std::fs::write(dir.join("pki/other/root.pem"), f.other.root_pem().unwrap()).unwrap();
        let docs = [
            document(b"one", SignedForm::Digest),
            document(b"two", SignedForm::DetachedDigest),
        ];
        let token = f.keys.seal_receipt(TYP, &claims_json(&docs)).unwrap();
        let file = dir.join("receipt.json");
        std::fs::write(
            &file,
            serde_json::json!({"id": "req-1", "status": "completed", "receipt": token}).to_string(),
        )
        .unwrap();
        let jwks = dir.join("jwks.json");
        std::fs::write(&jwks, f.keys.jwks()).unwrap();
        let args = Args {
            file: file.clone(),
            jwks: Some(jwks.display().to_string()),
            roots: vec![dir.join("pki").display().to_string()],
            config: None,
            iss: Some("https://gw.example".into()),
            aud: Some("town".into()),
            accept_id_token_key: false,
        };
        let out = run(&args).await.unwrap();
        assert!(out.starts_with("receipt: valid"), "{out}");
        for want in [
            "전입신고서",
            docs[0].digest.as_str(),
            docs[1].digest.as_str(),
            "홍길동",
            "provider: alpha",
            "level: substantial",
            "sealed by: https://gw.example at 2027-01-15T08:00:00Z",
            "revocation: not checked",
        ] {
            assert!(out.contains(want), "{want} missing from {out}");
        }
        assert!(out.contains("the receipt key"), "{out}");
        // Each provider's roots named: the receipt's provider's are used.
        let each = Args {
            roots: vec![
                format!("other={}", dir.join("pki/other").display()),
                format!("alpha={}", dir.join("pki/alpha/root.pem").display()),
            ],
            ..args.clone()
        };
        let out = run(&each).await.unwrap();
        assert!(out.contains("provider `alpha`: 1 certificate"), "{out}");
        // Never pooled: another provider's roots, however many, do not vouch
        // for this provider's signer; a provider without roots is a usage error.
        for roots in [
            vec![format!("other={}", dir.join("pki").display())],
            vec![format!("alpha={}", dir.join("pki/other").display())],
        ] {
            let r = run(&Args {
                roots: roots.clone(),
                ..args.clone()
            })
            .await
            .unwrap_err();
            assert!(
                matches!(&r, Failure::Usage(m) if m.contains("no roots for the receipt's provider `alpha`"))
                    || matches!(&r, Failure::Invalid(l) if l[0].contains("does not chain")),
                "{roots:?}: {r:?}"
            );
        }
        // The folder form reads only DIR/<provider>: a pooled folder without
        // per-provider subfolders has none.
        let pooled = dir.join("pooled");
        std::fs::create_dir_all(&pooled).unwrap();
        std::fs::write(pooled.join("root.pem"), f.pki.root_pem().unwrap()).unwrap();
        let e = run(&Args {
            roots: vec![pooled.display().to_string()],
            ..args.clone()
        })
        .await
        .unwrap_err();
        assert_eq!(e.exit_code(), 2, "{e}");
        assert!(
            e.to_string().contains("pooled/alpha is not a folder"),
            "{e}"
        );
        for bad in [
            vec!["alpha=".to_owned()],
            vec!["a/b=x".to_owned(), "alpha=x".to_owned()],
            vec!["alpha=x".to_owned(), "alpha=y".to_owned()],
            vec!["x".to_owned(), "y".to_owned()],
        ] {
            let e = run(&Args {
                roots: bad.clone(),
                ..args.clone()
            })
            .await
            .unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad:?}: {e}");
        }
        // Shown at another site, or as another gateway's: refused, exit 1.
        for (iss, aud, why) in [
            (
                "https://gw.example",
                "city",
                "a receipt of the site `town`, not of `city`",
            ),
            ("https://gw.example", "Town", "not of `Town`"),
            (
                "https://gw.example/",
                "town",
                "not the expected `https://gw.example/`",
            ),
            ("https://other.example", "town", "sealed by the gateway"),
        ] {
            let e = run(&Args {
                iss: Some(iss.into()),
                aud: Some(aud.into()),
                ..args.clone()
            })
            .await
            .unwrap_err();
            assert_eq!(e.exit_code(), 1, "{iss} {aud}: {e}");
            assert!(e.to_string().contains(why), "{iss} {aud}: {e}");
        }
        // Sealed with the ID token key: refused unless accepted as such.
        let legacy = f
            .keys
            .sign(IdTokenAlg::Es256, TYP, &claims_json(&docs))
            .unwrap();
        let legacy_file = dir.join("legacy.jws");
        std::fs::write(&legacy_file, &legacy).unwrap();
        let e = run(&Args {
            file: legacy_file.clone(),
            ..args.clone()
        })
        .await
        .unwrap_err();
        assert_eq!(e.exit_code(), 1, "{e}");
        assert!(e.to_string().contains("--accept-id-token-key"), "{e}");
        let out = run(&Args {
            file: legacy_file,
            accept_id_token_key: true,
            ..args.clone()
        })
        .await
        .unwrap();
        assert!(out.contains("the ID token key (sealed before"), "{out}");
        // Another gateway's JWKS has no such key: the check cannot be run.
        let theirs = dir.join("their-jwks.json");
        std::fs::write(&theirs, f.other_keys.jwks()).unwrap();
        let e = run(&Args {
            jwks: Some(theirs.display().to_string()),
            ..args.clone()
        })
        .await
        .unwrap_err();
        assert_eq!(e.exit_code(), 2, "{e}");
        assert!(e.to_string().contains("has no key"), "{e}");
        // --aud always, --iss without --config: usage errors.
        for (iss, aud) in [(None, Some("town")), (Some("https://gw.example"), None)] {
            let e = run(&Args {
                iss: iss.map(Into::into),
                aud: aud.map(Into::into),
                ..args.clone()
            })
            .await
            .unwrap_err();
            assert_eq!(e.exit_code(), 2, "{e}");
        }
        // Only the other provider's roots: both documents fail, each named.
        let only_other = Args {
            roots: vec![format!("alpha={}", dir.join("pki/other").display())],
            ..args.clone()
        };
        match run(&only_other).await.unwrap_err() {
            Failure::Invalid(lines) => {
                assert_eq!(lines.len(), 2, "{lines:?}");
                assert!(lines[0].starts_with("document 1: signer certificate does not chain"));
                assert!(lines[1].starts_with("document 2: signer certificate does not chain"));
            }
            e => panic!("{e:?}"),
        }
        // Usage errors: exit 2.
        let no_jwks = Args {
            jwks: None,
            ..args.clone()
        };
        let e = run(&no_jwks).await.unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("--jwks"), "{e}");
        let no_roots = Args {
            roots: Vec::new(),
            ..args.clone()
        };
        assert_eq!(run(&no_roots).await.unwrap_err().exit_code(), 2);
        let empty = dir.join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        std::fs::create_dir_all(empty.join("alpha")).unwrap();
        let no_certs = Args {
            roots: vec![empty.display().to_string()],
            ..args.clone()
        };
        assert_eq!(run(&no_certs).await.unwrap_err().exit_code(), 2);
        let remote = Args {
            jwks: Some("http://gateway.example/jwks".into()),
            ..args.clone()
        };
        let e = run(&remote).await.unwrap_err();
        assert!(e.to_string().contains("non-loopback"), "{e}");
        for sneaky in [
            "http://localhost:1@gateway.example/jwks",
            "http://[::1]@gateway.example/jwks",
        ] {
            let e = run(&Args {
                jwks: Some(sneaky.into()),
                ..args.clone()
            })
            .await
            .unwrap_err();
            assert!(e.to_string().contains("userinfo"), "{sneaky}: {e}");
        }
        let missing = Args {
            file: dir.join("absent"),
            ..args
        };
        assert_eq!(run(&missing).await.unwrap_err().exit_code(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
