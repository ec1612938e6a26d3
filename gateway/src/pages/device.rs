//! The device page (RFC 8628 §3.3): the citizen types the code a kiosk or a
//! speaker's app shows, confirms the site it logs in to, and later learns
//! that the device carries on without them.
//!
//! Real forms (`method="post"`, one field, two buttons), so they work by
//! keyboard, with a screen reader and without JavaScript. The confirmation
//! names the site before anything happens: a code read off someone else's
//! screen must not log a device in as the citizen unasked.
//!
//! Not here: minting or checking the CSRF token, looking the code up, the
//! limits on typing codes (the gateway's [`crate::oidc::device_page`]).

use super::{Frame, Lang, PageError};
use askama::Template;

/// How a device login ended, as far as the citizen is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceEnd {
    /// Logged in: back to the device.
    Approved,
    /// Cancelled (at the confirmation, or from the login).
    Declined,
    /// The code expired or was used meanwhile.
    TooLate,
}

/// Which step the page shows.
#[derive(Debug, Clone, Copy)]
pub enum DeviceStep<'a> {
    /// The code field, prefilled with `value`; `wrong`: the last code was not one.
    Enter {
        value: &'a str,
        wrong: bool,
    },
    /// "Log in to {site} on your device?" for `code` (shown grouped).
    Confirm {
        site: &'a str,
        code: &'a str,
    },
    Ended(DeviceEnd),
}

pub struct DeviceView<'a> {
    pub lang: Lang,
    /// Where the forms post (the gateway's `/device`).
    pub action: &'a str,
    pub csrf: &'a str,
    pub step: DeviceStep<'a>,
    pub lang_ko_href: &'a str,
    pub lang_en_href: &'a str,
}

#[derive(Template)]
#[template(path = "device.html")]
struct DevicePage<'a> {
    frame: Frame<'a>,
    v: &'a DeviceView<'a>,
    mode: &'static str,
    body: &'static str,
    value: &'a str,
    wrong: bool,
    code: &'a str,
}

pub fn device(v: &DeviceView<'_>) -> Result<String, PageError> {
    let t = Frame::texts(v.lang);
    let (mode, title, body, value, wrong, code) = match v.step {
        DeviceStep::Enter { value, wrong } => (
            "enter",
            t.device_title.to_owned(),
            t.device_lead,
            value,
            wrong,
            "",
        ),
        DeviceStep::Confirm { site, code } => (
            "confirm",
            (t.device_confirm_title)(site),
            t.device_confirm_body,
            "",
            false,
            code,
        ),
        DeviceStep::Ended(DeviceEnd::Approved) => (
            "ended",
            t.device_done_title.to_owned(),
            t.device_done_body,
            "",
            false,
            "",
        ),
        DeviceStep::Ended(DeviceEnd::Declined) => (
            "ended",
            t.device_declined_title.to_owned(),
            t.device_declined_body,
            "",
            false,
            "",
        ),
        DeviceStep::Ended(DeviceEnd::TooLate) => (
            "ended",
            t.device_late_title.to_owned(),
            t.device_late_body,
            "",
            false,
            "",
        ),
    };
    let frame = Frame::new(v.lang, title, v.lang_ko_href, v.lang_en_href);
    Ok(DevicePage {
        frame,
        v,
        mode,
        body,
        value,
        wrong,
        code,
    }
    .render()?)
}
