//! What is recorded, and the one-line hooks the rest of the gateway calls.
//!
//! Every field is an id, a configured name, a code, a pairwise subject or a
//! digest: the log is read by more people than the store is, so nothing
//! personal (name, phone, birth date, CI) and nothing secret is written.
//! The hooks keep the call sites to one line, so the code they sit in (the
//! login flow, the limits, reloads) changes without rebasing this.
//!
//! Only a login's completion and a signature's completion wait for their
//! record to be on disk (a login only under `on_failure = "refuse"`); the
//! rest are queued, in order, ahead of the next record that waits.

use super::AuditError;
use crate::app::App;
use crate::config::model::OnFailure;
use crate::failure::Failure;
use crate::rescue::GatewayError;
use crate::txn::{LoginTxn, Outcome};
use munjigi_providers::ProviderId;
use serde::Serialize;

/// How a login was answered.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// A provider's verified result.
    Provider,
    /// The browser's single sign-on session: no provider asked.
    Session,
}

/// One audit event: its name (`event`) and its fields.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event")]
pub enum Event {
    /// The provider pushed the request to the citizen's app.
    #[serde(rename = "login.started")]
    LoginStarted {
        txn: String,
        site: String,
        front: &'static str,
        party: String,
        provider: String,
        /// Started app-to-app (no push: a link opened the app on the
        /// browser's phone); left out for a push.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        app_to_app: bool,
    },
    /// The login left for its site logged in.
    #[serde(rename = "login.completed")]
    LoginCompleted {
        txn: String,
        site: String,
        front: &'static str,
        party: String,
        provider: String,
        acr: &'static str,
        /// The pairwise subject for this site.
        sub: String,
        via: Via,
    },
    /// A provider request ended without a login (the failure table's code).
    #[serde(rename = "login.failed")]
    LoginFailed {
        txn: String,
        site: String,
        front: &'static str,
        provider: String,
        reason: &'static str,
    },
    /// The citizen went back to the site without a login.
    #[serde(rename = "login.returned")]
    LoginReturned {
        txn: String,
        site: String,
        front: &'static str,
        reason: &'static str,
    },
    /// A site asked for documents to be signed.
    #[serde(rename = "signature.requested")]
    SignatureRequested {
        request: String,
        client: String,
        site: String,
        /// SHA-256 of each document, hex, in order.
        documents: Vec<String>,
    },
    /// A receipt is about to be released (written and synced first).
    #[serde(rename = "signature.completed")]
    SignatureCompleted {
        /// Unix seconds, as the signing log wrote before it joined this one.
        ts: u64,
        request: String,
        client: String,
        txn: String,
        provider: String,
        sub: String,
        acr: &'static str,
        /// SHA-256 of each document, hex, in order.
        documents: Vec<String>,
        /// SHA-256 of the receipt JWS, so the log pins the exact receipt.
        receipt_sha256: String,
    },
    /// A signature request ended without a receipt.
    #[serde(rename = "signature.failed")]
    SignatureFailed {
        request: String,
        client: String,
        txn: String,
        reason: String,
    },
    /// A configuration reload, applied or refused.
    #[serde(rename = "config.reloaded")]
    ConfigReloaded {
        result: &'static str,
        why: String,
        /// SHA-256 of the file as read (applied reloads).
        #[serde(skip_serializing_if = "Option::is_none")]
        config_sha256: Option<String>,
    },
    /// The signing keys this process started with (`kid`s, current then next).
    #[serde(rename = "keys.loaded")]
    KeysLoaded {
        current: Vec<String>,
        published: Vec<String>,
    },
    /// A reload changed the signing keys.
    #[serde(rename = "keys.rotated")]
    KeysRotated {
        before: Vec<String>,
        current: Vec<String>,
        published: Vec<String>,
    },
    /// An abuse limit refused requests: `count` of them since this
    /// (kind, site)'s last record (at most one a minute, see [`super`]).
    #[serde(rename = "limit.tripped")]
    LimitTripped {
        kind: &'static str,
        site: String,
        count: u64,
    },
    /// A client asked for a device authorization (RFC 8628); `device` is
    /// its public id, never a code.
    #[serde(rename = "device.requested")]
    DeviceRequested {
        device: String,
        client: String,
        site: String,
        acr: &'static str,
    },
    /// A device authorization ended: `approved` or `denied` by the citizen
    /// (the login itself is `login.completed` / `login.returned` with front
    /// `device`), `redeemed` by the device, or `expired`.
    #[serde(rename = "device.ended")]
    DeviceEnded {
        device: String,
        client: String,
        site: String,
        outcome: &'static str,
    },
    /// A client asked for a named citizen's approval (CIBA): recorded
    /// before anything reaches the phone. `request` is its public id,
    /// `hint` `signed` or `unsigned`, `agent` the operator reference the
    /// site signed into its hint (if any). Nothing personal.
    #[serde(rename = "ciba.requested")]
    CibaRequested {
        request: String,
        client: String,
        site: String,
        provider: String,
        acr: &'static str,
        mode: &'static str,
        hint: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        agent: Option<String>,
    },
    /// An authenticated client's CIBA requests refused before any push:
    /// `reason` is the CIBA error code answered (`invalid_request`,
    /// `access_denied`, `unknown_user_id`, …), `detail` its description;
    /// `count` of them since this key's last record (aggregated as
    /// `limit.tripped` is, see [`super`]).
    #[serde(rename = "ciba.refused")]
    CibaRefused {
        client: String,
        site: String,
        reason: &'static str,
        detail: &'static str,
        count: u64,
    },
    /// A CIBA request ended: `approved`, `denied`, `expired` (the login itself
    /// is `login.completed` / `login.failed` with front `ciba`) or
    /// `redeemed` by the client.
    #[serde(rename = "ciba.ended")]
    CibaEnded {
        request: String,
        client: String,
        site: String,
        outcome: &'static str,
    },
    /// A person signed with another certificate than last time at a
    /// provider ([`crate::signers`]): `action` `logged` or `refused`.
    #[serde(rename = "signer.changed")]
    SignerChanged {
        txn: String,
        site: String,
        provider: String,
        /// The pairwise subject for this site.
        sub: String,
        action: &'static str,
    },
    /// An operator confirmed a refused new certificate.
    #[serde(rename = "signer.confirmed")]
    SignerConfirmed {
        /// The refused login's reference the operator confirmed.
        txn: String,
        site: String,
        provider: String,
        sub: String,
    },
    /// The writer wrote again after a failure ([`super::writer`]).
    #[serde(rename = "audit.resumed")]
    Resumed {
        /// Unix seconds of the first failed write.
        since: u64,
        /// Records that could not be written meanwhile (under
        /// `on_failure = "refuse"` their logins were refused).
        unwritten: u64,
    },
    /// The chain's head, signed and stored ([`super::checkpoint`]).
    #[serde(rename = "audit.checkpoint")]
    Checkpoint {
        /// The record the checkpoint covers.
        covers_seq: u64,
        covers_hash: String,
        /// Whether the store took it.
        stored: bool,
        /// The compact JWS (`typ` `munjigi-audit-checkpoint+jwt`).
        jws: String,
    },
}

impl Event {
    /// The event's name and its fields, as the chain writes them.
    pub fn split(&self) -> Result<(String, serde_json::Map<String, serde_json::Value>), String> {
        let serde_json::Value::Object(mut map) =
            serde_json::to_value(self).map_err(|e| e.to_string())?
        else {
            return Err("an event is not an object".into());
        };
        let Some(serde_json::Value::String(name)) = map.remove("event") else {
            return Err("an event without a name".into());
        };
        Ok((name, map))
    }
}

fn off(app: &App) -> bool {
    !app.runtime.audit.is_on()
}

/// Whether a login whose record cannot be written is refused (`on_failure`;
/// signing without `[audit]` always refuses).
pub fn refuses_logins(app: &App) -> bool {
    app.config
        .audit
        .as_ref()
        .is_none_or(|a| a.on_failure == OnFailure::Refuse)
}

/// A login's record, by `on_failure`: refused without it, or logged.
async fn login_record(app: &App, event: Event) -> Result<(), GatewayError> {
    if !refuses_logins(app) {
        app.runtime.audit.record(event);
        return Ok(());
    }
    app.runtime
        .audit
        .record_durable(event)
        .await
        .map_err(|e| GatewayError::AuditUnavailable(e.to_string()))
}

/// The provider pushed the login's request (queued, not waited for).
pub fn login_started(app: &App, txn: &LoginTxn, provider: &ProviderId, app_to_app: bool) {
    if off(app) {
        return;
    }
    app.runtime.audit.record(Event::LoginStarted {
        txn: txn.id.clone(),
        site: txn.request.site_id.clone(),
        front: txn.front.kind(),
        party: txn.front.party().to_owned(),
        provider: provider.to_string(),
        app_to_app,
    });
}

/// A login about to be answered (after its claim, before its code,
/// Response or hand-over is issued). Under `on_failure = "refuse"` the
/// login does not complete without its record (`MJ-A01`).
pub async fn login_completed(
    app: &App,
    txn: &str,
    site: &str,
    front: &'static str,
    party: &str,
    outcome: &Outcome,
    via: Via,
) -> Result<(), GatewayError> {
    if off(app) {
        return Ok(());
    }
    let sub = crate::pairwise::subject(app.config.pairwise_key.expose(), site, &outcome.person.ci)
        .map_err(GatewayError::keys)?;
    login_record(
        app,
        Event::LoginCompleted {
            txn: txn.to_owned(),
            site: site.to_owned(),
            front,
            party: party.to_owned(),
            provider: outcome.provider.to_string(),
            acr: outcome.level.acr(),
            sub,
            via,
        },
    )
    .await
}

/// [`login_completed`] for a login that a provider's result verified.
pub async fn verified_login_completed(
    app: &App,
    txn: &LoginTxn,
    outcome: &Outcome,
) -> Result<(), GatewayError> {
    let (site, front, party) = (&txn.request.site_id, txn.front.kind(), txn.front.party());
    login_completed(app, &txn.id, site, front, party, outcome, Via::Provider).await
}

/// A provider request ended without a login (`reason`: the failure table's code).
pub fn login_failed(app: &App, txn: &LoginTxn, reason: &'static str) {
    if off(app) {
        return;
    }
    app.runtime.audit.record(Event::LoginFailed {
        txn: txn.id.clone(),
        site: txn.request.site_id.clone(),
        front: txn.front.kind(),
        provider: txn
            .attempt
            .as_ref()
            .map(|a| a.provider.to_string())
            .unwrap_or_default(),
        reason,
    });
}

/// The citizen went back to the site without a login.
pub fn login_returned(app: &App, txn: &LoginTxn) {
    if off(app) {
        return;
    }
    app.runtime.audit.record(Event::LoginReturned {
        txn: txn.id.clone(),
        site: txn.request.site_id.clone(),
        front: txn.front.kind(),
        reason: Failure::of_ended(txn.state, txn.failure).map_or("cancelled", Failure::code),
    });
}

/// A signature request was accepted.
pub fn signature_requested(app: &App, r: &crate::signing::record::SignatureRecord) {
    if off(app) {
        return;
    }
    app.runtime.audit.record(Event::SignatureRequested {
        request: r.id.clone(),
        client: r.client_id.clone(),
        site: r.site_id.clone(),
        documents: r.documents.iter().map(|d| d.sha256.clone()).collect(),
    });
}

/// A signature about to release its receipt: always waited for, whatever
/// `on_failure` says (no receipt without its record).
pub async fn signature_completed(app: &App, event: Event) -> Result<(), AuditError> {
    app.runtime.audit.record_durable(event).await
}

/// A signature request ended without a receipt.
pub fn signature_failed(
    app: &App,
    r: &crate::signing::record::SignatureRecord,
    txn: &str,
    reason: &str,
) {
    if off(app) {
        return;
    }
    app.runtime.audit.record(Event::SignatureFailed {
        request: r.id.clone(),
        client: r.client_id.clone(),
        txn: txn.to_owned(),
        reason: reason.to_owned(),
    });
}

/// A configuration reload, applied (`config_sha256` of the file read) or refused.
pub fn config_reloaded(app: &App, applied: bool, why: &str) {
    if off(app) {
        return;
    }
    let config_sha256 = applied
        .then(|| std::fs::read(&app.config.source).ok())
        .flatten()
        .map(|b| super::chain::sha256_hex(&b));
    app.runtime.audit.record(Event::ConfigReloaded {
        result: if applied { "applied" } else { "refused" },
        why: why.to_owned(),
        config_sha256,
    });
}

/// A person's new signer certificate, logged or refused ([`crate::signers`]).
pub fn signer_changed(
    app: &App,
    txn: &str,
    site: &str,
    provider: &str,
    sub: &str,
    action: &'static str,
) {
    if off(app) {
        return;
    }
    app.runtime.audit.record(Event::SignerChanged {
        txn: txn.to_owned(),
        site: site.to_owned(),
        provider: provider.to_owned(),
        sub: sub.to_owned(),
        action,
    });
}

/// An operator confirmed a person's new signer certificate.
pub fn signer_confirmed(app: &App, txn: &str, site: &str, provider: &str, sub: &str) {
    if off(app) {
        return;
    }
    app.runtime.audit.record(Event::SignerConfirmed {
        txn: txn.to_owned(),
        site: site.to_owned(),
        provider: provider.to_owned(),
        sub: sub.to_owned(),
    });
}

/// A device authorization was issued (queued, not waited for).
pub fn device_requested(app: &App, r: &crate::oidc::device::DeviceRecord) {
    if off(app) {
        return;
    }
    app.runtime.audit.record(Event::DeviceRequested {
        device: r.id.clone(),
        client: r.client_id.clone(),
        site: r.site_id.clone(),
        acr: r.required_level.acr(),
    });
}

/// A device authorization ended (`outcome`: approved, denied, redeemed, expired).
pub fn device_ended(app: &App, r: &crate::oidc::device::DeviceRecord, outcome: &'static str) {
    if off(app) {
        return;
    }
    app.runtime.audit.record(Event::DeviceEnded {
        device: r.id.clone(),
        client: r.client_id.clone(),
        site: r.site_id.clone(),
        outcome,
    });
}

/// A CIBA request is about to push: written and synced first where logins
/// refuse without their record (`on_failure = "refuse"`), so no citizen is
/// pushed on a site's word without a trace of it.
pub async fn ciba_requested(app: &App, event: Event) -> Result<(), GatewayError> {
    if off(app) {
        return Ok(());
    }
    login_record(app, event).await
}

/// An authenticated client's CIBA request refused (aggregated: see
/// [`super::Audit::ciba_refused`]).
pub fn ciba_refused(
    app: &App,
    client: &str,
    site: &str,
    reason: &'static str,
    detail: &'static str,
) {
    app.runtime.audit.ciba_refused(client, site, reason, detail);
}

/// A CIBA request ended (`outcome`: approved, denied, expired, redeemed).
pub fn ciba_ended(app: &App, r: &crate::oidc::ciba::CibaRecord, outcome: &'static str) {
    if off(app) {
        return;
    }
    app.runtime.audit.record(Event::CibaEnded {
        request: r.id.clone(),
        client: r.client_id.clone(),
        site: r.site_id.clone(),
        outcome,
    });
}

/// An abuse limit refused a request (aggregated: see [`super::Audit::limit_tripped`]).
pub fn limit_tripped(app: &App, kind: &'static str, site: &str) {
    app.runtime.audit.limit_tripped(kind, site);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_into_a_name_and_fields_without_reserved_names() {
        let e = Event::LimitTripped {
            kind: "person",
            site: "town".into(),
            count: 3,
        };
        let (name, fields) = e.split().unwrap();
        assert_eq!(name, "limit.tripped");
        assert_eq!(fields["kind"], "person");
        assert_eq!(fields["count"], 3);
        assert!(!fields.contains_key("event"));
        for k in super::super::chain::RESERVED {
            assert!(!fields.contains_key(k));
        }
    }
}
