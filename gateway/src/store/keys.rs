//! Every family of store keys, in one list.
//!
//! Replicas of one deployment (and of two versions, during an upgrade) share
//! one keyspace, so a key family is a contract: two families must never be
//! able to produce the same key, a renamed prefix orphans what is stored
//! under the old one, and a Redis Cluster only runs a multi-key operation
//! when every key hashes to one slot (keys used together carry the same
//! `{hash tag}`). Building keys only through [`Family`] keeps all three
//! visible here; the test below keeps the prefixes apart.
//!
//! What follows a prefix is a digest or a random id wherever it comes from a
//! request, so no key holds a secret or a person's data.

/// One kind of thing kept in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// A login transaction and its claims (`mj:{id}:txn`, `:poll`,
    /// `:verify:N`): the id is the hash tag, so they share a slot.
    Login,
    /// An authorization code (digest), 60 s.
    Code,
    /// A redeemed code (digest) → the token it produced, for replay revocation.
    UsedCode,
    /// An access token (digest).
    AccessToken,
    /// A client assertion's `jti` (digest of client and jti), until it expires.
    AssertionJti,
    /// A SAML message ID seen (digest of SP, kind and ID).
    SamlId,
    /// A gateway session (ticket digest).
    Session,
    /// A proxy session on a route's host (ticket digest).
    ProxySession,
    /// A proxy hand-over code (digest), 60 s.
    ProxyHandoff,
    /// What one single sign-on session handed out (`sid`).
    SsoIndex,
    /// A signature request (its id).
    Signature,
    /// An abuse-limit counter (`rl:{kind:subject}:window`; the tag keeps one
    /// subject's windows in one slot for the counting script).
    RateLimit,
    /// The readiness probe's key (never written).
    Readiness,
    /// An audit writer's latest signed checkpoint (`audit:cp:<writer>`),
    /// kept 400 days: long after the process that wrote it has gone.
    AuditCheckpoint,
    /// The one index of audit writers that have checkpointed, so a verifier
    /// can tell a writer whose whole file is missing.
    AuditWriters,
    /// The certificate a person last signed with at a provider
    /// (`signer:<provider>:<keyed digest of the CI>`), kept for months.
    SignerMemory,
    /// A refused new certificate waiting for an operator's confirmation
    /// (`signer-new:<site>:<pairwise sub>:<provider>`), a week.
    SignerChange,
    /// A logout being carried to SAML SPs through the browser (`logout:<run
    /// id>`), ten minutes.
    LogoutRun,
    /// A device authorization (RFC 8628) by its device code's digest, until
    /// shortly after it expires.
    DeviceCode,
    /// A redeemed device code (digest) → the token it produced, for replay
    /// revocation.
    UsedDeviceCode,
    /// A user code (digest of its normal form) → its device code's digest,
    /// as long as the device code lives.
    UserCode,
    /// A CIBA request by its `auth_req_id`'s digest, until shortly after it
    /// expires.
    CibaRequest,
    /// A redeemed `auth_req_id` (digest) → the token it produced, for replay
    /// revocation.
    UsedCiba,
    /// A `login_hint_token`'s `jti` (digest of client and jti), until it expires.
    CibaHintJti,
    /// A citizen who rejected a site's CIBA push (`ciba-no:<site>:<keyed
    /// digest of the phone>`): the site is silent for ten minutes; and a
    /// site's open request to a person (`…:open` → the request's key).
    CibaRefused,
    /// What a provider family whose results arrive by callback keeps per
    /// login (`inbox:mip:<trxcode>`), until shortly after the login expires.
    Inbox,
}

impl Family {
    pub const ALL: [Family; 26] = [
        Family::Login,
        Family::Code,
        Family::UsedCode,
        Family::AccessToken,
        Family::AssertionJti,
        Family::SamlId,
        Family::Session,
        Family::ProxySession,
        Family::ProxyHandoff,
        Family::SsoIndex,
        Family::Signature,
        Family::RateLimit,
        Family::Readiness,
        Family::AuditCheckpoint,
        Family::AuditWriters,
        Family::SignerMemory,
        Family::SignerChange,
        Family::LogoutRun,
        Family::DeviceCode,
        Family::UsedDeviceCode,
        Family::UserCode,
        Family::CibaRequest,
        Family::UsedCiba,
        Family::CibaHintJti,
        Family::CibaRefused,
        Family::Inbox,
    ];

    /// The prefix every key of the family starts with.
    pub fn prefix(self) -> &'static str {
        match self {
            Family::Login => "mj:{",
            Family::Code => "code:",
            Family::UsedCode => "code-used:",
            Family::AccessToken => "at:",
            Family::AssertionJti => "cajti:",
            Family::SamlId => "samlid:",
            Family::Session => "sess:",
            Family::ProxySession => "pxs:",
            Family::ProxyHandoff => "pxh:",
            Family::SsoIndex => "sso:",
            Family::Signature => "sig:",
            Family::RateLimit => "rl:{",
            Family::Readiness => "mj:readyz",
            Family::AuditCheckpoint => "audit:cp:",
            Family::AuditWriters => "audit:writers",
            Family::SignerMemory => "signer:",
            Family::SignerChange => "signer-new:",
            Family::LogoutRun => "logout:",
            Family::DeviceCode => "device:",
            Family::UsedDeviceCode => "device-used:",
            Family::UserCode => "device-user:",
            Family::CibaRequest => "ciba:",
            Family::UsedCiba => "ciba-used:",
            Family::CibaHintJti => "ciba-hint:",
            Family::CibaRefused => "ciba-no:",
            Family::Inbox => "inbox:",
        }
    }

    /// The key of `rest` in this family.
    pub fn key(self, rest: &str) -> String {
        let prefix = self.prefix();
        let mut k = String::with_capacity(prefix.len() + rest.len());
        k.push_str(prefix);
        k.push_str(rest);
        k
    }
}

/// `mj:{id}:what`: a login's keys, all in the login's slot.
pub fn login(id: &str, what: &str) -> String {
    format!("{}{id}}}:{what}", Family::Login.prefix())
}

/// `rl:{kind:subject}:window`: one subject's counters, in one slot.
pub fn rate_limit(kind: &str, subject: &str, window: &str) -> String {
    format!("{}{kind}:{subject}}}:{window}", Family::RateLimit.prefix())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_family_can_make_another_familys_key() {
        for a in Family::ALL {
            for b in Family::ALL {
                if a != b {
                    assert!(
                        !a.prefix().starts_with(b.prefix()),
                        "{a:?} `{}` starts with {b:?} `{}`",
                        a.prefix(),
                        b.prefix()
                    );
                }
            }
        }
        assert_eq!(login("AbC", "txn"), "mj:{AbC}:txn");
        assert_eq!(rate_limit("push", "x", "600"), "rl:{push:x}:600");
        assert_eq!(Family::Code.key("d"), "code:d");
    }
}
