//! The page that carries a SAML message to a site by the HTTP-POST binding.
//!
//! The message is a hidden form field; the shared script submits it, and the
//! Continue button does when script is off. The CSP's `form-action` allows
//! the site's ACS (any http/https target, since ACS URLs come from metadata).

use super::{Frame, Lang, PageError};
use askama::Template;

pub struct PostBackView<'a> {
    pub lang: Lang,
    pub action: &'a str,
    pub fields: &'a [(&'a str, String)],
}

#[derive(Template)]
#[template(path = "post_back.html")]
struct PostBackPage<'a> {
    frame: Frame<'a>,
    v: &'a PostBackView<'a>,
}

pub fn post_back(v: &PostBackView<'_>) -> Result<String, PageError> {
    let title = Frame::texts(v.lang).returning_title.to_owned();
    let mut frame = Frame::new(v.lang, title, "#", "#");
    frame.script = true;
    Ok(PostBackPage { frame, v }.render()?)
}
