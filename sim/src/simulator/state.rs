//! The simulated broker's memory: session tokens and receipts, and the rule that
//! turns a receipt's timestamps into its state.
//!
//! Nothing runs in the background: a receipt's phase is a pure function of when it
//! was requested, its scenario, `approve_after_ms` and now. Old entries are pruned
//! when new ones are added, once past both their expiry (plus an hour) and the
//! product's verify deadline.
//!
//! Not here: HTTP, cryptography, or who the people are.

use std::collections::HashMap;

use super::people::Subject;
use super::Scenario;
use munjigi_providers::barocert::{ApiKind, BarocertProduct, TokenType};

/// How long a receipt is kept after it expired (for late status/verify calls).
const KEEP_AFTER_EXPIRY_MS: u64 = 3600 * 1000;

#[derive(Default)]
pub(crate) struct State {
    pub tokens: HashMap<String, TokenInfo>,
    pub receipts: HashMap<String, Receipt>,
    /// The last genuine result delivered to a [`Scenario::ReplayedResult`]
    /// person, per product, API and phone: what the next verify replays.
    pub replays: HashMap<(BarocertProduct, ApiKind, String), Signed>,
}

pub(crate) struct TokenInfo {
    pub link_id: String,
    pub scopes: Vec<String>,
    pub expires_at_ms: u64,
}

/// A signed result, made once when the simulated citizen's approval is first
/// observed (so signingTime is close to completion, as in the real app): one
/// CMS per token, in request order (one for identity and `Sign`).
#[derive(Clone)]
pub(crate) struct Signed {
    pub elements: Vec<Vec<u8>>,
}

/// One thing the app signs: the identity token (or Naver's receiptID) as text,
/// or a document's token (text, or the 32 digest bytes of a `HASH`).
#[derive(Clone)]
pub(crate) struct SimToken {
    pub token_type: TokenType,
    pub content: Vec<u8>,
}

pub(crate) struct Receipt {
    pub product: BarocertProduct,
    /// Identity, Sign or MultiSign: the paths its status and verify take.
    pub kind: ApiKind,
    pub client_code: String,
    pub scenario: Scenario,
    /// Who was asked (PASS's verify body must repeat their phone and name).
    pub asked: Subject,
    /// Who the result will name (differs from the asked person for `WrongPerson`).
    pub result_subject: Subject,
    /// What the app signs, in order: the decrypted token(s), or for a Naver
    /// identity request (no token) the receiptID.
    pub tokens: Vec<SimToken>,
    /// Whether the result carries the receiver's personal data (PASS's
    /// `receiverInfoYN`; always for the others).
    pub receiver_info: bool,
    pub title: String,
    pub expire_in: u32,
    pub requested_at_ms: u64,
    pub return_url: Option<String>,
    pub app_use: bool,
    /// When the citizen approved in the app its scheme opened (app-to-app
    /// receipts only: nothing is pushed, so nothing happens before).
    pub app_acted_at_ms: Option<u64>,
    pub scheme: Option<String>,
    pub signed: Option<Signed>,
    pub verified_at_ms: Option<u64>,
}

/// A receipt's state at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Waiting {
        viewed_at_ms: Option<u64>,
    },
    Completed {
        viewed_at_ms: u64,
        at_ms: u64,
    },
    Rejected {
        viewed_at_ms: u64,
        at_ms: u64,
    },
    Expired {
        viewed_at_ms: Option<u64>,
        at_ms: u64,
    },
}

impl Phase {
    /// barocert's `state`: 0 waiting, 1 completed, 2 expired, 3 rejected; PASS
    /// reports a request nobody has opened yet as 5 (unprocessed).
    pub fn state_code(self, product: BarocertProduct) -> i64 {
        match self {
            Phase::Waiting { viewed_at_ms: None } if product == BarocertProduct::Pass => 5,
            Phase::Waiting { .. } => 0,
            Phase::Completed { .. } => 1,
            Phase::Expired { .. } => 2,
            Phase::Rejected { .. } => 3,
        }
    }

    pub fn viewed_at_ms(self) -> Option<u64> {
        match self {
            Phase::Waiting { viewed_at_ms } | Phase::Expired { viewed_at_ms, .. } => viewed_at_ms,
            Phase::Completed { viewed_at_ms, .. } | Phase::Rejected { viewed_at_ms, .. } => {
                Some(viewed_at_ms)
            }
        }
    }
}

impl Receipt {
    pub fn expires_at_ms(&self) -> u64 {
        self.requested_at_ms
            .saturating_add(u64::from(self.expire_in).saturating_mul(1000))
    }

    /// Until when the receipt is kept: an hour past expiry, or longer if the
    /// product lets its result be fetched later (PASS: the end of the day).
    pub fn keep_until_ms(&self) -> u64 {
        let expires = self.expires_at_ms();
        let deadline = self
            .product
            .verify_deadline()
            .refused_from_ms(self.requested_at_ms, expires, expires)
            .unwrap_or(0);
        expires.saturating_add(KEEP_AFTER_EXPIRY_MS).max(deadline)
    }

    /// Moves the receipt `by_ms` into the past (the simulator's time hook).
    pub fn age(&mut self, by_ms: u64) {
        self.requested_at_ms = self.requested_at_ms.saturating_sub(by_ms);
        if let Some(a) = self.app_acted_at_ms.as_mut() {
            *a = a.saturating_sub(by_ms);
        }
        if let Some(v) = self.verified_at_ms.as_mut() {
            *v = v.saturating_sub(by_ms);
        }
    }

    /// The state at `now_ms`. Expiry is exactly at `expireIn`; the citizen acts
    /// `approve_after_ms` after the request (opening it halfway there), unless
    /// that is at or after expiry.
    ///
    /// An app-to-app receipt is pushed to nobody: it waits unseen until its
    /// scheme opens the app, and the citizen acts when they approve there.
    pub fn phase(&self, now_ms: u64, approve_after_ms: u64) -> Phase {
        let app = self.app_use.then_some(self.app_acted_at_ms);
        app_phase_at(
            self.scenario,
            self.requested_at_ms,
            app,
            self.expires_at_ms(),
            now_ms,
            approve_after_ms,
        )
    }
}

/// The state at `now_ms` of a request made at `requested_at_ms` that expires at
/// `expire_at` (the rule of [`Receipt::phase`], shared by every simulated family).
pub(crate) fn phase_at(
    scenario: Scenario,
    requested_at_ms: u64,
    expire_at: u64,
    now_ms: u64,
    approve_after_ms: u64,
) -> Phase {
    let act_at = requested_at_ms.saturating_add(approve_after_ms);
    let view_at = requested_at_ms.saturating_add(approve_after_ms / 2);
    let opens = !matches!(scenario, Scenario::Never);
    let viewed = (opens && now_ms >= view_at && view_at < expire_at).then_some(view_at);
    let acts = act_at < expire_at && now_ms >= act_at;
    match scenario {
        Scenario::Never | Scenario::Viewed | Scenario::Unknown | Scenario::Dormant => {}
        Scenario::Reject if acts => {
            return Phase::Rejected {
                viewed_at_ms: view_at,
                at_ms: act_at,
            }
        }
        Scenario::Reject => {}
        Scenario::Approve
        | Scenario::TamperContent
        | Scenario::WrongPerson
        | Scenario::BadSignature
        | Scenario::WrongChain
        | Scenario::Flaky
        | Scenario::Revoked
        | Scenario::ExpiredCert
        | Scenario::SigningTimeOutside
        | Scenario::Maintenance
        | Scenario::ServerError
        | Scenario::Slow
        | Scenario::SlowResult
        | Scenario::Hung
        | Scenario::Garbage
        | Scenario::Gzip
        | Scenario::Truncated
        | Scenario::Huge
        | Scenario::WrongTypes
        | Scenario::MultiOneBad
        | Scenario::ReplayedResult
        | Scenario::Renewed
        | Scenario::DuplicateKeys
        | Scenario::InvisibleName
        | Scenario::NumberField
        | Scenario::SwappedField
        | Scenario::ReplayedField
            if acts =>
        {
            return Phase::Completed {
                viewed_at_ms: view_at,
                at_ms: act_at,
            }
        }
        _ => {}
    }
    if now_ms >= expire_at {
        Phase::Expired {
            viewed_at_ms: viewed,
            at_ms: expire_at,
        }
    } else {
        Phase::Waiting {
            viewed_at_ms: viewed,
        }
    }
}

/// [`phase_at`] for a request that may be app-to-app: `app` is `None` for
/// a push, else when the citizen approved in the app its link opened
/// (`Some(None)`: not yet, and until then nobody has seen it).
pub(crate) fn app_phase_at(
    scenario: Scenario,
    requested_at_ms: u64,
    app: Option<Option<u64>>,
    expire_at: u64,
    now_ms: u64,
    approve_after_ms: u64,
) -> Phase {
    let requested = match app {
        None => requested_at_ms,
        // The citizen acts in the app at once: as if asked that long before.
        Some(Some(acted)) => acted.saturating_sub(approve_after_ms),
        Some(None) if now_ms >= expire_at => {
            return Phase::Expired {
                viewed_at_ms: None,
                at_ms: expire_at,
            }
        }
        Some(None) => return Phase::Waiting { viewed_at_ms: None },
    };
    phase_at(scenario, requested, expire_at, now_ms, approve_after_ms)
}

impl State {
    /// Drops expired tokens and receipts long past their expiry.
    pub fn prune(&mut self, now_ms: u64) {
        self.tokens.retain(|_, t| t.expires_at_ms > now_ms);
        self.receipts.retain(|_, r| r.keep_until_ms() > now_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use munjigi_providers::person::{BirthDate, Gender, Name, Phone};

    fn receipt(scenario: Scenario) -> Receipt {
        let who = Subject {
            name: Name::parse("홍길동").unwrap(),
            birthdate: BirthDate::parse("19900131").unwrap(),
            phone: Phone::parse("01012345678").unwrap(),
            gender: Gender::Male,
        };
        Receipt {
            product: BarocertProduct::Kakao,
            kind: ApiKind::Identity,
            client_code: "023040000001".into(),
            scenario,
            asked: who.clone(),
            result_subject: who,
            tokens: vec![SimToken {
                token_type: TokenType::Text,
                content: b"n".to_vec(),
            }],
            receiver_info: true,
            title: "t".into(),
            expire_in: 10,
            requested_at_ms: 1_000_000,
            return_url: None,
            app_use: false,
            app_acted_at_ms: None,
            scheme: None,
            signed: None,
            verified_at_ms: None,
        }
    }

    #[test]
    fn phases_follow_timestamps() {
        let t0 = 1_000_000;
        let r = receipt(Scenario::Approve);
        assert_eq!(r.phase(t0, 2000), Phase::Waiting { viewed_at_ms: None });
        assert_eq!(
            r.phase(t0 + 1000, 2000),
            Phase::Waiting {
                viewed_at_ms: Some(t0 + 1000)
            }
        );
        assert_eq!(
            r.phase(t0 + 2000, 2000).state_code(BarocertProduct::Kakao),
            1
        );
        assert_eq!(
            r.phase(t0 + 99_000, 2000)
                .state_code(BarocertProduct::Kakao),
            1
        );

        let r = receipt(Scenario::Reject);
        assert_eq!(
            r.phase(t0 + 2000, 2000).state_code(BarocertProduct::Kakao),
            3
        );

        // Expiry exactly at expireIn.
        for s in [Scenario::Never, Scenario::Viewed] {
            let r = receipt(s);
            assert_eq!(
                r.phase(t0 + 9_999, 2000).state_code(BarocertProduct::Kakao),
                0
            );
            assert_eq!(
                r.phase(t0 + 10_000, 2000)
                    .state_code(BarocertProduct::Kakao),
                2
            );
        }
        assert_eq!(
            receipt(Scenario::Never)
                .phase(t0 + 5000, 2000)
                .viewed_at_ms(),
            None
        );
        assert_eq!(
            receipt(Scenario::Viewed)
                .phase(t0 + 5000, 2000)
                .viewed_at_ms(),
            Some(t0 + 1000)
        );

        // Approval scheduled at or after expiry never happens.
        let r = receipt(Scenario::Approve);
        assert_eq!(
            r.phase(t0 + 10_000, 10_000)
                .state_code(BarocertProduct::Kakao),
            2
        );

        // PASS: unopened is 5 (unprocessed), opened but unfinished is 0.
        let r = receipt(Scenario::Viewed);
        assert_eq!(r.phase(t0, 2000).state_code(BarocertProduct::Pass), 5);
        assert_eq!(
            r.phase(t0 + 1000, 2000).state_code(BarocertProduct::Pass),
            0
        );
    }

    #[test]
    fn pass_receipts_are_kept_until_the_end_of_their_day() {
        let mut r = receipt(Scenario::Approve);
        r.requested_at_ms = 1_706_677_567_000; // 14:06:07 KST
        assert_eq!(r.keep_until_ms(), 1_706_677_577_000 + KEEP_AFTER_EXPIRY_MS);
        r.product = BarocertProduct::Pass;
        assert_eq!(r.keep_until_ms(), 1_706_713_200_000);
        r.age(1000);
        assert_eq!(r.requested_at_ms, 1_706_677_566_000);
    }
}
