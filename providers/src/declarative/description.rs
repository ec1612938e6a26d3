//! The typed description of a provider's API that the declarative adapter
//! follows: where it lives, how the gateway authenticates, and for each of the
//! three calls (start, status, result) which fields go where and where the
//! answers are. Deserialised from the operator's config; every struct refuses
//! unknown keys, and [`Description::validate`] reports every mistake naming the
//! field, before any adapter is built.
//!
//! Secrets are never in the description: it names them (`key = "hmac_key"`) and
//! the operator supplies their values beside it ([`super::DeclarativeSecrets`]).
//!
//! Not here: HTTP, cryptography or JSON handling beyond validating paths.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::signer_cn::SignerCn;

/// A provider's relying-party API, described.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Description {
    /// Base URL every path is appended to; may carry a path prefix.
    pub base_url: String,
    /// Allow `http://` to a non-loopback host (loopback is always allowed).
    /// Only the demo's config may set it (`munjigi check` refuses it
    /// elsewhere): plain http gives a network attacker the citizen's request
    /// and the provider's answer.
    #[serde(default)]
    pub allow_plain_http: bool,
    /// Per-request HTTP deadline, milliseconds (default 15,000).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// The provider's longest request lifetime, seconds (default 300).
    #[serde(default)]
    pub max_ttl_secs: Option<u32>,
    /// How each call is authenticated.
    pub auth: Auth,
    /// Field encryption (AES-256-GCM, `b64(iv[12] ‖ ct ‖ tag[16])`), when any
    /// field is sent or received encrypted. Each field is sealed to its place:
    /// the associated data is `request` `\n` `path` — the provider's handle
    /// (in the start request, which has none yet, the nonce sent in it) and
    /// the field's JSON dot path in that body as written here (`userNm`,
    /// `data.person.ci`) — so a field moved to another field, or copied from
    /// another request's answer, does not open. Providers seal the fields of
    /// their answers the same way.
    #[serde(default)]
    pub encryption: Option<Encryption>,
    pub start: StartOp,
    pub status: StatusOp,
    pub result: ResultOp,
    /// How refusals look and what their codes mean.
    #[serde(default)]
    pub errors: Option<Errors>,
}

/// The auth scheme, by `scheme = "hmac" | "bearer" | "api_key"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "scheme", rename_all = "snake_case")]
pub enum Auth {
    Hmac(HmacAuth),
    Bearer(BearerAuth),
    ApiKey(ApiKeyAuth),
}

/// Every call carries a date header and an HMAC-SHA256 (base64) header over the
/// listed parts, each followed by `\n`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HmacAuth {
    /// Header carrying the signature.
    pub header: String,
    /// Text before the signature in the header (e.g. `"HMAC "`).
    #[serde(default)]
    pub prefix: Option<String>,
    /// Header carrying the date (RFC 3339 UTC).
    pub date_header: String,
    /// The secret holding the HMAC key (base64).
    pub key: String,
    /// What is signed, in order.
    pub signed: Vec<SignedPart>,
}

/// One part of the HMAC's signed string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignedPart {
    /// `GET`, `POST`.
    Method,
    /// The URL path (with query) as sent, including the base URL's prefix.
    Path,
    /// The date header's value.
    Date,
    /// base64(SHA-256(body)); of the empty string when there is no body.
    BodySha256,
}

/// OAuth2 client credentials: `POST {token_path}` with HTTP Basic auth and
/// `grant_type=client_credentials`; the token is cached until shortly before it
/// expires and fetched again once when a call is refused with HTTP 401.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BearerAuth {
    pub token_path: String,
    pub client_id: String,
    /// The secret holding the client secret.
    pub client_secret: String,
    /// JSON path of the token in the token response.
    pub token: String,
    /// JSON path of its lifetime in seconds.
    pub expires_in: String,
}

/// A static key in a header.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyAuth {
    pub header: String,
    #[serde(default)]
    pub prefix: Option<String>,
    /// The secret holding the key.
    pub key: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Encryption {
    /// The secret holding the AES-256 key (base64 of 32 bytes).
    pub key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Post,
}

/// What the gateway has to send, and where it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The citizen's name.
    Name,
    /// `YYYYMMDD`.
    Birthdate,
    /// `YYYY-MM-DD`.
    BirthdateIso,
    /// National digits (`01012345678`).
    Phone,
    /// `+821012345678`.
    PhoneE164,
    /// The nonce to be signed (the CMS content must equal it).
    Nonce,
    /// The request lifetime in seconds (a JSON number).
    TtlSecs,
    /// The title shown in the app.
    Title,
    /// The provider's id of the request (status and result only).
    Handle,
    /// Start only: `true` when the citizen's browser is on the phone with
    /// the app (app-to-app), `false` for a push (a JSON boolean).
    AppToApp,
    /// Start only: `ANDROID` or `IOS` for app-to-app; the field is left out
    /// of a push request.
    DeviceOs,
    /// Start only: the gateway's waiting page, for the app to open when done
    /// (app-to-app); left out of a push request.
    ReturnUrl,
}

impl Source {
    /// Sources that exist only for an app-to-app start.
    pub fn is_app_to_app(self) -> bool {
        matches!(
            self,
            Source::AppToApp | Source::DeviceOs | Source::ReturnUrl
        )
    }
}

/// One JSON field of a request body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestField {
    pub from: Source,
    /// Dot path in the body (`customer.name`).
    pub to: String,
    /// Sent as `b64(iv ‖ AES-256-GCM ct ‖ tag)` under the encryption key,
    /// sealed to this request and `to` (see [`Description::encryption`]).
    #[serde(default)]
    pub encrypted: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartOp {
    pub method: HttpMethod,
    pub path: String,
    #[serde(default)]
    pub request: Vec<RequestField>,
    /// Dot path of the request's id in the answer.
    pub handle: String,
    /// Dot path of an app-to-app URL in the answer, if the provider gives one.
    #[serde(default)]
    pub app_scheme: Option<String>,
}

/// The gateway's normalised states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormalState {
    Pending,
    Viewed,
    Completed,
    Expired,
    Rejected,
    Failed,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusOp {
    pub method: HttpMethod,
    /// May contain `{handle}`.
    pub path: String,
    #[serde(default)]
    pub request: Vec<RequestField>,
    /// Dot path of the state value (string or number) in the answer.
    pub state: String,
    /// Provider state value → normalised state (numbers written as strings).
    pub states: BTreeMap<String, NormalState>,
}

/// How the signed result is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CmsEncoding {
    /// DER or BER, content attached.
    #[default]
    Attached,
    /// Content not inside: checked against the nonce.
    Detached,
}

/// A personal field of the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultField {
    Ci,
    Name,
    Birthdate,
    Phone,
    Gender,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultOp {
    pub method: HttpMethod,
    /// May contain `{handle}`.
    pub path: String,
    #[serde(default)]
    pub request: Vec<RequestField>,
    /// Dot path of the base64 CMS SignedData.
    pub signed_data: String,
    #[serde(default)]
    pub cms_encoding: CmsEncoding,
    pub ci: String,
    pub name: String,
    /// `YYYYMMDD` or `YYYY-MM-DD`.
    pub birthdate: String,
    pub phone: String,
    #[serde(default)]
    pub gender: Option<String>,
    /// Which of these arrive encrypted (each sealed to the handle and its
    /// own path, see [`Description::encryption`]). Every one of these fields
    /// must be a JSON string.
    #[serde(default)]
    pub encrypted: Vec<ResultField>,
    /// How the provider's CA writes the signer's name into the certificate
    /// CN: `exact` (the name alone, the default) or `name_paren_digits`
    /// (`홍길동()0011…`, the accredited-certificate form). Matched exactly.
    #[serde(default)]
    pub signer_cn: SignerCn,
}

/// What a refusal means, provider-neutrally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    UnknownPerson,
    PersonMismatch,
    AccountUnusable,
    Unauthorized,
    /// Down or busy; trying again soon may help.
    Unavailable,
    /// Down; trying again soon will not help.
    UnavailableFinal,
    BadRequest,
    NotReady,
    AlreadyUsed,
    TooLate,
    Rejected,
    Expired,
}

/// Refusals: any non-2xx answer. Without a known code the HTTP status decides
/// (401/403 unauthorized, 429/5xx unavailable, other 4xx bad request).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Errors {
    /// Dot path of the error code in the body.
    #[serde(default)]
    pub code: Option<String>,
    /// Dot path of the error message in the body.
    #[serde(default)]
    pub message: Option<String>,
    /// Provider code → meaning.
    #[serde(default)]
    pub codes: BTreeMap<String, Reason>,
}

/// One mistake in a description, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct DescriptionError {
    /// Dotted field name inside the description (`status.states`).
    pub field: String,
    pub message: String,
}

/// Whether `p` is a dot path: segments of ASCII letters, digits, `_` or `-`.
pub fn valid_json_path(p: &str) -> bool {
    !p.is_empty()
        && p.split('.').all(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
}

fn header_name_ok(h: &str) -> bool {
    http::HeaderName::from_bytes(h.as_bytes()).is_ok()
}

struct Check {
    errors: Vec<DescriptionError>,
}

impl Check {
    fn err(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(DescriptionError {
            field: field.into(),
            message: message.into(),
        });
    }

    fn path(&mut self, field: &str, p: &str) {
        if !valid_json_path(p) {
            self.err(
                field,
                format!("`{p}` is not a JSON dot path (like `data.txId`)"),
            );
        }
    }

    fn secret(&mut self, field: &str, name: &str, known: &dyn Fn(&str) -> bool) {
        if !known(name) {
            self.err(field, format!("names secret `{name}`, which is not given"));
        }
    }

    /// A path template: starts with `/`, only `{handle}` as placeholder, no query.
    /// Returns whether it uses `{handle}`.
    fn template(&mut self, field: &str, t: &str) -> bool {
        if !t.starts_with('/') {
            self.err(field, "must start with `/`");
        }
        if t.contains(['?', '#', ' ']) {
            self.err(field, "must not contain `?`, `#` or spaces");
        }
        let mut rest = t;
        let mut has_handle = false;
        while let Some(open) = rest.find('{') {
            let after = rest.get(open + 1..).unwrap_or_default();
            match after.find('}') {
                Some(close) => {
                    let name = after.get(..close).unwrap_or_default();
                    if name == "handle" {
                        has_handle = true;
                    } else {
                        self.err(
                            field,
                            format!("unknown placeholder `{{{name}}}`; only `{{handle}}` exists"),
                        );
                    }
                    rest = after.get(close + 1..).unwrap_or_default();
                }
                None => {
                    self.err(field, "has a `{` without `}`");
                    break;
                }
            }
        }
        if rest.contains('}') {
            self.err(field, "has a `}` without `{`");
        }
        has_handle
    }

    fn request(
        &mut self,
        op: &str,
        method: HttpMethod,
        fields: &[RequestField],
        encryption: bool,
        handle_allowed: bool,
    ) {
        if method == HttpMethod::Get && !fields.is_empty() {
            self.err(
                format!("{op}.request"),
                "a GET sends no body; use POST or no request fields",
            );
        }
        for (i, f) in fields.iter().enumerate() {
            let field = format!("{op}.request[{i}].to");
            self.path(&field, &f.to);
            let clash = fields.iter().take(i).any(|o| {
                o.to == f.to
                    || o.to.starts_with(&format!("{}.", f.to))
                    || f.to.starts_with(&format!("{}.", o.to))
            });
            if clash {
                self.err(&field, format!("`{}` overlaps another field", f.to));
            }
            if f.encrypted && !encryption {
                self.err(
                    format!("{op}.request[{i}].encrypted"),
                    "needs an [encryption] section with a key",
                );
            }
            if f.from.is_app_to_app() && handle_allowed {
                self.err(
                    format!("{op}.request[{i}].from"),
                    "app-to-app fields belong to the start request only",
                );
            }
            if f.encrypted && f.from == Source::AppToApp {
                self.err(
                    format!("{op}.request[{i}].encrypted"),
                    "app_to_app is a boolean and cannot be encrypted",
                );
            }
            if f.from == Source::Handle && !handle_allowed {
                self.err(
                    format!("{op}.request[{i}].from"),
                    "`handle` does not exist before the provider answered",
                );
            }
            if f.encrypted && matches!(f.from, Source::TtlSecs) {
                self.err(
                    format!("{op}.request[{i}].encrypted"),
                    "ttl_secs is a number and cannot be encrypted",
                );
            }
        }
    }
}

impl Description {
    /// Every mistake in the description; `secret_known` says whether a secret
    /// name is supplied. Empty when the description is usable.
    pub fn validate(&self, secret_known: &dyn Fn(&str) -> bool) -> Vec<DescriptionError> {
        let mut c = Check { errors: Vec::new() };
        // The config's one URL rule (https, or http on loopback unless
        // allow_plain_http, which only the demo may set), and no query.
        let plain = if self.allow_plain_http {
            crate::url_rule::PlainHttp::Anywhere
        } else {
            crate::url_rule::PlainHttp::LoopbackOnly
        };
        match crate::url_rule::check(&self.base_url, plain) {
            Ok(u) if u.url().query().is_some() => c.err("base_url", "must not have a query"),
            Ok(_) => {}
            Err(e) => c.err("base_url", e),
        }
        if self.timeout_ms == Some(0) {
            c.err("timeout_ms", "must be above zero");
        }
        if self.max_ttl_secs == Some(0) {
            c.err("max_ttl_secs", "must be above zero");
        }
        match &self.auth {
            Auth::Hmac(h) => {
                if !header_name_ok(&h.header) {
                    c.err("auth.header", "is not a valid header name");
                }
                if !header_name_ok(&h.date_header) {
                    c.err("auth.date_header", "is not a valid header name");
                }
                c.secret("auth.key", &h.key, secret_known);
                if h.signed.is_empty() {
                    c.err("auth.signed", "lists nothing to sign");
                }
                for (i, p) in h.signed.iter().enumerate() {
                    if h.signed.iter().take(i).any(|o| o == p) {
                        c.err("auth.signed", format!("lists {p:?} twice"));
                    }
                }
            }
            Auth::Bearer(b) => {
                c.template("auth.token_path", &b.token_path);
                if b.token_path.contains('{') {
                    c.err("auth.token_path", "takes no placeholder");
                }
                if b.client_id.trim().is_empty() || b.client_id.contains(':') {
                    c.err("auth.client_id", "must be non-empty without `:`");
                }
                c.secret("auth.client_secret", &b.client_secret, secret_known);
                c.path("auth.token", &b.token);
                c.path("auth.expires_in", &b.expires_in);
            }
            Auth::ApiKey(a) => {
                if !header_name_ok(&a.header) {
                    c.err("auth.header", "is not a valid header name");
                }
                c.secret("auth.key", &a.key, secret_known);
            }
        }
        if let Some(e) = &self.encryption {
            c.secret("encryption.key", &e.key, secret_known);
        }
        let enc = self.encryption.is_some();

        // start
        if c.template("start.path", &self.start.path) {
            c.err(
                "start.path",
                "`{handle}` does not exist before the provider answered",
            );
        }
        c.request("start", self.start.method, &self.start.request, enc, false);
        if !self.start.request.iter().any(|f| f.from == Source::Nonce) {
            c.err(
                "start.request",
                "never sends the nonce: the provider's app could not sign it",
            );
        }
        c.path("start.handle", &self.start.handle);
        if let Some(p) = &self.start.app_scheme {
            c.path("start.app_scheme", p);
        }
        // Without `app_to_app` the provider is taken to answer a link with
        // every request (and to push as well).
        let asks_app = self.start.request.iter().any(|f| f.from.is_app_to_app());
        if asks_app && self.start.app_scheme.is_none() {
            c.err(
                "start.request",
                "`app_to_app`, `device_os` and `return_url` need `start.app_scheme`: where the answer carries the link",
            );
        }

        // status
        let s = &self.status;
        let in_path = c.template("status.path", &s.path);
        c.request("status", s.method, &s.request, enc, true);
        if !in_path && !s.request.iter().any(|f| f.from == Source::Handle) {
            c.err(
                "status.path",
                "the handle is sent neither in the path (`{handle}`) nor in the request",
            );
        }
        c.path("status.state", &s.state);
        if s.states.is_empty() {
            c.err("status.states", "is empty");
        }
        if s.states.keys().any(|k| k.trim().is_empty()) {
            c.err("status.states", "has an empty provider value");
        }
        if !s.states.values().any(|v| *v == NormalState::Completed) {
            c.err(
                "status.states",
                "no provider state maps to `completed`: no login could ever finish",
            );
        }

        // result
        let r = &self.result;
        let in_path = c.template("result.path", &r.path);
        c.request("result", r.method, &r.request, enc, true);
        if !in_path && !r.request.iter().any(|f| f.from == Source::Handle) {
            c.err(
                "result.path",
                "the handle is sent neither in the path (`{handle}`) nor in the request",
            );
        }
        c.path("result.signed_data", &r.signed_data);
        c.path("result.ci", &r.ci);
        c.path("result.name", &r.name);
        c.path("result.birthdate", &r.birthdate);
        c.path("result.phone", &r.phone);
        if let Some(g) = &r.gender {
            c.path("result.gender", g);
        }
        if !r.encrypted.is_empty() && !enc {
            c.err(
                "result.encrypted",
                "needs an [encryption] section with a key",
            );
        }
        if r.encrypted.contains(&ResultField::Gender) && r.gender.is_none() {
            c.err(
                "result.encrypted",
                "lists gender, but result.gender is not set",
            );
        }

        if let Some(e) = &self.errors {
            if let Some(p) = &e.code {
                c.path("errors.code", p);
            }
            if let Some(p) = &e.message {
                c.path("errors.message", p);
            }
            if !e.codes.is_empty() && e.code.is_none() {
                c.err("errors.codes", "needs errors.code, the path of the code");
            }
            if e.codes.keys().any(|k| k.trim().is_empty()) {
                c.err("errors.codes", "has an empty provider code");
            }
        }
        c.errors
    }
}
