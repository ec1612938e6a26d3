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
    /// The "sign a document" page.
    pub sign_href: &'a str,
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
    pub sign_href: &'a str,
    pub lang_ko_href: &'a str,
    pub lang_en_href: &'a str,
}

/// The "sign a document" form.
pub struct DemoSignView<'a> {
    pub lang: Lang,
    pub action: &'a str,
    pub csrf: &'a str,
    /// The values kept across a refused submission.
    pub title: &'a str,
    pub text: &'a str,
    /// Nothing to sign, or a file too large: shown at the form.
    pub error: Option<DemoSignError>,
    /// The largest file the form's script reads.
    pub max_file_bytes: usize,
    pub home_href: &'a str,
    pub lang_ko_href: &'a str,
    pub lang_en_href: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoSignError {
    Empty,
    TooLarge,
}

/// How a signature request ended, as the demo site read it from the API.
pub enum DemoSignedOutcome<'a> {
    /// The receipt's claims, already verified.
    Signed {
        request_title: &'a str,
        provider: &'a str,
        signer: &'a str,
        signing_time: &'a str,
        /// Each document: title and SHA-256.
        documents: &'a [DemoClaim<'a>],
        download_href: &'a str,
    },
    /// Failed or expired, with the API's reason code.
    Failed {
        reason: &'a str,
    },
    Pending,
}

pub struct DemoSignedView<'a> {
    pub lang: Lang,
    pub outcome: DemoSignedOutcome<'a>,
    pub sign_href: &'a str,
    pub home_href: &'a str,
    pub lang_ko_href: &'a str,
    pub lang_en_href: &'a str,
}

#[derive(Template)]
#[template(path = "demo_sign.html")]
struct DemoSignPage<'a> {
    frame: Frame<'a>,
    v: &'a DemoSignView<'a>,
    error: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "demo_signed.html")]
struct DemoSignedPage<'a> {
    frame: Frame<'a>,
    v: &'a DemoSignedView<'a>,
}

pub fn demo_sign(v: &DemoSignView<'_>) -> Result<String, PageError> {
    let t = Frame::texts(v.lang);
    let mut frame = Frame::new(
        v.lang,
        t.demo_sign_title.to_owned(),
        v.lang_ko_href,
        v.lang_en_href,
    );
    frame.demo = true;
    // Reads a chosen file into the form; the page works without it (text only).
    frame.script = true;
    let error = v.error.map(|e| match e {
        DemoSignError::Empty => t.demo_sign_empty,
        DemoSignError::TooLarge => t.demo_sign_too_large,
    });
    Ok(DemoSignPage { frame, v, error }.render()?)
}

pub fn demo_signed(v: &DemoSignedView<'_>) -> Result<String, PageError> {
    let t = Frame::texts(v.lang);
    let title = match v.outcome {
        DemoSignedOutcome::Signed { .. } => t.demo_signed_title,
        DemoSignedOutcome::Failed { .. } => t.demo_signed_failed_title,
        DemoSignedOutcome::Pending => t.demo_signed_pending_title,
    };
    let mut frame = Frame::new(v.lang, title.to_owned(), v.lang_ko_href, v.lang_en_href);
    frame.demo = true;
    Ok(DemoSignedPage { frame, v }.render()?)
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
