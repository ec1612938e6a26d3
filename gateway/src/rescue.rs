//! Errors become responses here, and only here.
//!
//! One `match` fixes, for every failure, the HTTP status, the page the citizen
//! sees, the log level and a stable code operators can grep (`MJ-…`). The operator
//! line is logged here once, with the transaction id; the citizen sees the code
//! and the transaction id, never the source error.
//!
//! A provider failure, live ([`ProviderError`]) or stored with a login, is
//! looked up in [`crate::failure`]'s table, which also gives the site its OAuth
//! error, SAML status and signing API reason. Faults inside the gateway carry
//! a [`Fault`], each with its code; a race with another tab or window of the
//! same login ([`Race`]) is a 409 that leads back to the login, not a fault.
//! README's error-code table is checked against this module by a unit test.

use crate::pages::{self, ErrorView, Lang, Problem};
use crate::store::StoreError;
use crate::txn::TxnError;
use crate::web::{respond, Response};
use http::StatusCode;
use munjigi_policy::limits::Kind;
use munjigi_providers::ProviderError;

/// Everything that can go wrong while serving a citizen's browser.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("malformed request: {0}")]
    BadRequest(String),
    #[error("request too large")]
    TooLarge,
    #[error("no such page")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("unknown client_id")]
    UnknownClient,
    #[error("redirect_uri missing or not registered for this client")]
    InvalidRedirect,
    #[error("login transaction gone or expired")]
    LoginGone,
    #[error("login transaction belongs to another browser")]
    WrongBrowser,
    /// The waiting page of an app-to-app login opened by another browser:
    /// the provider's app returned to the browser it chose.
    #[error("app-to-app login returned to another browser")]
    ReturnedElsewhere,
    #[error("CSRF token missing or wrong")]
    Csrf,
    #[error("too many attempts in one login")]
    TooManyAttempts,
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something broke inside the gateway; the [`Fault`] says what, with its
    /// own code. The detail is for the log only.
    #[error("internal error ({}): {}", .0.what(), .1)]
    Internal(Fault, String),
    /// Another request (a second tab, a double submit) changed the login
    /// between this request's read and its write, or had already moved it
    /// past the step this request was for: a race, not a fault.
    #[error("login changed by another request ({0})")]
    ChangedElsewhere(Race),
    #[error("upstream of route `{route}`: {detail}")]
    Upstream {
        route: String,
        timed_out: bool,
        detail: String,
    },
    #[error("proxy login hand-over refused: {0}")]
    ProxyLink(&'static str),
    /// An abuse limit (`crate::limits`).
    #[error("{0}")]
    Limited(crate::limits::Refused),
    /// A request path with no unambiguous canonical form (`crate::web::path`).
    #[error("path refused on {place}: {reason}")]
    UnsafePath {
        /// `route <id>`, or `host <host>` before a route is known.
        place: String,
        reason: crate::web::path::PathRefusal,
    },
    #[error(transparent)]
    Saml(#[from] crate::saml::error::SamlError),
    /// A provider not offered right now: its circuit is open, or an
    /// operator forced it off (`crate::circuit`).
    #[error("provider `{provider}` is not offered now ({})", if *.forced { "forced off" } else { "circuit open" })]
    ProviderOff { provider: String, forced: bool },
    /// The audit log could not take a login's record and `[audit]
    /// on_failure` is `refuse`: the login does not complete.
    #[error("{0}")]
    AuditUnavailable(String),
}

impl From<TxnError> for GatewayError {
    fn from(e: TxnError) -> Self {
        match e {
            TxnError::Store(s) => GatewayError::Store(s),
            TxnError::Gone => GatewayError::LoginGone,
            TxnError::Conflict => GatewayError::ChangedElsewhere(Race::Conflict),
            TxnError::Illegal(i) => GatewayError::ChangedElsewhere(Race::Stale(i)),
            TxnError::Corrupt(c) => GatewayError::Internal(Fault::Corrupt, c),
        }
    }
}

impl From<crate::web::params::ParamError> for GatewayError {
    fn from(e: crate::web::params::ParamError) -> Self {
        GatewayError::BadRequest(e.to_string())
    }
}

impl From<crate::web::BodyError> for GatewayError {
    fn from(e: crate::web::BodyError) -> Self {
        match e {
            crate::web::BodyError::TooLarge(_) => GatewayError::TooLarge,
            crate::web::BodyError::Read => GatewayError::BadRequest(e.to_string()),
        }
    }
}

impl From<crate::random::RandomError> for GatewayError {
    fn from(e: crate::random::RandomError) -> Self {
        GatewayError::Internal(Fault::Random, e.to_string())
    }
}

impl GatewayError {
    /// A state the code never reaches on purpose.
    pub fn invariant(detail: impl std::fmt::Display) -> Self {
        GatewayError::Internal(Fault::Invariant, detail.to_string())
    }
    /// A page that failed to render.
    pub fn render(detail: impl std::fmt::Display) -> Self {
        GatewayError::Internal(Fault::Render, detail.to_string())
    }
    /// Signing or encrypting with the gateway's keys failed.
    pub fn keys(detail: impl std::fmt::Display) -> Self {
        GatewayError::Internal(Fault::Keys, detail.to_string())
    }
    /// Encoding a record or message failed.
    pub fn encode(detail: impl std::fmt::Display) -> Self {
        GatewayError::Internal(Fault::Encode, detail.to_string())
    }
    /// A stored record that does not decode.
    pub fn corrupt(detail: impl std::fmt::Display) -> Self {
        GatewayError::Internal(Fault::Corrupt, detail.to_string())
    }
    /// The configuration lacks what a record or the demo names.
    pub fn config(detail: impl std::fmt::Display) -> Self {
        GatewayError::Internal(Fault::Config, detail.to_string())
    }
}

/// What broke inside the gateway, each with a code operators can grep. All are
/// the citizen's "something went wrong" page (500), logged as errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A state the code never reaches on purpose (a verified login without an
    /// outcome, a completed one without an attempt).
    Invariant,
    /// A page failed to render.
    Render,
    /// Signing or encrypting with the gateway's keys failed (ID tokens, SAML
    /// responses and assertions, receipts, identity headers).
    Keys,
    /// Encoding a record or message failed (JSON, XML, a header value).
    Encode,
    /// The operating system's random source failed.
    Random,
    /// A record read from the store could not be decoded.
    Corrupt,
    /// The configuration no longer has what a stored record names (a site,
    /// provider or client removed by a reload), or the demo's own wiring.
    Config,
}

impl Fault {
    /// Every fault, for tests and the README check.
    pub const ALL: [Fault; 7] = [
        Fault::Invariant,
        Fault::Render,
        Fault::Keys,
        Fault::Encode,
        Fault::Random,
        Fault::Corrupt,
        Fault::Config,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Fault::Invariant => "MJ-I01",
            Fault::Render => "MJ-I02",
            Fault::Keys => "MJ-K01",
            Fault::Encode => "MJ-I03",
            Fault::Random => "MJ-I04",
            Fault::Corrupt => "MJ-I05",
            Fault::Config => "MJ-I06",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Fault::Invariant => "invariant",
            Fault::Render => "rendering",
            Fault::Keys => "keys",
            Fault::Encode => "encoding",
            Fault::Random => "random source",
            Fault::Corrupt => "corrupt record",
            Fault::Config => "configuration",
        }
    }
}

/// How another request got to the login first.
#[derive(Debug, thiserror::Error)]
pub enum Race {
    /// The compare-and-swap lost, more often than a caller retries.
    #[error("lost the compare-and-swap")]
    Conflict,
    /// The login is no longer in the state this step is for (double submit,
    /// a step of another tab).
    #[error(transparent)]
    Stale(crate::txn::IllegalTransition),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Info,
    Warn,
    Error,
}

/// How one failure looks to everyone.
#[derive(Debug, Clone, Copy)]
pub struct Rescue {
    pub status: StatusCode,
    pub problem: Problem,
    pub level: LogLevel,
    pub code: &'static str,
}

const fn r(status: StatusCode, problem: Problem, level: LogLevel, code: &'static str) -> Rescue {
    Rescue {
        status,
        problem,
        level,
        code,
    }
}

/// A live provider error: the provider rows of [`crate::failure`]'s table, the
/// same a login that stored this failure shows on its outcome page.
pub fn provider_rescue(e: &ProviderError) -> Rescue {
    crate::failure::Failure::from(e).looks().page
}

pub fn rescue_of(e: &GatewayError) -> Rescue {
    use GatewayError as G;
    use LogLevel::*;
    use StatusCode as S;
    match e {
        G::BadRequest(_) => r(S::BAD_REQUEST, Problem::BadRequest, Info, "MJ-R01"),
        G::TooLarge => r(S::PAYLOAD_TOO_LARGE, Problem::BadRequest, Info, "MJ-R02"),
        G::NotFound => r(S::NOT_FOUND, Problem::BadRequest, Info, "MJ-R03"),
        G::MethodNotAllowed => r(S::METHOD_NOT_ALLOWED, Problem::BadRequest, Info, "MJ-R04"),
        G::UnknownClient => r(S::BAD_REQUEST, Problem::UnknownClient, Warn, "MJ-R05"),
        G::InvalidRedirect => r(S::BAD_REQUEST, Problem::InvalidRedirect, Warn, "MJ-R06"),
        G::LoginGone => r(S::NOT_FOUND, Problem::SessionExpired, Info, "MJ-T01"),
        G::WrongBrowser => r(S::FORBIDDEN, Problem::SessionExpired, Warn, "MJ-T02"),
        G::ReturnedElsewhere => r(S::OK, Problem::ReturnedElsewhere, Info, "MJ-T07"),
        G::Csrf => r(S::FORBIDDEN, Problem::SessionExpired, Warn, "MJ-T03"),
        G::TooManyAttempts => r(
            S::TOO_MANY_REQUESTS,
            Problem::TooManyAttempts,
            Warn,
            "MJ-T04",
        ),
        G::Provider(p) => provider_rescue(p),
        G::Store(_) => r(S::SERVICE_UNAVAILABLE, Problem::TryLater, Error, "MJ-S01"),
        G::Internal(f, _) => r(S::INTERNAL_SERVER_ERROR, Problem::Internal, Error, f.code()),
        G::ChangedElsewhere(Race::Conflict) => {
            r(S::CONFLICT, Problem::ChangedElsewhere, Info, "MJ-T05")
        }
        G::ChangedElsewhere(Race::Stale(_)) => {
            r(S::CONFLICT, Problem::ChangedElsewhere, Info, "MJ-T06")
        }
        G::Upstream {
            timed_out: false, ..
        } => r(S::BAD_GATEWAY, Problem::TryLater, Error, "MJ-X01"),
        G::Upstream {
            timed_out: true, ..
        } => r(S::GATEWAY_TIMEOUT, Problem::TryLater, Error, "MJ-X02"),
        G::ProxyLink(_) => r(S::BAD_REQUEST, Problem::SessionExpired, Warn, "MJ-X03"),
        G::UnsafePath { .. } => r(S::BAD_REQUEST, Problem::BadRequest, Warn, "MJ-X06"),
        G::Limited(l) => match l.kind {
            Kind::Person => r(S::TOO_MANY_REQUESTS, Problem::TooManyPushes, Warn, "MJ-L01"),
            Kind::ClientStarts => r(
                S::TOO_MANY_REQUESTS,
                Problem::TooManyRequests,
                Warn,
                "MJ-L02",
            ),
            Kind::ClientSubmissions => r(
                S::TOO_MANY_REQUESTS,
                Problem::TooManyRequests,
                Warn,
                "MJ-L03",
            ),
            Kind::Site => r(S::SERVICE_UNAVAILABLE, Problem::TryLater, Warn, "MJ-L04"),
            Kind::Provider => r(
                S::SERVICE_UNAVAILABLE,
                Problem::ProviderBusy,
                Warn,
                "MJ-L05",
            ),
            Kind::ClientDeviceCodes => r(
                S::TOO_MANY_REQUESTS,
                Problem::TooManyDeviceCodes,
                Warn,
                "MJ-L07",
            ),
            Kind::DeviceCodes => r(
                S::TOO_MANY_REQUESTS,
                Problem::TooManyDeviceCodes,
                Warn,
                "MJ-L08",
            ),
            // Answered to the CIBA client (403 / 503), never to a citizen.
            Kind::CibaPerson => r(S::FORBIDDEN, Problem::TooManyPushes, Warn, "MJ-L10"),
            Kind::CibaMisses => r(S::SERVICE_UNAVAILABLE, Problem::TryLater, Warn, "MJ-L11"),
        },
        // A site whose metadata_url copy is not usable yet: try again later.
        G::Saml(e)
            if matches!(
                e.refusal,
                crate::saml::error::Refusal::MetadataUnavailable(_)
            ) =>
        {
            r(
                S::SERVICE_UNAVAILABLE,
                Problem::TryLater,
                Warn,
                e.refusal.code(),
            )
        }
        G::Saml(e) => r(S::BAD_REQUEST, Problem::BadRequest, Warn, e.refusal.code()),
        G::ProviderOff { forced: false, .. } => r(
            S::SERVICE_UNAVAILABLE,
            Problem::ProviderUnavailable,
            Info,
            "MJ-P13",
        ),
        G::ProviderOff { forced: true, .. } => r(
            S::SERVICE_UNAVAILABLE,
            Problem::ProviderUnavailable,
            Info,
            "MJ-P14",
        ),
        G::AuditUnavailable(_) => r(S::SERVICE_UNAVAILABLE, Problem::TryLater, Error, "MJ-A01"),
    }
}

/// A failure as a JSON API (the signing API) answers it: a busy store or
/// provider is `temporarily_unavailable` (503), a race `conflict` (409),
/// anything else the site could not have avoided (a provider refusing our
/// own credentials included) `server_error` (500).
pub fn api_error(rescue: &Rescue) -> (StatusCode, &'static str) {
    // The provider refused our own request (credentials, configuration):
    // retrying will not help until an operator fixes it.
    if rescue.code == "MJ-P10" {
        return (StatusCode::INTERNAL_SERVER_ERROR, "server_error");
    }
    match rescue.status {
        StatusCode::SERVICE_UNAVAILABLE => (rescue.status, "temporarily_unavailable"),
        StatusCode::CONFLICT => (rescue.status, "conflict"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
    }
}

/// Where the citizen can go from an error page.
#[derive(Debug, Default, Clone)]
pub struct Ways {
    pub retry: Option<String>,
    pub other_provider: Option<String>,
    pub back_to_site: Option<String>,
}

/// Request facts the error page and the log line need.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub request_id: String,
    pub lang: Lang,
    pub path: String,
    pub txn: Option<String>,
    /// The client's address (behind trusted proxies, the real one), for
    /// abuse limits; never logged by the page.
    pub client: std::net::IpAddr,
    /// The site and front once the request is known to belong to one (a
    /// login's pages), for the refusals metric.
    pub site: Option<String>,
    pub front: Option<&'static str>,
    /// Where refusals are counted (`None` in unit tests).
    pub refusals: Option<crate::metrics::Refusals>,
}

impl Ctx {
    /// The login this request is about: on the error page, and on every
    /// line logged for the request from now on (the `request` span's `txn`).
    pub fn set_txn(&mut self, id: &str) {
        crate::web::layers::record_txn(id);
        self.txn = Some(id.to_owned());
    }

    /// Links to this page in each language. The path came from a request, so
    /// it is used only when a browser would keep it on this origin.
    pub fn lang_hrefs(&self) -> (String, String) {
        let path = crate::web::path::same_origin(&self.path);
        (format!("{path}?lang=ko"), format!("{path}?lang=en"))
    }
}

/// Logs the failure once and renders the citizen's page.
pub fn respond(e: &GatewayError, ctx: &Ctx, ways: &Ways) -> Response {
    let rescue = rescue_of(e);
    log(&rescue, ctx, &e.to_string());
    let wait = match e {
        GatewayError::Limited(l) => Some(l.retry_after),
        _ => None,
    };
    // A race: the login goes on at its current step, which its waiting page
    // finds (chooser, waiting, outcome or on to the site).
    let raced;
    let ways = match (e, &ctx.txn) {
        (GatewayError::ChangedElsewhere(_), Some(txn)) if ways.retry.is_none() => {
            raced = Ways {
                retry: Some(format!("/login/{txn}/wait")),
                ..ways.clone()
            };
            &raced
        }
        _ => ways,
    };
    // What an integrator must change on their side, when only they can:
    // the SP and the algorithm it used (its own message's contents).
    let detail = match e {
        GatewayError::Saml(s)
            if matches!(
                s.refusal,
                crate::saml::error::Refusal::SignatureAlgorithm(_)
            ) =>
        {
            Some(s.to_string())
        }
        _ => None,
    };
    let mut resp = page(&rescue, ctx, ways, wait, detail.as_deref());
    if let Some(w) = wait {
        // Rounded up: retrying at the second given must not be too early.
        let secs = w.as_millis().div_ceil(1000).max(1);
        if let Ok(v) = http::HeaderValue::from_str(&secs.to_string()) {
            resp.headers_mut().insert(http::header::RETRY_AFTER, v);
        }
    }
    resp
}

pub fn log(rescue: &Rescue, ctx: &Ctx, detail: &str) {
    if let Some(r) = &ctx.refusals {
        r.count(
            ctx.site.as_deref().unwrap_or("-"),
            ctx.front.unwrap_or("-"),
            rescue.code,
        );
    }
    let txn = ctx.txn.as_deref().unwrap_or("-");
    match rescue.level {
        LogLevel::Info => {
            tracing::info!(code = rescue.code, txn, req = %ctx.request_id, path = %ctx.path, status = rescue.status.as_u16(), detail, "request refused")
        }
        LogLevel::Warn => {
            tracing::warn!(code = rescue.code, txn, req = %ctx.request_id, path = %ctx.path, status = rescue.status.as_u16(), detail, "request refused")
        }
        LogLevel::Error => {
            tracing::error!(code = rescue.code, txn, req = %ctx.request_id, path = %ctx.path, status = rescue.status.as_u16(), detail, "request failed")
        }
    }
}

/// The citizen's page for `rescue`; `wait` is how long a limit lasts.
pub fn page(
    rescue: &Rescue,
    ctx: &Ctx,
    ways: &Ways,
    wait: Option<std::time::Duration>,
    detail: Option<&str>,
) -> Response {
    let (ko, en) = ctx.lang_hrefs();
    let view = ErrorView {
        lang: ctx.lang,
        problem: rescue.problem,
        code: rescue.code,
        txn: ctx.txn.as_deref(),
        retry_href: ways.retry.as_deref(),
        other_provider_href: ways.other_provider.as_deref(),
        back_to_site_href: ways.back_to_site.as_deref(),
        lang_ko_href: &ko,
        lang_en_href: &en,
        wait,
        detail,
    };
    let body = pages::error(&view).unwrap_or_else(|err| {
        tracing::error!(code = Fault::Render.code(), error = %err, "error page failed to render");
        pages::error_fallback(rescue.problem, ctx.lang, rescue.code)
    });
    respond::html(rescue.status, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::{Event, IllegalTransition, State};

    fn ctx(txn: Option<&str>) -> Ctx {
        Ctx {
            request_id: "req".into(),
            lang: Lang::En,
            path: "/login/abc/start".into(),
            txn: txn.map(str::to_owned),
            client: std::net::IpAddr::from([127, 0, 0, 1]),
            site: None,
            front: None,
            refusals: None,
        }
    }

    #[test]
    fn a_lost_race_is_a_409_with_its_own_code_and_a_way_back_to_the_login() {
        let lost: GatewayError = TxnError::Conflict.into();
        let r = rescue_of(&lost);
        assert_eq!((r.status, r.code), (StatusCode::CONFLICT, "MJ-T05"));
        let stale: GatewayError = TxnError::Illegal(IllegalTransition {
            from: State::Verified,
            event: Event::Started,
        })
        .into();
        let r = rescue_of(&stale);
        assert_eq!((r.status, r.code), (StatusCode::CONFLICT, "MJ-T06"));
        assert_eq!(r.problem, Problem::ChangedElsewhere);
        let resp = respond(&stale, &ctx(Some("abc")), &Ways::default());
        assert_eq!(resp.status(), StatusCode::CONFLICT);
    }

    #[tokio::test]
    async fn the_race_page_leads_back_to_the_logins_current_step() {
        use http_body_util::BodyExt;
        let lost: GatewayError = TxnError::Conflict.into();
        let resp = respond(&lost, &ctx(Some("abc")), &Ways::default());
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let html = String::from_utf8(body.to_vec()).unwrap();
        assert!(html.contains("/login/abc/wait"), "{html}");
        assert!(html.contains("MJ-T05"), "{html}");
    }

    #[test]
    fn every_fault_has_its_own_code_and_is_a_500() {
        let mut codes: Vec<&str> = Fault::ALL.iter().map(|f| f.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Fault::ALL.len());
        for f in Fault::ALL {
            let r = rescue_of(&GatewayError::Internal(f, "x".into()));
            assert_eq!(
                (r.status, r.code),
                (StatusCode::INTERNAL_SERVER_ERROR, f.code())
            );
            assert_eq!(r.level, LogLevel::Error);
        }
        let corrupt: GatewayError = TxnError::Corrupt("bad json".into()).into();
        assert_eq!(rescue_of(&corrupt).code, "MJ-I05");
    }

    /// One sample of every variant (and every kind, fault, failure and SAML
    /// refusal inside one): everything the table can answer.
    fn every_error() -> Vec<GatewayError> {
        use crate::saml::error::{Refusal as M, SamlError};
        let mut all = vec![
            GatewayError::BadRequest("x".into()),
            GatewayError::TooLarge,
            GatewayError::NotFound,
            GatewayError::MethodNotAllowed,
            GatewayError::UnknownClient,
            GatewayError::InvalidRedirect,
            GatewayError::LoginGone,
            GatewayError::WrongBrowser,
            GatewayError::ReturnedElsewhere,
            GatewayError::Csrf,
            GatewayError::TooManyAttempts,
            GatewayError::Store(StoreError::Unavailable("x".into())),
            GatewayError::Store(StoreError::Full),
            TxnError::Conflict.into(),
            TxnError::Illegal(IllegalTransition {
                from: State::Verified,
                event: Event::Started,
            })
            .into(),
            GatewayError::ProxyLink("x"),
            GatewayError::ProviderOff {
                provider: "kakao".into(),
                forced: false,
            },
            GatewayError::ProviderOff {
                provider: "kakao".into(),
                forced: true,
            },
            GatewayError::AuditUnavailable("x".into()),
            GatewayError::UnsafePath {
                place: "x".into(),
                reason: crate::web::path::PathRefusal::Backslash,
            },
        ];
        for timed_out in [false, true] {
            all.push(GatewayError::Upstream {
                route: "r".into(),
                timed_out,
                detail: "d".into(),
            });
        }
        for kind in [
            Kind::Person,
            Kind::ClientStarts,
            Kind::ClientSubmissions,
            Kind::Site,
            Kind::Provider,
            Kind::ClientDeviceCodes,
            Kind::DeviceCodes,
            Kind::CibaPerson,
            Kind::CibaMisses,
        ] {
            all.push(GatewayError::Limited(crate::limits::Refused {
                kind,
                retry_after: std::time::Duration::from_secs(1),
                site: "s".into(),
                limit: munjigi_policy::limits::Limit::new(1, 1),
            }));
        }
        all.extend(Fault::ALL.map(|f| GatewayError::Internal(f, "x".into())));
        let provider_errors = [
            ProviderError::Rejected,
            ProviderError::Expired,
            ProviderError::UnknownPerson,
            ProviderError::PersonMismatch,
            ProviderError::AccountUnusable,
            ProviderError::AlreadyUsed,
            ProviderError::NotReady,
            ProviderError::TooLate,
            ProviderError::Unavailable {
                code: "x".into(),
                retryable: false,
            },
            ProviderError::Unauthorized { code: "x".into() },
            ProviderError::BadRequest {
                code: "x".into(),
                message: "x".into(),
            },
            ProviderError::Protocol("x".into()),
            ProviderError::BadSignature(munjigi_providers::cms::CmsError::Decode),
            ProviderError::WrongSigner,
            ProviderError::Transport("x".into()),
            ProviderError::Config("x".into()),
        ];
        all.extend(provider_errors.into_iter().map(GatewayError::Provider));
        let refusals = [
            M::Missing,
            M::TooLarge,
            M::DeflateBomb,
            M::Encoding,
            M::Charset("x"),
            M::Xml("x".into()),
            M::Dtd,
            M::Entity,
            M::Comment,
            M::ProcessingInstruction,
            M::Shape,
            M::Root("x"),
            M::DuplicateId,
            M::Schema("x".into()),
            M::NoIssuer,
            M::UnknownSp,
            M::SignatureMissing,
            M::BadSignature,
            M::SignatureAlgorithm("SigAlg `x`".into()),
            M::RepeatedParameter,
            M::UnknownAcs,
            M::Destination,
            M::Replayed,
            M::Stale,
            M::RelayState,
            M::UnsolicitedNotAllowed,
            M::UnknownSession,
            M::MisplacedSignature,
            M::UnsafeSignature("x"),
            M::Namespace("x"),
            M::MetadataUnavailable("x"),
            M::Version,
            M::NoPassive,
            M::NoAuthnContext,
            M::NameIdPolicy,
            M::Unsupported("x"),
            M::Cancelled,
            M::PolicyDenied,
            M::SiteBusy,
        ];
        all.extend(
            refusals
                .into_iter()
                .map(|r| GatewayError::Saml(SamlError::new(None, r))),
        );
        all
    }

    /// Fails to compile when a variant is added: sample it in `every_error`.
    #[allow(dead_code)]
    fn every_variant_is_sampled(e: &GatewayError) {
        use GatewayError as G;
        match e {
            G::BadRequest(_)
            | G::TooLarge
            | G::NotFound
            | G::MethodNotAllowed
            | G::UnknownClient
            | G::InvalidRedirect
            | G::LoginGone
            | G::WrongBrowser
            | G::ReturnedElsewhere
            | G::Csrf
            | G::TooManyAttempts
            | G::Provider(_)
            | G::Store(_)
            | G::Internal(..)
            | G::ChangedElsewhere(_)
            | G::Upstream { .. }
            | G::ProxyLink(_)
            | G::Limited(_)
            | G::UnsafePath { .. }
            | G::ProviderOff { .. }
            | G::AuditUnavailable(_)
            | G::Saml(_) => {}
        }
    }

    /// README's error-code table: each code with the statuses its row names.
    fn readme_codes() -> std::collections::BTreeMap<String, Vec<u16>> {
        let readme = include_str!("../../README.md");
        let table = readme
            .split("## Error codes")
            .nth(1)
            .and_then(|t| t.split("\n## ").next())
            .expect("README has an `## Error codes` section");
        let mut codes = std::collections::BTreeMap::new();
        for row in table.lines().filter(|l| l.starts_with("| MJ-")) {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let (code_cell, status_cell) = (cells[1], cells[2]);
            let statuses: Vec<u16> = status_cell
                .split(|c: char| !c.is_ascii_digit())
                .filter(|n| n.len() == 3)
                .map(|n| n.parse().unwrap())
                .collect();
            for item in code_cell.split(',') {
                let item = item.trim().trim_start_matches("MJ-");
                let (first, last) = item.split_once('…').unwrap_or((item, item));
                let letter = &first[..1];
                let from: u32 = first[1..].parse().unwrap();
                let to: u32 = last[1..].parse().unwrap();
                assert_eq!(&last[..1], letter, "{row}");
                for n in from..=to {
                    let code = format!("MJ-{letter}{n:02}");
                    let again = codes.insert(code.clone(), statuses.clone());
                    assert!(again.is_none(), "{code} is in two README rows");
                }
            }
        }
        codes
    }

    /// Every `"MJ-…"` literal outside tests in the gateway's source.
    fn source_codes() -> std::collections::BTreeSet<String> {
        fn walk(dir: &std::path::Path, out: &mut std::collections::BTreeSet<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs")
                    && path.file_name().is_some_and(|n| n != "tests.rs")
                {
                    let text = std::fs::read_to_string(&path).unwrap();
                    let code = text.split("#[cfg(test)]").next().unwrap();
                    for piece in code.split("\"MJ-").skip(1) {
                        if let Some((c, _)) = piece.split_once('"') {
                            if c.len() == 3 {
                                out.insert(format!("MJ-{c}"));
                            }
                        }
                    }
                }
            }
        }
        let mut out = std::collections::BTreeSet::new();
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut out,
        );
        out
    }

    #[test]
    fn the_readme_error_table_matches_the_table() {
        let readme = readme_codes();
        let mut produced = std::collections::BTreeSet::new();
        for e in every_error() {
            let r = rescue_of(&e);
            let status = r.status.as_u16();
            let row = readme
                .get(r.code)
                .unwrap_or_else(|| panic!("{} ({e}) is not in README's error codes", r.code));
            assert!(
                row.contains(&status),
                "README gives {} as {row:?}, the table answers {status} ({e})",
                r.code
            );
            produced.insert(r.code.to_owned());
        }
        // A login's outcome page shows the same codes, as a 200 page.
        for f in crate::failure::Failure::ALL {
            let code = f.looks().page.code;
            assert!(readme.get(code).is_some_and(|s| s.contains(&200)), "{code}");
            produced.insert(code.to_owned());
        }
        let logged = source_codes();
        for code in readme.keys() {
            assert!(
                produced.contains(code) || logged.contains(code),
                "README lists {code}, which nothing produces"
            );
        }
        for code in &logged {
            assert!(
                readme.contains_key(code),
                "{code} is logged but not in README"
            );
        }
    }
}
