//! The browser's last stop after a logout was carried to every site: where
//! it goes, and what it is shown on the way.
//!
//! Straight to the asking site (a 302, or the LogoutResponse: with
//! `PartialLogout` when some site did not confirm) when every site confirmed
//! and none needs a frame. Otherwise the logged-out page:
//! the sites that did not confirm (so a citizen on a shared computer knows
//! where a session may live on), the front-channel frames, and the way on to
//! the asking site, followed by itself once the frames loaded when nothing
//! needs the citizen's attention.

use super::chain::Run;
use super::Finish;
use crate::app::App;
use crate::pages::{self, LoggedOutNext, LoggedOutView};
use crate::rescue::{Ctx, GatewayError};
use crate::saml::logout_out::{self, Outgoing};
use crate::web::{respond, Response};
use http::StatusCode;

pub(super) fn answer(app: &App, run: &Run, ctx: &Ctx) -> Result<Response, GatewayError> {
    let unconfirmed: Vec<String> = run
        .told
        .iter()
        .filter(|t| !t.confirmed)
        .map(|t| site_name(app, &t.site, ctx))
        .collect();
    let quiet = unconfirmed.is_empty() && run.frames.is_empty();
    let (next, back_href) = match &run.finish {
        Finish::Page { back_href } => (None, back_href.clone()),
        Finish::Redirect(url) => {
            if quiet {
                return Ok(respond::redirect(url));
            }
            (Some(Outgoing::Redirect(url.clone())), None)
        }
        Finish::Saml(a) => {
            let out = logout_out::response(app, a, !unconfirmed.is_empty(), None)?;
            if quiet {
                return out.send(ctx);
            }
            // The SP hears PartialLogout, and the citizen sees which sites
            // before going on to it.
            (Some(out), None)
        }
    };
    let next = next.map(|o| match o {
        Outgoing::Redirect(href) => LoggedOutNext::Link(href),
        Outgoing::Post { action, fields } => LoggedOutNext::Form { action, fields },
    });
    // This page may be drawn at `/saml/slo`, which a GET cannot show again:
    // the language links go to the logout page (the session is gone).
    let (ko, en) = (
        format!("{}/logout?lang=ko", app.config.public_url),
        format!("{}/logout?lang=en", app.config.public_url),
    );
    let body = pages::logged_out(&LoggedOutView {
        lang: ctx.lang,
        back_href: back_href.as_deref(),
        unconfirmed: &unconfirmed,
        frames: &run.frames,
        next: next.as_ref(),
        auto: unconfirmed.is_empty(),
        lang_ko_href: &ko,
        lang_en_href: &en,
    })
    .map_err(GatewayError::render)?;
    Ok(respond::html_with_frames(StatusCode::OK, body, &run.frames))
}

/// The site's name in the page's language (its id if a reload removed it).
fn site_name(app: &App, id: &str, ctx: &Ctx) -> String {
    match app.config.sites.get(id) {
        Some(s) if ctx.lang == pages::Lang::En => s.name_en.clone(),
        Some(s) => s.name.clone(),
        None => id.to_owned(),
    }
}
