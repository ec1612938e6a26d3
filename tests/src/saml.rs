//! The SAML side of the harness: a real pysaml2 service provider
//! (`tests/site/saml_sp.py`) as the gateway's peer, and the browser's part of
//! the HTTP-POST binding.
//!
//! The SP starts before the gateway (the gateway's config names the SP's
//! metadata file) and fetches the IdP metadata on its first login, so callers
//! pick the gateway's port up front (`GatewayOpts.port`) and pass its URL here.

use crate::{absolute, html_unescape, python, repo_root, Browser, Page, Proc};
use std::path::{Path, PathBuf};
use std::process::Command;

/// How the SP is configured (its command-line flags).
#[derive(Debug, Clone, Default)]
pub struct SamlSpOpts {
    /// Sign AuthnRequests and logout messages (`AuthnRequestsSigned="true"`).
    pub sign_requests: bool,
    /// Require the `<Response>` itself to be signed, not only the assertion.
    pub want_response_signed: bool,
    /// Publish an encryption key (the IdP may then encrypt assertions).
    pub encrypt: bool,
    /// Accept IdP-initiated (unsolicited) responses at `/acs`.
    pub allow_unsolicited: bool,
    /// Sign AuthnRequests with RSA-SHA1 (pysaml2's own default) instead of RSA-SHA256.
    pub authn_rsa_sha1: bool,
    /// Digest signed AuthnRequests with SHA-1 (pysaml2's own default) instead of SHA-256.
    pub authn_sha1_digest: bool,
    /// The host name in the SP's URLs (default `127.0.0.1`): `localhost` makes
    /// the SP another site than a gateway at 127.0.0.1, as a browser's
    /// SameSite rules see it.
    pub host: Option<&'static str>,
}

/// The running SP: `url` is its base (`http://127.0.0.1:PORT`), `metadata` its
/// SP metadata file for the gateway's config.
pub struct SamlSp {
    pub proc: Proc,
    pub url: String,
    pub entity_id: String,
    pub metadata: PathBuf,
}

/// Starts the SP with its keys and metadata in `dir/saml-sp`, trusting the IdP
/// whose metadata will be at `{idp_url}/saml/metadata`.
pub fn start_saml_sp(dir: &Path, idp_url: &str, opts: &SamlSpOpts) -> SamlSp {
    let port = crate::free_port();
    let sp_dir = dir.join("saml-sp");
    let mut cmd = Command::new(python());
    cmd.arg(repo_root().join("tests/site/saml_sp.py"))
        .args(["--port", &port.to_string()])
        .arg("--dir")
        .arg(&sp_dir)
        .arg("--idp-metadata-url")
        .arg(format!("{idp_url}/saml/metadata"));
    for (on, flag) in [
        (opts.sign_requests, "--sign-requests"),
        (opts.want_response_signed, "--want-response-signed"),
        (opts.encrypt, "--encrypt"),
        (opts.allow_unsolicited, "--allow-unsolicited"),
    ] {
        if on {
            cmd.arg(flag);
        }
    }
    if opts.authn_rsa_sha1 {
        cmd.args(["--authn-sig-alg", "rsa-sha1"]);
    }
    if opts.authn_sha1_digest {
        cmd.args(["--authn-digest", "sha1"]);
    }
    let host = opts.host.unwrap_or("127.0.0.1");
    cmd.args(["--host", host]);
    let (proc, _) = Proc::start("saml sp", cmd, "sp listening on");
    let url = format!("http://{host}:{port}");
    SamlSp {
        proc,
        entity_id: format!("{url}/metadata"),
        url,
        metadata: sp_dir.join("sp-metadata.xml"),
    }
}

/// The value of attribute `name` in one HTML tag (`name="…"`), unescaped.
fn attr(tag: &str, name: &str) -> Option<String> {
    let marker = format!(" {name}=\"");
    let at = tag.find(&marker)? + marker.len();
    let rest = tag.get(at..)?;
    Some(html_unescape(rest.get(..rest.find('"')?)?))
}

/// The auto-submitting form of the SAML HTTP-POST binding on `page`: its action
/// and every hidden input, in order.
pub fn auto_post_form(page: &Page) -> (String, Vec<(String, String)>) {
    let body = &page.body;
    let start = body
        .find("<form")
        .unwrap_or_else(|| panic!("no <form> in: {body}"));
    let end = body[start..]
        .find("</form>")
        .map_or(body.len(), |i| start + i);
    let form = &body[start..end];
    let open = &form[..form.find('>').expect("the <form> tag ends")];
    assert_eq!(
        attr(open, "method")
            .map(|m| m.to_ascii_lowercase())
            .as_deref(),
        Some("post"),
        "a POST form: {open}"
    );
    let action = attr(open, "action").unwrap_or_else(|| panic!("form action in: {open}"));
    let mut fields = Vec::new();
    for chunk in form.split("<input").skip(1) {
        let tag = &chunk[..chunk.find('>').unwrap_or(chunk.len())];
        if attr(tag, "type").as_deref() != Some("hidden") {
            continue;
        }
        if let Some(name) = attr(tag, "name") {
            fields.push((name, attr(tag, "value").unwrap_or_default()));
        }
    }
    (action, fields)
}

/// Submits `page`'s auto-POST form (a SAML message going either way) as the
/// browser would, cookies included: its hidden inputs to its action, resolved
/// against `base_url` when relative. Returns the answer.
pub async fn submit_auto_post(b: &mut Browser, page: &Page, base_url: &str) -> Page {
    let (action, fields) = auto_post_form(page);
    let url = absolute(base_url, &action);
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    b.post(&url, &pairs).await
}
