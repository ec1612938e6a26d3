//! Which certificate a person last signed with at each provider, so that a
//! provider (or a broker, or whoever defeats the TLS to it) cannot quietly
//! have someone else's certificate stand for a person.
//!
//! A provider's answer names the person (CI, birth date, phone) over its API
//! channel; only the name is bound to the signer certificate. A compromised
//! provider could pair a victim's CI with an accomplice's certificate whose
//! name matches, and the victim's pairwise `sub` would follow at every site
//! that allows the provider. Certificates are renewed and re-issued, so a new
//! one cannot simply be refused; it can be noticed. For every verified result
//! the store keeps `signer:<provider>:<keyed digest of the CI>` → a digest of
//! the certificate (issuer and serial), for `[signers] remember_days`. The
//! first time nothing is compared; a different certificate later is a
//! *change*: logged (provider, site, txn; never the CI or the `sub`), counted
//! (`munjigi_signer_changes_total`), recorded in the audit log
//! (`signer.changed`, with the site's `sub`) and, where
//! `on_change = "refuse"`, the login fails with `MJ-P15`.
//!
//! A refused change waits a week under its own login's reference
//! (`signer-new:<txn>`, the reference on the citizen's page), with the
//! certificate it would replace. An operator confirms it by that reference
//! and the account's site and `sub` (`POST /admin/signer-changes`, with the
//! admin token, after the site's help desk has checked the person): only if
//! the remembered certificate is still the one it was compared with (a
//! compare-and-swap), so a compromised provider's own refused attempts, each
//! under another reference, cannot be confirmed in the person's place, and a
//! confirmation never undoes a later one.
//!
//! Digests, not values: the store holds no CI and no certificate detail, and
//! the CI digest is keyed with the deployment's pairwise key (domain
//! separated), so a store dump cannot be matched against a list of CIs.
//!
//! Not here: the signature, chain and name checks (`munjigi_providers`), and
//! anything shared between two providers: each provider vouches for its own
//! certificates, a person has one per provider.

use crate::app::App;
use crate::config::model::OnSignerChange;
use crate::rescue::GatewayError;
use crate::store::keys::Family;
use base64::Engine as _;
use munjigi_providers::{Ci, Evidence, ProviderId};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long a refused change waits for an operator.
const PENDING_FOR: Duration = Duration::from_secs(7 * 86_400);

/// What a verified result's certificate is, compared with the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// No certificate was remembered for this person at this provider.
    First,
    /// The same certificate as last time.
    Same,
    /// Another certificate, allowed and logged (`on_change = "log"`).
    Changed,
    /// Another certificate, refused until confirmed.
    Refused,
}

/// A refused change, waiting for an operator.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    /// The memory key the change goes to once confirmed.
    memory: String,
    /// The certificate remembered when the change was refused.
    previous: String,
    /// The new certificate's digest.
    cert: String,
    site: String,
    /// The site's pairwise subject of the person.
    sub: String,
    provider: String,
}

/// A digest naming the certificate of `evidence` (issuer and serial).
fn cert_digest(evidence: &Evidence) -> String {
    match evidence {
        Evidence::Cms(c) => {
            let mut h = openssl::sha::Sha256::new();
            h.update(b"munjigi-cert-v1\0");
            h.update(c.signer_issuer.as_bytes());
            h.update(b"\0");
            h.update(c.signer_serial.to_ascii_uppercase().as_bytes());
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(h.finish())
        }
        // A wallet's key: a new phone, or the wallet installed again.
        Evidence::Presentation(p) => {
            let mut h = openssl::sha::Sha256::new();
            h.update(b"munjigi-holder-v1\0");
            h.update(p.holder.as_bytes());
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(h.finish())
        }
    }
}

/// The memory key of a person at a provider.
fn memory_key(key: &[u8], provider: &ProviderId, ci: &Ci) -> String {
    let mac = munjigi_providers::hmac::sha256(
        key,
        &[
            b"munjigi-signer-v1",
            b"\0",
            provider.as_str().as_bytes(),
            b"\0",
            ci.expose().as_bytes(),
        ],
    );
    Family::SignerMemory.key(&format!(
        "{provider}:{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac)
    ))
}

/// The key a refused change waits under: its login's reference.
fn pending_key(txn: &str) -> String {
    Family::SignerChange.key(txn)
}

/// Compares the certificate of a verified result with the one last seen for
/// this person at `provider`, remembers it unless the change is refused, and
/// says which it was. `site` is the site the login is for.
pub async fn check(
    app: &App,
    provider: &ProviderId,
    site: &str,
    txn: &str,
    ci: &Ci,
    evidence: &Evidence,
) -> Result<Seen, GatewayError> {
    let settings = &app.config.signers;
    let key = memory_key(app.config.pairwise_key.expose(), provider, ci);
    let cert = cert_digest(evidence);
    let remember = settings.remember;
    let last = app.store.get(&key).await?;
    let seen = match &last {
        None => Seen::First,
        Some(last) if last.as_slice() == cert.as_bytes() => Seen::Same,
        Some(_) => match settings.on_change(provider.as_str()) {
            OnSignerChange::Log => Seen::Changed,
            OnSignerChange::Refuse => Seen::Refused,
        },
    };
    if seen != Seen::Refused {
        // Kept fresh on every use: a person who logs in yearly stays known.
        app.store.put(&key, cert.into_bytes(), remember).await?;
        if seen == Seen::Changed {
            changed(app, provider, site, txn, ci, "logged");
        }
        return Ok(seen);
    }
    let pending = Pending {
        memory: key,
        previous: String::from_utf8_lossy(last.as_deref().unwrap_or_default()).into_owned(),
        cert,
        site: site.to_owned(),
        sub: sub_of(app, site, ci)?,
        provider: provider.as_str().to_owned(),
    };
    let pending = serde_json::to_vec(&pending)
        .map_err(|_| GatewayError::invariant("a pending signer change did not serialise"))?;
    app.store
        .put(&pending_key(txn), pending, PENDING_FOR)
        .await?;
    changed(app, provider, site, txn, ci, "refused");
    Ok(seen)
}

fn sub_of(app: &App, site: &str, ci: &Ci) -> Result<String, GatewayError> {
    crate::pairwise::subject(app.config.pairwise_key.expose(), site, ci).map_err(GatewayError::keys)
}

/// The operator's line, counter and audit record for a change (the audit
/// record has the site's `sub`, so the help desk and the operator talk about
/// the same account; the log line only the login's reference).
fn changed(app: &App, provider: &ProviderId, site: &str, txn: &str, ci: &Ci, action: &'static str) {
    app.runtime.metrics.signer_changed(provider, action);
    let sub = sub_of(app, site, ci).unwrap_or_default();
    crate::audit::signer_changed(app, txn, site, provider.as_str(), &sub, action);
    tracing::warn!(
        provider = %provider,
        site,
        txn,
        action,
        "a person signed with another certificate than last time at this provider"
    );
}

/// What an operator's confirmation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmed {
    /// The waiting certificate is now the one remembered.
    Done,
    /// Nothing waits under that reference for that site and `sub` (never
    /// refused, confirmed already, more than a week ago, or another
    /// account's).
    NothingPending,
    /// The remembered certificate changed since this change was refused
    /// (another confirmation, or a renewal logged): the person logs in again.
    Superseded,
}

/// Confirms the change refused in the login `txn` for the person `sub` at
/// `site`: the new certificate becomes the remembered one, so the person's
/// next login with it passes.
pub async fn confirm(
    app: &App,
    txn: &str,
    site: &str,
    sub: &str,
) -> Result<Confirmed, GatewayError> {
    let key = pending_key(txn);
    let Some(raw) = app.store.get(&key).await? else {
        return Ok(Confirmed::NothingPending);
    };
    let pending: Pending = serde_json::from_slice(&raw)
        .map_err(|_| GatewayError::corrupt("a pending signer change is unreadable"))?;
    let same_account = pending.site == site
        && pending.sub.len() == sub.len()
        && bool::from(subtle::ConstantTimeEq::ct_eq(
            pending.sub.as_bytes(),
            sub.as_bytes(),
        ));
    if !same_account {
        return Ok(Confirmed::NothingPending);
    }
    let swapped = app
        .store
        .swap(
            &pending.memory,
            pending.previous.as_bytes(),
            pending.cert.into_bytes(),
            app.config.signers.remember,
        )
        .await?;
    app.store.delete(&key).await?;
    if !swapped {
        return Ok(Confirmed::Superseded);
    }
    tracing::warn!(
        provider = %pending.provider,
        site,
        txn,
        "an operator confirmed a person's new signer certificate"
    );
    crate::audit::signer_confirmed(app, txn, site, &pending.provider, sub);
    Ok(Confirmed::Done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use munjigi_providers::assertion::CmsEvidence;
    use munjigi_providers::SignerCn;

    fn cms(issuer: &str, serial: &str) -> Evidence {
        Evidence::Cms(CmsEvidence {
            signed_data: vec![],
            signing_time: 1,
            signer_issuer: issuer.into(),
            signer_serial: serial.into(),
            signer_cn: SignerCn::Exact,
        })
    }

    fn ci(c: char) -> Ci {
        Ci::parse(&base64::engine::general_purpose::STANDARD.encode([c as u8; 64])).unwrap()
    }

    #[test]
    fn digests_name_the_certificate_and_the_person_without_showing_them() {
        assert_eq!(
            cert_digest(&cms("CN=A", "0a")),
            cert_digest(&cms("CN=A", "0A"))
        );
        assert_ne!(
            cert_digest(&cms("CN=A", "01")),
            cert_digest(&cms("CN=A", "02"))
        );
        assert_ne!(
            cert_digest(&cms("CN=A", "01")),
            cert_digest(&cms("CN=B", "01"))
        );
        // The separator keeps issuer and serial apart.
        assert_ne!(
            cert_digest(&cms("CN=A1", "2")),
            cert_digest(&cms("CN=A", "12"))
        );
        let kakao = ProviderId::new("kakao");
        let naver = ProviderId::new("naver");
        let k = memory_key(&[1; 32], &kakao, &ci('A'));
        assert!(k.starts_with("signer:kakao:"), "{k}");
        assert!(!k.contains(ci('A').expose()));
        assert_ne!(k, memory_key(&[2; 32], &kakao, &ci('A')));
        assert_ne!(k, memory_key(&[1; 32], &naver, &ci('A')));
        assert_ne!(k, memory_key(&[1; 32], &kakao, &ci('B')));
    }
}
