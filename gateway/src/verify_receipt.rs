//! `munjigi verify-receipt`: offline verification of a signing receipt.
//!
//! A receipt (see [`crate::signing::receipt`]) is trusted only as far as two
//! independent checks go:
//! 1. the JWS: ES256 only, `typ` `munjigi-receipt+jwt`, the key named by `kid`
//!    taken from the gateway's JWKS the operator gives (`--jwks`, a URL fetched
//!    once or a saved file) — never from the receipt itself;
//! 2. every document's CMS, through the one verification path
//!    ([`munjigi_providers::cms::verify`]): the content per the document's
//!    `form` against its digest, the chain to the provider's roots at the
//!    signingTime, the KeyUsage, the CRL when one is configured; and the CMS
//!    must agree with what the receipt says (signingTime, signer certificate
//!    issuer and serial, and a CN that is exactly the signer's name in the
//!    document's `signer_cn` format, by the adapters' own rule
//!    [`munjigi_providers::SignerCn::names`]; `exact` when absent).
//!
//! Exit codes: 0 valid; 1 the receipt failed a check (one line per failure,
//! naming the document); 2 the check could not be run (usage, an unreadable
//! file, an unreachable JWKS, no roots).
//!
//! Not here: checking a document's bytes against its digest (the site holds
//! the documents), OCSP, or revocation from anything but a configured CRL file.

use base64::Engine as _;
use josekit::jwk::Jwk;
use josekit::jws::ES256;
use munjigi_providers::cms::{self, CmsError, Content, CrlPolicy, Expect, TrustAnchors};
use munjigi_providers::signing::SignedForm;
use serde::Deserialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::signing::receipt::TYP;

/// Seconds the CMS signingTime may differ from the receipt's `signing_time`
/// inside [`cms::verify`]; equality is then required on top.
const SKEW_SECS: u64 = 1;
/// How long fetching the JWKS may take.
const JWKS_TIMEOUT: Duration = Duration::from_secs(10);

/// What the command was given.
#[derive(Debug, Clone)]
pub struct Args {
    /// The compact JWS, or the API's JSON answer with a `receipt` field.
    pub file: PathBuf,
    /// The gateway's JWKS: an http(s) URL or a file.
    pub jwks: Option<String>,
    /// Trust anchors: every certificate in every `.pem` file under this folder.
    pub roots: Option<PathBuf>,
    /// Trust anchors: the roots (and CRL) of the receipt's provider in a gateway config.
    pub config: Option<PathBuf>,
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

/// The receipt's claims as sealed by [`crate::signing::receipt::seal`].
#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub iat: u64,
    pub jti: String,
    #[serde(default)]
    pub title: String,
    pub signer: Signer,
    pub documents: Vec<Document>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Signer {
    pub sub: String,
    pub name: String,
    pub provider: String,
    pub acr: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Document {
    pub title: String,
    pub media_type: String,
    pub digest_alg: String,
    pub digest: String,
    pub form: String,
    pub cms: String,
    pub signing_time: u64,
    pub signer_cert_issuer: String,
    pub signer_cert_serial: String,
    /// How the provider writes the signer's name in the CN; receipts from
    /// before it was written are all `exact`.
    #[serde(default)]
    pub signer_cn: munjigi_providers::SignerCn,
}

/// A receipt whose JWS verified.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub kid: String,
    pub claims: Claims,
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

/// The one ES256 key `kid` names in `jwks`.
fn key_for(jwks: &serde_json::Value, kid: &str) -> Result<Jwk, String> {
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
    if field("alg").is_some_and(|a| a != "ES256") || field("use").is_some_and(|u| u != "sig") {
        return Err(format!("key `{kid}` is not published for ES256 signatures"));
    }
    let map = key
        .as_object()
        .cloned()
        .ok_or("a JWKS key is not an object")?;
    Jwk::from_map(map).map_err(|e| format!("key `{kid}` is not a usable JWK: {e}"))
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
    let jwk = key_for(jwks, &kid)?;
    let verifier = ES256
        .verifier_from_jwk(&jwk)
        .map_err(|e| format!("key `{kid}` is not a usable ES256 key: {e}"))?;
    let (payload, _) = josekit::jws::deserialize_compact(token, &verifier)
        .map_err(|_| format!("the JWS signature does not verify with key `{kid}`"))?;
    let claims: Claims = serde_json::from_slice(&payload)
        .map_err(|e| format!("the payload is not a munjigi receipt ({e})"))?;
    Ok(Sealed { kid, claims })
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
    let form = match doc.form.as_str() {
        "digest" => SignedForm::Digest,
        "detached_digest" => SignedForm::DetachedDigest,
        other => return Err(format!("unknown form `{other}`")),
    };
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

/// Every `.pem` file under `dir`, recursively, sorted.
fn pem_files(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) -> Result<(), String> {
    if depth > 16 {
        return Err(format!("{}: folders nested too deep", dir.display()));
    }
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if path.is_dir() {
            pem_files(&path, out, depth + 1)?;
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

/// Every certificate in every PEM file under `dir` (keys and CRLs are skipped).
/// No revocation check: a folder says nothing about which CRL belongs to whom.
pub fn trust_from_dir(dir: &Path) -> Result<Trust, String> {
    let mut files = Vec::new();
    pem_files(dir, &mut files, 0)?;
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
    let anchors = TrustAnchors::from_pem(&bundle)
        .map_err(|_| format!("no certificate in any .pem file under {}", dir.display()))?;
    Ok(Trust {
        anchors,
        source: format!(
            "{count} certificate(s) from {} PEM file(s) under {}",
            files.len(),
            dir.display()
        ),
        revocation:
            "not checked (no CRL with --roots; use --config with a provider that has a crl)".into(),
    })
}

/// The roots (and CRL, if any) of `provider` in a gateway config.
pub fn trust_from_config(cfg: &crate::config::Config, provider: &str) -> Result<Trust, String> {
    use crate::config::model::{CrlSource, ProviderFamily};
    let p = cfg
        .provider(provider)
        .ok_or_else(|| format!("provider `{provider}` is not in {}", cfg.source.display()))?;
    let (roots_pem, crl) = match &p.family {
        ProviderFamily::Barocert { roots_pem, crl, .. }
        | ProviderFamily::KakaoDirect { roots_pem, crl, .. }
        | ProviderFamily::TossDirect { roots_pem, crl, .. }
        | ProviderFamily::Declarative { roots_pem, crl, .. } => (roots_pem, crl.as_ref()),
    };
    let mut anchors = TrustAnchors::from_pem(roots_pem)
        .map_err(|e| format!("provider `{provider}` roots: {e}"))?;
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
                // nextUpdate; a serial the CRL lists is refused all the same.
                anchors = anchors.with_crl(CrlPolicy::from_file(path, false));
                format!(
                    "checked against the CRL {} (a serial it lists is refused)",
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

/// The system's CA certificates as one PEM bundle (for an https JWKS URL;
/// `SSL_CERT_FILE` / `SSL_CERT_DIR` are honoured).
pub(crate) fn system_roots_pem() -> Result<Vec<u8>, String> {
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
pub fn check_documents(claims: &Claims, anchors: &TrustAnchors) -> Vec<String> {
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
    let _ = writeln!(out, "  key: ES256 kid {} from {jwks_src}", sealed.kid);
    let _ = writeln!(out, "trust anchors: {}", trust.source);
    let _ = write!(out, "revocation: {}", trust.revocation);
    out
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
    let config = match (&args.roots, &args.config) {
        (None, None) => {
            return Err(Failure::Usage(
                "give the provider roots: --roots DIR or --config FILE".into(),
            ))
        }
        (Some(_), Some(_)) => {
            return Err(Failure::Usage(
                "give either --roots or --config, not both".into(),
            ))
        }
        (None, Some(path)) => Some(
            crate::config::load(path)
                .map_err(|e| Failure::Usage(format!("--config {}: {e}", path.display())))?,
        ),
        (Some(_), None) => None,
    };
    let dir_trust = match &args.roots {
        Some(dir) => Some(trust_from_dir(dir).map_err(Failure::Usage)?),
        None => None,
    };
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| Failure::Usage(format!("{}: {e}", args.file.display())))?;
    let jwks = load_jwks(jwks_src).await.map_err(Failure::Usage)?;

    let token = token_from_text(&text).map_err(Failure::receipt)?;
    let sealed = open_jws(&token, &jwks).map_err(Failure::receipt)?;
    let trust = match (dir_trust, &config) {
        (Some(t), _) => t,
        (None, Some(cfg)) => {
            trust_from_config(cfg, &sealed.claims.signer.provider).map_err(Failure::receipt)?
        }
        (None, None) => return Err(Failure::Usage("no trust anchors".into())),
    };
    let failures = check_documents(&sealed.claims, &trust.anchors);
    if !failures.is_empty() {
        return Err(Failure::Invalid(failures));
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
    use crate::config::model::IdTokenAlg;
    use crate::keys::SigningKeys;
    use munjigi_providers::cms::Encoding;
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
        SigningKeys::from_pem(&es, &rs).unwrap()
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
        let token = f.keys.sign(IdTokenAlg::Es256, TYP, &claims).unwrap();
        let jwks = jwks_of(&f.keys);
        let sealed = open_jws(&token, &jwks).unwrap();
        assert_eq!(sealed.claims.signer.name, "홍길동");
        assert_eq!(
            Some(sealed.kid.as_str()),
            f.keys.public_jwk(IdTokenAlg::Es256).key_id()
        );
        assert!(check_documents(&sealed.claims, &f.anchors).is_empty());

        // Another gateway's keys.
        let e = open_jws(&token, &jwks_of(&f.other_keys)).unwrap_err();
        assert!(e.starts_with("no key"), "{e}");
        // The other gateway's JWKS holding a key with our kid is still refused.
        let mut forged = jwks_of(&f.other_keys);
        forged["keys"][0]["kid"] = sealed.kid.clone().into();
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
        let token = f
            .keys
            .sign(IdTokenAlg::Es256, TYP, &claims_json(&docs))
            .unwrap();
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
            roots: Some(dir.join("pki")),
            config: None,
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
        // Only the other provider's roots: both documents fail, each named.
        let only_other = Args {
            roots: Some(dir.join("pki/other")),
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
            roots: None,
            ..args.clone()
        };
        assert_eq!(run(&no_roots).await.unwrap_err().exit_code(), 2);
        let empty = dir.join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        let no_certs = Args {
            roots: Some(empty),
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
