//! "Log out of Munjigi?": shown instead of ending the single sign-on when
//! nothing proves the citizen asked for it (no `id_token_hint` of this
//! session; a bare GET any page could cause with `<img src=/logout>`).
//!
//! A real `<form method="post">` with one button, so it works by keyboard,
//! with a screen reader and without JavaScript; the form carries the CSRF
//! token the gateway minted and the (already checked) parameters of the
//! original request, so confirming returns where the site asked.
//!
//! Not here: minting or checking the token, ending the session (the gateway
//! does both).

use super::{Frame, Lang, PageError};
use askama::Template;

pub struct LogoutConfirmView<'a> {
    pub lang: Lang,
    /// Where the form posts (the gateway's `/logout`).
    pub action: &'a str,
    pub csrf: &'a str,
    /// Hidden fields carried to the POST (`client_id`, `post_logout_redirect_uri`, `state`).
    pub carry: &'a [(&'a str, &'a str)],
    /// The previous attempt carried no or a wrong token: say so.
    pub retry: bool,
    /// Back to the site without logging out, when known.
    pub back_href: Option<&'a str>,
    pub lang_ko_href: &'a str,
    pub lang_en_href: &'a str,
}

#[derive(Template)]
#[template(path = "logout_confirm.html")]
struct LogoutConfirmPage<'a> {
    frame: Frame<'a>,
    v: &'a LogoutConfirmView<'a>,
}

pub fn logout_confirm(v: &LogoutConfirmView<'_>) -> Result<String, PageError> {
    let title = Frame::texts(v.lang).logout_confirm_title.to_owned();
    let frame = Frame::new(v.lang, title, v.lang_ko_href, v.lang_en_href);
    Ok(LogoutConfirmPage { frame, v }.render()?)
}
