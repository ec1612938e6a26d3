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
    /// The call-centre and kiosk pages, when the demo client may use CIBA
    /// and the device grant.
    pub callcentre_href: Option<&'a str>,
    pub kiosk_href: Option<&'a str>,
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

/// The call centre's form: the caller's details and their provider.
pub struct DemoCallCentreView<'a> {
    pub lang: Lang,
    pub action: &'a str,
    pub csrf: &'a str,
    /// (provider id, its name in this language), the site's providers.
    pub providers: &'a [(&'a str, &'a str)],
    pub name: &'a str,
    pub birthdate: &'a str,
    pub phone: &'a str,
    pub provider: &'a str,
    /// The gateway's refusal (`error: description`), shown at the form.
    pub error: Option<&'a str>,
    pub home_href: &'a str,
    pub lang_ko_href: &'a str,
    pub lang_en_href: &'a str,
}

/// Which back-channel demo a waiting page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoAway {
    CallCentre,
    Kiosk,
}

/// Where a call-centre or kiosk login stands.
pub enum DemoAwayState<'a> {
    /// Waiting for the citizen; `code` is the binding code (call centre,
    /// empty when the app shows none) or the user code (kiosk).
    Waiting {
        code: &'a str,
        /// The kiosk's QR code image and the address to type the code at.
        qr_src: &'a str,
        verification_uri: &'a str,
        status_url: &'a str,
        refresh_url: &'a str,
    },
    /// Logged in: the verified ID token's claims.
    Done {
        name: &'a str,
        claims: &'a [DemoClaim<'a>],
    },
    /// Rejected, expired, refused: the OAuth error code.
    Failed { reason: &'a str },
}

pub struct DemoAwayView<'a> {
    pub lang: Lang,
    pub kind: DemoAway,
    pub state: DemoAwayState<'a>,
    pub again_href: &'a str,
    pub home_href: &'a str,
    pub lang_ko_href: &'a str,
    pub lang_en_href: &'a str,
}

#[derive(Template)]
#[template(path = "demo_callcentre.html")]
struct DemoCallCentrePage<'a> {
    frame: Frame<'a>,
    v: &'a DemoCallCentreView<'a>,
}

#[derive(Template)]
#[template(path = "demo_away.html")]
struct DemoAwayPage<'a> {
    frame: Frame<'a>,
    v: &'a DemoAwayView<'a>,
    kiosk: bool,
    welcome: String,
    read_code: String,
}

pub fn demo_callcentre(v: &DemoCallCentreView<'_>) -> Result<String, PageError> {
    let t = Frame::texts(v.lang);
    let mut frame = Frame::new(
        v.lang,
        t.demo_cc_title.to_owned(),
        v.lang_ko_href,
        v.lang_en_href,
    );
    frame.demo = true;
    Ok(DemoCallCentrePage { frame, v }.render()?)
}

pub fn demo_away(v: &DemoAwayView<'_>) -> Result<String, PageError> {
    let t = Frame::texts(v.lang);
    let kiosk = v.kind == DemoAway::Kiosk;
    let title = match (&v.state, kiosk) {
        (DemoAwayState::Waiting { .. }, true) => t.demo_kiosk_title,
        (DemoAwayState::Waiting { .. }, false) => t.demo_cc_wait_title,
        (DemoAwayState::Done { .. }, _) => t.demo_away_done_title,
        (DemoAwayState::Failed { .. }, _) => t.demo_away_failed_title,
    };
    let mut frame = Frame::new(v.lang, title.to_owned(), v.lang_ko_href, v.lang_en_href);
    frame.demo = true;
    // Polls the status while waiting; the page works without it.
    frame.script = matches!(v.state, DemoAwayState::Waiting { .. });
    let (welcome, read_code) = match &v.state {
        DemoAwayState::Done { name, .. } => ((t.demo_kiosk_welcome)(name), String::new()),
        DemoAwayState::Waiting { .. } => (String::new(), t.demo_cc_read_code.to_owned()),
        DemoAwayState::Failed { .. } => (String::new(), String::new()),
    };
    Ok(DemoAwayPage {
        frame,
        v,
        kiosk,
        welcome,
        read_code,
    }
    .render()?)
}
