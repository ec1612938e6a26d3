//! Why a SAML message was refused, and who hears about it.
//!
//! A refusal is either answered to the SP's ACS as a SAML status (the request
//! was trustworthy enough: known SP, signature as required, ACS from its
//! metadata) or shown to the citizen as a page. Either way the operator gets
//! one log line naming the SP and the reason; each reason has a stable code so
//! the hostile-request tests can tell the refusals apart.

/// Top-level and second-level SAML status codes (SAML core §3.2.2.2).
pub mod status {
    pub const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
    pub const REQUESTER: &str = "urn:oasis:names:tc:SAML:2.0:status:Requester";
    pub const RESPONDER: &str = "urn:oasis:names:tc:SAML:2.0:status:Responder";
    pub const VERSION_MISMATCH: &str = "urn:oasis:names:tc:SAML:2.0:status:VersionMismatch";
    pub const NO_PASSIVE: &str = "urn:oasis:names:tc:SAML:2.0:status:NoPassive";
    pub const NO_AUTHN_CONTEXT: &str = "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext";
    pub const INVALID_NAME_ID_POLICY: &str =
        "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy";
    pub const AUTHN_FAILED: &str = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed";
    pub const REQUEST_DENIED: &str = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied";
    pub const REQUEST_UNSUPPORTED: &str = "urn:oasis:names:tc:SAML:2.0:status:RequestUnsupported";
    pub const PARTIAL_LOGOUT: &str = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout";
}

/// Every way an inbound SAML message can be refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    // The message itself: never answered to an ACS.
    #[error("no SAMLRequest in the request")]
    Missing,
    #[error("message is larger than allowed")]
    TooLarge,
    #[error("message inflates beyond the size cap (deflate bomb)")]
    DeflateBomb,
    #[error("message is not valid base64 / DEFLATE")]
    Encoding,
    /// A byte-order mark other than UTF-8's, UTF-16/32 (NUL bytes), bytes that
    /// are not UTF-8, a declared encoding other than UTF-8, or a character XML
    /// 1.0 does not allow: libxml2 would read another document than the scan.
    #[error("message is not UTF-8 XML: {0}")]
    Charset(&'static str),
    #[error("message is not well-formed XML: {0}")]
    Xml(String),
    #[error("message has a DTD or an entity declaration")]
    Dtd,
    #[error("message uses an entity other than the five XML ones")]
    Entity,
    #[error("message has a comment")]
    Comment,
    #[error("message has a processing instruction or CDATA")]
    ProcessingInstruction,
    #[error("message nests too deep or has too many elements")]
    Shape,
    #[error("message root is not a single samlp:{0}")]
    Root(&'static str),
    #[error("two elements carry the same ID")]
    DuplicateId,
    #[error("message could not be read: {0}")]
    Schema(String),
    #[error("message names no Issuer")]
    NoIssuer,
    #[error("SP is not registered")]
    UnknownSp,
    #[error("signature required but absent")]
    SignatureMissing,
    #[error("signature does not verify with the SP's metadata keys")]
    BadSignature,
    /// What was found, already cut to something safe to log and show.
    #[error("{0} is not allowed: signatures RSA-SHA256 or ECDSA-SHA256, digests SHA-256 (SHA-1 digests only where the SP is allowed them)")]
    SignatureAlgorithm(String),
    #[error("a request parameter is repeated")]
    RepeatedParameter,
    #[error("AssertionConsumerService not in the SP's metadata")]
    UnknownAcs,
    #[error("Destination is missing or is not this IdP's endpoint")]
    Destination,
    #[error("request ID was already used (replay)")]
    Replayed,
    #[error("IssueInstant outside the accepted window")]
    Stale,
    #[error("RelayState longer than 80 bytes or holding control characters")]
    RelayState,
    #[error("IdP-initiated login is not allowed for this SP")]
    UnsolicitedNotAllowed,
    #[error("no session matches this logout")]
    UnknownSession,
    #[error("a signature that is not a child of the root (signature wrapping)")]
    MisplacedSignature,
    #[error("signature not of the accepted shape: {0}")]
    UnsafeSignature(&'static str),
    /// samael reads child elements by local name only; `Issuer` from another
    /// namespace would be taken for the SAML one.
    #[error("{0} is not in its SAML namespace")]
    Namespace(&'static str),
    /// A site with `metadata_url` whose copy is not usable now.
    #[error("the SP's metadata from its metadata_url is not available: {0}")]
    MetadataUnavailable(&'static str),

    // The request was trustworthy: answered to the ACS with a status.
    #[error("SAML version is not 2.0")]
    Version,
    #[error("IsPassive and the citizen has no usable session")]
    NoPassive,
    #[error("no provider can meet the RequestedAuthnContext")]
    NoAuthnContext,
    #[error("NameIDPolicy Format is not persistent or transient")]
    NameIdPolicy,
    #[error("request uses a feature this IdP does not support: {0}")]
    Unsupported(&'static str),
    #[error("the citizen cancelled the login")]
    Cancelled,
    #[error("the login does not meet the site's policy")]
    PolicyDenied,
    /// The site's own login-start limit (`[limits] starts_per_site`).
    #[error("the site's login rate limit is reached; try again shortly")]
    SiteBusy,
    /// The citizen went back to the site after a provider attempt failed:
    /// code and status from [`crate::failure`]'s table.
    /// Its message is the table's description for the site (never more).
    #[error("{}", .0.looks().oauth.1)]
    Failed(crate::failure::Failure),
}

impl Refusal {
    /// An algorithm refused: `what` (`SigAlg`, `SignatureMethod`,
    /// `DigestMethod`) and the URI found, at most 120 printable ASCII
    /// characters of it (it is the sender's text).
    pub fn algorithm(what: &str, found: &str) -> Self {
        let shown: String = found
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(120)
            .collect();
        let shown = if shown.is_empty() {
            "none".to_owned()
        } else {
            shown
        };
        Self::SignatureAlgorithm(format!("{what} `{shown}`"))
    }

    /// The stable operator code (`MJ-M..`), also shown on the citizen's page.
    pub fn code(&self) -> &'static str {
        use Refusal::*;
        match self {
            Missing => "MJ-M01",
            TooLarge => "MJ-M02",
            DeflateBomb => "MJ-M03",
            Encoding => "MJ-M04",
            Xml(_) => "MJ-M05",
            Dtd => "MJ-M06",
            Entity => "MJ-M07",
            Comment => "MJ-M08",
            ProcessingInstruction => "MJ-M09",
            Shape => "MJ-M10",
            Root(_) => "MJ-M11",
            DuplicateId => "MJ-M12",
            Schema(_) => "MJ-M13",
            NoIssuer => "MJ-M14",
            UnknownSp => "MJ-M15",
            SignatureMissing => "MJ-M16",
            BadSignature => "MJ-M17",
            SignatureAlgorithm(_) => "MJ-M18",
            RepeatedParameter => "MJ-M19",
            UnknownAcs => "MJ-M20",
            Destination => "MJ-M21",
            Replayed => "MJ-M22",
            Stale => "MJ-M23",
            RelayState => "MJ-M24",
            UnsolicitedNotAllowed => "MJ-M25",
            UnknownSession => "MJ-M26",
            MisplacedSignature => "MJ-M27",
            UnsafeSignature(_) => "MJ-M28",
            Charset(_) => "MJ-M29",
            Namespace(_) => "MJ-M37",
            MetadataUnavailable(_) => "MJ-M39",
            Version => "MJ-M30",
            NoPassive => "MJ-M31",
            NoAuthnContext => "MJ-M32",
            NameIdPolicy => "MJ-M33",
            Unsupported(_) => "MJ-M34",
            Cancelled => "MJ-M35",
            PolicyDenied => "MJ-M36",
            SiteBusy => "MJ-M38",
            Failed(f) => f.looks().page.code,
        }
    }

    /// The status answered to the SP, when this refusal is answered at all.
    pub fn status(&self) -> Option<(&'static str, Option<&'static str>)> {
        use Refusal::*;
        match self {
            Version => Some((status::VERSION_MISMATCH, None)),
            NoPassive => Some((status::RESPONDER, Some(status::NO_PASSIVE))),
            NoAuthnContext => Some((status::RESPONDER, Some(status::NO_AUTHN_CONTEXT))),
            NameIdPolicy => Some((status::REQUESTER, Some(status::INVALID_NAME_ID_POLICY))),
            Unsupported(_) => Some((status::REQUESTER, Some(status::REQUEST_UNSUPPORTED))),
            Cancelled => Some((status::RESPONDER, Some(status::AUTHN_FAILED))),
            PolicyDenied => Some((status::RESPONDER, Some(status::REQUEST_DENIED))),
            SiteBusy => Some((status::RESPONDER, None)),
            Failed(f) => Some(f.looks().saml),
            Stale => Some((status::REQUESTER, Some(status::REQUEST_DENIED))),
            _ => None,
        }
    }
}

/// A refusal with the SP it concerns (when known), for the log line and page.
#[derive(Debug, Clone, thiserror::Error)]
#[error("SAML request from `{sp}`{} refused: {refusal}", if *.claimed { " (as its Issuer claims, not verified)" } else { "" })]
pub struct SamlError {
    pub sp: String,
    pub refusal: Refusal,
    /// `sp` is what the message's Issuer says, read before anything about the
    /// message was checked: for the integrator, never for a decision.
    pub claimed: bool,
}

impl SamlError {
    pub fn new(sp: Option<&str>, refusal: Refusal) -> Self {
        Self {
            sp: sp.unwrap_or("-").to_owned(),
            refusal,
            claimed: false,
        }
    }

    /// A refusal of a message not yet read far enough to know its SP, with
    /// the Issuer it claims, if one could be read.
    pub fn claimed(issuer: Option<String>, refusal: Refusal) -> Self {
        match issuer {
            Some(sp) => Self {
                sp,
                refusal,
                claimed: true,
            },
            None => Self::new(None, refusal),
        }
    }
}
