//! The provider chooser: the first page of a login, "{site} 로그인".
//!
//! Lists the providers the gateway already filtered by the site's policy, each as a
//! big link to its identity form, and a way back to the site. A provider not
//! offered right now (its circuit is open, or an operator forced it off) is
//! listed after the others, greyed out and without a link, with the reason, so a
//! citizen sees why their usual provider is missing and picks another. Not here:
//! the filtering itself (policy crate), deciding provider health
//! (`crate::circuit`), or remembering the last choice.

use super::{Frame, Lang, PageError};
use askama::Template;

/// One provider button.
pub struct ProviderChoice<'a> {
    pub id: &'a str,
    pub name_ko: &'a str,
    pub name_en: &'a str,
    /// Where the button leads: the identity form for this provider.
    pub href: &'a str,
    /// Why it is not offered right now (greyed out, no link); `None` when it is.
    pub off: Option<std::borrow::Cow<'a, str>>,
}

pub struct ChooserView<'a> {
    pub lang: Lang,
    pub site_name: &'a str,
    /// A signing request, not a login (the title says so).
    pub signing: bool,
    pub providers: &'a [ProviderChoice<'a>],
    /// Back to the site (an OIDC error redirect, or its home page).
    pub cancel_href: &'a str,
    pub lang_ko_href: &'a str,
    pub lang_en_href: &'a str,
}

#[derive(Template)]
#[template(path = "chooser.html")]
struct ChooserPage<'a> {
    frame: Frame<'a>,
    v: &'a ChooserView<'a>,
}

impl ChooserView<'_> {
    fn offered(&self) -> impl Iterator<Item = &ProviderChoice<'_>> {
        self.providers.iter().filter(|p| p.off.is_none())
    }

    fn not_offered(&self) -> impl Iterator<Item = &ProviderChoice<'_>> {
        self.providers.iter().filter(|p| p.off.is_some())
    }
}

pub fn chooser(v: &ChooserView<'_>) -> Result<String, PageError> {
    let t = Frame::texts(v.lang);
    let title = if v.signing {
        (t.signing_for)(v.site_name)
    } else {
        (t.chooser_title)(v.site_name)
    };
    let frame = Frame::new(v.lang, title, v.lang_ko_href, v.lang_en_href);
    Ok(ChooserPage { frame, v }.render()?)
}
