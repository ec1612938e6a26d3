//! The page after RP-initiated logout when the site gave no address to return to,
//! or wants the citizen to see that the gateway session is gone.
//!
//! Not here: ending the session (the gateway does that before rendering).

use super::{Frame, Lang, PageError};
use askama::Template;

pub struct LoggedOutView<'a> {
    pub lang: Lang,
    /// Back to the site, when known.
    pub back_href: Option<&'a str>,
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
    let frame = Frame::new(v.lang, title, v.lang_ko_href, v.lang_en_href);
    Ok(LoggedOutPage { frame, v }.render()?)
}
