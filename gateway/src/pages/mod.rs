//! The pages a citizen sees: provider chooser, identity form, waiting page, error,
//! logout confirmation and logged-out pages, the device page, and the demo site's pages.
//!
//! Each page is a view struct of borrowed values (what the handler already has)
//! and a function that renders it through an askama template in
//! `gateway/templates/`. Korean is the default language, English the other; every
//! text comes from the typed catalog in [`text`], so a missing translation does not
//! compile. Pages work without JavaScript, by keyboard alone and on a phone, and
//! load nothing from elsewhere: one stylesheet ([`CSS`]) and one script ([`JS`],
//! waiting page only), both served by the gateway under `/static/`, so the CSP can
//! be `default-src 'self'` with no inline script, style or event handler.
//!
//! Not here: routing, cookies, CSRF token minting, deciding which page or error a
//! situation deserves (the gateway's error mapping does that), and any personal data
//! beyond what the citizen typed into the identity form, echoed back to them.

mod chooser;
mod demo;
mod device;
mod identify;
mod lang;
mod logged_out;
mod logout_confirm;
mod post_back;
mod problem;
mod text;
mod waiting;

#[cfg(test)]
mod tests;

pub use chooser::{chooser, ChooserView, ProviderChoice};
pub use demo::{
    demo_away, demo_callcentre, demo_home, demo_result, demo_sign, demo_signed, DemoAway,
    DemoAwayState, DemoAwayView, DemoCallCentreView, DemoClaim, DemoHomeView, DemoResultView,
    DemoSignError, DemoSignView, DemoSignedOutcome, DemoSignedView,
};
pub use device::{device, DeviceEnd, DeviceStep, DeviceView};
pub use identify::{identify, AppChoice, Field, IdentifyView};
pub use lang::Lang;
pub use logged_out::{logged_out, LoggedOutNext, LoggedOutView};
pub use logout_confirm::{logout_confirm, LogoutConfirmView};
pub use post_back::{post_back, PostBackView};
pub use problem::{error, error_fallback, ErrorView, Problem};
pub use waiting::{waiting, WaitingView};

/// Why a provider whose circuit is open is greyed out, in `lang`.
pub fn provider_failing(lang: Lang) -> &'static str {
    Text::of(lang).provider_failing
}

/// Why a provider an operator turned off is greyed out, when the operator
/// gave no reason, in `lang`.
pub fn provider_disabled(lang: Lang) -> &'static str {
    Text::of(lang).provider_disabled
}

use text::Text;

/// The stylesheet every page links to, served at [`CSS_PATH`].
pub const CSS: &str = include_str!("../../static/munjigi.css");
pub const CSS_PATH: &str = "/static/munjigi.css";

/// The waiting page's status poller, served at [`JS_PATH`]. Pages work without it.
pub const JS: &str = include_str!("../../static/munjigi.js");
pub const JS_PATH: &str = "/static/munjigi.js";

/// Where a provider's logo is served: `/static/munjigi/logos/{provider
/// id}` (under the gateway's own name: a site proxied at `/` keeps its own
/// `/static/...`).
pub const LOGO_PREFIX: &str = "/static/munjigi/logos/";

/// A page could not be rendered. Holds askama's error for the operator's log; the
/// citizen gets [`error_fallback`] instead.
#[derive(Debug, thiserror::Error)]
#[error("page could not be rendered")]
pub struct PageError(#[from] askama::Error);

/// A way out of an error page: a link with a label in each language. The error
/// page builds its own from [`ErrorView`]'s hrefs; others may use it for custom
/// actions.
pub struct Action<'a> {
    pub label_ko: &'a str,
    pub label_en: &'a str,
    pub href: &'a str,
}

/// What every page's frame (`base.html`) needs: language, texts, title, switch links.
struct Frame<'a> {
    lang: Lang,
    t: &'static Text,
    /// The page's own title, without the site suffix.
    title: String,
    lang_ko_href: &'a str,
    lang_en_href: &'a str,
    /// Demo-site pages wear the sample site's header, not the gateway's.
    demo: bool,
    /// Whether the page loads [`JS`].
    script: bool,
    css_path: &'static str,
    js_path: &'static str,
}

impl<'a> Frame<'a> {
    fn new(lang: Lang, title: String, lang_ko_href: &'a str, lang_en_href: &'a str) -> Self {
        Frame {
            lang,
            t: Text::of(lang),
            title,
            lang_ko_href,
            lang_en_href,
            demo: false,
            script: false,
            css_path: CSS_PATH,
            js_path: JS_PATH,
        }
    }

    fn texts(lang: Lang) -> &'static Text {
        Text::of(lang)
    }

    fn is_ko(&self) -> bool {
        self.lang == Lang::Ko
    }
}
