//! Document signing through the same integration as login: a site asks over
//! its API ([`api`]), the citizen approves in their provider's app through the
//! chooser, a review of the documents and the waiting page, and the site gets
//! a receipt ([`receipt`]) it can verify years later.
//!
//! The citizen's part is a login whose front is [`SigningSpec`]
//! ([`crate::login::Front::Signing`]): the same chooser (limited to providers
//! that can sign this many documents), the same coalesced polls and
//! verify-once claim. Only the ends differ: [`start`] begins it from
//! `/sign/{id}`, and [`finish`] turns a verified result into a receipt — after
//! the audit log has the event (fail-closed) — instead of an authorization code.
//!
//! A request ends once, like a login: [`finish`] and [`declined`] (called by
//! [`crate::login::ends`]) claim the login transaction (GETDEL,
//! [`crate::txn::TxnRepo::claim`]), and only the claimer writes the audit
//! event, the receipt and the webhook. A twin
//! request (a double click, a second tab, another replica) that loses the
//! claim waits briefly for the winner to end it and goes back to the site
//! like the winner, instead of writing a second event or failing on the
//! record's compare-and-swap.

pub mod api;
pub mod receipt;
pub mod record;
pub mod webhook;

use crate::app::App;
use crate::login::{Front, LoginRequest};
use crate::rescue::{Ctx, GatewayError};
use crate::txn::{LoginTxn, Outcome, PolicySnapshot, StoredCitizen};
use crate::web::params::append_query;
use crate::web::{respond, Response};
use record::{SignatureRecord, Status};
use serde::Serialize;
use subtle::ConstantTimeEq;

/// How long a request that lost the claim waits for the winner to end the
/// signature request before it sends the citizen back anyway.
const TWIN_WAIT: std::time::Duration = std::time::Duration::from_secs(3);
const TWIN_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// The signing end of a login: what the citizen is asked to sign, for which
/// signature request.
#[derive(Debug, Clone, serde::Deserialize, Serialize)]
pub struct SigningSpec {
    /// The signature request this login serves.
    pub request_id: String,
    /// The site's client that asked (for log lines).
    pub client_id: String,
    pub title: String,
    pub documents: Vec<munjigi_providers::signing::Document>,
    /// The person the site named as signer, to prefill the identity form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<StoredCitizen>,
}

impl SigningSpec {
    pub fn ask(&self, ttl_secs: u32) -> munjigi_providers::signing::SignRequest {
        munjigi_providers::signing::SignRequest {
            title: self.title.clone(),
            documents: self.documents.clone(),
            ttl_secs,
        }
    }
}

fn retention(app: &App) -> std::time::Duration {
    app.config
        .signing
        .as_ref()
        .map_or(std::time::Duration::from_secs(30 * 86_400), |s| s.retention)
}

fn digest_bytes(hex_digest: &str) -> Result<[u8; 32], GatewayError> {
    hex::decode(hex_digest)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| GatewayError::corrupt("stored digest is not SHA-256"))
}

/// `GET /sign/{id}`: the citizen arrives from the site.
pub async fn start(
    app: &App,
    req: http::Request<hyper::body::Incoming>,
    id: &str,
    ctx: &mut Ctx,
) -> Result<Response, GatewayError> {
    for _ in 0..3 {
        let Some((mut r, raw)) = record::load(app.store.as_ref(), id).await? else {
            return Err(GatewayError::NotFound);
        };
        expire_if_due(app, &mut r, &raw).await?;
        if r.status != Status::Pending || app.clock.now() >= r.expires_at {
            return Err(GatewayError::LoginGone);
        }
        if let Some(txn) = &r.txn {
            // Begun already: only the browser that began it gets on.
            return Ok(respond::redirect(&format!("/login/{txn}")));
        }
        let site = app
            .config
            .sites
            .get(&r.site_id)
            .ok_or_else(|| GatewayError::config("signature request of a removed site"))?;
        let documents = r
            .documents
            .iter()
            .map(|d| {
                Ok(munjigi_providers::signing::Document {
                    title: d.title.clone(),
                    sha256: digest_bytes(&d.sha256)?,
                })
            })
            .collect::<Result<Vec<_>, GatewayError>>()?;
        let spec = SigningSpec {
            request_id: r.id.clone(),
            client_id: r.client_id.clone(),
            title: r.title.clone(),
            documents,
            signer: r.signer.as_ref().and_then(|s| s.citizen.clone()),
        };
        let request = LoginRequest {
            site_id: r.site_id.clone(),
            scope: "openid profile".into(),
            required_level: site.policy.min_level,
            max_age: None,
            login_hint: None,
        };
        let policy = PolicySnapshot::from_policy(&site.policy);
        let (resp, txn_id) = crate::login::begin(
            app,
            req.headers(),
            Front::Signing(spec),
            request,
            policy,
            ctx,
        )
        .await?;
        r.txn = Some(txn_id.clone());
        if record::save(app.store.as_ref(), &raw, &r, retention(app)).await? {
            return Ok(resp);
        }
        // Another browser began it at the same moment: it keeps the request.
        app.txns.delete(&txn_id).await?;
        ctx.txn = None;
    }
    // Three lost swaps in a row on one request: not a race a citizen can
    // retry from a login page (the logins begun here are gone).
    Err(GatewayError::invariant(
        "signature request changed concurrently three times",
    ))
}

/// A pending request past its expiry, noticed when the site reads it or the
/// citizen opens it: ends it as failed `expired` (once, by compare-and-swap)
/// so the site's webhook hears of it. Expiry is noticed lazily: a request
/// nobody touches ends in the store only when someone next looks.
pub async fn expire_if_due(
    app: &App,
    r: &mut SignatureRecord,
    raw: &[u8],
) -> Result<(), GatewayError> {
    if r.status != Status::Pending || app.clock.now() < r.expires_at {
        return Ok(());
    }
    let mut ended = r.clone();
    ended.status = Status::Failed;
    ended.failure = Some("expired".into());
    if record::save(app.store.as_ref(), raw, &ended, retention(app)).await? {
        tracing::info!(request = %ended.id, "signature request expired");
        webhook::notify(app, &ended);
        *r = ended;
    }
    Ok(())
}

fn back_to_site(r: &SignatureRecord) -> String {
    let mut pairs = vec![("id", r.id.as_str())];
    if let Some(s) = &r.state {
        pairs.push(("state", s));
    }
    append_query(&r.redirect_uri, &pairs)
}

/// Another request of this citizen claimed the transaction and is ending the
/// signature request right now: wait (briefly) until it has, then send this
/// browser back to the site as the winner does. The site reads the outcome
/// from the API or its webhook either way.
async fn after_twin(
    app: &App,
    spec: &SigningSpec,
    txn: &LoginTxn,
) -> Result<Response, GatewayError> {
    let deadline = tokio::time::Instant::now() + TWIN_WAIT;
    loop {
        let Some((r, _)) = record::load(app.store.as_ref(), &spec.request_id).await? else {
            return Err(GatewayError::LoginGone);
        };
        if r.status != Status::Pending || tokio::time::Instant::now() + TWIN_POLL > deadline {
            tracing::info!(request = %r.id, txn = %txn.id, "signature request ended by a twin request");
            return Ok(respond::redirect(&back_to_site(&r)));
        }
        tokio::time::sleep(TWIN_POLL).await;
    }
}

/// Ends the request as failed (if still pending) and sends the citizen back.
/// Only for the request that claimed the transaction.
async fn fail(
    app: &App,
    txn: &LoginTxn,
    spec: &SigningSpec,
    reason: &str,
) -> Result<Response, GatewayError> {
    for _ in 0..3 {
        let Some((mut r, raw)) = record::load(app.store.as_ref(), &spec.request_id).await? else {
            return Err(GatewayError::LoginGone);
        };
        if r.status == Status::Pending {
            r.status = Status::Failed;
            r.failure = Some(reason.to_owned());
            if !record::save(app.store.as_ref(), &raw, &r, retention(app)).await? {
                continue;
            }
            tracing::info!(request = %r.id, txn = %txn.id, reason, "signature request failed");
            crate::audit::signature_failed(app, &r, &txn.id, reason);
            app.runtime
                .metrics
                .login(&r.site_id, txn.front.kind(), crate::metrics::Left::returned);
            webhook::notify(app, &r);
        }
        return Ok(respond::redirect(&back_to_site(&r)));
    }
    // The transaction is claimed already: nothing for the citizen to retry.
    Err(GatewayError::invariant(
        "signature request changed concurrently three times while failing it",
    ))
}

/// The citizen goes back to the site without a receipt. The site learns
/// `cancelled`, or, when the last try failed (a provider result that did not
/// verify, a provider error), that try's reason (`bad_signature`, …): until
/// then the request stays pending so the citizen can retry or pick another
/// provider, as in a login. Claims the transaction first: a twin that is
/// finishing (or declining) it at the same moment ends it instead.
pub async fn declined(
    app: &App,
    txn: &LoginTxn,
    spec: &SigningSpec,
) -> Result<Response, GatewayError> {
    if !app.txns.claim(&txn.id).await? {
        return after_twin(app, spec, txn).await;
    }
    let reason = match (txn.state, txn.failure) {
        (crate::txn::State::Failed, Some(f)) => f.looks().api,
        _ => "cancelled",
    };
    fail(app, txn, spec, reason).await
}

/// A verified signing result: check the binding, seal the receipt, write the
/// audit event, then release the receipt and send the citizen back.
///
/// The signature request is read before the transaction is claimed: if it
/// is missing for a moment (a store failing over), the verified transaction
/// stays for the next try instead of being claimed by nobody.
pub async fn finish(
    app: &App,
    txn: &LoginTxn,
    spec: &SigningSpec,
    outcome: &Outcome,
) -> Result<Response, GatewayError> {
    let Some((mut r, raw)) = record::load(app.store.as_ref(), &spec.request_id).await? else {
        return Err(GatewayError::LoginGone);
    };
    if r.status != Status::Pending {
        // Finished already (by this browser a moment ago, or failed): never twice.
        app.txns.delete(&txn.id).await?;
        return Ok(respond::redirect(&back_to_site(&r)));
    }
    // One request, one completion: only the request that removes the
    // transaction (on whichever replica) goes on to the audit event, the
    // receipt and the webhook; a racing twin finds it gone.
    if !app.txns.claim(&txn.id).await? {
        return after_twin(app, spec, txn).await;
    }
    if app.clock.now() >= r.expires_at {
        return fail(app, txn, spec, "expired").await;
    }
    let sub = crate::pairwise::subject(
        app.config.pairwise_key.expose(),
        &r.site_id,
        &outcome.person.ci,
    )
    .map_err(GatewayError::keys)?;
    let sub_differs = r
        .signer
        .as_ref()
        .and_then(|s| s.sub.as_deref())
        .is_some_and(|want| {
            want.len() != sub.len() || !bool::from(want.as_bytes().ct_eq(sub.as_bytes()))
        });
    let person_differs = r
        .signer
        .as_ref()
        .and_then(|s| s.citizen.as_ref())
        .is_some_and(|want| !outcome.person.person().is(&want.citizen()));
    if sub_differs || person_differs {
        tracing::warn!(request = %r.id, txn = %txn.id, code = "MJ-G02", "the signer is not the citizen the site named");
        return fail(app, txn, spec, "wrong_signer").await;
    }
    let receipt = receipt::seal(app, &r, outcome, &sub)?;
    let event = crate::audit::Event::SignatureCompleted {
        ts: app.clock.now(),
        request: r.id.clone(),
        client: r.client_id.clone(),
        txn: txn.id.clone(),
        provider: outcome.provider.to_string(),
        sub: sub.clone(),
        acr: outcome.level.acr(),
        documents: r.documents.iter().map(|d| d.sha256.clone()).collect(),
        receipt_sha256: hex::encode(openssl::sha::sha256(receipt.as_bytes())),
    };
    if let Err(e) = crate::audit::events::signature_completed(app, event).await {
        tracing::error!(code = "MJ-G01", request = %r.id, txn = %txn.id, error = %e, "audit log unwritable: signature refused, no receipt released");
        return fail(app, txn, spec, "audit_unavailable").await;
    }
    r.status = Status::Completed;
    r.receipt = Some(receipt);
    if !record::save(app.store.as_ref(), &raw, &r, retention(app)).await? {
        // Claimed and audited, but the receipt was not kept: an operator
        // must look (the audit log has the event); nothing to retry.
        return Err(GatewayError::invariant(
            "signature request changed after its completion was audited",
        ));
    }
    webhook::notify(app, &r);
    app.runtime.metrics.login(
        &r.site_id,
        txn.front.kind(),
        crate::metrics::Left::completed,
    );
    tracing::info!(request = %r.id, txn = %txn.id, provider = %outcome.provider, documents = r.documents.len(), "document signing completed; receipt released");
    Ok(respond::redirect(&back_to_site(&r)))
}
