//! The provider chooser: the first page of a login, "{site} 로그인".
//!
//! Lists the providers the gateway already filtered by the site's policy, each as a
//! big link to its identity form, and a way back to the site. A provider not
//! offered right now (its circuit is open, or an operator forced it off) is
//! listed after the others, greyed out and without a link, with the reason, so a
//! citizen sees why their usual provider is missing and picks another. The
//! one this device used last, when offered, stands first under its own
//! heading as "continue with …", with a button to forget it. Not here: the
//! filtering itself (policy crate), deciding provider health
//! (`crate::circuit`), the order or the remembering
//! (`crate::login::last_used`).

use super::{Frame, Lang, PageError};
use askama::Template;

/// One provider button.
#[derive(Clone)]
pub struct ProviderChoice<'a> {
    pub id: &'a str,
    pub name_ko: &'a str,
    pub name_en: &'a str,
    /// Where the button leads: the identity form for this provider.
    pub href: &'a str,
    /// Why it is not offered right now (greyed out, no link); `None` when it is.
    pub off: Option<std::borrow::Cow<'a, str>>,
    /// Where its logo is served; a text badge without one.
    pub logo: Option<&'a str>,
}

impl ProviderChoice<'_> {
    /// The name in the page's language.
    fn name(&self, ko: bool) -> &str {
        if ko {
            self.name_ko
        } else {
            self.name_en
        }
    }

    /// The logo's text alternative: "카카오 로고" / "Kakao logo".
    fn logo_alt(&self, ko: bool) -> String {
        if ko {
            format!("{} 로고", self.name_ko)
        } else {
            format!("{} logo", self.name_en)
        }
    }

    /// A text badge's letters: the name's first syllable or letter.
    fn initial(&self, ko: bool) -> String {
        self.name(ko)
            .chars()
            .take(1)
            .collect::<String>()
            .to_uppercase()
    }
}

pub struct ChooserView<'a> {
    pub lang: Lang,
    pub site_name: &'a str,
    /// A signing request, not a login (the title says so).
    pub signing: bool,
    /// In the order shown: the offered ones first.
    pub providers: &'a [ProviderChoice<'a>],
    /// The first offered provider is the one this device used last.
    pub last: bool,
    /// The provider this device remembers (offered or not), Korean and
    /// English names: the forget button names it.
    pub remembered: Option<(&'a str, &'a str)>,
    /// Where the forget button posts, with `csrf`.
    pub forget_action: &'a str,
    pub csrf: &'a str,
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
    /// "continue with …" for the last used, in the page's language.
    continue_with: String,
    /// "forget … on this device", empty when nothing is remembered.
    forget: String,
}

impl ChooserView<'_> {
    fn offered(&self) -> impl Iterator<Item = &ProviderChoice<'_>> {
        self.providers.iter().filter(|p| p.off.is_none())
    }

    /// The last used, shown on its own.
    fn last_used(&self) -> Option<&ProviderChoice<'_>> {
        self.offered().next().filter(|_| self.last)
    }

    /// The offered ones listed together (all but the last used).
    fn listed(&self) -> impl Iterator<Item = &ProviderChoice<'_>> {
        self.offered().skip(usize::from(self.last))
    }

    fn not_offered(&self) -> impl Iterator<Item = &ProviderChoice<'_>> {
        self.providers.iter().filter(|p| p.off.is_some())
    }

    /// More than eight offered: a box to filter them by name.
    fn filterable(&self) -> bool {
        self.listed().count() > 8
    }
}

pub fn chooser(v: &ChooserView<'_>) -> Result<String, PageError> {
    let t = Frame::texts(v.lang);
    let title = if v.signing {
        (t.signing_for)(v.site_name)
    } else {
        (t.chooser_title)(v.site_name)
    };
    let mut frame = Frame::new(v.lang, title, v.lang_ko_href, v.lang_en_href);
    frame.script = v.filterable();
    let continue_with = v
        .last_used()
        .map(|p| {
            (t.chooser_continue_with)(match v.lang {
                Lang::Ko => p.name_ko,
                Lang::En => p.name_en,
            })
        })
        .unwrap_or_default();
    let forget = v
        .remembered
        .map(|(ko, en)| {
            (t.chooser_forget)(match v.lang {
                Lang::Ko => ko,
                Lang::En => en,
            })
        })
        .unwrap_or_default();
    Ok(ChooserPage {
        frame,
        v,
        continue_with,
        forget,
    }
    .render()?)
}
