//! Offline verification of a signing receipt, for `munjigi verify-receipt`
//! and anyone holding a receipt, the gateway's JWKS and the provider's roots.
//!
//! A receipt is trusted only as far as three independent checks go:
//! 1. the JWS ([`open_jws`]): ES256 only, `typ` [`TYP`], the key named by
//!    `kid` taken from the gateway's JWKS the caller gives ([`load_jwks`], a
//!    URL fetched once or a saved file) — never from the receipt itself — and
//!    published for receipts (`use` [`KEY_USE`]). A receipt sealed before
//!    receipts had their own key names the ID token key (`use` `sig`): it is
//!    refused unless the caller accepts such receipts ([`SealKey::IdToken`]),
//!    because whoever holds the ID token key, used at every login, could
//!    otherwise seal a receipt with any date;
//! 2. where it is shown ([`Expected::check`]): the issuer and the site the
//!    verifier expects, exactly, so a genuine receipt of another site or
//!    another gateway is refused rather than believed;
//! 3. every document's CMS ([`check_documents`]), through the one verification
//!    path ([`munjigi_providers::cms::verify`]): the content per the
//!    document's `form` against its digest, the chain to the provider's roots
//!    at the signingTime, the KeyUsage, the CRL when one is configured; and the
//!    CMS must agree with what the receipt says (signingTime, signer
//!    certificate issuer and serial, and a CN that is exactly the signer's
//!    name in the document's `signer_cn` format, by the adapters' own rule
//!    [`munjigi_providers::SignerCn::names`]; `exact` when absent), against
//!    the roots of the receipt's own provider only ([`Roots`]): a folder
//!    pooling every provider's certificates would let one provider's CA vouch
//!    for a signature another provider is named for.
//!
//! Not here: checking a document's bytes against its digest (the site holds
//! the documents), OCSP, revocation from anything but a configured CRL file,
//! or trust anchors from a gateway config (the gateway's `verify_receipt`).

use base64::Engine as _;
use josekit::jwk::Jwk;
use josekit::jws::ES256;
use munjigi_providers::cms::{self, CmsError, Content, Expect, TrustAnchors};
use munjigi_providers::signing::SignedForm;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::{Document, Receipt, KEY_USE, TYP};

/// Seconds the CMS signingTime may differ from the receipt's `signing_time`
/// inside [`cms::verify`]; equality is then required on top.
const SKEW_SECS: u64 = 1;
/// How long fetching the JWKS may take.
const JWKS_TIMEOUT: Duration = Duration::from_secs(10);

/// A receipt whose JWS verified.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub kid: String,
    /// What the key that sealed it is published for.
    pub key: SealKey,
    pub claims: Receipt,
}

/// Which of the gateway's keys sealed a receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealKey {
    /// The receipt key (`use` [`KEY_USE`]).
    Receipt,
    /// The ID token key (`use` `sig` or none): receipts sealed before they
    /// had a key of their own.
    IdToken,
}

/// The issuer and site a receipt must be of, as whoever is shown it expects.
#[derive(Debug, Clone)]
pub struct Expected {
    /// The gateway's issuer URL.
    pub iss: String,
    /// The site's OIDC client id.
    pub aud: String,
}

impl Expected {
    /// Refuses a receipt of another gateway or another site: exact
    /// comparison, no normalisation (the gateway writes both verbatim).
    pub fn check(&self, claims: &Receipt) -> Result<(), String> {
        if claims.iss != self.iss {
            return Err(format!(
                "sealed by the gateway `{}`, not the expected `{}`",
                claims.iss, self.iss
            ));
        }
        if claims.aud != self.aud {
            return Err(format!(
                "a receipt of the site `{}`, not of `{}`",
                claims.aud, self.aud
            ));
        }
        Ok(())
    }
}

/// The trust anchors the CMS signatures are checked against, and how to say so.
#[derive(Debug, Clone)]
pub struct Trust {
    pub anchors: TrustAnchors,
    pub source: String,
    pub revocation: String,
}

/// The compact JWS in a file's text: the JWS itself, or JSON with `receipt`.
pub fn token_from_text(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| format!("the file is neither a compact JWS nor JSON ({e})"))?;
        return match v.get("receipt").and_then(|r| r.as_str()) {
            Some(r) => Ok(r.trim().to_owned()),
            None => Err(format!(
                "the JSON has no `receipt` (status: {})",
                v.get("status")
                    .and_then(|s| s.as_str())
                    .unwrap_or("not given")
            )),
        };
    }
    let compact = text.split('.').count() == 3
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if compact {
        Ok(text.to_owned())
    } else {
        Err("the file is not a compact JWS (three base64url parts)".into())
    }
}

fn b64url_json(part: &str, what: &str) -> Result<serde_json::Value, String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| format!("the JWS {what} is not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| format!("the JWS {what} is not JSON"))
}

/// The `kid` a compact JWS names in its header, if it can be read.
pub fn kid_of(token: &str) -> Option<String> {
    let header = token.split('.').next()?;
    let header = b64url_json(header, "header").ok()?;
    header.get("kid")?.as_str().map(str::to_owned)
}

/// Whether `jwks` holds a key named `kid` (of whatever kind).
pub fn has_kid(jwks: &serde_json::Value, kid: &str) -> bool {
    jwks.get("keys")
        .and_then(|k| k.as_array())
        .is_some_and(|keys| {
            keys.iter()
                .any(|k| k.get("kid").and_then(|v| v.as_str()) == Some(kid))
        })
}

/// The one ES256 key `kid` names in `jwks`, and what it is published for.
pub fn key_for(jwks: &serde_json::Value, kid: &str) -> Result<(Jwk, SealKey), String> {
    let keys = jwks
        .get("keys")
        .and_then(|k| k.as_array())
        .ok_or("the JWKS has no `keys` array")?;
    let mut found = keys
        .iter()
        .filter(|k| k.get("kid").and_then(|v| v.as_str()) == Some(kid));
    let key = match (found.next(), found.next()) {
        (Some(k), None) => k,
        (None, _) => return Err(format!("no key `{kid}` in the JWKS (another gateway's?)")),
        (Some(_), Some(_)) => return Err(format!("the JWKS has more than one key `{kid}`")),
    };
    let field = |n: &str| key.get(n).and_then(|v| v.as_str());
    if field("kty") != Some("EC") || field("crv") != Some("P-256") {
        return Err(format!("key `{kid}` is not a P-256 EC key"));
    }
    let sealed = match field("use") {
        Some(KEY_USE) => SealKey::Receipt,
        None | Some("sig") => SealKey::IdToken,
        Some(_) => return Err(format!("key `{kid}` is not published for signatures")),
    };
    if field("alg").is_some_and(|a| a != "ES256") {
        return Err(format!("key `{kid}` is not published for ES256 signatures"));
    }
    if key
        .get("key_ops")
        .and_then(|o| o.as_array())
        .is_some_and(|ops| !ops.iter().any(|o| o == "verify"))
    {
        return Err(format!("key `{kid}` is not published for verifying"));
    }
    let mut map = key
        .as_object()
        .cloned()
        .ok_or("a JWKS key is not an object")?;
    // `use` was decided above; the JOSE library takes only `sig` keys.
    map.remove("use");
    Jwk::from_map(map)
        .map(|jwk| (jwk, sealed))
        .map_err(|e| format!("key `{kid}` is not a usable JWK: {e}"))
}

/// Verifies the JWS against `jwks` and reads the claims.
pub fn open_jws(token: &str, jwks: &serde_json::Value) -> Result<Sealed, String> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, _] = parts.as_slice() else {
        return Err("not a compact JWS (three base64url parts)".into());
    };
    let header = b64url_json(header, "header")?;
    let h = |n: &str| header.get(n).and_then(|v| v.as_str());
    match h("alg") {
        Some("ES256") => {}
        Some(other) => return Err(format!("algorithm `{other}` refused: receipts are ES256")),
        None => return Err("the JWS header has no `alg`".into()),
    }
    if h("typ") != Some(TYP) {
        return Err(format!(
            "`typ` is {}, not {TYP}",
            h("typ").map_or_else(|| "missing".to_owned(), |t| format!("`{t}`"))
        ));
    }
    if header.get("crit").is_some() || header.get("jwk").is_some() || header.get("x5c").is_some() {
        return Err(
            "the JWS header carries crit, jwk or x5c: a receipt names its key by kid only".into(),
        );
    }
    let kid = h("kid").ok_or("the JWS header has no `kid`")?.to_owned();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| "the JWS payload is not base64url".to_owned())?;
    let (jwk, key) = key_for(jwks, &kid)?;
    let verifier = ES256
        .verifier_from_jwk(&jwk)
        .map_err(|e| format!("key `{kid}` is not a usable ES256 key: {e}"))?;
    let (payload, _) = josekit::jws::deserialize_compact(token, &verifier)
        .map_err(|_| format!("the JWS signature does not verify with key `{kid}`"))?;
    let claims: Receipt = serde_json::from_slice(&payload)
        .map_err(|e| format!("the payload is not a munjigi receipt ({e})"))?;
    Ok(Sealed { kid, key, claims })
}

fn reason(e: &CmsError, form: SignedForm) -> String {
    match (e, form) {
        (CmsError::ContentMismatch, SignedForm::Digest) => {
            "CMS content does not match the digest".into()
        }
        (CmsError::ContentMismatch, SignedForm::DetachedDigest) => {
            "CMS messageDigest does not match the digest".into()
        }
        (CmsError::Encapsulation { detached: true }, _) => {
            "CMS is detached but the form is `digest`".into()
        }
        (CmsError::Encapsulation { detached: false }, _) => {
            "CMS carries content but the form is `detached_digest`".into()
        }
        (CmsError::Signature, _) => "CMS signature or messageDigest does not verify".into(),
        (CmsError::Chain(r), _) => {
            format!("signer certificate does not chain to the trust anchors ({r})")
        }
        (CmsError::SigningTimeOutsideWindow, _) => {
            "CMS signingTime is not the receipt's signing_time".into()
        }
        (e, _) => format!("CMS: {e}"),
    }
}

/// Checks one document's CMS against what the receipt says about it.
pub fn check_document(
    doc: &Document,
    signer_name: &str,
    anchors: &TrustAnchors,
) -> Result<(), String> {
    if doc.digest_alg != "SHA-256" {
        return Err(format!(
            "digest algorithm `{}` is not SHA-256",
            doc.digest_alg
        ));
    }
    let digest: [u8; 32] = hex::decode(&doc.digest)
        .ok()
        .and_then(|d| d.try_into().ok())
        .ok_or("digest is not 64 hex digits")?;
    let form = doc
        .signed_form()
        .ok_or_else(|| format!("unknown form `{}`", doc.form))?;
    let signed_data = base64::engine::general_purpose::STANDARD
        .decode(doc.cms.trim())
        .map_err(|_| "cms is not base64".to_owned())?;
    let content = match form {
        SignedForm::Digest => Content::Attached(&digest),
        SignedForm::DetachedDigest => Content::DetachedSha256(&digest),
    };
    let expect = Expect {
        content,
        not_before: doc.signing_time,
        not_after: doc.signing_time,
        skew_secs: SKEW_SECS,
    };
    let v = cms::verify(&signed_data, &expect, anchors).map_err(|e| reason(&e, form))?;
    if v.signing_time != doc.signing_time {
        return Err("CMS signingTime is not the receipt's signing_time".into());
    }
    if v.signer_issuer != doc.signer_cert_issuer {
        return Err("signer certificate issuer is not the receipt's".into());
    }
    if !v
        .signer_serial
        .eq_ignore_ascii_case(doc.signer_cert_serial.trim_start_matches("0x"))
    {
        return Err("signer certificate serial is not the receipt's".into());
    }
    let named = munjigi_providers::Name::parse(signer_name)
        .is_ok_and(|n| doc.signer_cn.names(&n, &v.signer_common_name));
    if !named {
        return Err("signer certificate does not name the receipt's signer".into());
    }
    Ok(())
}

/// Every `.pem` file directly in `dir`, sorted: not its subfolders, so a
/// folder given for one provider cannot pull in another's (`pki/` holds
/// every provider's, and the simulator's untrusted one).
fn pem_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if path.is_dir() {
            continue;
        } else if path
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("pem"))
        {
            out.push(path);
        }
    }
    out.sort();
    Ok(())
}

/// Where each provider's roots are, for [`Roots::trust_for`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roots {
    /// `PROVIDER=PATH`, one or more: each provider's own PEM file or folder.
    Each(Vec<(String, PathBuf)>),
    /// A folder with one subfolder per provider id (`DIR/kakao/…`).
    Folders(PathBuf),
}

/// Whether `id` can be a provider id (and so a folder name): letters, digits,
/// `-` and `_`, never a path.
fn provider_id_like(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

impl Roots {
    /// Reads `--roots` values: every one `PROVIDER=PATH`, or a single folder.
    pub fn parse(values: &[String]) -> Result<Self, String> {
        let pairs: Vec<Option<(String, PathBuf)>> = values
            .iter()
            .map(|v| {
                v.split_once('=')
                    .filter(|(id, path)| provider_id_like(id) && !path.is_empty())
                    .map(|(id, path)| (id.to_owned(), PathBuf::from(path)))
            })
            .collect();
        match (values, pairs.as_slice()) {
            ([], _) => Err("no --roots given".into()),
            ([dir], [None]) => Ok(Self::Folders(PathBuf::from(dir))),
            _ if pairs.iter().all(Option::is_some) => {
                let each: Vec<(String, PathBuf)> = pairs.into_iter().flatten().collect();
                let mut seen = std::collections::HashSet::new();
                if let Some((id, _)) = each.iter().find(|(id, _)| !seen.insert(id.as_str())) {
                    return Err(format!("--roots names provider `{id}` twice"));
                }
                Ok(Self::Each(each))
            }
            _ => Err(
                "--roots takes PROVIDER=PATH (repeatable) or one folder with a subfolder per provider"
                    .into(),
            ),
        }
    }

    /// The roots of `provider` alone (the receipt's, from its sealed claims).
    pub fn trust_for(&self, provider: &str) -> Result<Trust, String> {
        let path = match self {
            Self::Each(each) => each
                .iter()
                .find(|(id, _)| id == provider)
                .map(|(_, p)| p.clone())
                .ok_or_else(|| {
                    format!("no roots for the receipt's provider `{provider}`: add --roots {provider}=PATH")
                })?,
            Self::Folders(dir) => {
                if !provider_id_like(provider) {
                    return Err(format!("the receipt's provider `{provider}` is not a provider id"));
                }
                let sub = dir.join(provider);
                if !sub.is_dir() {
                    return Err(format!(
                        "no roots for the receipt's provider `{provider}`: {} is not a folder",
                        sub.display()
                    ));
                }
                sub
            }
        };
        trust_from_path(&path, provider)
    }
}

/// Every certificate in a PEM file, or in every PEM file in a folder
/// (keys and CRLs are skipped), as `provider`'s roots. No revocation check: a
/// folder says nothing about which CRL belongs to whom.
fn trust_from_path(path: &Path, provider: &str) -> Result<Trust, String> {
    let mut files = Vec::new();
    if path.is_dir() {
        pem_files(path, &mut files)?;
    } else {
        files.push(path.to_owned());
    }
    let mut bundle = Vec::new();
    let mut count = 0usize;
    for f in &files {
        let pem = std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?;
        // A key or a CRL holds no certificate: nothing to add.
        for cert in openssl::x509::X509::stack_from_pem(&pem).unwrap_or_default() {
            bundle.extend(cert.to_pem().map_err(|e| format!("{}: {e}", f.display()))?);
            count += 1;
        }
    }
    let anchors = TrustAnchors::from_pem(&bundle).map_err(|_| {
        format!(
            "no certificate in {} (roots of `{provider}`)",
            path.display()
        )
    })?;
    Ok(Trust {
        anchors,
        source: format!(
            "provider `{provider}`: {count} certificate(s) from {} PEM file(s) in {}",
            files.len(),
            path.display()
        ),
        revocation:
            "not checked (no CRL with --roots; use --config with a provider that has a crl)".into(),
    })
}

/// The system's CA certificates as one PEM bundle (for an https JWKS URL;
/// `SSL_CERT_FILE` / `SSL_CERT_DIR` are honoured).
pub fn system_roots_pem() -> Result<Vec<u8>, String> {
    let mut pem = Vec::new();
    for c in rustls_native_certs::load_native_certs().certs {
        if let Ok(p) = openssl::x509::X509::from_der(c.as_ref()).and_then(|x| x.to_pem()) {
            pem.extend(p);
        }
    }
    if pem.is_empty() {
        return Err(
            "no system CA certificates for an https --jwks URL; save the JWKS to a file and give the file"
                .into(),
        );
    }
    Ok(pem)
}

/// The JWKS from a URL (fetched once) or a file.
pub async fn load_jwks(src: &str) -> Result<serde_json::Value, String> {
    let body = if src.starts_with("http://") || src.starts_with("https://") {
        let uri: http::Uri = src
            .parse()
            .map_err(|_| format!("--jwks `{src}` is not a URL"))?;
        let https = uri.scheme_str() == Some("https");
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(format!(
                "--jwks `{src}` must not carry user:password@ (userinfo)"
            ));
        }
        let loopback = uri
            .host()
            .is_some_and(munjigi_providers::http_client::is_loopback_host);
        if !https && !loopback {
            return Err(format!(
                "--jwks `{src}` uses plain http to a non-loopback host; use https"
            ));
        }
        let ca = if https {
            Some(system_roots_pem()?)
        } else {
            None
        };
        let client = munjigi_providers::http_client::HttpClient::new(ca.as_deref(), JWKS_TIMEOUT)
            .map_err(|e| format!("--jwks: {e}"))?
            .allow_plain_http(!https);
        let resp = client
            .get(src, http::HeaderMap::new())
            .await
            .map_err(|e| format!("fetching the JWKS from {src}: {e}"))?;
        if resp.status != http::StatusCode::OK {
            return Err(format!(
                "fetching the JWKS from {src}: HTTP {}",
                resp.status.as_u16()
            ));
        }
        resp.body.to_vec()
    } else {
        std::fs::read(src).map_err(|e| format!("--jwks {src}: {e}"))?
    };
    serde_json::from_slice(&body).map_err(|e| format!("the JWKS from {src} is not JSON ({e})"))
}

/// ISO 8601 UTC, to the second.
pub fn iso8601(unix: u64) -> String {
    i64::try_from(unix)
        .ok()
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .map_or_else(
            || format!("@{unix}"),
            |t| {
                format!(
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                    t.year(),
                    u8::from(t.month()),
                    t.day(),
                    t.hour(),
                    t.minute(),
                    t.second()
                )
            },
        )
}

/// Checks every document of a sealed receipt; one line per failing document.
pub fn check_documents(claims: &Receipt, anchors: &TrustAnchors) -> Vec<String> {
    if claims.documents.is_empty() {
        return vec!["receipt: no documents".into()];
    }
    claims
        .documents
        .iter()
        .enumerate()
        .filter_map(|(i, d)| {
            check_document(d, &claims.signer.name, anchors)
                .err()
                .map(|r| format!("document {}: {r}", i + 1))
        })
        .collect()
}

/// What a valid receipt says, for people.
pub fn report(sealed: &Sealed, jwks_src: &str, trust: &Trust) -> String {
    let c = &sealed.claims;
    let level = munjigi_providers::Level::from_acr(&c.signer.acr).map_or_else(
        || c.signer.acr.clone(),
        |l| format!("{} ({})", l.short(), l.acr()),
    );
    let mut out = String::new();
    let _ = writeln!(out, "receipt: valid");
    let _ = writeln!(out, "request: {} ({})", c.title, c.jti);
    let _ = writeln!(out, "site (aud): {}", c.aud);
    let _ = writeln!(out, "signed by: {}", c.signer.name);
    let _ = writeln!(out, "  provider: {}", c.signer.provider);
    let _ = writeln!(out, "  level: {level}");
    let _ = writeln!(out, "  sub: {}", c.signer.sub);
    let _ = writeln!(out, "documents: {}", c.documents.len());
    for (i, d) in c.documents.iter().enumerate() {
        let _ = writeln!(out, "  document {}: {}", i + 1, d.title);
        let _ = writeln!(out, "    media type: {}", d.media_type);
        let _ = writeln!(out, "    {}: {}", d.digest_alg, d.digest);
        let _ = writeln!(out, "    form: {}", d.form);
        let _ = writeln!(out, "    signed at: {}", iso8601(d.signing_time));
        let _ = writeln!(
            out,
            "    certificate: serial {} issued by {}",
            d.signer_cert_serial, d.signer_cert_issuer
        );
    }
    let _ = writeln!(out, "sealed by: {} at {}", c.iss, iso8601(c.iat));
    let key = match sealed.key {
        SealKey::Receipt => "the receipt key",
        SealKey::IdToken => "the ID token key (sealed before receipts had a key of their own)",
    };
    let _ = writeln!(
        out,
        "  key: ES256 kid {} from {jwks_src}, {key}",
        sealed.kid
    );
    let _ = writeln!(out, "trust anchors: {}", trust.source);
    let _ = write!(out, "revocation: {}", trust.revocation);
    out
}
