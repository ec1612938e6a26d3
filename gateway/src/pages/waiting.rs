//! The waiting page: "approve the request in your app", until the provider answers.
//!
//! With JavaScript, `munjigi.js` long-polls the status URL (the server holds each
//! request up to ~20 s), announces changes in a polite live region, counts down to
//! expiry and moves on by itself. Without it, the page refreshes itself every three
//! seconds and offers a "continue" link. Cancel is a POST with the CSRF token.
//! Not here: the status endpoint, the coalescing of provider polls behind it.

use super::{Frame, Lang, PageError};
use askama::Template;

pub struct WaitingView<'a> {
    pub lang: Lang,
    pub site_name: &'a str,
    pub provider_name_ko: &'a str,
    pub provider_name_en: &'a str,
    /// JSON long-poll endpoint: `{"state", "expires_in", "next"}`.
    pub status_url: &'a str,
    /// This page again, for the no-JavaScript refresh.
    pub refresh_url: &'a str,
    /// Where "I approved, continue" leads.
    pub continue_url: &'a str,
    /// POST target of the cancel button.
    pub cancel_action: &'a str,
    pub csrf: &'a str,
    pub other_provider_href: &'a str,
    pub expires_in_secs: u64,
    /// The code in the push's text ("approve only if your app shows it");
    /// empty where the provider shows no text of ours.
    pub code: &'a str,
    pub lang_ko_href: &'a str,
    pub lang_en_href: &'a str,
    /// The wallet's request as an inline SVG QR code (trusted markup we
    /// rendered); empty where the provider offers none.
    pub qr_svg: &'a str,
    /// A link that opens a wallet on this same phone with the request
    /// (`openid4vp://…`); empty where there is none.
    pub wallet_link: &'a str,
    /// App-to-app: the link that opens the provider's app on this phone;
    /// empty for a push.
    pub app_link: &'a str,
    /// App-to-app: where to install the app if it is missing; may be empty.
    pub market_link: &'a str,
    /// App-to-app: the app comes back to this page by itself when done.
    pub app_returns: bool,
    /// The provider stopped answering since the request was pushed (its
    /// circuit opened, or an operator turned it off): offer another.
    pub provider_down: bool,
}

#[derive(Template)]
#[template(path = "waiting.html")]
struct WaitingPage<'a> {
    frame: Frame<'a>,
    v: &'a WaitingView<'a>,
    caption: String,
    step_open: String,
    countdown: String,
    down_title: String,
    qr_hint: String,
    qr_alt: String,
    app_open: String,
}

pub fn waiting(v: &WaitingView<'_>) -> Result<String, PageError> {
    let t = Frame::texts(v.lang);
    let provider = match v.lang {
        Lang::Ko => v.provider_name_ko,
        Lang::En => v.provider_name_en,
    };
    let mut frame = Frame::new(
        v.lang,
        (t.waiting_title)(provider),
        v.lang_ko_href,
        v.lang_en_href,
    );
    frame.script = true;
    let page = WaitingPage {
        frame,
        v,
        caption: (t.logging_in_to)(v.site_name),
        step_open: if !v.app_link.is_empty() {
            (t.app_step_open)(provider)
        } else if !v.qr_svg.is_empty() {
            (t.wallet_step_open)(provider)
        } else {
            (t.waiting_step_open)(provider)
        },
        app_open: (t.app_open)(provider),
        countdown: mm_ss(v.expires_in_secs),
        down_title: (t.down_title)(provider),
        qr_hint: (t.wallet_qr_hint)(provider),
        qr_alt: (t.wallet_qr_alt)(provider),
    };
    Ok(page.render()?)
}

/// `mm:ss`, minutes not capped at 59 (a 90-minute wait shows `90:00`).
fn mm_ss(secs: u64) -> String {
    format!("{:02}:{:02}", secs / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::mm_ss;

    #[test]
    fn countdown_format() {
        assert_eq!(mm_ss(0), "00:00");
        assert_eq!(mm_ss(59), "00:59");
        assert_eq!(mm_ss(60), "01:00");
        assert_eq!(mm_ss(299), "04:59");
        assert_eq!(mm_ss(5400), "90:00");
    }
}
