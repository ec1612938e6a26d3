//! Family A: Kakao, Naver, PASS and Toss behind Linkhub's barocert broker.
//!
//! One broker API, four products with their own rules. [`BarocertProduct`] holds
//! those rules (path segments, max ttl, which request fields the product takes,
//! what the app signs, how the CMS is encoded, how long and how often the result
//! can be fetched) so the adapter and the simulator read one table;
//! [`BarocertAdapter`] speaks the API for all four and checks every result
//! completely before anything is believed.
//!
//! Wire details (see the barocert SDKs): a session token from the Linkhub token
//! service, `x-bc-date` / `x-bc-auth` HMAC on every POST, personal fields
//! AES-256-GCM encrypted with the RP's secret key ([`crypto`]); refusals are
//! `{"code", "message"}` mapped through one table ([`codes`]). The
//! simulator (`munjigi_sim::simulator`) speaks the same API with the same codes
//! and crypto, but parses with wire structs of its own.
//!
//! **Naver binds less.** Naver's identity request carries no token (the SDKs
//! send none): the app signs content Naver defines, so the gateway's nonce is
//! not in the signature. Munjigi models that content as the request's
//! `receiptID` (the real format is not public; this is the one rule to change
//! when it is seen) and binds a Naver result to its request by: the CMS content
//! equals the `receiptID` the broker gave this login, the result was fetched once
//! over the authenticated API channel for that `receiptID`, before the request
//! expired, and signingTime lies inside the request window. A signature made for
//! another login of the same person is refused (other `receiptID`); what is lost
//! is the gateway-chosen freshness the nonce gives the other products.
//!
//! **Document signing** (전자서명, `adapter/signing.rs`): the same adapter is a
//! [`crate::signing::DocumentSigner`]. One document goes to `/{P}/Sign/…`,
//! several to `/{P}/MultiSign/…` (up to [`BarocertProduct::max_documents`]:
//! Kakao 20, Naver 50, Toss 20, PASS single only). The gateway always asks for
//! `tokenType: "HASH"` with `token` = base64 of the document's SHA-256; Kakao,
//! PASS and Toss return DER with the 32 digest bytes attached, Naver returns BER
//! indefinite-length, detached, whose `messageDigest` is the document's SHA-256
//! ([`BarocertProduct::signed_form`]). Status, verify paths, ttl, verify deadlines
//! and verify-once are the identity API's.
//!
//! The request and result shapes follow the barocert SDKs (Java, PHP, Python,
//! Node): `Sign` = receiver fields + `reqTitle` + `expireIn` + `token` +
//! `tokenType` (+ `reqMessage` and `callCenterNum` for Naver and PASS, PASS's
//! `userAgreementYN`/`receiverInfoYN`); `MultiSign` = receiver fields +
//! `expireIn` + `tokens[]` where Kakao sends `reqTitle` and one top-level
//! `tokenType` with `{signTitle, token}` per document, Naver `reqTitle`,
//! `reqMessage`, `callCenterNum` and `{tokenType, token}`, Toss
//! `{reqTitle, tokenType, token}`; the multi result carries `multiSignedData[]`
//! in request order. Toss verifies on `/TOSS/{Sign|MultiSign}/Verify/…`, the
//! others on the receipt path. **Modelled** where the SDKs do not say: the Toss
//! multi-sign limit (20, as Kakao); the scopes per API (Kakao 401 identity, 402
//! sign, 403 multi-sign; Naver 421/422/423; PASS 441/442; Toss 461/462/463);
//! that every sign result carries the receiver's personal data with
//! `receiverHP` (the newer SDK result classes do; older Kakao ones show only
//! `signedData` and `ci`); `reqMessage` is encrypted like the other personal
//! fields; per-document tokens are encrypted, titles are not; HASH is SHA-256
//! only, so a HASH token must be base64 of 32 bytes.
//!
//! Not here: CMS (출금동의) or login-by-app APIs; the gateway's state machine;
//! trust configuration (passed in).

pub mod codes;
pub mod config;
pub mod crypto;
pub(crate) mod wire;

mod adapter;

pub use adapter::{BarocertAdapter, TOO_MANY_DOCUMENTS};
pub use codes::BrokerCode;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::cms::Encoding;
use crate::error::ProviderError;
use crate::signer_cn::SignerCn;
use crate::signing::SignedForm;

/// Which of the broker's APIs a request belongs to: the path segment after the
/// product (`/KAKAO/{Identity|Sign|MultiSign}/…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiKind {
    /// 본인인증: the login.
    Identity,
    /// 전자서명(단건): one document.
    Sign,
    /// 전자서명(복수): several documents in one request.
    MultiSign,
}

impl ApiKind {
    pub const ALL: [ApiKind; 3] = [Self::Identity, Self::Sign, Self::MultiSign];

    pub fn segment(self) -> &'static str {
        match self {
            Self::Identity => "Identity",
            Self::Sign => "Sign",
            Self::MultiSign => "MultiSign",
        }
    }

    pub fn from_segment(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.segment() == s)
    }
}

/// What a document-signing token is (`tokenType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    /// The text itself is signed (attached).
    Text,
    /// `token` is base64 of a SHA-256 digest; the app signs the digest.
    Hash,
}

impl TokenType {
    pub fn wire(self) -> &'static str {
        match self {
            Self::Text => "TEXT",
            Self::Hash => "HASH",
        }
    }

    pub fn from_wire(s: &str) -> Option<Self> {
        [Self::Text, Self::Hash].into_iter().find(|t| t.wire() == s)
    }
}

/// One of the products the broker fronts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BarocertProduct {
    Kakao,
    Naver,
    Pass,
    Toss,
}

/// What a product lets the RP put in front of the citizen to sign at login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceRule {
    /// A token is required and signed as is, up to `max_chars` characters.
    Required { max_chars: usize },
    /// The product's identity request carries no token (Naver): the app signs
    /// provider-defined content, modelled as the `receiptID` (see the module docs).
    Absent,
}

/// Until when a completed result can still be fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyDeadline {
    /// Until this long after completion (Kakao: 10 minutes).
    AfterCompletion { secs: u64 },
    /// Until the request's `expireIn` runs out (Naver).
    AtExpiry,
    /// Until 23:59:59 KST of the day the request was made (PASS).
    EndOfRequestDayKst,
    /// No limit the public record shows (Toss); the broker keeps it a while.
    None,
}

const KST_OFFSET_MS: u64 = 9 * 3600 * 1000;
const DAY_MS: u64 = 24 * 3600 * 1000;

impl VerifyDeadline {
    /// The first instant (Unix ms) at which fetching is refused, if any.
    pub fn refused_from_ms(
        self,
        requested_ms: u64,
        expires_ms: u64,
        completed_ms: u64,
    ) -> Option<u64> {
        match self {
            Self::AfterCompletion { secs } => {
                Some(completed_ms.saturating_add(secs.saturating_mul(1000)))
            }
            Self::AtExpiry => Some(expires_ms),
            Self::EndOfRequestDayKst => {
                let local = requested_ms.saturating_add(KST_OFFSET_MS);
                let next_midnight_local = (local / DAY_MS).saturating_add(1).saturating_mul(DAY_MS);
                Some(next_midnight_local.saturating_sub(KST_OFFSET_MS))
            }
            Self::None => None,
        }
    }
}

impl BarocertProduct {
    pub const ALL: [BarocertProduct; 4] = [Self::Kakao, Self::Naver, Self::Pass, Self::Toss];

    /// The API path segment: `/KAKAO/Identity/…`.
    pub fn path_segment(self) -> &'static str {
        match self {
            Self::Kakao => "KAKAO",
            Self::Naver => "NAVER",
            Self::Pass => "PASS",
            Self::Toss => "TOSS",
        }
    }

    /// Lower-case name, as in config and the simulator's PKI directory.
    pub fn name(self) -> &'static str {
        match self {
            Self::Kakao => "kakao",
            Self::Naver => "naver",
            Self::Pass => "pass",
            Self::Toss => "toss",
        }
    }

    /// The provider's name as it appears in its certificates.
    pub fn display_name(self) -> &'static str {
        match self {
            Self::Kakao => "Kakao",
            Self::Naver => "Naver",
            Self::Pass => "PASS",
            Self::Toss => "Toss",
        }
    }

    pub fn from_path_segment(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.path_segment() == s)
    }

    /// Upper bound of `expireIn`, seconds.
    pub fn max_ttl_secs(self) -> u32 {
        match self {
            Self::Toss => 1800,
            Self::Kakao | Self::Naver | Self::Pass => 1000,
        }
    }

    pub fn nonce_rule(self) -> NonceRule {
        match self {
            Self::Kakao | Self::Pass => NonceRule::Required { max_chars: 40 },
            Self::Toss => NonceRule::Required { max_chars: 50 },
            Self::Naver => NonceRule::Absent,
        }
    }

    /// Longest `reqTitle`, characters.
    pub fn max_title_chars(self) -> usize {
        40
    }

    /// How the product encodes the identity result's CMS.
    pub fn identity_encoding(self) -> Encoding {
        match self {
            Self::Naver => Encoding::BerIndefiniteAttached,
            Self::Kakao | Self::Pass | Self::Toss => Encoding::DerAttached,
        }
    }

    /// Until when a completed result may be fetched.
    pub fn verify_deadline(self) -> VerifyDeadline {
        match self {
            Self::Kakao => VerifyDeadline::AfterCompletion { secs: 600 },
            Self::Naver => VerifyDeadline::AtExpiry,
            Self::Pass => VerifyDeadline::EndOfRequestDayKst,
            Self::Toss => VerifyDeadline::None,
        }
    }

    /// Whether the result is delivered once only (PASS: repeatable until its
    /// deadline; the gateway still uses it once).
    pub fn verify_once(self) -> bool {
        !matches!(self, Self::Pass)
    }

    /// Whether the verify call's body repeats the receiver's phone and name,
    /// encrypted like the request (PASS).
    pub fn verify_repeats_person(self) -> bool {
        matches!(self, Self::Pass)
    }

    /// The identity verify call's path ([`Self::api_verify_path`] for
    /// [`ApiKind::Identity`]).
    pub fn verify_path(self, client_code: &str, receipt_id: &str) -> String {
        self.api_verify_path(ApiKind::Identity, client_code, receipt_id)
    }

    /// The verify call's path. Toss's SDK shows only the `/Verify/` form; the
    /// others' SDKs (the versions we follow) post to the receipt itself.
    pub fn api_verify_path(self, kind: ApiKind, client_code: &str, receipt_id: &str) -> String {
        match self {
            Self::Toss => format!(
                "/{}/{}/Verify/{client_code}/{receipt_id}",
                self.path_segment(),
                kind.segment()
            ),
            Self::Kakao | Self::Naver | Self::Pass => format!(
                "/{}/{}/{client_code}/{receipt_id}",
                self.path_segment(),
                kind.segment()
            ),
        }
    }

    /// Whether the broker offers `kind` for this product (PASS: no multi-sign).
    pub fn offers(self, kind: ApiKind) -> bool {
        !(self == Self::Pass && kind == ApiKind::MultiSign)
    }

    /// Most documents one signing request may carry: Kakao 20, Naver 50 (the
    /// SDK docs), Toss 20 (modelled), PASS 1 (single `Sign` only).
    pub fn max_documents(self) -> usize {
        match self {
            Self::Kakao | Self::Toss => 20,
            Self::Naver => 50,
            Self::Pass => 1,
        }
    }

    /// How a signed HASH token relates to the document (see
    /// [`crate::signing::SignedForm`]).
    pub fn signed_form(self) -> SignedForm {
        match self {
            Self::Naver => SignedForm::DetachedDigest,
            Self::Kakao | Self::Pass | Self::Toss => SignedForm::Digest,
        }
    }

    /// How the product encodes a signed HASH token's CMS.
    pub fn hash_encoding(self) -> Encoding {
        match self {
            Self::Naver => Encoding::BerIndefiniteDetached,
            Self::Kakao | Self::Pass | Self::Toss => Encoding::DerAttached,
        }
    }

    /// Whether a single `Sign` request carries `reqMessage` and `callCenterNum`
    /// (Naver, PASS).
    pub fn sign_takes_message(self) -> bool {
        matches!(self, Self::Naver | Self::Pass)
    }

    /// Whether a `MultiSign` request carries the top-level `reqTitle` (Kakao, Naver).
    pub fn multi_takes_title(self) -> bool {
        matches!(self, Self::Kakao | Self::Naver)
    }

    /// Whether a `MultiSign` request carries `reqMessage` and `callCenterNum` (Naver).
    pub fn multi_takes_message(self) -> bool {
        self == Self::Naver
    }

    /// Whether each `MultiSign` token names its own `tokenType` (Naver, Toss)
    /// rather than one top-level `tokenType` (Kakao).
    pub fn multi_token_type_per_token(self) -> bool {
        matches!(self, Self::Naver | Self::Toss)
    }

    /// The per-document title field of a `MultiSign` token: Kakao `signTitle`,
    /// Toss `reqTitle`, Naver none.
    pub fn multi_token_title(self) -> MultiTokenTitle {
        match self {
            Self::Kakao => MultiTokenTitle::SignTitle,
            Self::Toss => MultiTokenTitle::ReqTitle,
            Self::Naver | Self::Pass => MultiTokenTitle::None,
        }
    }

    /// Whether the identity request carries `reqTitle` (Kakao, PASS; Naver and
    /// Toss show their own title).
    pub fn takes_title(self) -> bool {
        matches!(self, Self::Kakao | Self::Pass)
    }

    /// What an app-to-app request (`appUseYN`) takes and gives, as the SDK
    /// examples document it per product.
    pub fn app_rule(self) -> AppRule {
        match self {
            // `returnURL` may be a web page: the app comes back to the browser.
            Self::Kakao | Self::Toss => AppRule {
                needs_os: false,
                needs_carrier: false,
                web_return: true,
            },
            // `returnURL` must be an app scheme ("http" and "https" refused),
            // which a web gateway does not have: the citizen switches back.
            Self::Naver => AppRule {
                needs_os: true,
                needs_carrier: false,
                web_return: false,
            },
            // No `returnURL` at all; `telcoType` and `deviceOSType` required.
            Self::Pass => AppRule {
                needs_os: true,
                needs_carrier: true,
                web_return: false,
            },
        }
    }

    /// Whether the identity request must carry the RP's `callCenterNum`.
    pub fn requires_call_center(self) -> bool {
        matches!(self, Self::Naver | Self::Pass)
    }

    /// Whether the result carries `receiverHP` (PASS's identity result does
    /// not: the broker checked the phone the verify body repeated).
    pub fn result_has_phone(self) -> bool {
        !matches!(self, Self::Pass)
    }

    /// Token-service scopes the SDKs request for this product.
    pub fn scopes(self) -> &'static [&'static str] {
        match self {
            Self::Kakao => &["partner", "401", "402", "403", "404", "405"],
            Self::Naver => &["partner", "421", "422", "423", "424"],
            Self::Pass => &["partner", "441", "442", "443", "444"],
            // From the PHP SDK's TosscertService.
            Self::Toss => &["partner", "461", "462", "463", "464", "465"],
        }
    }

    /// The scope that grants this product's identity API.
    pub fn identity_scope(self) -> &'static str {
        self.scope(ApiKind::Identity)
    }

    /// The scope that grants one of this product's APIs (modelled: the SDKs
    /// list the scopes, not which grants what).
    pub fn scope(self, kind: ApiKind) -> &'static str {
        match (self, kind) {
            (Self::Kakao, ApiKind::Identity) => "401",
            (Self::Kakao, ApiKind::Sign) => "402",
            (Self::Kakao, ApiKind::MultiSign) => "403",
            (Self::Naver, ApiKind::Identity) => "421",
            (Self::Naver, ApiKind::Sign) => "422",
            (Self::Naver, ApiKind::MultiSign) => "423",
            (Self::Pass, ApiKind::Identity) => "441",
            (Self::Pass, ApiKind::Sign | ApiKind::MultiSign) => "442",
            (Self::Toss, ApiKind::Identity) => "461",
            (Self::Toss, ApiKind::Sign) => "462",
            (Self::Toss, ApiKind::MultiSign) => "463",
        }
    }

    /// Whether the status `state` value exists for this product.
    pub fn knows_state(self, state: i64) -> bool {
        match self {
            Self::Pass => (0..=5).contains(&state),
            Self::Kakao | Self::Naver | Self::Toss => (0..=4).contains(&state),
        }
    }

    /// How the product's CA writes the signer's CN: for all four, the name
    /// alone (the subject carries the provider's UID as `serialNumber`).
    pub fn signer_cn(self) -> SignerCn {
        match self {
            Self::Kakao | Self::Naver | Self::Pass | Self::Toss => SignerCn::Exact,
        }
    }

    /// OIDC `amr` for a login with this product's certificate.
    pub fn amr(self) -> &'static [&'static str] {
        match self {
            Self::Kakao | Self::Naver | Self::Pass | Self::Toss => &["pin"],
        }
    }
}

/// A product's app-to-app rules ([`BarocertProduct::app_rule`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppRule {
    /// `deviceOSType` is required.
    pub needs_os: bool,
    /// `telcoType` is required.
    pub needs_carrier: bool,
    /// `returnURL` may be an http(s) page the app opens when done.
    pub web_return: bool,
}

/// Where a `MultiSign` token carries its document's title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultiTokenTitle {
    SignTitle,
    ReqTitle,
    None,
}

/// An RP's barocert settings, from the gateway's TOML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BarocertConfig {
    /// Base URL of the barocert API, scheme and host only (`https://barocert.linkhub.co.kr`).
    pub endpoint: String,
    /// Base URL of the Linkhub token service (`https://auth.linkhub.co.kr`).
    pub auth_endpoint: String,
    pub link_id: String,
    /// 이용기관코드, 12 digits.
    pub client_code: String,
    /// Cap on the request lifetime, seconds (further capped by the product's max).
    #[serde(default)]
    pub ttl_secs: Option<u32>,
    /// The RP's customer-service number shown in the app (`callCenterNum`);
    /// Naver and PASS require it.
    #[serde(default)]
    pub call_center_num: Option<String>,
    /// Per-request HTTP deadline, milliseconds (default 15,000 as the SDKs).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Allow `http://` endpoints that are not loopback. Loopback `http://` (a
    /// simulator on the same host) is always allowed.
    #[serde(default)]
    pub allow_plain_http: bool,
}

/// The RP's SecretKey: the HMAC key and the AES-256 key. No `Display`,
/// `Serialize` or `PartialEq`; `Debug` is redacted.
#[derive(Clone)]
pub struct BarocertSecret([u8; 32]);

impl std::fmt::Debug for BarocertSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BarocertSecret(..)")
    }
}

impl BarocertSecret {
    /// From the base64 SecretKey Linkhub issued (32 bytes once decoded).
    pub fn from_base64(b64: &str) -> Result<Self, ProviderError> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|_| ProviderError::Config("barocert secret key is not base64".into()))?;
        let key: [u8; 32] = raw.try_into().map_err(|_| {
            ProviderError::Config("barocert secret key must be 32 bytes once decoded".into())
        })?;
        Ok(Self(key))
    }

    pub(crate) fn key(&self) -> &[u8; 32] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_rules() {
        for p in BarocertProduct::ALL {
            assert_eq!(
                BarocertProduct::from_path_segment(p.path_segment()),
                Some(p)
            );
            assert!(p.scopes().contains(&p.identity_scope()));
            for kind in ApiKind::ALL {
                assert!(p.scopes().contains(&p.scope(kind)), "{p:?} {kind:?}");
                assert_eq!(ApiKind::from_segment(kind.segment()), Some(kind));
            }
            assert_eq!(p.offers(ApiKind::MultiSign), p.max_documents() > 1);
            assert!(p.knows_state(0) && p.knows_state(4) && !p.knows_state(6));
        }
        assert_eq!(BarocertProduct::Kakao.max_ttl_secs(), 1000);
        assert_eq!(BarocertProduct::Toss.max_ttl_secs(), 1800);
        assert_eq!(
            BarocertProduct::Kakao.nonce_rule(),
            NonceRule::Required { max_chars: 40 }
        );
        assert!(BarocertProduct::Pass.knows_state(5) && !BarocertProduct::Kakao.knows_state(5));
        assert_eq!(
            BarocertProduct::Kakao.verify_deadline(),
            VerifyDeadline::AfterCompletion { secs: 600 }
        );
        assert!(!BarocertProduct::Pass.verify_once() && BarocertProduct::Toss.verify_once());
        assert_eq!(BarocertProduct::Naver.nonce_rule(), NonceRule::Absent);
        assert_eq!(
            BarocertProduct::Toss.verify_path("023040000001", "1"),
            "/TOSS/Identity/Verify/023040000001/1"
        );
        assert_eq!(BarocertProduct::from_path_segment("kakao"), None);
        assert_eq!(
            BarocertProduct::Toss.api_verify_path(ApiKind::MultiSign, "023040000001", "1"),
            "/TOSS/MultiSign/Verify/023040000001/1"
        );
        assert_eq!(
            BarocertProduct::Kakao.api_verify_path(ApiKind::Sign, "023040000001", "1"),
            "/KAKAO/Sign/023040000001/1"
        );
        assert_eq!(BarocertProduct::Kakao.max_documents(), 20);
        assert_eq!(BarocertProduct::Naver.max_documents(), 50);
        assert_eq!(BarocertProduct::Pass.max_documents(), 1);
        assert_eq!(
            BarocertProduct::Naver.signed_form(),
            SignedForm::DetachedDigest
        );
        assert!(BarocertProduct::Naver.hash_encoding().is_detached());
        assert!(!BarocertProduct::Kakao.hash_encoding().is_detached());
        assert_eq!(TokenType::from_wire("HASH"), Some(TokenType::Hash));
        assert_eq!(TokenType::from_wire("hash"), None);
    }

    #[test]
    fn pass_deadline_is_the_end_of_the_kst_day() {
        // 2024-01-31T05:06:07Z = 14:06:07 KST; the day ends 2024-01-31T15:00:00Z.
        let req = 1_706_677_567_000;
        let end = VerifyDeadline::EndOfRequestDayKst.refused_from_ms(req, req + 1, req + 2);
        assert_eq!(end, Some(1_706_713_200_000));
        // 23:30 KST (14:30Z) still ends at 15:00Z the same day.
        let late = 1_706_711_400_000;
        assert_eq!(
            VerifyDeadline::EndOfRequestDayKst.refused_from_ms(late, 0, 0),
            Some(1_706_713_200_000)
        );
        // 00:00 KST exactly (15:00Z) belongs to the next day.
        let midnight = 1_706_713_200_000;
        assert_eq!(
            VerifyDeadline::EndOfRequestDayKst.refused_from_ms(midnight, 0, 0),
            Some(midnight + 86_400_000)
        );
        assert_eq!(VerifyDeadline::AtExpiry.refused_from_ms(1, 7, 3), Some(7));
        assert_eq!(VerifyDeadline::None.refused_from_ms(1, 7, 3), None);
    }

    #[test]
    fn secret_is_32_bytes_and_redacted() {
        let s = BarocertSecret::from_base64(
            &base64::engine::general_purpose::STANDARD.encode([1u8; 32]),
        )
        .unwrap();
        assert_eq!(format!("{s:?}"), "BarocertSecret(..)");
        assert!(BarocertSecret::from_base64("AAAA").is_err());
        assert!(BarocertSecret::from_base64("***").is_err());
    }

    #[test]
    fn config_rejects_unknown_keys() {
        let ok = serde_json::json!({
            "endpoint": "https://b", "auth_endpoint": "https://a",
            "link_id": "L", "client_code": "023040000001"
        });
        assert!(serde_json::from_value::<BarocertConfig>(ok.clone()).is_ok());
        let mut bad = ok;
        if let Some(o) = bad.as_object_mut() {
            o.insert("secret".into(), "x".into());
        }
        assert!(serde_json::from_value::<BarocertConfig>(bad).is_err());
    }
}
