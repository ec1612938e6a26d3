//! The login core every front shares, and the citizen's pages of a login.
//!
//! A front (OIDC, SAML, the proxy, signing) translates its protocol into a
//! [`Front`] and a front-neutral [`LoginRequest`], asks [`reusable`] whether
//! the browser's gateway [`session`] answers it, and otherwise calls
//! [`begin`]. From there the login is the front's business only at its
//! [`ends`]: the citizen's pages here (chooser, identity form, waiting page),
//! the provider steps in [`flow`], the claims in [`release`], all alike.
//!
//! Every step loads the login from the store, checks it belongs to this browser,
//! and checks the CSRF token on every POST. How failures look is in
//! [`crate::rescue`].

pub mod begin;
pub mod ends;
pub mod flow;
pub mod front;
pub mod last_used;
mod phone;
pub mod release;
pub mod reuse;
pub mod session;

pub use begin::{begin, same_browser, BROWSER_COOKIE, CHOOSING_TTL_SECS};
pub use front::{Front, LoginRequest};
pub use release::{any_provider_fits, provider_fits, release};
pub use reuse::reusable;

use crate::app::App;
use crate::failure::Failure;
use crate::pages::{
    self, AppChoice, ChooserView, Field, IdentifyView, ProviderChoice, WaitingView,
};
use crate::rescue::{self, Ctx, GatewayError, Ways};
use crate::txn::{LoginTxn, State};
use crate::web::{self, respond, Params, Response};
use http::{Method, StatusCode};
use hyper::body::Incoming;
use munjigi_providers::{
    AppToApp, BirthDate, Carrier, Citizen, Name, Phone, ProviderError, ProviderId, Reach,
};
use subtle::ConstantTimeEq;

/// Longest a status request is held open when nothing changes.
const LONG_POLL_MAX: std::time::Duration = std::time::Duration::from_secs(20);

/// Routes `/login/{txn}` and `/login/{txn}/{step}`.
pub async fn route(
    app: &App,
    req: http::Request<Incoming>,
    rest: &str,
    ctx: &mut Ctx,
) -> Result<Response, GatewayError> {
    let (id, step) = rest.split_once('/').unwrap_or((rest, ""));
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(GatewayError::NotFound);
    }
    ctx.set_txn(id);
    let (txn, _) = app.txns.load(id).await?;
    ctx.site = Some(txn.request.site_id.clone());
    ctx.front = Some(txn.front.kind());
    if !same_browser(app, req.headers(), &txn) {
        // The provider's app opened its return (this waiting page) in the
        // phone's default browser, not the one holding the login: send the
        // citizen back there, changing nothing.
        let app_return = step == "wait"
            && txn.state == State::Pending
            && txn
                .attempt
                .as_ref()
                .is_some_and(|a| !a.challenge.reach.is_push());
        return Err(if app_return {
            GatewayError::ReturnedElsewhere
        } else {
            GatewayError::WrongBrowser
        });
    }
    match (req.method().clone(), step) {
        (Method::GET, "") => chooser(app, &txn, req.headers(), ctx),
        (Method::POST, "forget-last") => forget_last(app, txn, req).await,
        (Method::GET, "identify") => {
            let q = Params::from_query(req.uri())?;
            let provider = q.required("provider")?.to_owned();
            if let Err(e) = refuse_off(app, &provider) {
                return Ok(rescue::respond(&e, ctx, &other_ways(&txn)));
            }
            let form = Form {
                on_phone: phone::detect(req.headers()).is_some(),
                ..Form::prefill(&txn)
            };
            identify_page(app, &txn, ctx, &provider, &form, &[], StatusCode::OK)
        }
        (Method::POST, "start") => start(app, txn, req, ctx).await,
        (Method::GET, "wait") => wait(app, txn, ctx).await,
        (Method::GET, "status") => status(app, txn, req).await,
        (Method::GET, "continue") => continue_login(app, txn, req.headers(), ctx).await,
        (Method::POST, "cancel") => cancel(app, txn, req).await,
        (Method::GET, "abort") => abort(app, txn, ctx).await,
        (
            _,
            "" | "identify" | "start" | "wait" | "status" | "continue" | "cancel" | "abort"
            | "forget-last",
        ) => Err(GatewayError::MethodNotAllowed),
        _ => Err(GatewayError::NotFound),
    }
}

fn base(txn: &LoginTxn) -> String {
    format!("/login/{}", txn.id)
}

fn site_names<'a>(app: &'a App, txn: &LoginTxn) -> (&'a str, &'a str) {
    app.config
        .sites
        .get(&txn.request.site_id)
        .map_or(("", ""), |s| (s.name.as_str(), s.name_en.as_str()))
}

fn site_name<'a>(app: &'a App, txn: &LoginTxn, ctx: &Ctx) -> &'a str {
    let (ko, en) = site_names(app, txn);
    match ctx.lang {
        pages::Lang::Ko => ko,
        pages::Lang::En => en,
    }
}

fn lang_hrefs(path: &str) -> (String, String) {
    let sep = if path.contains('?') { '&' } else { '?' };
    (format!("{path}{sep}lang=ko"), format!("{path}{sep}lang=en"))
}

fn render(r: Result<String, pages::PageError>) -> Result<String, GatewayError> {
    r.map_err(GatewayError::render)
}

/// Whether `id` may serve this transaction: the site's policy and level, and
/// for a signing request, the provider signs this many documents.
fn can_serve(app: &App, txn: &LoginTxn, id: &ProviderId) -> bool {
    provider_fits(app, &txn.policy, txn.request.required_level, id)
        && txn.signing().is_none_or(|spec| {
            app.providers
                .get(id.as_str())
                .is_some_and(|a| flow::signer_of(a.as_ref(), spec).is_ok())
        })
}

fn chooser(
    app: &App,
    txn: &LoginTxn,
    headers: &http::HeaderMap,
    ctx: &Ctx,
) -> Result<Response, GatewayError> {
    let base = base(txn);
    let fitting: Vec<_> = app
        .config
        .providers
        .iter()
        .filter(|p| can_serve(app, txn, &p.id))
        .map(|p| {
            (
                p,
                format!("{base}/identify?provider={}", p.id),
                p.logo
                    .as_ref()
                    .map(|_| format!("{}{}", pages::LOGO_PREFIX, p.id)),
            )
        })
        .collect();
    let mut choices: Vec<ProviderChoice<'_>> = fitting
        .iter()
        .map(|(p, href, logo)| ProviderChoice {
            id: p.id.as_str(),
            name_ko: &p.name_ko,
            name_en: &p.name_en,
            href,
            off: off_reason(app, p.id.as_str(), ctx.lang),
            logo: logo.as_deref(),
        })
        .collect();
    // The one this device used last first, if it is offered now; then the
    // healthy ones in the configured (or this login's random) order; the
    // others after them, greyed out with the reason, so a citizen picks
    // another instead of waiting for a push that never comes.
    let cookie = last_used::read(app, headers);
    let remembered = cookie.flatten();
    let last = remembered
        .map(|p| p.id.as_str())
        .filter(|id| choices.iter().any(|c| c.id == *id && c.off.is_none()));
    let mut ids: Vec<&str> = choices.iter().map(|c| c.id).collect();
    last_used::order(
        &mut ids,
        app.config.chooser_random.then_some(txn.id.as_str()),
        last,
    );
    choices.sort_by_key(|c| {
        (
            c.off.is_some(),
            ids.iter().position(|id| *id == c.id).unwrap_or(usize::MAX),
        )
    });
    let (ko, en) = lang_hrefs(&base);
    let cancel = format!("{base}/abort");
    let forget = format!("{base}/forget-last");
    let body = render(pages::chooser(&ChooserView {
        signing: txn.signing().is_some(),
        lang: ctx.lang,
        site_name: site_name(app, txn, ctx),
        providers: &choices,
        last: last.is_some(),
        remembered: remembered.map(|p| (p.name_ko.as_str(), p.name_en.as_str())),
        forget_action: &forget,
        csrf: &txn.csrf,
        cancel_href: &cancel,
        lang_ko_href: &ko,
        lang_en_href: &en,
    }))?;
    let page = respond::html(StatusCode::OK, body);
    // A provider no longer configured is forgotten.
    Ok(if matches!(cookie, Some(None)) {
        last_used::forget(app, page)
    } else {
        page
    })
}

/// `POST /login/{id}/forget-last`: this device no longer remembers a
/// provider; back to the chooser.
async fn forget_last(
    app: &App,
    txn: LoginTxn,
    req: http::Request<Incoming>,
) -> Result<Response, GatewayError> {
    let form = read_form(req).await?;
    check_csrf(&txn, &form)?;
    Ok(last_used::forget(app, respond::redirect(&base(&txn))))
}

/// Why `id` is not offered right now, in the page's language; `None` when it is.
fn off_reason<'a>(app: &'a App, id: &str, lang: pages::Lang) -> Option<std::borrow::Cow<'a, str>> {
    use crate::circuit::Offer;
    match flow::offer(app, id) {
        Offer::Available => None,
        Offer::Failing => Some(pages::provider_failing(lang).into()),
        Offer::Disabled => {
            let written = app.config.health.of(id).1.map(|h| match lang {
                pages::Lang::Ko => h.reason_ko.as_str(),
                pages::Lang::En => h.reason_en.as_str(),
            });
            Some(match written.filter(|r| !r.is_empty()) {
                Some(r) => r.into(),
                None => pages::provider_disabled(lang).into(),
            })
        }
    }
}

/// The error of a provider not offered right now, if `id` is one (a name
/// that is not configured is left to the identity page to refuse).
fn refuse_off(app: &App, id: &str) -> Result<(), GatewayError> {
    if app.config.provider(id).is_none() {
        return Ok(());
    }
    match flow::offer(app, id) {
        crate::circuit::Offer::Available => Ok(()),
        o => Err(GatewayError::ProviderOff {
            provider: id.to_owned(),
            forced: o == crate::circuit::Offer::Disabled,
        }),
    }
}

/// Where a citizen refused a provider can go: another provider, or the site.
fn other_ways(txn: &LoginTxn) -> Ways {
    let base = base(txn);
    Ways {
        retry: None,
        other_provider: Some(base.clone()),
        back_to_site: Some(format!("{base}/abort")),
    }
}

/// The identity form's values, kept across a failed submission.
#[derive(Default)]
struct Form {
    name: String,
    birthdate: String,
    phone: String,
    /// The browser says it runs on a phone: app-to-app is preselected.
    on_phone: bool,
    /// The citizen's answer to "where will you approve?" (`app`, `push`).
    reach: Option<String>,
    /// `SKT`, `KT`, `LGU` or empty.
    carrier: String,
}

impl Form {
    fn app_here(&self) -> bool {
        match self.reach.as_deref() {
            Some(r) => r == "app",
            None => self.on_phone,
        }
    }
}

impl Form {
    fn prefill(txn: &LoginTxn) -> Self {
        // A signing request naming its signer: that person's details.
        if let Some(c) = txn.signing().and_then(|s| s.signer.as_ref()) {
            return Form {
                name: c.name.expose().to_owned(),
                birthdate: c.birthdate.iso(),
                phone: c.phone.national(),
                ..Form::default()
            };
        }
        Form {
            phone: txn.request.login_hint.clone().unwrap_or_default(),
            ..Form::default()
        }
    }
}

fn identify_page(
    app: &App,
    txn: &LoginTxn,
    ctx: &Ctx,
    provider: &str,
    form: &Form,
    errors: &[Field],
    status: StatusCode,
) -> Result<Response, GatewayError> {
    let p = app
        .config
        .provider(provider)
        .filter(|p| can_serve(app, txn, &p.id))
        .ok_or_else(|| GatewayError::BadRequest("provider not offered for this login".into()))?;
    let base = base(txn);
    let (ko, en) = lang_hrefs(&format!("{base}/identify?provider={provider}"));
    let action = format!("{base}/start");
    let documents: Vec<(String, String)> = txn
        .signing()
        .into_iter()
        .flat_map(|s| &s.documents)
        .map(|d| (d.title.clone(), hex::encode(d.sha256)))
        .collect();
    let app_choice = app_to_app(app, txn, &p.id).map(|support| AppChoice {
        here: form.app_here(),
        needs_carrier: support.needs_carrier,
        carrier: &form.carrier,
    });
    let body = render(pages::identify(&IdentifyView {
        app: app_choice,
        documents: &documents,
        lang: ctx.lang,
        site_name: site_name(app, txn, ctx),
        provider_id: p.id.as_str(),
        provider_name_ko: &p.name_ko,
        provider_name_en: &p.name_en,
        action: &action,
        csrf: &txn.csrf,
        name: &form.name,
        birthdate: &form.birthdate,
        phone: &form.phone,
        errors,
        back_href: &base,
        lang_ko_href: &ko,
        lang_en_href: &en,
    }))?;
    Ok(respond::html(status, body))
}

/// The provider's app-to-app mode, where this login can use it (logins,
/// not document signing: signing requests are pushed).
fn app_to_app(
    app: &App,
    txn: &LoginTxn,
    id: &ProviderId,
) -> Option<munjigi_providers::AppToAppSupport> {
    if txn.signing().is_some() || txn.front.ciba().is_some() {
        return None;
    }
    app.providers.get(id.as_str())?.app_to_app()
}

fn check_csrf(txn: &LoginTxn, form: &Params) -> Result<(), GatewayError> {
    let given = form.get("csrf").unwrap_or_default();
    if given.len() == txn.csrf.len() && bool::from(given.as_bytes().ct_eq(txn.csrf.as_bytes())) {
        Ok(())
    } else {
        Err(GatewayError::Csrf)
    }
}

async fn read_form(req: http::Request<Incoming>) -> Result<Params, GatewayError> {
    Ok(Params::parse(
        &web::read_body(req.into_body(), web::params::MAX_PARAMS_LEN).await?,
    )?)
}

async fn start(
    app: &App,
    txn: LoginTxn,
    req: http::Request<Incoming>,
    ctx: &Ctx,
) -> Result<Response, GatewayError> {
    let headers = req.headers().clone();
    let form = read_form(req).await?;
    check_csrf(&txn, &form)?;
    crate::limits::submission(app, &txn.request.site_id, ctx.client).await?;
    let provider = form.required("provider")?.to_owned();
    let values = Form {
        name: form.get("name").unwrap_or_default().to_owned(),
        birthdate: form.get("birthdate").unwrap_or_default().to_owned(),
        phone: form.get("phone").unwrap_or_default().to_owned(),
        on_phone: phone::detect(&headers).is_some(),
        reach: form.get("reach").map(str::to_owned),
        carrier: form.get("carrier").unwrap_or_default().to_owned(),
    };
    let name = Name::parse(&values.name);
    let birthdate = BirthDate::parse_typed(
        &values.birthdate,
        crate::clock::today_kst(app.clock.as_ref()),
    );
    let phone = Phone::parse(&values.phone);
    let mut errors = Vec::new();
    if name.is_err() {
        errors.push(Field::Name);
    }
    if birthdate.is_err() {
        errors.push(Field::BirthDate);
    }
    if phone.is_err() {
        errors.push(Field::Phone);
    }
    let provider_id = ProviderId::new(provider.clone());
    let support = app_to_app(app, &txn, &provider_id);
    let carrier = Carrier::from_wire(&values.carrier);
    let reach = match support {
        Some(s) if values.app_here() => {
            if s.needs_carrier && carrier.is_none() {
                errors.push(Field::Carrier);
            }
            Reach::App(AppToApp {
                os: phone::assume(&headers),
                carrier: carrier.filter(|_| s.needs_carrier),
                return_url: format!(
                    "{}{}/wait",
                    app.config.public_url.trim_end_matches('/'),
                    base(&txn)
                ),
            })
        }
        _ => Reach::Push,
    };
    if form.get("consent") != Some("yes") {
        errors.push(Field::Consent);
    }
    let (Ok(name), Ok(birthdate), Ok(phone), true) = (name, birthdate, phone, errors.is_empty())
    else {
        return identify_page(
            app,
            &txn,
            ctx,
            &provider,
            &values,
            &errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    if !can_serve(app, &txn, &provider_id) {
        return Err(GatewayError::BadRequest(
            "provider not offered for this login".into(),
        ));
    }
    let citizen = Citizen {
        name,
        birthdate,
        phone,
    };
    match flow::start(app, &txn, &provider_id, citizen, reach).await {
        Ok(t) => Ok(respond::redirect(&format!("{}/wait", base(&t)))),
        // The provider does not know these details: let the citizen correct them.
        Err(GatewayError::Provider(
            ProviderError::UnknownPerson | ProviderError::PersonMismatch,
        )) => {
            let errors = [Field::Name, Field::BirthDate, Field::Phone];
            identify_page(
                app,
                &txn,
                ctx,
                &provider,
                &values,
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(e @ GatewayError::ProviderOff { .. }) => {
            Ok(rescue::respond(&e, ctx, &other_ways(&txn)))
        }
        Err(e @ (GatewayError::Provider(_) | GatewayError::Limited(_))) => {
            let base = base(&txn);
            let ways = Ways {
                retry: Some(format!("{base}/identify?provider={provider}")),
                other_provider: Some(base.clone()),
                back_to_site: Some(format!("{base}/abort")),
            };
            Ok(rescue::respond(&e, ctx, &ways))
        }
        Err(e) => Err(e),
    }
}

fn failure_page(txn: &LoginTxn, ctx: &Ctx) -> Response {
    let failure = Failure::of_ended(txn.state, txn.failure).unwrap_or(Failure::Protocol);
    // The login has ended: its outcome page is a page like any other (200).
    let r = rescue::Rescue {
        status: StatusCode::OK,
        ..failure.looks().page
    };
    let base = base(txn);
    let provider = txn
        .attempt
        .as_ref()
        .map(|a| a.provider.to_string())
        .unwrap_or_default();
    let ways = Ways {
        retry: Some(format!("{base}/identify?provider={provider}")),
        other_provider: Some(base.clone()),
        back_to_site: Some(format!("{base}/abort")),
    };
    rescue::page(&r, ctx, &ways, None, None)
}

async fn wait(app: &App, txn: LoginTxn, ctx: &Ctx) -> Result<Response, GatewayError> {
    let txn = flow::refresh(app, txn).await?;
    let base = base(&txn);
    match txn.state {
        State::Choosing => Ok(respond::redirect(&base)),
        State::Completed | State::Verified => Ok(respond::redirect(&format!("{base}/continue"))),
        State::Expired | State::Rejected | State::Failed => Ok(failure_page(&txn, ctx)),
        State::Pending => {
            let Some(attempt) = &txn.attempt else {
                return Ok(respond::redirect(&base));
            };
            let p = app.config.provider(attempt.provider.as_str());
            let (name_ko, name_en) =
                p.map_or(("", ""), |p| (p.name_ko.as_str(), p.name_en.as_str()));
            let refresh = format!("{base}/wait");
            let (ko, en) = lang_hrefs(&refresh);
            let qr = match &attempt.pending.qr {
                Some(text) => crate::oidc::device_page::qr_inline(text)?,
                None => String::new(),
            };
            // Only a link of the wallet protocol, never another scheme a
            // provider might hand back (`javascript:` above all).
            let wallet_link = attempt
                .pending
                .app_scheme
                .as_deref()
                .filter(|l| l.starts_with("openid4vp://?") && !l.chars().any(char::is_whitespace))
                .unwrap_or_default();
            let app_mode = matches!(attempt.challenge.reach, Reach::App(_));
            let app_link = attempt
                .pending
                .app_scheme
                .as_deref()
                .filter(|l| app_mode && munjigi_providers::app_link_is_safe(l))
                .unwrap_or_default();
            let market_link = attempt
                .pending
                .market_url
                .as_deref()
                .filter(|u| !app_link.is_empty() && munjigi_providers::market_link_is_safe(u))
                .unwrap_or_default();
            let app_returns = app
                .providers
                .get(attempt.provider.as_str())
                .and_then(|p| p.app_to_app())
                .is_some_and(|s| s.returns_to_browser);
            let body = render(pages::waiting(&WaitingView {
                app_link,
                market_link,
                app_returns,
                qr_svg: &qr,
                wallet_link,
                lang: ctx.lang,
                site_name: site_name(app, &txn, ctx),
                provider_name_ko: name_ko,
                provider_name_en: name_en,
                status_url: &format!("{base}/status"),
                refresh_url: &refresh,
                continue_url: &format!("{base}/continue"),
                cancel_action: &format!("{base}/cancel"),
                csrf: &txn.csrf,
                other_provider_href: &base,
                expires_in_secs: attempt.pending.expires_at.saturating_sub(app.clock.now()),
                code: &attempt.code,
                lang_ko_href: &ko,
                lang_en_href: &en,
                provider_down: flow::offer(app, attempt.provider.as_str())
                    != crate::circuit::Offer::Available,
            }))?;
            Ok(respond::html(StatusCode::OK, body))
        }
    }
}

/// JSON status for the waiting page's script, held open until something changes.
async fn status(
    app: &App,
    txn: LoginTxn,
    req: http::Request<Incoming>,
) -> Result<Response, GatewayError> {
    let q = Params::from_query(req.uri())?;
    let hold = q
        .get("wait")
        .and_then(|w| w.parse::<u64>().ok())
        .map_or(LONG_POLL_MAX, |w| {
            std::time::Duration::from_secs(w).min(LONG_POLL_MAX)
        });
    // What the page shows: a provider that went down since is news worth
    // answering at once.
    let shown_down = q.get("down") == Some("1");
    let deadline = tokio::time::Instant::now() + hold;
    let initial_viewed = txn.attempt.as_ref().is_some_and(|a| a.viewed);
    let mut txn = flow::refresh(app, txn).await?;
    let down = |txn: &LoginTxn| {
        txn.attempt.as_ref().is_some_and(|a| {
            flow::offer(app, a.provider.as_str()) != crate::circuit::Offer::Available
        })
    };
    loop {
        let viewed = txn.attempt.as_ref().is_some_and(|a| a.viewed);
        let changed =
            txn.state != State::Pending || viewed != initial_viewed || (down(&txn) && !shown_down);
        if changed || tokio::time::Instant::now() + flow::POLL_INTERVAL > deadline {
            break;
        }
        tokio::time::sleep(flow::POLL_INTERVAL).await;
        let (fresh, _) = app.txns.load(&txn.id).await?;
        txn = flow::refresh(app, fresh).await?;
    }
    let base = base(&txn);
    let viewed = txn.attempt.as_ref().is_some_and(|a| a.viewed);
    let (state, next) = match txn.state {
        // The waiting page shows the way to another provider (once: each
        // replica judges a provider for itself, and a page must not flip
        // between two that disagree).
        State::Pending if down(&txn) && !shown_down => {
            ("provider_down", Some(format!("{base}/wait")))
        }
        State::Pending if viewed => ("viewed", None),
        State::Pending => ("pending", None),
        State::Completed | State::Verified => ("completed", Some(format!("{base}/continue"))),
        State::Expired => ("expired", Some(format!("{base}/wait"))),
        State::Rejected => ("rejected", Some(format!("{base}/wait"))),
        State::Failed => ("failed", Some(format!("{base}/wait"))),
        State::Choosing => ("failed", Some(base.clone())),
    };
    let expires_in = txn
        .attempt
        .as_ref()
        .map_or(0, |a| a.pending.expires_at.saturating_sub(app.clock.now()));
    Ok(respond::json(
        StatusCode::OK,
        &serde_json::json!({ "state": state, "expires_in": expires_in, "next": next }),
    ))
}

async fn continue_login(
    app: &App,
    txn: LoginTxn,
    _headers: &http::HeaderMap,
    ctx: &Ctx,
) -> Result<Response, GatewayError> {
    let txn = flow::refresh(app, txn).await?;
    let base = base(&txn);
    let txn = match txn.state {
        State::Completed | State::Verified => match flow::finish(app, txn).await? {
            Some(t) => t,
            // Another request of this browser is verifying right now.
            None => return Ok(respond::redirect(&format!("{base}/wait"))),
        },
        State::Pending => return Ok(respond::redirect(&format!("{base}/wait"))),
        State::Choosing => return Ok(respond::redirect(&base)),
        State::Expired | State::Rejected | State::Failed => return Ok(failure_page(&txn, ctx)),
    };
    match txn.state {
        State::Verified => {
            let provider = txn.attempt.as_ref().map(|a| a.provider.as_str().to_owned());
            let done = ends::complete(app, txn, ctx).await?;
            Ok(match provider {
                Some(p) => last_used::remember(app, done, &p),
                None => done,
            })
        }
        State::Expired | State::Rejected | State::Failed => Ok(failure_page(&txn, ctx)),
        // The citizen started again while this attempt was being verified:
        // the login goes on with the new attempt, on its waiting page.
        State::Choosing => Ok(respond::redirect(&base)),
        State::Pending | State::Completed => Ok(respond::redirect(&format!("{base}/wait"))),
    }
}

async fn cancel(
    app: &App,
    txn: LoginTxn,
    req: http::Request<Incoming>,
) -> Result<Response, GatewayError> {
    let form = read_form(req).await?;
    check_csrf(&txn, &form)?;
    if txn.state != State::Choosing && txn.state != State::Verified {
        app.txns
            .transition(&txn.id, crate::txn::Event::Restart, |t| t.attempt = None)
            .await?;
        flow::abandoned(app, &txn);
    }
    tracing::info!(txn = %txn.id, "citizen cancelled the provider request");
    Ok(respond::redirect(&base(&txn)))
}

/// Back to the site without logging in (OIDC `access_denied`, a SAML
/// status, the route's page, a declined signature).
async fn abort(app: &App, txn: LoginTxn, ctx: &Ctx) -> Result<Response, GatewayError> {
    ends::back_to_site(app, txn, ctx).await
}
