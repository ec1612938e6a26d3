//! The page after a logout: the gateway session is gone, and so is every
//! site's that confirmed. It names the sites that did not (their sessions
//! may live on), holds the front-channel logout frames of OIDC clients that
//! registered one, and leads on to the site that asked, by itself once the
//! frames loaded when nothing needs the citizen's attention.
//!
//! Not here: ending the session or telling the sites ([`crate::logout`]).

use super::{Frame, Lang, PageError};
use askama::Template;

/// The way on to the site that asked for the logout.
#[derive(Debug, Clone)]
pub enum LoggedOutNext {
    /// Its `post_logout_redirect_uri`, or an HTTP-Redirect LogoutResponse.
    Link(String),
    /// An HTTP-POST LogoutResponse.
    Form {
        action: String,
        fields: Vec<(&'static str, String)>,
    },
}

pub struct LoggedOutView<'a> {
    pub lang: Lang,
    /// Back to the site, when known.
    pub back_href: Option<&'a str>,
    /// Names of the sites that did not confirm the logout.
    pub unconfirmed: &'a [String],
    /// Front-channel logout URLs, each loaded in a hidden frame.
    pub frames: &'a [String],
    pub next: Option<&'a LoggedOutNext>,
    /// Follow `next` by itself (script) once the frames loaded.
    pub auto: bool,
    pub lang_ko_href: &'a str,
    pub lang_en_href: &'a str,
}

#[derive(Template)]
#[template(path = "logged_out.html")]
struct LoggedOutPage<'a> {
    frame: Frame<'a>,
    v: &'a LoggedOutView<'a>,
}

pub fn logged_out(v: &LoggedOutView<'_>) -> Result<String, PageError> {
    let title = Frame::texts(v.lang).logged_out_title.to_owned();
    let mut frame = Frame::new(v.lang, title, v.lang_ko_href, v.lang_en_href);
    frame.script = v.next.is_some() || !v.frames.is_empty();
    Ok(LoggedOutPage { frame, v }.render()?)
}
