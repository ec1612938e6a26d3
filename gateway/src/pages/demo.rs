//! The demo site's pages: a sample public service at `/demo` that logs in through
//! the gateway over OIDC, and shows what it received.
//!
//! Dressed as a separate website (its own header and a "demo" banner), so the hand-
//! over to the gateway's pages is visible. Not here: the demo's OIDC client, which
//! lives with the gateway's demo mode; these pages only render what it gives them.

use super::{Frame, Lang, PageError};
use askama::Template;

pub struct DemoHomeView<'a> {
    pub lang: Lang,
    /// Starts the OIDC login.
    pub login_href: &'a str,
    pub lang_ko_href: &'a str,
    pub lang_en_href: &'a str,
}

/// One claim as the demo shows it (the value already rendered as text or JSON).
pub struct DemoClaim<'a> {
    pub name: &'a str,
    pub value: &'a str,
}

pub struct DemoResultView<'a> {
    pub lang: Lang,
    pub id_token_claims: &'a [DemoClaim<'a>],
    pub userinfo: &'a [DemoClaim<'a>],
    pub raw_id_token: &'a str,
    pub logout_href: &'a str,
    pub home_href: &'a str,
    pub lang_ko_href: &'a str,
    pub lang_en_href: &'a str,
}

#[derive(Template)]
#[template(path = "demo_home.html")]
struct DemoHomePage<'a> {
    frame: Frame<'a>,
    v: &'a DemoHomeView<'a>,
}

#[derive(Template)]
#[template(path = "demo_result.html")]
struct DemoResultPage<'a> {
    frame: Frame<'a>,
    v: &'a DemoResultView<'a>,
    sections: [(&'static str, &'a [DemoClaim<'a>]); 2],
}

pub fn demo_home(v: &DemoHomeView<'_>) -> Result<String, PageError> {
    let title = Frame::texts(v.lang).demo_home_title.to_owned();
    let mut frame = Frame::new(v.lang, title, v.lang_ko_href, v.lang_en_href);
    frame.demo = true;
    Ok(DemoHomePage { frame, v }.render()?)
}

pub fn demo_result(v: &DemoResultView<'_>) -> Result<String, PageError> {
    let t = Frame::texts(v.lang);
    let mut frame = Frame::new(
        v.lang,
        t.demo_result_title.to_owned(),
        v.lang_ko_href,
        v.lang_en_href,
    );
    frame.demo = true;
    let page = DemoResultPage {
        frame,
        v,
        sections: [
            (t.demo_id_token, v.id_token_claims),
            (t.demo_userinfo, v.userinfo),
        ],
    };
    Ok(page.render()?)
}
