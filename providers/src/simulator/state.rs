//! The simulated broker's memory: session tokens and receipts, and the rule that
//! turns a receipt's timestamps into its state.
//!
//! Nothing runs in the background: a receipt's phase is a pure function of when it
//! was requested, its scenario, `approve_after_ms` and now. Old entries are pruned
//! when new ones are added.
//!
//! Not here: HTTP, cryptography, or who the people are.

use std::collections::HashMap;

use super::people::Subject;
use super::Scenario;
use crate::barocert::BarocertProduct;

/// How long a receipt is kept after it expired (for late status/verify calls).
const KEEP_AFTER_EXPIRY_MS: u64 = 3600 * 1000;

#[derive(Default)]
pub(crate) struct State {
    pub tokens: HashMap<String, TokenInfo>,
    pub receipts: HashMap<String, Receipt>,
}

pub(crate) struct TokenInfo {
    pub link_id: String,
    pub scopes: Vec<String>,
    pub expires_at_ms: u64,
}

/// A signed result, made once when the simulated citizen's approval is first
/// observed (so signingTime is close to completion, as in the real app).
#[derive(Clone)]
pub(crate) struct Signed {
    pub signed_data: Vec<u8>,
}

pub(crate) struct Receipt {
    pub product: BarocertProduct,
    pub client_code: String,
    pub scenario: Scenario,
    /// Who the result will name (differs from the asked person for `WrongPerson`).
    pub result_subject: Subject,
    /// The decrypted token the app signs.
    pub token: String,
    pub title: String,
    pub expire_in: u32,
    pub requested_at_ms: u64,
    pub return_url: Option<String>,
    pub app_use: bool,
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
    /// barocert's `state`: 0 waiting, 1 completed, 2 expired, 3 rejected.
    pub fn state_code(self) -> i64 {
        match self {
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

    /// The state at `now_ms`. Expiry is exactly at `expireIn`; the citizen acts
    /// `approve_after_ms` after the request (opening it halfway there), unless
    /// that is at or after expiry.
    pub fn phase(&self, now_ms: u64, approve_after_ms: u64) -> Phase {
        let expire_at = self.expires_at_ms();
        let act_at = self.requested_at_ms.saturating_add(approve_after_ms);
        let view_at = self.requested_at_ms.saturating_add(approve_after_ms / 2);
        let opens = !matches!(self.scenario, Scenario::Never);
        let viewed = (opens && now_ms >= view_at && view_at < expire_at).then_some(view_at);
        let acts = act_at < expire_at && now_ms >= act_at;
        match self.scenario {
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
}

impl State {
    /// Drops expired tokens and receipts long past their expiry.
    pub fn prune(&mut self, now_ms: u64) {
        self.tokens.retain(|_, t| t.expires_at_ms > now_ms);
        self.receipts
            .retain(|_, r| r.expires_at_ms().saturating_add(KEEP_AFTER_EXPIRY_MS) > now_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::person::{BirthDate, Gender, Name, Phone};

    fn receipt(scenario: Scenario) -> Receipt {
        Receipt {
            product: BarocertProduct::Kakao,
            client_code: "023040000001".into(),
            scenario,
            result_subject: Subject {
                name: Name::parse("홍길동").unwrap(),
                birthdate: BirthDate::parse("19900131").unwrap(),
                phone: Phone::parse("01012345678").unwrap(),
                gender: Gender::Male,
            },
            token: "n".into(),
            title: "t".into(),
            expire_in: 10,
            requested_at_ms: 1_000_000,
            return_url: None,
            app_use: false,
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
        assert_eq!(r.phase(t0 + 2000, 2000).state_code(), 1);
        assert_eq!(r.phase(t0 + 99_000, 2000).state_code(), 1);

        let r = receipt(Scenario::Reject);
        assert_eq!(r.phase(t0 + 2000, 2000).state_code(), 3);

        // Expiry exactly at expireIn.
        for s in [Scenario::Never, Scenario::Viewed] {
            let r = receipt(s);
            assert_eq!(r.phase(t0 + 9_999, 2000).state_code(), 0);
            assert_eq!(r.phase(t0 + 10_000, 2000).state_code(), 2);
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
        assert_eq!(r.phase(t0 + 10_000, 10_000).state_code(), 2);
    }
}
