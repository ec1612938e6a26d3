//! The citizen's error page: what went wrong, what to do next, and the code and
//! reference to quote.
//!
//! The gateway's one error mapping picks the [`Problem`], the stable code and the
//! ways out; this module only words them, in both languages. It never shows a
//! source error. [`error_fallback`] is the page of last resort, built without
//! askama and unable to fail, for when rendering itself goes wrong.

use super::text::ProblemText;
use super::{Action, Frame, Lang, PageError, Text, CSS_PATH};
use askama::Template;

/// What the citizen is told happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The citizen declined in the provider's app.
    Rejected,
    /// The request expired in the provider's app.
    Expired,
    ProviderUnavailable,
    /// The provider's signed result did not verify.
    VerificationFailed,
    /// Someone other than the person entered approved.
    WrongPerson,
    /// The person approved with another certificate than last time, and the
    /// operator confirms such changes first.
    SignerChanged,
    /// The provider has no certificate for the person entered.
    PersonUnknown,
    /// The login transaction is gone or too old.
    SessionExpired,
    /// A malformed link from a site.
    BadRequest,
    UnknownClient,
    InvalidRedirect,
    TooManyAttempts,
    /// Too many requests were pushed to this phone number lately.
    TooManyPushes,
    /// Too many logins started from this network lately.
    TooManyRequests,
    /// Too many device user codes typed from this network (or from all).
    TooManyDeviceCodes,
    /// The provider's request rate is used up for the moment.
    ProviderBusy,
    /// The gateway's shared state is briefly unreachable: retrying will work.
    TryLater,
    /// Another tab or window of this browser moved the login on first (a
    /// double submit, two tabs): nothing is lost, the login goes on there.
    ChangedElsewhere,
    /// An app-to-app login's app opened its return page in another browser
    /// than the one holding the login.
    ReturnedElsewhere,
    Internal,
}

impl Problem {
    pub(super) fn text(self, t: &'static Text) -> &'static ProblemText {
        match self {
            Problem::Rejected => &t.rejected,
            Problem::Expired => &t.expired,
            Problem::ProviderUnavailable => &t.provider_unavailable,
            Problem::VerificationFailed => &t.verification_failed,
            Problem::WrongPerson => &t.wrong_person,
            Problem::SignerChanged => &t.signer_changed,
            Problem::PersonUnknown => &t.person_unknown,
            Problem::SessionExpired => &t.session_expired,
            Problem::BadRequest => &t.bad_request,
            Problem::UnknownClient => &t.unknown_client,
            Problem::InvalidRedirect => &t.invalid_redirect,
            Problem::TooManyAttempts => &t.too_many_attempts,
            Problem::TooManyPushes => &t.too_many_pushes,
            Problem::TooManyRequests => &t.too_many_requests,
            Problem::TooManyDeviceCodes => &t.too_many_device_codes,
            Problem::ProviderBusy => &t.provider_busy,
            Problem::TryLater => &t.try_later,
            Problem::ChangedElsewhere => &t.changed_elsewhere,
            Problem::ReturnedElsewhere => &t.returned_elsewhere,
            Problem::Internal => &t.internal,
        }
    }
}

pub struct ErrorView<'a> {
    pub lang: Lang,
    pub problem: Problem,
    /// Stable code, e.g. `MJ-P03`, also in the operator's log line.
    pub code: &'a str,
    /// Transaction id, when there is one.
    pub txn: Option<&'a str>,
    /// Start the same login again.
    pub retry_href: Option<&'a str>,
    /// Back to the chooser.
    pub other_provider_href: Option<&'a str>,
    pub back_to_site_href: Option<&'a str>,
    pub lang_ko_href: &'a str,
    pub lang_en_href: &'a str,
    /// How long until a limit lets the citizen try again.
    pub wait: Option<std::time::Duration>,
    /// For the site's developers: what their software sent that was refused
    /// (a SAML SP's algorithm), in English as the log line says it.
    pub detail: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    frame: Frame<'a>,
    what: &'static str,
    next: &'static str,
    code: &'a str,
    txn: Option<&'a str>,
    /// "You can try again in …", when a limit says when.
    wait: Option<String>,
    /// The first is the main button.
    actions: Vec<Action<'a>>,
    detail: Option<&'a str>,
}

pub fn error(v: &ErrorView<'_>) -> Result<String, PageError> {
    let text = v.problem.text(Frame::texts(v.lang));
    let frame = Frame::new(
        v.lang,
        text.title.to_owned(),
        v.lang_ko_href,
        v.lang_en_href,
    );
    let (ko, en) = (Frame::texts(Lang::Ko), Frame::texts(Lang::En));
    let actions = [
        (v.retry_href, ko.retry, en.retry),
        (v.other_provider_href, ko.other_provider, en.other_provider),
        (v.back_to_site_href, ko.back_to_site, en.back_to_site),
    ]
    .into_iter()
    .filter_map(|(href, label_ko, label_en)| {
        href.map(|href| Action {
            label_ko,
            label_en,
            href,
        })
    })
    .collect();
    let page = ErrorPage {
        frame,
        what: text.what,
        next: text.next,
        code: v.code,
        txn: v.txn,
        wait: v.wait.map(|w| super::text::try_again_in(v.lang, w)),
        actions,
        detail: v.detail,
    };
    Ok(page.render()?)
}

/// A minimal error page that cannot fail: no template engine, texts from the
/// catalog, the code escaped. For when [`error`] (or any page) fails to render.
pub fn error_fallback(problem: Problem, lang: Lang, code: &str) -> String {
    let t = Text::of(lang);
    let p = problem.text(t);
    format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title} | {brand}</title>\n<link rel=\"stylesheet\" href=\"{css}\">\n</head>\n\
         <body>\n<div class=\"mj-width\">\n<main class=\"mj-main\" id=\"main\">\n\
         <h1 class=\"mj-title\">{title}</h1>\n<p class=\"mj-lead\">{what}</p>\n<p>{next}</p>\n\
         <p class=\"mj-reference\">{code_label}: <code>{code}</code></p>\n\
         <p class=\"mj-hint\">{quote}</p>\n</main>\n</div>\n</body>\n</html>\n",
        lang = lang.code(),
        title = escape(p.title),
        brand = escape(t.brand),
        css = CSS_PATH,
        what = escape(p.what),
        next = escape(p.next),
        code_label = escape(t.code_label),
        code = escape(code),
        quote = escape(t.quote_hint),
    )
}

/// HTML text and attribute escaping, for [`error_fallback`] only.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
