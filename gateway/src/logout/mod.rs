//! One logout for every front: when a single sign-on ends, every site that
//! took part in it is told, and the citizen is shown which did not confirm.
//!
//! Ending is [`crate::sso::end_everything`] (the gateway session, proxy
//! sessions, access tokens); that also says which sites took part
//! ([`crate::sso::Party`]). Telling them is here, whoever started the logout
//! (an OIDC client's `/logout`, a SAML SP's LogoutRequest, the proxy, the
//! gateway's own page); the site that asked is not told again:
//! - OIDC clients with a `backchannel_logout_uri` get a logout token
//!   (Back-Channel Logout 1.0) from the gateway itself, all at once, before
//!   the browser moves on: their answer is known and reported.
//! - SAML SPs get a signed LogoutRequest through the browser, one after the
//!   other ([`chain`]); the run's state waits in the store between hops, so
//!   any replica takes the SP's LogoutResponse.
//! - OIDC clients with a `frontchannel_logout_uri` are loaded in frames of the
//!   final page (Front-Channel Logout 1.0); a browser does not say whether a
//!   frame's site ended its session, so they count as told. (Browsers that
//!   block third-party cookies keep a cross-site frame from seeing the site's
//!   session: the README recommends the back channel.)
//! - A site with no way to be told is reported as not confirmed, as is any
//!   that failed or answered with an error. The final page lists them (a
//!   citizen on a shared computer must know), the log names each with the
//!   reason, and an SP that started it hears `PartialLogout`.

mod backchannel;
pub mod chain;
mod report;

use crate::app::App;
use crate::rescue::{Ctx, GatewayError};
use crate::sso::{Ended, Party};
use crate::web::{params::append_query, Response};
use serde::{Deserialize, Serialize};

/// Where the browser goes once every site was told.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Finish {
    /// The gateway's "you are logged out" page.
    Page { back_href: Option<String> },
    /// The asking client's `post_logout_redirect_uri` (with its `state`).
    Redirect(String),
    /// A LogoutResponse to the SP that asked.
    Saml(SamlAnswer),
}

/// How to answer an SP's LogoutRequest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SamlAnswer {
    pub sp: String,
    pub in_response_to: String,
    pub relay_state: Option<String>,
    /// The SP's SingleLogoutService (its ResponseLocation when it has one).
    pub url: String,
    /// HTTP-POST (else HTTP-Redirect).
    pub post: bool,
}

/// How a site was told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    BackChannel,
    FrontChannel,
    Saml,
    /// The site registered no way to be told.
    None,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::BackChannel => "back_channel",
            Channel::FrontChannel => "front_channel",
            Channel::Saml => "saml",
            Channel::None => "none",
        }
    }
}

/// What one site made of the logout.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Told {
    /// The site's id in config.
    pub site: String,
    pub via: Channel,
    pub confirmed: bool,
    /// Why not (for the log; never shown to the citizen).
    pub reason: String,
}

impl Told {
    fn yes(site: &str, via: Channel) -> Self {
        Self {
            site: site.to_owned(),
            via,
            confirmed: true,
            reason: String::new(),
        }
    }
    fn no(site: &str, via: Channel, reason: impl Into<String>) -> Self {
        Self {
            site: site.to_owned(),
            via,
            confirmed: false,
            reason: reason.into(),
        }
    }
}

/// The site that asked for the logout, proven (an ID token we issued to it,
/// a LogoutRequest signed by it): not told again. A bare `client_id` proves
/// nothing and skips nobody.
#[derive(Debug, Clone, Copy)]
pub enum Asker<'a> {
    Oidc(&'a str),
    Saml(&'a str),
}

impl Asker<'_> {
    fn is(&self, p: &Party) -> bool {
        match (self, p) {
            (Asker::Oidc(id), Party::Oidc { client_id, .. }) => client_id == id,
            (Asker::Saml(id), Party::Saml { entity_id, .. }) => entity_id == id,
            _ => false,
        }
    }
}

/// Tells every site of the ended session `sid` but `asker`, then answers the
/// browser: the next SP's LogoutRequest, or `finish`.
pub async fn propagate(
    app: &App,
    sid: &str,
    ended: Ended,
    asker: Option<Asker<'_>>,
    finish: Finish,
    ctx: &Ctx,
) -> Result<Response, GatewayError> {
    let mut told = Vec::new();
    let mut frames = Vec::new();
    let mut back = Vec::new();
    let mut queue = Vec::new();
    for party in ended.parties {
        if asker.is_some_and(|a| a.is(&party)) {
            continue;
        }
        match party {
            Party::Oidc { client_id, sub } => {
                let Some((site, client)) = app.config.client(&client_id) else {
                    // Removed by a reload since: nobody to tell.
                    continue;
                };
                if let Some(url) = &client.backchannel_logout_uri {
                    back.push(backchannel::Job {
                        site: site.id.clone(),
                        client_id,
                        alg: client.id_token_alg,
                        url: url.clone(),
                        sub,
                    });
                }
                if let Some(url) = &client.frontchannel_logout_uri {
                    let iss = app.config.issuer();
                    frames.push(append_query(url, &[("iss", iss), ("sid", sid)]));
                    told.push(Told::yes(&site.id, Channel::FrontChannel));
                }
                if client.backchannel_logout_uri.is_none()
                    && client.frontchannel_logout_uri.is_none()
                {
                    told.push(Told::no(
                        &site.id,
                        Channel::None,
                        "the client registers no backchannel_logout_uri or frontchannel_logout_uri",
                    ));
                }
            }
            Party::Saml {
                entity_id,
                name_id,
                transient,
                ..
            } => {
                let Some((site, saml)) = app.config.saml_sp(&entity_id) else {
                    continue;
                };
                let sp = match crate::saml::remote_metadata::service_provider(app, &site.id, saml) {
                    Ok(sp) => sp,
                    Err(u) => {
                        told.push(Told::no(&site.id, Channel::Saml, u.reason()));
                        continue;
                    }
                };
                match chain::Target::of(&site.id, &sp, name_id, transient) {
                    Some(t) => queue.push(t),
                    None => told.push(Told::no(
                        &site.id,
                        Channel::Saml,
                        "the SP's metadata has no SingleLogoutService",
                    )),
                }
            }
        }
    }
    told.extend(backchannel::tell_all(app, sid, back).await);
    let run = chain::Run::new(sid, queue, told, frames, finish)?;
    chain::next(app, run, ctx).await
}

/// The browser's last stop: the log lines, the metric and the answer.
async fn finish(app: &App, run: chain::Run, ctx: &Ctx) -> Result<Response, GatewayError> {
    let mut unconfirmed = 0usize;
    for t in &run.told {
        app.runtime
            .metrics
            .logout_told(&t.site, t.via.as_str(), t.confirmed);
        if !t.confirmed {
            unconfirmed += 1;
            tracing::warn!(site = %t.site, via = t.via.as_str(), reason = %t.reason, req = %ctx.request_id, "a site did not confirm the logout");
        }
    }
    tracing::info!(
        sites = run.told.len(),
        unconfirmed,
        req = %ctx.request_id,
        "logout propagated"
    );
    report::answer(app, &run, ctx)
}
